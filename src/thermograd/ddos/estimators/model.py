"""A fitted D-DOS model of one phase at one strain: score-matched shell entropies + the estimator.

``DDOSModel.fit(dataset)`` turns a :class:`~thermograd.ddos.dataset.PhaseDataset` (histogram sufficient
statistics per shell and principal component) into polynomial per-component entropies S_{α,a}(x) with their
coefficient covariance (:mod:`.score`), the order chosen by held-out Hyvärinen loss. ``model.predict(θ, T)``
returns F(θ, T) ± σ with ∂F/∂θ for batches of models and temperatures (:mod:`.estimator`).
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ...errors import InputError
from ...free_energy import FreeEnergyResult, as_coefficients, check_convention, make_result
from ...harmonic import harmonic_free_energy_of, mean_log_hbar_omega
from . import core as est
from .conjugate import (
    Components,
    ConjugateTable,
    PiecewiseBeta,
    QuadraticConjugate,
    exact_conjugate_var,
    normalise,
)
from .fastpath import HAVE_NUMBA, Predictor, QuadraticKernel
from .score import DEFAULT_ORDERS, fit_score, select_order

#: histograms with fewer non-empty bins than this are not fitted by a polynomial (Gaussian / delta fallback).
MIN_BINS = 5


@dataclass
class ShellGeometry:
    """Per-shell data the estimator needs (n_s shells, d features).

    Attributes:
        alphas: α_i, shape (n_s,), ln Å². T_shells: T_α, shape (n_s,), K.
        rotations: PCA bases W_i (columns), shape (n_s, d, d). n_samples: shape (n_s,).
        means: shell means of D, shape (n_s, d).
        eigenvalues: PCA eigenvalues λ_{i,a} (variances of the components), shape (n_s, d).
    """

    alphas: np.ndarray
    T_shells: np.ndarray
    rotations: np.ndarray
    n_samples: np.ndarray
    means: np.ndarray
    eigenvalues: np.ndarray


def _to_components(arrs: dict[str, np.ndarray], prefix: str = "") -> Components:
    t = lambda k: torch.tensor(np.asarray(arrs[prefix + k], dtype=float))  # noqa: E731
    return Components(
        t("coef"), t("cov"), t("xbar"), t("scale"), t("t_lo"), t("t_hi"), t("p_max"), t("t_mode")
    )


@dataclass
class DDOSModel:
    """Fitted D-DOS model of one phase (see module docstring).

    Attributes:
        name: phase label. n_atoms: N. mass: amu. volume_per_atom: Å³/atom. strain: isotropic strain.
        D_0: perfect-lattice descriptor, shape (d,). kappa_bar: κ̄, eV/Å². mean_log_nu: ⟨ln ν⟩.
        n_modes: 3N − 3. geometry: :class:`ShellGeometry`.
        arrays: component arrays (coef, cov, xbar, scale, t_lo, t_hi, p_max, t_mode; the same with prefix
            ``alt_`` for the second-best order used as the model-error term).
        order, alt_order: polynomial orders K. fit_info: selection scores, ridge, seed, counts of fallbacks.
        E0_reference, descriptor, provenance: as in the data set.
    """

    name: str
    n_atoms: int
    mass: float
    volume_per_atom: float
    strain: float
    D_0: np.ndarray
    kappa_bar: float
    mean_log_nu: float
    n_modes: int
    geometry: ShellGeometry
    arrays: dict[str, np.ndarray]
    order: int
    alt_order: int
    fit_info: dict = field(default_factory=dict)
    E0_reference: float | None = None
    descriptor: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cache: dict = {}

    # ------------------------------------------------------------------ fit
    @classmethod
    def fit(
        cls,
        dataset,
        orders: tuple[int, ...] = DEFAULT_ORDERS,
        order: int | None = None,
        ridge: float | None = None,
        seed: int = 0,
        weighting: str = "boundary",
        range_factor: float = 1.0,
    ) -> DDOSModel:
        """Score-match every shell and component of a phase data set.

        Args:
            dataset: :class:`~thermograd.ddos.dataset.PhaseDataset`.
            orders: candidate polynomial orders for the held-out selection rule.
            order: force this order (skips the selection).
            ridge: ridge λ (default 1/N).
            seed: seed of the held-out splitting.
            weighting: "boundary" (default): score matching with a weight vanishing at the histogram edges,
                consistent for the percentile-truncated histograms; "none": the plain Hyvärinen objective of
                the reference implementation.
            range_factor: the inner minimisation over x is restricted to the histogram range (bin centres)
                scaled by this factor about its centre. 1 (default) never extrapolates the fitted S (like the
                reference); > 1 lets strongly tilted models use the fitted S beyond the sampled range
                (sensible
                for order 2, where S is the Gaussian/cumulant form).
        """
        if not range_factor >= 1.0:
            raise InputError(f"range_factor must be >= 1, got {range_factor!r}")
        if weighting not in ("boundary", "none"):
            raise InputError(f"unknown score weighting {weighting!r}; use 'boundary' or 'none'")
        t0 = time.perf_counter()
        N = int(dataset.n_atoms)
        shells = dataset.shells
        n_s, d = len(shells), dataset.n_features
        D0 = np.asarray(dataset.D_0, dtype=float)
        rot = np.stack([np.asarray(s.basis, dtype=float) for s in shells])
        means = np.stack([np.asarray(s.mean, dtype=float) for s in shells])
        offset = np.einsum("sda,sd->sa", rot, means - D0)  # x of the shell mean, (n_s, d)
        edges = np.stack([np.asarray(s.edges, dtype=float) for s in shells])  # (n_s, d, nb+1)
        counts = np.stack([np.asarray(s.counts, dtype=float) for s in shells])  # (n_s, d, nb)
        eig = np.stack([np.asarray(s.eigenvalues, dtype=float) for s in shells])
        centres = 0.5 * (edges[..., 1:] + edges[..., :-1]) + offset[..., None]
        xbar = centres.mean(-1)
        scale = centres.std(-1)
        nonempty = (counts > 0).sum(-1)
        regular = (nonempty >= MIN_BINS) & (scale > 1e-12 * (1.0 + np.abs(xbar)))
        gauss = ~regular & (eig > 0)
        delta = ~regular & ~gauss
        t = (centres - xbar[..., None]) / np.where(regular, scale, 1.0)[..., None]
        t_reg, c_reg = t[regular], counts[regular]
        safe_scale = np.where(regular, scale, 1.0)
        ta = (edges[..., 0] + offset - xbar) / safe_scale
        tb = (edges[..., -1] + offset - xbar) / safe_scale
        e_reg = (ta[regular], tb[regular]) if weighting == "boundary" else None
        scores: dict = {}
        if order is None:
            if t_reg.shape[0]:
                order, scores = select_order(t_reg, c_reg, N, orders, seed=seed, ridge=ridge, edges=e_reg)
                ranked = sorted(scores, key=lambda k: scores[k])
                alt = ranked[1] if len(ranked) > 1 else ranked[0]
            else:
                order, alt = 2, 2
        else:
            alt = order + 1 if order + 1 <= max((*orders, order + 1)) else order
        arrays: dict[str, np.ndarray] = {}
        for prefix, K in (("", order), ("alt_", alt)):
            coef = np.zeros((n_s, d, K))
            cov = np.zeros((n_s, d, K, K))
            if t_reg.shape[0]:
                fit = fit_score(t_reg, c_reg, N, K, ridge, e_reg)
                coef[regular], cov[regular] = fit.coef, fit.cov
            sc = np.where(regular, scale, 0.0)
            xb = np.where(regular, xbar, offset)
            mid, half = 0.5 * (t[..., 0] + t[..., -1]), 0.5 * (t[..., -1] - t[..., 0])
            tlo = np.where(regular, mid - range_factor * half, 0.0)
            thi = np.where(regular, mid + range_factor * half, 0.0)
            # Gaussian fallback from the PCA eigenvalue: S = −(x − m)²/(2Nλ), t = (x − m)/√λ ∈ [−5, 5]
            sc = np.where(gauss, np.sqrt(np.where(gauss, eig, 1.0)), sc)
            coef[gauss] = 0.0
            coef[gauss, 1] = -0.5 / N
            tlo, thi = np.where(gauss, -5.0, tlo), np.where(gauss, 5.0, thi)
            cflat = torch.tensor(coef)
            pmax, tmode = normalise(cflat, torch.tensor(tlo), torch.tensor(thi))
            arrays.update(
                {
                    prefix + "coef": coef,
                    prefix + "cov": cov,
                    prefix + "xbar": xb,
                    prefix + "scale": sc,
                    prefix + "t_lo": tlo,
                    prefix + "t_hi": thi,
                    prefix + "p_max": pmax.numpy(),
                    prefix + "t_mode": tmode.numpy(),
                }
            )
        geometry = ShellGeometry(
            alphas=np.asarray(dataset.alphas, dtype=float),
            T_shells=np.asarray(dataset.T_shells, dtype=float),
            rotations=rot,
            n_samples=np.array([s.n_samples for s in shells]),
            means=means,
            eigenvalues=eig,
        )
        info = {
            "rule": "held-out Hyvärinen loss, binomial half splits (3 × 2 directions), min over orders",
            "candidate_orders": list(orders),
            "selection_scores": {str(k): v for k, v in scores.items()},
            "weighting": weighting,
            "range_factor": range_factor,
            "ridge": ridge if ridge is not None else 1.0 / N,
            "seed": seed,
            "n_regular": int(regular.sum()),
            "n_gaussian_fallback": int(gauss.sum()),
            "n_delta": int(delta.sum()),
            "fit_seconds": time.perf_counter() - t0,
            "n_bins": int(counts.shape[-1]),
        }
        prov = dict(dataset.provenance)
        prov.setdefault(
            "fitted_with", f"thermograd, python {platform.python_version()}, numpy {np.__version__}"
        )
        return cls(
            name=dataset.name,
            n_atoms=N,
            mass=float(dataset.mass),
            volume_per_atom=float(dataset.volume_per_atom),
            strain=float(dataset.strain),
            D_0=D0,
            kappa_bar=float(dataset.kappa_bar),
            mean_log_nu=float(dataset.mean_log_nu),
            n_modes=int(dataset.n_modes),
            geometry=geometry,
            arrays=arrays,
            order=int(order),
            alt_order=int(alt),
            fit_info=info,
            E0_reference=dataset.E0_reference,
            descriptor=dict(dataset.descriptor),
            provenance=prov,
        )

    # ------------------------------------------------------------ accessors
    @property
    def n_features(self) -> int:
        return int(self.D_0.shape[0])

    @property
    def n_shells(self) -> int:
        return int(self.geometry.alphas.shape[0])

    def components(self, alt: bool = False) -> Components:
        key = "comp_alt" if alt else "comp"
        if key not in self._cache:
            self._cache[key] = _to_components(self.arrays, "alt_" if alt else "")
        return self._cache[key]

    def table(self, alt: bool = False, n_g: int = 128) -> ConjugateTable:
        """Tabulated conjugates of the fast path (built on first use, then cached)."""
        key = ("table_alt" if alt else "table", n_g)
        if key not in self._cache:
            self._cache[key] = ConjugateTable.build(self.components(alt), n_g=n_g)
        return self._cache[key]

    def _static(self):
        if "static" not in self._cache:
            g = self.geometry
            self._cache["static"] = (
                torch.tensor(g.rotations),
                est.AlphaSpline(g.alphas),
                est.make_s0_fn(g.alphas, self.mass, self.mean_log_nu),
                torch.tensor(self.D_0),
            )
        return self._cache["static"]

    def moment_var_fn(self):
        """Per-shell variance of G_i from the sampling noise of the shell mean and variance along the tilt.

        For n i.i.d. samples with tilt variance v_i = θᵀC_iθ = Σ_a λ_{i,a} θ̃_{i,a}²: Var(β θ·μ̂) = β² v_i/n and
        Var(½Nβ² θᵀĈθ) = ½N²β⁴ v_i²/n. This covers the noise of the PCA basis itself (which the per-component
        covariance of the score fit, in a fixed basis, does not).
        """
        if "moment" in self._cache:
            return self._cache["moment"]
        lam = torch.tensor(np.maximum(self.geometry.eigenvalues, 0.0))
        n = torch.tensor(self.geometry.n_samples, dtype=torch.float64)
        N = float(self.n_atoms)

        def fn(theta_rot, beta):
            v = (lam * theta_rot**2).sum(-1)[:, None, :]  # (n_m, 1, n_s)
            b2 = (beta**2)[None, :, None]
            return (b2 * v + 0.5 * N**2 * b2**2 * v**2) / n

        self._cache["moment"] = fn
        return fn

    def conj_fn(self, method: str = "fast", alt: bool = False):
        """g (..., n_s, d) → (h, var) for the chosen route."""
        if method == "fast" and self.components(alt).order == 2:
            key = "quad_alt" if alt else "quad"
            if key not in self._cache:
                self._cache[key] = QuadraticConjugate(self.components(alt))
            return self._cache[key]
        if method == "fast":
            table = self.table(alt)

            def fn(g, with_var):
                shape = g.shape
                h, var = table(g.reshape(*shape[:-2], -1), with_var)
                return h.reshape(shape), (var.reshape(shape) if var is not None else None)

            return fn
        if method in ("exact", "table"):
            comp = self.components(alt)
            if method == "table":
                table = self.table(alt)

                def fn_table(g, with_var):
                    shape = g.shape
                    h, var = table(g.reshape(*shape[:-2], -1), with_var)
                    return h.reshape(shape), (var.reshape(shape) if var is not None else None)

                return fn_table
            return lambda g, with_var: exact_conjugate_var(g, comp, with_var)
        raise InputError(f"unknown estimator method {method!r}; use 'fast', 'table' or 'exact'")

    def _kernel(self, alt: bool = False):
        """The compiled order-2 kernel of these (or the alternative) components, or None where not applicable
        (order ≠ 2, a convex component, or numba unavailable)."""
        key = ("kernel", alt)
        if key not in self._cache:
            comp = self.components(alt)
            ok = HAVE_NUMBA and comp.order == 2 and not self.conj_fn("fast", alt=alt).convex
            self._cache[key] = QuadraticKernel(self, alt=alt) if ok else None
        return self._cache[key]

    def predictor(self) -> Predictor:
        """A low-latency callable ``p(θ, T) -> (F, sigma, dF_dtheta, out_of_range)`` for optimisers and
        sampling loops (see :class:`~.fastpath.Predictor`)."""
        return Predictor(self)

    # --------------------------------------------------------------- predict
    def free_energy_torch(self, theta, T, method: str = "fast") -> dict:
        """Differentiable F(θ, T) as torch tensors (graph kept w.r.t. θ and T).

        Args:
            theta: (d,) or (n_models, d) tensor/array, eV per descriptor unit.
            T: (n_T,) temperatures, K.

        Returns:
            dict: "F" (n_models, n_T) total eV/atom, "F_rel" (F − E_0), "E0" (n_models,), "out_of_range",
            "alpha_star".
        """
        th = est.as_theta(theta, self.n_features)
        Ts = est.as_temperatures(T)
        rot, spline, s0, d0 = self._static()
        out = est.free_energy_core(th, Ts, rot, s0, self.conj_fn(method), spline, False)
        E0 = th @ d0
        return {
            "F": out["F_rel"] + E0[:, None],
            "F_rel": out["F_rel"],
            "E0": E0,
            "out_of_range": out["oor"],
            "alpha_star": spline.alphas[out["j"]] + out["tau"],
        }

    # ------------------------------------------------------------ protocol
    @property
    def shell_range(self) -> tuple[float, float]:
        """(lowest, highest) sampled shell temperature, K."""
        return float(self.geometry.T_shells[0]), float(self.geometry.T_shells[-1])

    route = "score model"

    def harmonic_free_energy(self, T, convention: str = "ddos") -> np.ndarray:
        """F_h(T) of the reference modes in ``convention``, eV/atom, shape (n_T,) (from κ̄, ⟨ln ν⟩, m)."""
        mean_log_hw = mean_log_hbar_omega(self.kappa_bar, self.mean_log_nu, self.mass)
        return harmonic_free_energy_of(
            mean_log_hw, np.asarray(T, dtype=float), convention, self.n_modes, self.n_atoms
        )

    def estimator(self, method: str = "fast", model_error: bool = True) -> ScoreRoute:
        """This model as a :class:`~thermograd.free_energy.FreeEnergyEstimator` with fixed options."""
        if method not in METHODS:
            raise InputError(f"unknown method {method!r} for a model file; use one of {', '.join(METHODS)}")
        return ScoreRoute(self, method, model_error)

    def predict(
        self,
        theta,
        T,
        method: str = "fast",
        with_sigma: bool = True,
        with_grad: bool = True,
        with_model_error: bool = False,
        backend: str = "auto",
        convention: str = "ddos",
    ) -> FreeEnergyResult:
        """Free energies, errors and gradients for a batch of models and temperatures.

        Args:
            theta: :class:`~thermograd.free_energy.Coefficients`, or linear coefficients of shape (d,) or (n_models, d),
                eV per descriptor unit.
            T: temperatures, scalar or shape (n_T,), K (> 0).
            method: "fast" (closed form for order-2 components, else tabulated conjugates), "table" (always
                the tabulated conjugates) or "exact" (grid + Newton inner minimisation).
            with_sigma: propagate the score-fit covariance into sigma_stat.
            with_grad: return dF_dtheta (autograd), shape (n_models, n_T, d).
            with_model_error: evaluate the second-best score order as a model-error term.
            backend: "auto" (the compiled loop of :mod:`.fastpath` for concave order-2 models with
                method="fast", envelope-theorem gradient; torch otherwise) or "torch" (always torch, gradient
                by autograd).
            convention: harmonic convention of F ("ddos": the estimator's own; "cell": F_h swapped for the
                exact finite-cell sum, F_anh unchanged).

        Returns:
            :class:`~thermograd.free_energy.FreeEnergyResult` (flag: optimum α* on the shell-range edge).
        """
        if backend not in ("auto", "torch"):
            raise InputError(f"unknown backend {backend!r}; use 'auto' or 'torch'")
        check_convention(convention)
        coeffs = as_coefficients(theta, self.n_features)
        kernel = self._kernel() if backend == "auto" and method == "fast" else None
        if kernel is not None:  # fused numba loop (same estimator; envelope-theorem gradient)
            th = np.ascontiguousarray(coeffs.theta)
            Ts = est.as_temperatures_array(T)
            o = kernel(th, Ts, with_grad, with_sigma)
            F_rel, a_star, oor, grad, sig_stat = o["F_rel"], o["alpha_star"], o["oor"], o["grad"], o["sigma"]
            E0 = th @ np.asarray(self.D_0, dtype=np.float64)
            sig_model = np.zeros_like(F_rel)
            if with_model_error:
                alt = self._kernel(alt=True)
                F_alt = (
                    alt(th, Ts, False, False)["F_rel"] if alt else self._torch_values(th, Ts, method, True)
                )
                sig_model = np.abs(F_alt - F_rel)
        else:
            th = torch.as_tensor(coeffs.theta)
            Ts = est.as_temperatures(T).detach()
            F_rel, var, a_star, oor, grad = self._predict_torch(th, Ts, method, with_grad, with_sigma)
            sig_model = np.zeros_like(F_rel)
            if with_model_error:
                sig_model = np.abs(self._torch_values(th, Ts, method, True) - F_rel)
            E0 = (th @ self._static()[3]).numpy()
            sig_stat = np.sqrt(np.maximum(var, 0.0))
            Ts = Ts.numpy()
        F_h_ddos = self.harmonic_free_energy(Ts, "ddos")
        return make_result(
            coefficients=coeffs,
            T=Ts,
            F_anh=F_rel - F_h_ddos,
            E0_theta=E0,
            F_h=F_h_ddos if convention == "ddos" else self.harmonic_free_energy(Ts, convention),
            sigma_stat=sig_stat,
            sigma_model=sig_model,
            alpha_star=a_star,
            T_star=self.kappa_bar * np.exp(a_star) / (3.0 * est.KB),
            convention=convention,
            routes=(f"score model ({method}, order {self.order})",),
            flag_reasons=FLAG_REASONS,
            flag_code=oor,
            dF_dtheta=grad,
            phase=self.name,
            reference=est.REFERENCE if convention == "ddos" else est.REFERENCE_CELL,
        )

    def _step(self, n_T: int, method: str) -> int:
        step = est.chunk_size(n_T, self.n_shells, self.n_features)
        return max(1, step // 16) if method == "exact" else step

    def _torch_values(self, th, Ts, method: str, alt: bool) -> np.ndarray:
        """F − E_0 by the torch estimator, values only, (n_m, n_T)."""
        th, Ts = torch.as_tensor(th), torch.as_tensor(Ts)
        rot, spline, s0, _ = self._static()
        conj = self.conj_fn(method, alt=alt)
        step = self._step(Ts.shape[0], method)
        out = np.empty((th.shape[0], Ts.shape[0]))
        with torch.no_grad():
            for lo in range(0, th.shape[0], step):
                out[lo : lo + step] = est.free_energy_core(
                    th[lo : lo + step], Ts, rot, s0, conj, spline, False
                )["F_rel"].numpy()
        return out

    def _predict_torch(self, th, Ts, method: str, with_grad: bool, with_sigma: bool):
        """Torch estimator in chunks of models: (F_rel, var, alpha_star, out_of_range, grad or None)."""
        rot, spline, s0, d0 = self._static()
        conj = self.conj_fn(method)
        n_m, n_T = th.shape[0], Ts.shape[0]
        step = self._step(n_T, method)
        shell_sum = None
        if (
            method == "fast"
            and not with_grad
            and not with_sigma
            and n_T >= 8
            and isinstance(conj, QuadraticConjugate)
            and not conj.convex
        ):
            # values only, many temperatures: piecewise quadratics in β, break points bucketed per model
            shell_sum = PiecewiseBeta(conj)
            step = max(step, 256)
        F_rel = np.empty((n_m, n_T))
        var = np.zeros((n_m, n_T))
        a_star = np.empty((n_m, n_T))
        oor = np.empty((n_m, n_T), dtype=bool)
        grad = np.empty((n_m, n_T, self.n_features)) if with_grad else None
        beta = 1.0 / (est.KB * Ts)
        for lo in range(0, n_m, step):
            chunk = th[lo : lo + step].clone().requires_grad_(with_grad)
            with torch.set_grad_enabled(with_grad):
                out = est.free_energy_core(
                    chunk, Ts, rot, s0, conj, spline, with_sigma, self.moment_var_fn(), shell_sum
                )
                if with_grad:
                    (dg,) = torch.autograd.grad(out["F_rel"].sum(), out["g"])
                    grad[lo : lo + step] = (
                        d0 + beta[None, :, None] * torch.einsum("mtsa,sda->mtd", dg, rot)
                    ).numpy()
            F_rel[lo : lo + step] = out["F_rel"].detach().numpy()
            if with_sigma:
                var[lo : lo + step] = out["var"].detach().numpy()
            a_star[lo : lo + step] = (spline.alphas[out["j"]] + out["tau"]).numpy()
            oor[lo : lo + step] = out["oor"].numpy()
        return F_rel, var, a_star, oor, grad

    # ------------------------------------------------------------------ I/O
    def save(self, path) -> None:
        """Write the model as a small self-describing HDF5 file (see :mod:`thermograd.io.ddos_model`)."""
        from ..importers import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path) -> DDOSModel:
        """Read a model file; a file of another format version raises :class:`StoreError`."""
        from ..importers import load_model

        return load_model(path)


#: estimator methods of a model file
METHODS = ("fast", "table", "exact")
#: why a score-model value is flagged (index = flag code)
FLAG_REASONS = ("", "optimum α* on the edge of the sampled shells (extrapolated: an upper bound)")


@dataclass(frozen=True)
class ScoreRoute:
    """A :class:`DDOSModel` with fixed estimator options, as a :class:`~thermograd.free_energy.FreeEnergyEstimator`.

    Attributes:
        model: the fitted model. method: "fast", "table" or "exact". model_error: add the two-order
            disagreement to σ when σ is asked for.
    """

    model: DDOSModel
    method: str = "fast"
    model_error: bool = True

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def n_features(self) -> int:
        return self.model.n_features

    @property
    def D_0(self) -> np.ndarray:
        return np.asarray(self.model.D_0, dtype=float)

    @property
    def shell_range(self) -> tuple[float, float]:
        return self.model.shell_range

    @property
    def route(self) -> str:
        return f"score model ({self.method})"

    def predict(
        self, coefficients, T, *, convention: str = "ddos", with_grad: bool = False, with_sigma: bool = True
    ) -> FreeEnergyResult:
        return self.model.predict(
            coefficients,
            T,
            method=self.method,
            with_sigma=with_sigma,
            with_grad=with_grad,
            with_model_error=with_sigma and self.model_error,
            convention=convention,
        )
