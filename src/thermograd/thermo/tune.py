"""Inverse design: move a transition temperature by gradient steps on θ (no new sampling).

Loss L(θ) = ½ ΔF(θ, T_target)² + (r/2)|θ − θ_0|², ΔF = F_b − F_a (eV/atom), minimised over θ restricted to
an affine subspace that keeps chosen linear quantities fixed: ``"0K-difference"`` holds θ·(D_0^b − D_0^a) and
``"lattice-energy"`` holds θ·D_0^a. Each step linearises ΔF with its exact autograd gradient
∂ΔF/∂θ = D*_b − D*_a (docs/science-ddos.md §8) and solves the projected, ridge-regularised quadratic model in
closed form (Gauss–Newton); a small r gives the minimum-|Δθ| change that places the crossing at T_target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..free_energy import Coefficients
from .transition import TransitionResult, transition_temperature

KEEP_OPTIONS = ("0K-difference", "lattice-energy")
#: a tuned crossing further than this from the target (K) is not converged
TC_TOLERANCE = 1.0


def served_range(est_a, est_b, coefficients, T, convention: str = "ddos") -> tuple[np.ndarray, np.ndarray]:
    """Where two phases serve ΔF(θ, T) unflagged: per T, True when neither phase's value is flagged.
    Returns ``(T, served)``, both of shape (n_T,)."""
    T = np.asarray(T, dtype=float).reshape(-1)
    flags = np.zeros(T.shape, dtype=bool)
    for e in (est_a, est_b):
        flags |= e.predict(coefficients, T, convention=convention, with_sigma=False, with_grad=False).flagged[
            0
        ]
    return T, ~flags


def check_target(est_a, est_b, coefficients, target_Tc: float, T_grid) -> None:
    """Refuse (before any tuning) a target T_c the two phases cannot serve for θ_0 without a flagged value.

    Raises:
        InputError: the target is outside the T grid, or at the target the value of a phase is flagged (e.g.
            its optimum sits on the edge of its sampled shells); the message gives the served range.
    """
    T_grid = np.asarray(T_grid, dtype=float)
    inside = bool(T_grid[0] <= target_Tc <= T_grid[-1])
    T, ok = served_range(
        est_a, est_b, coefficients, np.unique(np.r_[T_grid, target_Tc]) if inside else T_grid
    )
    if inside and ok[np.searchsorted(T, target_Tc)]:
        return
    shells = ", ".join(f"{e.name} {e.shell_range[0]:g}-{e.shell_range[1]:g} K" for e in (est_a, est_b))
    served = f"{T[ok].min():g}-{T[ok].max():g} K" if ok.any() else "nowhere on the grid"
    why = (
        f"is outside the temperature grid {T_grid[0]:g}-{T_grid[-1]:g} K"
        if not inside
        else f"needs free energies beyond the sampled shells ({shells})"
    )
    raise InputError(f"target T_c = {target_Tc:g} K {why}; with the starting θ the models serve {served}")


@dataclass
class TuneResult:
    """Result of :func:`tune_transition`.

    Attributes:
        theta: tuned coefficients, shape (d,). theta_initial: starting coefficients, shape (d,).
        Tc_initial, Tc: crossing temperatures before/after, K. relative_change: |Δθ|/|θ_0|.
        dE0_change: change of the 0 K difference θ·ΔD_0, eV/atom. loss_history: L per step.
        dF_history: ΔF(T_target) per step, eV/atom. transition: the final :class:`TransitionResult`.
        transition_initial: the :class:`TransitionResult` of θ_0 on the same grid.
        converged: |ΔF(T_target)| < max(tol, 1e-6) eV/atom and the first crossing within
            :data:`TC_TOLERANCE` K of the target. reason: why not, when not converged ("" otherwise).
    """

    theta: np.ndarray
    theta_initial: np.ndarray
    Tc_initial: float
    Tc: float
    target_Tc: float
    relative_change: float
    dE0_change: float
    loss_history: list[float]
    dF_history: list[float]
    transition: TransitionResult
    keep: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    transition_initial: TransitionResult | None = None
    converged: bool = True
    reason: str = ""

    def to_dict(self) -> dict:
        return {
            "converged": self.converged,
            "reason": self.reason,
            "Tc_initial": self.Tc_initial,
            "Tc": self.Tc,
            "target_Tc": self.target_Tc,
            "Tc_error": self.transition.Tc_error,
            "relative_change": self.relative_change,
            "dE0_change": self.dE0_change,
            "keep": list(self.keep),
            "loss_history": self.loss_history,
            "dF_history": self.dF_history,
            "n_steps": len(self.loss_history) - 1,
            "flagged_at_Tc": self.transition.flagged_at_Tc,
            "convention": self.transition.convention,
            "warnings": self.warnings,
            "units": {"Tc": "K", "dE0_change": "eV/atom", "loss": "eV^2/atom^2"},
        }


def _projector(directions: list[np.ndarray], d: int) -> np.ndarray:
    if not directions:
        return np.eye(d)
    q, _ = np.linalg.qr(np.stack(directions, axis=1))
    return np.eye(d) - q @ q.T


def tune_transition(
    est_a,
    est_b,
    coefficients,
    target_Tc: float,
    keep: tuple[str, ...] = ("0K-difference",),
    ridge: float = 1e-8,
    max_steps: int = 20,
    tol: float = 1e-9,
    T_grid=None,
    convention: str = "ddos",
) -> TuneResult:
    """Change θ so that the a→b crossing moves to ``target_Tc``.

    Args:
        est_a, est_b: the two phases, each a :class:`~thermograd.free_energy.FreeEnergyEstimator`.
        coefficients: starting coefficients θ_0: :class:`~thermograd.free_energy.Coefficients` of
            one model, or θ of shape (d,).
        target_Tc: target crossing temperature, K (> 0).
        keep: linear quantities to hold fixed: any of "0K-difference", "lattice-energy".
        ridge: r of the ridge toward θ_0 relative to |∂ΔF/∂θ|² (small: minimum-norm change).
        max_steps: maximum Gauss–Newton steps.
        tol: stop when |ΔF(T_target)| < tol (eV/atom).
        T_grid: temperatures for locating Tc before/after (default 81 points over 500–2500 K and the target).
        convention: harmonic convention of ΔF.

    Returns:
        :class:`TuneResult`.
    """
    if not target_Tc > 0:
        raise InputError(f"target Tc must be > 0 K, got {target_Tc!r}")
    bad = [k for k in keep if k not in KEEP_OPTIONS]
    if bad:
        raise InputError(f"unknown constraint(s) {bad}; use any of {KEEP_OPTIONS}")
    d = est_a.n_features
    if isinstance(coefficients, Coefficients):
        start = coefficients
    else:
        theta = np.asarray(coefficients, dtype=float)
        if theta.shape != (d,):
            raise InputError(f"θ must have shape ({d},), got {theta.shape}")
        start = Coefficients.of(theta)
    if len(start) != 1 or start.n_features != d:
        raise InputError(f"tune_transition takes one coefficient vector of length {d}")
    theta0 = start.theta[0].copy()
    dD0 = np.asarray(est_b.D_0, dtype=float) - np.asarray(est_a.D_0, dtype=float)
    dirs = []
    if "0K-difference" in keep:
        dirs.append(dD0)
    if "lattice-energy" in keep:
        dirs.append(np.asarray(est_a.D_0, dtype=float))
    P = _projector(dirs, d)
    if T_grid is None:
        T_grid = np.unique(np.r_[np.linspace(500.0, 2500.0, 81), target_Tc])
    initial = transition_temperature(est_a, est_b, start, T_grid, convention=convention)
    Tt = np.array([float(target_Tc)])

    def delta_and_grad(th: np.ndarray):
        c = start.with_theta(th)
        ra = est_a.predict(c, Tt, convention=convention, with_grad=True, with_sigma=False)
        rb = est_b.predict(c, Tt, convention=convention, with_grad=True, with_sigma=False)
        return float(rb.F[0, 0] - ra.F[0, 0]), rb.dF_dtheta[0, 0] - ra.dF_dtheta[0, 0]

    def loss_of(f: float, th: np.ndarray, r: float) -> float:
        e = th - theta0
        return 0.5 * f * f + 0.5 * r * float(e @ e)

    th = theta0.copy()
    f, g = delta_and_grad(th)
    u0 = P @ g
    r = ridge * float(u0 @ u0)  # ridge scaled to the squared projected gradient at θ_0
    losses, dFs = [loss_of(f, th, r)], [f]
    for _ in range(max_steps):
        if abs(f) < tol:
            break
        e = th - theta0
        u = P @ g
        uu = float(u @ u)
        if uu == 0.0:
            break
        # Gauss–Newton: argmin_δ∈range(P) ½(f + u·δ)² + (r/2)|e + δ|² in closed form, then backtracking on L
        step = P @ (-e - u * (f - float(u @ e)) / (r + uu))
        # ΔF is continuous but only piecewise smooth in θ (the optimum α* can jump between shells), so the
        # step length is found by a bracketing root search along the Gauss–Newton direction.
        lam, f_c = 1.0, None
        for _ in range(6):
            cand = th + lam * step
            f_c, g_c = delta_and_grad(cand)
            if np.sign(f_c) != np.sign(f) or abs(f_c) < tol:
                break
            lam *= 2.0
        if np.sign(f_c) != np.sign(f) and abs(f_c) >= tol:
            lo, hi, f_lo, f_hi = 0.0, lam, f, f_c
            for _ in range(60):  # Illinois regula falsi on λ
                mid = hi - f_hi * (hi - lo) / (f_hi - f_lo)
                cand = th + mid * step
                f_c, g_c = delta_and_grad(cand)
                if abs(f_c) < tol:
                    break
                if np.sign(f_c) == np.sign(f_hi):
                    hi, f_hi = mid, f_c
                    f_lo *= 0.5
                else:
                    lo, f_lo = mid, f_c
                    f_hi *= 0.5
        elif abs(f_c) >= abs(f):
            break  # no progress along the direction: stop at the current θ
        th, f, g = cand, f_c, g_c
        losses.append(loss_of(f, th, r))
        dFs.append(f)
    final = transition_temperature(est_a, est_b, start.with_theta(th), T_grid, convention=convention)
    warnings = list(final.warnings)
    reason = ""
    if abs(dFs[-1]) >= max(tol, 1e-6):
        reason = (
            f"ΔF(T_target) = {dFs[-1]:.3g} eV/atom after {len(dFs) - 1} of at most {max_steps} steps "
            f"(tolerance {max(tol, 1e-6):.0e} eV/atom)"
        )
    elif not np.isfinite(final.Tc):
        reason = "ΔF vanishes at the target but no crossing was found on the temperature grid"
    elif abs(final.Tc - target_Tc) > TC_TOLERANCE:
        reason = (
            f"ΔF vanishes at the target but the first crossing on the grid is at {final.Tc:.1f} K "
            f"(crossings {', '.join(f'{c:.1f}' for c in final.crossings)} K)"
        )
    if reason:
        warnings.append(f"not converged: {reason}")
    return TuneResult(
        theta=th,
        theta_initial=theta0,
        Tc_initial=initial.Tc,
        Tc=final.Tc,
        target_Tc=float(target_Tc),
        relative_change=float(np.linalg.norm(th - theta0) / np.linalg.norm(theta0)),
        dE0_change=float((th - theta0) @ dD0),
        loss_history=losses,
        dF_history=dFs,
        transition=final,
        keep=tuple(keep),
        warnings=warnings,
        transition_initial=initial,
        converged=not reason,
        reason=reason,
    )
