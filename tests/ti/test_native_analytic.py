"""Analytic checks of λ-TI, Frenkel–Ladd and reversible scaling on the native Langevin engine.

Tolerances: |Δ| < 4σ with σ the driver's own estimated error (fixed seeds).
"""

from __future__ import annotations

import numpy as np
import pytest

from thermograd.errors import InputError, UnstableStructureError
from thermograd.harmonic import einstein_free_energy, harmonic_free_energy, modes_from_hessian
from thermograd.md.switching import combine_switches, switching_work
from thermograd.ti.frenkel_ladd import calphy_form, run_frenkel_ladd
from thermograd.ti.lambda_ti import run_lambda_ti
from thermograd.ti.native import EinsteinModel, HarmonicModel, NativeSystem
from thermograd.ti.results import calphy_shift
from thermograd.ti.reversible_scaling import run_reversible_scaling
from thermograd.units import KB

MASS = 55.85
T = 500.0


def _f_cell(h, T):
    return float(harmonic_free_energy(modes_from_hessian(h, MASS), T, "cell"))


def test_harmonic_model_has_zero_anharmonic_free_energy(network):
    pos, h = network
    n = len(pos)
    system = NativeSystem(HarmonicModel(h, pos, -2.0 * n), pos, MASS, volume=7.5**3)
    res = run_lambda_ti(system, T, n_points=2, n_equil=10, n_prod=200, seed=3)
    assert abs(res.F_anh) < 1e-12 and res.F_error < 1e-12  # ∂U/∂λ ≡ 0
    assert np.isclose(res.E0, -2.0)
    assert np.isclose(res.F, res.E0 + float(harmonic_free_energy(modes_from_hessian(h, MASS), T, "ddos")))
    assert np.isclose(res.F_cell, res.E0 + _f_cell(h, T))
    assert np.isclose(res.F_calphy - res.F_cell, calphy_shift(T, n, 7.5**3, MASS))


def test_lambda_ti_between_two_harmonic_crystals(network, make_network):
    """Reference H1, model H2: F_anh = F_h,cell(H2) − F_h,cell(H1) = (k_BT/2N) Σ ln(κ2/κ1)."""
    pos, h1 = network
    _, h2 = make_network(rng=np.random.default_rng(1), spread=0.3)
    system = NativeSystem(HarmonicModel(h2, pos), pos, MASS, volume=7.5**3)
    res = run_lambda_ti(system, T, n_points=4, n_equil=200, n_prod=3000, seed=1, hessian=h1)
    exact = _f_cell(h2, T) - _f_cell(h1, T)
    assert abs(res.F_anh - exact) < 4 * res.F_anh_error, (res.F_anh, exact, res.F_anh_error)
    assert res.F_anh_error < 0.1 * abs(exact)


def test_frenkel_ladd_on_harmonic_crystal_gives_exact_cell_free_energy(network):
    """Tests the centre-of-mass treatment: F = E_0 + (k_BT/N) Σ_{3N−3} ln βħω exactly."""
    pos, h = network
    n = len(pos)
    system = NativeSystem(HarmonicModel(h, pos, -3.0 * n), pos, MASS, volume=7.5**3)
    res = run_frenkel_ladd(system, T, n_msd=1500, n_equil=300, n_switch=1500, n_repeats=6, seed=2)
    exact = -3.0 + _f_cell(h, T)
    assert abs(res.F - exact) < 4 * res.F_error, (res.F, exact, res.F_error)
    assert res.dissipation > -4 * res.dissipation_error
    assert all(wf >= -res.delta_F - 4 * res.F_error * np.sqrt(4) for wf in res.w_forward)
    assert np.isclose(res.F_calphy - res.F, calphy_shift(T, n, 7.5**3, MASS))
    assert np.isclose(res.spring, 3 * KB * T / res.msd)


