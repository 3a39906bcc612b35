"""The TI system protocol: what λ-TI, Frenkel–Ladd, reversible scaling and the ``thermograd ti`` workflow
ask of an MD engine, and the values the engines hand back.

:class:`TISystem` is the whole contract between the TI drivers (:mod:`~thermograd.ti.lambda_ti`,
:mod:`~thermograd.ti.frenkel_ladd`, :mod:`~thermograd.ti.reversible_scaling`,
:mod:`~thermograd.ti.workflow`) and an engine: three properties of the crystal, its fingerprint, its static
energy and Hessian, and four sampling runs that each return :class:`Trace` records of ∂U/∂λ. Engines:
:class:`~thermograd.ti.lammps_md.LammpsSystem` (LAMMPS pair styles) and
:class:`~thermograd.ti.native.NativeSystem` (NumPy BAOAB Langevin on analytic models); any object with these
members runs unchanged under every driver (``tests/ti/test_system.py`` runs one on an exact sampler).
:class:`NPTSystem` adds the volume equilibration that ``run_frenkel_ladd(..., pressure=P)`` needs.

Conventions every engine keeps (the drivers' free energies rely on them, see :mod:`thermograd.ti.results`):

* Units: LAMMPS ``metal`` (eV, Å, amu, K, ps); energies and ∂U/∂λ are for the whole cell, not per atom.
* A single species of N ≥ 2 atoms; the reference sites are a local minimum of the model.
* The centre of mass is held at that of the reference sites in every run (zero total momentum, no net random
  force), so exactly the 3N − 3 internal degrees of freedom are sampled at temperature T.
* Every run is a pure function of its arguments and ``seed`` (an int in [1, 9e8)), so tasks can run in any
  process and a journal can reuse their results; a system is picklable.
* An atom farther from its site than the engine's stability limit raises
  :class:`~thermograd.errors.UnstableStructureError`: no number is returned for a melted crystal.

Optional attributes the drivers record when present (not part of the protocol): ``timestep`` and
``damping`` (ps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

__all__ = ["NPTSystem", "SwitchLegs", "TISystem", "Trace"]


@dataclass
class Trace:
    """Per-step record of one MD segment.

    Attributes:
        lam: λ at each recorded step, shape (n,).
        dU_dlam: ∂U/∂λ at each recorded step, shape (n,), eV (whole cell); what U_λ is depends on the run
            (see the :class:`TISystem` methods).
        max_displacement: largest distance of any atom from its reference site seen, Å (NaN where the engine
            checks stability itself and does not report it).
        msd: mean squared displacement per atom from the reference sites averaged over the recorded steps,
            Å² (NaN where not measured).
        extra: engine-specific state (e.g. the final positions and velocities); never read by the drivers.
    """

    lam: np.ndarray
    dU_dlam: np.ndarray
    max_displacement: float
    msd: float = float("nan")
    extra: dict = field(default_factory=dict)


#: (forward, backward) legs of one switching pair.
SwitchLegs = tuple[Trace, Trace]


@runtime_checkable
class TISystem(Protocol):
    """A single-species crystal on an MD engine, as the TI drivers use it (see the module docstring for the
    conventions every method keeps)."""

    @property
    def n_atoms(self) -> int:
        """Number of atoms N in the cell (≥ 2)."""
        ...

    @property
    def mass(self) -> float:
        """Atomic mass, amu."""
        ...

    @property
    def volume(self) -> float:
        """Cell volume, Å³ (NaN if the system has none; only the centre-of-mass convention shifts use it)."""
        ...

    def fingerprint(self) -> dict[str, str]:
        """Digests (part name → hex string) of everything the system's results depend on: engine, structure,
        model and MD settings. Keys the TI task journal; two systems with equal fingerprints must give equal
        results for equal task arguments."""
        ...

    def energy(self) -> float:
        """Static energy E_0 at the reference sites, eV (whole cell)."""
        ...

    def hessian(self) -> np.ndarray:
        """Force constants at the reference sites, shape (3N, 3N), eV/Å² (rows/columns atom-major x, y, z)."""
        ...

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
        """Equilibrium NVT samples on U_λ = (1 − λ)U_h + λ(U − E_0) at one λ ∈ (0, 1].

        U_h = ½δxᵀHδx with H = ``hessian`` (eV/Å²) and δx the displacements from the reference sites;
        E_0 = ``energy_offset`` (eV, whole cell). Runs ``n_equil`` unrecorded steps, then records ∂U/∂λ =
        U − E_0 − U_h (eV, whole cell) at each of ``n_prod`` steps (consecutive, so correlated; n_prod + 1
        values where the engine also records the state the production starts from). T in K.
        """
        ...

    def msd(self, T: float, n_equil: int, n_steps: int, seed: int) -> float:
        """Mean squared displacement per atom from the reference sites in NVT on U at T (K), averaged over
        ``n_steps`` steps after ``n_equil``, Å²."""
        ...

    def fl_switch(self, T: float, spring: float, n_equil: int, n_switch: int, seed: int) -> SwitchLegs:
        """One Frenkel–Ladd pair on U_λ = (1 − λ)U + λU_E at T (K), U_E = Σ_i ½k|x_i − x_i⁰|², k = ``spring``
        (eV/Å²) tethered at the reference sites.

        ``n_equil`` steps at λ = 0, a forward leg λ: 0 → 1 along the Freitas switching function
        (:func:`~thermograd.md.switching.freitas_lambda`) in ``n_switch`` steps, ``n_equil`` steps at λ = 1,
        the backward leg 1 → 0. Each leg's trace records λ and ∂U/∂λ = U_E − U (eV, whole cell) at every
        step of the leg (its ends included where the engine can).
        """
        ...

    def rs_switch(self, T: float, lam_final: float, n_equil: int, n_switch: int, seed: int) -> SwitchLegs:
        """One reversible-scaling pair on U_λ = λU at T (K), which samples U at T/λ.

        ``n_equil`` steps at λ = 1, a forward leg λ: 1 → ``lam_final`` (> 0) along
        λ(τ) = 1/(1 + τ(1/lam_final − 1)) (T/λ linear in time) in ``n_switch`` steps, ``n_equil`` steps at
        ``lam_final``, the backward leg. Each trace records λ and ∂U/∂λ = U (eV, whole cell, the model's own
        energy including E_0) at every step of the leg.
        """
        ...


@runtime_checkable
class NPTSystem(TISystem, Protocol):
    """A :class:`TISystem` that can also equilibrate its volume (``run_frenkel_ladd(..., pressure=P)``)."""

    def npt_volume(self, T: float, pressure: float, n_steps: int, seed: int) -> float:
        """Mean cell volume (Å³) of an isotropic NPT run at T (K) and P = ``pressure`` (bar); ``n_steps``
        steps, the first half equilibration."""
        ...

    def with_volume(self, volume: float) -> NPTSystem:
        """A copy of the system isotropically rescaled to the cell volume ``volume`` (Å³)."""
        ...
