"""Frenkel–Ladd on the torch engine with an MLIP-style backend (Morse pair model of BCC Fe, 16 atoms).

Checks: a finite error and a non-negative dissipation, equal springs on equivalent sites, independence of the
spring choice (FL is exact for any Einstein reference: k from the MSD and 2k agree within 3 combined σ) and
the harmonic limit (at 10 K, F → E_0/N + F_h,cell of the model's own numerical Hessian, within 3σ plus an
anharmonic allowance scaled as T² from the 300 K run).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from thermograd.alchemy.md import MLIPPotential
from thermograd.alchemy.pair import FE_MORSE, MorseBackend
from thermograd.harmonic import harmonic_free_energy, modes_from_hessian
from thermograd.md.frenkel_ladd import FrenkelLaddOutcome, MDSettings, frenkel_ladd
from thermograd.structures import bcc

#: short runs (about 1400 steps of 4 replicas per Frenkel–Ladd): the dissipation is ~1–2 k_BT per cell, above
#: the warning threshold, which only widens the error bars the checks use
SETTINGS = dict(n_msd_equil=100, n_msd=300, n_equil=100, n_switch=400, n_replicas=4)
pytestmark = pytest.mark.filterwarnings("ignore::thermograd.md.protocol.SwitchingTooFast")


@pytest.fixture(scope="module")
def fe16():
    return bcc("Fe", a=2.86, size=2)


@pytest.fixture(scope="module")
def morse(fe16):
    return MLIPPotential(MorseBackend(FE_MORSE, cutoff=3.6), fe16)


@pytest.fixture(scope="module")
def run300(morse, fe16):
    return frenkel_ladd(morse, fe16, 300.0, settings=MDSettings(seed=1, **SETTINGS))


def numerical_hessian(potential, atoms, h: float = 1e-4) -> np.ndarray:
    """Central differences of the forces, all 6N displaced copies as one batch, eV/Å²."""
    n = len(atoms)
    x0 = torch.as_tensor(atoms.positions)
    disp = torch.zeros(2 * 3 * n, n, 3, dtype=torch.float64)
    for c in range(3 * n):
        disp[2 * c].view(-1)[c] = h
        disp[2 * c + 1].view(-1)[c] = -h
    cells = torch.as_tensor(atoms.cell[:]).expand(6 * n, 3, 3)
    _, f, _ = potential.evaluate(x0 + disp, cells)
    f = f.reshape(3 * n, 2, 3 * n).numpy()
    hess = -(f[:, 0] - f[:, 1]) / (2 * h)
    return 0.5 * (hess + hess.T)


def test_frenkel_ladd_morse_fe_300K(run300, morse, fe16):
    r = run300
    assert r.n_atoms == 16 and r.F_error > 0 and np.isfinite(r.F)
    assert r.dissipation > -3 * r.dissipation_error
    # every BCC site is equivalent: one spring constant, although the raw per-site MSDs differ
    assert np.ptp(r.springs) == 0.0 and np.ptp(r.msd_sites) > 0
    assert r.F == pytest.approx(r.F_einstein + r.com_correction + r.delta_F, abs=1e-15)
    assert isinstance(r, FrenkelLaddOutcome) and r.convention == "cell"
    e0, _, _ = morse.evaluate(torch.as_tensor(fe16.positions)[None], torch.as_tensor(fe16.cell[:])[None])
    assert r.energy_min == pytest.approx(float(e0[0]) / 16, abs=1e-12)  # the static energy at the sites
    assert len(r.w_forward) == len(r.w_backward) == SETTINGS["n_replicas"]
    assert r.md_steps == 100 + 300 + 2 * (100 + 400)


def test_spring_choice_does_not_change_F(run300, morse, fe16):
    """FL is exact for any Einstein reference: twice the MSD springs give the same F within 3 combined σ
    (σ from 4 replicas each; the stiffer reference dissipates more and has the larger error)."""
    stiff = frenkel_ladd(
        morse, fe16, 300.0, springs=2.0 * np.asarray(run300.springs), settings=MDSettings(seed=2, **SETTINGS)
    )
    assert stiff.F_einstein > run300.F_einstein + 0.01  # a genuinely different reference
    sigma = math.hypot(run300.F_error, stiff.F_error)
    assert abs(stiff.F - run300.F) < 3 * sigma, (run300.F, run300.F_error, stiff.F, stiff.F_error)
    # and the switching work undoes the reference's change: the residual is a small part of the change
    # of F_E itself (25 meV/atom for k → 2k)
    assert abs(stiff.F - run300.F) < 0.25 * (stiff.F_einstein - run300.F_einstein)


def test_harmonic_limit_at_10K(run300, morse, fe16):
    """At 10 K the model is harmonic: F = E_0/N + F_h,cell(10 K) + F_anh with |F_anh(10 K)| ≤ 3·|F_anh(300 K)|
    ·(10/300)² (F_anh ∝ T² to leading order; the factor 3 and the 300 K run's own 3σ are the allowance)."""
    hess = numerical_hessian(morse, fe16)
    modes = modes_from_hessian(hess, float(fe16.get_masses()[0]))
    e0 = run300.energy_min

    def f_harm(T):
        return e0 + harmonic_free_energy(modes, T, convention="cell")

    f_anh_300 = abs(run300.F - f_harm(300.0)) + 3 * run300.F_error
    assert f_anh_300 < 0.01  # the crystal is nearly harmonic at 300 K too (a sanity bound, eV/atom)
    cold = frenkel_ladd(morse, fe16, 10.0, settings=MDSettings(seed=3, **SETTINGS))
    allowance = 3 * f_anh_300 * (10.0 / 300.0) ** 2
    assert abs(cold.F - f_harm(10.0)) < 3 * cold.F_error + allowance, (
        cold.F,
        cold.F_error,
        f_harm(10.0),
        allowance,
    )
    # the springs from the MSD at 10 K are the mean stiffness of the Hessian (Einstein ≈ harmonic): 3k_BT/⟨Δr²⟩
    # = ⟨1/κ⟩⁻¹·(1 − 1/N)⁻¹ within the MSD run's noise (10 %)
    k_msd = 1.0 / np.mean(1.0 / modes.kappa) / (1 - 1 / 16)
    assert abs(cold.springs[0] / k_msd - 1) < 0.1, (cold.springs[0], k_msd)
