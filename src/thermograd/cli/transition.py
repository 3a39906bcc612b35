"""Phase free-energy difference ΔF(T) = F_B − F_A and the crossing temperature T_c with its error.

Each phase's F includes its own static lattice energy E_0 = θ·D_0 (NVT at each sampled cell). T_c_error is
σ_ΔF(T_c)/|dΔF/dT|. Grid points where an optimum sits on the edge of a shell range are marked '*'. A T_c that
relies on such extrapolated free energies is an error (exit 2, nothing printed or written) unless
``--allow-extrapolation``, which prints it flagged (``out_of_range_at_Tc``). ``--plot`` draws ΔF(T) in
meV/atom with its ±1σ band, T_c and its error band.
"""

from __future__ import annotations

import argparse

from ._common import add_extrapolation, add_force


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_a", help="model of phase A (stable below T_c when ΔF > 0), e.g. BCC.h5")
    p.add_argument("model_b", help="model of phase B, e.g. FCC.h5")
    p.add_argument("--theta", required=True, metavar="FILE.snapcoeff", help="SNAP coefficient file")
    p.add_argument("--element", help="element block of the .snapcoeff file (default: the first)")
    p.add_argument("--T", default="500:2500:81", help="temperature grid T0:T1[:n] (default 500:2500:81)")
    p.add_argument("--method", choices=("fast", "exact"), default="fast")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="DF.png", help="plot ΔF(T) (meV/atom) with ±1σ, T_c and its error band")
    add_extrapolation(
        p,
        "report a T_c that relies on free energies beyond the sampled shells (flagged) instead of exiting 2",
        legacy_strict=True,
    )
    add_force(p, "plot file")


def run(args: argparse.Namespace) -> int:
    import json
    import math
    import sys

    from ..errors import InputError
    from ..outputs import check_outputs
    from .inputs import load_theta, parse_temperatures

    T = parse_temperatures(args.T, default_points=81)
    check_outputs([(args.plot, "plot")], inputs=[args.model_a, args.model_b, args.theta], force=args.force)
    from ..io.ddos_model import load_model  # checks the file before torch is imported

    a, b = load_model(args.model_a), load_model(args.model_b)
    from ..thermo.transition import transition_temperature

    theta = load_theta(args.theta, a.n_features, args.element)[0]
    res = transition_temperature(a, b, theta, T, method=args.method)
    if res.out_of_range_at_Tc and not args.allow_extrapolation:
        shells = ", ".join(
            f"{m.name} {m.geometry.T_shells[0]:g}-{m.geometry.T_shells[-1]:g} K" for m in (a, b)
        )
        raise InputError(
            f"T_c = {res.Tc:.1f} K relies on free energies beyond the sampled shells ({shells}): the optimum of "
            "at least one phase sits on its shell-range edge there; sample wider shells, or pass "
            "--allow-extrapolation to report it flagged"
        )
    if args.json:
        print(json.dumps(res.to_dict(), indent=1))
    else:
        print(
            f"# ΔF = F[{b.name}] − F[{a.name}] (meV/atom, each with E_0 = θ·D_0), "
            f"ΔE_0 = {1e3 * res.dE0:.4f} meV/atom; '*' = an optimum on the shell-range edge (extrapolated)"
        )
        print(f"# {'T/K':>8} {'dF/meV':>10} {'sigma/meV':>10}")
        for t, d, s, o in zip(res.T, res.dF, res.sigma_dF, res.out_of_range):
            print(f"  {t:8.1f} {1e3 * d:+10.4f} {1e3 * s:10.4f}{' *' if o else ''}")
        if math.isnan(res.Tc):
            print("T_c: no crossing on this grid")
        else:
            flag = " (flagged: extrapolated)" if res.out_of_range_at_Tc else ""
            print(
                f"T_c = {res.Tc:.1f} ± {res.Tc_error:.1f} K (statistical ± {res.Tc_error_stat:.1f} K){flag}"
            )
    for w in res.warnings:
        print(f"thermograd transition: warning: {w}", file=sys.stderr)
    if args.plot:
        from ..outputs import save_figure
        from ..plots import transition_figure

        fig = transition_figure(
            res.T, res.dF, res.sigma_dF, res.out_of_range, res.Tc, res.Tc_error, phases=(a.name, b.name)
        )
        save_figure(fig, args.plot, dpi=120)
    return 0
