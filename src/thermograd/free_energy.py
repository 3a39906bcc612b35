"""One interface for every D-DOS free-energy route: coefficients in, one result type out.

Every route — the score model (fast or exact conjugates, :class:`~.model.DDOSModel`), shell reweighting
(:class:`~.reweighting.ReweightingEstimator`), the cumulant closure with the exact α integral and, on tilted
shells, MBAR (:class:`~.cumulant.CumulantEstimator`) — implements :class:`FreeEnergyEstimator`:

    est.predict(coefficients, T, convention="ddos", with_grad=False, with_sigma=True) -> FreeEnergyResult

``coefficients`` is a :class:`Coefficients` (θ of one or many models with their SNAP constants β_0, so that
nobody adds constants by hand) or a bare θ array (β_0 = 0). The result states its harmonic convention:

* ``"ddos"``: F_h = 3 k_BT ⟨ln βħω_l⟩ over the 3N − 3 modes of the reference Hessian (the D-DOS shell identity);
* ``"cell"``: F_h = (k_BT/N) Σ_l ln βħω_l, the exact finite-cell sum (what harmonic → model λ-TI uses).

F = E_0 + F_h + F_anh in either; F_anh (everything beyond the reference's harmonic free energy) is the same in
both, so a comparison of F_anh never mixes conventions. Consumers (``thermo``, the CLI, the demo, benchmarks)
use only this module's names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import InputError
from .harmonic import HARMONIC_CONVENTIONS

__all__ = [
    "CONVENTIONS",
    "Coefficients",
    "FreeEnergyEstimator",
    "FreeEnergyResult",
    "check_convention",
]

CONVENTIONS = HARMONIC_CONVENTIONS
#: why a non-finite value is flagged (any route)
NON_FINITE = "the route's estimate diverges here (non-finite): use another route or tilted shells"


def check_convention(convention: str) -> str:
    """``convention`` if it is one of :data:`CONVENTIONS`, else a one-line :class:`InputError`."""
    if convention not in CONVENTIONS:
        raise InputError(f"unknown harmonic convention {convention!r}; use one of {', '.join(CONVENTIONS)}")
    return convention


@dataclass(frozen=True)
class Coefficients:
    """Coefficients of one or more descriptor-linear models: E = N β_0 + N θ·D (per-atom mean descriptor D).

    Attributes:
        theta: linear coefficients, shape (n_models, d), eV per descriptor unit.
        beta0: constant energy per atom of each model, shape (n_models,), eV (the SNAP β_0).
        labels: one name per model (e.g. the coefficient file), or () for unnamed models.
        element: the element block the coefficients were read from, or None.
    """

    theta: np.ndarray
    beta0: np.ndarray
    labels: tuple[str, ...]
    element: str | None = None

    @classmethod
    def of(cls, theta, beta0=0.0, labels=None, element: str | None = None) -> Coefficients:
        """From arrays: θ of shape (d,) or (n_models, d), β_0 scalar or (n_models,)."""
        th = np.asarray(theta.detach() if hasattr(theta, "detach") else theta, dtype=np.float64)
        if th.ndim == 1:
            th = th[None, :]
        if th.ndim != 2:
            raise InputError(f"θ must have shape (d,) or (n_models, d), got {th.shape}")
        if not np.isfinite(th).all():
            raise InputError("θ contains non-finite values")
        b0 = np.broadcast_to(np.asarray(beta0, dtype=np.float64), (th.shape[0],)).copy()
        names = tuple(labels) if labels is not None else ()
        if names and len(names) != th.shape[0]:
            raise InputError(f"{len(names)} labels for {th.shape[0]} coefficient vectors")
        return cls(th, b0, names, element)

    @classmethod
    def from_snapcoeff(cls, paths, n_features: int | None = None, element: str | None = None) -> Coefficients:
        """Read one or more ``.snapcoeff`` files (constant β_0 and linear θ of one element block).

        Raises:
            InputError: unreadable or malformed file, unknown element, or a θ length other than the estimator's
                descriptor dimension ``n_features`` (an extra or a missing coefficient).
        """
        from .io.snap import read_snapcoeff

        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        thetas, beta0, el = [], [], element
        for path in paths:
            coeffs = read_snapcoeff(path)
            el_i = element or coeffs.elements[0]
            theta = coeffs.theta(el_i)
            if n_features is not None and theta.shape[0] != n_features:
                diff = theta.shape[0] - n_features
                what = f"{abs(diff)} {'more' if diff > 0 else 'fewer'} than"
                raise InputError(
                    f"{path}: element {el_i!r} has {theta.shape[0]} linear coefficients (+ the constant β_0), "
                    f"{what} the model's {n_features} descriptor components (wrong potential or descriptor "
                    "settings?)"
                )
            thetas.append(theta)
            beta0.append(coeffs.constant(el_i))
            el = el_i
        if len({t.shape[0] for t in thetas}) > 1:
            raise InputError(f"coefficient files of different lengths: {', '.join(map(str, paths))}")
        return cls.of(np.stack(thetas), np.array(beta0), [str(p) for p in paths], el)

    def __len__(self) -> int:
        return self.theta.shape[0]

    @property
    def n_features(self) -> int:
        return self.theta.shape[1]

    def with_theta(self, theta) -> Coefficients:
        """The same models (β_0, labels, element) with new linear coefficients of the same shape."""
        th = np.asarray(theta, dtype=np.float64).reshape(self.theta.shape)
        return Coefficients(th, self.beta0, self.labels, self.element)

    def select(self, i: int) -> Coefficients:
        """The i-th model alone."""
        return Coefficients(
            self.theta[i : i + 1], self.beta0[i : i + 1], self.labels[i : i + 1], self.element
        )

    def label(self, i: int) -> str:
        """Name of model i (its file, or ``theta[i]``)."""
        return self.labels[i] if i < len(self.labels) else f"theta[{i}]"


def as_coefficients(coefficients, n_features: int) -> Coefficients:
    """A :class:`Coefficients` of descriptor length ``n_features`` from a Coefficients or a θ array."""
    c = coefficients if isinstance(coefficients, Coefficients) else Coefficients.of(coefficients)
    if c.n_features != n_features:
        raise InputError(
            f"θ must have shape ({n_features},) or (n_models, {n_features}) for this model, "
            f"got {tuple(c.theta.shape)}"
        )
    return c


@dataclass
class FreeEnergyResult:
    """Free energies of n_models coefficient vectors at n_T temperatures, from one D-DOS route.

    Arrays are (n_models, n_T), eV/atom, unless stated.

    Attributes:
        F: total Helmholtz free energy per atom, E_0 + F_h + F_anh (β_0 included when the coefficients carry
            it), in the harmonic ``convention``.
        F_minus_E0: F − E_0 = F_h + F_anh.
        E0: static lattice energy θ·D_0 + β_0, shape (n_models,).
        F_h: harmonic free energy of the reference's modes in ``convention``.
        F_anh: F − E_0 − F_h (convention-free).
        sigma: total 1σ error, √(σ_stat² + σ_model²). sigma_stat: statistical part. sigma_model: estimator
            (model-error) part.
        alpha_star: the shell coordinate α (ln Å²) that carries F: the Laplace optimum α* of the score and
            reweighting routes, the mean α of the exact α integral of the cumulant route.
        T_star: shell temperature at alpha_star, K.
        flagged: True where the value is not trustworthy; ``flag_code`` indexes ``flag_reasons`` (0: none).
        route_code: index into ``routes`` of the route that served each value.
        convention: "ddos" or "cell". T: temperatures (n_T,), K. dF_dtheta: ∂F/∂θ (n_models, n_T, d) or None.
        labels: one name per model. phase: the phase label. reference: statement of what F is.
        extra: route-specific diagnostics (e.g. effective sample sizes, the α-integral tail).
    """

    F: np.ndarray
    F_minus_E0: np.ndarray
    E0: np.ndarray
    F_h: np.ndarray
    F_anh: np.ndarray
    sigma: np.ndarray
    sigma_stat: np.ndarray
    sigma_model: np.ndarray
    alpha_star: np.ndarray
    T_star: np.ndarray
    flag_code: np.ndarray
    flag_reasons: tuple[str, ...]
    route_code: np.ndarray
    routes: tuple[str, ...]
    convention: str
    T: np.ndarray
    dF_dtheta: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    phase: str = ""
    reference: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def flagged(self) -> np.ndarray:
        """True where a value is flagged (see :meth:`reason`)."""
        return self.flag_code > 0

    def reason(self, i: int, k: int) -> str:
        """Why value (model i, temperature k) is flagged ('' when it is not)."""
        return self.flag_reasons[int(self.flag_code[i, k])]

    def route(self, i: int, k: int) -> str:
        """The route that served value (model i, temperature k)."""
        return self.routes[int(self.route_code[i, k])]

    @property
    def route_summary(self) -> str:
        """All routes used, in order of first use ('a' or 'a; b')."""
        used = sorted(set(np.unique(self.route_code).tolist()))
        return "; ".join(self.routes[j] for j in used)

    def rows(self) -> list[dict]:
        """JSON-ready rows, one per model (lists over T)."""
        out = []
        for i in range(self.F.shape[0]):
            out.append(
                {
                    "theta": self.labels[i] if i < len(self.labels) else f"theta[{i}]",
                    "E0": float(self.E0[i]),
                    "T": self.T.tolist(),
                    "F": self.F[i].tolist(),
                    "F_minus_E0": self.F_minus_E0[i].tolist(),
                    "F_h": self.F_h[i].tolist(),
                    "F_anh": self.F_anh[i].tolist(),
                    "sigma": self.sigma[i].tolist(),
                    "sigma_stat": self.sigma_stat[i].tolist(),
                    "sigma_model": self.sigma_model[i].tolist(),
                    "alpha_star": self.alpha_star[i].tolist(),
                    "T_shell_star": self.T_star[i].tolist(),
                    "route": [self.route(i, k) for k in range(self.T.size)],
                    "flagged": self.flagged[i].tolist(),
                    "flag_reason": [self.reason(i, k) for k in range(self.T.size)],
                }
            )
        return out


def make_result(
    *,
    coefficients: Coefficients,
    T: np.ndarray,
    F_anh: np.ndarray,
    E0_theta: np.ndarray,
    F_h: np.ndarray,
    sigma_stat: np.ndarray,
    sigma_model: np.ndarray,
    alpha_star: np.ndarray,
    T_star: np.ndarray,
    convention: str,
    routes: tuple[str, ...],
    route_code: np.ndarray | None = None,
    flag_reasons: tuple[str, ...] = ("",),
    flag_code: np.ndarray | None = None,
    dF_dtheta: np.ndarray | None = None,
    phase: str = "",
    reference: str = "",
    extra: dict | None = None,
) -> FreeEnergyResult:
    """Assemble a :class:`FreeEnergyResult` from a route's parts (F_h of shape (n_T,) in ``convention``)."""
    shape = F_anh.shape
    code = np.zeros(shape, np.uint8) if flag_code is None else flag_code.astype(np.uint8)
    bad = ~np.isfinite(F_anh)
    if bad.any():  # a diverging estimate is never an unflagged number
        flag_reasons = (*flag_reasons, NON_FINITE)
        code = np.where(bad, len(flag_reasons) - 1, code).astype(np.uint8)
    E0 = np.asarray(E0_theta, dtype=np.float64) + coefficients.beta0
    Fh = np.broadcast_to(np.asarray(F_h, dtype=np.float64), shape)
    F_rel = Fh + F_anh
    return FreeEnergyResult(
        F=F_rel + E0[:, None],
        F_minus_E0=F_rel,
        E0=E0,
        F_h=Fh,
        F_anh=F_anh,
        sigma=np.sqrt(sigma_stat**2 + sigma_model**2),
        sigma_stat=sigma_stat,
        sigma_model=sigma_model,
        alpha_star=alpha_star,
        T_star=T_star,
        flag_code=code,
        flag_reasons=flag_reasons,
        route_code=np.zeros(shape, np.uint8) if route_code is None else route_code.astype(np.uint8),
        routes=routes,
        convention=convention,
        T=np.asarray(T, dtype=np.float64),
        dF_dtheta=dF_dtheta,
        labels=coefficients.labels,
        phase=phase,
        reference=reference,
        extra=dict(extra or {}),
    )


@runtime_checkable
class FreeEnergyEstimator(Protocol):
    """What every D-DOS route offers (see the module docstring).

    Attributes:
        name: the phase label. n_features: descriptor dimension d. D_0: perfect-lattice descriptor (d,).
        shell_range: (lowest, highest) sampled shell temperature, K.
        route: a short name of the route (e.g. "score model (fast)").
    """

    name: str
    n_features: int
    D_0: np.ndarray
    shell_range: tuple[float, float]
    route: str

    def predict(
        self, coefficients, T, *, convention: str = "ddos", with_grad: bool = False, with_sigma: bool = True
    ) -> FreeEnergyResult:
        """F(θ, T) of every model at every temperature, with σ (``with_sigma``) and ∂F/∂θ (``with_grad``)."""
        ...
