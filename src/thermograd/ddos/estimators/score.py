"""Per-component Hyvärinen score matching of the shell descriptor entropy from histogram statistics.

For one shell α and one principal component a, the conditional density of the component coordinate
x = e_a·(D − D_0) is modelled in the large-deviation form ρ_a(x) ∝ exp[N S_a(x)], N atoms, with a
polynomial S_a(x) = Σ_{j=1..K} c_j t^j in the standardised coordinate t = (x − x̄)/s (x̄, s: mean and
standard deviation of the bin centres). Hyvärinen's objective J(c) = E_ρ[½N(S′)² + S″] is quadratic in c,
so A c = −b with A = N E[φ′φ′ᵀ], b = E[φ″] (derivatives in t); histogram counts are sufficient
statistics (Swinburne, Lapointe, Marinica, Nat. Commun. 17, 248 (2026), §6 of docs/science-ddos.md).

Truncation: the reference histograms keep only the [p, 100 − p] percentile range, where the density does not
vanish, so the integration by parts behind Hyvärinen's objective leaves boundary terms. The default here is
the boundary-weighted objective of generalised score matching, E[½ w N S′² + (w S′)′] with
w = (t − t_a)(t_b − t) vanishing at the outer histogram edges, which is consistent for truncated densities
(still linear in c).

Covariance of c (exact first-order delta method, sandwich form): c solves E[u(x; c)] + λc = 0 with
u = wφ″ + w′φ′ + N w φ′φ′ᵀc, so Cov(c) = (A + λ)⁻¹ Cov_ρ(u) (A + λ)⁻ᵀ / n, n = samples in the histogram.

Order selection rule (:func:`select_order`): binomial thinning splits every histogram into two independent
halves of the same i.i.d. samples; each candidate order is fitted on one half and its Hyvärinen loss is
evaluated on the other (summed over all shells and components, averaged over both directions and several
splits). The order with the smallest held-out loss wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import InputError

#: candidate polynomial orders K for the held-out selection rule.
DEFAULT_ORDERS = (2, 3, 4, 5, 6)


def monomial_features(t: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Monomials t^j, j = 1..K, and their first and second derivatives in t.

    Args:
        t: standardised coordinates, any shape (...).
        order: K ≥ 1.

    Returns:
        (φ, φ′, φ″), each of shape (..., K).
    """
    t = np.asarray(t, dtype=float)
    pw = np.empty((*t.shape, order + 1))  # t^0 .. t^K by repeated products (integer powers)
    pw[..., 0] = 1.0
    for k in range(1, order + 1):
        pw[..., k] = pw[..., k - 1] * t
    j = np.arange(1, order + 1, dtype=float)
    phi = pw[..., 1:]
    dphi = j * pw[..., :-1]
    ddphi = np.zeros_like(phi)
    if order >= 2:
        ddphi[..., 1:] = (j[1:] * (j[1:] - 1.0)) * pw[..., : order - 1]
    return phi, dphi, ddphi


@dataclass
class ScoreFit:
    """Fitted per-component entropies of a batch of histograms (leading batch shape ``B``).

    Attributes:
        coef: polynomial coefficients c, shape (*B, K), per-atom entropy units (k_B).
        cov: covariance of c, shape (*B, K, K).
        loss: in-sample Hyvärinen loss J(c) per histogram, shape B.
    """

    coef: np.ndarray
    cov: np.ndarray
    loss: np.ndarray


