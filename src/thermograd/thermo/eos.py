"""Volumes and pressure: G(θ, P, T), V*(T), thermal expansion and bulk modulus from F(θ, V, T) on a volume grid.

Each volume V_i (Å³/atom) of one phase is a :class:`~thermograd.free_energy.FreeEnergyEstimator` (one campaign
strain). For every model and temperature the free energies F_i ± σ_i are fitted in V by the rule below, then
F̂(V) + PV is minimised:

* **Fit rule.** F̂(V) = Σ_j a_j u^j with u the scaled Eulerian strain variable x = V^(−2/3) (mapped onto
  [−1, 1] over the sampled volumes), order 3 (``"birch3"``, the third-order Birch–Murnaghan form; ≥ 4 volumes),
  2 (``"birch2"``, second order, B' = 4; ≥ 3) or 4 (``"birch4"``; ≥ 5), by weighted least squares with weights
  1/σ_i² (equal weights where a σ_i is zero). The σ_i of different volumes are taken as independent (separate
  campaigns). Non-finite values are left out of the fit (and flagged).
* **Minimum.** V* is the lowest local minimum of F̂ + PV inside the sampled volumes; G = F̂(V*) + PV*,
  B = V* F̂''(V*). When there is none inside, the result is flagged (:data:`OUTSIDE`): the fit's local minimum
  within one sampled span beyond the range is reported flagged, else NaN — never an unflagged extrapolation.
* **Linear response.** F̂(V*) = Σ_i c_i(V*) F_i with c = Lᵀφ(V*) (L the weighted least-squares operator), and
  ∂F̂/∂V + P = 0 at V*, so (envelope theorem) ∂G/∂θ = Σ_i c_i ∂F_i/∂θ with no dV*/dθ term, and
  σ_G² = Σ_i c_i² σ_i² (= φᵀ Cov(a) φ, the fit covariance). dV*/dF_i = −(φ'(V*)ᵀL)_i / F̂''(V*) gives σ_V* and
  ∂V*/∂θ; σ_B follows the same linearisation.
* **Thermal expansion.** α = (1/V*) dV*/dT by central differences over the T grid (one-sided at its ends), so
  α at T_k uses V* at T_{k±1}; it has no σ (the errors of one campaign at neighbouring T are correlated).
* **Fit quality.** With more volumes than coefficients, a χ² of the weighted residuals with a p-value < 10⁻³
  flags the value (:data:`MISFIT`): the form does not describe F(V) within σ.

Pressure is in GPa at the interface (``thermograd.units.EV_PER_A3_TO_GPA``); energies eV/atom, volumes Å³/atom.
:func:`transition_at_pressure` finds T_c where G_b − G_a changes sign at a pressure P.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import chi2 as _chi2

from ..errors import InputError
from ..free_energy import FreeEnergyResult, as_coefficients
from ..units import EV_PER_A3_TO_GPA
from .transition import TransitionResult, find_crossings

__all__ = ["GibbsResult", "PressureTransition", "gibbs_free_energy", "transition_at_pressure"]

#: fit name → polynomial order in x = V^(−2/3)
FITS = {"birch2": 2, "birch3": 3, "birch4": 4}
OUTSIDE = "pressure outside the sampled volumes / strains do not bracket the minimum"
MISFIT = "the F(V) fit does not describe the free energies within σ (χ² p-value < 1e-3)"
NO_FIT = "too few finite free energies over the volumes for the F(V) fit"


@dataclass
class GibbsResult:
    """G(θ, P, T) of n_models models at n_T temperatures for one phase; arrays (n_models, n_T) unless stated.

    Attributes:
        G: Gibbs free energy per atom F̂(V*) + PV*, eV/atom. sigma_G: its 1σ (total σ_i); sigma_G_stat: from
            the statistical σ_i only.
        V: V*, Å³/atom. sigma_V: its 1σ. B: isothermal bulk modulus V* F̂''(V*), GPa. sigma_B: its 1σ.
        alpha: volumetric thermal expansion (1/V*) dV*/dT, 1/K (NaN with a single temperature).
        dG_dtheta, dV_dtheta: ∂G/∂θ (eV/atom per unit θ) and ∂V*/∂θ, (n_models, n_T, d), or None.
        weights: c_i(V*), (n_models, n_T, n_V): G − PV* = Σ_i c_i F_i. chi2, dof: of the weighted fit.
        flag_code, flag_reasons: as in FreeEnergyResult (0: not flagged). P: pressure, GPa. T: (n_T,), K.
        volumes: sampled volumes (n_V,), Å³/atom, increasing. inputs: the estimators' results, one per volume.
        routes: per volume, the routes that served it. fit, convention, labels, phase: what was done.
    """

    G: np.ndarray
    sigma_G: np.ndarray
    sigma_G_stat: np.ndarray
    V: np.ndarray
    sigma_V: np.ndarray
    B: np.ndarray
    sigma_B: np.ndarray
    alpha: np.ndarray
    dG_dtheta: np.ndarray | None
    dV_dtheta: np.ndarray | None
    weights: np.ndarray
    chi2: np.ndarray
    dof: int
    flag_code: np.ndarray
    flag_reasons: tuple[str, ...]
    P: float
    T: np.ndarray
    volumes: np.ndarray
    inputs: tuple[FreeEnergyResult, ...]
    routes: tuple[str, ...]
    fit: str
    convention: str
    labels: tuple[str, ...] = ()
    phase: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> np.ndarray:
        return self.flag_code > 0

    def reason(self, i: int, k: int) -> str:
        """Why value (model i, temperature k) is flagged ('' when it is not)."""
        return self.flag_reasons[int(self.flag_code[i, k])]

    def route(self, i: int, k: int) -> str:
        """The routes that served value (model i, temperature k) over the volumes ('a' or 'a; b')."""
        return "; ".join(dict.fromkeys(r.route(i, k) for r in self.inputs))

    def rows(self) -> list[dict]:
        """JSON-ready rows, one per model (lists over T; None where a value is NaN)."""
        keys = {"G": "G", "G_error": "sigma_G", "V": "V", "V_error": "sigma_V", "B_GPa": "B"}
        keys |= {"B_error": "sigma_B", "alpha_per_K": "alpha"}
        out = []
        for i in range(self.G.shape[0]):
            row = {"theta": self.labels[i] if i < len(self.labels) else f"theta[{i}]", "phase": self.phase}
            row |= {"P_GPa": self.P, "T": self.T.tolist(), "volumes": self.volumes.tolist(), "fit": self.fit}
            for key, name in keys.items():
                row[key] = [x if math.isfinite(x) else None for x in getattr(self, name)[i].tolist()]
            row["route"] = [self.route(i, k) for k in range(self.T.size)]
            row["flagged"] = self.flagged[i].tolist()
            row["flag_reason"] = [self.reason(i, k) for k in range(self.T.size)]
            out.append(row | {"convention": self.convention})
        return out


def _volume_list(estimators, volumes) -> np.ndarray:
    if volumes is None:
        missing = [e.name for e in estimators if getattr(e, "volume_per_atom", None) is None]
        if missing:
            raise InputError(
                f"no volumes given and estimator(s) {', '.join(map(str, missing))} carry no volume_per_atom; "
                "pass volumes= (Å³/atom), one per estimator"
            )
        volumes = [e.volume_per_atom for e in estimators]
    v = np.asarray(volumes, dtype=float).reshape(-1)
    if v.size != len(estimators):
        raise InputError(f"{v.size} volumes for {len(estimators)} estimators (one volume per estimator)")
    if not (np.isfinite(v).all() and (v > 0).all()):
        raise InputError(f"volumes must be finite and > 0 Å³/atom, got {v.tolist()}")
    if np.unique(v).size != v.size:
        raise InputError(f"the same volume appears twice: {np.sort(v).tolist()} Å³/atom")
    return v


class _Basis:
    """φ_j(V) = u^j and its V-derivatives, u = (V^(−2/3) − x_0)/s over the sampled volumes."""

    def __init__(self, volumes: np.ndarray, order: int):
        x = volumes ** (-2.0 / 3.0)
        self.x0, self.s, self.order = 0.5 * (x.max() + x.min()), 0.5 * (x.max() - x.min()), order

    def __call__(self, V: np.ndarray, k: int) -> np.ndarray:
        """k-th derivative (k ≤ 3) of the basis at V: shape V.shape + (order + 1,)."""
        V = np.asarray(V, dtype=float)[..., None]
        u = (V ** (-2.0 / 3.0) - self.x0) / self.s
        d1, d2, d3 = (c * V**e / self.s for c, e in ((-2 / 3, -5 / 3), (10 / 9, -8 / 3), (-80 / 27, -11 / 3)))
        j = np.arange(self.order + 1, dtype=float)
        p = lambda n: np.where(j >= n, u ** np.maximum(j - n, 0), 0.0)  # noqa: E731
        if k == 0:
            return p(0)
        if k == 1:
            return j * p(1) * d1
        if k == 2:
            return j * (j - 1) * p(2) * d1**2 + j * p(1) * d2
        return j * (j - 1) * (j - 2) * p(3) * d1**3 + 3 * j * (j - 1) * p(2) * d1 * d2 + j * p(1) * d3


def _minimise(basis: _Basis, a: np.ndarray, P: float, vmin: float, vmax: float):
    """V* (lowest local minimum of F̂ + PV inside [vmin, vmax], else within one span beyond; else NaN)."""
    span = vmax - vmin
    grid = np.linspace(max(vmin - span, 0.3 * vmin), vmax + span, 1201)
    h1 = np.einsum("gj,mkj->mkg", basis(grid, 1), a) + P
    h0 = np.einsum("gj,mkj->mkg", basis(grid, 0), a) + P * grid
    cand = (h1[..., :-1] < 0) & (h1[..., 1:] >= 0)
    inside = (grid[1:] >= vmin) & (grid[:-1] <= vmax)
    score_in = np.where(cand & inside, h0[..., :-1], np.inf)
    score = np.where(
        np.isfinite(score_in).any(-1, keepdims=True), score_in, np.where(cand, h0[..., :-1], np.inf)
    )
    g = np.argmin(score, axis=-1)
    found = np.isfinite(np.take_along_axis(score, g[..., None], -1)[..., 0])
    lo, hi = grid[g], grid[g + 1]
    for _ in range(60):  # bisection on the sign change of h' = F̂' + P
        mid = 0.5 * (lo + hi)
        neg = np.einsum("mkj,mkj->mk", basis(mid, 1), a) + P < 0
        lo, hi = np.where(neg, mid, lo), np.where(neg, hi, mid)
    return np.where(found, 0.5 * (lo + hi), np.nan)


def gibbs_free_energy(
    estimators, volumes, coefficients, T, P: float = 0.0, *, convention="ddos", fit="birch3", with_grad=False
) -> GibbsResult:
    """G(θ, P, T), V*, B and α of one phase from its free energies at several volumes (module docstring).

    Args:
        estimators: one :class:`~thermograd.free_energy.FreeEnergyEstimator` per volume, same phase and
            descriptor.
        volumes: Å³/atom, one per estimator, or None to read each estimator's ``volume_per_atom``.
        coefficients: :class:`~thermograd.free_energy.Coefficients` or θ of shape (d,) or (n_models, d).
        T: temperatures, K (n_T,). P: pressure, GPa.
        convention: harmonic convention of F ("ddos" or "cell"). fit: one of :data:`FITS`.
        with_grad: also ∂G/∂θ and ∂V*/∂θ (needs ∂F/∂θ from every estimator).

    Raises:
        InputError: fewer volumes than the fit needs, volumes missing/duplicated, estimators of different
            descriptor lengths, an unknown fit.
    """
    estimators = list(estimators)
    if fit not in FITS:
        raise InputError(f"unknown F(V) fit {fit!r}; use one of {', '.join(FITS)}")
    order = FITS[fit]
    if len(estimators) < order + 1:
        raise InputError(
            f"the {fit} fit of F(V) needs at least {order + 1} volumes, got {len(estimators)} "
            f"(add strains{', or use fit=birch2' if order > 2 and len(estimators) == 3 else ''})"
        )
    if len({e.n_features for e in estimators}) > 1:
        raise InputError(f"estimators of different descriptor lengths: {[e.n_features for e in estimators]}")
    if not np.isfinite(P):
        raise InputError(f"pressure must be finite, got {P!r} GPa")
    v = _volume_list(estimators, volumes)
    perm = np.argsort(v)
    v, estimators = v[perm], [estimators[i] for i in perm]
    coeffs = as_coefficients(coefficients, estimators[0].n_features)
    T = np.atleast_1d(np.asarray(T, dtype=float))
    res = [
        e.predict(coeffs, T, convention=convention, with_grad=with_grad, with_sigma=True) for e in estimators
    ]
    F = np.stack([r.F for r in res], -1)  # (M, K, n)
    sig = np.stack([r.sigma for r in res], -1)
    sig_stat = np.stack([r.sigma_stat for r in res], -1)
    ok = np.isfinite(F) & np.isfinite(sig)
    w = np.where(ok, 1.0, 0.0)
    weighted = (ok & (sig > 0)).sum(-1, keepdims=True) == ok.sum(-1, keepdims=True)
    w = np.where(weighted & ok, 1.0 / np.where(sig > 0, sig, 1.0) ** 2, w)
    enough = ok.sum(-1) >= order + 1
    w = np.where(enough[..., None], w, 1.0)
    Fz = np.where(ok, F, 0.0)

    basis = _Basis(v, order)
    X = basis(v, 0)  # (n, p)
    A = np.einsum("ni,mkn,nj->mkij", X, w, X)
    L = np.linalg.solve(A, np.einsum("ni,mkn->mkin", X, w))  # (M, K, p, n)
    a = np.einsum("mkin,mkn->mki", L, Fz)
    resid = np.einsum("ni,mki->mkn", X, a) - Fz
    dof = int(v.size - order - 1)
    chi2 = np.where(weighted[..., 0], (w * resid**2).sum(-1), np.nan)

    P_eV = float(P) / EV_PER_A3_TO_GPA
    Vs = _minimise(basis, a, P_eV, v[0], v[-1])
    Vs = np.where(enough, Vs, np.nan)
    Vq = np.where(np.isfinite(Vs), Vs, v[0])  # placeholder where NaN (results masked below)
    phi = [basis(Vq, k) for k in range(4)]  # (M, K, p) each
    c = np.einsum("mkin,mki->mkn", L, phi[0])
    lin = [np.einsum("mkin,mki->mkn", L, phi[k]) for k in (1, 2)]
    F2, F3 = (np.einsum("mki,mki->mk", phi[k], a) for k in (2, 3))
    dV_dF = -lin[0] / F2[..., None]
    dB_dF = Vq[..., None] * lin[1] + (F2 + Vq * F3)[..., None] * dV_dF  # eV/Å³ per eV
    nanmask = np.where(np.isfinite(Vs), 1.0, np.nan)
    G = (np.einsum("mkn,mkn->mk", c, Fz) + P_eV * Vq) * nanmask
    sig0 = np.where(ok, sig, 0.0)
    prop = lambda coef, s: np.sqrt(np.einsum("mkn,mkn->mk", coef**2, s**2)) * nanmask  # noqa: E731
    B = Vq * F2 * EV_PER_A3_TO_GPA * nanmask
    dG = dV = None
    if with_grad:
        grads = [r.dF_dtheta for r in res]
        if any(g is None for g in grads):
            raise InputError("with_grad: an estimator returned no ∂F/∂θ")
        dFt = np.nan_to_num(np.stack(grads, -1))  # (M, K, d, n)
        dG = np.einsum("mkn,mkdn->mkd", c, dFt) * nanmask[..., None]
        dV = np.einsum("mkn,mkdn->mkd", dV_dF, dFt) * nanmask[..., None]
    alpha = np.full(Vs.shape, np.nan)
    if T.size >= 2:
        alpha = np.gradient(Vs, T, axis=1) / Vs

    # flags: inputs, bracket, fit quality, too few values
    reasons: dict[str, int] = {"": 0}
    code = np.zeros(Vs.shape, np.uint8)
    p_val = np.where(np.isfinite(chi2) & (dof > 0), _chi2.sf(np.nan_to_num(chi2), max(dof, 1)), 1.0)
    outside = ~np.isfinite(Vs) | (Vs < v[0] * (1 - 1e-12)) | (Vs > v[-1] * (1 + 1e-12))
    for m, k in np.ndindex(Vs.shape):
        why = [f"V = {v[i]:.4g} Å³/atom: {r.reason(m, k)}" for i, r in enumerate(res) if r.flagged[m, k]]
        if not enough[m, k]:
            why.append(NO_FIT)
        elif outside[m, k]:
            why.append(OUTSIDE)
        if dof > 0 and p_val[m, k] < 1e-3:
            why.append(f"{MISFIT}: χ²/dof = {chi2[m, k] / dof:.3g}")
        if why:
            code[m, k] = reasons.setdefault("; ".join(why), len(reasons))
    warnings = []
    if outside.any():
        warnings.append(f"{OUTSIDE} at {int(outside.sum())} of {outside.size} values (P = {P:g} GPa)")
    kw = dict(G=G, V=Vs, B=B, alpha=alpha, dG_dtheta=dG, dV_dtheta=dV, weights=c, chi2=chi2, dof=dof)
    kw |= dict(sigma_G=prop(c, sig0), sigma_G_stat=prop(c, np.where(ok, sig_stat, 0.0)))
    kw |= dict(sigma_V=prop(dV_dF, sig0), sigma_B=prop(dB_dF, sig0) * EV_PER_A3_TO_GPA)
    kw |= dict(flag_code=code, flag_reasons=tuple(reasons), P=float(P), T=T, volumes=v, inputs=tuple(res))
    kw |= dict(
        routes=tuple(r.route_summary for r in res), fit=fit, convention=convention, labels=coeffs.labels
    )
    return GibbsResult(**kw, phase=estimators[0].name, warnings=warnings)


@dataclass
class PressureTransition(TransitionResult):
    """:class:`~.transition.TransitionResult` at a pressure: ``dF`` is ΔG = G_b − G_a (eV/atom) on the grid,
    each phase minimised over its fitted F(V); ``dE0`` is not defined (NaN). Also: ``P`` (GPa), ``dV`` (V*_b −
    V*_a at Tc, Å³/atom) and the ``fit``. ``routes`` per phase and T name the routes of all its volumes."""

    P: float = 0.0
    dV: float = math.nan
    fit: str = "birch3"

    def to_dict(self) -> dict:
        """JSON-ready summary (the TransitionResult keys, with ``dF`` = ΔG)."""
        out = super().to_dict()
        out["dE0"] = None
        out["convention"] = (
            f"dF = G_b - G_a (eV/atom) at P = {self.P:g} GPa, each phase at the minimum of its fitted F(V) "
            f"({self.fit}) + PV; harmonic convention {self.convention!r}"
        )
        nan = lambda xs: [x if math.isfinite(x) else None for x in xs]  # noqa: E731
        out |= {"dF": nan(self.dF.tolist()), "sigma_dF": nan(self.sigma_dF.tolist())}
        return out | {"P_GPa": self.P, "dV_A3_per_atom": self.dV if math.isfinite(self.dV) else None}


def transition_at_pressure(
    est_a,
    volumes_a,
    est_b,
    volumes_b,
    coefficients,
    T,
    P=0.0,
    *,
    refine=True,
    convention="ddos",
    fit="birch3",
) -> PressureTransition:
    """T_c where G_b − G_a changes sign at pressure P (phase a stable below T_c when ΔG > 0 there).

    ``est_a``/``est_b`` are lists of estimators over volumes (``volumes_*`` as in :func:`gibbs_free_energy`);
    one coefficient vector. The bracketed root is refined by regula falsi on G (else linear interpolation), as
    in :func:`~.transition.transition_temperature`; Tc_error = σ_ΔG(T_c)/|dΔG/dT|.
    """
    coeffs = as_coefficients(coefficients, next(iter(est_a)).n_features)
    if len(coeffs) != 1:
        raise InputError("transition_at_pressure takes one coefficient vector θ of shape (d,)")
    T = np.asarray(T, dtype=float).reshape(-1)
    if T.size < 2 or np.any(np.diff(T) <= 0):
        raise InputError("the temperature grid must be increasing with at least 2 points")

    def both(temps):
        ra = gibbs_free_energy(est_a, volumes_a, coeffs, temps, P, convention=convention, fit=fit)
        rb = gibbs_free_energy(est_b, volumes_b, coeffs, temps, P, convention=convention, fit=fit)
        return ra, rb, rb.G[0] - ra.G[0]

    ra, rb, dG = both(T)
    tag = lambda r, k: f"{r.phase}: {r.reason(0, k)}" if r.flagged[0, k] else ""  # noqa: E731
    crossings = find_crossings(T, dG, lambda t: both([t])[2][0], refine)
    common = dict(phases=(ra.phase, rb.phase), convention=convention, P=float(P), fit=fit)
    common["routes"] = tuple([r.route(0, k) for k in range(T.size)] for r in (ra, rb))
    common["reasons"] = ["; ".join(filter(None, (tag(ra, k), tag(rb, k)))) for k in range(T.size)]
    grid = (T, dG, np.hypot(ra.sigma_G[0], rb.sigma_G[0]), math.nan, ra.flagged[0] | rb.flagged[0])
    if not crossings:
        msg = f"ΔG does not change sign between {T[0]:g} and {T[-1]:g} K at {P:g} GPa: no transition on this grid"
        return PressureTransition(
            math.nan, math.nan, math.nan, [], math.nan, *grid, False, warnings=[msg], **common
        )
    tc = crossings[0]
    h = max(1e-3 * tc, 0.5)
    ra3, rb3, d3 = both([tc - h, tc, tc + h])
    slope = float((d3[2] - d3[0]) / (2 * h))
    s_tot = np.hypot(ra3.sigma_G[0, 1], rb3.sigma_G[0, 1])
    s_stat = np.hypot(ra3.sigma_G_stat[0, 1], rb3.sigma_G_stat[0, 1])
    err, err_stat = (float(s / abs(slope)) if slope != 0 else math.inf for s in (s_tot, s_stat))
    at_tc = bool(ra3.flagged[0].any() or rb3.flagged[0].any())
    warnings = []
    if at_tc:
        why = sorted({r.reason(0, k) for r in (ra3, rb3) for k in range(3) if r.flagged[0, k]})
        warnings.append(f"at Tc = {tc:.1f} K the Gibbs free energies are flagged ({'; '.join(why)})")
    if len(crossings) > 1:
        warnings.append(
            f"ΔG changes sign {len(crossings)} times: {', '.join(f'{x:.1f}' for x in crossings)} K"
        )
    common["dV"] = float(rb3.V[0, 1] - ra3.V[0, 1])
    return PressureTransition(tc, err, err_stat, crossings, slope, *grid, at_tc, warnings=warnings, **common)
