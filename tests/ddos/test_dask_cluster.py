"""Scale-out proof: a D-DOS campaign on a Dask cluster of separate OS processes survives a killed worker.

The cluster is what a user starts on real hosts: one ``dask scheduler`` and three ``dask worker`` processes
(the venv's ``dask`` command, ``--no-nanny`` so that each worker is one OS process, one thread each), bound
to 127.0.0.1 on ports chosen by the OS, without a dashboard. The driver (this test process) only knows the
scheduler's address, as with ``thermograd sample run.yaml --scheduler tcp://host:8786``.

One chunk task holds its worker until the test has SIGKILLed that worker, so the kill always lands in the
middle of a running task and after other chunks have finished. Dask reschedules the lost task (and any
result that lived only in the dead worker's memory) on the surviving workers; should it instead give up
(``KilledWorker``), the campaign must stop with the one-line "rerun the same command" error and a rerun
must complete it. Either way the campaign file must be bit-identical to a serial run of the same config.

The chunk tasks are the engine-free toy (ToyReferenceBuilder + ToyDescriptorSpec), so the test takes a few
seconds; everything it needs is in the venv (``pip install -e '.[test]'`` brings dask[distributed]).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest

from thermograd.ddos.sampling.campaign import run_campaign
from thermograd.ddos.sampling.campaign_config import CampaignConfig
from thermograd.ddos.sampling.tasks import run_chunk
from thermograd.errors import EngineError
from thermograd.testing.toy import ToyReferenceBuilder

TOY = {
    "seed": 11,
    "phases": [{"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}],
    "strains": [0.0, 0.01],
    "potential": {"snap": "Mo_Zuo_JPCA2020"},  # unused by the toy builder
    "shells": [300.0, 900.0, 1500.0],
    "samples_per_shell": 12,
    "chunk_size": 5,
}
N_CHUNKS = 2 * 3 * 3  # strains × shells × chunks (5, 5, 2)
N_WORKERS = 3
HOLD = (1, 1, 0)  # (strain, shell, chunk) of the task whose worker is killed: 13th of 18 in plan order
WAIT_S = 60.0  # bound on every wait for the cluster (start-up, the held task, shutdown)

# Where the workers import this module from: the directory that makes ``__name__`` importable.
_IMPORT_ROOT = Path(__file__).resolve().parents[__name__.count(".")]


def _key(task) -> str:
    return f"{task.strain_index}-{task.shell_index}-{task.chunk_index}"


def marked_chunk(marks: str, context, task):
    """The campaign's chunk task, leaving ``start-KEY-PID`` / ``done-KEY-PID`` marker files in ``marks``.

    The HOLD task waits (bounded) for a ``released`` file before it computes, so that its worker is busy
    with it when the test kills the worker; the rescheduled copy on another worker finds the file and runs.
    """
    marks_dir, pid = Path(marks), os.getpid()
    (marks_dir / f"start-{_key(task)}-{pid}").touch()
    if (task.strain_index, task.shell_index, task.chunk_index) == HOLD:
        deadline = time.monotonic() + WAIT_S
        while not (marks_dir / "released").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    result = run_chunk(context, task)
    (marks_dir / f"done-{_key(task)}-{pid}").touch()
    return result


def content(path: Path) -> dict:
    """Every dataset and attribute below the root (not the creation time), for bitwise comparison."""
    out: dict = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            for k, v in obj.attrs.items():
                out[f"{name}@{k}"] = np.asarray(v).tobytes() if not isinstance(v, str) else v
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()].tobytes() if obj.dtype.kind != "O" else obj[()]

        f.visititems(visit)
    return out


def run_toy(path: Path, **kwargs):
    config = CampaignConfig.model_validate({**TOY, "output": str(path)})
    return run_campaign(
        config, "toy: run file text\n", progress=False, builder=ToyReferenceBuilder(config), **kwargs
    )


# -- the cluster ------------------------------------------------------------------------------------------------
@dataclass
class Cluster:
    """A scheduler and workers started as separate OS processes (see :func:`dask_cluster`)."""

    address: str
    scheduler: subprocess.Popen
    workers: dict[int, subprocess.Popen] = field(default_factory=dict)  # pid → process
    logs: list[Path] = field(default_factory=list)

    def log_tail(self, n: int = 15) -> str:
        return "\n".join(
            f"== {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-n:])
            for p in self.logs
            if p.exists()
        )


def _dask_cli() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM, bounded wait, then SIGKILL (only the process this test started)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@pytest.fixture
def dask_cluster(tmp_path: Path, request):
    """``dask scheduler`` + N_WORKERS × ``dask worker`` on 127.0.0.1, always torn down.

    ``request.param`` (indirect parametrisation): the scheduler's ``allowed-failures`` (default 3), the
    number of times a task may lose its worker before Dask gives up on it with ``KilledWorker``.
    """
    from distributed import Client

    allowed_failures = getattr(request, "param", 3)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures),
        "PYTHONPATH": os.pathsep.join(p for p in (str(_IMPORT_ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    sched_file = tmp_path / "scheduler.json"
    local = ["--dashboard-address", "127.0.0.1:0"]  # the HTTP (metrics) server also stays on localhost
    procs: list[subprocess.Popen] = []
    handles = []

    def start(args: list[str], log: Path) -> subprocess.Popen:
        handle = log.open("w")
        handles.append(handle)
        proc = subprocess.Popen(
            _dask_cli() + args, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        procs.append(proc)
        return proc

    try:
        scheduler = start(
            [
                *("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", *local),
                *("--scheduler-file", str(sched_file), "--idle-timeout", "300s"),
            ],
            tmp_path / "scheduler.log",
        )
        cluster = Cluster(address="", scheduler=scheduler, logs=[tmp_path / "scheduler.log"])
        deadline = time.monotonic() + WAIT_S
        while not (sched_file.exists() and sched_file.stat().st_size > 0):
            assert scheduler.poll() is None, f"dask scheduler exited early\n{cluster.log_tail()}"
            assert time.monotonic() < deadline, f"dask scheduler did not start\n{cluster.log_tail()}"
            time.sleep(0.1)
        time.sleep(0.1)  # the file is written in one go; let the writer close it
        cluster.address = json.loads(sched_file.read_text())["address"]
        assert cluster.address.startswith("tcp://127.0.0.1:")
        workers = []
        for i in range(N_WORKERS):
            log = tmp_path / f"worker{i}.log"
            cluster.logs.append(log)
            workers.append(
                start(
                    [
                        *("worker", cluster.address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny"),
                        *("--no-dashboard", *local, "--memory-limit", "0", "--name", f"w{i}"),
                        *("--local-directory", str(tmp_path / "dask-worker-space"), "--death-timeout", "60"),
                    ],
                    log,
                )
            )
        with Client(cluster.address, timeout="30s") as client:
            try:
                client.wait_for_workers(N_WORKERS, timeout=WAIT_S)
            except TimeoutError:
                pytest.fail(f"{N_WORKERS} dask workers did not register\n{cluster.log_tail()}")
            pids = set(client.run(os.getpid).values())
        by_pid = {w.pid: w for w in workers}
        assert pids == set(by_pid), "the workers are not the processes this test started"
        cluster.workers = by_pid
        yield cluster
    finally:
        for proc in reversed(procs):  # workers first, then the scheduler
            _stop(proc)
        for handle in handles:
            handle.close()


# -- the test ---------------------------------------------------------------------------------------------------
def _marks(marks: Path, prefix: str) -> list[tuple[str, int]]:
    """(chunk key, pid) of the marker files with this prefix."""
    out = []
    for p in marks.glob(f"{prefix}-*"):
        key, _, pid = p.name[len(prefix) + 1 :].rpartition("-")
        out.append((key, int(pid)))
    return out


class WorkerKiller(threading.Thread):
    """Waits until the HOLD task runs on a worker, SIGKILLs that worker, then releases the task."""

    def __init__(self, cluster: Cluster, marks: Path) -> None:
        super().__init__(daemon=True)
        self.cluster, self.marks = cluster, marks
        self.victim: int | None = None
        self.done_before_kill = -1
        self.error: str | None = None

    def run(self) -> None:
        hold = "-".join(map(str, HOLD))
        deadline = time.monotonic() + WAIT_S
        try:
            while self.victim is None and time.monotonic() < deadline:
                started = [pid for key, pid in _marks(self.marks, "start") if key == hold]
                if started:
                    self.victim = started[0]
                else:
                    time.sleep(0.02)
            if self.victim is None:
                self.error = "the held chunk never started"
                return
            proc = self.cluster.workers.get(self.victim)
            if proc is None:
                self.error = f"the held chunk ran in pid {self.victim}, not in a cluster worker"
                return
            self.done_before_kill = len(_marks(self.marks, "done"))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=WAIT_S)
        except Exception as exc:  # reported by the test
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            (self.marks / "released").touch()


@pytest.mark.parametrize(
    ("dask_cluster", "gives_up"),
    [(3, False), (0, True)],
    ids=["rescheduled", "killed-worker"],
    indirect=["dask_cluster"],
)
def test_campaign_on_dask_cluster_survives_a_killed_worker(
    dask_cluster: Cluster, gives_up: bool, tmp_path: Path
) -> None:
    """With Dask's default ``allowed-failures`` (3) the lost task is rescheduled and the campaign finishes in
    one call; with 0, Dask gives up (``KilledWorker``), the driver stops with the one-line resume error and
    a rerun completes the file. Both give the serial file bit for bit."""
    serial = tmp_path / "serial.h5"
    assert run_toy(serial).n_chunks_run == N_CHUNKS

    marks = tmp_path / "marks"
    marks.mkdir()
    path = tmp_path / "cluster.h5"
    task_fn = functools.partial(marked_chunk, str(marks))
    killer = WorkerKiller(dask_cluster, marks)
    killer.start()
    try:
        summary = run_toy(path, scheduler=dask_cluster.address, task_fn=task_fn)
        n_run, rerun = summary.n_chunks_run, False
    except EngineError as exc:  # Dask gave up on the task: the documented resume path
        assert "rerun the same command" in str(exc) and "\n" not in str(exc)
        rerun = True
        n_run = run_toy(path, scheduler=dask_cluster.address, task_fn=task_fn).n_chunks_run
    finally:
        killer.join(timeout=WAIT_S)
    assert killer.error is None, f"{killer.error}\n{dask_cluster.log_tail()}"

    # the kill happened mid-task, after other chunks had finished, and the worker stayed dead
    victim = dask_cluster.workers[killer.victim]
    assert victim.returncode == -signal.SIGKILL
    assert killer.done_before_kill >= 1
    # every chunk was computed by the cluster's worker processes, by more than one of them, and the held
    # chunk was finished by a survivor
    done = _marks(marks, "done")
    assert {pid for _, pid in done} <= set(dask_cluster.workers)
    assert len({pid for _, pid in done}) >= 2
    hold = "-".join(map(str, HOLD))
    assert [pid for key, pid in done if key == hold] != [] and killer.victim not in {
        pid for key, pid in done if key == hold
    }
    assert rerun == gives_up
    if rerun:  # the first call kept its finished chunks; the rerun computed only the rest
        assert 0 < n_run < N_CHUNKS
    else:
        assert n_run == N_CHUNKS

    # the result is the serial result, bit for bit
    a, b = content(serial), content(path)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


MO_RUN = """\
output: campaign.h5
seed: 3
phases:
  - name: bcc
    structure: {builder: bcc, element: Mo, a: 3.16, size: [2, 2, 2]}
