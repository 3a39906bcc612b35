"""Benchmark: driver memory and wall time of a D-DOS campaign of 10^3 and 10^4 tiny chunks.

Shows that the campaign driver's memory is bounded: it keeps a fixed number of chunks in flight and streams
each finished chunk into the HDF5 file, so its peak RSS must not grow with the number of chunks beyond the
file's own bookkeeping (HDF5 metadata cache, the plan of chunk tasks).

What each run does (the same work at both sizes, per chunk): the engine-free toy descriptor
(ToyReferenceBuilder + ToyDescriptorSpec: 32-atom FCC Cu, 3 pair features), one reference,
``chunk_size: 1`` (one sample per chunk), ``--per-shell`` chunks per shell (default 100, so 10 shells for
10^3 chunks and 100 for 10^4), raw samples kept; chunks
run on the chosen executor (``processes``: a spawn pool of ``--workers`` processes; ``dask``: a LocalCluster
of ``--workers`` worker processes, whose scheduler runs inside the driver process and is counted in its
RSS; ``dask-cluster``: a ``dask scheduler`` and ``--workers`` ``dask worker`` processes started on
127.0.0.1 as on real hosts, the driver given only the scheduler's address, as with ``thermograd sample
run.yaml --scheduler ADDRESS``; the scheduler's own peak RSS is reported separately). Each size runs in a
fresh interpreter, so ``ru_maxrss`` (the driver's own high-water mark, workers not included) belongs to that
run alone.

    python benchmarks/campaign_scale.py [--chunks 1000 10000] [--executor processes|dask|dask-cluster]
                                        [--workers 2] [--per-shell 100] [--tracemalloc]

Prints, per size: wall time, driver RSS before the campaign (after imports), peak RSS (``ru_maxrss``), RSS
sampled at 10 %, 50 % and 90 % of the run, the campaign file's size and (``dask-cluster``) the scheduler's
peak RSS. ``--tracemalloc`` adds the Python allocations that grew most between the start and the end of the
campaign (file:line), to find a leak.

The number of chunks *per shell* matters on its own: HDF5 keeps the object headers of the chunk groups it
has touched in its metadata cache, so a shell of thousands of chunks costs the driver tens of MiB (compare
``--per-shell 100`` with ``--per-shell 1000``); see docs/scale-out.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PER_SHELL = 100  # default chunks per shell


def _rss_mib() -> float:
    """Current resident set size of this process (VmRSS), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler(threading.Thread):
    """Samples VmRSS every ``dt`` seconds until stopped."""

    def __init__(self, dt: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.dt, self.samples = dt, []
        self._stop_event = threading.Event()

    def run(self) -> None:
        t0 = time.perf_counter()
        while not self._stop_event.is_set():
            self.samples.append((time.perf_counter() - t0, _rss_mib()))
            self._stop_event.wait(self.dt)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def at(self, fraction: float) -> float:
        """RSS at this fraction of the sampled time span, MiB."""
        if not self.samples:
            return float("nan")
        t_end = self.samples[-1][0]
        return next(rss for t, rss in self.samples if t >= fraction * t_end)


def _hwm_mib(pid: int) -> float:
    """Peak resident set size (VmHWM) of another process, MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@contextlib.contextmanager
def external_cluster(workers: int, folder: Path):
    """``dask scheduler`` + ``workers`` × ``dask worker`` on 127.0.0.1 (separate processes); yields
    ``(address, scheduler_process)`` and stops them all on exit."""
    from distributed import Client

    exe = Path(sys.executable).with_name("dask")
    cli = [str(exe)] if exe.exists() else [sys.executable, "-m", "dask"]
    sched_file = folder / "scheduler.json"
    local = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    procs: list[subprocess.Popen] = []
    log = (folder / "cluster.log").open("w")
    try:
        procs.append(
            subprocess.Popen(
                [*cli, "scheduler", *local, "--port", "0", "--scheduler-file", str(sched_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        deadline = time.monotonic() + 60
        while not (sched_file.exists() and sched_file.stat().st_size > 0):
            if time.monotonic() > deadline or procs[0].poll() is not None:
                raise SystemExit(f"dask scheduler did not start (log: {folder / 'cluster.log'})")
            time.sleep(0.1)
        time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(workers):
            args = ["worker", address, *local, "--nthreads", "1", "--no-nanny", "--name", f"w{i}"]
            args += ["--memory-limit", "0", "--local-directory", str(folder / "dask-worker-space")]
            procs.append(subprocess.Popen([*cli, *args], stdout=log, stderr=subprocess.STDOUT))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=60)
        yield address, procs[0]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        log.close()


def one_run(n_chunks: int, per_shell: int, executor: str, workers: int, folder: Path, trace: bool) -> dict:
    """Run one campaign of ``n_chunks`` chunks (``per_shell`` per shell) in this process; measure the driver."""
    from thermograd.ddos.sampling.campaign_config import CampaignConfig

    if per_shell < 2 or n_chunks % per_shell:
        raise SystemExit(f"--chunks must be a multiple of --per-shell ({per_shell}), which must be >= 2")
    path = folder / f"scale-{n_chunks}.h5"
    config = CampaignConfig.model_validate(
        {
            "output": str(path),
            "seed": 7,
            "phases": [
                {"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}
            ],
            "potential": {"snap": "Mo_Zuo_JPCA2020"},  # unused by the toy builder
            "shells": {"start": 300.0, "stop": 3000.0, "num": n_chunks // per_shell},
            "samples_per_shell": per_shell,
            "chunk_size": 1,
        }
    )
    with contextlib.ExitStack() as stack:
        scheduler = None
        if executor == "dask-cluster":
            scheduler, sched_proc = stack.enter_context(external_cluster(workers, folder))
        out = _measure(config, path, "dask" if scheduler else executor, workers, scheduler, trace)
        out["executor"] = executor
        if scheduler:
            out["scheduler_peak_rss_mib"] = round(_hwm_mib(sched_proc.pid), 1)
    return out


def _measure(config, path: Path, executor: str, workers: int, scheduler: str | None, trace: bool) -> dict:
    """Driver RSS and wall time of one :func:`run_campaign` call (and its Python allocations with ``trace``)."""
    import tracemalloc

    from thermograd.ddos.sampling.campaign import run_campaign
    from thermograd.testing.toy import ToyReferenceBuilder

    rss_start = _rss_mib()
    if trace:
        tracemalloc.start(1)
        before = tracemalloc.take_snapshot()
    sampler = RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    summary = run_campaign(
        config,
        "scale benchmark\n",
        executor=executor,
        workers=None if scheduler else workers,
        scheduler=scheduler,
        progress=False,
        builder=ToyReferenceBuilder(config),
    )
    wall = time.perf_counter() - t0
    sampler.stop()
    out = {
        "chunks": summary.n_chunks,
        "chunks_run": summary.n_chunks_run,
        "executor": executor,
        "workers": workers,
        "wall_s": round(wall, 1),
        "ms_per_chunk": round(1e3 * wall / max(summary.n_chunks_run, 1), 2),
        "rss_start_mib": round(rss_start, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_10_50_90_mib": [round(sampler.at(f), 1) for f in (0.1, 0.5, 0.9)],
        "file_mib": round(path.stat().st_size / 2**20, 1),
    }
    if trace:
        after = tracemalloc.take_snapshot()
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["traced_now_mib"], out["traced_peak_mib"] = round(current / 2**20, 2), round(peak / 2**20, 2)
        out["top_growth"] = [
            f"{s.size_diff / 1024:+.0f} KiB {s.count_diff:+d} blocks  {s.traceback[0]}"
            for s in after.compare_to(before, "lineno")[:10]
        ]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, nargs="+", default=[1000, 10000], help="campaign sizes (chunks)")
    p.add_argument("--executor", choices=("processes", "dask", "dask-cluster"), default="processes")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--per-shell", type=int, default=PER_SHELL, help="chunks per shell (default 100)")
    p.add_argument("--tracemalloc", action="store_true", help="report the largest Python allocation growth")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: run one size in this process
    p.add_argument("--dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.one is not None:
        print(
            json.dumps(
                one_run(
                    args.one, args.per_shell, args.executor, args.workers, Path(args.dir), args.tracemalloc
                )
            )
        )
        return

    print(
        f"# campaign of tiny chunks (toy descriptor, 1 sample per chunk, {args.per_shell} chunks per shell), "
        f"executor "
        f"{args.executor} with {args.workers} workers; driver memory of each size in a fresh interpreter"
    )
    print(
        f"{'chunks':>7} {'wall s':>7} {'ms/chunk':>8} {'RSS start':>10} {'peak RSS':>9} "
        f"{'RSS @10/50/90 %':>20} {'file':>8}   (MiB)"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="campaign-scale-") as tmp:
        for n in args.chunks:
            cmd = [sys.executable, __file__, "--one", str(n), "--dir", tmp]
            cmd += [
                "--executor",
                args.executor,
                "--workers",
                str(args.workers),
                "--per-shell",
                str(args.per_shell),
            ]
            cmd += ["--tracemalloc"] if args.tracemalloc else []
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"run of {n} chunks failed:\n{proc.stderr[-3000:]}")
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            r = row["rss_10_50_90_mib"]
            print(
                f"{row['chunks']:>7} {row['wall_s']:>7.1f} {row['ms_per_chunk']:>8.2f} "
                f"{row['rss_start_mib']:>10.1f} {row['peak_rss_mib']:>9.1f} "
                f"{r[0]:>6.1f} {r[1]:>6.1f} {r[2]:>6.1f} {row['file_mib']:>8.1f}"
                + (
                    f"   scheduler peak RSS {row['scheduler_peak_rss_mib']:.1f}"
                    if "scheduler_peak_rss_mib" in row
                    else ""
                ),
                flush=True,
            )
            if "top_growth" in row:
                print(
                    f"        Python heap (tracemalloc): {row['traced_now_mib']} MiB at the end, "
                    f"{row['traced_peak_mib']} MiB peak; largest growth during the campaign:"
                )
            for line in row.get("top_growth", []):
                print(f"        {line}")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        growth = (b["peak_rss_mib"] - b["rss_start_mib"]) - (a["peak_rss_mib"] - a["rss_start_mib"])
        per_chunk = 1024 * growth / (b["chunks"] - a["chunks"])
        print(
            f"# peak-RSS growth over start, {a['chunks']} → {b['chunks']} chunks: {growth:+.1f} MiB "
            f"({per_chunk:+.2f} KiB per extra chunk)"
        )


if __name__ == "__main__":
    main()
