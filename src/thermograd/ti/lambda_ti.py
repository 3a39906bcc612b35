"""Equilibrium λ-TI from the model's own harmonic crystal to the model.

U_λ = U_h + λ(U − E_0 − U_h), U_h = ½δxᵀHδx with H the model's Hessian at the reference structure, so
F = E_0 + F_h + F_anh with F_anh = ∫₀¹⟨U − E_0 − U_h⟩_λ dλ (Gauss–Legendre in λ, one independent NVT
Langevin run per point). The centre of mass is pinned in every run: U and U_h are both translation
invariant, so its motion contributes nothing to ∂U/∂λ, and pinning it samples exactly the 3N − 3 internal
degrees of freedom whose harmonic free energy is F_h (see :mod:`thermograd.ti.results` for conventions).
"""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np

from ..errors import InputError
from ..harmonic import harmonic_free_energy, modes_from_hessian
from ._tasks import lambda_task, run_tasks, task_seeds
from .quadrature import gauss_legendre, integrate
from .results import LambdaPoint, LambdaTIResult, calphy_shift
from .statistics import mean_and_error
from .system import TISystem


def run_lambda_ti(
    system: TISystem,
    T: float,
    *,
    n_points: int = 5,
    n_equil: int = 1000,
    n_prod: int = 5000,
    seed: int = 0,
    convention: str = "ddos",
    executor: Executor | None = None,
    progress: bool = False,
    error_method: str = "max",
    hessian: np.ndarray | None = None,
    journal=None,
) -> LambdaTIResult:
    """Absolute free energy per atom by harmonic → model λ-TI.

    Args:
        system: a :class:`~thermograd.ti.system.TISystem` (e.g.
            :class:`~thermograd.ti.lammps_md.LammpsSystem`), picklable.
        T: temperature, K (> 0).
        n_points: Gauss–Legendre λ points.
        n_equil: equilibration steps per point.
        n_prod: production steps per point (every step is recorded).
        seed: master seed; point i uses the i-th spawned seed (results do not depend on the executor).
        convention: harmonic convention of the reported F_h and F (``"ddos"`` or ``"cell"``).
        executor: runs the λ points (default: serial in this process).
        progress: show a tqdm bar.
        error_method: ``"max"``, ``"autocorr"`` or ``"blocks"`` (see :mod:`thermograd.ti.statistics`).
        hessian: the reference Hessian, shape (3N, 3N), eV/Å² (default: ``system.hessian()``).
        journal: a :class:`~thermograd.ti.journal.TaskJournal`: λ points already in it are not run again,
            finished ones are recorded at once.

    Raises:
        InputError: T ≤ 0 or bad settings.
        UnstableStructureError: the reference Hessian has negative modes, or an atom left its site.
    """
    if not (isinstance(T, (int, float)) and T > 0):
        raise InputError(f"temperature must be > 0 K, got {T!r}")
    if n_prod < 16 or n_equil < 0:
        raise InputError(f"need n_prod >= 16 and n_equil >= 0, got {n_prod}, {n_equil}")
    n = system.n_atoms
    h = np.asarray(system.hessian() if hessian is None else hessian, dtype=float)
    modes = modes_from_hessian(h, system.mass)
    e0_cell = float(system.energy())
    lams, weights = gauss_legendre(n_points)
    seeds = task_seeds(seed, n_points)
    args = [
        (system, float(lam), float(T), h, e0_cell, int(n_equil), int(n_prod), s)
        for lam, s in zip(lams, seeds)
    ]
    results = run_tasks(lambda_task, args, executor, progress, f"λ-TI {T:g} K", journal)
    points = []
    for lam, w, s, (du, _maxd) in zip(lams, weights, seeds, results):
        st = mean_and_error(du / n, method=error_method)
        points.append(LambdaPoint(float(lam), float(w), st.mean, st.error, st.inefficiency, st.n_samples, s))
    f_anh, f_anh_err = integrate([p.mean for p in points], [p.error for p in points], weights)
    f_h = float(harmonic_free_energy(modes, T, convention))
    f_h_cell = float(harmonic_free_energy(modes, T, "cell"))
    e0 = e0_cell / n
    volume = float(getattr(system, "volume", float("nan")))
    f_cell = e0 + f_h_cell + f_anh
    shift = calphy_shift(T, n, volume, system.mass) if np.isfinite(volume) else float("nan")
    settings = {
        "n_points": n_points,
        "n_equil": n_equil,
        "n_prod": n_prod,
        "seed": seed,
        "error_method": error_method,
        "timestep_ps": getattr(system, "timestep", None),
        "damping_ps": getattr(system, "damping", None),
    }
    return LambdaTIResult(
        T=float(T),
        n_atoms=n,
        volume=volume / n,
        convention=convention,
        E0=e0,
        F_h=f_h,
        F_h_cell=f_h_cell,
        F_anh=f_anh,
        F_anh_error=f_anh_err,
        F=e0 + f_h + f_anh,
        F_error=f_anh_err,
        F_cell=f_cell,
        F_calphy=f_cell + shift,
        points=points,
        md_steps=n_points * (n_equil + n_prod),
        settings=settings,
    )
