"""Equilibrium λ-TI from the model's own harmonic crystal to the model.

U_λ = U_h + λ(U − E_0 − U_h), U_h = ½δxᵀHδx with H the model's Hessian at the reference structure, so
F = E_0 + F_h + F_anh with F_anh = ∫₀¹⟨U − E_0 − U_h⟩_λ dλ (Gauss–Legendre in λ, one independent NVT
Langevin run per point). The centre of mass is pinned in every run: U and U_h are both translation
invariant, so its motion contributes nothing to ∂U/∂λ, and pinning it samples exactly the 3N − 3 internal
degrees of freedom whose harmonic free energy is F_h (see :mod:`thermograd.ti.results` for conventions).

Quadrature: every result carries an estimate of the Gauss–Legendre rule's own error, made from the same λ
points (:func:`~thermograd.ti.quadrature.gauss_legendre_error`, no extra MD), next to the statistical error.
With ``adaptive=True`` the rule grows n → n + 2 (a new Gauss–Legendre rule) until that estimate is at most
the statistical error or ``max_points`` is reached. Gauss–Legendre rules are not nested: of the n + 2 new
nodes only λ = ½ (odd n) coincides with an old one and is taken over (its task, seed and samples); every
other node is new MD, with seeds from a stream of its own per rule (rules after the first never reuse a
seed of another point), so each rule's points stay independent.
"""

from __future__ import annotations

from concurrent.futures import Executor

import numpy as np

from ..errors import InputError
from ..harmonic import harmonic_free_energy, modes_from_hessian
from ._tasks import lambda_task, run_tasks, task_seeds
from .quadrature import gauss_legendre, gauss_legendre_error, integrate
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
    adaptive: bool = False,
    max_points: int = 11,
) -> LambdaTIResult:
    """Absolute free energy per atom by harmonic → model λ-TI.

    Args:
        system: a :class:`~thermograd.ti.system.TISystem` (e.g.
            :class:`~thermograd.ti.lammps_md.LammpsSystem`), picklable.
        T: temperature, K (> 0).
        n_points: Gauss–Legendre λ points (with ``adaptive``: of the first rule, ≥ 3).
        n_equil: equilibration steps per point.
        n_prod: production steps per point (every step is recorded).
        seed: master seed; point i of the first rule uses the i-th spawned seed (results do not depend on
            the executor).
        convention: harmonic convention of the reported F_h and F (``"ddos"`` or ``"cell"``).
        executor: runs the λ points (default: serial in this process).
        progress: show a tqdm bar.
        error_method: ``"max"``, ``"autocorr"`` or ``"blocks"`` (see :mod:`thermograd.ti.statistics`).
        hessian: the reference Hessian, shape (3N, 3N), eV/Å² (default: ``system.hessian()``).
        journal: a :class:`~thermograd.ti.journal.TaskJournal`: λ points already in it are not run again,
            finished ones are recorded at once.
        adaptive: add points (n → n + 2, a new rule) until the quadrature-error estimate is at most the
            statistical error; the result says whether it got there (``quadrature_converged``) and why not
            (``quadrature_flag``). False: one rule of ``n_points`` (as before this option existed).
        max_points: the largest rule ``adaptive`` may use (≥ ``n_points``).

    Raises:
        InputError: T ≤ 0 or bad settings.
        UnstableStructureError: the reference Hessian has negative modes, or an atom left its site.
    """
    if not (isinstance(T, (int, float)) and T > 0):
        raise InputError(f"temperature must be > 0 K, got {T!r}")
    if n_prod < 16 or n_equil < 0:
        raise InputError(f"need n_prod >= 16 and n_equil >= 0, got {n_prod}, {n_equil}")
    if adaptive and not (isinstance(n_points, (int, np.integer)) and 3 <= n_points <= max_points):
        raise InputError(
            f"adaptive λ quadrature needs 3 <= n_points <= max_points, got n_points = {n_points!r}, "
            f"max_points = {max_points!r} (fewer than 3 points give no quadrature-error estimate)"
        )
    gauss_legendre(n_points)  # checks n_points
    n = system.n_atoms
    h = np.asarray(system.hessian() if hessian is None else hessian, dtype=float)
    modes = modes_from_hessian(h, system.mass)
    e0_cell = float(system.energy())
    done: dict[float, tuple[int, tuple]] = {}  # λ → (seed, task result) of every point run so far
    history: list[dict] = []
    m = int(n_points)
    while True:
        points, n_run, n_reused = _rule(
            system, T, h, e0_cell, m, n_equil, n_prod, seed, len(history), done, error_method,
            executor, progress, journal,
        )  # fmt: skip
        weights = np.array([p.weight for p in points])
        means, errors = np.array([p.mean for p in points]), np.array([p.error for p in points])
        f_anh, f_anh_err = integrate(means, errors, weights)
        f_quad = gauss_legendre_error(means, errors)
        history.append(
            {
                "n_points": m,
                "F_anh": f_anh,
                "F_anh_error": f_anh_err,
                "F_quadrature_error": f_quad,
                "points_run": n_run,
                "points_reused": n_reused,
            }
        )
        if not adaptive or f_quad <= f_anh_err or m + 2 > max_points:
            break
        m += 2
    converged, flag = _verdict(f_quad, f_anh_err, m, adaptive, max_points)
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
        "adaptive": bool(adaptive),
        "max_points": int(max_points) if adaptive else None,
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
        md_steps=len(done) * (n_equil + n_prod),
        settings=settings,
        F_quadrature_error=f_quad,
        n_points=m,
        quadrature_converged=converged,
        quadrature_flag=flag,
        quadrature_history=history,
    )


