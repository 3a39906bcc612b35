"""Free energies F(θ, T) ± σ of one or more coefficient files from a D-DOS model or campaign.

F is the Helmholtz free energy per atom (NVT, sampled cell), classical and ħ-normalised, harmonic convention
'ddos'; F − E_0 is relative to the static lattice energy E_0 = θ·D_0 (+ the SNAP constant β_0), split into the
harmonic part F_h of the reference's modes and the anharmonic rest F_anh = F − E_0 − F_h. Given a model file
(``thermograd fit``) this is the microsecond score-model estimator, σ = propagated score-fit error ⊕ a
model-error term (two score orders). Given a campaign file with raw samples it is the high-temperature route
(third-cumulant closure + exact α integral, MBAR on the tilted shells of ``--tilted FILE`` from
``thermograd tilt``), σ = bootstrap ⊕ estimator disagreement; slower (~0.1 s per call) and more accurate near
melting.

Extrapolation is an error: a result whose optimum sits on the edge of the sampled shells (model route) or
whose α integrand has mass beyond them (campaign route), e.g. a temperature far above the top shell, makes the
command exit 2 with the reason, printing and plotting nothing. ``--allow-extrapolation`` prints such rows
marked '*' (JSON: out_of_range) and crosses them on the plot. ``--plot`` draws F_anh(T) in meV/atom with ±1σ
bands; the plot file may not be an input and replaces only an existing plot (with ``--force``).
"""

from __future__ import annotations

import argparse

