"""Phase free-energy difference ΔF(T) = F_B − F_A and the crossing temperature T_c with its error.

Each phase is a model file (score model) or a campaign file (the accurate high-temperature route: cumulant
closure with the exact α integral, MBAR on ``--tilted-a/--tilted-b`` shells). Each phase's F includes its own
static lattice energy E_0 = θ·D_0 (NVT at each sampled cell), in the harmonic ``--convention``. T_c_error is
σ_ΔF(T_c)/|dΔF/dT|. Grid points where either phase's value is flagged (e.g. an optimum on the edge of a shell
range) are marked '*'; the route that served each phase at each T is printed. A T_c that relies on flagged
free energies is an error (exit 2, nothing printed or written) unless ``--allow-extrapolation``, which prints
it flagged (``flagged_at_Tc``). ``--plot`` draws ΔF(T) in meV/atom with its ±1σ band, T_c and its error band.
"""

from __future__ import annotations

import argparse

from ._common import add_extrapolation, add_force, add_phase_inputs, open_phases, phase_inputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_phase_inputs(p)
    p.add_argument("--theta", required=True, metavar="FILE.snapcoeff", help="SNAP coefficient file")
    p.add_argument("--element", help="element block of the .snapcoeff file (default: the first)")
    p.add_argument("--T", default="500:2500:81", help="temperature grid T0:T1[:n] (default 500:2500:81)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", metavar="DF.png", help="plot ΔF(T) (meV/atom) with ±1σ, T_c and its error band")
    add_extrapolation(
        p,
        "report a T_c that relies on flagged free energies (beyond the sampled shells) instead of exiting 2",
        legacy_strict=True,
    )
    add_force(p, "plot file")


def run(args: argparse.Namespace) -> int:
    import json
    import math
    import sys

    from ..errors import InputError
    from ..free_energy import Coefficients
    from ..outputs import check_outputs
    from .inputs import parse_temperatures

    T = parse_temperatures(args.T, default_points=81)
    check_outputs([(args.plot, "plot")], inputs=[*phase_inputs(args), args.theta], force=args.force)
    a, b = open_phases(args)
    from ..thermo.transition import transition_temperature

    coeffs = Coefficients.from_snapcoeff(args.theta, a.n_features, args.element)
    res = transition_temperature(a, b, coeffs, T, convention=args.convention)
    if res.flagged_at_Tc and not args.allow_extrapolation:
        shells = ", ".join(f"{m.name} {m.shell_range[0]:g}-{m.shell_range[1]:g} K" for m in (a, b))
        raise InputError(
            f"T_c = {res.Tc:.1f} K relies on flagged free energies ({shells}; {res.warnings[0]}); sample wider "
            "shells, or pass --allow-extrapolation to report it flagged"
        )
    if args.json:
        print(json.dumps(res.to_dict(), indent=1))
    else:
        print(
            f"# ΔF = F[{b.name}] − F[{a.name}] (meV/atom, each with E_0 = θ·D_0; convention '{res.convention}'), "
            f"ΔE_0 = {1e3 * res.dE0:.4f} meV/atom; '*' = flagged"
        )
        print(f"# {'T/K':>8} {'dF/meV':>10} {'sigma/meV':>10}  route {a.name} | {b.name}")
        for k, (t, d, s, o) in enumerate(zip(res.T, res.dF, res.sigma_dF, res.flagged)):
            flag = f" * {res.reasons[k]}" if o else ""
            print(
                f"  {t:8.1f} {1e3 * d:+10.4f} {1e3 * s:10.4f}  {res.routes[0][k]} | {res.routes[1][k]}{flag}"
            )
        if math.isnan(res.Tc):
            print("T_c: no crossing on this grid")
        else:
            flag = " (flagged)" if res.flagged_at_Tc else ""
            print(
                f"T_c = {res.Tc:.1f} ± {res.Tc_error:.1f} K (statistical ± {res.Tc_error_stat:.1f} K){flag}"
            )
    for w in res.warnings:
        print(f"thermograd transition: warning: {w}", file=sys.stderr)
    if args.plot:
        from ..outputs import save_figure
        from ..plots import transition_figure

        fig = transition_figure(
            res.T, res.dF, res.sigma_dF, res.flagged, res.Tc, res.Tc_error, phases=(a.name, b.name)
        )
        save_figure(fig, args.plot, dpi=120)
    return 0
