"""Free energies F(θ, T) ± σ of one or more coefficient files from a D-DOS model or campaign.

F is the Helmholtz free energy per atom (NVT, sampled cell), classical and ħ-normalised, harmonic convention
'ddos'; F − E_0 is relative to the static lattice energy E_0 = θ·D_0. Given a model file (``thermograd fit``)
this is the microsecond score-model estimator, σ = propagated score-fit error ⊕ a model-error term (two score
orders). Given a campaign file with raw samples it is the high-temperature route (third-cumulant closure +
exact α integral, MBAR on the tilted shells of ``--tilted FILE`` from ``thermograd tilt``), σ = bootstrap ⊕
estimator disagreement; slower (~0.1 s per call) and more accurate near melting. Rows whose optimum reaches
the edge of the sampled shell range are marked '*' (JSON: out_of_range); ``--strict`` makes them exit code 3.
"""

from __future__ import annotations

import argparse


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
    p.add_argument("--plot", metavar="F.png", help="plot F(T) with ±σ bands (matplotlib)")
    p.add_argument("--strict", action="store_true", help="exit 3 when any optimum is out of the shell range")
    p.add_argument("--phase", help="campaign input: phase label (default: the only one)")
    p.add_argument(
        "--tilted", metavar="FILE", action="append", default=[], help="campaign input: tilt file (repeatable)"
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    import numpy as np

    from ..ddos.inputs import load_theta, parse_temperatures
    from ..ddos.model import DDOSModel

    T = parse_temperatures(args.T)
    if _file_format(args.model) == "thermograd-campaign":
        campaign_fn, name, T_range, n_features = _campaign_route(args, T)
    else:
        model = DDOSModel.load(args.model)
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
    else:
        res = campaign_fn(thetas)
    # The SNAP constant β_0 of each file is part of the model's energy (E = N β_0 + θ·Σ_i B_i): add it so
    # that F and E_0 are the model's total free and static energies per atom.
    beta0 = np.array([c.constant(el) for _, c, el in loaded])
    res.F = res.F + beta0[:, None]
    res.E0 = res.E0 + beta0
    n_oor = int(res.out_of_range.sum())
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
        print(f"# {name}: {res.reference}; E_0 includes the SNAP constant β_0 of each file")
        print(f"# method {res.method}; σ = √(σ_stat² + σ_model²); '*' = {edge_text}")
        print(f"# {'theta':<24} {'T/K':>8} {'F/eV':>14} {'F-E0/eV':>14} {'sigma/meV':>10} {'T_shell*/K':>11}")
        for i, f in enumerate(args.theta):
            for k, t in enumerate(T):
                mark = " *" if res.out_of_range[i, k] else ""
                print(
                    f"  {f[-24:]:<24} {t:8.1f} {res.F[i, k]:14.8f} {res.F_minus_E0[i, k]:14.8f} "
                    f"{1e3 * res.sigma[i, k]:10.4f} {res.T_star[i, k]:11.1f}{mark}"
                )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for i, f in enumerate(args.theta):
            y, s = res.F_minus_E0[i], res.sigma[i]
            ax.plot(T, y, label=f)
            ax.fill_between(T, y - s, y + s, alpha=0.3)
            bad = res.out_of_range[i]
            if bad.any():
                ax.plot(T[bad], y[bad], "x", color="k")
        ax.set_xlabel("T (K)")
        ax.set_ylabel("F − E$_0$ (eV/atom)")
        ax.set_title(f"D-DOS {name} (x: outside shell range)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        plt.close(fig)
    if n_oor:
        print(
            f"thermograd predict: warning: {n_oor} of {res.F.size} (model, T) results are flagged ({edge_text}, "
            f"sampled shells {T_range[0]:g}-{T_range[1]:g} K); treat those values as upper bounds",
            file=sys.stderr,
        )
        if args.strict:
            return 3
    return 0


def _file_format(path) -> str:
    """The ``format`` attribute of an HDF5 file ('' when unreadable or absent; the loaders then explain)."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return str(f.attrs.get("format", ""))
    except OSError:
        return ""


def _campaign_route(args, T):
    """High-temperature route on a campaign's raw samples: returns (θ → result, phase, T range, d)."""
    from types import SimpleNamespace

    from ..ddos.campaign import load_datasets
    from ..ddos.cumulant import CumulantEstimator
    from ..ddos.tilt_campaign import load_tilted
    from ..errors import InputError
    from ..harmonic import shell_temperature

    datasets = load_datasets(args.model, require_complete=True)
    names = sorted({d.name for d in datasets})
    phase = args.phase or (names[0] if len(names) == 1 else None)
    chosen = [d for d in datasets if d.name == phase]
    if not chosen:
        raise InputError(f"choose a phase with --phase (the campaign has {names})")
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
