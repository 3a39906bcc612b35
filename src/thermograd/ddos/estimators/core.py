"""Batched, differentiable D-DOS free-energy estimator (torch, float64).

F(θ, T) = θ·D_0 + k_B T · min_α G(α),  G(α) = Σ_a h_{α,a}(β θ̃_{α,a}) − S_0(α, T),
h = 1-D conjugates of the per-component shell entropies (:mod:`.conjugate`), θ̃_α = W_αᵀθ. G is known at the
shell nodes α_i and interpolated by a not-a-knot cubic spline in α (linear in the node values, so exactly
differentiable); the minimum over α is found analytically per spline interval (roots of a quadratic). A
minimum on the first or last shell is *not* clamped silently: it is returned with ``out_of_range = True``.

Gradients: ∂F/∂θ comes from torch.autograd through the whole estimator (α* and x* enter only through
stationary points, so the envelope theorem makes it D_0 + Σ_i w_i(α*) W_i x*_i, w_i the spline weights).
Reference: docs/science-ddos.md §3, §7, §8 (Swinburne, Lapointe, Marinica, Nat. Commun. 17, 248 (2026)).
"""

from __future__ import annotations

import numpy as np
import torch

from ...errors import InputError
from ...harmonic import shell_entropy
from ...units import KB

Tensor = torch.Tensor

#: statement attached to every absolute free energy.
REFERENCE = (
    "Helmholtz free energy per atom (eV/atom), NVT at the sampled cell; classical, phase space normalised by "
    "(2πħ)^-3N; D-DOS shell reference S_0 with prefactor 3/2 (harmonic convention 'ddos'); "
    "F = E_0 + (F − E_0), E_0 = θ·D_0 (+ β_0) the static lattice energy of the model θ"
)
#: the same with F_h swapped for the exact finite-cell sum (convention 'cell')
REFERENCE_CELL = REFERENCE.replace(
    "D-DOS shell reference S_0 with prefactor 3/2 (harmonic convention 'ddos')",
    "harmonic part F_h = (k_BT/N) Σ ln βħω over the 3N − 3 reference modes (convention 'cell'), "
    "anharmonic part from the D-DOS shell estimator",
)


