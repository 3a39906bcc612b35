"""Analytic toy crystals for the TI tests (engine-free)."""

from __future__ import annotations

import numpy as np
import pytest


def spring_network_hessian(
    n_side: int = 3,
    a: float = 2.5,
    k_bond: float = 4.0,
    k_trans: float = 1.5,
    rng: np.random.Generator | None = None,
    spread: float = 0.0,
):
    """Simple-cubic periodic spring network: positions (N, 3) Å and a translation-invariant Hessian.

    Each nearest-neighbour bond carries K = k_b n nᵀ + k_t (I − n nᵀ) (eV/Å²), optionally scaled by
    (1 + spread·u), u uniform in [−1, 1]; the acoustic sum rule holds by construction.
    """
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    pos = grid * a
    n = len(pos)
    h = np.zeros((3 * n, 3 * n))
    for i in range(n):
        for axis in range(3):
            nb = grid[i].copy()
            nb[axis] = (nb[axis] + 1) % n_side
            j = int(np.flatnonzero(np.all(grid == nb, axis=1))[0])
            e = np.zeros(3)
            e[axis] = 1.0
            scale = 1.0 + (spread * rng.uniform(-1, 1) if rng is not None else 0.0)
            k = scale * (k_bond * np.outer(e, e) + k_trans * (np.eye(3) - np.outer(e, e)))
            h[3 * i : 3 * i + 3, 3 * j : 3 * j + 3] -= k
            h[3 * j : 3 * j + 3, 3 * i : 3 * i + 3] -= k
            h[3 * i : 3 * i + 3, 3 * i : 3 * i + 3] += k
            h[3 * j : 3 * j + 3, 3 * j : 3 * j + 3] += k
    return pos, h


@pytest.fixture
def network():
    return spring_network_hessian()


@pytest.fixture
def make_network():
    """The :func:`spring_network_hessian` factory."""
    return spring_network_hessian
