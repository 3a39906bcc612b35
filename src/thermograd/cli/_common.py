"""Flags that mean the same on every command (one name each; the old spellings stay as aliases)."""

from __future__ import annotations

import argparse

__all__ = ["add_extrapolation", "add_force", "add_quiet"]


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
