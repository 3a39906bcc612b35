"""Thermodynamic integration: ``thermograd ti RUN.yaml [--json] [--executor ...] [--workers N] [--plot P]``.

Runs harmonic → model λ-TI, Frenkel–Ladd and/or reversible scaling for one crystal and LAMMPS potential at
the run file's temperatures and prints the free energies per atom with their errors (and how far apart
the methods are, in combined standard errors). ``thermograd init ti > run.yaml`` writes an example.
The JSON result (``output:`` or ``--output``) is written only once every calculation has finished.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_file", help="YAML run file (see 'thermograd init ti')")
    p.add_argument("--json", action="store_true", help="print the full result as one JSON object")
    p.add_argument(
        "--executor",
        choices=("serial", "processes", "dask"),
        default="serial",
        help="where λ points and switching repeats run (default: serial)",
    )
    p.add_argument("--workers", type=int, default=None, metavar="N", help="worker processes (default 2)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="existing Dask scheduler address")
    p.add_argument("--plot", default=None, metavar="PATH", help="save a figure of ⟨∂U/∂λ⟩(λ) and F(T)")
    p.add_argument("--output", default=None, metavar="PATH", help="JSON result file (overrides 'output:')")
    p.add_argument("--overwrite", action="store_true", help="replace an existing result file")
    p.add_argument("--no-progress", action="store_true", help="do not show progress bars")


def _summary(report) -> str:
    lines = [
        f"thermograd ti: {report.n_atoms} atoms; free energies in eV/atom, 'cell' convention "
        "(centre of mass fixed, 3N-3 modes)"
    ]
    for T, r in report.lambda_ti.items():
        lines.append(
            f"  {T:7.1f} K  λ-TI          F = {r.F_cell:.6f} ± {r.F_error:.6f}   (E0 {r.E0:.6f}, "
            f"F_h {r.F_h_cell:.6f}, F_anh {r.F_anh:.6f} ± {r.F_anh_error:.6f}; "
            f"'{r.convention}' total {r.F:.6f})"
        )
    for T, r in report.frenkel_ladd.items():
        lines.append(
            f"  {T:7.1f} K  Frenkel-Ladd  F = {r.F:.6f} ± {r.F_error:.6f}   (k = {r.spring:.4f} eV/Å², "
            f"dissipation {r.dissipation:.6f}; calphy convention {r.F_calphy:.6f})"
        )
    rs = report.reversible_scaling
    if rs is not None:
        for T in (rs.temperatures[0], rs.temperatures[len(rs.temperatures) // 2], rs.temperatures[-1]):
            f, e = rs.at(T)
            lines.append(f"  {T:7.1f} K  rev. scaling  F = {f:.6f} ± {e:.6f}")
    for row in report.comparison:
        pairs = [k for k in row if k.endswith("_sigmas")]
        if pairs:
            txt = ", ".join(f"{k[:-7]} {1e3 * row[k[:-7]]:+.3f} meV ({row[k]:+.1f}σ)" for k in pairs)
            lines.append(f"  {row['T']:7.1f} K  differences: {txt}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ..parallel import make_executor
    from ..ti.config import load_ti_config
    from ..ti.workflow import run_ti_workflow, write_report

    cfg = load_ti_config(args.run_file)
    output = args.output or cfg.output
    if output and not args.overwrite:
        from pathlib import Path

        from ..errors import StoreError

        if Path(output).exists():
            raise StoreError(f"{output} exists; pass --overwrite to replace it")
    kind = "dask" if args.scheduler else args.executor
    with make_executor(kind, args.workers, args.scheduler) as executor:
        report = run_ti_workflow(cfg, executor=executor, progress=not args.no_progress and not args.json)
    if output:
        write_report(report, output, overwrite=args.overwrite)
    if args.plot:
        from ..ti.plotting import plot_report

        plot_report(report, args.plot)
    if args.json:
        json.dump(report.to_dict(), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(_summary(report))
        if output:
            print(f"result written to {output}")
    return 0
