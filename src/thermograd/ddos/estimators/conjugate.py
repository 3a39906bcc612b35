"""One-dimensional conjugates h_a(g) = min_x [g x − S_a(x)] of per-component shell entropies, in torch.

Each component a of each shell is a polynomial S(x) = P(t) − P_max, t = (x − x̄)/s, restricted to the
sampled range t ∈ [t_lo, t_hi] (the histogram range; never extrapolated). A component with s = 0 is a
zero-variance (delta) component: h(g) = g x̄ exactly.

Two evaluation routes (docs/science-ddos.md §7):

* :func:`exact_conjugate`: coarse grid search over the range followed by safeguarded Newton steps; the
  minimiser t* is detached so that autograd returns ∂h/∂g = x* (envelope theorem) exactly.
* :class:`ConjugateTable`: h and x* tabulated on a uniform grid of g between min S′ and max S′ over the range,
  evaluated by cubic Hermite interpolation (values h_j and exact slopes x*_j) and continued linearly outside
  the grid, where the minimiser sits on a range edge and h is exactly linear. O(1) per component.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


@dataclass
class Components:
    """Polynomial entropies of all (shell, component) pairs of one phase, torch float64.

    Attributes:
        coef: coefficients c_j of t^j, j = 1..K, shape (n_shells, d, K).
        cov: covariance of coef, shape (n_shells, d, K, K).
        xbar: centre x̄ of the coordinate x = e_a·(D − D_0), shape (n_shells, d), descriptor units.
        scale: scale s of t = (x − x̄)/s, shape (n_shells, d); 0 marks a delta component.
        t_lo, t_hi: sampled range in t, shape (n_shells, d).
        p_max: max of P over the range (normalisation max S = 0), shape (n_shells, d).
        t_mode: argmax of P over the range, shape (n_shells, d).
    """

    coef: Tensor
    cov: Tensor
    xbar: Tensor
    scale: Tensor
    t_lo: Tensor
    t_hi: Tensor
    p_max: Tensor
    t_mode: Tensor

    @property
    def order(self) -> int:
        return int(self.coef.shape[-1])


def poly(coef: Tensor, t: Tensor, der: int = 0) -> Tensor:
    """P(t) = Σ_{j=1..K} c_j t^j or its 1st/2nd derivative (Horner); coef (..., K) broadcast with t (...)."""
    K = coef.shape[-1]

    def fac(j: int) -> float:
        return float(j) if der == 1 else float(j * (j - 1)) if der == 2 else 1.0

    if K < max(der, 1):
        return torch.zeros_like(t)
    acc = coef[..., K - 1] * fac(K) + torch.zeros_like(t)
    for j in range(K - 1, max(der, 1) - 1, -1):
        acc = acc * t + coef[..., j - 1] * fac(j)
    return acc * t if der == 0 else acc


def _minimise_t(gamma: Tensor, comp: Components, n_grid: int = 65, n_newton: int = 25) -> Tensor:
    """argmin_t [γ t − P(t)] over [t_lo, t_hi], no gradient; gamma shape (..., n_shells, d)."""
    with torch.no_grad():
        u = torch.linspace(0.0, 1.0, n_grid, dtype=gamma.dtype)
        span = comp.t_hi - comp.t_lo
        grid = comp.t_lo[..., None] + span[..., None] * u  # (n_shells, d, n_grid)
        p_grid = poly(comp.coef[..., None, :], grid)
        q = gamma[..., None] * grid - p_grid
        k = q.argmin(-1)
        t0 = torch.gather(grid.expand(q.shape), -1, k[..., None])[..., 0]
        q0 = torch.gather(q, -1, k[..., None])[..., 0]
        cell = span / (n_grid - 1)
        lo = torch.maximum(t0 - cell, comp.t_lo)
        hi = torch.minimum(t0 + cell, comp.t_hi)
        t = t0.clone()
        for _ in range(n_newton):
            d1 = gamma - poly(comp.coef, t, 1)
            d2 = -poly(comp.coef, t, 2)
            step = torch.where(
                d2 > 0, d1 / torch.where(d2 > 0, d2, torch.ones_like(d2)), torch.zeros_like(d1)
            )
            t = torch.minimum(torch.maximum(t - step, lo), hi)
        q1 = gamma * t - poly(comp.coef, t)
        return torch.where(q1 <= q0, t, t0)


def exact_conjugate(g: Tensor, comp: Components) -> tuple[Tensor, Tensor]:
    """h(g) = min_x [g x − S(x)] and its minimiser x*, by grid search + Newton.

    Args:
        g: tilts β θ̃_a, shape (..., n_shells, d), 1/(descriptor unit).
        comp: the phase's components.

    Returns:
        (h, x*), each shape (..., n_shells, d); h is differentiable in g with ∂h/∂g = x*.
    """
    gamma = g * comp.scale
    t_star = _minimise_t(gamma.detach(), comp)
    h = g * comp.xbar + gamma * t_star - poly(comp.coef, t_star) + comp.p_max
    return h, (comp.xbar + comp.scale * t_star).detach()


def conjugate_variance(t_star: Tensor, comp: Components) -> Tensor:
    """First-order variance of h from Cov(c): ψᵀ Cov ψ, ψ = φ(t*) − φ(t_mode) (renormalised bound)."""
    K = comp.order
    j = torch.arange(1, K + 1, dtype=t_star.dtype)
    psi = t_star[..., None] ** j - comp.t_mode[..., None] ** j
    return torch.einsum("...i,...ij,...j->...", psi, comp.cov, psi)


def normalise(comp_coef: Tensor, t_lo: Tensor, t_hi: Tensor) -> tuple[Tensor, Tensor]:
    """(max P, argmax P) over [t_lo, t_hi], with the same grid + Newton search (γ = 0)."""
    tmp = Components(
        comp_coef,
        torch.zeros(()),
        torch.zeros(()),
        torch.zeros(()),
        t_lo,
        t_hi,
        torch.zeros(()),
        torch.zeros(()),
    )
    t = _minimise_t(torch.zeros_like(t_lo), tmp, n_grid=129)
    return poly(comp_coef, t), t


class QuadraticConjugate:
    """Closed-form conjugate of order-2 components: h = g x̄ + min_{t∈[t_lo,t_hi]}(γt − c₁t − c₂t²) + P_max.

    For c₂ < 0 the minimiser is t* = clamp((γ − c₁)/(2c₂), t_lo, t_hi); a convex P (c₂ ≥ 0) has its minimum
    on an end point. Exact (it *is* the exact path for K = 2) and gather-free, hence the fast path for K = 2.
    """

    def __init__(self, comp: Components):
        if comp.order != 2:
            raise ValueError("QuadraticConjugate needs order-2 components")
        c1, c2 = comp.coef[..., 0], comp.coef[..., 1]
        delta = comp.scale == 0
        self.c1 = torch.where(delta, torch.zeros_like(c1), c1)
        self.c2 = torch.where(delta | (c2 >= 0), -torch.ones_like(c2), c2)
        self.convex = (~delta & (c2 >= 0)).any().item()
        self.comp = comp
        self.inv2c2 = 0.5 / self.c2

    def __call__(self, g: Tensor, with_var: bool = False) -> tuple[Tensor, Tensor | None]:
        comp = self.comp
        gamma = g * comp.scale
        if self.convex:
            return exact_conjugate_var(g, comp, with_var)
        t = ((gamma - self.c1) * self.inv2c2).clamp(min=comp.t_lo, max=comp.t_hi).detach()
        h = g * comp.xbar + (gamma - self.c1 - self.c2 * t) * t + comp.p_max
        return h, (conjugate_variance(t, comp) if with_var else None)


def exact_conjugate_var(g: Tensor, comp: Components, with_var: bool) -> tuple[Tensor, Tensor | None]:
    """:func:`exact_conjugate` plus the first-order variance of h (or None)."""
    h, x = exact_conjugate(g, comp)
    if not with_var:
        return h, None
    safe = torch.where(comp.scale > 0, comp.scale, torch.ones_like(comp.scale))
    ts = torch.where(comp.scale > 0, (x - comp.xbar) / safe, torch.zeros_like(x))
    return h, conjugate_variance(ts, comp)


@dataclass
class ConjugateTable:
    """Tabulated conjugates for the fast path (flattened over n_shells·d components).

    Attributes:
        g0: first grid point per component, shape (n_comp,).
        dg: grid spacing per component, shape (n_comp,).
        h: conjugate values, shape (n_comp·n_g,).
        x: minimisers x* (= dh/dg), shape (n_comp·n_g,).
        var: first-order variance of h, shape (n_comp·n_g,).
        n_g: grid points per component.
    """

    g0: Tensor
    dg: Tensor
    h: Tensor
    x: Tensor
    var: Tensor
    n_g: int

    @classmethod
    def build(cls, comp: Components, n_g: int = 128, chunk: int = 16) -> ConjugateTable:
        """Tabulate h, x*, var on [min S′, max S′] per component using :func:`exact_conjugate`."""
        _n_s, _d = comp.xbar.shape
        u = torch.linspace(0.0, 1.0, 257, dtype=torch.float64)
        tg = comp.t_lo[..., None] + (comp.t_hi - comp.t_lo)[..., None] * u
        safe = torch.where(comp.scale > 0, comp.scale, torch.ones_like(comp.scale))
        slope = poly(comp.coef[..., None, :], tg, 1) / safe[..., None]
        g_lo, g_hi = slope.min(-1).values, slope.max(-1).values
        delta = comp.scale == 0
        width = g_hi - g_lo
        tiny = width <= 1e-12 * (g_hi.abs() + g_lo.abs() + 1e-300)
        g_lo = torch.where(delta | tiny, g_lo - 1.0, g_lo)
        g_hi = torch.where(delta | tiny, g_hi + 1.0, g_hi)
        dg = (g_hi - g_lo) / (n_g - 1)
        grid = g_lo[..., None] + dg[..., None] * torch.arange(n_g, dtype=torch.float64)  # (n_s, d, n_g)
        grid = grid.permute(2, 0, 1)  # (n_g, n_s, d)
        hs, xs, vs = [], [], []
        for k in range(0, n_g, chunk):
            gk = grid[k : k + chunk]
            h, x = exact_conjugate(gk, comp)
            t_star = torch.where(comp.scale > 0, (x - comp.xbar) / safe, torch.zeros_like(x))
            hs.append(h.detach())
            xs.append(x)
            vs.append(conjugate_variance(t_star, comp))
        flat = lambda parts: torch.cat(parts).permute(1, 2, 0).reshape(-1)  # noqa: E731
        return cls(g0=g_lo.reshape(-1), dg=dg.reshape(-1), h=flat(hs), x=flat(xs), var=flat(vs), n_g=n_g)

    def __call__(self, g: Tensor, with_var: bool = False) -> tuple[Tensor, Tensor | None]:
        """Interpolate h(g) (and var h) for g of shape (..., n_comp); differentiable in g."""
        n_comp = self.g0.shape[0]
        u = (g - self.g0) / self.dg
        uc = u.clamp(0.0, self.n_g - 1.0)
        j = uc.detach().floor().clamp(max=self.n_g - 2)
        tau = uc - j
        idx = j.long() + torch.arange(n_comp) * self.n_g
        h0, h1 = self.h[idx], self.h[idx + 1]
        x0, x1 = self.x[idx], self.x[idx + 1]
        t2 = tau * tau
        t3 = t2 * tau
        a01 = 3.0 * t2 - 2.0 * t3
        h = h0 + (h1 - h0) * a01 + self.dg * (x0 * (t3 - 2.0 * t2 + tau) + x1 * (t3 - t2))
        h = h + (g - (self.g0 + uc * self.dg)) * (x0 + tau * (x1 - x0))
        var = None
        if with_var:
            v0, v1 = self.var[idx], self.var[idx + 1]
            var = (v0 + tau.detach() * (v1 - v0)).detach()
        return h, var


class PiecewiseBeta:
    """Shell sums Σ_a h_a(β θ̃_a) of order-2 components as exact piecewise quadratics in β, per model.

    For a quadratic component the unconstrained minimiser t*(β) = t_0 + β k is linear in β, so h is linear in
    β while t* is clamped to a range edge and quadratic in between. Bucketing the 2d break points of a shell
    into the β grid once per model (:meth:`__call__`) turns every (model, T) evaluation into a cumulative sum
    and one quadratic per shell, identical to :class:`QuadraticConjugate` up to rounding.

    Args:
        quad: the model's :class:`QuadraticConjugate` (concave components only).
    """

    def __init__(self, quad: QuadraticConjugate):
        if quad.convex:
            raise ValueError("PiecewiseBeta needs concave (c₂ < 0) quadratic components")
        comp = quad.comp
        c1, c2, s, xb, pm = quad.c1, quad.c2, comp.scale, comp.xbar, comp.p_max
        t0 = -c1 / (2.0 * c2)
        # θ-independent pieces: break point β = R/θ̃, edge values, interior quadratic coefficients / θ̃^k
        safe_s = torch.where(s > 0, s, torch.ones_like(s))
        self.R_lo = torch.where(s > 0, (comp.t_lo - t0) * 2.0 * c2 / safe_s, torch.zeros_like(s))
        self.R_hi = torch.where(s > 0, (comp.t_hi - t0) * 2.0 * c2 / safe_s, torch.zeros_like(s))
        self.L0_lo = pm - (c1 + c2 * comp.t_lo) * comp.t_lo
        self.L0_hi = pm - (c1 + c2 * comp.t_hi) * comp.t_hi
        self.X_lo, self.X_hi = xb + s * comp.t_lo, xb + s * comp.t_hi
        self.Q0 = c1 * c1 / (4.0 * c2) + pm
        self.Q1 = xb - c1 * s / (2.0 * c2)
        self.Q2 = s * s / (4.0 * c2)

    def __call__(self, theta_rot: Tensor, beta: Tensor) -> Tensor:
        """Σ_a h_a(β θ̃_a) for θ̃ (n_m, n_s, d) at β (n_T,) → (n_m, n_T, n_s).

        t* moves with β toward t_lo when θ̃ < 0 (c₂ < 0) and toward t_hi otherwise. Each component contributes
        two break points (enter the interior, reach the far edge); each is bucketed into the sorted β grid
        (binary search) and its coefficient jump added to that bucket, so a cumulative sum over the grid gives
        the piecewise-quadratic coefficients at every β without a per-model sort.
        """
        th = theta_rot
        n_m, n_s, _ = th.shape
        n_T = beta.shape[0]
        neg = th < 0
        inv = 1.0 / th
        b_lo, b_hi = self.R_lo * inv, self.R_hi * inv
        b1 = torch.nan_to_num(torch.where(neg, b_lo, b_hi), nan=0.0).clamp(min=0.0)
        b2 = torch.nan_to_num(torch.where(neg, b_hi, b_lo), nan=0.0).clamp(min=0.0)
        b2 = torch.where(th == 0, torch.full_like(b2, float("inf")), b2)
        l1_0, l2_0 = torch.where(neg, self.L0_lo, self.L0_hi), torch.where(neg, self.L0_hi, self.L0_lo)
        l1_1, l2_1 = th * torch.where(neg, self.X_lo, self.X_hi), th * torch.where(neg, self.X_hi, self.X_lo)
        q1, q2 = th * self.Q1, th * th * self.Q2
        bs, perm = beta.sort()
        k1, k2 = torch.searchsorted(bs, b1), torch.searchsorted(bs, b2)
        coefs = []
        for base, d1, d2 in (
            (l1_0.sum(-1), self.Q0 - l1_0, l2_0 - self.Q0),
            (l1_1.sum(-1), q1 - l1_1, l2_1 - q1),
            (None, q2, -q2),
        ):
            acc = torch.zeros(n_m, n_s, n_T + 1, dtype=th.dtype)
            acc.scatter_add_(-1, k1, d1.expand_as(th)).scatter_add_(-1, k2, d2.expand_as(th))
            cum = acc[..., :n_T].cumsum(-1)
            coefs.append(cum if base is None else cum + base[..., None])
        val = coefs[0] + bs * (coefs[1] + bs * coefs[2])  # (n_m, n_s, n_T), sorted β order
        out = torch.empty_like(val)
        out[..., perm] = val
        return out.transpose(-1, -2)
