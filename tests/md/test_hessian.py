"""Finite-difference force constants of a batched potential (thermograd.md.hessian)."""

from __future__ import annotations

import numpy as np
import pytest

from thermograd.errors import InputError
from thermograd.md.hamiltonians import EinsteinPotential, HarmonicPotential
from thermograd.md.hessian import force_constants


def _random_hessian(n: int, seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(3 * n, 3 * n))
    return a @ a.T + 3 * n * np.eye(3 * n)


def test_recovers_an_exact_quadratic_form():
    """A quadratic potential has no truncation error: central differences give H to round-off (1e-9 of
    its scale), for any displacement, whatever the batch size."""
    n = 5
    h = _random_hessian(n)
    sites = np.random.default_rng(1).normal(size=(n, 3))
    pot = HarmonicPotential(h, sites, energy_offset=-3.0)
    x = sites + 0.1  # away from the minimum: the Hessian of a quadratic is the same everywhere
    for batch, d in ((1, 1e-2), (7, 1e-3), (100, 0.2)):
        got = force_constants(pot, x, np.eye(3) * 10, displacement=d, batch=batch)
        assert np.allclose(got, h, rtol=0, atol=1e-9 * np.abs(h).max())


def test_einstein_springs_are_diagonal():
    k = np.array([1.0, 2.5, 0.7])
    pot = EinsteinPotential(k, np.zeros((3, 3)))
    got = force_constants(pot, np.zeros((3, 3)), np.eye(3) * 5)
    assert np.allclose(got, np.diag(np.repeat(k, 3)), atol=1e-10)


def test_bad_input_is_one_line():
    pot = EinsteinPotential(1.0 * np.ones(2), np.zeros((2, 3)))
    with pytest.raises(InputError, match="shape"):
        force_constants(pot, np.zeros((3, 3)), np.eye(3))
    with pytest.raises(InputError, match="displacement"):
        force_constants(pot, np.zeros((2, 3)), np.eye(3), displacement=0.0)
