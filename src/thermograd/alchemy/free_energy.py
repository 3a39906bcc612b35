"""Alchemical free energies at temperature: vacancy formation and substitution by nonequilibrium switching.

Nam, Peng, Gómez-Bombarelli, Nat. Commun. 16 (2025), Fig. 4–5 (science-alchemical.md §8.3–8.4), on the
batched torch engine (:mod:`thermograd.md`); every free energy is per atom in the ``"cell"`` convention (the
centre of mass held in every run, :mod:`thermograd.ti.results`) unless a name says "cell" (whole cell).

**Vacancy formation** G_v = G(N − 1 defect crystal) − (N − 1)/N · G(N perfect crystal), both at the perfect
crystal's cell (at a pressure P, the cell of its NPT volume), two routes side by side:

* *conventional*: Frenkel–Ladd of the perfect and of the defect crystal, G_v = (N − 1)(f_def − f_perf) + PV/N;
* *alchemical* (partial Frenkel–Ladd): atom v becomes one copy of weight w = 1 − s while a tether
  s·½k_v|x_v − x_v⁰|² is switched on, H(s) = E_alch(x; w = 1 − s) + s·½k_v|x_v − x_v⁰|². At s = 1 the
  crystal is the (N − 1)-atom defect crystal plus a free Einstein oscillator, so

      G_v = ΔF_alch + f_perf − F_E,osc + (3/2)k_BT ln(M/(M − m_v)) + PV/N,

  ΔF_alch the whole-cell switching free energy and F_E,osc = 3k_BT ln(βħω_v). The last log is the
  **centre-of-mass term**: our runs hold the centre of mass of all N atoms (ghost included), while the
  (N − 1)-atom crystal's f_def holds its own; integrating the ghost out of the constraint leaves that factor
  (positions give (M/M_h)³, momenta (M_h/M)^{3/2}). The paper makes no such correction; it is
  ≈ (3/2)k_BT/N (0.24 meV for 54 atoms at 100 K). It keeps the perfect crystal's Frenkel–Ladd and replaces
  the defect crystal's by one switch whose error is not multiplied by N − 1.

**Substitution** of a whole sublattice A → B with masses interpolated along the switch:
ΔG = ΔF_switch/N + Δf_mass, Δf_mass = (3/2)(k_BT/N)[Σ_i ln(m_i^A/m_i^B) − ln(M^A/M^B)] (the kinetic free
energy; the second log again from the held centre-of-mass momentum). The **cycle check** compares
g_δ(B) − g_α(B) from direct Frenkel–Ladd with [g_δ(A) − g_α(A)] + ΔG_δ − ΔG_α.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from ..errors import InputError
from ..harmonic import einstein_free_energy
from ..md.engine import BAR_TO_EV_PER_A3
from ..md.frenkel_ladd import FrenkelLaddRun, MDSettings, frenkel_ladd, npt_volume
from ..md.hamiltonians import EinsteinPotential, Scaled, Sum
from ..md.protocol import SwitchPair
from ..units import KB
from .harmonic_reference import HarmonicVacancy, harmonic_vacancy_formation
from .md import AlchemicalPath, MLIPPotential, relax_positions
from .system import substitution, vacancy

#: points kept of the mean ∂U/∂λ profiles stored in the results (for plots)
PROFILE_POINTS = 201


@dataclass
class SwitchRun:
    """One alchemical switch (per-replica works and their combination).

    Attributes:
        delta_F: ΔF(s = 0 → 1) in the unit named by ``unit`` ("eV/cell" or "eV/atom"), error its SEM.
        dissipation, dissipation_error: ⟨(W_f + W_b)/2⟩ in the same unit.
        w_forward, w_backward: per-replica works, same unit.
        profile: mean ∂U/∂s along s, forward and backward (eV/cell), ≤ PROFILE_POINTS points.
        md_steps: steps per replica.
    """

    delta_F: float
    error: float
    dissipation: float
    dissipation_error: float
    w_forward: list[float]
    w_backward: list[float]
    unit: str
    profile: dict
    md_steps: int

    @classmethod
    def from_pair(cls, pair: SwitchPair, unit: str, md_steps: int) -> SwitchRun:
        est = pair.estimate
        return cls(
            delta_F=est.delta_F,
            error=est.error,
            dissipation=est.dissipation,
            dissipation_error=est.dissipation_error,
            w_forward=est.w_forward.tolist(),
            w_backward=est.w_backward.tolist(),
            unit=unit,
            profile=pair.profile(PROFILE_POINTS),
            md_steps=md_steps,
        )


@dataclass
class VacancyResult:
    """Vacancy formation free energy by both routes (eV; per-atom values per atom of the perfect crystal).

    Attributes:
        T, n_atoms, site: temperature (K), atoms of the perfect crystal, the removed site.
        pressure: bar or None (fixed cell). volume: perfect-crystal cell volume per atom, Å³.
        G_v_alchemical, G_v_alchemical_error; G_v_conventional, G_v_conventional_error: eV.
        f_perfect: perfect-crystal Frenkel–Ladd result; f_defect: defect crystal's (None if not run).
        switch: the alchemical switch (eV/cell). tether_spring: k_v, eV/Å². F_E_oscillator: eV.
        com_term: (3/2)k_BT ln(M/(M − m_v)), eV. pv_term: PV/N, eV.
        md_steps: MD steps per replica of each route's own runs ("perfect", "defect", "alchemical").
        G_v_harmonic: the harmonic reference E_v + F_h,v (+ PV/N) at the same cell, eV (None if not asked
            for); harmonic: its terms (:class:`~thermograd.alchemy.harmonic_reference.HarmonicVacancy`).
    """

    T: float
    n_atoms: int
    site: int
    pressure: float | None
    volume: float
    G_v_alchemical: float
    G_v_alchemical_error: float
    G_v_conventional: float | None
    G_v_conventional_error: float | None
    f_perfect: FrenkelLaddRun
    f_defect: FrenkelLaddRun | None
    switch: SwitchRun
    tether_spring: float
    F_E_oscillator: float
    com_term: float
    pv_term: float
    md_steps: dict = field(default_factory=dict)
    G_v_harmonic: float | None = None
    harmonic: HarmonicVacancy | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SubstitutionResult:
    """ΔG of a sublattice substitution A → B at fixed cell, eV/atom.

    Attributes:
        T, n_atoms, sites, species_from, species_to: the switch.
        delta_G, delta_G_error: ΔF_switch/N + mass_term.
        mass_term: (3/2)(k_BT/N)[Σ ln(m_A/m_B) − ln(M_A/M_B)].
        switch: the switching record (eV/atom).
    """

    T: float
    n_atoms: int
    sites: list[int]
    species_from: str
    species_to: str
    delta_G: float
    delta_G_error: float
    mass_term: float
    switch: SwitchRun

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CycleResult:
    """The Pb → Sn style cycle over two phases (eV/atom; closure in meV/atom).

    Attributes:
        phases: the two phase names (a, b). species_from, species_to: A, B.
        f: Frenkel–Ladd results {phase: {species: FrenkelLaddRun}}.
        substitution: {phase: SubstitutionResult}.
        direct: g_b(B) − g_a(B) from direct Frenkel–Ladd, eV/atom, with ``direct_error``.
        via_switch: [g_b(A) − g_a(A)] + ΔG_b − ΔG_a, with ``via_switch_error``.
        closure, closure_error: (via_switch − direct) in meV/atom.
        phase_closure: per phase, ΔG − (g(B) − g(A)) in meV/atom, with errors.
    """

    phases: tuple[str, str]
    species_from: str
    species_to: str
    f: dict
    substitution: dict
    direct: float
    direct_error: float
    via_switch: float
    via_switch_error: float
    closure: float
    closure_error: float
    phase_closure: dict

    def to_dict(self) -> dict:
        return asdict(self)


def mass_term(m_from: np.ndarray, m_to: np.ndarray, T: float) -> float:
    """Kinetic free-energy change per atom of changing masses m_from → m_to with the total momentum held:
    (3/2)(k_BT/N)[Σ_i ln(m_from,i/m_to,i) − ln(M_from/M_to)], eV/atom."""
    a, b = np.asarray(m_from, dtype=float), np.asarray(m_to, dtype=float)
    if a.shape != b.shape or np.any(a <= 0) or np.any(b <= 0):
        raise InputError("mass_term needs two positive mass arrays of one shape")
    kt = KB * T
    return 1.5 * kt * (float(np.sum(np.log(a / b))) - math.log(a.sum() / b.sum())) / a.size


def _sub(folder, name: str):
    return None if folder is None else Path(folder) / name


def _check_site(atoms: Atoms, site: int) -> int:
    if not isinstance(site, (int, np.integer)) or not 0 <= int(site) < len(atoms):
        raise InputError(
            f"vacancy site {site!r} does not exist: the structure has {len(atoms)} atoms (sites 0..{len(atoms) - 1})"
        )
    return int(site)


def vacancy_formation(
    backend,
    atoms: Atoms,
    site: int,
    T: float,
    *,
    settings: MDSettings | None = None,
    pressure: float | None = None,
    conventional: bool = True,
    relax_defect: bool = True,
    harmonic: bool = False,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> VacancyResult:
    """Vacancy formation free energy of ``atoms`` (a perfect crystal, sites at a minimum of the model).

    Args:
        backend: alchemical backend (SevenNet-0, MACE, pair models).
        atoms: the perfect crystal.
        site: index of the atom to remove.
        T: K.
        settings: step counts (:class:`~thermograd.md.frenkel_ladd.MDSettings`), shared by every run.
        pressure: bar; the cell is fixed at the perfect crystal's NPT volume first.
        conventional: also run the defect crystal's Frenkel–Ladd (the conventional route).
        relax_defect: relax the defect crystal's positions (fixed cell, FIRE) before its Frenkel–Ladd; the
            free energy does not depend on the tether sites, the dissipation does.
        harmonic: also the noise-free harmonic reference E_v + F_h,v at the same cell (two Hessians;
            :func:`~thermograd.alchemy.harmonic_reference.harmonic_vacancy_formation`), the T → 0 limit of
            both routes: at low T it shows which route a finite switching time has biased.
        checkpoint_dir: folder for checkpoints; an interrupted calculation resumes, finished runs are kept.
        progress: tqdm bars.
    """
    site = _check_site(atoms, site)
    if not (isinstance(T, (int, float)) and T > 0):
        raise InputError(f"temperature must be > 0 K, got {T!r}")
    settings = settings or MDSettings()
    n = len(atoms)
    steps = {"perfect": 0, "defect": 0, "alchemical": 0}
    if pressure is not None:
        atoms, _ = npt_volume(
            MLIPPotential(backend, atoms),
            atoms,
            T,
            pressure,
            settings,
            checkpoint_dir=_sub(checkpoint_dir, "perfect"),
            progress=progress,
        )
        steps["perfect"] += settings.n_npt
    vol = float(atoms.get_volume())
    pv = 0.0 if pressure is None else pressure * BAR_TO_EV_PER_A3 * vol / n
    perfect = frenkel_ladd(
        MLIPPotential(backend, atoms),
        atoms,
        T,
        settings=settings,
        checkpoint_dir=_sub(checkpoint_dir, "perfect"),
        progress=progress,
    )
    steps["perfect"] += perfect.md_steps
    k_v = float(perfect.springs[site])

    springs = np.zeros(n)
    springs[site] = k_v
    path = AlchemicalPath(backend, vacancy(atoms, site), [1.0], [0.0], interpolate_masses=False)
    ham = Sum([path, Scaled(EinsteinPotential(springs, atoms.positions))])
    masses = atoms.get_masses()
    pair = settings.switch(
        ham, atoms, T, 3, checkpoint_dir=_sub(checkpoint_dir, "alchemical"), tag="vacancy", progress=progress
    )
    steps["alchemical"] = 2 * (settings.n_equil + settings.n_switch)
    switch = SwitchRun.from_pair(pair, "eV/cell", steps["alchemical"])
    f_osc = einstein_free_energy(k_v, masses[site], T)
    m_tot = float(masses.sum())
    com = 1.5 * KB * T * math.log(m_tot / (m_tot - masses[site]))
    g_alch = switch.delta_F + perfect.F - f_osc + com + pv
    g_alch_err = math.hypot(switch.error, perfect.F_error)

    defect = None
    g_conv = g_conv_err = None
    if conventional:
        d_atoms = atoms.copy()
        del d_atoms[site]
        if relax_defect:  # sites at a minimum of the model: the same F, a less dissipative switch
            d_atoms = relax_positions(d_atoms, backend, fmax=1e-3, steps=1000)
        defect = frenkel_ladd(
            MLIPPotential(backend, d_atoms),
            d_atoms,
            T,
            settings=settings,
            checkpoint_dir=_sub(checkpoint_dir, "defect"),
            progress=progress,
        )
        steps["defect"] = defect.md_steps
        g_conv = (n - 1) * (defect.F - perfect.F) + pv
        g_conv_err = (n - 1) * math.hypot(defect.F_error, perfect.F_error)
    harm = harmonic_vacancy_formation(backend, atoms, site, T) if harmonic else None
    return VacancyResult(
        T=float(T),
        n_atoms=n,
        site=site,
        pressure=pressure,
        volume=vol / n,
        G_v_alchemical=g_alch,
        G_v_alchemical_error=g_alch_err,
        G_v_conventional=g_conv,
        G_v_conventional_error=g_conv_err,
        f_perfect=perfect,
        f_defect=defect,
        switch=switch,
        tether_spring=k_v,
        F_E_oscillator=f_osc,
        com_term=com,
        pv_term=pv,
        md_steps=steps,
        G_v_harmonic=None if harm is None else harm.G_v[0] + pv,
        harmonic=harm,
    )


def _species_sites(atoms: Atoms, sites, species_from: str) -> list[int]:
    if species_from not in atomic_numbers:
        raise InputError(f"unknown chemical symbol {species_from!r}")
    if sites is None:
        sites = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == species_from]
    sites = [int(s) for s in sites]
    if not sites:
        raise InputError(f"no {species_from} site to substitute in {atoms.get_chemical_formula()}")
    bad = [s for s in sites if not 0 <= s < len(atoms)]
    if bad:
        raise InputError(f"substitution site {bad[0]} does not exist ({len(atoms)} atoms)")
    wrong = [s for s in sites if atoms[s].symbol != species_from]
    if wrong:
        raise InputError(f"site {wrong[0]} holds {atoms[wrong[0]].symbol}, not {species_from}")
    return sites


def substitution_free_energy(
    backend,
    atoms: Atoms,
    species_from: str,
    species_to: str,
    T: float,
    *,
    sites: Sequence[int] | None = None,
    settings: MDSettings | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> SubstitutionResult:
    """ΔG per atom of substituting ``species_from`` → ``species_to`` on ``sites`` (default: every
    ``species_from`` site) at the fixed cell of ``atoms``, masses interpolated along the switch."""
    sites = _species_sites(atoms, sites, species_from)
    if species_to not in atomic_numbers:
        raise InputError(f"unknown chemical symbol {species_to!r}")
    settings = settings or MDSettings()
    n = len(atoms)
    system = substitution(atoms, sites, [species_from, species_to])
    path = AlchemicalPath(backend, system, [1.0, 0.0], [0.0, 1.0], interpolate_masses=True)
    m0 = path.start_masses()
    pair = settings.switch(
        path,
        atoms,
        T,
        4,
        masses=m0,
        scale=n,
        checkpoint_dir=checkpoint_dir,
        tag=f"{species_from}-{species_to}",
        progress=progress,
    )
    m1 = m0.copy()
    m1[sites] = atomic_masses[atomic_numbers[species_to]]
    dm = mass_term(m0, m1, T)
    switch = SwitchRun.from_pair(pair, "eV/atom", 2 * (settings.n_equil + settings.n_switch))
    return SubstitutionResult(
        T=float(T),
        n_atoms=n,
        sites=sites,
        species_from=species_from,
        species_to=species_to,
        delta_G=switch.delta_F + dm,
        delta_G_error=switch.error,
        mass_term=dm,
        switch=switch,
    )


def substitution_cycle(
    backend,
    phases: dict[str, Atoms],
    species_from: str,
    species_to: str,
    T: float,
    *,
    settings: MDSettings | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> CycleResult:
    """The cycle over two phases (each given with ``species_from`` on the sublattice to substitute)."""
    if len(phases) != 2:
        raise InputError(f"the cycle needs exactly two phases, got {list(phases)}")
    settings = settings or MDSettings()
    names = tuple(phases)
    f: dict = {}
    subs: dict = {}
    for name, atoms in phases.items():
        sites = _species_sites(atoms, None, species_from)
        b_atoms = atoms.copy()
        symbols = b_atoms.get_chemical_symbols()
        for s in sites:
            symbols[s] = species_to
        b_atoms.set_chemical_symbols(symbols)
        f[name] = {}
        for sp, at in ((species_from, atoms), (species_to, b_atoms)):
            f[name][sp] = frenkel_ladd(
                MLIPPotential(backend, at),
                at,
                T,
                settings=settings,
                checkpoint_dir=_sub(checkpoint_dir, f"{name}-{sp}"),
                progress=progress,
            )
        subs[name] = substitution_free_energy(
            backend,
            atoms,
            species_from,
            species_to,
            T,
            sites=sites,
            settings=settings,
            checkpoint_dir=_sub(checkpoint_dir, f"{name}-switch"),
            progress=progress,
        )
    a, b = names
    A, B = species_from, species_to
    direct = f[b][B].F - f[a][B].F
    direct_err = math.hypot(f[b][B].F_error, f[a][B].F_error)
    via = f[b][A].F - f[a][A].F + subs[b].delta_G - subs[a].delta_G
    via_err = math.sqrt(
        f[b][A].F_error ** 2 + f[a][A].F_error ** 2 + subs[b].delta_G_error ** 2 + subs[a].delta_G_error ** 2
    )
    phase_closure = {}
    for name in names:
        d = subs[name].delta_G - (f[name][B].F - f[name][A].F)
        e = math.sqrt(subs[name].delta_G_error ** 2 + f[name][B].F_error ** 2 + f[name][A].F_error ** 2)
        phase_closure[name] = {"closure": 1e3 * d, "closure_error": 1e3 * e}
    return CycleResult(
        phases=names,
        species_from=A,
        species_to=B,
        f=f,
        substitution=subs,
        direct=direct,
        direct_error=direct_err,
        via_switch=via,
        via_switch_error=via_err,
        closure=1e3 * (via - direct),
        closure_error=1e3 * math.hypot(via_err, direct_err),
        phase_closure=phase_closure,
    )
