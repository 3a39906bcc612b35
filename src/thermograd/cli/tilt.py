"""Tilted shell sampling toward one model and temperature, for accurate D-DOS free energies near melting.

Uniform shell samples cannot resolve ln⟨exp(−N θ·(D − D_0)/k_BT)⟩ once its effective sample size collapses
(high T, soft models). This samples the collapsed shells again, as Metropolis chains under a ladder of tilts
toward (θ, T), into a separate HDF5 file (the campaign is not modified; a rerun resumes). The high-T estimator
(`thermograd.ddos.estimators.cumulant.CumulantEstimator(dataset, tilted=load_tilted(FILE, dataset))`) combines the
rungs by MBAR and serves θ and T near the tilt.

The output may not be an input and is never another kind of file (an existing campaign, model, ... is
refused); an existing tilt file is resumed (``run_tilt`` checks that it belongs to the same campaign and θ).
"""

from __future__ import annotations

import argparse

from ._common import add_executor, add_quiet, executor_kind


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("campaign", help="campaign file written by 'thermograd sample' (with raw samples)")
    p.add_argument("--theta", required=True, metavar="FILE.snapcoeff", help="model to tilt toward")
    p.add_argument("--element", help="element block of the .snapcoeff file (default: the first)")
    p.add_argument("--T", required=True, type=float, help="temperature to tilt toward, K")
    p.add_argument("-o", "--output", required=True, help="tilt file (HDF5; resumed when it exists)")
    p.add_argument("--phase", help="phase label (default: the campaign's only phase)")
    p.add_argument("--strain-index", type=int, default=0, help="strain of the phase (default 0)")
    p.add_argument(
        "--shells",
        default="auto",
        help="'auto' (shells whose uniform effective sample size is below --ess-min) or indices 'i,j,…'",
    )
    p.add_argument("--ess-min", type=float, default=50.0, help="ESS threshold of --shells auto (default 50)")
    p.add_argument("--lambdas", default="0.25,0.5,0.75,1", help="tilt ladder (default 0.25,0.5,0.75,1)")
    p.add_argument("--chains", type=int, default=32, help="chains per rung (default 32)")
    p.add_argument("--steps", type=int, default=180, help="recorded steps per rung (default 180)")
    p.add_argument("--burn", type=int, default=60, help="burn-in steps per rung (default 60)")
    p.add_argument("--thin", type=int, default=3, help="record every n-th step (default 3)")
    p.add_argument("--seed", type=int, default=0)
    add_executor(p, "shell tasks", default="processes")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from ..ddos.inputs import check_campaign
    from ..errors import InputError
    from ..io.snap import read_snapcoeff
    from ..outputs import check_outputs

    try:
        lambdas = tuple(float(x) for x in args.lambdas.split(","))
        shells = args.shells if args.shells == "auto" else [int(x) for x in args.shells.split(",")]
    except ValueError:
        raise InputError(
            f"--lambdas/--shells: expected comma-separated numbers, got {args.lambdas!r}"
        ) from None
    check_outputs([(args.output, "tilt")], inputs=[args.campaign, args.theta], resumable=("tilt",))
    check_campaign(args.campaign)  # a missing, foreign, partial or corrupt campaign: one line
    coeff = read_snapcoeff(args.theta)
    from ..ddos.sampling.tilt_campaign import TiltPlan, run_tilt

    plan = TiltPlan(lambdas, args.chains, args.steps, args.burn, args.thin, args.seed)
    out = run_tilt(
        args.campaign,
        coeff.theta(args.element),
        args.T,
        args.output,
        phase=args.phase,
        strain_index=args.strain_index,
        shells=shells,
        ess_min=args.ess_min,
        plan=plan,
        executor=executor_kind(args),
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    ess = ", ".join(f"{e:.0f}" for e in out["ess"])
    print(f"# uniform-sample effective sample size per shell at {args.T} K: {ess}")
    print(f"# tilted shells {out['shells']} in {out['output']} ({len(out['skipped'])} were already finished)")
    return 0
