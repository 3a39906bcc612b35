"""Batched, λ-dependent Hamiltonians for the torch Langevin engine (:mod:`thermograd.md.engine`).

Two small protocols, batched over R replicas of one N-atom structure (positions (R, N, 3) Å, cells
(R, 3, 3) Å, rows are lattice vectors; float64 tensors):

* a :class:`Potential` has no λ: ``evaluate(positions, cells, stress=False) -> (energy (R,), forces
  (R, N, 3), stress (R, 3, 3) | None)``, energies of the whole cell in eV, stress σ = (1/V)∂E/∂ε in eV/Å³
  (ASE sign). Implementations here: :class:`HarmonicPotential`, :class:`EinsteinPotential` (springs on
  any subset of atoms), :class:`LammpsPotential` (any LAMMPS pair style through
  :class:`~thermograd.engines.lammps.LammpsSession`); MLIPs in :mod:`thermograd.alchemy.md`.
* a :class:`Hamiltonian` H(λ) adds λ, one value per replica (R,): ``evaluate(positions, cells, lam,
  stress=False) -> Evaluation`` with U_λ, forces and ∂U/∂λ, and ``masses(lam)`` for Hamiltonians whose
  masses follow λ (``None``: the engine's masses stay). Compositions: :class:`Static` (a potential, no λ),
  :class:`LinearPath` ((1 − λ)U_A + λU_B: Frenkel–Ladd, λ-TI), :class:`Scaled` (λU: reversible scaling, a
  tether switched on), :class:`Sum`. The alchemical path (composition weights following λ, with masses)
  is :class:`thermograd.alchemy.md.AlchemicalPath`.

∂U/∂λ always comes from the same evaluation as the forces, never from a second formula.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from ..errors import InputError

DTYPE = torch.float64


@dataclass
class Evaluation:
    """One batched evaluation of H(λ).

    Attributes:
        energy: U_λ per replica, shape (R,), eV (whole cell).
        forces: −∂U_λ/∂x, shape (R, N, 3), eV/Å.
        dU_dlam: ∂U_λ/∂λ per replica, shape (R,), eV (whole cell).
        stress: σ = (1/V)∂U_λ/∂ε, shape (R, 3, 3), eV/Å³ (ASE sign), or None when not asked for.
    """

    energy: torch.Tensor
    forces: torch.Tensor
    dU_dlam: torch.Tensor
    stress: torch.Tensor | None = None


@runtime_checkable
class Potential(Protocol):
    """A batched energy/force provider without λ (see the module docstring)."""

    n_atoms: int

    def evaluate(
        self, positions: torch.Tensor, cells: torch.Tensor, stress: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]: ...


@runtime_checkable
class Hamiltonian(Protocol):
    """A batched H(λ) (see the module docstring)."""

    n_atoms: int

    def evaluate(
        self, positions: torch.Tensor, cells: torch.Tensor, lam: torch.Tensor, stress: bool = False
    ) -> Evaluation: ...

    def masses(self, lam: torch.Tensor) -> torch.Tensor | None: ...


def as_tensor(x, shape: tuple[int, ...] | None = None, name: str = "array") -> torch.Tensor:
    """``x`` as a float64 CPU tensor, optionally checked against ``shape``."""
    t = torch.as_tensor(np.asarray(x, dtype=float) if not isinstance(x, torch.Tensor) else x, dtype=DTYPE)
    if shape is not None and tuple(t.shape) != shape:
        raise InputError(f"{name} must have shape {shape}, got {tuple(t.shape)}")
    return t


# ---------------------------------------------------------------------------------------------- potentials
class HarmonicPotential:
    """U(x) = E_0 + ½ δxᵀ H δx, δx = x − sites (flattened per replica).

    Args:
        hessian: force constants, shape (3N, 3N), eV/Å².
        sites: reference positions, shape (N, 3), Å.
        energy_offset: E_0, eV (whole cell).
    """

    def __init__(self, hessian, sites, energy_offset: float = 0.0):
        self.sites = as_tensor(sites)
        if self.sites.ndim != 2 or self.sites.shape[1] != 3:
            raise InputError(f"sites must have shape (N, 3), got {tuple(self.sites.shape)}")
        self.n_atoms = int(self.sites.shape[0])
        self.hessian = as_tensor(hessian, (3 * self.n_atoms, 3 * self.n_atoms), "hessian")
        self.energy_offset = float(energy_offset)

    def evaluate(self, positions, cells, stress: bool = False):
        d = (positions - self.sites).reshape(positions.shape[0], -1)
        f = -(d @ self.hessian.T)
        e = self.energy_offset - 0.5 * (d * f).sum(-1)
        return e, f.reshape(positions.shape), None


class EinsteinPotential:
    """U(x) = Σ_i ½ k_i |x_i − x_i⁰|²: independent isotropic springs (k_i = 0 leaves atom i free).

    Args:
        springs: spring constants, shape (N,) or scalar with ``n_atoms``, eV/Å².
        sites: tether points x⁰, shape (N, 3), Å.
    """

    def __init__(self, springs, sites):
        self.sites = as_tensor(sites)
        if self.sites.ndim != 2 or self.sites.shape[1] != 3:
            raise InputError(f"sites must have shape (N, 3), got {tuple(self.sites.shape)}")
        self.n_atoms = int(self.sites.shape[0])
        k = np.broadcast_to(np.asarray(springs, dtype=float), (self.n_atoms,)).copy()
        if np.any(k < 0) or not np.all(np.isfinite(k)):
            raise InputError("spring constants must be finite and >= 0 eV/Å²")
        self.springs = torch.as_tensor(k, dtype=DTYPE)

    def evaluate(self, positions, cells, stress: bool = False):
        d = positions - self.sites
        k = self.springs[None, :, None]
        return 0.5 * (k * d * d).sum((-1, -2)), -k * d, None


class LammpsPotential:
    """Any LAMMPS pair style as a batched potential: one :class:`~thermograd.engines.lammps.LammpsSession`
    per replica, evaluated one after another (LAMMPS holds one configuration per instance).

    Args:
        atoms: the structure (species, cell, pbc); positions come from the engine.
        potential: a :class:`~thermograd.engines.potentials.Potential` (or a ``PotentialConfig`` built with
            :func:`thermograd.systems.PotentialConfig.build`).

    The sessions are created on the first call and are not pickled. The cell must stay that of ``atoms``
    (no NPT through LAMMPS here; use :class:`thermograd.ti.lammps_md.LammpsSystem` for that).
    """

    def __init__(self, atoms, potential):
        self.atoms = atoms.copy()
        self.potential = potential
        self.n_atoms = len(atoms)
        self._sessions: list = []
        self._cell = torch.as_tensor(np.asarray(atoms.cell[:], dtype=float), dtype=DTYPE)

    def __getstate__(self):
        return {k: (v if k != "_sessions" else []) for k, v in self.__dict__.items()}

    def for_structure(self, atoms) -> LammpsPotential:
        """The same potential on another cell of the same structure (e.g. after the NPT volume step)."""
        return LammpsPotential(atoms, self.potential)

    def _session(self, r: int):
        from ..engines.lammps import LammpsSession

        while len(self._sessions) <= r:
            self._sessions.append(LammpsSession(self.atoms, self.potential))
        return self._sessions[r]

    def evaluate(self, positions, cells, stress: bool = False):
        if stress:
            raise InputError("the LAMMPS potential of the torch engine gives no stress (no NPT through it)")
        if not torch.allclose(cells, self._cell.expand_as(cells), atol=1e-9):
            raise InputError("the LAMMPS potential of the torch engine needs the cell of its structure")
        e, f = [], []
        for r, x in enumerate(positions.detach().cpu().numpy()):
            er, fr = self._session(r).energy_forces(x)
            e.append(er)
            f.append(fr)
        return torch.tensor(e, dtype=DTYPE), torch.as_tensor(np.stack(f), dtype=DTYPE), None

    def close(self) -> None:
        for s in self._sessions:
            s.close()
        self._sessions = []


# ---------------------------------------------------------------------------------------------- Hamiltonians
class Static:
    """A potential as a Hamiltonian that does not depend on λ (∂U/∂λ = 0)."""

    def __init__(self, potential: Potential):
        self.potential = potential
        self.n_atoms = potential.n_atoms

    def evaluate(self, positions, cells, lam, stress: bool = False) -> Evaluation:
        e, f, s = self.potential.evaluate(positions, cells, stress)
        return Evaluation(e, f, torch.zeros_like(e), s)

    def masses(self, lam):
        return None


class LinearPath:
    """U_λ = (1 − λ)U_A + λU_B, ∂U/∂λ = U_B − U_A (Frenkel–Ladd with U_B an Einstein crystal; λ-TI).

    Args:
        a, b: the two potentials (same N).
    """

    def __init__(self, a: Potential, b: Potential):
        if a.n_atoms != b.n_atoms:
            raise InputError(f"the two ends of a path have {a.n_atoms} and {b.n_atoms} atoms")
        self.a, self.b = a, b
        self.n_atoms = a.n_atoms

    def evaluate(self, positions, cells, lam, stress: bool = False) -> Evaluation:
        ea, fa, sa = self.a.evaluate(positions, cells, stress)
        eb, fb, sb = self.b.evaluate(positions, cells, stress)
        w = lam.to(DTYPE)
        s = None
        if stress:
            if sa is None or sb is None:
                raise InputError("a potential of this path gives no stress")
            s = (1 - w)[:, None, None] * sa + w[:, None, None] * sb
        return Evaluation(
            (1 - w) * ea + w * eb, (1 - w)[:, None, None] * fa + w[:, None, None] * fb, eb - ea, s
        )

    def masses(self, lam):
        return None


class Scaled:
    """U_λ = λU, ∂U/∂λ = U (reversible scaling; a tether switched on along λ)."""

    def __init__(self, potential: Potential):
        self.potential = potential
        self.n_atoms = potential.n_atoms

    def evaluate(self, positions, cells, lam, stress: bool = False) -> Evaluation:
        e, f, s = self.potential.evaluate(positions, cells, stress)
        w = lam.to(DTYPE)
        return Evaluation(w * e, w[:, None, None] * f, e, None if s is None else w[:, None, None] * s)

    def masses(self, lam):
        return None


class Sum:
    """H(λ) = Σ_k H_k(λ); at most one term may define λ-dependent masses."""

    def __init__(self, terms: Sequence[Hamiltonian]):
        self.terms = list(terms)
        if not self.terms:
            raise InputError("a sum of Hamiltonians needs at least one term")
        ns = {t.n_atoms for t in self.terms}
        if len(ns) != 1:
            raise InputError(f"the terms of a sum have different atom counts {sorted(ns)}")
        self.n_atoms = ns.pop()

    def evaluate(self, positions, cells, lam, stress: bool = False) -> Evaluation:
        parts = [t.evaluate(positions, cells, lam, stress) for t in self.terms]
        s = None
        if stress:
            if any(p.stress is None for p in parts):
                raise InputError("a term of this Hamiltonian gives no stress")
            s = sum(p.stress for p in parts)
        return Evaluation(
            sum(p.energy for p in parts),
            sum(p.forces for p in parts),
            sum(p.dU_dlam for p in parts),
            s,
        )

    def masses(self, lam):
        out = [m for t in self.terms if (m := t.masses(lam)) is not None]
        if len(out) > 1:
            raise InputError("more than one term of a sum defines the masses")
        return out[0] if out else None
