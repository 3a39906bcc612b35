"""Compiled fast path of the D-DOS estimator for order-2 (quadratic) component entropies.

Same mathematics as the torch estimator with :class:`~thermograd.ddos.estimators.conjugate.QuadraticConjugate` and the
not-a-knot α spline (:class:`~thermograd.ddos.estimators.core.AlphaSpline`), fused into one loop nest compiled by
numba: per model the rotated coefficients θ̃_i = W_iᵀθ (n_s·d² multiply-adds), then per temperature the
closed-form conjugates of the n_s·d components, the spline minimum over α, the propagated variance and the
gradient. No temporaries of size n_models·n_T·n_s·d are formed, so the cost is flat in the batch size.

The gradient is the envelope-theorem form ∂F/∂θ = D_0 + Σ_i w_i(α*) W_i x*_i (w_i the spline weights, x*_i
the clamped minimisers): exact for this estimator, since α* and x* enter only through stationary points or
range edges where the value is linear in g. Tests check every output against the torch/autograd path.

Without numba the same functions run as plain Python (correct, slow); :data:`HAVE_NUMBA` tells which.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import InputError
from ...units import HBAR2_PER_AMU, KB

try:  # numba is a dependency; the fallback keeps the package importable where llvmlite is unavailable
    import numba

    HAVE_NUMBA = True
    _jit = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

    def _jit(fn):
        return fn


#: status codes of :func:`predict_quadratic`.
OK, BAD_THETA, BAD_T = 0, 1, 2


@_jit
def _spline_min(y, M, alphas, widths):
    """Minimiser (j, τ) of the not-a-knot spline through (α_i, y_i), same rule as ``AlphaSpline.argmin``:
    roots of the derivative on the intervals next to the two lowest nodes (intervals in the order
    lowest−1, second−1, lowest, second; candidates τ = 0, r₁, r₂, width)."""
    n = y.shape[0]
    i1, i2 = 0, -1
    for i in range(1, n):
        if y[i] < y[i1]:
            i1 = i
    if n > 1:
        i2 = 1 if i1 == 0 else 0
        for i in range(n):
            if i != i1 and y[i] < y[i2]:
                i2 = i
    best, bj, btau = np.inf, 0, 0.0
    lows = (i1 - 1, i2 - 1, i1, i2)
    for q in range(4):
        iv = lows[q]
        if iv < 0:
            iv = 0
        if iv > n - 2:
            iv = n - 2
        c0 = c1 = c2 = c3 = 0.0
        for k in range(n):
            yk = y[k]
            c0 += yk * M[iv, 0, k]
            c1 += yk * M[iv, 1, k]
            c2 += yk * M[iv, 2, k]
            c3 += yk * M[iv, 3, k]
        qa, qb, qc = 3.0 * c3, 2.0 * c2, c1
        disc = qb * qb - 4.0 * qa * qc
        sq = math.sqrt(disc) if disc > 0.0 else 0.0
        qq = -0.5 * (qb + (sq if qb >= 0 else -sq))
        if qa == 0.0:
            r1 = -qc / qb if qb != 0.0 else 0.0
        else:
            r1 = qq / qa
        r2 = qc / qq if qq != 0.0 else 0.0
        w = widths[iv]
        for c in range(4):
            tau = 0.0 if c == 0 else r1 if c == 1 else r2 if c == 2 else w
            if not (tau >= 0.0 and tau <= w and math.isfinite(tau)):
                tau = 0.0
            val = ((c3 * tau + c2) * tau + c1) * tau + c0
            if val < best:
                best, bj, btau = val, iv, tau
    return bj, btau


#: rows of the packed per-component array (see :class:`QuadraticKernel`).
C1, C2, INV2C2, XBAR, SCALE, T_LO, T_HI, PMAX, T_MODE, LAM, COV00, COV01, COV10, COV11 = range(14)
#: rows of the packed per-shell array.
ALPHA, WIDTH, NSAMP = range(3)


@_jit
def predict_quadratic(theta, T, static, want_grad, want_var):
    """F and friends of θ (n_m, d) at T (n_T,).

    Args:
        static: (Wt, D0, P, A, M, s0_const, n_atoms) of :class:`QuadraticKernel`.
        Wt: (n_s·d, d), row s·d + a = column a of W_s. D0: (d,). P: packed components (14, n_s, d).
        A: packed shells (3, n_s) (α, width to the next shell, sample count). M: spline (n_s−1, 4, n_s).
        s0_const: ln(3ħ²/(m k_B)) + ⟨ln ν⟩ − 1, so that S_0(α, T) = −1.5 (s0_const − ln T − α).

    Returns:
        (status, out, grad): out (5, n_m, n_T) holds the rows F, F_rel, σ_stat (0 without want_var), α* and
        out-of-range (1.0/0.0); grad is (n_m, n_T, d), or (0, 0, 0) without want_grad. Few returned objects
        keep the call overhead low.
    """
    Wt, D0, P, A, M, s0_const, n_atoms = static
    n_m, d = theta.shape
    n_s = A.shape[1]
    n_T = T.shape[0]
    out = np.zeros((5, n_m, n_T))
    grad = np.empty((n_m, n_T, d) if want_grad else (0, 0, 0))
    status = OK
    for k in range(n_T):
        if not (T[k] > 0.0 and math.isfinite(T[k])):
            status = BAD_T
    for m in range(n_m):
        for p in range(d):
            if not math.isfinite(theta[m, p]):
                status = BAD_THETA
    if status != OK:
        return status, out, grad
    alphas, widths = A[ALPHA], A[WIDTH]
    xs = np.empty(n_s * d)
    ts = np.empty((n_s, d))
    y = np.empty(n_s)
    v = np.empty(n_s)
    wts = np.empty(n_s)
    a_span = alphas[n_s - 1] - alphas[0]
    for m in range(n_m):
        e0 = 0.0
        for p in range(d):
            e0 += theta[m, p] * D0[p]
        tr = np.dot(Wt, theta[m]).reshape(n_s, d)  # θ̃_s = W_sᵀ θ for all shells (one BLAS gemv)
        if want_var:
            for s in range(n_s):
                acc = 0.0
                for a in range(d):
                    acc += P[LAM, s, a] * tr[s, a] * tr[s, a]
                v[s] = acc
        for k in range(n_T):
            beta = 1.0 / (KB * T[k])
            logT = math.log(T[k])
            for s in range(n_s):
                acc = 0.0
                for a in range(d):
                    g = beta * tr[s, a]
                    gam = g * P[SCALE, s, a]
                    t = (gam - P[C1, s, a]) * P[INV2C2, s, a]
                    t = min(max(t, P[T_LO, s, a]), P[T_HI, s, a])
                    acc += g * P[XBAR, s, a] + (gam - P[C1, s, a] - P[C2, s, a] * t) * t + P[PMAX, s, a]
                    ts[s, a] = t
                y[s] = acc + 1.5 * (s0_const - logT - alphas[s])  # Σ_a h − S_0
            j, tau = _spline_min(y, M, alphas, widths)
            G = 0.0
            for s in range(n_s):
                wts[s] = M[j, 0, s] + tau * (M[j, 1, s] + tau * (M[j, 2, s] + tau * M[j, 3, s]))
                G += wts[s] * y[s]
            kT = KB * T[k]
            out[0, m, k] = kT * G + e0
            out[1, m, k] = kT * G
            a_st = alphas[j] + tau
            out[3, m, k] = a_st
            eps = 1e-9 * a_span
            out[4, m, k] = 1.0 if (a_st <= alphas[0] + eps or a_st >= alphas[n_s - 1] - eps) else 0.0
            if want_var:  # per shell the larger of the score-fit and the two-moment variance
                b2 = beta * beta
                tot = 0.0
                for s in range(n_s):
                    vh = 0.0
                    for a in range(d):
                        t, tm = ts[s, a], P[T_MODE, s, a]
                        p0, p1 = t - tm, t * t - tm * tm
                        vh += p0 * (P[COV00, s, a] * p0 + P[COV01, s, a] * p1)
                        vh += p1 * (P[COV10, s, a] * p0 + P[COV11, s, a] * p1)
                    vm = (b2 * v[s] + 0.5 * n_atoms * n_atoms * b2 * b2 * v[s] * v[s]) / A[NSAMP, s]
                    tot += wts[s] * wts[s] * (vh if vh > vm else vm)
                out[2, m, k] = kT * math.sqrt(tot)
            if want_grad:  # D_0 + Σ_s w_s W_s x*_s (one BLAS gemv over all shells)
                for s in range(n_s):
                    ws = wts[s]
                    for a in range(d):
                        xs[s * d + a] = ws * (P[XBAR, s, a] + P[SCALE, s, a] * ts[s, a])
                gp = np.dot(xs, Wt)
                for p in range(d):
                    grad[m, k, p] = D0[p] + gp[p]
    return status, out, grad


class QuadraticKernel:
    """Arrays of one order-2 model laid out for :func:`predict_quadratic`.

    Args:
        model: a :class:`~thermograd.ddos.estimators.model.DDOSModel` whose components are concave quadratics.
        alt: use the second-best-order components (model-error term) instead.
    """

    def __init__(self, model, alt: bool = False):
        quad = model.conj_fn("fast", alt=alt)
        comp = quad.comp
        geo = model.geometry
        n = lambda t: t.detach().numpy()  # noqa: E731
        cov = n(comp.cov)
        rows = [quad.c1, quad.c2, quad.inv2c2, comp.xbar, comp.scale, comp.t_lo, comp.t_hi, comp.p_max]
        rows = [n(r) for r in [*rows, comp.t_mode]] + [np.maximum(geo.eigenvalues, 0.0)]
        rows += [cov[..., 0, 0], cov[..., 0, 1], cov[..., 1, 0], cov[..., 1, 1]]
        self.P = np.ascontiguousarray(np.stack(rows), dtype=np.float64)
        alphas = np.asarray(geo.alphas, dtype=np.float64)
        self.A = np.ascontiguousarray(
            np.stack([alphas, np.append(np.diff(alphas), 0.0), np.asarray(geo.n_samples, dtype=np.float64)])
        )
        n_s, d, _ = geo.rotations.shape
        wt = np.asarray(geo.rotations, dtype=np.float64).transpose(0, 2, 1)
        self.Wt = np.ascontiguousarray(wt).reshape(n_s * d, d)
        self.D0 = np.ascontiguousarray(model.D_0, dtype=np.float64)
        self.M = np.ascontiguousarray(model._static()[1].matrix.numpy())
        self.s0_const = math.log(3.0 * HBAR2_PER_AMU / (model.mass * KB)) + model.mean_log_nu - 1.0
        self.n_atoms = float(model.n_atoms)
        self.d = d
        self.static = (self.Wt, self.D0, self.P, self.A, self.M, self.s0_const, self.n_atoms)

    def raw(self, theta: np.ndarray, T: np.ndarray, want_grad: bool, want_var: bool) -> tuple:
        """The kernel's (status, out, grad) (see :func:`predict_quadratic`); θ (n_m, d) float64 C-order."""
        return predict_quadratic(theta, T, self.static, want_grad, want_var)

    def __call__(self, theta: np.ndarray, T: np.ndarray, want_grad: bool, want_var: bool) -> dict:
        """θ (n_m, d) float64 C-contiguous, T (n_T,) → dict of F, F_rel, sigma, alpha_star, oor, grad.

        Raises:
            ValueError: non-finite θ or T ≤ 0 (callers validate first and turn it into an InputError).
        """
        status, out, grad = self.raw(theta, T, want_grad, want_var)
        check_status(status)
        return {
            "F": out[0],
            "F_rel": out[1],
            "sigma": out[2],
            "alpha_star": out[3],
            "oor": out[4] > 0.5,
            "grad": grad if want_grad else None,
        }


