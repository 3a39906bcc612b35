"""Picklable, seeded task functions and the executor plumbing shared by the TI drivers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, as_completed

import numpy as np

from ..parallel import SerialExecutor


def task_seeds(seed: int, n: int) -> list[int]:
    """n independent seeds in [1, 9e8) derived from one master seed (SeedSequence spawning)."""
    children = np.random.SeedSequence(int(seed)).spawn(n)
    # LAMMPS (Marsaglia) seeds must lie in [1, 900000000); keep room for seed + 7
    return [1 + int(c.generate_state(1)[0]) % 899_999_000 for c in children]


def run_tasks(
    fn: Callable, args_list: Sequence[tuple], executor: Executor | None, progress: bool, desc: str
) -> list:
    """Submit ``fn(*args)`` for each args tuple; return results in input order (errors re-raised).

    A failed task cancels the rest and raises its exception: no partial result is ever returned.
    """
    executor = executor or SerialExecutor()
    futures = [executor.submit(fn, *args) for args in args_list]
    index = {id(f): i for i, f in enumerate(futures)}
    out: list = [None] * len(futures)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(futures), desc=desc, unit="task")
    try:
        for fut in as_completed(futures):
            out[index[id(fut)]] = fut.result()
            if bar is not None:
                bar.update(1)
    except BaseException:
        for f in futures:
            f.cancel()
        raise
    finally:
        if bar is not None:
            bar.close()
    return out


def lambda_task(system, lam, T, hessian, energy_offset, n_equil, n_prod, seed):
    tr = system.lambda_samples(lam, T, hessian, energy_offset, n_equil, n_prod, seed)
    return np.asarray(tr.dU_dlam, dtype=float), float(tr.max_displacement)


def msd_task(system, T, n_equil, n_steps, seed):
    return float(system.msd(T, n_equil, n_steps, seed))


def fl_task(system, T, spring, n_equil, n_switch, seed):
    fwd, bwd = system.fl_switch(T, spring, n_equil, n_switch, seed)
    return (np.asarray(fwd.lam), np.asarray(fwd.dU_dlam), np.asarray(bwd.lam), np.asarray(bwd.dU_dlam))


def rs_task(system, T, lam_final, n_equil, n_switch, seed):
    fwd, bwd = system.rs_switch(T, lam_final, n_equil, n_switch, seed)
    return (np.asarray(fwd.lam), np.asarray(fwd.dU_dlam), np.asarray(bwd.lam), np.asarray(bwd.dU_dlam))
