"""Output safety shared by every command: inputs are never outputs, outputs are checked before the work
starts, and files are written atomically (temporary file in the same folder, then ``os.replace``).

Each output has a *kind* (``campaign``, ``tilt``, ``model``, ``snapcoeff``, ``json``, ``plot``, ``text``).
An existing file is replaced only with ``force=True`` and only when it is of the same kind: ``--force`` on
``thermograd fit`` may replace an old model file, never a campaign. The kind of an HDF5 file is read from its
``format`` attribute; other files are judged by their suffix.

Typical use in a command::

    outputs = check_outputs([(args.output, "model"), (args.plot, "plot")], inputs=[args.campaign],
                            force=args.force)        # before any work
    ...                                              # the work; print results
    with atomic_path(args.output) as tmp:            # then write
        save_model(tmp, ...)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import StoreError
from .io.store import FORMATS, atomic_path, hdf5_format, kind_of, write_text

__all__ = [
    "HDF5_KINDS",
    "atomic_path",
    "check_outputs",
    "check_writable",
    "file_kind",
    "hdf5_format",
    "save_figure",
    "write_text",
]

#: HDF5 ``format`` attribute -> output kind (from the registry of :mod:`thermograd.io.store`)
HDF5_KINDS = {f.name: f.kind for f in FORMATS.values() if f.kind}
_SUFFIX_KINDS = {
    ".snapcoeff": "snapcoeff",
    ".json": "json",
    ".png": "plot",
    ".pdf": "plot",
    ".svg": "plot",
    ".jpg": "plot",
    ".jpeg": "plot",
    ".yaml": "config",
    ".yml": "config",
    ".npz": "data",
    ".pkl": "data",
    ".pickle": "data",
}


def file_kind(path: str | Path) -> str:
    """What an existing file holds: the kind of its HDF5 ``format`` (:data:`thermograd.io.store.FORMATS`),
    ``hdf5`` (another HDF5 file), or the kind of its suffix (``unknown`` when there is none)."""
    return kind_of(hdf5_format(path)) or _SUFFIX_KINDS.get(Path(path).suffix.lower(), "unknown")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_outputs(
    outputs: Iterable[tuple[str | Path | None, str]],
    *,
    inputs: Iterable[str | Path | None] = (),
    force: bool = False,
    resumable: Iterable[str] = (),
) -> list[Path]:
    """Refuse, before any work, every output that would lose data or fail at the end.

    Args:
        outputs: ``(path, kind)`` pairs; ``None`` paths are skipped (an option not given).
        inputs: paths this command reads; none of them may be an output.
        force: allow replacing an existing output *of the same kind*.
        resumable: kinds that the command resumes in place (e.g. ``tilt``): an existing file of that kind is
            allowed without ``force`` (the command checks that it belongs to the same run).

    Returns:
        The output paths (skipping ``None``), in order.

    Raises:
        StoreError: an output is an input, is a folder, exists without ``force``, exists with another kind,
            two outputs coincide, or its folder is missing or not writable.
    """
    in_paths = [Path(p) for p in inputs if p is not None]
    resumable = set(resumable)
    seen: list[Path] = []
    for raw, kind in outputs:
        if raw is None:
            continue
        path = Path(raw)
        for other in seen:
            if path.resolve() == other.resolve():
                raise StoreError(f"{path} is given as two different outputs")
        for p in in_paths:
            if path.resolve() == p.resolve() or _same_file(path, p):
                raise StoreError(f"{path} is an input of this command and cannot also be an output")
        check_writable(path)
        if path.exists():
            have = file_kind(path)
            if have != kind:
                raise StoreError(
                    f"{path} exists and holds a {have} file, not a {kind} file; refusing to replace it "
                    "(choose another output path)"
                )
            if kind not in resumable and not force:
                raise StoreError(f"{path} exists; pass --force to replace this {kind} file")
            if not os.access(path, os.W_OK):
                raise StoreError(f"cannot write {path}: the file is not writable")
        seen.append(path)
    return seen


def check_writable(path: str | Path, what: str = "") -> None:
    """Refuse a path that cannot be written: its folder is missing or not writable, or it is a folder.

    Args:
        path: the file to be written.
        what: how the message names it (e.g. ``"the task journal"``); default: just the path.
    """
    path = Path(path)
    name = f"{what} {path}" if what else str(path)
    parent = path.resolve().parent
    if not parent.is_dir():
        raise StoreError(f"cannot write {name}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(f"cannot write {name}: folder {parent} is not writable")
    if path.is_dir():
        raise StoreError(f"cannot write {name}: it is a folder")


def save_figure(fig, path: str | Path, **kwargs) -> None:
    """``fig.savefig`` atomically (the format follows the suffix of ``path``), then close ``fig`` (also when
    writing fails), so that no caller keeps figures alive."""
    path = Path(path)
    fmt = kwargs.pop("format", None) or (path.suffix.lstrip(".") or None)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, **kwargs)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