def check_status(status: int) -> None:
    """Raise ValueError for a kernel status other than OK."""
    if status == BAD_THETA:
        raise ValueError("θ contains non-finite values")
    if status == BAD_T:
        raise ValueError("temperatures must be finite and > 0 K")


class Predictor:
    """Low-latency F(θ, T) of one model: the compiled estimator of :meth:`DDOSModel.predict` with the
    fewest possible Python steps around it, for inner loops (optimisers, MCMC over θ, 10^5-model sweeps).

    ``p(theta, T, grad=True, sigma=True)`` returns a tuple ``(F, sigma, dF_dtheta, out_of_range)``: total F
    per atom (eV/atom, E_0 included; shape (n_models, n_T)), its propagated 1σ (score-fit and moment noise,
    no model-error term), ∂F/∂θ (n_models, n_T, d) or None, and the out-of-range flags. Numbers are those of
    ``predict(method="fast")``.

    Raises:
        InputError: the model is not a concave order-2 model (use :meth:`DDOSModel.predict`), θ of the wrong
            shape or non-finite, T ≤ 0.
    """

    def __init__(self, model):
        kernel = model._kernel()
        if kernel is None:
            raise InputError(
                f"model {model.name!r} (order {model.order}) has no compiled fast path; use model.predict()"
            )
        self._k = kernel
        self.d = kernel.d

    def __call__(self, theta, T, grad: bool = True, sigma: bool = True):
        th = np.asarray(theta, dtype=np.float64)
        if th.ndim == 1:
            th = th.reshape(1, -1)
        if th.ndim != 2 or th.shape[1] != self.d:
            raise InputError(f"θ must have shape ({self.d},) or (n_models, {self.d}), got {np.shape(theta)}")
        Ts = np.asarray(T, dtype=np.float64).reshape(-1)
        status, out, g = self._k.raw(np.ascontiguousarray(th), Ts, grad, sigma)
        if status:
            try:
                check_status(status)
            except ValueError as exc:
                raise InputError(str(exc)) from None
        return out[0], out[2], (g if grad else None), out[4] > 0.5
