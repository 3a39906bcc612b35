"""Flags that mean the same on every command (one name each; the old spellings stay as aliases)."""

from __future__ import annotations

import argparse

__all__ = ["add_force", "add_quiet"]


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
