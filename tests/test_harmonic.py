"""Tests of thermograd.harmonic: modes, free-energy conventions, Einstein crystal, shell geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thermograd.errors import InputError, UnstableStructureError
from thermograd.harmonic import (
    einstein_free_energy,
    harmonic_free_energy,
    modes_from_hessian,
    shell_alpha,
    shell_entropy,
    shell_temperature,
    symmetrize_hessian,
)
from thermograd.units import EV_PER_A2_AMU_TO_PS2, HBAR2_PER_AMU, HBAR_EV_PS, KB

MASS = 55.845

# SI constants (CODATA 2018) for an independent unit route
HBAR_SI, KB_SI, EV_SI, AMU_SI = 1.054571817e-34, 1.380649e-23, 1.602176634e-19, 1.66053906660e-27


def translations(n_atoms: int) -> np.ndarray:
    """Orthonormal uniform translations, shape (3N, 3)."""
    t = np.zeros((3 * n_atoms, 3))
    for k in range(3):
        t[k::3, k] = 1.0 / math.sqrt(n_atoms)
    return t


def hessian_with_spectrum(kappa: np.ndarray, seed: int) -> np.ndarray:
    """H = V diag(κ) Vᵀ, V a random orthonormal basis of the complement of the translations (exact ASR)."""
    m = kappa.size
    n = (m + 3) // 3
    rng = np.random.default_rng(seed)
    t = translations(n)
    q, _ = np.linalg.qr(np.concatenate([t, rng.normal(size=(3 * n, m))], axis=1))
    v = q[:, 3:]
    return (v * kappa) @ v.T


def test_modes_drop_exactly_the_three_translations() -> None:
    n = 6
    # one very soft but stable mode (below the translations' overlap ranking by magnitude it would be dropped)
    kappa = np.concatenate([[1e-4], np.linspace(0.5, 9.0, 3 * n - 4)])
    h = hessian_with_spectrum(kappa, seed=1)
    modes = modes_from_hessian(h, MASS)
    assert modes.n_modes == 3 * n - 3 and modes.n_atoms == n and modes.mass == MASS
    np.testing.assert_allclose(modes.kappa, np.sort(kappa), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(modes.vectors.T @ modes.vectors, np.eye(3 * n - 3), atol=1e-12)
    # eigenvector rounding ~ eps·κ_max/gap = 1e-16·9/1e-4 ~ 1e-11 for the soft mode next to the zero modes
    np.testing.assert_allclose(translations(n).T @ modes.vectors, 0.0, atol=1e-9)
    np.testing.assert_allclose((modes.vectors * modes.kappa) @ modes.vectors.T, h, atol=1e-12)
    assert modes.kappa_bar == pytest.approx(kappa.mean(), rel=1e-12)
    assert modes.mean_log_nu == pytest.approx(np.mean(np.log(kappa / kappa.mean())), rel=1e-9)
    assert modes.mean_log_nu <= 0


def test_harmonic_energy_is_half_xHx() -> None:
    n = 4
    h = hessian_with_spectrum(np.linspace(1.0, 5.0, 3 * n - 3), seed=2)
    modes = modes_from_hessian(h, MASS)
    dx = np.random.default_rng(3).normal(size=(7, n, 3))
    flat = dx.reshape(7, -1)
    np.testing.assert_allclose(
        modes.harmonic_energy(dx), 0.5 * np.einsum("mi,ij,mj->m", flat, h, flat), rtol=1e-12
    )
    np.testing.assert_allclose(modes.harmonic_energy(flat), modes.harmonic_energy(dx), rtol=1e-15)


def test_unstable_hessian_names_count_and_most_negative() -> None:
    n = 4
    kappa = np.concatenate([[-0.37, -0.05], np.linspace(1.0, 4.0, 3 * n - 5)])
    with pytest.raises(UnstableStructureError, match=r"2 of 9 vibrational modes.*most negative -0\.37\b"):
        modes_from_hessian(hessian_with_spectrum(kappa, seed=4), MASS)


def test_modes_input_validation() -> None:
    with pytest.raises(InputError, match="mass"):
        modes_from_hessian(np.eye(6), 0.0)
    with pytest.raises(InputError, match="shape"):
        modes_from_hessian(np.eye(5), MASS)


def test_acoustic_sum_rule_imposed_on_symmetric_row_sums() -> None:
    # a force-constant matrix whose ASR violation is a symmetric on-site term (e.g. a uniform external spring)
    n = 5
    h = hessian_with_spectrum(np.linspace(1.0, 4.0, 3 * n - 3), seed=5) + 0.2 * np.eye(3 * n)
    fixed = symmetrize_hessian(h)
    np.testing.assert_allclose(fixed, fixed.T, atol=0)
    np.testing.assert_allclose(fixed.reshape(n, 3, n, 3).sum(axis=2), 0.0, atol=1e-12)


def test_acoustic_sum_rule_exact_for_general_symmetric_matrix() -> None:
    n = 5
    a = np.random.default_rng(6).normal(size=(3 * n, 3 * n))
    fixed = symmetrize_hessian(a + a.T)
    np.testing.assert_allclose(fixed, fixed.T, atol=1e-12)
    np.testing.assert_allclose(fixed.reshape(n, 3, n, 3).sum(axis=2), 0.0, atol=1e-12)


def test_free_energy_conventions_and_independent_units() -> None:
    n = 8
    kappa = np.random.default_rng(7).uniform(0.5, 12.0, 3 * n - 3)
    modes = modes_from_hessian(hessian_with_spectrum(kappa, seed=8), MASS)
    T = np.array([50.0, 300.0, 2500.0])
    f_ddos = harmonic_free_energy(modes, T, "ddos")
    f_cell = harmonic_free_energy(modes, T, "cell")
    # the two conventions differ only by (3N − 3)/3N on the log term (there is no other term)
    np.testing.assert_allclose(f_cell, f_ddos * (3 * n - 3) / (3 * n), rtol=1e-13)
    # independent unit route: ω in rad/s from SI constants
    omega = np.sqrt(np.sort(kappa) * EV_SI / 1e-20 / (MASS * AMU_SI))
    expected = 3 * KB * T * np.mean(np.log(HBAR_SI * omega[None, :] / (KB_SI * T[:, None])), axis=1)
    np.testing.assert_allclose(f_ddos, expected, rtol=1e-8)
    assert float(harmonic_free_energy(modes, 300.0)) == pytest.approx(f_ddos[1], rel=1e-15)  # default "ddos"
    with pytest.raises(InputError, match="convention"):
        harmonic_free_energy(modes, 300.0, "per-mode")
    with pytest.raises(InputError, match="temperature"):
        harmonic_free_energy(modes, [300.0, 0.0])


def test_einstein_closed_form_in_si_units() -> None:
    k = np.array([1.5, 3.0, 7.25])  # eV/Å²
    m = np.array([26.98, 55.845, 183.84])  # amu
    T = 800.0
    omega = np.sqrt(k * EV_SI / 1e-20 / (m * AMU_SI))  # rad/s
    expected_j = 3 * KB_SI * T * np.mean(np.log(HBAR_SI * omega / (KB_SI * T)))
    assert einstein_free_energy(k, m, T) == pytest.approx(expected_j / EV_SI, rel=1e-8)
    # a crystal with all stiffnesses equal is an Einstein crystal in the "ddos" convention
    n = 4
    modes = modes_from_hessian(hessian_with_spectrum(np.full(3 * n - 3, 2.0), seed=9), MASS)
    assert float(harmonic_free_energy(modes, T)) == pytest.approx(
        einstein_free_energy(2.0, MASS, T), rel=1e-12
    )
    with pytest.raises(InputError):
        einstein_free_energy(-1.0, MASS, T)
    with pytest.raises(InputError):
        einstein_free_energy(1.0, MASS, 0.0)


def test_shell_geometry_and_entropy_decomposition() -> None:
    kbar, T_shell, T = 6.5, 1234.0, 700.0
    alpha = shell_alpha(T_shell, kbar)
    assert alpha == pytest.approx(math.log(3 * KB * T_shell / kbar), rel=1e-15)
    assert shell_temperature(alpha, kbar) == pytest.approx(T_shell, rel=1e-14)
    np.testing.assert_allclose(
        shell_temperature(np.array([alpha, alpha + 1]), kbar), [T_shell, T_shell * math.e]
    )
    # S_0 = sphere surface (3/2)[ln(2πr²/3) + 1] − (3/2)⟨ln ν⟩ − (3/2) ln(2πβħ²/m)   (science-ddos §4)
    mean_log_nu, beta = -0.12, 1 / (KB * T)
    r2 = math.exp(alpha)
    expected = (
        1.5 * (math.log(2 * math.pi * r2 / 3) + 1)
        - 1.5 * mean_log_nu
        - 1.5 * math.log(2 * math.pi * beta * HBAR2_PER_AMU / MASS)
    )
    assert shell_entropy(alpha, T, MASS, mean_log_nu) == pytest.approx(expected, rel=1e-13)


def test_hbar2_per_amu_in_si() -> None:
    assert HBAR2_PER_AMU == pytest.approx(HBAR_SI**2 / AMU_SI / EV_SI * 1e20, rel=1e-12)  # ≈ 4.18e-3 eV·Å²
    assert HBAR_EV_PS == pytest.approx(HBAR_SI / EV_SI * 1e12, rel=1e-9)


def test_force_constant_to_ps2_conversion() -> None:
    # (eV/Å²)/amu = 1.602e-19 J / 1e-20 m² / 1.6605e-27 kg = 9.6485e27 s⁻² = 9648.5 ps⁻²
    assert EV_PER_A2_AMU_TO_PS2 == pytest.approx(EV_SI / 1e-20 / AMU_SI * 1e-24, rel=1e-12)
    assert HBAR2_PER_AMU == pytest.approx(HBAR_EV_PS**2 * EV_PER_A2_AMU_TO_PS2, rel=1e-9)


def test_shell_temperature_accepts_int_and_float32() -> None:
    assert shell_temperature(0, 3.0) == pytest.approx(3.0 / (3 * KB))
    assert shell_temperature(np.float32(0.0), 3.0) == pytest.approx(3.0 / (3 * KB), rel=1e-6)


def test_einstein_broadcasts_scalar_spring_over_masses() -> None:
    assert einstein_free_energy(2.0, np.array([50.0, 60.0]), 300.0) == pytest.approx(
        einstein_free_energy(np.array([2.0, 2.0]), np.array([50.0, 60.0]), 300.0)
    )


def test_harmonic_free_energy_rejects_nan_temperature() -> None:
    modes = modes_from_hessian(hessian_with_spectrum(np.full(9, 2.0), seed=10), MASS)
    with pytest.raises(InputError):
        harmonic_free_energy(modes, float("nan"))