class AlphaSpline:
    """Not-a-knot cubic spline over the shell coordinates α_i, as a linear map of the node values.

    Args:
        alphas: shell coordinates, shape (n_shells,), strictly increasing, ln Å².
    """

    def __init__(self, alphas: np.ndarray):
        from scipy.interpolate import CubicSpline

        a = np.asarray(alphas, dtype=float)
        if a.ndim != 1 or a.size < 2 or np.any(np.diff(a) <= 0):
            raise InputError("shell coordinates α must be strictly increasing with at least 2 shells")
        n = a.size
        bc = "not-a-knot" if n >= 4 else "natural"
        c = CubicSpline(a, np.eye(n), bc_type=bc).c  # (4, n-1, n), highest power first
        self.matrix = torch.tensor(c[::-1].copy().transpose(1, 0, 2), dtype=torch.float64)  # (n-1, 4, n)
        self.alphas = torch.tensor(a, dtype=torch.float64)
        self.widths = self.alphas[1:] - self.alphas[:-1]
        self.n = n

    def coefficients(self, y: Tensor) -> Tensor:
        """Power coefficients per interval, shape (..., n−1, 4), of node values y (..., n)."""
        return torch.einsum("...n,jkn->...jk", y, self.matrix)

    def argmin(self, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Minimiser of the spline (no gradient), searched on the intervals adjacent to the two lowest nodes.

        A cubic interpolant can dip below its node values only by its (small) overshoot, so its global minimum
        lies next to one of the lowest nodes; checking the two lowest keeps the search O(1) per (model, T).

        Returns:
            (interval index j, offset τ = α* − α_j, out_of_range), each of shape y.shape[:-1].
        """
        with torch.no_grad():
            n = self.n
            low = y.topk(min(2, n), dim=-1, largest=False).indices
            iv = torch.cat([low - 1, low], -1).clamp(0, n - 2)  # (..., 4) candidate intervals
            c = torch.gather(self.coefficients(y), -2, iv[..., None].expand(*iv.shape, 4))  # (..., 4, 4)
            c0, c1, c2, c3 = c.unbind(-1)
            # roots of c1 + 2 c2 τ + 3 c3 τ² (stable quadratic formula; linear when c3 = 0)
            qa, qb, qc = 3.0 * c3, 2.0 * c2, c1
            sq = (qb * qb - 4.0 * qa * qc).clamp(min=0.0).sqrt()
            qq = -0.5 * (qb + torch.where(qb >= 0, sq, -sq))
            one = torch.ones_like(qq)
            r1 = torch.where(qa == 0, -qc / torch.where(qb == 0, one, qb), qq / torch.where(qa == 0, one, qa))
            r2 = torch.where(qq == 0, torch.zeros_like(qq), qc / torch.where(qq == 0, one, qq))
            w = self.widths[iv]
            cand = torch.stack([torch.zeros_like(r1), r1, r2, w], dim=-1)  # (..., 4, 4)
            ok = (cand >= 0) & (cand <= w[..., None]) & torch.isfinite(cand)
            cand = torch.where(ok, cand, torch.zeros_like(cand))
            val = ((c3[..., None] * cand + c2[..., None]) * cand + c1[..., None]) * cand + c0[..., None]
            k = val.flatten(-2).argmin(-1)
            j = torch.gather(iv, -1, torch.div(k, 4, rounding_mode="floor")[..., None])[..., 0]
            tau = torch.gather(cand.flatten(-2), -1, k[..., None])[..., 0]
            alpha_star = self.alphas[j] + tau
            eps = 1e-9 * float(self.alphas[-1] - self.alphas[0])
            oor = (alpha_star <= self.alphas[0] + eps) | (alpha_star >= self.alphas[-1] - eps)
        return j, tau, oor

    def weights(self, j: Tensor, tau: Tensor) -> Tensor:
        """Cardinal weights w_i(α_j + τ), shape (..., n): spline value = Σ_i w_i y_i."""
        powers = torch.stack([torch.ones_like(tau), tau, tau * tau, tau**3], dim=-1)  # (..., 4)
        return torch.einsum("...k,...kn->...n", powers, self.matrix[j])


def as_theta(theta, n_features: int) -> Tensor:
    """Validate θ: shape (d,) or (n_models, d) → float64 tensor (n_models, d) (keeps autograd graph)."""
    t = theta if isinstance(theta, torch.Tensor) else torch.as_tensor(np.asarray(theta, dtype=float))
    t = t.to(torch.float64)
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2 or t.shape[1] != n_features:
        raise InputError(
            f"θ must have shape ({n_features},) or (n_models, {n_features}) for this model, "
            f"got {tuple(t.shape)}"
        )
    if not torch.isfinite(t.detach()).all():
        raise InputError("θ contains non-finite values")
    return t


def as_theta_array(theta, n_features: int) -> np.ndarray:
    """NumPy twin of :func:`as_theta` (float64 array (n_models, d)), for the compiled path."""
    t = np.asarray(theta.detach() if isinstance(theta, torch.Tensor) else theta, dtype=np.float64)
    if t.ndim == 1:
        t = t.reshape(1, -1)
    if t.ndim != 2 or t.shape[1] != n_features:
        raise InputError(
            f"θ must have shape ({n_features},) or (n_models, {n_features}) for this model, got {t.shape}"
        )
    if not np.isfinite(t).all():
        raise InputError("θ contains non-finite values")
    return t


def as_temperatures_array(T) -> np.ndarray:
    """NumPy twin of :func:`as_temperatures` (float64 array (n_T,), all finite and > 0 K)."""
    t = np.asarray(T.detach() if isinstance(T, torch.Tensor) else T, dtype=np.float64).reshape(-1)
    if t.size == 0 or not (np.all(t > 0) and np.all(np.isfinite(t))):
        raise InputError(f"temperatures must be finite and > 0 K, got {t}")
    return t


def as_temperatures(T) -> Tensor:
    """Validate temperatures (scalar or 1-D, all > 0 K) → float64 tensor (n_T,)."""
    t = T if isinstance(T, torch.Tensor) else torch.as_tensor(np.asarray(T, dtype=float))
    t = t.to(torch.float64).reshape(-1)
    if t.numel() == 0 or not bool((t.detach() > 0).all()) or not bool(torch.isfinite(t.detach()).all()):
        raise InputError(f"temperatures must be finite and > 0 K, got {t.detach().numpy()}")
    return t


def free_energy_core(
    theta: Tensor,
    T: Tensor,
    rotations: Tensor,
    s0_fn,
    conj_fn,
    spline: AlphaSpline,
    with_var: bool,
    moment_var_fn=None,
    shell_sum_fn=None,
):
    """Core of the estimator for one chunk of models (all tensors, graph kept).

    Args:
        theta: (n_m, d). T: (n_T,), K. rotations: W_i, (n_s, d, d).
        s0_fn: T (n_T,) → S_0(α_i, T), (n_T, n_s).
        conj_fn: g (n_m, n_T, n_s, d) → (h, var or None), same shape.
        spline: the α spline.
        with_var: also return the propagated variance.
        moment_var_fn: (θ̃ (n_m, n_s, d), β (n_T,)) → per-shell variance of G_i from the sampling noise of
            the shell's first two moments along the tilt, (n_m, n_T, n_s); the larger of it and the score-fit
            variance is used per shell.
        shell_sum_fn: optional (θ̃, β) → Σ_a h (n_m, n_T, n_s) replacing conj_fn (values only, no variance).

    Returns:
        dict with g, F_rel (n_m, n_T), weights, j, tau, oor, var (or None).
    """
    theta_rot = torch.einsum("md,sda->msa", theta, rotations)
    beta = 1.0 / (KB * T)
    if shell_sum_fn is not None:
        g, var = None, None
        y = shell_sum_fn(theta_rot, beta) - s0_fn(T)[None]
    else:
        g = beta[None, :, None, None] * theta_rot[:, None]
        h, var = conj_fn(g, with_var)
        y = h.sum(-1) - s0_fn(T)[None]
    j, tau, oor = spline.argmin(y)
    w = spline.weights(j, tau)
    G = (w * y).sum(-1)
    F_rel = KB * T[None, :] * G
    var_F = None
    if with_var:
        var_i = var.sum(-1)
        if moment_var_fn is not None:
            # both estimate (overlapping) sampling noise of G_i: the fixed-basis score-fit covariance misses
            # noise of the PCA basis, the two-moment term misses non-Gaussian shape noise; take the larger
            var_i = torch.maximum(var_i, moment_var_fn(theta_rot.detach(), beta))
        var_F = (KB * T[None, :]) ** 2 * (w.detach() ** 2 * var_i).sum(-1)
    return {"g": g, "F_rel": F_rel, "j": j, "tau": tau, "oor": oor, "var": var_F, "w": w, "y": y}


def make_s0_fn(alphas: np.ndarray, mass: float, mean_log_nu: float):
    """S_0(α_i, T) for all shells as a function of T (n_T,) → (n_T, n_s)."""
    a = torch.tensor(np.asarray(alphas, dtype=float), dtype=torch.float64)
    return lambda T: shell_entropy(a[None, :], T[:, None], mass, mean_log_nu)


def chunk_size(n_T: int, n_s: int, d: int, budget: int = 1 << 20) -> int:
    """Models per chunk so that one (n_m, n_T, n_s, d) work array stays near ``budget`` elements."""
    return max(1, budget // max(1, n_T * n_s * d))
