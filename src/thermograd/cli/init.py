"""Print a commented example run file: ``thermograd init ddos > run.yaml``."""

from __future__ import annotations

import argparse
from importlib import resources

from ..errors import ConfigError

KINDS = ("ddos", "ti", "alchemy", "alchemy-free-energy")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=KINDS, help="which run file to write")


def run(args: argparse.Namespace) -> int:
    try:
        text = resources.files("thermograd.templates").joinpath(f"{args.kind}.yaml").read_text()
    except FileNotFoundError:
        raise ConfigError(f"no example run file for {args.kind!r} in this build") from None
    print(text, end="")
    return 0
