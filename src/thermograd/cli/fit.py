"""Fit a D-DOS model (score matching per shell and principal component) from sampling data.

CAMPAIGN is a thermograd campaign file (HDF5) or shell data of the DescriptorDOS reference implementation
(``.npz`` or its pickle, read through a restricted unpickler). The score-model order is chosen by held-out
Hyvärinen loss unless ``--order`` is given. With several phases/strains in CAMPAIGN, choose one with
``--phase`` or put ``{name}`` in the output path to write one model per data set.

Inputs are never outputs: the output may not be CAMPAIGN, and ``--force`` replaces only an existing model file
(never a campaign, a tilt file or anything else). A partial campaign is refused with the unfinished shells
named; NaN/inf in any stored array is reported with the dataset's name. Results are printed, then the model
files are written (each atomically: a temporary file renamed into place).
"""

from __future__ import annotations

import argparse

from ._common import add_force


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("campaign", help="campaign file (.h5), DescriptorDOS shell data (.npz or pickle)")
    p.add_argument("-o", "--output", required=True, help="model file to write (.h5); may contain {name}")
    p.add_argument("--phase", help="phase (data-set name) to fit when the campaign holds several")
    p.add_argument("--name", help="label of the fitted phase (default: the data-set name)")
    p.add_argument("--order", type=int, help="force this polynomial order K (default: held-out selection)")
    p.add_argument("--orders", default="2,3,4,5,6", help="candidate orders for the selection (default 2..6)")
    p.add_argument(
        "--weighting",
        choices=("boundary", "none"),
        default="boundary",
        help="score objective: boundary-weighted (truncation-consistent, default) or plain Hyvärinen",
    )
    p.add_argument(
        "--range-factor",
        dest="range_factor",
        type=float,
        default=1.0,
        help="scale of the x range of the inner minimisation about the histogram range (default 1: "
        "never extrapolate the fitted S)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out splitting (default 0)")
    add_force(p, "model file")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ..ddos.inputs import load_campaign
    from ..errors import InputError
    from ..outputs import atomic_path, check_outputs

    try:
        orders = tuple(int(v) for v in args.orders.split(","))
    except ValueError:
        raise InputError(f"--orders must be comma-separated integers, got {args.orders!r}") from None
    if Path(args.output).resolve() == Path(args.campaign).resolve():
        check_outputs([(args.output, "model")], inputs=[args.campaign])  # raises: input is not an output
    datasets = load_campaign(args.campaign, args.phase)
    if len(datasets) > 1 and "{name}" not in args.output:
        names = ", ".join(d.name for d in datasets)
        raise InputError(
            f"{args.campaign} holds {len(datasets)} data sets ({names}); choose one with --phase "
            "or put {name} in the output path"
        )
    if args.name:
        for ds in datasets:
            ds.name = args.name
    outs = check_outputs(
        [(args.output.replace("{name}", ds.name), "model") for ds in datasets],
        inputs=[args.campaign],
        force=args.force,
    )
    from ..ddos.estimators.model import (
        DDOSModel,  # torch: imported once the inputs and outputs are known to be good
    )

    models, summaries = [], []
    for ds, out in zip(datasets, outs):
        model = DDOSModel.fit(
            ds,
            orders=orders,
            order=args.order,
            seed=args.seed,
            weighting=args.weighting,
            range_factor=args.range_factor,
        )
        model.provenance["campaign"] = str(args.campaign)
        models.append(model)
        info = model.fit_info
        summaries.append(
            {
                "model": str(out),
                "phase": model.name,
                "n_shells": model.n_shells,
                "n_features": model.n_features,
                "T_shells_K": [float(model.geometry.T_shells[0]), float(model.geometry.T_shells[-1])],
                "order": model.order,
                "alt_order": model.alt_order,
                "selection_scores": info["selection_scores"],
                "weighting": info["weighting"],
                "n_gaussian_fallback": info["n_gaussian_fallback"],
                "n_delta": info["n_delta"],
                "fit_seconds": round(info["fit_seconds"], 3),
            }
        )
    if args.json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=2))
    else:
        for s in summaries:
            print(
                f"{s['model']}: phase {s['phase']}, {s['n_shells']} shells ({s['T_shells_K'][0]:g}-"
                f"{s['T_shells_K'][1]:g} K), d = {s['n_features']}, score order K = {s['order']} "
                f"(held-out Hyvärinen loss; model-error order {s['alt_order']}), {s['fit_seconds']:.2f} s"
            )
    for model, out in zip(models, outs):
        with atomic_path(out) as tmp:
            model.save(tmp)
    return 0
