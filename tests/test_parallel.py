"""Process-pool workers never outlive their driver: ``kill -9`` of the driver ends every worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from thermograd.parallel import SerialExecutor, make_executor

DRIVER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    from thermograd.parallel import make_executor


    def long_task(folder):
        Path(folder, f"{os.getpid()}.pid").write_text(str(os.getppid()))
        time.sleep(600)  # far longer than the test waits
        return os.getpid()


    if __name__ == "__main__":
        import threading

        folder, from_thread = sys.argv[1], sys.argv[2] == "thread"
        with make_executor("processes", 2) as ex:
            futures = []
            submit = lambda: futures.extend(ex.submit(long_task, folder) for _ in range(2))
            if from_thread:  # workers started by a thread that ends at once: only the watchdog binds them
                t = threading.Thread(target=submit)
                t.start()
                t.join()
            else:
                submit()
            for f in futures:
                f.result()
    """
)


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a dead child nobody has reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _wait_until(predicate, attempts: int, pause: float = 0.25) -> bool:
    for _ in range(attempts):
        if predicate():
            return True
        time.sleep(pause)
    return predicate()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("started_from", ["main", "thread"])
def test_killed_driver_takes_its_workers_with_it(tmp_path, started_from):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    pids = tmp_path / "pids"
    pids.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    driver = subprocess.Popen([sys.executable, str(script), str(pids), started_from], env=env)
    workers: list[int] = []
    try:
        # both workers started their task (spawn start-up is slow on a loaded machine: up to 2 minutes)
        assert _wait_until(lambda: len(list(pids.glob("*.pid"))) == 2 or driver.poll() is not None, 480)
        assert driver.poll() is None, "the driver exited before its workers started"
        workers = [int(p.stem) for p in pids.glob("*.pid")]
        assert all(int(p.read_text()) == driver.pid for p in pids.glob("*.pid"))
        assert all(_alive(pid) for pid in workers)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        # the workers were in a 600 s sleep: only the driver binding can end them within the 20 s polled
        assert _wait_until(lambda: not any(_alive(pid) for pid in workers), 80), [
            pid for pid in workers if _alive(pid)
        ]
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()
        for pid in workers:  # never leave a stray process behind if the assertion failed
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _pid_and_parent(_):
    return os.getpid(), os.getppid()


def _slow_pid(seconds):
    time.sleep(seconds)
    return os.getpid()


def test_pool_workers_are_children_of_the_driver_and_results_come_back():
    with make_executor("processes", 2) as ex:
        out = list(ex.map(_pid_and_parent, range(4)))
    assert {ppid for _, ppid in out} == {os.getpid()}
    assert all(pid != os.getpid() for pid, _ in out)


def test_workers_outlive_the_thread_that_started_them():
    """The parent-death signal follows the starting *thread*: workers started from a thread that has ended
    must keep working (the kernel signal is only requested from the main thread)."""
    import threading

    with make_executor("processes", 2) as ex:
        first: list[int] = []

        def start_workers():  # both workers are up (initializer done) before this thread ends
            futures = [ex.submit(_slow_pid, 0.5) for _ in range(2)]
            first.extend(f.result() for f in futures)

        t = threading.Thread(target=start_workers)
        t.start()
        t.join()
        time.sleep(0.5)  # give a (wrong) parent-death signal time to arrive
        later = [ex.submit(_slow_pid, 0.2).result() for _ in range(2)]
    assert len(first) == 2 and set(later) <= set(first)  # same, still living workers


def test_serial_executor_delivers_errors_through_the_future():
    fut = SerialExecutor().submit(int, "not a number")
    assert isinstance(fut.exception(), ValueError)
