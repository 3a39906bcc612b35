"""CLI start-up time: median wall time of ``thermograd --help``, ``thermograd COMMAND --help`` and of input errors
(a missing file), each a fresh process, against the target of 0.5 s (issue 13) on an idle machine.

What is compared: the same console script a user runs (``thermograd`` next to this Python, else
``python -m thermograd.cli``), from process start to exit, output discarded. Two baselines put the figures in
context: a bare interpreter (``python -c pass``) and the import of NumPy alone, the lightest of the heavy
packages that start-up must avoid.

    python benchmarks/startup.py [--repeats 9] [--commands fit,sample,...]

Prints one row per case (median, min and max over the repeats, exit code) and ends with the slowest case.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 0.5

#: input errors: a command line whose input file does not exist
INPUT_ERRORS = {
    "fit": ["fit", "missing.h5", "-o", "x.h5"],
    "sample": ["sample", "missing.yaml"],
    "predict": ["predict", "missing.h5", "--theta", "missing.snapcoeff", "--T", "300"],
    "tune": ["tune", "a.h5", "b.h5", "--theta", "t.snapcoeff", "--target-Tc", "1000", "-o", "y.snapcoeff"],
    "ti": ["ti", "missing.yaml"],
    "alchemy": ["alchemy", "lattice", "missing.yaml"],
    "info": ["info", "missing.h5"],
}


def launcher() -> list[str]:
    script = Path(sys.executable).with_name("thermograd")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("thermograd")
    return [found] if found else [sys.executable, "-m", "thermograd.cli"]


def timed(cmd: list[str], repeats: int, cwd: str) -> tuple[list[float], int]:
    times, code = [], 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)  # warm the file cache once
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True)
        times.append(time.perf_counter() - t0)
        code = proc.returncode
    return times, code


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=9, help="runs per case (default 9)")
    ap.add_argument("--commands", help="comma-separated commands for 'COMMAND --help' (default: all)")
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from thermograd.cli import COMMANDS

    commands = args.commands.split(",") if args.commands else list(COMMANDS)
    tg = launcher()
    cases: list[tuple[str, list[str]]] = [
        ("baseline: python -c pass", [sys.executable, "-c", "pass"]),
        ("baseline: python -c 'import numpy'", [sys.executable, "-c", "import numpy"]),
        ("thermograd --help", [*tg, "--help"]),
    ]
    cases += [(f"thermograd {c} --help", [*tg, c, "--help"]) for c in commands]
    cases += [(f"input error: thermograd {' '.join(a)}", [*tg, *a]) for a in INPUT_ERRORS.values()]

    print(f"launcher: {' '.join(tg)}; {args.repeats} runs per case; CPUs: {os.cpu_count()}")
    print(f"{'case':<72} {'median/s':>9} {'min/s':>7} {'max/s':>7} {'exit':>5}")
    worst = ("", 0.0)
    with tempfile.TemporaryDirectory() as cwd:
        for label, cmd in cases:
            times, code = timed(cmd, args.repeats, cwd)
            med = statistics.median(times)
            flag = "" if label.startswith("baseline") or med < TARGET_S else "  > target"
            print(f"{label[:72]:<72} {med:9.3f} {min(times):7.3f} {max(times):7.3f} {code:5d}{flag}")
            if not label.startswith("baseline") and med > worst[1]:
                worst = (label, med)
    print(f"slowest CLI case: {worst[0]} ({worst[1]:.3f} s median; target {TARGET_S} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