from ._common import add_extrapolation, add_force


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
        "--method", choices=("fast", "exact"), default="fast", help="estimator route (default fast)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--plot", metavar="F.png", help="plot F_anh(T) (meV/atom) with ±1σ bands (.png/.pdf/.svg)")
    add_extrapolation(
        p,
        "print (and plot) results beyond the sampled shells, flagged '*', instead of exiting 2",
        legacy_strict=True,
    )
    add_force(p, "plot file")
    p.add_argument("--phase", help="campaign input: phase label (default: the only one)")
    p.add_argument(
        "--tilted", metavar="FILE", action="append", default=[], help="campaign input: tilt file (repeatable)"
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    import numpy as np

    from ..errors import InputError, StoreError
    from ..outputs import check_outputs, hdf5_format
    from .inputs import load_theta, parse_temperatures

    T = parse_temperatures(args.T)
    check_outputs([(args.plot, "plot")], inputs=[args.model, *args.theta, *args.tilted], force=args.force)
    if hdf5_format(args.model) == "thermograd-campaign":
        campaign_fn, name, T_range, n_features = _campaign_route(args, T)
    else:
        from ..io.ddos_model import load_model  # checks the file before torch is imported

        model = load_model(args.model)
        name, n_features = model.name, model.n_features
        T_range = (model.geometry.T_shells[0], model.geometry.T_shells[-1])
        campaign_fn = None
    edge_text = (
        "optimum on the shell-range edge"
        if campaign_fn is None
        else "α-integrand mass beyond the sampled shells would change F by > 0.01 meV/atom"
    )
    loaded = [load_theta(f, n_features, args.element) for f in args.theta]
    thetas = np.stack([t for t, _, _ in loaded])
    if campaign_fn is None:
        res = model.predict(thetas, T, method=args.method, with_grad=False, with_model_error=True)
        res.F_h = np.broadcast_to(model_harmonic_free_energy(model, T), res.F.shape).copy()
        res.F_anh = res.F_minus_E0 - res.F_h
    else:
        res = campaign_fn(thetas)
    for key in ("F", "sigma"):
        bad = ~np.isfinite(getattr(res, key))
        if bad.any():
            i, k = np.argwhere(bad)[0]
            raise StoreError(
                f"{args.model}: non-finite {key} for {args.theta[i]} at {T[k]:g} K "
                f"({int(bad.sum())} of {bad.size} results); the model or campaign file may be corrupt"
            )
    # The SNAP constant β_0 of each file is part of the model's energy (E = N β_0 + θ·Σ_i B_i): add it so
    # that F and E_0 are the model's total free and static energies per atom.
    beta0 = np.array([c.constant(el) for _, c, el in loaded])
    res.F = res.F + beta0[:, None]
    res.E0 = res.E0 + beta0
    n_oor = int(res.out_of_range.sum())
    where = f"sampled shells {T_range[0]:g}-{T_range[1]:g} K"
    if n_oor and not args.allow_extrapolation:
        i, k = np.argwhere(res.out_of_range)[0]
        Ts = ", ".join(f"{t:g}" for t in T[res.out_of_range.any(0)][:6])
        raise InputError(
            f"{n_oor} of {res.F.size} (model, T) results need extrapolation ({edge_text}; {where}), at "
            f"T = {Ts} K (first: {args.theta[i]} at {T[k]:g} K); pass --allow-extrapolation to print them "
            "flagged"
        )
    if args.json:
        out = {
            "model": args.model,
            "phase": name,
            "reference": res.reference,
            "method": res.method,
            "units": {"F": "eV/atom", "T": "K", "alpha_star": "ln(Å^2)"},
            "shell_range_K": [float(T_range[0]), float(T_range[1])],
            "results": [
                {
                    "theta": f,
                    "E0": float(res.E0[i]),
                    "beta0": float(beta0[i]),
                    "T": T.tolist(),
                    "F": res.F[i].tolist(),
                    "F_minus_E0": res.F_minus_E0[i].tolist(),
                    "F_h": res.F_h[i].tolist(),
                    "F_anh": res.F_anh[i].tolist(),
                    "sigma": res.sigma[i].tolist(),
                    "sigma_stat": res.sigma_stat[i].tolist(),
                    "sigma_model": res.sigma_model[i].tolist(),
                    "alpha_star": res.alpha_star[i].tolist(),
                    "T_shell_star": res.T_star[i].tolist(),
                    "out_of_range": res.out_of_range[i].tolist(),
                }
                for i, f in enumerate(args.theta)
            ],
        }
        print(json.dumps(out, indent=1))
    else:
        print(_table(args.theta, T, res, name, edge_text))
    if n_oor:
        print(
            f"thermograd predict: warning: {n_oor} of {res.F.size} (model, T) results are flagged "
            f"({edge_text}, {where}); printed because of --allow-extrapolation: treat them as upper bounds",
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
            res.out_of_range,
            title=f"D-DOS {name} ({res.method}), {args.model}",
            reference="relative to F_h$^{ref}$, the harmonic free energy of the reference modes ('ddos' convention)",
        )
        save_figure(fig, args.plot, dpi=120)
    return 0


def model_harmonic_free_energy(model, T):
    """F_h(T) = 3 k_B T ⟨ln βħω_l⟩ of a model's reference modes ('ddos' convention), eV/atom, shape (n_T,).

    ⟨ln ħω⟩ = ½ ln(ħ²κ̄/m) + ½⟨ln ν⟩ follows from the stored κ̄, mass and ⟨ln ν⟩ of the reference Hessian.
    """
    import numpy as np

    from ..units import HBAR2_PER_AMU, KB

    kT = KB * np.asarray(T, dtype=float)
    mean_log_hw = 0.5 * np.log(HBAR2_PER_AMU * model.kappa_bar / model.mass) + 0.5 * model.mean_log_nu
    return 3.0 * kT * (mean_log_hw - np.log(kT))


def _table(files, T, res, name, edge_text) -> str:
    """Readable table: full file names (one column as wide as the longest), energies in eV/atom, σ in meV."""
    w = max(5, *(len(f) for f in files))
    lines = [
        f"# {name}: {res.reference}; E_0 includes the SNAP constant β_0 of each file",
        f"# method {res.method}; F = E_0 + F_h + F_anh, F_h = harmonic free energy of the reference modes "
        "('ddos' convention), F_anh the rest (incl. the model's harmonic difference to the reference)",
        f"# σ = √(σ_stat² + σ_model²); '*' = {edge_text}",
        f"# {'theta':<{w}} {'T/K':>8} {'F/eV':>13} {'F-E0/eV':>12} {'F_h/eV':>12} {'F_anh/meV':>10} "
        f"{'sigma/meV':>10} {'T_shell*/K':>11}",
    ]
    for i, f in enumerate(files):
        for k, t in enumerate(T):
            mark = " *" if res.out_of_range[i, k] else ""
            lines.append(
                f"  {f:<{w}} {t:8.1f} {res.F[i, k]:13.7f} {res.F_minus_E0[i, k]:12.7f} {res.F_h[i, k]:12.7f} "
                f"{1e3 * res.F_anh[i, k]:10.4f} {1e3 * res.sigma[i, k]:10.4f} {res.T_star[i, k]:11.1f}{mark}"
            )
    return "\n".join(lines)


def _campaign_route(args, T):
    """High-temperature route on a campaign's raw samples: returns (θ → result, phase, T range, d)."""
    from types import SimpleNamespace

    from ..ddos.estimators.cumulant import CumulantEstimator
    from ..ddos.sampling.tilt_campaign import load_tilted
    from ..errors import InputError
    from ..harmonic import shell_temperature
    from .inputs import load_campaign_datasets

    datasets = load_campaign_datasets(args.model, require_complete=True)
    names = sorted({d.name for d in datasets})
    phase = args.phase or (names[0] if len(names) == 1 else None)
    chosen = [d for d in datasets if d.name == phase]
    if not chosen:
        raise InputError(f"{args.model}: choose a phase with --phase (the campaign has {', '.join(names)})")
    ds = chosen[0]
    tilted = {}
    for path in args.tilted:
        tilted.update(load_tilted(path, ds))
    est = CumulantEstimator(ds, tilted=tilted)

    def run(thetas):
        r = est.predict(thetas, T, convention="ddos")
        return SimpleNamespace(
            F=r.F,
            F_minus_E0=r.F_minus_E0,
            F_h=r.F_h,
            F_anh=r.F_anh,
            E0=r.E0,
            sigma=r.sigma,
            sigma_stat=r.sigma_stat,
            sigma_model=r.sigma_model,
            alpha_star=r.alpha_mean,
            T_star=shell_temperature(r.alpha_mean, ds.kappa_bar),
            out_of_range=r.out_of_range,
            reference=r.reference,
            method=f"cumulant{' + tilted shells ' + str(sorted(tilted)) if tilted else ''}",
        )

    Ts = [s.T_shell for s in ds.shells]
    return run, ds.name, (min(Ts), max(Ts)), ds.n_features
