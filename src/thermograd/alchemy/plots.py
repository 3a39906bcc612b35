"""Figures of ``thermograd alchemy free-energy``: the work profile along the switch, the free energy against
T and its convergence with the switching time, drawn from the command's result dictionary (its JSON).

:func:`series` names the headline value(s) of one result of each kind (value, error, unit); the CLI's tables
and the figure share it.
"""

from __future__ import annotations

import math
from pathlib import Path

#: the headline values of each kind: (label, value key, error key, unit)
SERIES = {
    "vacancy": (
        ("G_v alchemical", "G_v_alchemical", "G_v_alchemical_error", "eV"),
        ("G_v conventional", "G_v_conventional", "G_v_conventional_error", "eV"),
        ("G_v harmonic", "G_v_harmonic", None, "eV"),
    ),
    "substitution": (("ΔG", "delta_G", "delta_G_error", "eV/atom"),),
    "cycle": (("cycle closure", "closure", "closure_error", "meV/atom"),),
    "frenkel-ladd": (("F", "F", "F_error", "eV/atom"),),
}


#: axis name of each kind's values
AXIS = {
    "vacancy": "G_v",
    "substitution": "ΔG",
    "cycle": "cycle closure",
    "frenkel-ladd": "F (G at a pressure)",
}


def series(kind: str, result: dict) -> list[tuple[str, float, float, str]]:
    """(label, value, error, unit) of the headline values of one result dictionary (``to_dict``); a route
    that was not run (None) is left out. Frenkel–Ladd at a pressure reports G (its error is F's); the
    harmonic reference has no sampling error (0)."""
    out = []
    for label, key, err, unit in SERIES[kind]:
        value = result.get(key)
        if kind == "frenkel-ladd" and result.get("G") is not None:
            label, value = "G", result["G"]
        if value is not None:
            out.append((label, float(value), 0.0 if err is None else float(result[err]), unit))
    return out


def _profiles(kind: str, result: dict) -> list[tuple[str, dict]]:
    if kind in ("vacancy", "substitution"):
        return [("", result["switch"]["profile"])]
    if kind == "cycle":
        return [(f"{name}: ", sub["switch"]["profile"]) for name, sub in result["substitution"].items()]
    return [("Frenkel–Ladd ", result["profile"])] if result.get("profile") else []


def plot_free_energy(data: dict, path: str | Path) -> None:
    """One figure: the mean ∂U/∂s forward and backward along the switch (every temperature; for
    Frenkel–Ladd the model → Einstein switch, ∂U/∂λ = U_E − U), the headline values with their
    errors against T when several temperatures were run, and against the switching time with
    ``n_switch_scan``. Saved atomically (:func:`thermograd.outputs.save_figure`).

    Args:
        data: the result dictionary of ``thermograd alchemy free-energy --json``.
        path: .png, .pdf or .svg.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..outputs import save_figure

    kind = data["kind"]
    results = data["results"]
    scan = data.get("scan") or []
    panels = ["profile"] + (["T"] if len(results) > 1 else []) + (["scan"] if scan else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False)
    axes = dict(zip(panels, axes[0]))

    ax = axes["profile"]
    for res in results:
        for name, prof in _profiles(kind, res):
            line = ax.plot(prof["lam"], prof["forward"], label=f"{name}{res['T']:g} K forward")[0]
            ax.plot(
                prof["lam"],
                prof["backward"],
                "--",
                color=line.get_color(),
                label=f"{name}{res['T']:g} K backward",
            )
    ax.axhline(0.0, color="0.7", lw=0.8)
    ax.set_xlabel("switching variable s")
    ax.set_ylabel("⟨∂U/∂s⟩ (eV/cell)")
    ax.set_title("work along the switch")
    ax.legend(fontsize=7)

    if "T" in axes:
        ax = axes["T"]
        labels = [s[0] for s in series(kind, results[0])]
        for i, label in enumerate(labels):
            pts = [(r["T"], *series(kind, r)[i][1:3]) for r in results if len(series(kind, r)) > i]
            ax.errorbar(
                [p[0] for p in pts],
                [p[1] for p in pts],
                yerr=[p[2] for p in pts],
                marker="o",
                capsize=3,
                label=label,
            )
        ax.set_xlabel("T (K)")
        ax.set_ylabel(f"{AXIS[kind]} ({series(kind, results[0])[0][3]})")
        ax.set_title("free energy against temperature")
        ax.legend(fontsize=7)

    if "scan" in axes:
        ax = axes["scan"]
        temps = sorted({e["T"] for e in scan})
        for T in temps:
            entries = sorted((e for e in scan if e["T"] == T), key=lambda e: e["switching_time"])
            n_series = len(series(kind, entries[0]["result"]))
            for i in range(n_series):
                pts = [(e["switching_time"], *series(kind, e["result"])[i][1:3]) for e in entries]
                label = f"{series(kind, entries[0]['result'])[i][0]}, {T:g} K"
                ax.errorbar(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    yerr=[p[2] for p in pts],
                    marker="o",
                    capsize=3,
                    label=label,
                )
        ax.set_xscale("log" if _spread(scan) else "linear")
        ax.set_xlabel("switching time per leg (ps)")
        ax.set_ylabel(f"{AXIS[kind]} ({series(kind, scan[0]['result'])[0][3]})")
        ax.set_title("convergence with switching time")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)


def _spread(scan: list[dict]) -> bool:
    """A log axis when the switching times span more than a factor 10."""
    t = [e["switching_time"] for e in scan]
    return min(t) > 0 and math.log10(max(t) / min(t)) > 1