potential: {snap: Mo_Zuo_JPCA2020}
shells: [500.0, 2000.0]
samples_per_shell: 8
chunk_size: 3
"""


@pytest.mark.lammps
def test_cli_sample_with_scheduler_address(dask_cluster: Cluster, tmp_path: Path) -> None:
    """``thermograd sample run.yaml --scheduler tcp://…`` (LAMMPS SNAP descriptors evaluated on the cluster's
    workers) writes the same file, bit for bit, as the serial command."""
    files = []
    for name, extra in (("serial", []), ("cluster", ["--scheduler", dask_cluster.address])):
        (tmp_path / name).mkdir()
        run = tmp_path / name / "run.yaml"  # the same text in both: the file stores it
        run.write_text(MO_RUN)
        proc = subprocess.run(
            [sys.executable, "-m", "thermograd.cli", "sample", str(run), "--no-progress", *extra],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        assert proc.returncode == 0, proc.stderr
        assert "6 chunk(s) (6 sampled now, 0 already stored)" in proc.stdout
        files.append(tmp_path / name / "campaign.h5")
    assert _computed(dask_cluster, "run_chunk") == 6  # the chunks ran on the cluster
    a, b = content(files[0]), content(files[1])
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def _computed(cluster: Cluster, prefix: str) -> int:
    """How many tasks of this name the scheduler has seen finish (its cumulative per-name counters)."""
    from distributed import Client

    def count(dask_scheduler, prefix=prefix):
        tp = dask_scheduler.task_prefixes.get(prefix)
        return 0 if tp is None else int(tp.state_counts["memory"])

    with Client(cluster.address, timeout="30s") as client:
        return client.run_on_scheduler(count)
