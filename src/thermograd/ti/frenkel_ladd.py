"""Frenkel–Ladd free energy of a crystal by nonequilibrium switching to an Einstein crystal.

Spring constant from the model's own mean squared displacement, k = 3k_BT/⟨|Δr|²⟩ (Freitas, Asta,
de Koning, Comput. Mater. Sci. 112, 333 (2016)); forward (model → Einstein) and backward legs with the
Freitas switching function; ΔF = F_model − F_E = −(W_f − W_b)/2 per pair, the error is the standard error
over independent pairs. The centre of mass is pinned at that of the lattice sites throughout, so
F_cell = f_E(1 − 1/N) + ΔF exactly (the Einstein crystal's centre-of-mass mode has frequency √(k/m)); the
value in calphy's convention, f_E + ΔF + (k_BT/N) ln[(1/V)(2πk_BT/(Nk))^{3/2}], is reported as ``F_calphy``.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor

import numpy as np

from ..errors import InputError
from ..harmonic import einstein_free_energy
from ..md.switching import combine_switches, switching_work
from ..units import KB
from ._tasks import fl_task, msd_task, npt_volume_task, run_tasks, task_seeds
from .results import FrenkelLaddResult
from .system import NPTSystem, TISystem


def _bar_to_ev_per_a3(p_bar: float) -> float:
    # 1 bar = 1e5 Pa = 1e5 J/m³ = 1e5 / 1.602176634e-19 eV / 1e30 Å³
    return p_bar * 1e5 / 1.602176634e-19 / 1e30


def calphy_form(
    f_einstein: float, delta_F: float, T: float, n_atoms: int, volume: float, spring: float
) -> float:
    """calphy's solid free energy f_E + ΔF + (k_BT/N) ln[(1/V)(2πk_BT/(Nk))^{3/2}], eV/atom.

    V is the cell volume (Å³) and k the spring constant (eV/Å²); see :mod:`thermograd.ti.results`.
    """
    kT = KB * T
    return (
        f_einstein
        + delta_F
        + kT / n_atoms * math.log(1.0 / volume * (2 * math.pi * kT / (n_atoms * spring)) ** 1.5)
    )


def run_frenkel_ladd(
    system: TISystem,
    T: float,
    *,
    spring: float | None = None,
    n_msd_equil: int = 1000,
    n_msd: int = 4000,
    n_equil: int = 2000,
    n_switch: int = 5000,
    n_repeats: int = 4,
    seed: int = 0,
    pressure: float | None = None,
    n_npt: int = 5000,
    executor: Executor | None = None,
    progress: bool = False,
    journal=None,
) -> FrenkelLaddResult:
    """Absolute free energy per atom by Frenkel–Ladd switching (centre of mass pinned).

    Args:
        system: a :class:`~thermograd.ti.system.TISystem`, picklable.
        T: temperature, K (> 0).
        spring: Einstein spring constant, eV/Å²; default 3k_BT/⟨|Δr|²⟩ from an NVT run of the model.
        n_msd_equil: equilibration steps of the MSD run.
        n_msd: production steps of the MSD run.
        n_equil: equilibration steps before each switching leg.
        n_switch: steps of each switching leg.
        n_repeats: independent forward/backward pairs (≥ 2 for an error bar).
        seed: master seed (task i uses the i-th spawned seed).
        pressure: if given (bar), first equilibrate the volume in NPT at (T, P) (LAMMPS systems only) and
            report G = F + PV as well; needs a :class:`~thermograd.ti.system.NPTSystem`.
        n_npt: NPT steps (half equilibration, half averaging) when ``pressure`` is given.
        executor: runs the switching pairs.
        progress: show a tqdm bar.
        journal: a :class:`~thermograd.ti.journal.TaskJournal`: the NPT, MSD and switching tasks already in it
            are not run again, finished ones are recorded at once.

    Raises:
        InputError: T ≤ 0, spring ≤ 0 or bad step counts.
        UnstableStructureError: an atom left its site (melting) during any run.
    """
    if not (isinstance(T, (int, float)) and T > 0):
        raise InputError(f"temperature must be > 0 K, got {T!r}")
    if n_switch < 1 or n_repeats < 1 or n_equil < 0:
        raise InputError(
            f"need n_switch >= 1, n_repeats >= 1, n_equil >= 0 (got {n_switch}, {n_repeats}, {n_equil})"
        )
    seeds = task_seeds(seed, n_repeats + 2)
    md_steps = 0
    if pressure is not None:
        if not isinstance(system, NPTSystem):
            raise InputError(f"{type(system).__name__} cannot equilibrate the volume (pressure given)")
        npt = [(system, float(T), float(pressure), int(n_npt), seeds[-1])]
        system = system.with_volume(run_tasks(npt_volume_task, npt, None, False, f"NPT {T:g} K", journal)[0])
        md_steps += n_npt
    n = system.n_atoms
    msd = float("nan")
    if spring is None:
        msd_args = [(system, float(T), n_msd_equil, n_msd, seeds[-2])]
        msd = run_tasks(msd_task, msd_args, None, False, f"MSD {T:g} K", journal)[0]
        md_steps += n_msd_equil + n_msd
        if not msd > 0:
            raise InputError(f"mean squared displacement must be > 0, got {msd}")
        spring = 3.0 * KB * T / msd
    if not spring > 0:
        raise InputError(f"spring constant must be > 0 eV/Å², got {spring!r}")
    args = [(system, float(T), float(spring), int(n_equil), int(n_switch), s) for s in seeds[:n_repeats]]
    traces = run_tasks(fl_task, args, executor, progress, f"Frenkel–Ladd {T:g} K", journal)
    wf = np.array([switching_work(lf, df) for lf, df, _, _ in traces]) / n
    wb = np.array([switching_work(lb, db) for _, _, lb, db in traces]) / n
    est = combine_switches(wf, wb)  # ΔF(model → Einstein)
    md_steps += n_repeats * 2 * (n_equil + n_switch)
    f_e = einstein_free_energy(spring, system.mass, T)
    delta = -est.delta_F
    f_cell = f_e * (1.0 - 1.0 / n) + delta
    volume = float(system.volume)
    f_calphy = calphy_form(f_e, delta, T, n, volume, spring) if np.isfinite(volume) else float("nan")
    g = f_cell + _bar_to_ev_per_a3(pressure) * volume / n if pressure is not None else None
    settings = {
        "n_msd_equil": n_msd_equil,
        "n_msd": n_msd,
        "n_equil": n_equil,
        "n_switch": n_switch,
        "n_repeats": n_repeats,
        "seed": seed,
        "seeds": seeds[:n_repeats],
        "n_npt": n_npt,
        "timestep_ps": getattr(system, "timestep", None),
        "damping_ps": getattr(system, "damping", None),
    }
    return FrenkelLaddResult(
        T=float(T),
        n_atoms=n,
        volume=volume / n,
        pressure=pressure,
        spring=float(spring),
        msd=msd,
        F_einstein=f_e,
        com_correction=-f_e / n,
        delta_F=delta,
        delta_F_error=est.error,
        dissipation=est.dissipation,
        dissipation_error=est.dissipation_error,
        F=f_cell,
        F_error=est.error,
        F_calphy=f_calphy,
        G=g,
        w_forward=wf.tolist(),
        w_backward=wb.tolist(),
        md_steps=md_steps,
        settings=settings,
    )
