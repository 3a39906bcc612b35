"""Inverse design: move the A→B transition temperature to a target by gradient (Gauss–Newton) steps on θ.

Minimises ½ΔF(θ, T_target)² + (r/2)|θ − θ_0|² over θ with linear constraints held exactly (``--keep``):
``0K-difference`` (θ·ΔD_0) and/or ``lattice-energy`` (θ·D_0 of phase A). Writes the tuned coefficients with
the constant term and element header of the input file.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_a", help="model of phase A, e.g. BCC.h5")
    p.add_argument("model_b", help="model of phase B, e.g. FCC.h5")
    p.add_argument("--theta", required=True, metavar="FILE.snapcoeff", help="starting SNAP coefficients")
    p.add_argument("--element", help="element block of the .snapcoeff file (default: the first)")
    p.add_argument("--target-Tc", dest="target_Tc", type=float, required=True, help="target T_c (K)")
    p.add_argument(
        "--keep",
        action="append",
        choices=("0K-difference", "lattice-energy"),
        help="linear quantity to hold fixed (repeatable; default 0K-difference)",
    )
    p.add_argument("--ridge", type=float, default=1e-8, help="relative ridge toward θ_0 (default 1e-8)")
    p.add_argument("--max-steps", type=int, default=20, help="maximum steps (default 20)")
    p.add_argument("--T", default="500:2500:81", help="grid for locating T_c (default 500:2500:81)")
    p.add_argument("-o", "--output", required=True, help="tuned .snapcoeff file to write")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import copy
    import json
    import sys
    from pathlib import Path

    import numpy as np

    from ..ddos.inputs import load_theta, parse_temperatures
    from ..ddos.model import DDOSModel
    from ..errors import StoreError
    from ..io.snap import write_snapcoeff
    from ..thermo.tune import tune_transition

    out = Path(args.output)
    if out.exists() and not args.force:
        raise StoreError(f"{out} exists; pass --force to overwrite")
    a, b = DDOSModel.load(args.model_a), DDOSModel.load(args.model_b)
    theta, coeffs, el = load_theta(args.theta, a.n_features, args.element)
    T = parse_temperatures(args.T, default_points=81)
    keep = tuple(args.keep) if args.keep else ("0K-difference",)
    res = tune_transition(
        a,
        b,
        theta,
        args.target_Tc,
        keep=keep,
        ridge=args.ridge,
        max_steps=args.max_steps,
        T_grid=np.unique(np.r_[T, args.target_Tc]),
    )
    new = copy.deepcopy(coeffs)
    new.coeffs[el] = np.r_[coeffs.coeffs[el][0], res.theta]
    header = "\n".join(line.lstrip("#").strip() for line in coeffs.header if line.lstrip("#").strip())
    note = (
        f"tuned by thermograd tune from {args.theta}: T_c {res.Tc_initial:.1f} K -> {res.Tc:.1f} K "
        f"(target {args.target_Tc:g} K), |dtheta|/|theta| = {res.relative_change:.4%}, keep {', '.join(keep)}"
    )
    write_snapcoeff(out, new, comment=(header + "\n" if header else "") + note)
    d = res.to_dict()
    d["output"] = str(out)
    if args.json:
        print(json.dumps(d, indent=1))
    else:
        print(
            f"T_c: {res.Tc_initial:.1f} K -> {res.Tc:.1f} ± {res.transition.Tc_error:.1f} K "
            f"(target {args.target_Tc:g} K) in {d['n_steps']} steps"
        )
        print(
            f"|Δθ|/|θ| = {res.relative_change:.4%}; change of θ·ΔD_0 = {res.dE0_change:.3e} eV/atom; "
            f"wrote {out}"
        )
    for w in res.warnings:
        print(f"thermograd tune: warning: {w}", file=sys.stderr)
    return 0
