"""Free energies F(θ, T) ± σ of one or more coefficient files from a D-DOS model or campaign.

F is the Helmholtz free energy per atom (NVT, sampled cell), classical and ħ-normalised: F = E_0 + F_h + F_anh
with E_0 = θ·D_0 + β_0 (the SNAP constant of each file), F_h the harmonic free energy of the reference's modes
in the chosen ``--convention`` ('ddos': 3k_BT⟨ln βħω⟩, the default; 'cell': the exact finite-cell sum that
λ-TI uses) and F_anh the rest (the same in both conventions). Given a model file (``thermograd fit``) this is
the microsecond score-model estimator (``--method fast|table|exact``), σ = propagated score-fit error ⊕ a
model-error term (two score orders). Given a campaign file with raw samples it is the high-temperature route
(third-cumulant closure + exact α integral, ``--method gamma|reweight``; MBAR on the tilted shells of
``--tilted FILE`` from ``thermograd tilt``), σ = bootstrap ⊕ estimator disagreement; slower (~0.1 s per call)
and more accurate near melting. An option that does not apply to the file (``--tilted`` or ``--phase`` with a
model file, a method of the other route) is an error, never ignored. Every row names the route that served it.

Flagged values are an error: a result whose optimum sits on the edge of the sampled shells (model route) or
whose α integrand has mass beyond them (campaign route), e.g. a temperature far above the top shell, makes the
command exit 2 with the reason, printing and plotting nothing. ``--allow-extrapolation`` prints such rows
marked '*' (JSON: flagged, flag_reason) and crosses them on the plot. ``--plot`` draws F_anh(T) in meV/atom
with ±1σ bands; the plot file may not be an input and replaces only an existing plot (with ``--force``).

``--pressure P`` (GPa) takes a campaign sampled at several strains and prints G(θ, P, T) = F̂(V*) + PV*, the
volume V*, the bulk modulus B and the volumetric thermal expansion α, each phase's F(V) fitted over all its
strains (``--fit``, :mod:`thermograd.thermo.eos`); σ of G, V* and B propagate the σ of every volume. A pressure
whose V* lies outside the sampled strains is flagged like an extrapolation in T.
"""

from __future__ import annotations

import argparse

