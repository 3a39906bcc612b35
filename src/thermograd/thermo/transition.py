"""Phase free-energy differences and transition temperatures from two D-DOS models.

ΔF(θ, T) = F_b(θ, T) − F_a(θ, T), each F including its own static lattice energy E_0 = θ·D_0 (NVT, each
phase at its sampled cell). The transition temperature T_c is the root of ΔF(T) (phase a stable below T_c when
ΔF > 0 there); its error is σ_ΔF(T_c)/|dΔF/dT| with σ_ΔF² = σ_a² + σ_b² (independent campaigns).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError


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
        out_of_range: per T, True when either phase's optimum left its sampled shell range.
        out_of_range_at_Tc: whether Tc was obtained from flagged (shell-range-limited) free energies.
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
    out_of_range: np.ndarray
    out_of_range_at_Tc: bool
    phases: tuple[str, str] = ("a", "b")
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
            "convention": "dF = F_b - F_a (eV/atom), each with its own E_0 = theta.D_0; NVT, sampled cells",
            "out_of_range_at_Tc": bool(self.out_of_range_at_Tc),
            "T": self.T.tolist(),
            "dF": self.dF.tolist(),
            "sigma_dF": self.sigma_dF.tolist(),
            "out_of_range": self.out_of_range.tolist(),
            "warnings": list(self.warnings),
            "units": {"T": "K"},
        }


def _delta(model_a, model_b, theta, T, method, with_model_error=True):
    ra = model_a.predict(theta, T, method=method, with_grad=False, with_model_error=with_model_error)
    rb = model_b.predict(theta, T, method=method, with_grad=False, with_model_error=with_model_error)
    dF = rb.F[0] - ra.F[0]
    sig = np.hypot(ra.sigma[0], rb.sigma[0])
    sig_stat = np.hypot(ra.sigma_stat[0], rb.sigma_stat[0])
    oor = ra.out_of_range[0] | rb.out_of_range[0]
    return dF, sig, sig_stat, oor, float(rb.E0[0] - ra.E0[0])


def transition_temperature(
    model_a, model_b, theta, T, method: str = "fast", refine: bool = True, with_model_error: bool = True
) -> TransitionResult:
    """Crossing temperature of two phases for one coefficient vector.

    Args:
        model_a, model_b: :class:`~thermograd.ddos.estimators.model.DDOSModel` of the two phases (same descriptor).
        theta: coefficients, shape (d,), eV per descriptor unit.
        T: temperature grid, shape (n_T ≥ 2,), K, increasing.
        method: estimator route ("fast" or "exact").
        refine: refine the bracketed root by bisection/secant on the estimator (else linear interpolation).
        with_model_error: include the model-error term in σ.

    Returns:
        :class:`TransitionResult`.
    """
    if model_a.n_features != model_b.n_features:
        raise InputError(
            f"phases have different descriptor lengths ({model_a.n_features}, {model_b.n_features})"
        )
    theta = np.asarray(theta, dtype=float)
    if theta.ndim != 1:
        raise InputError("transition_temperature takes one coefficient vector θ of shape (d,)")
    T = np.asarray(T, dtype=float).reshape(-1)
    if T.size < 2 or np.any(np.diff(T) <= 0):
        raise InputError("the temperature grid must be increasing with at least 2 points")
    dF, sig, _sig_stat, oor, dE0 = _delta(model_a, model_b, theta, T, method, with_model_error)
    idx = np.where(np.sign(dF[:-1]) * np.sign(dF[1:]) <= 0)[0]
    idx = [k for k in idx if not (dF[k] == 0 and k > 0 and dF[k - 1] == 0)]
    crossings = []
    for k in idx:
        lo, hi, flo, fhi = T[k], T[k + 1], dF[k], dF[k + 1]
        tc = lo if fhi == flo else lo - flo * (hi - lo) / (fhi - flo)
        if refine and flo != fhi:
            for _ in range(40):  # Illinois-style regula falsi on the estimator
                f = _delta(model_a, model_b, theta, [tc], method, False)[0][0]
                if abs(f) < 1e-12 or hi - lo < 1e-6:
                    break
                if np.sign(f) == np.sign(flo):
                    lo, flo = tc, f
                else:
                    hi, fhi = tc, f
                tc = lo - flo * (hi - lo) / (fhi - flo)
        crossings.append(float(tc))
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
            oor,
            False,
            (model_a.name, model_b.name),
            warnings,
        )
    tc = crossings[0]
    h = max(1e-3 * tc, 0.5)
    d2, s2, ss2, o2, _ = _delta(model_a, model_b, theta, [tc - h, tc, tc + h], method, with_model_error)
    slope = float((d2[2] - d2[0]) / (2 * h))
    err = float(s2[1] / abs(slope)) if slope != 0 else math.inf
    err_stat = float(ss2[1] / abs(slope)) if slope != 0 else math.inf
    oor_tc = bool(o2.any())
    if oor_tc:
        warnings.append(
            f"at Tc = {tc:.1f} K the free-energy optimum of at least one phase lies on the edge of its "
            "sampled shell range: F there is a constrained minimum (an upper bound); extend the shell range "
            "to confirm"
        )
    if len(crossings) > 1:
        warnings.append(
            f"ΔF changes sign {len(crossings)} times: {', '.join(f'{c:.1f}' for c in crossings)} K"
        )
    return TransitionResult(
        tc,
        err,
        err_stat,
        crossings,
        slope,
        T,
        dF,
        sig,
        dE0,
        oor,
        oor_tc,
        (model_a.name, model_b.name),
        warnings,
    )
