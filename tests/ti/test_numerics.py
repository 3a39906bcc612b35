"""Engine-free numerics: quadrature, switching function, work estimators, error estimators."""

from __future__ import annotations

import numpy as np
import pytest

from thermograd.errors import InputError
from thermograd.md.switching import combine_switches, freitas_lambda, freitas_schedule, switching_work
from thermograd.ti.quadrature import gauss_legendre, integrate
from thermograd.ti.statistics import block_error, mean_and_error, statistical_inefficiency


def test_gauss_legendre_exact_for_polynomials():
    lam, w = gauss_legendre(4)
    assert np.all((lam > 0) & (lam < 1)) and np.isclose(w.sum(), 1.0)
    for deg in range(8):  # exact up to degree 2n - 1 = 7
        assert np.isclose(np.sum(w * lam**deg), 1.0 / (deg + 1), rtol=1e-13)


def test_integrate_propagates_independent_errors():
    _, w = gauss_legendre(3)
    val, err = integrate(np.ones(3), np.full(3, 0.1), w)
    assert np.isclose(val, 1.0) and np.isclose(err, 0.1 * np.sqrt(np.sum(w**2)))
    with pytest.raises(InputError):
        integrate(np.ones(3), np.ones(2), w)
    with pytest.raises(InputError):
        gauss_legendre(0)


def test_freitas_function_is_smooth_and_monotone():
    t = np.linspace(0, 1, 2001)
    lam = freitas_lambda(t)
    assert lam[0] == 0.0 and np.isclose(lam[-1], 1.0, atol=1e-12)
    assert np.all(np.diff(lam) >= -1e-15)
    # zero first derivative at both ends (polynomial 70t^9 ... has a 5th-order zero at t = 0, 4th at t = 1)
    assert np.isclose(np.gradient(lam, t)[0], 0.0, atol=1e-9) and abs(np.gradient(lam, t)[-1]) < 1e-6
    assert freitas_schedule(10).shape == (11,)


def test_switching_work_linear_path_and_direction():
    lam = np.linspace(0, 1, 101)
    assert np.isclose(switching_work(lam, 2.0 + 0 * lam), 2.0)
    assert np.isclose(switching_work(lam[::-1], 2.0 + 0 * lam), -2.0)


def test_combine_switches():
    est = combine_switches([1.2, 1.4], [-0.8, -0.6])
    assert np.isclose(est.delta_F, 1.0) and np.isclose(est.dissipation, 0.3)
    assert est.bounds_hold()
    assert np.isnan(combine_switches([1.0], [-1.0]).error)


def test_error_estimators_on_ar1_series():
    # AR(1) with φ = 0.9: g = (1 + φ)/(1 − φ) = 19; the estimated SEM must match the analytic one
    rng = np.random.default_rng(5)
    phi, n = 0.9, 200_000
    x = np.empty(n)
    x[0] = 0.0
    noise = rng.standard_normal(n) * np.sqrt(1 - phi**2)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    g = statistical_inefficiency(x)
    assert 15 < g < 23
    true_sem = np.sqrt(19.0 / n)
    assert 0.7 < mean_and_error(x, "autocorr").error / true_sem < 1.3
    assert 0.5 < block_error(x, 16) / true_sem < 1.6
    with pytest.raises(InputError):
        mean_and_error(x, "bogus")


def test_calphy_convention_matches_a_calphy_report():
    """calphy 2.3 report.yaml (BCC Fe, 54 atoms, a = 2.855 Å, 800 K; benchmarks/ti_vs_calphy.py):
    k = 2.954514261306918 eV/Å², einstein_crystal = -0.31721184783441486, com_correction = -0.01954094749499733.
    """
    from thermograd.harmonic import einstein_free_energy
    from thermograd.ti.frenkel_ladd import calphy_form
    from thermograd.ti.results import calphy_shift

    k, T, n, v = 2.954514261306918, 800.0, 54, 11.6355881875 * 54
    f_e = einstein_free_energy(k, 55.845, T)
    assert abs(f_e - -0.31721184783441486) < 2e-7  # constants differ in the 8th digit
    assert abs(calphy_form(f_e, 0.0, T, n, v, k) - f_e - -0.01954094749499733) < 2e-7
    # the cell → calphy shift is the same number whatever the spring constant
    f_cell = f_e * (1 - 1 / n)
    assert abs(calphy_form(f_e, 0.0, T, n, v, k) - f_cell - calphy_shift(T, n, v, 55.845)) < 1e-12
