"""Bootstrap error bars of D-DOS free energies (complements the delta-method σ of the estimator).

Each replica redraws every histogram multinomially with its own total count (i.i.d. samples, so this is the
nonparametric bootstrap of the compressed data), perturbs each shell mean by its sampling error
N(0, C/n), refits the score model with the same order and evaluates F. The spread of the replicas estimates
the statistical error including the nonlinear parts the first-order propagation misses.
"""

from __future__ import annotations

import copy

import numpy as np

from ...errors import InputError


def bootstrap_free_energy(
    dataset,
    theta,
    T,
    n_boot: int = 20,
    seed: int = 0,
    order: int | None = None,
    method: str = "fast",
    **fit_kw,
) -> dict:
    """Bootstrap replicas of F(θ, T).

    Args:
        dataset: :class:`~thermograd.ddos.dataset.PhaseDataset` (histograms).
        theta: shape (d,) or (n_models, d).
        T: temperatures (n_T,), K.
        n_boot: number of replicas (≥ 2).
        seed: seed of the resampling generator.
        order: score order (default: the order selected on the original data).
        method: estimator route.
        **fit_kw: further options of :meth:`DDOSModel.fit`.

    Returns:
        dict with "F" (the original fit, (n_models, n_T)), "replicas" (n_boot, n_models, n_T) and
        "sigma_boot" (n_models, n_T), eV/atom.
    """
    from .model import DDOSModel

    if n_boot < 2:
        raise InputError(f"n_boot must be >= 2, got {n_boot}")
    rng = np.random.default_rng(seed)
    base = DDOSModel.fit(dataset, order=order, **fit_kw)
    K = base.order
    F0 = base.predict(theta, T, method=method, with_grad=False, with_sigma=False).F
    reps = []
    for _ in range(n_boot):
        ds = copy.deepcopy(dataset)
        for s in ds.shells:
            counts = np.rint(s.counts).astype(np.int64)
            total = counts.sum(-1)
            p = counts / np.maximum(total, 1)[:, None]
            s.counts = np.stack(
                [rng.multinomial(n, pp) if n > 0 else c for n, pp, c in zip(total, p, counts)]
            )
            n = max(int(s.n_samples), 1)
            s.mean = s.mean + rng.multivariate_normal(
                np.zeros(s.mean.shape[0]), s.covariance / n, method="eigh"
            )
            s.raw = None
        m = DDOSModel.fit(ds, order=K, **fit_kw)
        reps.append(m.predict(theta, T, method=method, with_grad=False, with_sigma=False).F)
    reps = np.array(reps)
    return {"F": F0, "replicas": reps, "sigma_boot": reps.std(0, ddof=1)}


def compare_with_reweighting(model, dataset, theta, T, ess_min: float = 0.02, n_sigma: float = 3.0) -> dict:
    """Score-model F vs exact shell reweighting of the raw samples, with warnings.

    Warns (``UserWarning``) when the two differ by more than ``n_sigma`` combined σ (score σ and the
    reweighting error estimated as k_B T/N · 1/√ESS), or when the effective sample size of the reweighting at
    α* falls below ``ess_min`` of the shell's samples (poor overlap: the reweighting value is unreliable).

    Returns:
        dict of (n_models, n_T) arrays: "F_score", "F_reweight", "difference", "sigma_score",
        "sigma_reweight",
        "ess_fraction", "disagree", "ess_collapsed".
    """
    import warnings

    from ...units import KB
    from .core import as_temperatures
    from .reweighting import ReweightingEstimator

    Ts = as_temperatures(T).numpy()
    res = model.predict(theta, Ts, with_grad=False, with_model_error=True)
    rw = ReweightingEstimator(dataset, ess_min=ess_min).predict(theta, Ts, with_sigma=False)
    ess = np.maximum(rw.extra["ess"], 1.0)
    sig_rw = KB * Ts[None, :] / dataset.n_atoms / np.sqrt(ess)
    diff = res.F - rw.F
    disagree = np.abs(diff) > n_sigma * np.hypot(res.sigma, sig_rw)
    collapsed = rw.extra["ess_fraction"] < ess_min
    if disagree.any():
        warnings.warn(
            f"score and reweighting estimators disagree beyond {n_sigma}σ at {int(disagree.sum())} "
            f"(model, T) points (max |ΔF| = {1e3 * np.max(np.abs(diff)):.3f} meV/atom)",
            stacklevel=2,
        )
    if collapsed.any():
        warnings.warn(
            f"reweighting effective sample size below {ess_min:.0%} of the shell samples at "
            f"{int(collapsed.sum())} (model, T) points: poor overlap",
            stacklevel=2,
        )
    return {
        "F_score": res.F,
        "F_reweight": rw.F,
        "difference": diff,
        "sigma_score": res.sigma,
        "sigma_reweight": sig_rw,
        "ess_fraction": rw.extra["ess_fraction"],
        "disagree": disagree,
        "ess_collapsed": collapsed,
    }
