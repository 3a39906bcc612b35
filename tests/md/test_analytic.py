"""Analytic cases of the torch Langevin engine (science-alchemical.md §11), each exact up to its stated error.

* harmonic switching k1 → k2 (centre of mass held): ΔF = (3(N − 1)/2) k_BT ln(k2/k1) for the whole cell;
* the work bounds ⟨W_f⟩ ≥ ΔF ≥ −⟨W_b⟩ and the dissipation falling as the switch gets slower;
* Frenkel–Ladd of an Einstein crystal and of a translation-invariant harmonic crystal against their exact
  'cell' free energies;
* a pure mass change: zero work, equipartition with the new masses;
* :func:`thermograd.harmonic.einstein_cell_free_energy` against an independent derivation.

Statistics: every switching estimate is a mean over independent seeded replicas, its error the standard error
over the replicas; a check "within 3σ" uses that error (the seeds are fixed, so each test is deterministic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from thermograd.harmonic import (
    einstein_cell_free_energy,
    einstein_free_energy,
    harmonic_free_energy,
    modes_from_hessian,
)
from thermograd.md.engine import BatchedLangevin
from thermograd.md.frenkel_ladd import MDSettings, frenkel_ladd
from thermograd.md.hamiltonians import EinsteinPotential, HarmonicPotential, LinearPath, Static
from thermograd.md.protocol import switch_pair
from thermograd.structures import bcc
from thermograd.units import HBAR2_PER_AMU, KB

T = 300.0


@pytest.fixture(scope="module")
def fe16():
    return bcc("Fe", a=2.86, size=2)


def nn_hessian(atoms, k_bond: float = 3.0, k_trans: float = 1.0) -> np.ndarray:
    """Nearest-neighbour springs K = k_b nnᵀ + k_t(1 − nnᵀ) on every bond (minimum image): a translation-
    invariant force-constant matrix (each 3×3 block row sums to zero), eV/Å²."""
    n = len(atoms)
    vec = atoms.get_all_distances(mic=True, vector=True)
    dist = np.linalg.norm(vec, axis=-1)
    np.fill_diagonal(dist, np.inf)
    h = np.zeros((3 * n, 3 * n))
    for i in range(n):
        for j in np.flatnonzero(dist[i] < dist.min() + 1e-6):
            e = vec[i, j] / dist[i, j]
            k = k_bond * np.outer(e, e) + k_trans * (np.eye(3) - np.outer(e, e))
            h[3 * i : 3 * i + 3, 3 * j : 3 * j + 3] -= k
            h[3 * i : 3 * i + 3, 3 * i : 3 * i + 3] += k
    return h


def held_centre_free_energy(springs, masses, T) -> float:
    """Independent route to the held-centre Einstein free energy per atom: with q = √m x and π = p/√m
    (canonical), R = (√M)⁻¹ u·q and P = √M u·π with the unit vector u = √(m/M), so δ(R)δ(P) = δ(u·q)δ(u·π)
    and the constrained crystal is the dynamical matrix D = diag(k/m) restricted to u⊥: per Cartesian
    direction F = k_BT Σ_l ln(βħω_l) over its N − 1 eigenvalues ω_l²."""
    k, m = np.asarray(springs, float), np.asarray(masses, float)
    n = k.size
    u = np.sqrt(m / m.sum())
    proj = np.eye(n) - np.outer(u, u)
    basis = np.linalg.eigh(proj)[1][:, 1:]  # orthonormal basis of u⊥ (eigenvalue 1 block)
    w2 = np.linalg.eigvalsh(basis.T @ np.diag(k / m) @ basis)
    kt = KB * T
    return 3.0 * kt * float(np.sum(np.log(np.sqrt(HBAR2_PER_AMU * w2) / kt))) / n


def test_einstein_cell_free_energy_equal_springs_is_fE_times_one_minus_one_over_N():
    for n in (2, 16, 54):
        k, m = 2.3, 55.845
        f_e = einstein_free_energy(k, m, T)
        assert math.isclose(einstein_cell_free_energy(np.full(n, k), m, T), f_e * (1 - 1 / n), rel_tol=1e-12)


def test_einstein_cell_free_energy_unequal_matches_constrained_normal_modes():
    rng = np.random.default_rng(3)
    for n in (2, 3, 7):
        k = rng.uniform(0.5, 5.0, n)
        m = rng.uniform(10.0, 200.0, n)
        got = einstein_cell_free_energy(k, m, T)
        want = held_centre_free_energy(k, m, T)
        assert abs(got - want) < 1e-12, (n, got, want)
        # holding the centre is not a constant shift: it differs from the free crystal by O(k_BT/N)
        assert abs(got - einstein_free_energy(k, m, T)) > 1e-4


def test_cell_conventions_agree_for_a_harmonic_crystal(fe16):
    """The 'cell' harmonic free energy of a translation-invariant crystal is the same constrained-mode sum
    (the zero mode along u is exactly the uniform translation for one mass)."""
    h = nn_hessian(fe16)
    m = float(fe16.get_masses()[0])
    n = len(fe16)
    modes = modes_from_hessian(h, m)
    kt = KB * T
    direct = kt * float(np.sum(np.log(np.sqrt(HBAR2_PER_AMU * modes.kappa / m) / kt))) / n
    assert modes.n_modes == 3 * n - 3
    assert abs(harmonic_free_energy(modes, T, convention="cell") - direct) < 1e-12


def _pair(engine, sites, cell, masses, n_switch, n_replicas, seed0, n_equil=200):
    st = engine.initial_state(sites, cell, masses, T, [seed0 + r for r in range(n_replicas)])
    return switch_pair(engine, st, T, n_equil=n_equil, n_switch=n_switch, max_dissipation_kT=np.inf)


def test_harmonic_switching_k1_to_k2(fe16):
    """LinearPath(Einstein k1, Einstein k2) with the centre of mass held: only the 3(N − 1) internal degrees
    of freedom feel the springs' change (the held centre is no variable), so ΔF = (3(N − 1)/2)k_BT ln(k2/k1)
    for the whole cell, not 3N/2."""
    n, k1, k2 = len(fe16), 1.0, 4.0
    exact = 1.5 * (n - 1) * KB * T * math.log(k2 / k1)
    path = LinearPath(EinsteinPotential(k1, fe16.positions), EinsteinPotential(k2, fe16.positions))
    engine = BatchedLangevin(path, timestep=0.002, damping=0.1)
    pair = _pair(engine, fe16.positions, fe16.cell[:], fe16.get_masses(), 1500, 16, 100)
    est = pair.estimate
    assert est.error > 0
    assert abs(est.delta_F - exact) < 3 * est.error, (est.delta_F, est.error, exact)
    # the estimate tells 3(N − 1) from 3N: the difference (3/2)k_BT ln 4 = 0.054 eV is many σ
    wrong = 1.5 * n * KB * T * math.log(k2 / k1)
    assert abs(est.delta_F - wrong) > 5 * est.error
    # the Einstein energy at λ = 1 is equipartitioned over 3N − 3 coordinates: ⟨U⟩ = (3N − 3)k_BT/2
    assert abs(pair.backward.energy[:, 0].mean() - 1.5 * (n - 1) * KB * T) < 0.2 * 1.5 * n * KB * T


def test_work_bounds_and_dissipation_falls_with_switching_time(fe16):
    """Second law on the exact case: ⟨W_f⟩ ≥ ΔF ≥ −⟨W_b⟩ (means over 16 replicas, each bound allowed
    3 standard errors of its mean); the dissipation (W_f + W_b)/2 of a 40-step switch (0.08 ps, less than
    one period 2π/ω ≈ 0.5 ps) exceeds that of a 1500-step switch by more than 3 combined σ."""
    n, k1, k2 = len(fe16), 1.0, 4.0
    exact = 1.5 * (n - 1) * KB * T * math.log(k2 / k1)
    path = LinearPath(EinsteinPotential(k1, fe16.positions), EinsteinPotential(k2, fe16.positions))
    engine = BatchedLangevin(path, timestep=0.002, damping=0.1)
    q = {}
    for n_switch in (40, 1500):
        est = _pair(engine, fe16.positions, fe16.cell[:], fe16.get_masses(), n_switch, 16, 300).estimate
        sem_f = np.std(est.w_forward, ddof=1) / math.sqrt(est.n_pairs)
        sem_b = np.std(est.w_backward, ddof=1) / math.sqrt(est.n_pairs)
        assert est.w_forward.mean() >= exact - 3 * sem_f, (n_switch, est.w_forward.mean(), exact)
        assert -est.w_backward.mean() <= exact + 3 * sem_b, (n_switch, -est.w_backward.mean(), exact)
        q[n_switch] = (est.dissipation, est.dissipation_error)
    (q_fast, e_fast), (q_slow, e_slow) = q[40], q[1500]
    assert q_fast > 3 * e_fast  # the fast switch dissipates, clearly
    assert q_fast - q_slow > 3 * math.hypot(e_fast, e_slow), q
    assert q_slow < 0.25 * q_fast


def test_frenkel_ladd_of_an_einstein_crystal(fe16):
    """FL on an Einstein 'model' with springs 2.5 eV/Å² from reference springs fitted by the MSD: the exact
    held-centre free energy of the model, within 3σ and 1 meV/atom."""
    model = EinsteinPotential(2.5, fe16.positions)
    settings = MDSettings(n_msd_equil=200, n_msd=1000, n_equil=200, n_switch=1000, n_replicas=16, seed=4)
    run = frenkel_ladd(model, fe16, T, settings=settings)
    n, m = len(fe16), fe16.get_masses()
    exact = einstein_cell_free_energy(np.full(n, 2.5), m, T)
    assert run.F_error > 0
    assert abs(run.F - exact) < 3 * run.F_error and abs(run.F - exact) < 1e-3, (run.F, run.F_error, exact)
    # springs from ⟨|Δr|²⟩ = 3k_BT/k·(1 − 1/N) (the held centre takes 1/N of the fluctuation)
    assert abs(np.mean(run.springs) / (2.5 / (1 - 1 / n)) - 1) < 0.05
    assert math.isclose(run.F_einstein, einstein_free_energy(run.springs, m, T), abs_tol=1e-14)
    held = einstein_cell_free_energy(np.asarray(run.springs), m, T)
    assert math.isclose(run.F_einstein + run.com_correction, held, abs_tol=1e-14)


def test_frenkel_ladd_of_a_harmonic_crystal(fe16):
    """FL on a translation-invariant harmonic crystal (nearest-neighbour springs, acoustic sum rule) against
    E_0/N + F_h in the 'cell' convention (3N − 3 normal modes), within 3σ and 1 meV/atom."""
    h = nn_hessian(fe16)
    assert np.abs(h.reshape(len(fe16), 3, len(fe16), 3).sum(axis=2)).max() < 1e-12  # acoustic sum rule
    e0 = -4.0 * len(fe16)
    model = HarmonicPotential(h, fe16.positions, energy_offset=e0)
    settings = MDSettings(n_msd_equil=200, n_msd=1000, n_equil=200, n_switch=1500, n_replicas=16, seed=5)
    run = frenkel_ladd(model, fe16, T, settings=settings)
    exact = e0 / len(fe16) + harmonic_free_energy(
        modes_from_hessian(h, float(fe16.get_masses()[0])), T, convention="cell"
    )
    assert run.energy_min == pytest.approx(-4.0, abs=1e-12)
    assert abs(run.F - exact) < 3 * run.F_error and abs(run.F - exact) < 1e-3, (run.F, run.F_error, exact)
    assert run.dissipation > -3 * run.dissipation_error


class _MassSwitch(Static):
    """A λ-independent potential whose masses go m0 → m1 along λ (the alchemical mass interpolation)."""

    def __init__(self, potential, m0, m1):
        super().__init__(potential)
        self.m0 = torch.as_tensor(np.asarray(m0, float))
        self.m1 = torch.as_tensor(np.asarray(m1, float))

    def masses(self, lam):
        w = lam.to(torch.float64)[:, None]
        return (1 - w) * self.m0 + w * self.m1


def test_pure_mass_change_costs_no_work_and_equipartitions_with_the_new_masses(fe16):
    """Masses of half the sites switched 55.8 → 223 amu while U does not depend on λ: every ∂U/∂λ is 0, so
    the work is exactly 0 (the ΔF of a mass change, (3/2)k_BT ln(m_i/m_f) per atom, is kinetic and is added
    analytically); afterwards each atom carries ⟨p_i²/m_i⟩ = 3k_BT(1 − m_i/M) (total momentum held at 0)
    with its new mass, within 3 standard errors over replicas and within 5 %."""
    n = len(fe16)
    m0 = fe16.get_masses()
    m1 = m0.copy()
    m1[::2] *= 4.0
    ham = _MassSwitch(EinsteinPotential(2.0, fe16.positions), m0, m1)
    engine = BatchedLangevin(ham, timestep=0.002, damping=0.1)
    n_rep = 8
    st = engine.initial_state(fe16.positions, fe16.cell[:], m0, T, range(1, n_rep + 1))
    st, seg = engine.run(st, np.linspace(0.0, 1.0, 301), T)
    assert np.all(seg.dU_dlam == 0.0) and np.all(seg.work == 0.0)
    assert torch.equal(st.masses, torch.as_tensor(m1).expand(n_rep, n))
    st, _ = engine.run(st, np.ones(201), T)  # settle at the new masses
    kin = []
    for _ in range(40):
        st, _ = engine.run(st, np.ones(26), T)
        kin.append(((st.masses[..., None] * st.velocities**2).sum(-1)).numpy())  # (R, N), amu Å²/ps²
    from thermograd.units import EV_PER_A2_AMU_TO_PS2

    kin = np.asarray(kin) / EV_PER_A2_AMU_TO_PS2  # eV, shape (snapshots, R, N)
    expected = 3 * KB * T * (1 - m1 / m1.sum())
    for sel in (slice(0, None, 2), slice(1, None, 2)):  # heavy, light
        per_rep = kin[:, :, sel].mean(axis=(0, 2))  # one independent estimate per replica
        mean, sem = per_rep.mean(), per_rep.std(ddof=1) / math.sqrt(n_rep)
        want = expected[sel].mean()
        assert abs(mean - want) < 3 * sem and abs(mean / want - 1) < 0.05, (mean, sem, want)
