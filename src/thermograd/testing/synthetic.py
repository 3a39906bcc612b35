"""Synthetic D-DOS campaigns with known answers (tests, calibration, documentation).

* :func:`shell_from_samples`: PCA + percentile-truncated histograms of raw descriptor samples (the
  compression of docs/science-ddos.md §5), keeping the raw samples.
* :func:`gaussian_campaign`: shells whose conditional density ρ(D|α) is Gaussian N(μ(α), Σ(α)).
  The exact free energy is then (:func:`gaussian_free_energy`)
  F = θ·D_0 + k_B T min_α [βθ·(μ(α) − D_0) − ½Nβ²θᵀΣ(α)θ − S_0(α, T)],
  since log ρ = N S with S = −(D − μ)ᵀΣ⁻¹(D − μ)/(2N) is exactly quadratic.
* :func:`gaussian_model`: a :class:`~thermograd.ddos.estimators.model.DDOSModel` holding the exact quadratic S of such
  shells (no fit), to test the estimator alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..ddos.dataset import PhaseDataset, ShellData
from ..harmonic import shell_entropy
from ..units import KB


def shell_from_samples(
    T_shell: float,
    alpha: float,
    samples: np.ndarray,
    n_bins: int = 99,
    percentile: float = 0.5,
    keep_raw: bool = True,
) -> ShellData:
    """Compress raw samples of one shell (PCA, one histogram per component over [p, 100 − p] percentiles).

    Args:
        T_shell: shell temperature, K. alpha: shell coordinate, ln Å².
        samples: descriptors, shape (n_samples, d).
        n_bins: histogram bins per component.
        percentile: p, percent cut at each end.
        keep_raw: keep the samples in ``ShellData.raw``.
    """
    D = np.asarray(samples, dtype=float)
    n, d = D.shape
    mean = D.mean(0)
    cov = np.atleast_2d(np.cov(D.T, bias=False)) if n > 1 else np.zeros((d, d))
    evals, evecs = np.linalg.eigh(cov)
    x = (D - mean) @ evecs
    edges = np.empty((d, n_bins + 1))
    counts = np.empty((d, n_bins))
    for a in range(d):
        lo, hi = np.percentile(x[:, a], [percentile, 100.0 - percentile])
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5  # zero-variance component: one occupied bin
        counts[a], edges[a] = np.histogram(x[:, a], bins=n_bins, range=(lo, hi))
    return ShellData(
        T_shell=float(T_shell),
        alpha=float(alpha),
        n_samples=n,
        mean=mean,
        covariance=cov,
        basis=evecs,
        eigenvalues=evals,
        edges=edges,
        counts=counts,
        raw=D if keep_raw else None,
    )


def _base(name, n_atoms, mass, kappa_bar, mean_log_nu, D_0, shells, **kw) -> PhaseDataset:
    return PhaseDataset(
        name=name,
        n_atoms=n_atoms,
        mass=mass,
        volume_per_atom=10.0,
        strain=0.0,
        D_0=np.asarray(D_0, dtype=float),
        kappa_bar=kappa_bar,
        mean_log_nu=mean_log_nu,
        n_modes=3 * n_atoms - 3,
        shells=shells,
        provenance={"synthetic": True, **kw},
    )


def shell_alphas(T_shells: np.ndarray, kappa_bar: float) -> np.ndarray:
    """α = ln(3 k_B T_α / κ̄) for shell temperatures (K)."""
    return np.log(3.0 * KB * np.asarray(T_shells, dtype=float) / kappa_bar)


def gaussian_campaign(
    mean_fn: Callable[[float], np.ndarray],
    cov_fn: Callable[[float], np.ndarray],
    T_shells: np.ndarray,
    n_samples: int,
    seed: int,
    n_atoms: int = 54,
    mass: float = 55.85,
    kappa_bar: float = 10.0,
    mean_log_nu: float = -0.1,
    D_0: np.ndarray | None = None,
    n_bins: int = 99,
    percentile: float = 0.5,
    name: str = "gauss",
) -> PhaseDataset:
    """Shells with Gaussian conditional densities N(mean_fn(T_α), cov_fn(T_α)).

    Args:
        mean_fn, cov_fn: shell temperature (K) → mean of D, shape (d,), and covariance of D, shape (d, d).
        T_shells: shell temperatures, K. n_samples: samples per shell. seed: generator seed.
        n_atoms, mass, kappa_bar, mean_log_nu: the harmonic reference of S_0.
        D_0: perfect-lattice descriptor (default zeros).
    """
    rng = np.random.default_rng(seed)
    d = np.asarray(mean_fn(float(T_shells[0]))).shape[0]
    D_0 = np.zeros(d) if D_0 is None else D_0
    alphas = shell_alphas(T_shells, kappa_bar)
    shells = []
    for T_a, a in zip(T_shells, alphas):
        samp = rng.multivariate_normal(mean_fn(float(T_a)), cov_fn(float(T_a)), size=n_samples)
        shells.append(shell_from_samples(T_a, a, samp, n_bins=n_bins, percentile=percentile))
    return _base(name, n_atoms, mass, kappa_bar, mean_log_nu, D_0, shells, seed=seed)


def harmonic_campaign(
    T_shells: np.ndarray, kappa: np.ndarray, mass: float, n_atoms: int, n_samples: int = 8
) -> PhaseDataset:
    """d = 1 campaign whose descriptor is the harmonic energy per atom: D = 1.5 k_B T_α exactly on each shell.

    With θ = 1 eV the D-DOS free energy must equal the classical harmonic F = 3 k_B T ⟨ln βħω⟩.

    Args:
        T_shells: shell temperatures, K. kappa: mode stiffnesses κ_l (3N − 3 of them), eV/Å².
        mass: amu. n_atoms: N. n_samples: samples per shell (all identical).
    """
    kappa = np.asarray(kappa, dtype=float)
    kb = float(kappa.mean())
    alphas = shell_alphas(T_shells, kb)
    shells = [
        shell_from_samples(T_a, a, np.full((n_samples, 1), 1.5 * KB * T_a))
        for T_a, a in zip(T_shells, alphas)
    ]
    ds = _base("harmonic", n_atoms, mass, kb, float(np.mean(np.log(kappa / kb))), np.zeros(1), shells)
    ds.kappa = kappa
    return ds


def gaussian_free_energy(
    theta, T, mean_fn, cov_fn, n_atoms, mass, kappa_bar, mean_log_nu, D_0, T_range: tuple[float, float]
) -> tuple[float, float]:
    """Exact (continuous-α) free energy of Gaussian shells, eV/atom, and the shell temperature of the optimum.

    The minimum over α is searched on [T_range] by bounded scalar minimisation (xatol 1e-12).
    """
    from scipy.optimize import minimize_scalar

    theta = np.asarray(theta, dtype=float)
    beta = 1.0 / (KB * T)

    def G(lnT_a):
        T_a = np.exp(lnT_a)
        a = np.log(3.0 * KB * T_a / kappa_bar)
        mu, C = mean_fn(T_a), cov_fn(T_a)
        return (
            beta * theta @ (mu - D_0)
            - 0.5 * n_atoms * beta**2 * theta @ C @ theta
            - shell_entropy(a, T, mass, mean_log_nu)
        )

    grid = np.linspace(np.log(T_range[0]), np.log(T_range[1]), 401)
    vals = np.array([G(x) for x in grid])
    k = int(np.argmin(vals))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    res = minimize_scalar(G, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12})
    return float(theta @ D_0 + KB * T * res.fun), float(np.exp(res.x))


def gaussian_model(
    T_shells, mean_fn, cov_fn, n_atoms, mass, kappa_bar, mean_log_nu, D_0, t_range: float = 12.0
):
    """A DDOSModel with the exact quadratic per-component entropies of Gaussian shells (no fit, no noise)."""
    from ..ddos.estimators.model import DDOSModel, ShellGeometry

    T_shells = np.asarray(T_shells, dtype=float)
    alphas = shell_alphas(T_shells, kappa_bar)
    means = np.stack([mean_fn(t) for t in T_shells])
    evs, rots = zip(*(np.linalg.eigh(cov_fn(t)) for t in T_shells))
    eig, rot = np.stack(evs), np.stack(rots)
    n_s, d = means.shape
    offset = np.einsum("sda,sd->sa", rot, means - D_0)
    coef = np.zeros((n_s, d, 2))
    coef[..., 1] = -0.5 / n_atoms
    arrays = {
        "coef": coef,
        "cov": np.zeros((n_s, d, 2, 2)),
        "xbar": offset,
        "scale": np.sqrt(eig),
        "t_lo": np.full((n_s, d), -t_range),
        "t_hi": np.full((n_s, d), t_range),
        "p_max": np.zeros((n_s, d)),
        "t_mode": np.zeros((n_s, d)),
    }
    arrays.update({"alt_" + k: v for k, v in list(arrays.items())})
    geo = ShellGeometry(
        alphas=alphas,
        T_shells=T_shells,
        rotations=rot,
        n_samples=np.full(n_s, 10**9),
        means=means,
        eigenvalues=eig,
    )
    return DDOSModel(
        name="gauss-exact",
        n_atoms=n_atoms,
        mass=mass,
        volume_per_atom=10.0,
        strain=0.0,
        D_0=np.asarray(D_0, dtype=float),
        kappa_bar=kappa_bar,
        mean_log_nu=mean_log_nu,
        n_modes=3 * n_atoms - 3,
        geometry=geo,
        arrays=arrays,
        order=2,
        alt_order=2,
    )
