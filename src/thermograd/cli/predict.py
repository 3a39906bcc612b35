"""Free energies F(θ, T) ± σ of one or more coefficient files from a D-DOS model.

F is the Helmholtz free energy per atom (NVT, sampled cell), classical and ħ-normalised, harmonic convention
'ddos'; F − E_0 is relative to the static lattice energy E_0 = θ·D_0. σ combines the propagated score-fit
error and a model-error term (two score orders). Rows whose optimum left the sampled shell range are marked
'*' (JSON: out_of_range) and are upper bounds; ``--strict`` turns them into exit code 3.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="model file written by 'thermograd fit'")
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


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    import numpy as np

    from ..ddos.inputs import load_theta, parse_temperatures
    from ..ddos.model import DDOSModel

    model = DDOSModel.load(args.model)
    T = parse_temperatures(args.T)
    loaded = [load_theta(f, model.n_features, args.element) for f in args.theta]
    thetas = np.stack([t for t, _, _ in loaded])
    # The SNAP constant β_0 of each file is part of the model's energy (E = N β_0 + θ·Σ_i B_i): add it so
    # that F and E_0 are the model's total free and static energies per atom.
    beta0 = np.array([c.constant(el) for _, c, el in loaded])
    res = model.predict(thetas, T, method=args.method, with_grad=False, with_model_error=True)
    res.F = res.F + beta0[:, None]
    res.E0 = res.E0 + beta0
    n_oor = int(res.out_of_range.sum())
    if args.json:
        out = {
            "model": args.model,
            "phase": model.name,
            "reference": res.reference,
            "method": res.method,
            "units": {"F": "eV/atom", "T": "K", "alpha_star": "ln(Å^2)"},
            "shell_range_K": [float(model.geometry.T_shells[0]), float(model.geometry.T_shells[-1])],
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
        print(f"# {model.name}: {res.reference}; E_0 includes the SNAP constant β_0 of each file")
        print(f"# method {res.method}; σ = √(σ_stat² + σ_model²); '*' = optimum on the shell-range edge")
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
        ax.set_title(f"D-DOS {model.name} (x: outside shell range)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        plt.close(fig)
    if n_oor:
        print(
            f"thermograd predict: warning: {n_oor} of {res.F.size} (model, T) optima lie on the edge of the "
            f"sampled shell range ({model.geometry.T_shells[0]:g}-{model.geometry.T_shells[-1]:g} K); those "
            "values are upper bounds",
            file=sys.stderr,
        )
        if args.strict:
            return 3
    return 0
