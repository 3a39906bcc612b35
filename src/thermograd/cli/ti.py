"""Thermodynamic integration: ``thermograd ti RUN.yaml [--json] [--executor ...] [--workers N] [--plot P]``.

Runs harmonic → model λ-TI, Frenkel–Ladd and/or reversible scaling for one crystal and LAMMPS potential at
the run file's temperatures and prints the free energies per atom with their errors (and how far apart
the methods are, in combined standard errors). ``thermograd init ti > run.yaml`` writes an example.

Every output (``output:``/``--output`` and ``--plot``) is checked before any work. A calculation that fails
(a temperature that melts, an unstable model, a crashed worker) fails alone: the others run on, and the
finished results are printed and written next to the named failure (exit code 2). Every finished task is
kept in a journal next to the result (``out.json`` → ``out.ti-journal.jsonl``; next to the run file if
there is no result file), so rerunning the same command computes only what is missing.
"""

from __future__ import annotations

import argparse
import json
import sys

from ._common import add_executor, add_force, add_quiet, executor_kind


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_file", help="YAML run file (see 'thermograd init ti')")
    p.add_argument("--json", action="store_true", help="print the full result as one JSON object")
    add_executor(p, "λ points and switching repeats")
    p.add_argument("--plot", default=None, metavar="PATH", help="save a figure of ⟨∂U/∂λ⟩(λ) and F(T)")
    p.add_argument("--output", default=None, metavar="PATH", help="JSON result file (overrides 'output:')")
    add_force(p, "result or plot file")
    add_quiet(p)


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
        quad = "n/a" if r.F_quadrature_error != r.F_quadrature_error else f"{r.F_quadrature_error:.6f}"
        lines.append(
            f"  {'':9s}              quadrature error {quad} with {r.n_points} λ points"
            + ("" if r.quadrature_flag is None else f"  FLAGGED: {r.quadrature_flag}")
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
    for failure in report.failures:
        lines.append(f"  {failure.T:7.1f} K  FAILED        {failure.describe()}")
    if report.journal:
        lines.append(
            f"  tasks: {report.tasks_computed} computed now, {report.tasks_reused} reused from {report.journal}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from ..outputs import check_outputs
    from ..parallel import make_executor
    from ..ti.config import load_ti_config
    from ..ti.journal import check_journal, journal_path
    from ..ti.workflow import resumable_result, run_ti_workflow, write_report

    cfg = load_ti_config(args.run_file)
    output = args.output or cfg.output
    inputs = [args.run_file, cfg.structure.file]
    # an unfinished result of an earlier run is replaced by the resumed run without --force
    resumable = ["json"] if output and Path(output).is_file() and resumable_result(output) else []
    check_outputs(
        [(output, "json"), (args.plot, "plot")], inputs=inputs, force=args.force, resumable=resumable
    )
    journal = journal_path(output, args.run_file)
    if not output and not os.access(journal.resolve().parent, os.W_OK | os.X_OK):
        print(
            f"thermograd ti: note: no result file and {journal.resolve().parent} is not writable: finished "
            "tasks are not kept between runs (give --output to keep them)",
            file=sys.stderr,
        )
        journal = None
    else:
        check_outputs([(journal, "unknown")], inputs=inputs, resumable=["unknown"])
        check_journal(journal)
    kind = executor_kind(args)
    with make_executor(kind, args.workers, args.scheduler) as executor:
        report = run_ti_workflow(
            cfg, executor=executor, progress=not args.quiet and not args.json, journal=journal
        )
    # results first, files second: nothing finished is lost if a write fails
    if args.json:
        json.dump(report.to_dict(), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(_summary(report))
    sys.stdout.flush()
    written = []
    if output and report.n_results:
        written.append(write_report(report, output))
    if args.plot and report.n_results:
        from ..ti.plotting import plot_report

        written.append(plot_report(report, args.plot))
    if written and not args.json:
        print(
            ("result" if report.complete else "partial result")
            + " written to "
            + ", ".join(map(str, written))
        )
    for failure in report.failures:
        print(f"thermograd ti: error: {failure.describe()}", file=sys.stderr)
    if report.failures:
        print(
            f"thermograd ti: {len(report.failures)} calculation(s) failed; {report.n_results} finished and "
            f"kept; rerun the same command to compute only what is missing",
            file=sys.stderr,
        )
        return 2
    return 0