def boundary_weight(t: np.ndarray, t_a: np.ndarray, t_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weight w(t) = (t − t_a)(t_b − t)/((t_b − t_a)/2)² vanishing at the histogram edges, and w′(t).

    Args:
        t: coordinates, shape (*B, n_bins). t_a, t_b: outer histogram edges, shape B.
    """
    a, b = np.asarray(t_a)[..., None], np.asarray(t_b)[..., None]
    half2 = ((b - a) / 2.0) ** 2
    return (t - a) * (b - t) / half2, (a + b - 2.0 * t) / half2


def _moments(t, weights, order, n_atoms, edges=None):
    """A = N Σ ρ w φ′φ′ᵀ, b = Σ ρ (w φ″ + w′ φ′), and the per-bin vectors; ρ: normalised counts.

    With ``edges = (t_a, t_b)`` the boundary-weighted (truncation-consistent) objective of generalised score
    matching E[½ w N S′² + (w S′)′] is used; without, the plain Hyvärinen objective (w ≡ 1).
    """
    _, dphi, ddphi = monomial_features(t, order)
    if edges is None:
        wt, dwt = np.ones_like(t), np.zeros_like(t)
    else:
        wt, dwt = boundary_weight(t, *edges)
    rho_w = weights * wt
    A = n_atoms * np.matmul(np.swapaxes(dphi * rho_w[..., None], -1, -2), dphi)
    lin = wt[..., None] * ddphi + dwt[..., None] * dphi  # (..., n_bins, K)
    b = np.einsum("...k,...ki->...i", weights, lin)
    return A, b, dphi * np.sqrt(np.maximum(wt, 0.0))[..., None], lin, wt


def hyvarinen_loss(coef, t, counts, n_atoms, edges=None) -> np.ndarray:
    """(Weighted) Hyvärinen loss E_ρ[½N w (S′)² + (w S′)′] of coefficients on histogram data (t units).

    Args:
        coef: shape (*B, K).
        t: bin centres in standardised coordinates, shape (*B, n_bins).
        counts: histogram counts, shape (*B, n_bins).
        n_atoms: N.
        edges: optional (t_a, t_b), outer histogram edges (shape B) for the boundary weight.

    Returns:
        Loss per histogram, shape B (0 where a histogram is empty).
    """
    order = coef.shape[-1]
    counts = np.asarray(counts, dtype=float)
    total = counts.sum(-1, keepdims=True)
    w = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    A, b, *_ = _moments(t, w, order, n_atoms, edges)
    return 0.5 * np.einsum("...i,...ij,...j->...", coef, A, coef) + np.einsum("...i,...i->...", b, coef)


def fit_score(t, counts, n_atoms: int, order: int, ridge: float | None = None, edges=None) -> ScoreFit:
    """Score matching of S(t) = Σ c_j t^j on a batch of histograms (a linear solve per histogram).

    Args:
        t: bin centres in standardised coordinates, shape (*B, n_bins).
        counts: histogram counts (≥ 0), shape (*B, n_bins).
        n_atoms: N, the large-deviation scale of log ρ = N S.
        order: polynomial order K ≥ 2.
        ridge: ridge λ added to A (default 1/N, as in the reference implementation).
        edges: optional (t_a, t_b), outer histogram edges, shape B: use the boundary-weighted objective,
            consistent for densities truncated to the histogram range (percentile cuts).

    Returns:
        :class:`ScoreFit` with coefficients, their covariance and the in-sample loss.
    """
    if order < 2:
        raise InputError(f"score order must be >= 2, got {order}")
    counts = np.asarray(counts, dtype=float)
    if np.any(counts < 0):
        raise InputError("histogram counts must be >= 0")
    lam = 1.0 / n_atoms if ridge is None else float(ridge)
    total = counts.sum(-1, keepdims=True)
    w = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    A, b, dphi_w, lin, _ = _moments(t, w, order, n_atoms, edges)
    A_reg = A + lam * np.eye(order)
    coef = -np.linalg.solve(A_reg, b[..., None])[..., 0]
    # sandwich covariance of the estimating equation: u_k = lin_k + N w_k φ′_k (φ′_k·c)
    u = lin + n_atoms * dphi_w * np.einsum("...ki,...i->...k", dphi_w, coef)[..., None]
    u_mean = np.einsum("...k,...ki->...i", w, u)
    du = u - u_mean[..., None, :]
    cov_u = np.matmul(np.swapaxes(du * w[..., None], -1, -2), du)
    n_eff = np.maximum(total[..., 0], 1.0)
    inv = np.linalg.inv(A_reg)
    cov = inv @ cov_u @ np.swapaxes(inv, -1, -2) / n_eff[..., None, None]
    loss = 0.5 * np.einsum("...i,...ij,...j->...", coef, A, coef) + np.einsum("...i,...i->...", b, coef)
    return ScoreFit(coef=coef, cov=cov, loss=loss)


def select_order(
    t: np.ndarray,
    counts: np.ndarray,
    n_atoms: int,
    orders: tuple[int, ...] = DEFAULT_ORDERS,
    n_splits: int = 3,
    seed: int = 0,
    ridge: float | None = None,
    edges=None,
) -> tuple[int, dict[int, float]]:
    """Choose the polynomial order by held-out Hyvärinen loss over binomially thinned halves.

    Args:
        t: standardised bin centres, shape (*B, n_bins).
        counts: integer histogram counts, shape (*B, n_bins).
        n_atoms: N.
        orders: candidate orders.
        n_splits: random half/half splits (each used in both directions).
        seed: seed of the splitting generator (recorded in the model provenance).
        ridge: ridge λ (default 1/N).
        edges: optional (t_a, t_b) for the boundary-weighted objective (see :func:`fit_score`).

    Returns:
        (best order, {order: mean held-out loss summed over histograms}).
    """
    rng = np.random.default_rng(seed)
    counts_int = np.rint(np.asarray(counts)).astype(np.int64)
    scores = {k: 0.0 for k in orders}
    for _ in range(n_splits):
        half = rng.binomial(counts_int, 0.5)
        other = counts_int - half
        for train, test in ((half, other), (other, half)):
            for k in orders:
                fit = fit_score(t, train, n_atoms, k, ridge, edges)
                scores[k] += float(np.sum(hyvarinen_loss(fit.coef, t, test, n_atoms, edges))) / (2 * n_splits)
    best = min(orders, key=lambda k: scores[k])
    return best, scores