def _rule(
    system, T, h, e0_cell, m, n_equil, n_prod, seed, round_, done, error_method, executor, progress, journal
) -> tuple[list[LambdaPoint], int, int]:
    """The m-point rule's λ points: nodes already in ``done`` are taken over, the others run (and added).

    The first rule uses ``task_seeds(seed, m)`` (the seeds of every run without ``adaptive``); later rules
    draw from the stream ``m`` of the same seed.
    """
    lams, weights = gauss_legendre(m)
    seeds = task_seeds(seed, m) if round_ == 0 else task_seeds(seed, m, stream=m)
    old = np.array(sorted(done))
    todo, keys = [], []
    for i, lam in enumerate(lams):
        match = old[np.abs(old - lam) < 1e-12] if old.size else old
        if match.size:
            lams[i] = match[0]  # exactly the old node: the same task (and journal key)
        else:
            todo.append(i)
        keys.append(float(lams[i]))
    args = [(system, float(lams[i]), float(T), h, e0_cell, int(n_equil), int(n_prod), seeds[i]) for i in todo]
    results = run_tasks(
        lambda_task, args, executor, progress, f"λ-TI {T:g} K" + (f" ({m} points)" if round_ else ""), journal
    )
    for i, res in zip(todo, results):
        done[float(lams[i])] = (seeds[i], res)
    n = system.n_atoms
    points = []
    for lam, w in zip(keys, weights):
        s, (du, _maxd) = done[lam]
        st = mean_and_error(du / n, method=error_method)
        points.append(LambdaPoint(float(lam), float(w), st.mean, st.error, st.inefficiency, st.n_samples, s))
    return points, len(todo), m - len(todo)


def _verdict(
    f_quad: float, f_err: float, m: int, adaptive: bool, max_points: int
) -> tuple[bool | None, str | None]:
    """(converged, reason when not) of the final rule's quadrature-error estimate."""
    if not np.isfinite(f_quad):
        return None, f"no quadrature-error estimate with {m} λ points (needs >= 3)"
    if f_quad <= f_err:
        return True, None
    where = f"at max_points = {max_points}" if adaptive else "adaptive quadrature off"
    return False, (
        f"quadrature-error estimate {1e3 * f_quad:.3g} meV/atom exceeds the statistical error "
        f"{1e3 * f_err:.3g} meV/atom with {m} λ points ({where})"
    )
