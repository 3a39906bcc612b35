"""A small NumPy Langevin engine for analytic Hamiltonians (tests, examples, teaching).

Models are plain callables ``energy_forces(positions) -> (energy eV, forces (N, 3) eV/Å)``: a harmonic
crystal ½δxᵀHδx (translation invariant when H obeys the acoustic sum rule) and an Einstein crystal
Σ½k|x − x⁰|². :class:`NativeSystem` runs BAOAB Langevin dynamics (Leimkuhler & Matthews, Appl. Math. Res.
Express 2013, 34) on the linear path U_λ = (1 − λ)U_A + λU_B and records ∂U/∂λ = U_B − U_A every step; it
implements :class:`thermograd.ti.system.TISystem`, as :class:`thermograd.ti.lammps_md.LammpsSystem` does, so
every TI driver runs unchanged on both engines.

Centre of mass: with ``fix_com=True`` the total momentum is removed after every thermostat kick and the
centre of mass is held at that of the reference sites, so only the 3N − 3 internal degrees of freedom are
sampled (consistent with the 3N − 3 harmonic modes; see :mod:`thermograd.ti.results`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, UnstableStructureError
from ..md.switching import freitas_lambda
from ..units import EV_PER_A2_AMU_TO_PS2, KB
from .system import SwitchLegs, Trace

EnergyForces = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class HarmonicModel:
    """U(x) = energy_offset + ½ δxᵀ H δx, δx = x − reference (flattened).

    Attributes:
        hessian: force constants, shape (3N, 3N), eV/Å².
        reference: reference positions, shape (N, 3), Å.
        energy_offset: U at the reference, eV (whole cell).
    """

    hessian: np.ndarray
    reference: np.ndarray
    energy_offset: float = 0.0

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        d = (np.asarray(positions) - self.reference).ravel()
        f = -(self.hessian @ d)
        return self.energy_offset - 0.5 * float(d @ f), f.reshape(-1, 3)


@dataclass(frozen=True)
class EinsteinModel:
    """U(x) = Σ_i ½ k_i |x_i − x_i⁰|² (independent isotropic springs).

    Attributes:
        spring: spring constant(s) k, scalar or shape (N,), eV/Å².
        reference: tether sites x⁰, shape (N, 3), Å.
    """

    spring: float | np.ndarray
    reference: np.ndarray

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        k = np.broadcast_to(np.asarray(self.spring, dtype=float), (len(self.reference),))[:, None]
        d = np.asarray(positions) - self.reference
        return 0.5 * float(np.sum(k * d * d)), -k * d


def _zero(positions: np.ndarray) -> tuple[float, np.ndarray]:
    return 0.0, np.zeros_like(positions)


@dataclass
class NativeSystem:
    """A single-species model on the native BAOAB Langevin engine; implements
    :class:`~thermograd.ti.system.TISystem` (not :class:`~thermograd.ti.system.NPTSystem`: the cell is fixed).

    Args:
        model: the system's energy, ``energy_forces(positions)``; energies in eV for the whole cell.
        positions: reference sites (a local minimum of ``model``), shape (N, 3), Å.
        mass: atomic mass, amu.
        volume: cell volume, Å³ (only used for the centre-of-mass convention shifts).
        timestep: MD time step, ps.
        damping: Langevin relaxation time 1/γ, ps.
        fix_com: hold the centre of mass (see the module docstring).
        max_displacement: an atom farther than this from its site (Å) raises UnstableStructureError.
    """

    model: EnergyForces
    positions: np.ndarray
    mass: float
    volume: float = float("nan")
    timestep: float = 0.002
    damping: float = 0.1
    fix_com: bool = True
    max_displacement: float = np.inf

    def __post_init__(self) -> None:
        self.positions = np.asarray(self.positions, dtype=float)
        if self.positions.ndim != 2 or self.positions.shape[1] != 3:
            raise InputError(f"positions must have shape (N, 3), got {self.positions.shape}")
        if not self.mass > 0 or not self.timestep > 0 or not self.damping > 0:
            raise InputError("mass, timestep and damping must be > 0")

    @property
    def n_atoms(self) -> int:
        return int(self.positions.shape[0])

    # ------------------------------------------------------------------ TISystem
    def fingerprint(self) -> dict[str, str]:
        """Digests of what the system's results depend on (keys of the TI task journal)."""
        from .journal import digest

        return {
            "engine": "native",
            "model": digest(self.model),
            "structure": digest((self.positions, float(self.mass), float(self.volume))),
            "md": digest((self.timestep, self.damping, self.fix_com, float(self.max_displacement))),
        }

    def energy(self) -> float:
        """Model energy at the reference sites, eV (whole cell)."""
        return float(self.model(self.positions)[0])

    def hessian(self, delta: float = 1e-4) -> np.ndarray:
        """Force constants of the model at the reference sites, shape (3N, 3N), eV/Å² (exact if harmonic)."""
        if isinstance(self.model, HarmonicModel):
            return np.array(self.model.hessian, dtype=float)
        n = self.n_atoms
        h = np.empty((3 * n, 3 * n))
        for j in range(3 * n):
            x = self.positions.copy().ravel()
            x[j] += delta
            fp = self.model(x.reshape(n, 3))[1].ravel()
            x[j] -= 2 * delta
            fm = self.model(x.reshape(n, 3))[1].ravel()
            h[:, j] = -(fp - fm) / (2 * delta)
        return 0.5 * (h + h.T)

    def lambda_samples(
        self,
        lam: float,
        T: float,
        hessian: np.ndarray,
        energy_offset: float,
        n_equil: int,
        n_prod: int,
        seed: int,
    ) -> Trace:
        """Equilibrium samples of ∂U/∂λ = U − E_0 − U_h on U_λ = U_h + λ(U − E_0 − U_h), eV (cell)."""
        ref = HarmonicModel(np.asarray(hessian), self.positions, float(energy_offset))
        rng = np.random.default_rng(seed)
        x, v = self._initial_state(T, rng)
        schedule = np.full(n_equil + n_prod + 1, float(lam))
        tr = self._run(ref, self.model, schedule, x, v, T, rng, record_from=n_equil + 1)
        return tr

    def msd(self, T: float, n_equil: int, n_steps: int, seed: int) -> float:
        """Mean squared displacement per atom from the reference sites in NVT, Å²."""
        rng = np.random.default_rng(seed)
        x, v = self._initial_state(T, rng)
        schedule = np.zeros(n_equil + n_steps + 1)
        return self._run(self.model, _zero, schedule, x, v, T, rng, record_from=n_equil + 1).msd

    def fl_switch(self, T: float, spring: float, n_equil: int, n_switch: int, seed: int) -> SwitchLegs:
        """One forward (model → Einstein) and backward switching leg; ∂U/∂λ = U_E − U, eV (cell)."""
        return self._switch_pair(
            self.model, EinsteinModel(spring, self.positions), 0.0, 1.0, T, n_equil, n_switch, seed
        )

    def rs_switch(self, T: float, lam_final: float, n_equil: int, n_switch: int, seed: int) -> SwitchLegs:
        """Reversible scaling legs of λU at temperature T, λ: 1 → lam_final → 1; ∂U/∂λ = U, eV (cell).

        λ(τ) = 1/(1 + τ(1/lam_final − 1)) makes the effective temperature T/λ linear in time.
        """
        return self._switch_pair(
            _zero,
            self.model,
            1.0,
            lam_final,
            T,
            n_equil,
            n_switch,
            seed,
            schedule_fn=lambda s: 1.0 / (1.0 + s * (1.0 / lam_final - 1.0)),
        )

    # ------------------------------------------------------------------ engine
    def _switch_pair(self, model_a, model_b, lam0, lam1, T, n_equil, n_switch, seed, schedule_fn=None):
        rng = np.random.default_rng(seed)
        x, v = self._initial_state(T, rng)
        if schedule_fn is None:
            s = freitas_lambda(np.linspace(0.0, 1.0, n_switch + 1))
            fwd = lam0 + (lam1 - lam0) * s
        else:
            fwd = schedule_fn(np.linspace(0.0, 1.0, n_switch + 1))
        bwd = fwd[::-1]
        legs = []
        for start, leg in ((lam0, fwd), (lam1, bwd)):
            eq = np.full(n_equil + 1, start)
            tr = self._run(model_a, model_b, eq, x, v, T, rng, record_from=None)
            x, v = tr.extra["x"], tr.extra["v"]
            tr = self._run(model_a, model_b, leg, x, v, T, rng, record_from=0)
            x, v = tr.extra["x"], tr.extra["v"]
            legs.append(tr)
        return legs[0], legs[1]

    def _initial_state(self, T: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if not T > 0:
            raise InputError(f"temperature must be > 0 K, got {T!r}")
        sigma = np.sqrt(KB * T / self.mass * EV_PER_A2_AMU_TO_PS2)
        v = rng.normal(0.0, sigma, size=self.positions.shape)
        if self.fix_com:
            v -= v.mean(axis=0)
        return self.positions.copy(), v

    def _run(self, model_a, model_b, schedule, x, v, T, rng, record_from: int | None) -> Trace:
        """BAOAB over len(schedule) − 1 steps with λ_k = schedule[k]; records steps ≥ record_from."""
        dt, gamma = self.timestep, 1.0 / self.damping
        acc = EV_PER_A2_AMU_TO_PS2 / self.mass
        c1 = np.exp(-gamma * dt)
        c2 = np.sqrt((1.0 - c1**2) * KB * T * acc)
        com0 = self.positions.mean(axis=0)
        x, v = x.copy(), v.copy()
        ua, fa = model_a(x)
        ub, fb = model_b(x)
        n = len(schedule) - 1
        rec = record_from is not None
        lam_rec, du_rec = [], []
        max_d, msd_sum, n_msd = 0.0, 0.0, 0
        if rec and record_from == 0:
            lam_rec.append(schedule[0])
            du_rec.append(ub - ua)
        for k in range(n):
            lam = schedule[k]
            f = (1.0 - lam) * fa + lam * fb
            v += 0.5 * dt * acc * f
            x += 0.5 * dt * v
            v = c1 * v + c2 * rng.standard_normal(v.shape)
            if self.fix_com:
                v -= v.mean(axis=0)
            x += 0.5 * dt * v
            if self.fix_com:
                x -= x.mean(axis=0) - com0
            ua, fa = model_a(x)
            ub, fb = model_b(x)
            lam = schedule[k + 1]
            f = (1.0 - lam) * fa + lam * fb
            v += 0.5 * dt * acc * f
            d2 = np.sum((x - self.positions) ** 2, axis=1)
            max_d = max(max_d, float(np.sqrt(d2.max())))
            if max_d > self.max_displacement or not np.isfinite(max_d):
                raise UnstableStructureError(
                    f"an atom moved {max_d:.3g} Å from its site at {T:g} K "
                    f"(limit {self.max_displacement:g} Å): the structure melted or is unstable; "
                    "no free energy is returned"
                )
            if rec and k + 1 >= record_from:
                lam_rec.append(lam)
                du_rec.append(ub - ua)
                msd_sum += float(d2.mean())
                n_msd += 1
        return Trace(
            np.asarray(lam_rec),
            np.asarray(du_rec),
            max_d,
            msd_sum / n_msd if n_msd else float("nan"),
            {"x": x, "v": v},
        )
