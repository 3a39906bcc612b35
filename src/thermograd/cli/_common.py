"""Flags that mean the same on every command (one name each; the old spellings stay as aliases)."""

from __future__ import annotations

import argparse

__all__ = [
    "add_convention",
    "add_extrapolation",
    "add_force",
    "add_phase_inputs",
    "add_pressure",
    "add_quiet",
    "open_phases",
]


def add_force(p: argparse.ArgumentParser, what: str = "output file") -> None:
    """``--force``: replace an existing output of the same kind (never an input, never another kind)."""
    p.add_argument(
        "--force",
        "--overwrite",
        dest="force",
        action="store_true",
        help=f"replace an existing {what} of the same kind (inputs and other kinds of file are never replaced)",
    )


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars."""
    p.add_argument("--quiet", "--no-progress", dest="quiet", action="store_true", help="no progress bars")


def add_extrapolation(p: argparse.ArgumentParser, what: str, legacy_strict: bool = False) -> None:
    """``--allow-extrapolation``: accept results beyond the sampled shells (flagged) instead of an error.

    Args:
        what: the help text's end: what is accepted, e.g. ``"print results ... flagged '*'"``.
        legacy_strict: also accept the old ``--strict`` (hidden; the refusal is now the default).
    """
    p.add_argument("--allow-extrapolation", dest="allow_extrapolation", action="store_true", help=what)
    if legacy_strict:
        p.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)


def add_convention(p: argparse.ArgumentParser, default: str = "ddos") -> None:
    """``--convention ddos|cell``: the harmonic convention of every printed free energy (→ ``args.convention``)."""
    p.add_argument(
        "--convention",
        choices=("ddos", "cell"),
        default=default,
        help=f"harmonic convention of F: ddos (3 k_BT<ln βħω>) or cell (the finite-cell sum, as λ-TI); "
        f"default {default}",
    )


def add_phase_inputs(p: argparse.ArgumentParser) -> None:
    """Two phases A and B, each a model file or a campaign file (with ``--phases`` and ``--tilted-a/-b``)."""
    p.add_argument("model_a", help="phase A (stable below T_c when ΔF > 0): a model or a campaign file")
    p.add_argument("model_b", help="phase B: a model or a campaign file")
    p.add_argument(
        "--phases",
        nargs=2,
        metavar=("A", "B"),
        help="phase labels inside campaign files (default: the only phase of each)",
    )
    p.add_argument("--tilted-a", action="append", default=[], metavar="FILE", help="tilt file of phase A")
    p.add_argument("--tilted-b", action="append", default=[], metavar="FILE", help="tilt file of phase B")
    p.add_argument(
        "--method",
        choices=("fast", "table", "exact", "gamma", "reweight"),
        help="model files: fast (default), table or exact; campaign files: gamma (default) or reweight",
    )
    add_convention(p)


def add_pressure(p: argparse.ArgumentParser, what: str) -> None:
    """``--pressure GPa`` (``what`` it gives) and ``--fit``, the F(V) form of :mod:`thermograd.thermo.eos`."""
    p.add_argument("--pressure", type=float, metavar="GPa", help=what)
    p.add_argument(
        "--fit",
        choices=("birch2", "birch3", "birch4"),
        default="birch3",
        help="F(V) form with --pressure (Birch-Murnaghan order; needs order + 1 strains, default birch3)",
    )


def open_phases(args: argparse.Namespace):
    """The two estimators named by :func:`add_phase_inputs`' arguments."""
    from ..ddos.estimators.from_file import open_estimator
    from ..errors import InputError

    phases = args.phases or (None, None)
    a, b = (
        open_estimator(path, phase=ph, tilted=tilts, method=args.method)
        for path, ph, tilts in zip((args.model_a, args.model_b), phases, (args.tilted_a, args.tilted_b))
    )
    if a.n_features != b.n_features:
        raise InputError(
            f"{args.model_a} and {args.model_b} have different descriptor lengths ({a.n_features} and "
            f"{b.n_features}): the phases must share one descriptor"
        )
    return a, b


def phase_inputs(args: argparse.Namespace) -> list:
    """Every input file of :func:`add_phase_inputs` (for the output checks)."""
    return [args.model_a, args.model_b, *args.tilted_a, *args.tilted_b]


def add_executor(p: argparse.ArgumentParser, what: str, default: str = "serial") -> None:
    """``--executor serial|processes|dask``, ``--workers N`` and ``--scheduler ADDRESS`` (implies dask)."""
    p.add_argument(
        "--executor",
        choices=("serial", "processes", "dask"),
        default=default,
        help=f"where {what} run (default: {default})",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes for 'processes' or a local Dask cluster (default 2)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of an existing Dask scheduler, e.g. tcp://host:8786 (implies --executor dask)",
    )


def executor_kind(args: argparse.Namespace) -> str:
    """The executor kind of :func:`add_executor`'s flags ("dask" when a scheduler is given); --workers ≥ 1."""
    from ..errors import ConfigError

    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    return "dask" if args.scheduler else args.executor
