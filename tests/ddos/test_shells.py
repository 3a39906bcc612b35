"""Tests of exact harmonic-shell sampling (thermograd.ddos.sampling.shells)."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from thermograd.ddos.sampling.shells import ShellSamples, sample_shell, shell_displacements, task_seed
from thermograd.errors import InputError
from thermograd.harmonic import Modes, modes_from_hessian, shell_alpha
from thermograd.units import KB


def random_modes(n_atoms: int, seed: int, mass: float = 55.845) -> Modes:
    """Random SPD Hessian with the acoustic sum rule: P (A Aᵀ + c·1) P, P projecting out translations."""
    rng = np.random.default_rng(seed)
    dim = 3 * n_atoms
    a = rng.normal(size=(dim, dim))
    h = a @ a.T / dim + 0.5 * np.eye(dim)
    t = np.zeros((dim, 3))
    for k in range(3):
        t[k::3, k] = 1.0 / math.sqrt(n_atoms)
    p = np.eye(dim) - t @ t.T
    return modes_from_hessian(p @ h @ p, mass)


@pytest.fixture(scope="module")
def modes() -> Modes:
    return random_modes(8, seed=1)


def test_samples_lie_exactly_on_shell(modes: Modes) -> None:
    rng = np.random.default_rng(2)
    for T in (10.0, 300.0, 2500.0):
        dx = shell_displacements(modes, T, rng, 500)
        assert dx.shape == (500, modes.n_atoms, 3)
        e_per_atom = modes.harmonic_energy(dx) / modes.n_atoms
        # exact by construction; only floating-point rounding (~M·eps) remains
        np.testing.assert_allclose(e_per_atom, 1.5 * KB * T, rtol=1e-10, atol=0)


def test_displacements_have_no_translation(modes: Modes) -> None:
    dx = shell_displacements(modes, 1000.0, np.random.default_rng(3), 50)
    # mode vectors are orthogonal to uniform translations: centre of mass does not move
    np.testing.assert_allclose(dx.mean(axis=1), 0.0, atol=1e-12)


def test_uniform_on_sphere_moments(modes: Modes) -> None:
    """y_l = √ν_l a_l / √(N r²) must be uniform on S^{M−1}.

    Exact moments: E[y²] = 1/M, E[y⁴] = 3/(M(M+2)), E[y⁸] = 105/(M(M+2)(M+4)(M+6)),
    E[y_l y_k] = 0 with E[y_l² y_k²] = 1/(M(M+2)) (l ≠ k). Each sample mean is compared with its exact value
    within 4σ, σ² = Var(single)/n from these exact moments.
    """
    n = 40_000
    T = 700.0
    dx = shell_displacements(modes, T, np.random.default_rng(4), n)
    r2 = 3 * KB * T / modes.kappa_bar
    amp = dx.reshape(n, -1) @ modes.vectors  # (n, M)
    y = amp * np.sqrt(modes.nu) / math.sqrt(modes.n_atoms * r2)
    M = modes.n_modes
    np.testing.assert_allclose(np.sum(y**2, axis=1), 1.0, rtol=1e-12)

    m2, m4, m8 = 1 / M, 3 / (M * (M + 2)), 105 / (M * (M + 2) * (M + 4) * (M + 6))
    sig2 = math.sqrt((m4 - m2**2) / n)
    sig4 = math.sqrt((m8 - m4**2) / n)
    assert np.all(np.abs(np.mean(y**2, axis=0) - m2) < 4 * sig2)
    assert np.all(np.abs(np.mean(y**4, axis=0) - m4) < 4 * sig4)
    assert np.all(np.abs(np.mean(y, axis=0)) < 4 * math.sqrt(m2 / n))
    # cross moments of neighbouring mode pairs (l, l+1), including the softest/stiffest ones
    cross = np.mean(y[:, :-1] * y[:, 1:], axis=0)
    assert np.all(np.abs(cross) < 4 * math.sqrt(1 / (M * (M + 2)) / n))


def test_task_seed_is_deterministic_across_processes() -> None:
    a = task_seed(7, "bcc", "strain=0.010", 3)
    b = task_seed(7, "bcc", "strain=0.010", 3)
    assert a.entropy == b.entropy and a.spawn_key == b.spawn_key
    assert task_seed(7, 3).spawn_key != task_seed(7, "3").spawn_key
    assert task_seed(7, "bcc", 3).spawn_key != task_seed(7, "bcc", 4).spawn_key
    assert task_seed(7, np.int64(3)).spawn_key == task_seed(7, 3).spawn_key
    # independent of PYTHONHASHSEED: a fresh interpreter with another hash seed gives the same state
    code = (
        "from thermograd.ddos.sampling.shells import task_seed; "
        "print(task_seed(7, 'bcc', 'strain=0.010', 3).generate_state(2).tolist())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hs},
        ).stdout
        for hs in ("1", "2")
    }
    assert outs == {str(a.generate_state(2).tolist()) + "\n"}
    with pytest.raises(InputError):
        task_seed(-1)
    with pytest.raises(InputError):
        task_seed(1, 0.5)  # type: ignore[arg-type]


def _mean_disp(x: np.ndarray, x0: np.ndarray) -> np.ndarray:
    return np.stack([np.abs(x - x0).mean(axis=(1, 2)), (x - x0)[:, 0, 0]], axis=1)


def test_sample_shell_pure_and_batch_independent(modes: Modes) -> None:
    x0 = np.random.default_rng(5).uniform(0, 5, size=(modes.n_atoms, 3))
    fn = lambda x: _mean_disp(x, x0)  # noqa: E731
    ss = task_seed(11, "toy", 2)
    a = sample_shell(modes, x0, 400.0, ss, 37, fn)
    b = sample_shell(modes, x0, 400.0, task_seed(11, "toy", 2), 37, fn, batch=5)
    assert isinstance(a, ShellSamples) and a.descriptors.shape == (37, 2)
    # same random draws; only BLAS blocking of the (m, M) @ (M, 3N) product may differ by rounding
    np.testing.assert_allclose(a.descriptors, b.descriptors, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(a.harmonic_energy, b.harmonic_energy, rtol=1e-13)
    again = sample_shell(modes, x0, 400.0, task_seed(11, "toy", 2), 37, fn)
    np.testing.assert_array_equal(a.descriptors, again.descriptors)  # same call -> bit-identical
    assert a.seed == (ss.entropy, ss.spawn_key)
    assert a.alpha == pytest.approx(float(shell_alpha(400.0, modes.kappa_bar)), rel=1e-15)
    np.testing.assert_allclose(a.harmonic_energy, 1.5 * KB * 400.0, rtol=1e-10)
    c = sample_shell(modes, x0, 400.0, task_seed(11, "toy", 3), 37, fn)
    assert not np.array_equal(a.descriptors, c.descriptors)


def test_sample_shell_validates(modes: Modes) -> None:
    x0 = np.zeros((modes.n_atoms, 3))
    with pytest.raises(InputError, match="positions0"):
        sample_shell(modes, np.zeros((3, 3)), 100.0, 0, 4, lambda x: x.mean(axis=(1, 2))[:, None])
    with pytest.raises(InputError, match="descriptor_fn"):
        sample_shell(modes, x0, 100.0, 0, 4, lambda x: x.mean(axis=(1, 2)))
    with pytest.raises(InputError, match="temperature"):
        sample_shell(modes, x0, -1.0, 0, 4, lambda x: x.mean(axis=(1, 2))[:, None])