from ._common import add_convention, add_extrapolation, add_force, add_pressure


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file ('thermograd fit') or campaign file ('thermograd sample')")
    p.add_argument(
        "--theta",
        action="append",
        required=True,
        metavar="FILE.snapcoeff",
        help="SNAP coefficient file (repeatable)",
    )
    p.add_argument("--element", help="element block of the .snapcoeff file (default: the first)")
    p.add_argument("--T", required=True, help="temperatures T0:T1[:n] or a,b,c (K)")
    p.add_argument(
        "--method",
        choices=("fast", "table", "exact", "gamma", "reweight"),
        help="model file: fast (default), table or exact; campaign file: gamma (default) or reweight",
    )
    add_convention(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plot", metavar="F.png", help="plot F_anh(T) (meV/atom) with ±1σ bands (.png/.pdf/.svg)")
    add_extrapolation(
        p,
        "print (and plot) results beyond the sampled shells, flagged '*', instead of exiting 2",
        legacy_strict=True,
    )
    add_force(p, "plot file")
    add_pressure(
        p,
        "campaign sampled at several strains: G, V*, B and α at this pressure (F(V) fitted over the strains)",
    )
    p.add_argument(
        "--phase", help="campaign input: phase label (default: the only one), or label@strain for one cell"
    )
    p.add_argument(
        "--tilted", metavar="FILE", action="append", default=[], help="campaign input: tilt file (repeatable)"
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    import numpy as np

    from ..ddos.estimators.from_file import open_estimator
    from ..errors import InputError, StoreError
    from ..free_energy import Coefficients
    from ..outputs import check_outputs
    from .inputs import parse_temperatures

    T = parse_temperatures(args.T)
    check_outputs([(args.plot, "plot")], inputs=[args.model, *args.theta, *args.tilted], force=args.force)
    if args.pressure is not None:
        return _run_pressure(args, T)
    est = open_estimator(args.model, phase=args.phase, tilted=args.tilted, method=args.method)
    coeffs = Coefficients.from_snapcoeff(args.theta, est.n_features, args.element)
    res = est.predict(coeffs, T, convention=args.convention, with_grad=False)
    for key in ("F", "sigma"):
        bad = ~np.isfinite(getattr(res, key)) & ~res.flagged  # a flagged divergence is reported as flagged
        if bad.any():
            i, k = np.argwhere(bad)[0]
            raise StoreError(
                f"{args.model}: non-finite {key} for {args.theta[i]} at {T[k]:g} K "
                f"({int(bad.sum())} of {bad.size} results); the model or campaign file may be corrupt"
            )
    n_flag = int(res.flagged.sum())
    where = f"sampled shells {est.shell_range[0]:g}-{est.shell_range[1]:g} K"
    if n_flag and not args.allow_extrapolation:
        i, k = np.argwhere(res.flagged)[0]
        Ts = ", ".join(f"{t:g}" for t in T[res.flagged.any(0)][:6])
        raise InputError(
            f"{n_flag} of {res.F.size} (model, T) results are flagged ({res.reason(i, k)}; {where}), at "
            f"T = {Ts} K (first: {args.theta[i]} at {T[k]:g} K); pass --allow-extrapolation to print them "
            "flagged"
        )
    if args.json:
        rows = res.rows()
        for row, b0 in zip(rows, coeffs.beta0):
            row["beta0"] = float(b0)
        out = {
            "model": args.model,
            "phase": res.phase,
            "convention": res.convention,
            "reference": res.reference,
            "routes": list(res.routes),
            "units": {"F": "eV/atom", "T": "K", "alpha_star": "ln(Å^2)"},
            "shell_range_K": list(est.shell_range),
            "results": rows,
        }
        print(json.dumps(out, indent=1))
    else:
        print(_table(coeffs, T, res))
    if n_flag:
        reasons = sorted({res.reason(i, k) for i, k in np.argwhere(res.flagged)})
        print(
            f"thermograd predict: warning: {n_flag} of {res.F.size} (model, T) results are flagged "
            f"({'; '.join(reasons)}; {where}); printed because of --allow-extrapolation: treat them as "
            "upper bounds",
            file=sys.stderr,
        )
    if args.plot:
        from ..outputs import save_figure
        from ..plots import free_energy_figure

        fig = free_energy_figure(
            T,
            res.F_anh,
            res.sigma,
            list(args.theta),
            res.flagged,
            title=f"D-DOS {res.phase} ({res.route_summary}), {args.model}",
            reference="relative to F_h$^{ref}$, the harmonic free energy of the reference modes "
            f"('{res.convention}' convention)",
        )
        save_figure(fig, args.plot, dpi=120)
    return 0


def _table(coeffs, T, res) -> str:
    """Readable table: full file names (one column as wide as the longest), energies in eV/atom, σ in meV."""
    files = [coeffs.label(i) for i in range(len(coeffs))]
    w = max(5, *(len(f) for f in files))
    lines = [
        f"# {res.phase}: {res.reference}; E_0 includes the SNAP constant β_0 of each file",
        f"# harmonic convention '{res.convention}': F = E_0 + F_h + F_anh, F_h = harmonic free energy of the "
        "reference modes, F_anh the rest (incl. the model's harmonic difference to the reference)",
        f"# σ = √(σ_stat² + σ_model²); route: {' | '.join(f'{j}: {r}' for j, r in enumerate(res.routes))}; "
        "'*' = flagged",
        f"# {'theta':<{w}} {'T/K':>8} {'F/eV':>13} {'F-E0/eV':>12} {'F_h/eV':>12} {'F_anh/meV':>10} "
        f"{'sigma/meV':>10} {'T_shell*/K':>11} {'route':>5}",
    ]
    for i, f in enumerate(files):
        for k, t in enumerate(T):
            mark = " *" if res.flagged[i, k] else ""
            lines.append(
                f"  {f:<{w}} {t:8.1f} {res.F[i, k]:13.7f} {res.F_minus_E0[i, k]:12.7f} {res.F_h[i, k]:12.7f} "
                f"{1e3 * res.F_anh[i, k]:10.4f} {1e3 * res.sigma[i, k]:10.4f} {res.T_star[i, k]:11.1f} "
                f"{int(res.route_code[i, k]):5d}{mark}"
            )
    return "\n".join(lines)


def _run_pressure(args: argparse.Namespace, T) -> int:
    """``predict --pressure``: G, V*, B and α of one phase over its strains (module docstring)."""
    import json
    import sys

    import numpy as np

    from ..ddos.estimators.from_file import open_volume_estimators
    from ..errors import InputError
    from ..free_energy import Coefficients
    from ..thermo.eos import gibbs_free_energy

    if args.plot:
        raise InputError(
            "--plot draws F_anh(T) of one cell; with --pressure use --json and plot G, V or B yourself"
        )
    ests = open_volume_estimators(args.model, phase=args.phase, tilted=args.tilted, method=args.method)
    coeffs = Coefficients.from_snapcoeff(args.theta, ests[0].n_features, args.element)
    res = gibbs_free_energy(ests, None, coeffs, T, args.pressure, convention=args.convention, fit=args.fit)
    n_flag = int(res.flagged.sum())
    if n_flag and not args.allow_extrapolation:
        i, k = np.argwhere(res.flagged)[0]
        raise InputError(
            f"{n_flag} of {res.G.size} (model, T) results at {args.pressure:g} GPa are flagged ({res.reason(i, k)}; "
            f"volumes {res.volumes[0]:.4g}-{res.volumes[-1]:.4g} Å³/atom; first: {args.theta[i]} at {T[k]:g} K); "
            "pass --allow-extrapolation to print them flagged"
        )
    if args.json:
        out = {
            "model": args.model,
            "phase": res.phase,
            "P_GPa": res.P,
            "fit": res.fit,
            "convention": res.convention,
            "volumes": res.volumes.tolist(),
            "units": {"G": "eV/atom", "V": "Å^3/atom", "B": "GPa", "alpha": "1/K", "T": "K"},
            "results": res.rows(),
        }
        print(json.dumps(out, indent=1))
    else:
        files = [coeffs.label(i) for i in range(len(coeffs))]
        w = max(5, *(len(f) for f in files))
        print(
            f"# {res.phase} at P = {res.P:g} GPa: G = F̂(V*) + PV*, {res.fit} F(V) over {res.volumes.size} volumes "
            f"{res.volumes[0]:.4f}-{res.volumes[-1]:.4f} Å³/atom; harmonic convention '{res.convention}'; '*' = flagged"
        )
        print(
            f"# {'theta':<{w}} {'T/K':>8} {'G/eV':>13} {'sigma/meV':>10} {'V*/Å³':>10} {'sigma_V':>9} "
            f"{'B/GPa':>8} {'alpha/1e-6K':>11}"
        )
        for i, f in enumerate(files):
            for k, t in enumerate(T):
                mark = f" * {res.reason(i, k)}" if res.flagged[i, k] else ""
                print(
                    f"  {f:<{w}} {t:8.1f} {res.G[i, k]:13.7f} {1e3 * res.sigma_G[i, k]:10.4f} {res.V[i, k]:10.5f} "
                    f"{res.sigma_V[i, k]:9.5f} {res.B[i, k]:8.2f} {1e6 * res.alpha[i, k]:11.3f}{mark}"
                )
    for w_ in res.warnings:
        print(f"thermograd predict: warning: {w_}", file=sys.stderr)
    return 0
