"""The TI system protocol is the drivers' only contract with an engine.

Both engines are :class:`TISystem` instances; an object missing any member is not; and the drivers run on a
third implementation written here, :class:`ExactHarmonicSystem`, which shares no code with either engine: a
harmonic crystal U = E_0 + ½δxᵀHδx whose every recorded "step" is an independent Boltzmann draw of the
3N − 3 internal coordinates (no dynamics). Its free energy is known exactly,
F_cell = E_0/N + (k_BT/N) Σ_{3N−3} ln(ħω_l/k_BT). Tolerances: |Δ| < 4σ with σ the driver's own error
(independent draws, fixed seeds); the quadrature bias of each driver on the exact integrand is computed
and shown to be below 0.1σ, so the tolerance is purely statistical.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from thermograd.config import validate_model
from thermograd.errors import InputError
from thermograd.md.switching import freitas_lambda
from thermograd.ti.config import TIRunConfig
from thermograd.ti.frenkel_ladd import run_frenkel_ladd
from thermograd.ti.lambda_ti import run_lambda_ti
from thermograd.ti.native import HarmonicModel, NativeSystem
from thermograd.ti.quadrature import gauss_legendre
from thermograd.ti.reversible_scaling import run_reversible_scaling
from thermograd.ti.system import NPTSystem, TISystem, Trace
from thermograd.ti.workflow import run_ti_workflow
from thermograd.units import HBAR2_PER_AMU, KB

MASS = 55.85
T = 500.0
E0_PER_ATOM = -3.0

#: every member of the protocol (the test of a fake missing one of them checks each)
MEMBERS = (
    "n_atoms",
    "mass",
    "volume",
    "fingerprint",
    "energy",
    "hessian",
    "lambda_samples",
    "msd",
    "fl_switch",
    "rs_switch",
)


class ExactHarmonicSystem:
    """A harmonic crystal sampled exactly: each recorded step is an independent draw from exp(−βU_λ) over
    the 3N − 3 internal coordinates (centre of mass at the reference sites). Implements TISystem only."""

    def __init__(self, hessian: np.ndarray, mass: float, e0_cell: float, volume: float = float("nan")):
        self._h = np.asarray(hessian, dtype=float)
        self._mass, self._e0, self._volume = float(mass), float(e0_cell), float(volume)
        n3 = self._h.shape[0]
        trans = np.zeros((n3, 3))
        for k in range(3):
            trans[k::3, k] = 1.0
        evals, evecs = np.linalg.eigh(np.eye(n3) - trans @ trans.T / (n3 // 3))
        self._basis = evecs[:, evals > 0.5]  # orthonormal, (3N, 3N − 3), orthogonal to translations
        self._kappa, v = np.linalg.eigh(self._basis.T @ self._h @ self._basis)
        self._modes = self._basis @ v  # Cartesian displacement of each internal mode (orthonormal columns)

    @property
    def n_atoms(self) -> int:
        return self._h.shape[0] // 3

    @property
    def mass(self) -> float:
        return self._mass

    @property
    def volume(self) -> float:
        return self._volume

    def fingerprint(self) -> dict[str, str]:
        h = hashlib.sha256(self._h.tobytes() + np.array([self._mass, self._e0, self._volume]).tobytes())
        return {"engine": "exact-harmonic", "model": h.hexdigest()}

    def energy(self) -> float:
        return self._e0

    def hessian(self) -> np.ndarray:
        return self._h.copy()

    def _draws(self, stiffness: np.ndarray, T: float, rng) -> np.ndarray:
        """Mode amplitudes q ~ N(0, k_BT/stiffness) (eigenmodes of H), shape of ``stiffness``."""
        return rng.standard_normal(stiffness.shape) * np.sqrt(KB * T / stiffness)

    def lambda_samples(self, lam, T, hessian, energy_offset, n_equil, n_prod, seed) -> Trace:
        rng = np.random.default_rng(seed)
        b = self._basis
        h_ref, h_mod = b.T @ np.asarray(hessian) @ b, b.T @ self._h @ b
        chol = np.linalg.cholesky((1.0 - lam) * h_ref + lam * h_mod)
        y = np.linalg.solve(chol.T, rng.standard_normal((b.shape[1], n_prod))) * np.sqrt(KB * T)
        du = self._e0 - energy_offset + 0.5 * np.einsum("in,ij,jn->n", y, h_mod - h_ref, y)
        return Trace(np.full(n_prod, float(lam)), du, float("nan"))

    def msd(self, T, n_equil, n_steps, seed) -> float:
        q = self._draws(
            np.broadcast_to(self._kappa, (n_steps, self._kappa.size)), T, np.random.default_rng(seed)
        )
        return float(np.mean(np.sum(q**2, axis=1)) / self.n_atoms)

    def _pair(self, forward: np.ndarray, T, seed, stiffness, du):
        rng = np.random.default_rng(seed)
        legs = []
        for lam in (forward, forward[::-1]):
            q = self._draws(stiffness(lam[:, None]), T, rng)
            legs.append(Trace(lam, du(lam[:, None], q), float("nan")))
        return legs[0], legs[1]

    def fl_switch(self, T, spring, n_equil, n_switch, seed):
        # U_λ = (1 − λ)U + λU_E: mode stiffness (1 − λ)κ + λk; ∂U/∂λ = U_E − U
        return self._pair(
            freitas_lambda(np.linspace(0.0, 1.0, n_switch + 1)),
            T,
            seed,
            lambda lam: (1.0 - lam) * self._kappa + lam * spring,
            lambda lam, q: 0.5 * np.sum((spring - self._kappa) * q**2, axis=1) - self._e0,
        )

    def rs_switch(self, T, lam_final, n_equil, n_switch, seed):
        # U_λ = λU at T: mode stiffness λκ; ∂U/∂λ = U
        return self._pair(
            1.0 / (1.0 + np.linspace(0.0, 1.0, n_switch + 1) * (1.0 / lam_final - 1.0)),
            T,
            seed,
            lambda lam: lam * self._kappa,
            lambda lam, q: self._e0 + 0.5 * np.sum(self._kappa * q**2, axis=1),
        )

    # ------------------------------------------------------------------ exact answers of the test
    def exact_f_cell(self, T: float) -> float:
        """E_0/N + (k_BT/N) Σ ln(ħω/k_BT) over the 3N − 3 internal modes, eV/atom."""
        hw = np.sqrt(HBAR2_PER_AMU * self._kappa / self._mass)
        return (self._e0 + KB * T * float(np.sum(np.log(hw / (KB * T))))) / self.n_atoms


def _exact_system(make_network, spread=0.0, seed=None):
    pos, h = make_network(rng=None if seed is None else np.random.default_rng(seed), spread=spread)
    return ExactHarmonicSystem(h, MASS, E0_PER_ATOM * len(pos), volume=7.5**3)


# ---------------------------------------------------------------------------------------------- membership
def test_native_engine_is_a_ti_system(network):
    pos, h = network
    system = NativeSystem(HarmonicModel(h, pos), pos, MASS)
    assert isinstance(system, TISystem)
    assert not isinstance(system, NPTSystem)  # a fixed cell: no volume equilibration
    tr = system.lambda_samples(0.5, T, h, 0.0, n_equil=5, n_prod=10, seed=1)
    assert type(tr) is Trace and tr.dU_dlam.shape == (10,)


@pytest.mark.lammps
def test_lammps_engine_is_a_ti_system_with_npt():
    from thermograd.engines.potentials import Potential
    from thermograd.structures import bcc
    from thermograd.ti.lammps_md import LammpsSystem

    system = LammpsSystem(bcc("Fe", a=2.855, size=2), Potential.eam("Fe_mm.eam.fs", "Fe"))
    assert isinstance(system, TISystem) and isinstance(system, NPTSystem)
    n = system.n_atoms
    # λ = 1 with a zero reference Hessian: ∂U/∂λ = U − E_0, a few meV/atom of thermal energy at 300 K
    tr = system.lambda_samples(1.0, 300.0, np.zeros((3 * n, 3 * n)), system.energy(), 10, 20, seed=3)
    assert type(tr) is Trace and tr.dU_dlam.shape in ((20,), (21,)) and np.all(tr.lam == 1.0)
    assert 0.0 < tr.dU_dlam.mean() / n < 3 * KB * 300.0


def _fake(missing: str | None):
    def method(self, *args):
        raise AssertionError("never called")

    attrs = {name: property(lambda self: 1.0) if name in MEMBERS[:3] else method for name in MEMBERS}
    attrs.pop(missing, None)
    return type("Fake", (), attrs)()


@pytest.mark.parametrize("missing", MEMBERS)
def test_an_object_missing_a_member_is_not_a_ti_system(missing):
    assert isinstance(_fake(None), TISystem)  # every member present: the protocol asks for no more
    assert not isinstance(_fake(missing), TISystem)


def test_exact_sampler_is_a_ti_system_but_not_npt(make_network):
    system = _exact_system(make_network)
    assert isinstance(system, TISystem) and not isinstance(system, NPTSystem)
    with pytest.raises(InputError, match="ExactHarmonicSystem cannot equilibrate the volume"):
        run_frenkel_ladd(system, T, pressure=0.0, n_repeats=1)


# ---------------------------------------------------------------------------------------------- drivers
def test_lambda_ti_on_the_exact_sampler_gives_the_exact_free_energy(make_network, network):
    """Model H2, reference H1 (another network): F_cell = E_0 + F_h,cell(H2) exactly."""
    system = _exact_system(make_network, spread=0.3, seed=1)
    _, h1 = network
    n_points = 5
    res = run_lambda_ti(system, T, n_points=n_points, n_equil=0, n_prod=2000, seed=2, hessian=h1)
    exact = system.exact_f_cell(T)
    assert abs(res.F_cell - exact) < 4 * res.F_error, (res.F_cell, exact, res.F_error)
    assert 0 < res.F_error < 0.1 * abs(res.F_anh)
    # Gauss–Legendre bias on the exact integrand ⟨ΔU⟩_λ = (k_BT/2) tr[A_λ⁻¹(H2 − H1)] (internal subspace)
    b = system._basis
    h1p, h2p = b.T @ h1 @ b, b.T @ system.hessian() @ b
    lams, w = gauss_legendre(n_points)
    g = [0.5 * KB * T * np.trace(np.linalg.solve((1 - x) * h1p + x * h2p, h2p - h1p)) for x in lams]
    exact_anh = 0.5 * KB * T * (np.linalg.slogdet(h2p)[1] - np.linalg.slogdet(h1p)[1])
    assert abs(np.dot(w, g) - exact_anh) / system.n_atoms < 0.1 * res.F_error


def test_frenkel_ladd_on_the_exact_sampler_gives_the_exact_free_energy(make_network):
    system = _exact_system(make_network, spread=0.3, seed=1)
    n_switch = 500
    res = run_frenkel_ladd(system, T, n_msd=2000, n_switch=n_switch, n_repeats=8, seed=3)
    exact = system.exact_f_cell(T)
    assert abs(res.F - exact) < 4 * res.F_error, (res.F, exact, res.F_error)
    # trapezoid bias on the exact integrand ⟨U_E − U⟩_λ along the Freitas schedule
    k, kappa = res.spring, system._kappa
    lam = freitas_lambda(np.linspace(0.0, 1.0, n_switch + 1))
    g = np.array([np.sum(0.5 * KB * T * (k - kappa) / ((1 - x) * kappa + x * k)) for x in lam])
    trapz = float(np.sum(0.5 * (g[1:] + g[:-1]) * np.diff(lam)))
    assert abs(trapz - 0.5 * KB * T * np.sum(np.log(k / kappa))) / system.n_atoms < 0.1 * res.F_error


def test_reversible_scaling_on_the_exact_sampler_gives_the_exact_free_energy(make_network):
    system = _exact_system(make_network, spread=0.3, seed=1)
    T0, T1 = 300.0, 900.0
    res = run_reversible_scaling(
        system, T0, T1, system.exact_f_cell(T0), 0.0, n_switch=2000, n_repeats=8, n_temperatures=4, seed=4
    )
    for t, f, e in zip(res.temperatures[1:], res.F[1:], res.error[1:]):
        assert abs(f - system.exact_f_cell(t)) < 4 * e, (t, f, system.exact_f_cell(t), e)


def test_workflow_runs_on_the_exact_sampler(make_network, tmp_path):
    """The run-file workflow with a journal uses nothing but the protocol (fingerprint, Hessian, runs)."""
    system = _exact_system(make_network, spread=0.3, seed=1)
    cfg = validate_model(
        TIRunConfig,
        {
            "structure": {"builder": "bcc", "element": "Fe", "a": 2.855, "size": 2},  # unused: system given
            "potential": {"eam": "Fe_mm.eam.fs", "elements": ["Fe"]},
            "temperatures": [T],
            "methods": ["lambda", "frenkel_ladd"],
            "lambda_ti": {"n_points": 3, "n_prod": 500, "convention": "cell"},
            "frenkel_ladd": {"n_switch": 300, "n_repeats": 4, "n_msd": 500},
        },
    )
    report = run_ti_workflow(cfg, system=system, journal=tmp_path / "j.ti-journal.jsonl")
    assert report.complete and report.tasks_computed == 3 + 1 + 4
    row = report.comparison[0]
    assert abs(row["lambda-frenkel_ladd_sigmas"]) < 4
    assert abs(row["F_frenkel_ladd"] - system.exact_f_cell(T)) < 4 * row["F_frenkel_ladd_error"]
