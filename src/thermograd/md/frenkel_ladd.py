"""Frenkel–Ladd free energy of any batched potential on the torch engine, replicas in one batch.

Protocol (Freitas, Asta, de Koning, Comput. Mater. Sci. 112, 333 (2016); Nam et al. 2025, §Methods):

1. optionally an NPT run at (T, P) that fixes the cell at the replicas' mean volume (G = F + PV/N);
2. an NVT run of the model: per-site spring constants k_i = 3k_BT/⟨|Δr_i|²⟩, averaged over the replicas
   and over symmetry-equivalent sites (spglib when installed, else over sites of one species);
3. R independent forward/backward switching pairs U_λ = (1 − λ)U + λU_E (U_E = Σ½k_i|x_i − x_i⁰|²) in one
   batch: ΔF(model → Einstein) = ⟨(W_f − W_b)/2⟩ ± SEM over the pairs, dissipation ⟨(W_f + W_b)/2⟩;
4. F = F_E,cell − ΔF per atom, with F_E,cell the Einstein free energy of the 3N − 3 internal degrees of
   freedom (:func:`thermograd.harmonic.einstein_cell_free_energy`). **Centre of mass:** the engine holds it
   in every run, so F is in the ``"cell"`` convention of :mod:`thermograd.ti.results`, the same as
   :func:`thermograd.ti.frenkel_ladd.run_frenkel_ladd`; the correction relative to the free Einstein
   crystal, F_E,cell − F_E, is reported as ``com_correction``.

**One result protocol.** Both Frenkel–Ladd drivers (this one, for any batched potential, and
:func:`thermograd.ti.run_frenkel_ladd` on LAMMPS) return results that satisfy :class:`FrenkelLaddOutcome`:
the same names with the same meanings, F = F_einstein + com_correction + delta_F in the ``"cell"``
convention, so a caller (or a test comparing the two engines) never needs to know which engine ran.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InputError
from ..harmonic import einstein_cell_free_energy, einstein_free_energy
from ..units import KB
from .engine import BAR_TO_EV_PER_A3, BatchedLangevin, MDState
from .hamiltonians import EinsteinPotential, LinearPath, Potential, Static
from .protocol import equilibrate, switch_pair


@runtime_checkable
class FrenkelLaddOutcome(Protocol):
    """What every Frenkel–Ladd driver returns (per atom, eV; ``"cell"`` convention).

    Attributes:
        T: K. n_atoms: N. volume: Å³/atom. pressure: bar of the NPT volume step, or None (fixed cell).
        F_einstein: the free Einstein crystal, (3k_BT/N) Σ_i ln(βħω_i) over 3N oscillators.
        com_correction: F_E,cell − F_einstein, the Einstein crystal with its centre of mass held.
        delta_F, delta_F_error: F − F_E,cell = −(W_f − W_b)/2 per atom, SEM over independent pairs.
        dissipation, dissipation_error: (W_f + W_b)/2 per atom.
        F, F_error: F_einstein + com_correction + delta_F. G: F + PV/N, or None at fixed cell.
        w_forward, w_backward: per-pair works per atom. md_steps: MD steps. convention: ``"cell"``.
    """

    T: float
    n_atoms: int
    volume: float
    pressure: float | None
    F_einstein: float
    com_correction: float
    delta_F: float
    delta_F_error: float
    dissipation: float
    dissipation_error: float
    F: float
    F_error: float
    G: float | None
    w_forward: list
    w_backward: list
    md_steps: int
    convention: str

    def to_dict(self) -> dict: ...


@dataclass
class MDSettings:
    """Step counts and engine settings of a free-energy run (every count is per replica).

    Attributes:
        timestep: ps. damping: Langevin 1/γ, ps.
        n_npt: NPT steps for the volume (half equilibration, half averaging); used only with a pressure.
        n_msd_equil, n_msd: equilibration and production steps of the spring-constant run.
        n_equil: steps at each end of a switch; n_switch: steps of each switching leg.
        n_replicas: independent replicas (switching pairs) in one batch (≥ 2 for an error bar).
        seed: master seed; replica r uses seed + r (+ an offset per stage).
        max_displacement: stability limit, Å.
        barostat_time: τ_p, ps; compressibility: β_T of the barostat, 1/GPa.
    """

    timestep: float = 0.002
    damping: float = 0.1
    n_npt: int = 2000
    n_msd_equil: int = 500
    n_msd: int = 1000
    n_equil: int = 500
    n_switch: int = 2000
    n_replicas: int = 4
    seed: int = 1
    max_displacement: float = 1.5
    barostat_time: float = 0.5
    compressibility: float = 0.01

    def __post_init__(self) -> None:
        for name in ("n_npt", "n_msd_equil", "n_msd", "n_equil", "n_switch", "n_replicas"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 0:
                raise InputError(f"{name} must be an integer >= 0, got {v!r}")
        if self.n_switch < 1 or self.n_replicas < 1 or self.n_msd < 1:
            raise InputError("n_switch, n_msd and n_replicas must be >= 1")
        if not (self.timestep > 0 and self.damping > 0):
            raise InputError("timestep and damping must be > 0 ps")

    def seeds(self, stage: int) -> list[int]:
        """Seeds of the replicas for stage ``stage`` (distinct streams per stage)."""
        base = int(self.seed) * 1000 + 100 * int(stage)
        return [base + r + 1 for r in range(self.n_replicas)]

    def engine(self, hamiltonian) -> BatchedLangevin:
        return BatchedLangevin(
            hamiltonian, timestep=self.timestep, damping=self.damping, max_displacement=self.max_displacement
        )

    def switch(
        self,
        hamiltonian,
        atoms,
        T: float,
        stage: int,
        *,
        masses=None,
        state: MDState | None = None,
        scale: float = 1.0,
        checkpoint_dir=None,
        tag: str = "switch",
        progress: bool = False,
    ):
        """One batch of switching pairs s: 0 → 1 → 0 of ``hamiltonian`` with these settings' step counts, from
        ``state`` or from the sites of ``atoms`` (velocities drawn with the replica seeds of ``stage``).

        Returns:
            the :class:`~thermograd.md.protocol.SwitchPair` (works divided by ``scale``).
        """
        engine = self.engine(hamiltonian)
        if state is None:
            m = atoms.get_masses() if masses is None else masses
            state = engine.initial_state(atoms.positions, atoms.cell[:], m, T, self.seeds(stage))
        return switch_pair(
            engine,
            state,
            T,
            n_equil=self.n_equil,
            n_switch=self.n_switch,
            scale=scale,
            checkpoint_dir=checkpoint_dir,
            tag=tag,
            progress=progress,
        )


@dataclass
class FrenkelLaddRun:
    """Frenkel–Ladd result on the torch engine; free energies per atom, eV, ``"cell"`` convention.

    Attributes:
        T: K. n_atoms: N. volume: cell volume per atom, Å³. pressure: bar (None at fixed volume).
        springs: k_i per site, eV/Å². msd_sites: ⟨|Δr_i|²⟩ per site (replica mean, before averaging over
            equivalent sites), Å².
        F_einstein: F_E of the free Einstein crystal (3N oscillators). com_correction: F_E,cell − F_E, so
            that F_E,cell = F_einstein + com_correction is the crystal with its centre of mass held.
        delta_F, delta_F_error: F − F_E,cell = −⟨(W_f − W_b)/2⟩/N and its SEM over the replicas.
        dissipation, dissipation_error: ⟨(W_f + W_b)/2⟩/N.
        F, F_error: F_einstein + com_correction + delta_F. G: F + PV/N (None at fixed volume).
        w_forward, w_backward: per-replica works per atom (model → Einstein and back), eV.
        md_steps: MD steps per replica.
        energy_min: E at the sites per atom (the potential's static energy), eV.
        profile: replica-mean ∂U/∂λ = U_E − U along λ, forward and backward (eV, whole cell; for plots).
        settings: the :class:`MDSettings` used.
    """

    T: float
    n_atoms: int
    volume: float
    pressure: float | None
    springs: list[float]
    msd_sites: list[float]
    F_einstein: float
    com_correction: float
    delta_F: float
    delta_F_error: float
    dissipation: float
    dissipation_error: float
    F: float
    F_error: float
    G: float | None
    w_forward: list[float]
    w_backward: list[float]
    md_steps: int
    energy_min: float
    settings: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)
    units: str = "eV/atom"
    convention: str = "cell"

    def to_dict(self) -> dict:
        return asdict(self)


def equivalent_site_groups(atoms) -> np.ndarray:
    """Label per site such that equal labels are symmetry-equivalent (spglib), or share a species when
    spglib is not installed."""
    try:
        import spglib

        cell = (np.asarray(atoms.cell[:]), atoms.get_scaled_positions(), atoms.numbers)
        with warnings.catch_warnings():  # spglib 2.5+ announces an error-handling change on every call
            warnings.simplefilter("ignore")
            ds = spglib.get_symmetry_dataset(cell, symprec=1e-3)
        if ds is not None:
            return np.asarray(
                ds.equivalent_atoms if hasattr(ds, "equivalent_atoms") else ds["equivalent_atoms"]
            )
    except ImportError:
        pass
    return np.asarray(atoms.numbers)


def average_over_groups(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Replace each value by the mean over its group."""
    out = np.empty_like(values, dtype=float)
    for g in np.unique(groups):
        sel = groups == g
        out[sel] = values[sel].mean()
    return out


def spring_constants(
    potential: Potential,
    atoms,
    T: float,
    settings: MDSettings,
    *,
    state: MDState | None = None,
    checkpoint_dir=None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, MDState]:
    """k_i = 3k_BT/⟨|Δr_i|²⟩ from an NVT run (replicas and equivalent sites averaged).

    Returns:
        (springs (N,), eV/Å²; per-site MSD (N,), Å²; the final state).
    """
    engine = settings.engine(Static(potential))
    if state is None:
        state = engine.initial_state(atoms.positions, atoms.cell[:], atoms.get_masses(), T, settings.seeds(1))
    st, _ = equilibrate(
        engine,
        state,
        T,
        0.0,
        settings.n_msd_equil,
        checkpoint_dir=checkpoint_dir,
        tag="msd-equil",
        progress=progress,
    )
    st, seg = equilibrate(
        engine, st, T, 0.0, settings.n_msd, checkpoint_dir=checkpoint_dir, tag="msd", progress=progress
    )
    msd = seg.msd_sites.mean(axis=0)
    if not np.all(msd > 0):
        raise InputError("a site did not move in the spring-constant run (zero mean squared displacement)")
    msd_eq = average_over_groups(msd, equivalent_site_groups(atoms))
    return 3.0 * KB * T / msd_eq, msd, st


def npt_volume(
    potential: Potential,
    atoms,
    T: float,
    pressure: float,
    settings: MDSettings,
    *,
    checkpoint_dir=None,
    progress: bool = False,
):
    """The structure isotropically rescaled to its mean NPT volume at (T, P) (bar), and that volume, Å³.

    Raises:
        UnstableStructureError: the crystal melted (an atom left its site): no volume is returned.
    """
    engine = settings.engine(Static(potential))
    st = engine.initial_state(atoms.positions, atoms.cell[:], atoms.get_masses(), T, settings.seeds(0))
    sched = np.zeros(settings.n_npt + 1)
    ck = None if checkpoint_dir is None else Path(checkpoint_dir) / "npt.pt"
    _, seg = engine.run(
        st,
        sched,
        T,
        pressure=pressure,
        checkpoint=ck,
        progress=progress,
        desc=f"NPT {T:g} K",
        compressibility=settings.compressibility,
        barostat_time=settings.barostat_time,
    )
    vol = float(seg.volume[:, settings.n_npt // 2 + 1 :].mean())
    out = atoms.copy()
    out.set_cell(atoms.cell[:] * (vol / atoms.get_volume()) ** (1 / 3), scale_atoms=True)
    return out, vol


def frenkel_ladd(
    potential: Potential,
    atoms,
    T: float,
    *,
    settings: MDSettings | None = None,
    springs: np.ndarray | None = None,
    pressure: float | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> FrenkelLaddRun:
    """Absolute free energy per atom of the crystal ``atoms`` under ``potential`` (module docstring).

    Args:
        potential: batched potential for ``atoms``' species and order; the sites are ``atoms.positions``
            (relax them first: they should be a local minimum).
        atoms: the crystal (ASE ``Atoms``).
        T: temperature, K.
        settings: step counts etc. (:class:`MDSettings`).
        springs: per-site spring constants (eV/Å²); default from an NVT run.
        pressure: bar; if given, the volume is fixed by NPT first and G is reported.
        checkpoint_dir: folder for checkpoints (an interrupted run resumes; finished stages are kept).
        progress: tqdm bars.
    """
    if not (isinstance(T, (int, float)) and T > 0):
        raise InputError(f"temperature must be > 0 K, got {T!r}")
    settings = settings or MDSettings()
    n = len(atoms)
    if n < 2:
        raise InputError("Frenkel–Ladd needs a crystal of at least 2 atoms")
    md_steps = 0
    if pressure is not None:
        atoms, _ = npt_volume(
            potential, atoms, T, pressure, settings, checkpoint_dir=checkpoint_dir, progress=progress
        )
        potential = _rebuilt(potential, atoms)
        md_steps += settings.n_npt
    msd = np.full(n, np.nan)
    state = None
    if springs is None:
        springs, msd, state = spring_constants(
            potential, atoms, T, settings, checkpoint_dir=checkpoint_dir, progress=progress
        )
        md_steps += settings.n_msd_equil + settings.n_msd
    springs = np.broadcast_to(np.asarray(springs, dtype=float), (n,)).copy()
    if not np.all(springs > 0):
        raise InputError("spring constants must be > 0 eV/Å²")
    einstein = EinsteinPotential(springs, atoms.positions)
    pair = settings.switch(
        LinearPath(potential, einstein),
        atoms,
        T,
        2,
        state=state,
        scale=n,
        checkpoint_dir=checkpoint_dir,
        tag=f"fl-{T:g}K",
        progress=progress,
    )
    md_steps += 2 * (settings.n_equil + settings.n_switch)
    masses = atoms.get_masses()
    f_cell = einstein_cell_free_energy(springs, masses, T)
    f_free = einstein_free_energy(springs, masses, T)
    est = pair.estimate
    F = f_cell - est.delta_F
    vol = float(atoms.get_volume())
    G = F + pressure * BAR_TO_EV_PER_A3 * vol / n if pressure is not None else None
    e0, _, _ = potential.evaluate(_t(atoms.positions[None]), _t(atoms.cell[:][None]))
    return FrenkelLaddRun(
        T=float(T),
        n_atoms=n,
        volume=vol / n,
        pressure=pressure,
        springs=springs.tolist(),
        msd_sites=msd.tolist(),
        F_einstein=f_free,
        com_correction=f_cell - f_free,
        delta_F=-est.delta_F,
        delta_F_error=est.error,
        dissipation=est.dissipation,
        dissipation_error=est.dissipation_error,
        F=F,
        F_error=est.error,
        G=G,
        w_forward=est.w_forward.tolist(),
        w_backward=est.w_backward.tolist(),
        md_steps=md_steps,
        energy_min=float(e0[0]) / n,
        settings=asdict(settings),
        profile=pair.profile(),
    )


def _t(x):
    import torch

    return torch.as_tensor(np.asarray(x, dtype=float), dtype=torch.float64)


def _rebuilt(potential, atoms):
    """The potential for the rescaled structure (potentials that hold a structure are rebuilt from it)."""
    rebuild = getattr(potential, "for_structure", None)
    return rebuild(atoms) if rebuild is not None else potential
