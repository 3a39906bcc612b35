"""Low-latency NumPy path for small batches of order-2 models (single calls inside optimisers).

Same mathematics as the torch estimator with :class:`~thermograd.ddos.conjugate.QuadraticConjugate` and the
not-a-knot α spline, but with ~50 NumPy operations instead of ~150 torch dispatches, and the gradient from the
envelope theorem, ∂F/∂θ = D_0 + Σ_i w_i(α*) W_i x*_i (exact for this estimator: α* and x* are stationary
points or sit on range edges where the value is linear). Used by :meth:`DDOSModel.predict` when
n_models·n_T is small; tests check it against the torch path to rounding.
"""

from __future__ import annotations

import numpy as np

from ..harmonic import shell_entropy
from ..units import KB


class SmallBatchQuadratic:
    """Precomputed NumPy arrays of an order-2 model (see module docstring)."""

    def __init__(self, model):
        quad = model.conj_fn("fast")
        comp = quad.comp
        n = lambda t: t.detach().numpy()  # noqa: E731
        self.c1, self.c2 = n(quad.c1), n(quad.c2)
        self.inv2c2 = 0.5 / self.c2
        self.xbar, self.scale, self.t_lo, self.t_hi = n(comp.xbar), n(comp.scale), n(comp.t_lo), n(comp.t_hi)
        self.pmax, self.t_mode, self.cov = n(comp.p_max), n(comp.t_mode), n(comp.cov)
        geo = model.geometry
        self.W = np.ascontiguousarray(geo.rotations)
        n_s, d, _ = self.W.shape
        self.W2 = self.W.transpose(1, 0, 2).reshape(d, n_s * d)
        self.alphas = np.asarray(geo.alphas, dtype=float)
        self.widths = np.diff(self.alphas)
        _, spline, _, _ = model._static()
        self.M = spline.matrix.numpy()  # (n_s−1, 4, n_s)
        self.lam = np.maximum(geo.eigenvalues, 0.0)
        self.n_samples = np.asarray(geo.n_samples, dtype=float)
        self.N = float(model.n_atoms)
        self.mass, self.mean_log_nu, self.D_0 = model.mass, model.mean_log_nu, np.asarray(model.D_0)
        self.kappa_bar = model.kappa_bar
        self.shape = (n_s, d)

    def argmin(self, y: np.ndarray):
        """(j, τ, out_of_range) of the spline minimum (same rule as ``AlphaSpline.argmin``); y (..., n_s)."""
        n = self.alphas.size
        low = np.argsort(y, axis=-1)[..., : min(2, n)]
        iv = np.clip(np.concatenate([low - 1, low], -1), 0, n - 2)  # (..., 4)
        c = np.einsum("...n,...jkn->...jk", y, self.M[iv])  # (..., 4, 4)
        c0, c1, c2, c3 = c[..., 0], c[..., 1], c[..., 2], c[..., 3]
        qa, qb, qc = 3.0 * c3, 2.0 * c2, c1
        sq = np.sqrt(np.maximum(qb * qb - 4.0 * qa * qc, 0.0))
        qq = -0.5 * (qb + np.where(qb >= 0, sq, -sq))
        with np.errstate(divide="ignore", invalid="ignore"):
            r1 = np.where(qa == 0, -qc / np.where(qb == 0, 1.0, qb), qq / np.where(qa == 0, 1.0, qa))
            r2 = np.where(qq == 0, 0.0, qc / np.where(qq == 0, 1.0, qq))
        w = self.widths[iv]
        cand = np.stack([np.zeros_like(r1), r1, r2, w], -1)
        ok = (cand >= 0) & (cand <= w[..., None]) & np.isfinite(cand)
        cand = np.where(ok, cand, 0.0)
        val = ((c3[..., None] * cand + c2[..., None]) * cand + c1[..., None]) * cand + c0[..., None]
        flat = val.reshape(*val.shape[:-2], -1)
        k = flat.argmin(-1)
        j = np.take_along_axis(iv, (k // 4)[..., None], -1)[..., 0]
        tau = np.take_along_axis(cand.reshape(flat.shape), k[..., None], -1)[..., 0]
        a_star = self.alphas[j] + tau
        eps = 1e-9 * (self.alphas[-1] - self.alphas[0])
        oor = (a_star <= self.alphas[0] + eps) | (a_star >= self.alphas[-1] - eps)
        return j, tau, oor

    def __call__(self, theta: np.ndarray, T: np.ndarray, with_grad: bool, with_sigma: bool) -> dict:
        """theta (n_m, d), T (n_T,) → dict of F_rel, alpha_star, oor, var, grad (numpy)."""
        n_s, d = self.shape
        tr = (theta @ self.W2).reshape(theta.shape[0], n_s, d)  # θ̃, (n_m, n_s, d)
        beta = 1.0 / (KB * T)
        g = beta[None, :, None, None] * tr[:, None]
        gamma = g * self.scale
        t = np.clip((gamma - self.c1) * self.inv2c2, self.t_lo, self.t_hi)
        h = g * self.xbar + (gamma - self.c1 - self.c2 * t) * t + self.pmax
        y = h.sum(-1) - shell_entropy(self.alphas[None, :], T[:, None], self.mass, self.mean_log_nu)[None]
        j, tau, oor = self.argmin(y)
        powers = np.stack([np.ones_like(tau), tau, tau * tau, tau**3], -1)
        w = np.einsum("...k,...kn->...n", powers, self.M[j])
        F_rel = KB * T[None, :] * (w * y).sum(-1)
        out = {"F_rel": F_rel, "alpha_star": self.alphas[j] + tau, "oor": oor, "var": None, "grad": None}
        if with_grad:
            x_star = self.xbar + self.scale * t
            out["grad"] = self.D_0 + np.einsum("mts,sda,mtsa->mtd", w, self.W, x_star)
        if with_sigma:
            psi = np.stack([t - self.t_mode, t * t - self.t_mode**2], -1)
            var_h = np.einsum("...i,...ij,...j->...", psi, self.cov, psi).sum(-1)
            v = (self.lam * tr**2).sum(-1)[:, None, :]
            b2 = (beta**2)[None, :, None]
            var_m = (b2 * v + 0.5 * self.N**2 * b2**2 * v**2) / self.n_samples
            out["var"] = (KB * T[None, :]) ** 2 * (w**2 * np.maximum(var_h, var_m)).sum(-1)
        return out
