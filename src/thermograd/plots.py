"""Figures of the D-DOS commands (``predict --plot``, ``transition --plot``, ``tune --plot``).

Every figure shows a *small* quantity on a meV/atom scale, relative to a reference stated on the axis, so
that σ bands and differences between models are visible: the anharmonic free energy F_anh = F − E_0 − F_h
(``predict``) or the phase difference ΔF = F_B − F_A (``transition``, ``tune``). Shaded bands are ±1σ;
points whose value needed extrapolation beyond the sampled shells are marked with black crosses.

Each function returns a :class:`matplotlib.figure.Figure` (no pyplot, no global state); save it with
:func:`thermograd.outputs.save_figure`. matplotlib is imported lazily so that the CLI starts fast.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FLAG_LABEL", "free_energy_figure", "transition_figure", "tune_figure"]

MEV = 1e3  # eV → meV
FLAG_LABEL = "flagged: beyond the sampled shells (extrapolated)"


def _figure(n_axes: int = 1, width: float = 6.4):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, 4.2), layout="constrained")
    axes = fig.subplots(1, n_axes, squeeze=False)[0]
    return fig, axes


def _band(ax, T, y, s, label, color=None, flagged=None, flag_label=True):
    """Line y(T) (meV/atom) with a ±s band and crosses on flagged points; returns the line's colour."""
    (line,) = ax.plot(T, y, label=label, color=color, lw=1.6)
    c = line.get_color()
    ax.fill_between(T, y - s, y + s, color=c, alpha=0.25, lw=0, label=f"±1σ ({label})")
    if flagged is not None and np.any(flagged):
        ax.plot(
            T[flagged], y[flagged], "x", color="k", ms=7, mew=1.5, label=FLAG_LABEL if flag_label else None
        )
    return c


def free_energy_figure(T, F_anh, sigma, labels, flagged=None, *, title: str = "", reference: str = ""):
    """F_anh(T) = F − E_0 − F_h of one or more coefficient files, meV/atom, with ±1σ bands (F_h: harmonic
    free energy of the reference modes, so F_anh also holds the model's harmonic difference to the reference).

    Args:
        T: temperatures, shape (n_T,), K.
        F_anh: anharmonic free energies, shape (n_files, n_T), eV/atom.
        sigma: their 1σ, same shape, eV/atom.
        labels: one label per file (full file names).
        flagged: bool, same shape: values that needed extrapolation (marked ×).
        title: figure title. reference: what F_anh is relative to (stated under the title).
    """
    T = np.asarray(T, dtype=float)
    F_anh, sigma = np.atleast_2d(F_anh) * MEV, np.atleast_2d(sigma) * MEV
    flagged = np.zeros(F_anh.shape, bool) if flagged is None else np.atleast_2d(flagged)
    fig, (ax,) = _figure()
    for i, label in enumerate(labels):
        _band(ax, T, F_anh[i], sigma[i], label, flagged=flagged[i], flag_label=i == 0 or not flagged[0].any())
    ax.axhline(0.0, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("T (K)")
    ax.set_ylabel("F$_{anh}$ = F − E$_0$ − F$_h^{ref}$ (meV/atom)")
    ax.set_title(title + (f"\n{reference}" if reference else ""), fontsize=9)
    ax.legend(fontsize=7)
    return fig


def transition_figure(T, dF, sigma, flagged, Tc, Tc_error, *, phases=("A", "B"), title: str = ""):
    """ΔF(T) = F_B − F_A (meV/atom) with its ±1σ band, the crossing T_c and its ±1σ band.

    Args:
        T, dF, sigma, flagged: grid (K), ΔF and its σ (eV/atom), extrapolation flags, shape (n_T,).
        Tc, Tc_error: crossing temperature and its 1σ, K (NaN: no crossing; nothing drawn).
        phases: (A, B) labels.
    """
    T = np.asarray(T, dtype=float)
    fig, (ax,) = _figure()
    _draw_transition(ax, T, dF, sigma, flagged, Tc, Tc_error, f"ΔF = F[{phases[1]}] − F[{phases[0]}]")
    ax.set_xlabel("T (K)")
    ax.set_ylabel(f"F[{phases[1]}] − F[{phases[0]}] (meV/atom)")
    ax.set_title(
        title or f"{phases[0]} → {phases[1]}: ΔF(T), each F with its own E$_0$ = θ·D$_0$", fontsize=9
    )
    ax.legend(fontsize=7)
    return fig


def _draw_transition(ax, T, dF, sigma, flagged, Tc, Tc_error, label, color=None, flag_label=True):
    c = _band(
        ax,
        T,
        np.asarray(dF) * MEV,
        np.asarray(sigma) * MEV,
        label,
        color,
        np.asarray(flagged, bool),
        flag_label,
    )
    ax.axhline(0.0, color="0.5", lw=0.8, ls=":")
    if np.isfinite(Tc):
        ax.axvline(Tc, color=c, lw=1.0, ls="--", label=f"T$_c$ = {Tc:.0f} ± {Tc_error:.0f} K")
        if np.isfinite(Tc_error) and Tc_error > 0:
            ax.axvspan(Tc - Tc_error, Tc + Tc_error, color=c, alpha=0.15, lw=0)
    return c


def tune_figure(loss_history, before, after, target_Tc: float, *, phases=("A", "B"), title: str = ""):
    """Two panels: the loss per Gauss–Newton step (log scale) and ΔF(T) before and after tuning.

    Args:
        loss_history: loss per step, eV²/atom².
        before, after: objects with ``T, dF, sigma_dF, flagged, Tc, Tc_error`` (e.g.
            :class:`~thermograd.thermo.transition.TransitionResult`) of θ_0 and of the tuned θ.
        target_Tc: target crossing temperature, K.
    """
    fig, (ax_loss, ax) = _figure(2, width=10.0)
    loss = np.asarray(loss_history, dtype=float)
    steps = np.arange(loss.size)
    ax_loss.semilogy(steps, np.maximum(loss, 1e-300), "o-", label="loss ½ΔF(T$_{target}$)² + ridge")
    from matplotlib.ticker import MaxNLocator

    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (eV²/atom²)")
    ax_loss.set_title("loss history", fontsize=9)
    ax_loss.legend(fontsize=7)
    for res, label, color in ((before, "before", "C0"), (after, "after", "C1")):
        _draw_transition(
            ax,
            np.asarray(res.T),
            res.dF,
            res.sigma_dF,
            res.flagged,
            res.Tc,
            res.Tc_error,
            f"ΔF {label}",
            color,
            flag_label=label == "before" or not np.any(before.flagged),
        )
    ax.axvline(target_Tc, color="k", lw=1.0, label=f"target T$_c$ = {target_Tc:g} K")
    ax.set_xlabel("T (K)")
    ax.set_ylabel(f"F[{phases[1]}] − F[{phases[0]}] (meV/atom)")
    ax.set_title(title or "ΔF(T) before and after tuning (each F with its own E$_0$)", fontsize=9)
    ax.legend(fontsize=7)
    return fig
