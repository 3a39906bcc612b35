"""``thermograd <command>``: each command is a small module in this package with ``add_arguments(parser)``
and ``run(args) -> int``. Heavy imports happen inside ``run`` so that ``--help`` is instant."""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import ThermogradError

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run the embedded default end to end (BCC Mo, SNAP Mo_Zuo_JPCA2020)"),
    "init": ("init", "print a commented example run file (ddos, ti, alchemy)"),
    "sample": ("sample", "run or resume a D-DOS sampling campaign from a YAML run file"),
    "tilt": ("tilt", "tilted shell sampling toward one model and temperature (accurate high-T D-DOS)"),
    "fit": ("fit", "fit a D-DOS model (score matching) from a campaign or reference shell data"),
    "predict": ("predict", "free energies F(θ, T) ± σ from a D-DOS model"),
    "transition": ("transition", "phase free-energy difference and transition temperature"),
    "tune": ("tune", "inverse design: move a transition temperature by gradient steps on θ"),
    "ti": ("ti", "thermodynamic integration (λ-TI, Frenkel–Ladd, reversible scaling)"),
    "alchemy": ("alchemy", "alchemical MLIP workflows (lattice vs composition, optimisation, λ-integration)"),
}


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="thermograd", description="Differentiable finite-temperature free energies of atomic systems."
    )
    parser.add_argument("--version", action="version", version=f"thermograd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 1
    try:
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
