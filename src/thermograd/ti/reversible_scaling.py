"""Reversible scaling: F(T) over a temperature range from one switching run (de Koning, Antonelli, Yip,
Phys. Rev. Lett. 83, 3973 (1999)).

At fixed temperature T0 the scaled potential λU samples the configurations of U at T = T0/λ, so
F(T) = (T/T0)[F(T0) + ΔF(1 → λ)] − (n/2)k_BT ln(T/T0) per atom, with n = 3(N − 1)/N internal degrees of
freedom per atom (centre of mass pinned, ``"cell"`` convention) and ΔF(1 → λ) = ∫₁^λ⟨U⟩dλ' estimated at
every λ along the path by ½[W_f(1 → λ) − W_b(λ → 1)]. λ(τ) = 1/(1 + τ(T_f/T0 − 1)) makes T linear in time.
"""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np

from ..errors import InputError
from ..units import KB
from ._tasks import rs_task, run_tasks, task_seeds
from .results import ReversibleScalingResult
from .system import TISystem


def _cumulative(lam: np.ndarray, du: np.ndarray) -> np.ndarray:
    """Cumulative trapezoid ∫ du dλ along the leg, shape (n,), starting at 0."""
    return np.concatenate([[0.0], np.cumsum(0.5 * (du[1:] + du[:-1]) * np.diff(lam))])


def run_reversible_scaling(
    system: TISystem,
    T0: float,
    T_final: float,
    F0: float,
    F0_error: float = 0.0,
    *,
    n_equil: int = 2000,
    n_switch: int = 10000,
    n_repeats: int = 4,
    n_temperatures: int = 41,
    seed: int = 0,
    executor: Executor | None = None,
    progress: bool = False,
    journal=None,
) -> ReversibleScalingResult:
    """F(T) between T0 and T_final anchored at F(T0) (``"cell"`` convention, eV/atom).

    Args:
        system: a :class:`~thermograd.ti.system.TISystem`, picklable.
        T0: anchor temperature, K; the MD runs at T0 with the potential scaled by λ.
        T_final: the other end of the range, K (above or below T0).
        F0: F(T0) per atom in the ``"cell"`` convention (e.g. a Frenkel–Ladd ``F``), eV/atom.
        F0_error: its error, eV/atom.
        n_equil: equilibration steps before each leg.
        n_switch: steps of each scaling leg.
        n_repeats: independent forward/backward pairs.
        n_temperatures: points of the reported curve (evenly spaced in T).
        seed: master seed.
        executor: runs the pairs.
        progress: show a tqdm bar.
        journal: a :class:`~thermograd.ti.journal.TaskJournal` (finished pairs are reused and recorded).
    """
    for name, t in (("T0", T0), ("T_final", T_final)):
        if not (isinstance(t, (int, float)) and t > 0):
            raise InputError(f"{name} must be > 0 K, got {t!r}")
    if T_final == T0:
        raise InputError("T_final must differ from T0")
    if n_switch < 2 or n_repeats < 1 or n_temperatures < 2:
        raise InputError("need n_switch >= 2, n_repeats >= 1 and n_temperatures >= 2")
    n = system.n_atoms
    lam_final = T0 / T_final
    seeds = task_seeds(seed, n_repeats)
    args = [(system, float(T0), float(lam_final), int(n_equil), int(n_switch), s) for s in seeds]
    traces = run_tasks(rs_task, args, executor, progress, f"reversible scaling {T0:g}→{T_final:g} K", journal)
    temps = np.linspace(T0, T_final, n_temperatures)
    lam_grid = T0 / temps
    dfs, qs = [], []
    for lf, duf, lb, dub in traces:
        wf = _cumulative(lf, duf / n)  # W_f(1 → λ) along the forward leg
        cb = _cumulative(lb, dub / n)  # ∫ from λ_f along the backward leg
        wb = cb[-1] - cb  # W_b(λ → 1): the part of the backward leg after passing λ
        lam_b, wb_at = lb, wb
        # interpolate both on the λ grid (λ monotone on each leg)
        of, ob = np.argsort(lf), np.argsort(lam_b)
        wf_g = np.interp(lam_grid, lf[of], wf[of])
        wb_g = np.interp(lam_grid, lam_b[ob], wb_at[ob])
        dfs.append(0.5 * (wf_g - wb_g))
        qs.append(0.5 * (wf[-1] + cb[-1]))
    dfs = np.array(dfs)
    ratio = temps / T0
    mean = dfs.mean(axis=0)
    sem = dfs.std(axis=0, ddof=1) / np.sqrt(len(dfs)) if len(dfs) > 1 else np.full_like(mean, np.nan)
    n_dof = 3.0 * (n - 1) / n
    F = ratio * (F0 + mean) - 0.5 * n_dof * KB * temps * np.log(ratio)
    err = ratio * np.sqrt(F0_error**2 + np.nan_to_num(sem) ** 2)
    settings = {
        "n_equil": n_equil,
        "n_switch": n_switch,
        "n_repeats": n_repeats,
        "seed": seed,
        "seeds": seeds,
        "timestep_ps": getattr(system, "timestep", None),
    }
    return ReversibleScalingResult(
        T0=float(T0),
        F0=float(F0),
        F0_error=float(F0_error),
        temperatures=temps.tolist(),
        F=F.tolist(),
        error=err.tolist(),
        dissipation=float(np.mean(qs)),
        md_steps=n_repeats * 2 * (n_equil + n_switch),
        settings=settings,
    )
