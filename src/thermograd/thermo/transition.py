"""Phase free-energy differences and transition temperatures from two D-DOS estimators.

ΔF(θ, T) = F_b(θ, T) − F_a(θ, T), each F including its own static lattice energy E_0 = θ·D_0 (NVT, each
phase at its sampled cell). The transition temperature T_c is the root of ΔF(T) (phase a stable below T_c when
ΔF > 0 there); its error is σ_ΔF(T_c)/|dΔF/dT| with σ_ΔF² = σ_a² + σ_b² (independent campaigns).
The phases are any :class:`~thermograd.free_energy.FreeEnergyEstimator` (a score model, a
campaign's cumulant route with or without tilted shells, ...); the route that served each value is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..free_energy import Coefficients, as_coefficients


@dataclass
class TransitionResult:
    """Result of :func:`transition_temperature` (energies in eV/atom, temperatures in K).

    Attributes:
        Tc: first crossing temperature (root of ΔF), or NaN when ΔF does not change sign on the grid.
        Tc_error: 1σ error of Tc from σ_ΔF and the slope (total σ, incl. model-error term).
        Tc_error_stat: the same from the statistical σ only.
        crossings: all crossing temperatures found on the grid.
        slope: dΔF/dT at Tc, eV/atom/K (= −ΔS).
        T, dF, sigma_dF: the grid, ΔF = F_b − F_a and its σ, shape (n_T,).
        dE0: E_0^b − E_0^a = θ·(D_0^b − D_0^a).
        flagged: per T, True when either phase's value is flagged (see ``reasons``).
        flagged_at_Tc: whether Tc was obtained from flagged free energies.
        phases: the two phase labels. routes: per phase, the route that served each T.
        reasons: per T, why it is flagged ('' when it is not). convention: harmonic convention of ΔF.
        warnings: human-readable warnings.
    """

    Tc: float
    Tc_error: float
    Tc_error_stat: float
    crossings: list[float]
    slope: float
    T: np.ndarray
    dF: np.ndarray
    sigma_dF: np.ndarray
    dE0: float
    flagged: np.ndarray
    flagged_at_Tc: bool
    phases: tuple[str, str] = ("a", "b")
    routes: tuple[list[str], list[str]] = ([], [])
    reasons: list[str] = field(default_factory=list)
    convention: str = "ddos"
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready summary."""
        f = lambda x: None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)  # noqa: E731
        return {
            "Tc": f(self.Tc),
            "Tc_error": f(self.Tc_error),
            "Tc_error_stat": f(self.Tc_error_stat),
            "crossings": [float(c) for c in self.crossings],
            "slope_eV_per_K": f(self.slope),
            "dE0": float(self.dE0),
            "phases": list(self.phases),
            "convention": f"dF = F_b - F_a (eV/atom), each with its own E_0 = theta.D_0; NVT, sampled cells; "
            f"harmonic convention {self.convention!r}",
            "flagged_at_Tc": bool(self.flagged_at_Tc),
            "T": self.T.tolist(),
            "dF": self.dF.tolist(),
            "sigma_dF": self.sigma_dF.tolist(),
            "flagged": self.flagged.tolist(),
            "flag_reason": list(self.reasons),
            "route": {self.phases[0]: list(self.routes[0]), self.phases[1]: list(self.routes[1])},
            "warnings": list(self.warnings),
            "units": {"T": "K"},
        }


def _one_model(coefficients, n_features: int) -> Coefficients:
    c = as_coefficients(coefficients, n_features)
    if len(c) != 1:
        raise InputError("transition_temperature takes one coefficient vector θ of shape (d,)")
    return c


def _delta(est_a, est_b, coeffs, T, convention: str, with_sigma: bool = True):
    """ΔF, σ, σ_stat, flags, ΔE_0, the two results (each (n_T,) arrays for the single model)."""
    ra = est_a.predict(coeffs, T, convention=convention, with_grad=False, with_sigma=with_sigma)
    rb = est_b.predict(coeffs, T, convention=convention, with_grad=False, with_sigma=with_sigma)
    dF = rb.F[0] - ra.F[0]
    sig = np.hypot(ra.sigma[0], rb.sigma[0])
    sig_stat = np.hypot(ra.sigma_stat[0], rb.sigma_stat[0])
    flagged = ra.flagged[0] | rb.flagged[0]
    return dF, sig, sig_stat, flagged, float(rb.E0[0] - ra.E0[0]), ra, rb


def _reasons(ra, rb) -> list[str]:
    out = []
    for k in range(ra.T.size):
        why = [f"{r.phase}: {r.reason(0, k)}" for r in (ra, rb) if r.flagged[0, k]]
        out.append("; ".join(why))
    return out


