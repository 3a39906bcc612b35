"""Phase free-energy difference ΔF(T) = F_B − F_A and the crossing temperature T_c with its error.

Each phase's F includes its own static lattice energy E_0 = θ·D_0 (NVT at each sampled cell). T_c_error is
σ_ΔF(T_c)/|dΔF/dT|. A T_c obtained where an optimum sits on the edge of a shell range is flagged
(``out_of_range_at_Tc``); ``--strict`` makes that exit code 3.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_a", help="model of phase A (stable below T_c when ΔF > 0), e.g. BCC.h5")
    p.add_argument("model_b", help="model of phase B, e.g. FCC.h5")
    p.add_argument("--theta", required=True, metavar="FILE.snapcoeff", help="SNAP coefficient file")
    p.add_argument("--element", help="element block of the .snapcoeff file (default: the first)")
    p.add_argument("--T", default="500:2500:81", help="temperature grid T0:T1[:n] (default 500:2500:81)")
    p.add_argument("--method", choices=("fast", "exact"), default="fast")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--strict", action="store_true", help="exit 3 when T_c relies on out-of-range optima")


def run(args: argparse.Namespace) -> int:
    import json
    import math
    import sys

    from ..ddos.inputs import load_theta, parse_temperatures
    from ..ddos.model import DDOSModel
    from ..thermo.transition import transition_temperature

    a, b = DDOSModel.load(args.model_a), DDOSModel.load(args.model_b)
    theta = load_theta(args.theta, a.n_features, args.element)[0]
    T = parse_temperatures(args.T, default_points=81)
    res = transition_temperature(a, b, theta, T, method=args.method)
    if args.json:
        print(json.dumps(res.to_dict(), indent=1))
    else:
        print(
            f"# ΔF = F[{b.name}] − F[{a.name}] (eV/atom, each with E_0 = θ·D_0), ΔE_0 = {res.dE0:.6f} eV/atom"
        )
        for t, d, s, o in zip(res.T, res.dF, res.sigma_dF, res.out_of_range):
            print(f"  {t:8.1f} K  {d:+.6f} ± {s:.6f}{' *' if o else ''}")
        if math.isnan(res.Tc):
            print("T_c: no crossing on this grid")
        else:
            print(f"T_c = {res.Tc:.1f} ± {res.Tc_error:.1f} K (statistical ± {res.Tc_error_stat:.1f} K)")
    for w in res.warnings:
        print(f"thermograd transition: warning: {w}", file=sys.stderr)
    if args.strict and res.out_of_range_at_Tc:
        return 3
    return 0
