"""``thermograd <command>``: each command is a small module in this package with ``add_arguments(parser)``
and ``run(args) -> int``.

Start-up is kept fast (``--help`` and input errors in well under 0.5 s): this module and the command modules
import nothing heavy at module level (NumPy, SciPy, torch, h5py, matplotlib, ASE and LAMMPS are imported
inside ``run``); :func:`main` imports only the module of the command given on the command line; and the
input files a command names (:data:`INPUTS`) are checked to exist before its ``run`` starts importing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..errors import InputError, ThermogradError

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run the embedded default end to end (BCC Mo, SNAP Mo_Zuo_JPCA2020)"),
    "init": ("init", "print a commented example run file (ddos, ti, alchemy, alchemy-free-energy)"),
    "sample": ("sample", "run or resume a D-DOS sampling campaign from a YAML run file"),
    "tilt": ("tilt", "tilted shell sampling toward one model and temperature (accurate high-T D-DOS)"),
    "fit": ("fit", "fit a D-DOS model (score matching) from a campaign or reference shell data"),
    "predict": ("predict", "free energies F(θ, T) ± σ from a D-DOS model"),
    "transition": ("transition", "phase free-energy difference and transition temperature"),
    "tune": ("tune", "inverse design: move a transition temperature by gradient steps on θ"),
    "ti": ("ti", "thermodynamic integration (λ-TI, Frenkel–Ladd, reversible scaling)"),
    "alchemy": (
        "alchemy",
        "alchemical MLIP workflows (lattice vs composition, optimisation, λ-integration, free energies at T)",
    ),
    "info": ("info", "show what a campaign, tilt, model, .snapcoeff or .npz file holds (read-only)"),
}

#: command name -> ((argument dest, what the file is), ...): input files that must exist. They are checked
#: by :func:`main` before the command runs, so that a typo is reported at once instead of after the
#: command's imports. A dest the command does not define (or an option not given) is skipped.
INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "sample": (("run_file", "run file"),),
    "tilt": (("campaign", "campaign file"), ("theta", "coefficient file")),
    "fit": (("campaign", "campaign file"),),
    "predict": (("model", "model file"), ("theta", "coefficient file"), ("tilted", "tilt file")),
    "transition": (("model_a", "model file"), ("model_b", "model file"), ("theta", "coefficient file")),
    "tune": (("model_a", "model file"), ("model_b", "model file"), ("theta", "coefficient file")),
    "ti": (("run_file", "run file"),),
    "alchemy": (("run_file", "run file"),),
    "info": (("file", "file"),),
}


def _command_of(argv: list[str]) -> str | None:
    """The command word of a command line (the first argument that is not an option), if any.

    The top-level options (``-h``, ``--version``) take no value, so the first non-option is the command.
    """
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``thermograd`` argument parser.

    Args:
        only: import and fill in only this command's sub-parser (the others are listed with their help line
            but take no arguments); ``None`` fills in every command.
    """
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="thermograd", description="Differentiable finite-temperature free energies of atomic systems."
    )
    parser.add_argument("--version", action="version", version=f"thermograd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, description=help_text)
            continue
        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{module}":
                continue  # command not available in this build
            raise
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip())
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def check_inputs(command: str, args: argparse.Namespace) -> None:
    """Refuse missing, folder or unreadable input files of ``command`` (see :data:`INPUTS`).

    Raises:
        InputError: naming the file and what is wrong.
    """
    for dest, what in INPUTS.get(command, ()):
        value = getattr(args, dest, None)
        for path in value if isinstance(value, list | tuple) else [value]:
            if not isinstance(path, str) or not path:
                continue
            if not os.path.exists(path):
                raise InputError(f"{what} not found: {path}")
            if os.path.isdir(path):
                raise InputError(f"{what} {path} is a folder, not a file")
            if not os.access(path, os.R_OK):
                raise InputError(f"cannot read {what} {path}: permission denied")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_of(argv)
    parser = build_parser(only=command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    try:
        check_inputs(args.command, args)
        return int(args._run(args) or 0)
    except ThermogradError as exc:
        print(f"thermograd {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"thermograd {args.command}: interrupted; finished work is kept, "
            "rerun the same command to resume",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
