"""Gauss–Legendre quadrature on λ ∈ [0, 1] for equilibrium thermodynamic integration.

ΔF = ∫₀¹ ⟨∂U/∂λ⟩_λ dλ ≈ Σ_i w_i ⟨∂U/∂λ⟩_{λ_i}. The nodes never touch the end points, so a pair potential
scaled by λ is never switched fully off; with n points the rule is exact for polynomials of degree 2n − 1.
Statistical errors of independent λ points add in quadrature: σ² = Σ_i w_i² σ_i². The rule's own
(deterministic) error is estimated from the same points by :func:`gauss_legendre_error`.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def gauss_legendre(n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights mapped onto [0, 1].

    Args:
        n_points: number of λ points (≥ 1).

    Returns:
        (lambdas, weights), each shape (n_points,); lambdas ascending in (0, 1), weights sum to 1.
    """
    if not isinstance(n_points, (int, np.integer)) or n_points < 1:
        raise InputError(f"number of λ points must be an integer >= 1, got {n_points!r}")
    x, w = np.polynomial.legendre.leggauss(int(n_points))
    return 0.5 * (x + 1.0), 0.5 * w


def integrate(values: np.ndarray, errors: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted sum Σ w_i v_i and its statistical error √(Σ w_i² σ_i²) (independent points).

    Args:
        values: ⟨∂U/∂λ⟩ at each node, shape (n,), any energy unit.
        errors: standard errors of ``values``, shape (n,), same unit.
        weights: quadrature weights, shape (n,).

    Returns:
        (integral, error) in the unit of ``values``.
    """
    v, e, w = (np.asarray(a, dtype=float) for a in (values, errors, weights))
    if not (v.shape == e.shape == w.shape) or v.ndim != 1:
        raise InputError(
            f"values, errors and weights must be 1-D of equal length, got {v.shape}, {e.shape}, {w.shape}"
        )
    return float(np.sum(w * v)), float(np.sqrt(np.sum((w * e) ** 2)))


#: a discrete Legendre coefficient counts as resolved when it exceeds this many of its standard errors
SIGNIFICANCE = 2.0


def legendre_spectrum(values: np.ndarray, errors: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Discrete Legendre coefficients of values at the n Gauss–Legendre nodes on [0, 1] and their errors.

    c_k = (2k + 1) Σ_i w_i P_k(2λ_i − 1) v_i, k = 0 … n − 1: the coefficients of the interpolating
    polynomial of degree n − 1 in the basis P_k(2λ − 1) (the rule is exact for P_j P_k with j + k ≤ 2n − 1,
    so the P_k are orthogonal on the nodes); c_0 is the rule's integral. Errors are propagated for
    independent points, σ(c_k) = (2k + 1) √(Σ_i (w_i P_k σ_i)²).

    Args:
        values: ⟨∂U/∂λ⟩ at the nodes of :func:`gauss_legendre` (n), ascending λ, shape (n,).
        errors: their standard errors, shape (n,) (default: zero).

    Returns:
        (coefficients, errors), each shape (n,), in the unit of ``values``.
    """
    v = np.asarray(values, dtype=float)
    e = np.zeros_like(v) if errors is None else np.asarray(errors, dtype=float)
    if v.ndim != 1 or v.shape != e.shape or v.size < 1:
        raise InputError(f"values and errors must be 1-D of equal length >= 1, got {v.shape}, {e.shape}")
    n = v.size
    x, w = np.polynomial.legendre.leggauss(n)
    basis = np.polynomial.legendre.legvander(x, n - 1) * (0.5 * w)[:, None]  # w_i P_k(x_i), weights sum to 1
    scale = 2.0 * np.arange(n) + 1.0
    return scale * (v @ basis), scale * np.sqrt((e**2) @ basis**2)


def gauss_legendre_error(values: np.ndarray, errors: np.ndarray | None = None) -> float:
    """Estimated |error| of the n-point Gauss–Legendre integral of the sampled integrand, from the same points.

    The n-point rule integrates the Legendre series f = Σ a_k P_k(2λ − 1) exactly up to k = 2n − 1; its
    error is Σ_{k ≥ 2n} a_k ε_k with ε_k = −Σ_i w_i P_k(x_i) (odd k give zero by symmetry), led by a_2n ε_2n.
    For an integrand analytic in a Bernstein ellipse of parameter ρ around [0, 1] the coefficients decay as
    |a_k| ≲ C ρ^−k and the error as O(ρ^−2n) (Gauss's rule converges geometrically; Trefethen, SIAM Rev.
    50, 67 (2008), Thm. 4.5). The estimate measures that decay on the discrete coefficients c_1 … c_{n−1}
    of the n values (:func:`legendre_spectrum`) and extrapolates it: with p_k = max(|c_{k−1}|, |c_k|)
    (k = 2 … n − 1; pairs, so that a coefficient that vanishes alone, e.g. an odd one of an integrand
    symmetric about λ = ½, does not pass for a decay) and L(k) the least-squares line through the log of
    their non-increasing envelope, |a_2n| ≈ exp(L(2n + 1)) (p_k sits one index behind the coefficient it
    stands for) and the estimate is |ε_2n|·|a_2n|.
    No extra MD: the n-point and the (n − 1)-point rules share no node, and a lower-degree fit on the n
    nodes with the rule's weights has the same integral (the P_k, k ≥ 1, integrate to zero), so neither
    gives an error estimate without new points.

    Noise: each |c_k| is reduced by :data:`SIGNIFICANCE` × σ(c_k) (rounding included), so coefficients
    within noise count as zero; a zero estimate means no quadrature error is resolved above the statistics
    (a constant integrand with noise σ_i: the estimate exceeds the statistical error of the integral in
    ≤ 1 % of draws). The decay rate is made at least as steep as the noise bounds |c| + 2σ(c) of the
    unresolved higher pairs allow, and never positive (a spectrum that does not decay gives |a_2n| = the
    top pair, a large estimate: n points do not resolve the integrand).

    Assumptions and limits, stated so that the number is read rightly:

    * ⟨∂U/∂λ⟩ is analytic on a neighbourhood of [0, 1] (finite crystal, no transition along λ). For a real
      pole at distance 0.1–1 from [0, 1] the estimate is 2–3.5 times the true error for n = 4–10 (high by
      about one factor ρ from the pairing: on the safe side); for a sum of such poles (a harmonic → harmonic
      λ-TI) 0.7–1.6 times for n = 5–11; for complex poles near the interval (an oscillating spectrum)
      within a factor ~50 either way; for entire integrands (e^{cλ}) it is conservative (10²–10⁵ over,
      while the true error is already negligible); an end-point singularity (λ^{3/2}) is underestimated by
      orders of magnitude. n = 3 has one pair and no decay to measure: the estimate is the top pair times
      |ε_6|, a conservative bound rather than an estimate; use n ≥ 5.
    * n values cannot tell a polynomial of degree n … 2n − 1 (integrated exactly) from one that is not, so
      no estimate on the nodes can vanish for every polynomial the rule integrates; it vanishes (to
      rounding) for degree ≤ n − 3, where the top pair is zero and bounds the decay.
    * n < 3: NaN.

    Args:
        values: ⟨∂U/∂λ⟩ at the n Gauss–Legendre nodes on [0, 1] (:func:`gauss_legendre`), ascending λ.
        errors: their standard errors (default: zero, an exact integrand).

    Returns:
        The estimated |Σ w_i v_i − ∫₀¹ f dλ|, in the unit of ``values`` (NaN if n < 3).
    """
    c, s = legendre_spectrum(values, errors)
    n = c.size
    if n < 3:
        return float("nan")
    k = np.arange(n)
    rounding = 64.0 * n * np.finfo(float).eps * (2 * k + 1) * float(np.max(np.abs(values)))
    noise = np.hypot(s, rounding)
    shrunk = np.maximum(np.abs(c) - SIGNIFICANCE * noise, 0.0)
    bound = np.abs(c) + SIGNIFICANCE * noise
    # pairs (k − 1, k), k = 2 … n − 1: a zero of one coefficient (an odd one of an integrand symmetric
    # about λ = ½, or a node of an oscillating spectrum) does not pass for a decay
    pairs = np.maximum(shrunk[2:], shrunk[1:-1])
    pair_bounds = np.maximum(bound[2:], bound[1:-1])
    if not np.any(pairs > 0):
        return 0.0
    last = int(np.flatnonzero(pairs)[-1])
    envelope = np.maximum.accumulate(pairs[: last + 1][::-1])[::-1]  # non-increasing
    ks = np.arange(2, last + 3)
    if ks.size >= 2:
        slope, intercept = np.polyfit(ks, np.log(envelope), 1)
    else:
        slope, intercept = 0.0, float(np.log(envelope[0])) - 0.0 * ks[0]
    anchor = intercept + slope * ks[-1]
    above = pair_bounds[last + 1 :]  # unresolved pairs: the decay is at least this steep
    if above.size:
        with np.errstate(divide="ignore"):
            slope = min(slope, float(np.min((np.log(above) - anchor) / np.arange(1, above.size + 1))))
    slope = min(slope, 0.0)
    x, w = gauss_legendre(n)
    eps_2n = float(np.sum(w * np.polynomial.legendre.legval(2.0 * x - 1.0, [0.0] * (2 * n) + [1.0])))
    log_a = anchor + slope * (2 * n + 1 - ks[-1])  # pair k holds max(c_{k−1}, c_k): one index on
    return float(abs(eps_2n) * np.exp(log_a)) if np.isfinite(log_a) else 0.0