def find_crossings(T: np.ndarray, values: np.ndarray, value_at, refine: bool = True) -> list[float]:
    """Temperatures where ``values`` (on the grid ``T``) change sign, each bracketed root refined by regula
    falsi on ``value_at(T) -> float`` (40 steps at most, to 1e-6 K or |value| < 1e-12; a non-finite value stops
    the refinement) or, with ``refine=False``, linearly interpolated."""
    crossings = []
    for k in np.where(np.sign(values[:-1]) * np.sign(values[1:]) <= 0)[0]:
        if values[k] == 0 and k > 0 and values[k - 1] == 0:
            continue
        lo, hi, flo, fhi = T[k], T[k + 1], values[k], values[k + 1]
        tc = lo if fhi == flo else lo - flo * (hi - lo) / (fhi - flo)
        for _ in range(40 if refine and flo != fhi else 0):
            f = value_at(tc)
            if not np.isfinite(f) or abs(f) < 1e-12 or hi - lo < 1e-6:
                break
            lo, flo, hi, fhi = (tc, f, hi, fhi) if np.sign(f) == np.sign(flo) else (lo, flo, tc, f)
            tc = lo - flo * (hi - lo) / (fhi - flo)
        crossings.append(float(tc))
    return crossings


def transition_temperature(
    est_a, est_b, coefficients, T, refine: bool = True, convention: str = "ddos"
) -> TransitionResult:
    """Crossing temperature of two phases for one coefficient vector.

    Args:
        est_a, est_b: the two phases, each a
            :class:`~thermograd.free_energy.FreeEnergyEstimator` (same descriptor).
        coefficients: :class:`~thermograd.free_energy.Coefficients` of one model, or θ (d,).
        T: temperature grid, shape (n_T ≥ 2,), K, increasing.
        refine: refine the bracketed root by regula falsi on the estimators (else linear interpolation).
        convention: harmonic convention of ΔF ("ddos" or "cell").

    Returns:
        :class:`TransitionResult`.
    """
    if est_a.n_features != est_b.n_features:
        raise InputError(f"phases have different descriptor lengths ({est_a.n_features}, {est_b.n_features})")
    coeffs = _one_model(coefficients, est_a.n_features)
    T = np.asarray(T, dtype=float).reshape(-1)
    if T.size < 2 or np.any(np.diff(T) <= 0):
        raise InputError("the temperature grid must be increasing with at least 2 points")
    dF, sig, _sig_stat, flagged, dE0, ra, rb = _delta(est_a, est_b, coeffs, T, convention)
    phases = (est_a.name, est_b.name)
    routes = ([ra.route(0, k) for k in range(T.size)], [rb.route(0, k) for k in range(T.size)])
    common = dict(phases=phases, routes=routes, reasons=_reasons(ra, rb), convention=convention)
    crossings = find_crossings(
        T, dF, lambda t: _delta(est_a, est_b, coeffs, [t], convention, with_sigma=False)[0][0], refine
    )
    warnings: list[str] = []
    if not crossings:
        warnings.append(
            f"ΔF does not change sign between {T[0]:g} and {T[-1]:g} K: no transition on this grid"
        )
        return TransitionResult(
            math.nan,
            math.nan,
            math.nan,
            [],
            math.nan,
            T,
            dF,
            sig,
            dE0,
            flagged,
            False,
            warnings=warnings,
            **common,
        )
    tc = crossings[0]
    h = max(1e-3 * tc, 0.5)
    d2, s2, ss2, o2, _, ra2, rb2 = _delta(est_a, est_b, coeffs, [tc - h, tc, tc + h], convention)
    slope = float((d2[2] - d2[0]) / (2 * h))
    err = float(s2[1] / abs(slope)) if slope != 0 else math.inf
    err_stat = float(ss2[1] / abs(slope)) if slope != 0 else math.inf
    flagged_tc = bool(o2.any())
    if flagged_tc:
        why = "; ".join(sorted({r for r in _reasons(ra2, rb2) if r}))
        warnings.append(
            f"at Tc = {tc:.1f} K the free energies are flagged ({why}): confirm with wider shells"
        )
    if len(crossings) > 1:
        warnings.append(
            f"ΔF changes sign {len(crossings)} times: {', '.join(f'{c:.1f}' for c in crossings)} K"
        )
    return TransitionResult(
        tc, err, err_stat, crossings, slope, T, dF, sig, dE0, flagged, flagged_tc, warnings=warnings, **common
    )
