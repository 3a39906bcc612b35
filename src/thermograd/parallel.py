"""Executor factory: every parallel entry point takes a ``concurrent.futures.Executor``.

``serial`` runs tasks in the calling process (a real Executor, so code paths are identical);
``processes`` is a spawn-based process pool; ``dask`` is a ``distributed.Client`` (a LocalCluster with
``workers`` processes, or an existing scheduler given by address). Tasks must be picklable and seeded,
so results never depend on the executor or the worker count.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor

from .errors import ConfigError, EngineError

EXECUTORS = ("serial", "processes", "dask")


class SerialExecutor(Executor):
    """Runs each task immediately in the caller (deterministic, debuggable)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # delivered through the future
            if isinstance(exc, KeyboardInterrupt):
                raise
            fut.set_exception(exc)
        return fut


@contextlib.contextmanager
def make_executor(
    kind: str = "serial", workers: int | None = None, scheduler: str | None = None
) -> Iterator[Executor]:
    """Context manager yielding an Executor of the given kind; shuts it down on exit.

    Args:
        kind: ``serial``, ``processes`` or ``dask``.
        workers: number of worker processes for ``processes`` or a local Dask cluster.
        scheduler: address of an existing Dask scheduler (``tcp://host:8786``); implies ``dask``.
    """
    if scheduler:
        kind = "dask"
    if kind not in EXECUTORS:
        raise ConfigError(f"unknown executor {kind!r}; use one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    if kind == "serial":
        yield SerialExecutor()
        return
    if kind == "processes":
        ctx = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(max_workers=workers or 2, mp_context=ctx)
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise EngineError(
            "the dask executor needs 'dask[distributed]' (pip install 'thermograd[dask]')"
        ) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise EngineError(f"cannot reach Dask scheduler at {scheduler}: {exc}") from None
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    )
    client = Client(cluster)
    try:
        yield client.get_executor()
    finally:
        client.close()
        cluster.close()