def test_einstein_frenkel_ladd_returns_exact_einstein_free_energy(network):
    pos, _ = network
    k = 6.0
    system = NativeSystem(EinsteinModel(k, pos), pos, MASS, volume=7.5**3)
    res = run_frenkel_ladd(system, T, n_msd=1000, n_equil=600, n_switch=1000, n_repeats=8, seed=4)
    # equal springs: the pinned centre-of-mass mode has the same frequency, F = f_E(k)(1 − 1/N)
    exact = einstein_free_energy(k, MASS, T) * (1 - 1 / len(pos))
    assert abs(res.F - exact) < 4 * res.F_error
    # in the calphy convention the Einstein crystal at its own spring constant is exactly f_E + F_cm
    assert np.isclose(
        calphy_form(einstein_free_energy(k, MASS, T), 0.0, T, len(pos), 7.5**3, k) - exact,
        calphy_shift(T, len(pos), 7.5**3, MASS),
    )


@pytest.mark.parametrize("fix_com", [False, True])
def test_switching_between_einstein_crystals(network, fix_com):
    """k1 → k2: ΔF = (n_dof/2) k_BT ln(k2/k1) per cell, n_dof = 3N (3N − 3 with the centre of mass pinned);
    W_f ≥ ΔF ≥ −W_b in every run."""
    pos, _ = network
    n = len(pos)
    k1, k2 = 2.0, 8.0
    system = NativeSystem(EinsteinModel(k1, pos), pos, MASS, fix_com=fix_com)
    n_dof = 3 * n - (3 if fix_com else 0)
    exact = 0.5 * n_dof * KB * T * np.log(k2 / k1)
    wf, wb = [], []
    for seed in range(4):
        fwd, bwd = system.fl_switch(T, k2, n_equil=200, n_switch=1000, seed=seed)
        wf.append(switching_work(fwd.lam, fwd.dU_dlam))
        wb.append(switching_work(bwd.lam, bwd.dU_dlam))
        assert wf[-1] >= exact >= -wb[-1]
    est = combine_switches(wf, wb)
    assert abs(est.delta_F - exact) < 4 * est.error, (est.delta_F, exact, est.error)
    assert est.dissipation > 0


def test_reversible_scaling_on_harmonic_crystal(network):
    pos, h = network
    n = len(pos)
    system = NativeSystem(HarmonicModel(h, pos, -3.0 * n), pos, MASS)
    T0, T1 = 300.0, 900.0
    f0 = -3.0 + _f_cell(h, T0)
    res = run_reversible_scaling(
        system, T0, T1, f0, 0.0, n_equil=200, n_switch=4000, n_repeats=8, seed=6, n_temperatures=3
    )
    for t, f, e in zip(res.temperatures, res.F, res.error):
        exact = -3.0 + _f_cell(h, t)
        assert abs(f - exact) < 4 * e + 1e-12, (t, f, exact, e)
    assert np.isclose(res.F[0], f0)


def test_bad_input_and_unstable_structure(network):
    pos, h = network
    system = NativeSystem(HarmonicModel(h, pos), pos, MASS)
    for bad_T in (0.0, -10.0):
        with pytest.raises(InputError):
            run_lambda_ti(system, bad_T)
        with pytest.raises(InputError):
            run_frenkel_ladd(system, bad_T)
    # an unstable reference (negative mode) is refused before any MD
    with pytest.raises(UnstableStructureError):
        run_lambda_ti(NativeSystem(HarmonicModel(-h, pos), pos, MASS), T, n_prod=100)
    # an atom that escapes its site stops the run: no number is returned
    soft = NativeSystem(HarmonicModel(1e-3 * h, pos), pos, MASS, max_displacement=0.3)
    with pytest.raises(UnstableStructureError, match="moved"):
        run_frenkel_ladd(soft, 3000.0, spring=1.0, n_equil=100, n_switch=500, n_repeats=1)


def test_results_do_not_depend_on_the_executor(network):
    from thermograd.parallel import make_executor

    pos, h = network
    system = NativeSystem(HarmonicModel(1.2 * h, pos), pos, MASS)
    serial = run_lambda_ti(system, T, n_points=2, n_equil=20, n_prod=200, seed=9, hessian=h)
    with make_executor("processes", 2) as ex:
        pooled = run_lambda_ti(system, T, n_points=2, n_equil=20, n_prod=200, seed=9, hessian=h, executor=ex)
    assert serial.F_anh == pooled.F_anh and serial.points == pooled.points
