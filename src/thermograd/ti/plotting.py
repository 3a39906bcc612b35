"""Figures of TI runs (matplotlib, Agg backend): the λ-TI integrand ⟨∂U/∂λ⟩(λ) with error bars, and the
reversible-scaling F(T) curve with the λ-TI / Frenkel–Ladd points."""

from __future__ import annotations

from pathlib import Path

from ..outputs import save_figure


def plot_report(report, path: str | Path) -> Path:
    """Save a one- or two-panel figure of a :class:`~thermograd.ti.workflow.TIReport` to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [bool(report.lambda_ti), bool(report.reversible_scaling or report.frenkel_ladd)]
    n = max(1, sum(panels))
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4), squeeze=False)
    axes = list(axes[0])
    if report.lambda_ti:
        ax = axes.pop(0)
        for T, res in report.lambda_ti.items():
            lam = [p.lam for p in res.points]
            ax.errorbar(
                lam,
                [1e3 * p.mean for p in res.points],
                yerr=[1e3 * p.error for p in res.points],
                marker="o",
                capsize=3,
                label=f"{T:g} K: F_anh = {1e3 * res.F_anh:.2f} ± {1e3 * res.F_anh_error:.2f} meV/atom",
            )
        ax.set_xlabel("λ")
        ax.set_ylabel("⟨U − E₀ − U_h⟩_λ (meV/atom)")
        ax.set_xlim(0, 1)
        ax.legend(fontsize=8)
        ax.set_title("harmonic → model λ-TI")
    if axes:
        ax = axes.pop(0)
        rs = report.reversible_scaling
        if rs is not None:
            import numpy as np

            t, f, e = (np.asarray(a) for a in (rs.temperatures, rs.F, rs.error))
            ax.plot(t, f, color="k", label="reversible scaling")
            ax.fill_between(t, f - e, f + e, color="k", alpha=0.2)
        for T, r in report.frenkel_ladd.items():
            ax.errorbar([T], [r.F], yerr=[r.F_error], marker="s", color="C1", capsize=3)
        for T, r in report.lambda_ti.items():
            ax.errorbar([T], [r.F_cell], yerr=[r.F_error], marker="o", color="C0", capsize=3)
        ax.plot([], [], "s", color="C1", label="Frenkel–Ladd")
        ax.plot([], [], "o", color="C0", label="λ-TI")
        ax.set_xlabel("T (K)")
        ax.set_ylabel("F, cell convention (eV/atom)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=120)  # atomic (temporary file, then rename); closes the figure
    return path
