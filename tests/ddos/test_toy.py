"""Tests of the engine-free toy models (thermograd.testing.toy) and the exact harmonic D-DOS identity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

from thermograd.ddos.sampling.shells import sample_shell, shell_displacements, task_seed
from thermograd.errors import InputError
from thermograd.harmonic import harmonic_free_energy, shell_alpha, shell_entropy
from thermograd.testing.toy import HarmonicDescriptor, PairDescriptorToy
from thermograd.units import KB


@pytest.fixture(scope="module")
def toy() -> PairDescriptorToy:
    return PairDescriptorToy.fcc(a=3.6, repeat=2, rc=3.2, n_features=4)


@pytest.fixture(scope="module")
def hot_positions(toy: PairDescriptorToy) -> np.ndarray:
    """A configuration on a 600 K shell (forces non-zero, neighbours move through the cutoff region)."""
    dx = shell_displacements(toy.modes(), 600.0, np.random.default_rng(5), 1)[0]
    return toy.positions0 + dx


def test_reference_lattice_is_stable_minimum(toy: PairDescriptorToy) -> None:
    theta = toy.default_theta()
    assert np.abs(toy.forces(theta, toy.positions0)).max() < 1e-12  # inversion symmetry
    modes = toy.modes(theta)
    assert modes.n_modes == 3 * toy.n_atoms - 3
    assert modes.kappa.min() > 0.1
    h = toy.hessian(theta)
    np.testing.assert_allclose(h, h.T, atol=1e-12)
    np.testing.assert_allclose(h.reshape(toy.n_atoms, 3, toy.n_atoms, 3).sum(axis=2), 0.0, atol=1e-12)  # ASR


def test_forces_are_minus_energy_gradient(toy: PairDescriptorToy, hot_positions: np.ndarray) -> None:
    theta = toy.default_theta() + np.array([0.0, 0.0, 0.3, -0.2])  # exercise every feature
    h = 1e-5  # Å; central differences: truncation ~h²·E'''/6 ~ 1e-10, rounding ~eps·|E|/h ~ 1e-9 eV/Å
    n = toy.n_atoms
    steps = np.eye(3 * n).reshape(3 * n, n, 3) * h
    e_plus = toy.energy(theta, hot_positions + steps)
    e_minus = toy.energy(theta, hot_positions - steps)
    fd = -(e_plus - e_minus).reshape(n, 3) / (2 * h)
    f = toy.forces(theta, hot_positions)
    assert np.abs(f).max() > 0.1  # non-trivial configuration
    np.testing.assert_allclose(f, fd, rtol=0, atol=1e-6)
    np.testing.assert_allclose(f.sum(axis=0), 0.0, atol=1e-12)  # Newton's third law


def test_hessian_matches_force_differences(toy: PairDescriptorToy, hot_positions: np.ndarray) -> None:
    theta = toy.default_theta() + np.array([0.0, 0.0, 0.3, -0.2])
    h = 1e-5
    n = toy.n_atoms
    steps = np.eye(3 * n).reshape(3 * n, n, 3) * h
    f_plus = toy.forces(theta, hot_positions + steps).reshape(3 * n, 3 * n)
    f_minus = toy.forces(theta, hot_positions - steps).reshape(3 * n, 3 * n)
    fd = -(f_plus - f_minus) / (2 * h)  # row k: −∂F/∂x_k = ∂²E/∂x_k∂x
    np.testing.assert_allclose(toy.hessian(theta, hot_positions), fd, rtol=0, atol=1e-6)


def test_features_invariant_under_permutation_translation_wrapping(
    toy: PairDescriptorToy, hot_positions: np.ndarray
) -> None:
    d = toy.features(hot_positions)
    assert d.shape == (4,)
    perm = np.random.default_rng(0).permutation(toy.n_atoms)
    np.testing.assert_allclose(toy.features(hot_positions[perm]), d, rtol=1e-13)
    np.testing.assert_allclose(toy.features(hot_positions + np.array([0.37, -1.2, 5.1])), d, rtol=1e-13)
    wrapped = hot_positions.copy()
    wrapped[3] += toy.cell[0] - 2 * toy.cell[2]  # a lattice translation of one atom changes nothing
    np.testing.assert_allclose(toy.features(wrapped), d, rtol=1e-13)
    batch = toy.features(np.stack([hot_positions, toy.positions0]))
    assert batch.shape == (2, 4)
    np.testing.assert_allclose(batch[0], d, rtol=1e-15)


def test_explicit_images_match_larger_supercell() -> None:
    # rc larger than half the 2x2x2 cell: explicit images must reproduce the 3x3x3 per-atom features
    small = PairDescriptorToy.fcc(a=3.6, repeat=2, rc=4.5, n_features=3)
    large = PairDescriptorToy.fcc(a=3.6, repeat=3, rc=4.5, n_features=3)
    np.testing.assert_allclose(small.D_0, large.D_0, rtol=1e-12)


def test_from_atoms_duck_typed(toy: PairDescriptorToy) -> None:
    class FakeAtoms:
        def get_positions(self):
            return toy.positions0

        def get_cell(self):
            return toy.cell

        def get_masses(self):
            return np.full(toy.n_atoms, toy.mass)

    other = PairDescriptorToy.from_atoms(FakeAtoms(), toy.rc, toy.n_features)
    np.testing.assert_array_equal(other.D_0, toy.D_0)


def test_validation(toy: PairDescriptorToy) -> None:
    with pytest.raises(InputError, match="theta"):
        toy.energy(np.ones(2), toy.positions0)
    with pytest.raises(InputError, match="positions"):
        toy.features(np.zeros((5, 3)))
    with pytest.raises(InputError, match="n_features"):
        PairDescriptorToy.fcc(n_features=1).default_theta()


@pytest.mark.parametrize("T", [100.0, 900.0, 3000.0])
def test_exact_harmonic_ddos_identity(toy: PairDescriptorToy, T: float) -> None:
    """D = harmonic energy per atom, θ = 1: s_θ(α) = −βθ·(D − D_0) on every shell, and

    min_α G(α) = βκ̄e^α/2 − S_0(α, T)  gives  F = 3k_BT⟨ln βħω⟩ ("ddos" convention), e^{α*} = 3/(βκ̄).
    G is evaluated from freshly drawn shell samples (direct on-shell reweighting) at each trial α.
    """
    modes = toy.modes()
    desc = HarmonicDescriptor(modes, toy.positions0)
    theta = np.ones(1)
    beta = 1.0 / (KB * T)
    N = modes.n_atoms
    kbar = modes.kappa_bar

    def s_theta(alpha: float) -> float:
        T_shell = kbar * math.exp(alpha) / (3 * KB)
        samples = sample_shell(
            modes, toy.positions0, T_shell, task_seed(0, "harmonic", repr(alpha)), 8, desc.features
        )
        # D is constant on the shell: the exponential average is exact with any number of samples
        np.testing.assert_allclose(samples.descriptors[:, 0], 1.5 * KB * T_shell, rtol=1e-10)
        x = -beta * N * (samples.descriptors - desc.D_0) @ theta
        return float(logsumexp(x) - math.log(len(x))) / N

    for T_shell in (50.0, 1000.0):
        alpha = float(shell_alpha(T_shell, kbar))
        assert s_theta(alpha) == pytest.approx(-beta * 1.5 * KB * T_shell, rel=1e-10)

    def G(alpha: float) -> float:
        return -s_theta(alpha) - float(shell_entropy(alpha, T, modes.mass, modes.mean_log_nu))

    a_star = math.log(3 / (beta * kbar))
    res = minimize_scalar(G, bounds=(a_star - 2, a_star + 2), method="bounded", options={"xatol": 1e-12})
    F = KB * T * res.fun
    # G'' = 3/2 at the minimum, so an α error δ shifts F by only (3/4)k_BT δ²; the tolerance is set by
    # rounding of G (~1e-15·|G|) and the relative one on e^{α*} by √(rounding/G'') ~ 1e-7
    assert F == pytest.approx(float(harmonic_free_energy(modes, T, "ddos")), abs=1e-8)
    assert math.exp(res.x) == pytest.approx(3 / (beta * kbar), rel=1e-6)
