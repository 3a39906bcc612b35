"""Gauss–Legendre quadrature on λ ∈ [0, 1] for equilibrium thermodynamic integration.

ΔF = ∫₀¹ ⟨∂U/∂λ⟩_λ dλ ≈ Σ_i w_i ⟨∂U/∂λ⟩_{λ_i}. The nodes never touch the end points, so a pair potential
scaled by λ is never switched fully off; with n points the rule is exact for polynomials of degree 2n − 1.
Statistical errors of independent λ points add in quadrature: σ² = Σ_i w_i² σ_i².
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
