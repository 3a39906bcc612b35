"""Phase free-energy difference ΔF(T) = F_B − F_A and the crossing temperature T_c with its error.

Each phase is a model file (score model) or a campaign file (the accurate high-temperature route: cumulant
closure with the exact α integral, MBAR on ``--tilted-a/--tilted-b`` shells). Each phase's F includes its own
static lattice energy E_0 = θ·D_0 (NVT at each sampled cell), in the harmonic ``--convention``. T_c_error is
σ_ΔF(T_c)/|dΔF/dT|. Grid points where either phase's value is flagged (e.g. an optimum on the edge of a shell
range) are marked '*'; the route that served each phase at each T is printed. A T_c that relies on flagged
free energies is an error (exit 2, nothing printed or written) unless ``--allow-extrapolation``, which prints
it flagged (``flagged_at_Tc``). ``--plot`` draws ΔF(T) in meV/atom with its ±1σ band, T_c and its error band.

``--pressure P`` (GPa) takes campaign files sampled at several strains: each phase's F(V) is fitted over all its
strains (``--fit``, :mod:`thermograd.thermo.eos`) and ΔG = G_B − G_A at P replaces ΔF; each tilt file serves
the strain it was sampled on. A pressure whose volumes lie outside the sampled strains is flagged, never
silently extrapolated.
"""

from __future__ import annotations

import argparse

from ._common import add_extrapolation, add_force, add_phase_inputs, add_pressure, open_phases, phase_inputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_phase_inputs(p)
    p.add_argument("--theta", required=True, metavar="FILE.snapcoeff", help="SNAP coefficient file")
    p.add_argument("--element", help="element block of the .snapcoeff file (default: the first)")
    p.add_argument("--T", default="500:2500:81", help="temperature grid T0:T1[:n] (default 500:2500:81)")
    add_pressure(p, "T_c at this pressure: campaign files sampled at several strains, F(V) fitted per phase")
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
    if args.pressure is None:
        a, b = open_phases(args)
        from ..thermo.transition import transition_temperature

        coeffs = Coefficients.from_snapcoeff(args.theta, a.n_features, args.element)
        res = transition_temperature(a, b, coeffs, T, convention=args.convention)
        first = (a, b)
        na, nb = a.name, b.name
    else:
        va, vb = _volume_phases(args)
        from ..thermo.eos import transition_at_pressure

        coeffs = Coefficients.from_snapcoeff(args.theta, va[0].n_features, args.element)
        res = transition_at_pressure(
            va, None, vb, None, coeffs, T, args.pressure, convention=args.convention, fit=args.fit
        )
        first = (va[0], vb[0])
        na, nb = res.phases
    if res.flagged_at_Tc and not args.allow_extrapolation:
        shells = ", ".join(f"{m.name} {m.shell_range[0]:g}-{m.shell_range[1]:g} K" for m in first)
        raise InputError(
            f"T_c = {res.Tc:.1f} K relies on flagged free energies ({shells}; {res.warnings[0]}); sample wider "
            "shells, or pass --allow-extrapolation to report it flagged"
        )
    if args.json:
        print(json.dumps(res.to_dict(), indent=1))
    else:
        if args.pressure is None:
            print(
                f"# ΔF = F[{nb}] − F[{na}] (meV/atom, each with E_0 = θ·D_0; convention "
                f"'{res.convention}'), ΔE_0 = {1e3 * res.dE0:.4f} meV/atom; '*' = flagged"
            )
        else:
            print(
                f"# ΔG = G[{nb}] − G[{na}] (meV/atom) at P = {args.pressure:g} GPa, each phase at the "
                f"minimum of its {args.fit} F(V) over {len(va)} and {len(vb)} strains + PV; '*' = flagged"
            )
        print(
            f"# {'T/K':>8} {'dF/meV' if args.pressure is None else 'dG/meV':>10} {'sigma/meV':>10}  route {na} | {nb}"
        )
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
            if args.pressure is not None:
                print(f"ΔV at T_c = {1e3 * res.dV:+.2f} mÅ³/atom (V*[{nb}] − V*[{na}])")
    for w in res.warnings:
        print(f"thermograd transition: warning: {w}", file=sys.stderr)
    if args.plot:
        from ..outputs import save_figure
        from ..plots import transition_figure

        fig = transition_figure(
            res.T, res.dF, res.sigma_dF, res.flagged, res.Tc, res.Tc_error, phases=(na, nb)
        )
        save_figure(fig, args.plot, dpi=120)
    return 0


def _volume_phases(args: argparse.Namespace):
    """Both phases' estimators over their strains (``open_volume_estimators``)."""
    from ..ddos.estimators.from_file import open_volume_estimators
    from ..errors import InputError

    phases = args.phases or (None, None)
    out = [
        open_volume_estimators(path, phase=ph, tilted=tilts, method=args.method)
        for path, ph, tilts in zip((args.model_a, args.model_b), phases, (args.tilted_a, args.tilted_b))
    ]
    if out[0][0].n_features != out[1][0].n_features:
        raise InputError(
            f"{args.model_a} and {args.model_b} have different descriptor lengths: the phases must share one descriptor"
        )
    return out
