"""Cumulant-3 (Gamma) closure and exact α integral (thermograd.ddos.estimators.cumulant)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thermograd.ddos.estimators.cumulant import CumulantEstimator, gamma_closure_log_mgf
from thermograd.errors import InputError
from thermograd.harmonic import Modes, harmonic_free_energy
from thermograd.testing.synthetic import harmonic_campaign
from thermograd.units import KB

N_ATOMS = 16
KAPPA = np.linspace(2.0, 20.0, 3 * N_ATOMS - 3)  # eV/Å², 3N − 3 modes
MASS = 95.95
MODES = Modes(kappa=KAPPA, vectors=np.zeros((3 * N_ATOMS, KAPPA.size)), mass=MASS, n_atoms=N_ATOMS)
# log-spaced shells wide enough that the harmonic Gamma density of U_h (relative width √(2/M) ≈ 0.21)
# lies inside the α range at every tested temperature
T_SHELLS = np.geomspace(20.0, 30000.0, 60)
TEMPS = [300.0, 800.0, 1500.0]


@pytest.fixture(scope="module")
def harmonic_estimator() -> CumulantEstimator:
    return CumulantEstimator(harmonic_campaign(T_SHELLS, KAPPA, MASS, N_ATOMS))


def test_gamma_closure_is_exact_for_gamma_distributions() -> None:
    k, scale, c = 5.0, 0.3, 1.0
    t = torch.tensor([0.1, 1.0, 10.0, 100.0], dtype=torch.float64)
    k1, k2, k3 = (
        torch.tensor(v, dtype=torch.float64) for v in (c + k * scale, k * scale**2, 2 * k * scale**3)
    )
    exact = -t * c - k * torch.log1p(t * scale)  # u = c + Gamma(k, scale)
    assert torch.allclose(gamma_closure_log_mgf(k1, k2, k3, t), exact, rtol=1e-12, atol=1e-12)
    # mirrored (heavy lower tail): u = c − Gamma; finite for t·scale < 1, +inf beyond
    k1m, k3m = torch.tensor(c - k * scale, dtype=torch.float64), -k3
    tm = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)
    exact_m = -tm * c - k * torch.log1p(-tm * scale)
    assert torch.allclose(gamma_closure_log_mgf(k1m, k2, k3m, tm), exact_m, rtol=1e-12)
    assert torch.isinf(gamma_closure_log_mgf(k1m, k2, k3m, torch.tensor(4.0, dtype=torch.float64)))


def test_gamma_closure_reduces_to_gaussian_without_skewness() -> None:
    t = torch.tensor([0.5, 5.0, 50.0], dtype=torch.float64)
    k1, k2 = torch.tensor(0.2, dtype=torch.float64), torch.tensor(0.01, dtype=torch.float64)
    got = gamma_closure_log_mgf(k1, k2, torch.zeros((), dtype=torch.float64), t)
    assert torch.allclose(got, -t * k1 + 0.5 * t**2 * k2, rtol=1e-14)
    # both sides of the small-skewness series switch (|x| = 1e-4) agree with the closed form
    x = np.array([0.99e-4, 1.01e-4])
    k3 = torch.tensor(x * 2 * 0.01 / 5.0, dtype=torch.float64)  # x = t·κ3/(2κ2) at t = 5
    v = gamma_closure_log_mgf(k1, k2, k3, torch.tensor(5.0, dtype=torch.float64)).numpy()
    closed = -5.0 * 0.2 + (0.01 / (x / 5.0) ** 2) * (x - np.log1p(x))
    np.testing.assert_allclose(v, closed, rtol=0, atol=1e-11)


@pytest.mark.parametrize("T", TEMPS)
def test_harmonic_identity_exact_alpha_integral(harmonic_estimator, T) -> None:
    """Descriptor = harmonic energy per atom, θ = 1: F_anh = 0 and F = F_h^cell exactly (finite N)."""
    r = harmonic_estimator.predict([1.0], [T], n_boot=0, convention="cell")
    assert abs(r.F_anh[0, 0]) < 1e-6
    assert r.F[0, 0] == pytest.approx(float(harmonic_free_energy(MODES, T, "cell")), abs=1e-6)
    r_ddos = harmonic_estimator.predict([1.0], [T], n_boot=0, convention="ddos")
    assert r_ddos.F[0, 0] == pytest.approx(float(harmonic_free_energy(MODES, T, "ddos")), abs=1e-6)
    assert not r.flagged[0, 0]


@pytest.mark.parametrize("c", [0.7, 1.3])
def test_scaled_harmonic_model_and_gradient(harmonic_estimator, c) -> None:
    """θ = c scales every stiffness by c: F_anh = (k_BT/N)(M/2) ln c and ∂F/∂θ = (k_BT/N)(M/2)/c."""
    M = KAPPA.size
    r = harmonic_estimator.predict([c], TEMPS, n_boot=0, with_grad=True)
    kT = KB * np.array(TEMPS)
    np.testing.assert_allclose(r.F_anh[0], kT * 0.5 * M * np.log(c) / N_ATOMS, atol=1e-6)
    np.testing.assert_allclose(r.dF_dtheta[0, :, 0], kT * 0.5 * M / c / N_ATOMS, rtol=1e-6)


def test_autograd_matches_finite_differences() -> None:
    rng = np.random.default_rng(5)
    ds = harmonic_campaign(T_SHELLS[::3], KAPPA, MASS, N_ATOMS, n_samples=64)
    # make it anharmonic and skewed: add a second, noisy descriptor column
    for s in ds.shells:
        u = s.raw[:, 0]
        s.raw = np.column_stack([u, u**1.5 + 0.01 * u * rng.gamma(2.0, 1.0, u.size)])
        s.mean = s.raw.mean(0)
    ds.D_0 = np.zeros(2)
    est = CumulantEstimator(ds)
    theta = np.array([0.9, 0.05])
    r = est.predict(theta, [600.0], n_boot=0, with_grad=True)
    h = 1e-6
    for a in range(2):
        tp, tm = theta.copy(), theta.copy()
        tp[a] += h
        tm[a] -= h
        fd = (est.predict(tp, [600.0], n_boot=0).F[0, 0] - est.predict(tm, [600.0], n_boot=0).F[0, 0]) / (
            2 * h
        )
        assert r.dF_dtheta[0, 0, a] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_needs_raw_samples() -> None:
    ds = harmonic_campaign(T_SHELLS[:5], KAPPA, MASS, N_ATOMS)
    for s in ds.shells:
        s.raw = None
    with pytest.raises(InputError, match="raw samples"):
        CumulantEstimator(ds)


def test_rejects_bad_temperature(harmonic_estimator) -> None:
    with pytest.raises(InputError):
        harmonic_estimator.predict([1.0], [0.0])


def test_edge_flag_estimates_the_truncated_tail() -> None:
    """Harmonic identity on a narrow shell range: the truncated α integral misses F_anh = 0 by exactly the
    neglected mass; the extrapolated tail estimate bounds it (within a factor 2) and the flag reports it."""
    narrow = CumulantEstimator(harmonic_campaign(np.geomspace(300.0, 3000.0, 40), KAPPA, MASS, N_ATOMS))
    r = narrow.predict([1.0], [150.0, 600.0, 900.0, 1400.0, 2000.0, 6000.0], n_boot=0)
    err, tail, flag = np.abs(r.F_anh[0]), r.extra["tail"][0], r.flagged[0]
    assert np.all(err[2:4] < 1e-6) and np.all(tail[2:4] < 1e-6) and not flag[2:4].any()  # well inside
    for k in (1, 4):  # near an edge: a real truncation error of 1e-5 to 1e-4 eV/atom, flagged and bounded
        assert flag[k] and err[k] > 1e-5 and err[k] <= tail[k] <= 2 * err[k]
    assert (tail[[0, 5]] > 1e-3).all() and flag[[0, 5]].all()  # outside: the integrand still rises there
