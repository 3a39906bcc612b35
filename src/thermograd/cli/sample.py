"""Run or resume a D-DOS sampling campaign: ``thermograd sample run.yaml``.

Plans phase × strain × shell × chunk tasks, sets up each reference (Hessian, modes, E_0, D_0), samples the
chunks through the chosen executor and streams them into the run file's HDF5 output. Rerunning the same
command resumes an interrupted campaign without recomputing finished work. Write an example run file with
``thermograd init ddos > run.yaml``.
"""

from __future__ import annotations

import argparse
import sys

from ._common import add_executor, add_quiet, executor_kind


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_file", help="YAML run file (see 'thermograd init ddos')")
    add_executor(p, "chunk tasks")
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from ..ddos.sampling.campaign_config import load_campaign_config

    executor = executor_kind(args)
    config, text = load_campaign_config(args.run_file)
    from ..ddos.sampling.campaign import run_campaign

    summary = run_campaign(
        config,
        text,
        executor=executor,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    skipped = summary.n_chunks - summary.n_chunks_run
    print(
        f"campaign {summary.path}: {summary.n_references} reference(s) "
        f"({summary.n_references_computed} set up now), {summary.n_chunks} chunk(s) "
        f"({summary.n_chunks_run} sampled now, {skipped} already stored), "
        f"{summary.n_samples} samples; complete",
        file=sys.stdout,
    )
    return 0
