"""Executor factory: every parallel entry point takes a ``concurrent.futures.Executor``.

``serial`` runs tasks in the calling process (a real Executor, so code paths are identical);
``processes`` is a spawn-based process pool; ``dask`` is a ``distributed.Client`` (a LocalCluster with
``workers`` processes, or an existing scheduler given by address). Tasks must be picklable and seeded,
so results never depend on the executor or the worker count.

Workers of the ``processes`` pool never outlive their driver: each worker runs a watchdog thread that
exits the worker as soon as the driver process is gone (end of file on the pipe that multiprocessing keeps
open from the driver, checked together with the parent pid), so a driver killed with ``kill -9`` leaves
no orphaned workers behind. On Linux the worker also asks the kernel for ``SIGKILL`` on the death of the
thread that started it (``PR_SET_PDEATHSIG``) when that thread is the driver's main thread, which stops a
worker even while it is inside a long call that holds the GIL.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from multiprocessing.context import SpawnContext, SpawnProcess

from .errors import ConfigError, EngineError

EXECUTORS = ("serial", "processes", "dask")

#: ``prctl`` option that asks for a signal when the parent thread dies (linux/prctl.h)
_PR_SET_PDEATHSIG = 1


class _DriverBoundProcess(SpawnProcess):
    """A spawned worker that records whether it was started from the driver's main thread (the kernel's
    parent-death signal is tied to the starting *thread*, so it is only safe from the main thread)."""

    def start(self) -> None:
        self._tg_from_main_thread = threading.current_thread() is threading.main_thread()
        super().start()


class _DriverBoundContext(SpawnContext):
    """The ``spawn`` start method with :class:`_DriverBoundProcess` workers."""

    Process = _DriverBoundProcess


def _set_parent_death_signal() -> bool:
    """Linux: SIGKILL this process when its parent thread dies. Returns whether the kernel accepted it."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_driver(driver_pid: int, sentinel: int | None, poll_s: float) -> None:
    """Return once the driver process is gone (its pipe end closed, or this process re-parented)."""
    from multiprocessing.connection import wait

    while True:
        if sentinel is not None:
            if wait([sentinel], timeout=poll_s):
                return  # readable only at end of file: every copy of the driver's end was closed
        else:
            threading.Event().wait(poll_s)
        if os.getppid() != driver_pid:
            return


def _exit_with_driver(driver_pid: int, poll_s: float) -> None:
    _watch_driver(driver_pid, _parent_sentinel(), poll_s)
    os._exit(1)  # no cleanup: the driver that would collect results is gone


def _parent_sentinel() -> int | None:
    parent = multiprocessing.parent_process()
    try:
        return None if parent is None else parent.sentinel
    except (AttributeError, ValueError):
        return None


def bind_worker_to_driver(driver_pid: int, poll_s: float = 0.5) -> None:
    """Process-pool initializer: make this worker exit when the driver process ``driver_pid`` dies.

    Args:
        driver_pid: pid of the process that created the pool.
        poll_s: how often the watchdog also compares the parent pid, s.
    """
    if getattr(multiprocessing.current_process(), "_tg_from_main_thread", False):
        _set_parent_death_signal()
    if os.getppid() != driver_pid:  # the driver died before the watchdog could start
        os._exit(1)
    threading.Thread(
        target=_exit_with_driver, args=(driver_pid, poll_s), name="thermograd-driver-watch", daemon=True
    ).start()


def process_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A spawn-based :class:`ProcessPoolExecutor` whose workers exit when this process dies."""
    return ProcessPoolExecutor(
        max_workers=workers or 2,
        mp_context=_DriverBoundContext(),
        initializer=bind_worker_to_driver,
        initargs=(os.getpid(),),
    )


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
        pool = process_pool(workers)
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
