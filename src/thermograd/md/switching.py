"""Nonequilibrium switching: the Freitas switching function and work estimators.

Protocol of Freitas, Asta, de Koning, Comput. Mater. Sci. 112, 333 (2016): equilibrate at λ = 0, switch
0 → 1 in t_s with λ(τ) = τ⁵(70τ⁴ − 315τ³ + 540τ² − 420τ + 126) (zero first to fourth derivatives at the
ends), equilibrate at λ = 1, switch back. Along each leg W = ∫ ∂U/∂λ dλ. For linear response the
dissipated work is equal in both directions, so ΔF(0→1) = (W_f − W_b)/2 with W_b the work of the
backward leg (integrated from 1 to 0), and the dissipation Q = (W_f + W_b)/2 ≥ 0. The second law requires
W_f ≥ ΔF ≥ −W_b in every run (up to statistical noise of a single realisation, which only concerns ΔF
estimated from the same runs; for an exactly known ΔF it is strict in expectation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


def freitas_lambda(t: np.ndarray | float) -> np.ndarray:
    """Switching function λ(τ) = τ⁵(70τ⁴ − 315τ³ + 540τ² − 420τ + 126), τ ∈ [0, 1] (clipped)."""
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    return t**5 * (70 * t**4 - 315 * t**3 + 540 * t**2 - 420 * t + 126)


def freitas_schedule(n_steps: int) -> np.ndarray:
    """λ at the n_steps + 1 time points of a forward switch, shape (n_steps + 1,), from 0 to 1."""
    if n_steps < 1:
        raise InputError(f"a switch needs at least one step, got {n_steps}")
    return freitas_lambda(np.linspace(0.0, 1.0, int(n_steps) + 1))


def switching_work(lam: np.ndarray, dU_dlam: np.ndarray) -> float:
    """Work W = ∫ ∂U/∂λ dλ along one leg (trapezoid rule in λ, in the leg's own direction).

    Args:
        lam: λ at each recorded step, shape (n,).
        dU_dlam: ∂U/∂λ at the same steps, shape (n,), eV (whole cell or per atom).

    Returns:
        The work in the unit of ``dU_dlam``; a backward leg (λ decreasing) gives W_b directly.
    """
    lam, du = np.asarray(lam, dtype=float), np.asarray(dU_dlam, dtype=float)
    if lam.shape != du.shape or lam.ndim != 1 or lam.size < 2:
        raise InputError(f"lam and dU_dlam must be 1-D of equal length >= 2, got {lam.shape}, {du.shape}")
    return float(np.sum(0.5 * (du[1:] + du[:-1]) * np.diff(lam)))


@dataclass(frozen=True)
class SwitchingEstimate:
    """ΔF(0 → 1) from repeated forward/backward switching pairs.

    Attributes:
        delta_F: mean of (W_f − W_b)/2 over the pairs, eV (same normalisation as the works).
        error: standard error of ``delta_F`` over the pairs (NaN for a single pair), eV.
        dissipation: mean of (W_f + W_b)/2, eV (≥ 0 up to noise).
        dissipation_error: its standard error, eV.
        w_forward: forward works, shape (n_pairs,), eV.
        w_backward: backward works, shape (n_pairs,), eV.
    """

    delta_F: float
    error: float
    dissipation: float
    dissipation_error: float
    w_forward: np.ndarray
    w_backward: np.ndarray

    @property
    def n_pairs(self) -> int:
        return int(self.w_forward.size)

    def bounds_hold(self, tolerance: float = 0.0) -> bool:
        """Whether W_f ≥ ΔF ≥ −W_b (within ``tolerance``, eV) holds for every pair."""
        return bool(
            np.all(self.w_forward >= self.delta_F - tolerance)
            and np.all(-self.w_backward <= self.delta_F + tolerance)
        )


def combine_switches(w_forward: np.ndarray, w_backward: np.ndarray) -> SwitchingEstimate:
    """Combine independent forward/backward pairs into ΔF = ⟨(W_f − W_b)/2⟩ ± SEM.

    Args:
        w_forward: works of the forward legs (0 → 1), shape (n_pairs,), eV.
        w_backward: works of the backward legs (1 → 0), shape (n_pairs,), eV.
    """
    wf, wb = (
        np.atleast_1d(np.asarray(w_forward, dtype=float)),
        np.atleast_1d(np.asarray(w_backward, dtype=float)),
    )
    if wf.shape != wb.shape or wf.ndim != 1 or wf.size < 1:
        raise InputError(
            f"forward and backward works must be 1-D of equal length, got {wf.shape}, {wb.shape}"
        )
    df = 0.5 * (wf - wb)
    q = 0.5 * (wf + wb)
    n = df.size

    def sem(x: np.ndarray) -> float:
        return float(np.std(x, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")

    return SwitchingEstimate(float(df.mean()), sem(df), float(q.mean()), sem(q), wf, wb)
