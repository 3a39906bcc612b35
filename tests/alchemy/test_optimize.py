"""Simplex-constrained optimisers (no MLIP needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thermograd.alchemy.optimize import (
    exponentiated_step,
    optimize_composition,
    project_simplex,
    projected_step,
)
from thermograd.errors import InputError


def test_project_simplex_properties():
    rng = np.random.default_rng(0)
    for _ in range(50):
        v = rng.normal(size=4) * 2
        p = project_simplex(v)
        assert p.min() >= 0 and p.sum() == pytest.approx(1.0)
        # optimality: no simplex point is closer (check against random feasible points)
        q = rng.dirichlet(np.ones(4), size=200)
        assert np.linalg.norm(v - p) <= np.linalg.norm(v - q, axis=1).min() + 1e-12
    assert np.allclose(project_simplex(np.array([0.2, 0.3, 0.5])), [0.2, 0.3, 0.5])


@pytest.mark.parametrize("step", [projected_step, exponentiated_step])
def test_steps_keep_every_constraint(step):
    constraints = [(0, 1, 2), (3, 4), (5,)]
    lam = np.array([0.2, 0.3, 0.5, 1.0, 0.0, 0.4])
    rng = np.random.default_rng(1)
    for _ in range(30):
        lam = step(lam, rng.normal(size=6) * 50, constraints, lr=0.05)
        assert lam.min() >= 0 and lam.max() <= 1
        assert lam[:3].sum() == pytest.approx(1.0) and lam[3:5].sum() == pytest.approx(1.0)


def test_projected_step_removes_the_mean_gradient():
    lam = np.array([0.5, 0.5])
    # a gradient along (1, 1) leaves the simplex unchanged
    assert np.allclose(projected_step(lam, np.array([3.0, 3.0]), [(0, 1)], lr=0.1), lam)
    assert np.allclose(projected_step(lam, np.array([1.0, -1.0]), [(0, 1)], lr=0.1), [0.4, 0.6])


def test_exponentiated_step_is_multiplicative_and_single_weights_are_clipped():
    q = np.exp(-0.2)  # λ_i ∝ λ_i exp(−η g_i): (0.5 e^{−0.1}, 0.5 e^{+0.1}) normalised
    out = exponentiated_step(np.array([0.5, 0.5, 0.95]), np.array([1.0, -1.0, -1.0]), [(0, 1), (2,)], lr=0.1)
    assert np.allclose(out, [q / (1 + q), 1 / (1 + q), 1.0])  # 0.95 + 0.1 clipped to 1
    out = projected_step(np.array([0.5, 0.5, 0.03]), np.array([0.0, 0.0, 0.5]), [(0, 1), (2,)], lr=0.1)
    assert np.allclose(out, [0.5, 0.5, 0.0])  # 0.03 − 0.05 clipped to 0


@pytest.mark.parametrize("method", ["projected", "exponentiated"])
def test_optimize_reaches_constrained_minimum(method):
    target = torch.tensor([0.1, 0.6, 0.3, 0.75, 0.25], dtype=torch.float64)

    def loss_fn(lam):
        return ((lam - target) ** 2).sum()

    res = optimize_composition(
        loss_fn,
        [1 / 3, 1 / 3, 1 / 3, 0.5, 0.5],
        [(0, 1, 2), (3, 4)],
        method=method,
        lr=0.3,
        max_steps=500,
        tol=1e-12,
    )
    assert res.converged
    assert np.allclose(res.lam, target.numpy(), atol=1e-5)
    assert res.history[0][0] > res.loss


def test_optimize_rejects_bad_method():
    with pytest.raises(InputError, match="exponentiated"):
        optimize_composition(lambda lam: lam.sum(), [1.0], [(0,)], method="adam")
