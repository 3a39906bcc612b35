"""Picklable, seeded task functions and the executor plumbing shared by the TI drivers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from ..errors import EngineError
from ..parallel import SerialExecutor
from .system import NPTSystem, TISystem


def task_seeds(seed: int, n: int, stream: int | None = None) -> list[int]:
    """n independent seeds in [1, 9e8) derived from one master seed (SeedSequence spawning); the first k
    of them do not depend on n. ``stream`` (≥ 0) names another independent family from the same seed."""
    entropy = int(seed) if stream is None else [int(seed), int(stream)]
    children = np.random.SeedSequence(entropy).spawn(n)
    # LAMMPS (Marsaglia) seeds must lie in [1, 900000000); keep room for seed + 7
    return [1 + int(c.generate_state(1)[0]) % 899_999_000 for c in children]


def run_tasks(
    fn: Callable,
    args_list: Sequence[tuple],
    executor: Executor | None,
    progress: bool,
    desc: str,
    journal=None,
) -> list:
    """Run ``fn(*args)`` for each args tuple; return the results in input order.

    With a :class:`~thermograd.ti.journal.TaskJournal`, tasks already in it are not run again and every
    task that finishes is recorded as soon as it arrives (with the serial executor: right after it ran, so an
    interrupt or a kill loses at most the task in progress). A failed task stops the tasks not yet started,
    lets the running ones finish (and records them), then raises its exception: no partial list is ever
    returned, but no finished task is lost either.
    """
    executor = executor or SerialExecutor()
    n = len(args_list)
    out: list = [None] * n
    keys: list[str | None] = [None] * n
    todo = []
    for i, args in enumerate(args_list):
        if journal is not None:
            keys[i] = journal.key(fn, args)
            found, value = journal.lookup(keys[i])
            if found:
                out[i] = value
                continue
        todo.append(i)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n, initial=n - len(todo), desc=desc, unit="task")
    futures: dict = {}
    handled: set = set()
    failure: BaseException | None = None

    def handle(fut) -> None:
        nonlocal failure
        handled.add(fut)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            failure = failure or (_broken(exc) if isinstance(exc, BrokenProcessPool) else exc)
            return
        i = futures[fut]
        out[i] = fut.result()
        if journal is not None:  # on disk before anything else happens
            journal.record(keys[i], fn, out[i], desc)
        if bar is not None:
            bar.update(1)

    try:
        for i in todo:
            if failure is not None:  # a task already failed (serial runs): start no more
                break
            try:
                fut = executor.submit(fn, *args_list[i])
            except BrokenProcessPool as exc:
                failure = _broken(exc)
                break
            futures[fut] = i
            if fut.done():  # the serial executor runs the task inside submit: keep it at once
                handle(fut)
        pending = set(futures) - handled
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=futures.__getitem__):
                handle(fut)
            if failure is not None:  # stop what has not started; let the running tasks finish
                pending = {f for f in pending if not f.cancel()}
    except BaseException:
        for f in futures:
            f.cancel()
        raise
    finally:
        if bar is not None:
            bar.close()
    if failure is not None:
        raise failure
    return out


def _broken(exc: BaseException) -> EngineError:
    return EngineError(f"a worker process died ({exc}); finished tasks are kept, rerun to resume")


def lambda_task(system: TISystem, lam, T, hessian, energy_offset, n_equil, n_prod, seed):
    tr = system.lambda_samples(lam, T, hessian, energy_offset, n_equil, n_prod, seed)
    return np.asarray(tr.dU_dlam, dtype=float), float(tr.max_displacement)


def msd_task(system: TISystem, T, n_equil, n_steps, seed):
    return float(system.msd(T, n_equil, n_steps, seed))


def npt_volume_task(system: NPTSystem, T, pressure, n_steps, seed):
    return float(system.npt_volume(T, pressure, n_steps, seed))


def fl_task(system: TISystem, T, spring, n_equil, n_switch, seed):
    fwd, bwd = system.fl_switch(T, spring, n_equil, n_switch, seed)
    return (np.asarray(fwd.lam), np.asarray(fwd.dU_dlam), np.asarray(bwd.lam), np.asarray(bwd.dU_dlam))


def rs_task(system: TISystem, T, lam_final, n_equil, n_switch, seed):
    fwd, bwd = system.rs_switch(T, lam_final, n_equil, n_switch, seed)
    return (np.asarray(fwd.lam), np.asarray(fwd.dU_dlam), np.asarray(bwd.lam), np.asarray(bwd.dU_dlam))
