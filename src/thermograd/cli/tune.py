"""Inverse design: move the A→B transition temperature to a target by gradient (Gauss–Newton) steps on θ.

Minimises ½ΔF(θ, T_target)² + (r/2)|θ − θ_0|² over θ with linear constraints held exactly (``--keep``):
``0K-difference`` (θ·ΔD_0) and/or ``lattice-energy`` (θ·D_0 of phase A). Writes the tuned coefficients with
the constant term and element header of the input file. Each phase is a model file (score model) or a
campaign file (the accurate route: cumulant closure, exact α integral, MBAR on ``--tilted-a/-b`` shells); ΔF
and its exact gradient ∂ΔF/∂θ come from the same estimators (``--convention`` as in ``predict``).

Before any step, a target the phases cannot serve with unflagged values (e.g. the optimum of a phase on the
edge of its sampled shells at the target, or a target outside the --T grid) is refused (exit 2). The results are
printed before any file is written; the output may not be an input and replaces only an existing .snapcoeff
file (with ``--force``). Exit codes: 0 converged; 2 bad input or refused target (nothing written);
3 not converged, or the tuned T_c relies on extrapolated free energies (without ``--allow-extrapolation``):
the reason is printed, the coefficients are NOT written (the ``--plot`` is, to show what happened).
"""

from __future__ import annotations

import argparse

from ._common import add_extrapolation, add_force, add_phase_inputs, open_phases, phase_inputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_phase_inputs(p)
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
    p.add_argument(
        "--plot", metavar="TUNE.png", help="plot the loss history and ΔF(T) before/after (meV/atom)"
    )
    add_extrapolation(
        p, "accept a tuned T_c that relies on free energies beyond the sampled shells (flagged)"
    )
    add_force(p, ".snapcoeff/plot file")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import copy
    import json
    import sys

    import numpy as np

    from ..errors import InputError
    from ..free_energy import Coefficients
    from ..io.snap import read_snapcoeff, write_snapcoeff
    from ..outputs import check_outputs
    from .inputs import parse_temperatures

    if args.max_steps < 0:
        raise InputError(f"--max-steps must be >= 0, got {args.max_steps}")
    if not np.isfinite(args.target_Tc) or args.target_Tc <= 0:
        raise InputError(f"--target-Tc must be a finite temperature > 0 K, got {args.target_Tc:g}")
    T = parse_temperatures(args.T, default_points=81)
    out = check_outputs(
        [(args.output, "snapcoeff"), (args.plot, "plot")],
        inputs=[*phase_inputs(args), args.theta],
        force=args.force,
    )[0]
    plot = args.plot
    a, b = open_phases(args)
    from ..thermo.tune import check_target, tune_transition

    start = Coefficients.from_snapcoeff(args.theta, a.n_features, args.element)
    keep = tuple(args.keep) if args.keep else ("0K-difference",)
    T_grid = np.unique(np.r_[T, args.target_Tc]) if T[0] <= args.target_Tc <= T[-1] else T
    check_target(a, b, start, args.target_Tc, T_grid)
    res = tune_transition(
        a,
        b,
        start,
        args.target_Tc,
        keep=keep,
        ridge=args.ridge,
        max_steps=args.max_steps,
        T_grid=T_grid,
        convention=args.convention,
    )
    failure = f"not converged: {res.reason}" if res.reason else ""
    if not failure and res.transition.flagged_at_Tc and not args.allow_extrapolation:
        failure = (
            f"the tuned T_c = {res.Tc:.1f} K relies on free energies beyond the sampled shells "
            "(pass --allow-extrapolation to accept it)"
        )
    d = res.to_dict()
    d["output"] = None if failure else str(out)
    if args.json:
        print(json.dumps(d, indent=1))
    else:
        print(
            f"T_c: {res.Tc_initial:.1f} K -> {res.Tc:.1f} ± {res.transition.Tc_error:.1f} K "
            f"(target {args.target_Tc:g} K) in {d['n_steps']} steps; loss {res.loss_history[0]:.3e} -> "
            f"{res.loss_history[-1]:.3e} eV²/atom²"
        )
        print(
            f"|Δθ|/|θ| = {res.relative_change:.4%}; change of θ·ΔD_0 = {res.dE0_change:.3e} eV/atom"
            + ("" if failure else f"; writing {out}")
        )
    for w in res.warnings:
        if not w.startswith("not converged"):
            print(f"thermograd tune: warning: {w}", file=sys.stderr)
    if plot is not None:
        from ..outputs import save_figure
        from ..plots import tune_figure

        fig = tune_figure(
            res.loss_history, res.transition_initial, res.transition, args.target_Tc, phases=(a.name, b.name)
        )
        save_figure(fig, plot, dpi=120)
    if failure:
        print(f"thermograd tune: error: {failure}; {out} not written", file=sys.stderr)
        return 3
    coeffs, el = read_snapcoeff(args.theta), start.element
    new = copy.deepcopy(coeffs)
    new.coeffs[el] = np.r_[coeffs.coeffs[el][0], res.theta]
    header = "\n".join(line.lstrip("#").strip() for line in coeffs.header if line.lstrip("#").strip())
    note = (
        f"tuned by thermograd tune from {args.theta}: T_c {res.Tc_initial:.1f} K -> {res.Tc:.1f} K "
        f"(target {args.target_Tc:g} K), |dtheta|/|theta| = {res.relative_change:.4%}, keep {', '.join(keep)}"
    )
    write_snapcoeff(out, new, comment=(header + "\n" if header else "") + note)
    return 0
