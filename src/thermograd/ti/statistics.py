"""Standard errors of correlated MD time series.

Two estimators, both returning the standard error of the mean of a stationary series:

* ``"autocorr"``: σ/√(N/g) with the statistical inefficiency g = 1 + 2Σ_t ρ(t), the sum truncated with
  Sokal's automatic window (smallest W with W ≥ c·τ_int(W), c = 5), ρ from an FFT autocorrelation.
* ``"blocks"``: the spread of n_blocks contiguous block means (Flyvbjerg & Petersen, J. Chem. Phys. 91,
  461 (1989)), valid once a block is much longer than the correlation time.

The reported error is the larger of the two when ``method="max"`` (the default of the TI drivers): a
conservative choice that guards against both an underestimated window and too few blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

ERROR_METHODS = ("autocorr", "blocks", "max")


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation function ρ(t), t = 0..N−1, of a 1-D series (FFT, biased estimator)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    d = x - x.mean()
    var = float(np.dot(d, d)) / n
    if var == 0.0:
        return np.concatenate([[1.0], np.zeros(n - 1)])
    f = np.fft.rfft(d, n=2 * n)
    acf = np.fft.irfft(f * np.conj(f))[:n] / n
    return acf / var


def statistical_inefficiency(x: np.ndarray, c: float = 5.0) -> float:
    """g = 1 + 2 Σ_{t=1}^{W} ρ(t) with Sokal's window W ≥ c (g/2); g ≥ 1, in steps."""
    x = np.asarray(x, dtype=float)
    if x.size < 4:
        return 1.0
    rho = autocorrelation(x)
    g = 1.0
    for w in range(1, x.size):
        g += 2.0 * rho[w]
        if w >= c * max(g, 1.0) / 2.0:
            break
    return float(max(g, 1.0))


def block_error(x: np.ndarray, n_blocks: int = 16) -> float:
    """Standard error of the mean from ``n_blocks`` contiguous block means (trailing remainder dropped)."""
    x = np.asarray(x, dtype=float)
    n_blocks = int(min(n_blocks, x.size))
    if n_blocks < 2:
        return float("nan")
    size = x.size // n_blocks
    means = x[: size * n_blocks].reshape(n_blocks, size).mean(axis=1)
    return float(np.std(means, ddof=1) / np.sqrt(n_blocks))


@dataclass(frozen=True)
class SeriesMean:
    """Mean of a time series with its standard error.

    Attributes:
        mean: sample mean (unit of the series).
        error: standard error of the mean.
        inefficiency: statistical inefficiency g (steps between effectively independent samples).
        n_samples: length of the series.
    """

    mean: float
    error: float
    inefficiency: float
    n_samples: int


def mean_and_error(x: np.ndarray, method: str = "max", n_blocks: int = 16) -> SeriesMean:
    """Mean and standard error of a correlated series.

    Args:
        x: the series, shape (n,), n ≥ 2.
        method: ``"autocorr"``, ``"blocks"`` or ``"max"`` (the larger of the two).
        n_blocks: number of blocks for the block estimator.
    """
    if method not in ERROR_METHODS:
        raise InputError(f"unknown error method {method!r}; use one of {ERROR_METHODS}")
    x = np.asarray(x, dtype=float).ravel()
    if x.size < 2 or not np.all(np.isfinite(x)):
        raise InputError(f"need a finite series of at least 2 samples, got {x.size}")
    g = statistical_inefficiency(x)
    err_ac = float(np.std(x) * np.sqrt(g / x.size))
    err_bl = block_error(x, n_blocks)
    if method == "autocorr" or not np.isfinite(err_bl):
        err = err_ac
    elif method == "blocks":
        err = err_bl
    else:
        err = max(err_ac, err_bl)
    return SeriesMean(float(x.mean()), err, g, int(x.size))
