"""Task journal of a TI run: every finished task is kept, so a rerun computes only what is missing.

A TI run is a set of independent, seeded tasks (one λ point, one MSD run, one switching pair, one NPT
volume run). Each finished task's result is appended to a JSON-lines file next to the run's result as soon
as it arrives in the driver (one line per task, flushed and ``fsync``-ed), keyed by a SHA-256 of everything
the task depends on: the task function, the system's fingerprint (structure, potential file contents, MD
settings) and every argument (temperature, λ, Hessian, step counts, seed). A rerun of the same run file —
after a failed task, Ctrl-C or ``kill -9`` — takes each task found in the journal instead of running it
again; a task whose inputs changed has another key and is computed afresh. Results are stored exactly
(arrays as raw little-endian bytes in base64, floats as JSON numbers, which round-trip), so a resumed run
gives bit for bit the numbers of an uninterrupted one.

File layout::

    {"format": "thermograd-ti-journal", "version": 1, "system": {"structure": "…", "potential": "…", …}}
    {"key": "<sha256>", "task": "lambda_task", "label": "λ-TI 300 K", "result": …}
    …

The first line names the system the tasks belong to; a journal of another system (another structure,
potential or MD settings) is refused rather than mixed. A last line cut short by a kill is dropped on
opening; any other damaged line is an error. One run at a time may use a journal (an exclusive lock).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError, StoreError

FORMAT = "thermograd-ti-journal"
VERSION = 1
SUFFIX = ".ti-journal.jsonl"

__all__ = ["FORMAT", "SUFFIX", "TaskJournal", "check_journal", "digest", "journal_path"]


# ---------------------------------------------------------------------------------------------- hashing
def _feed(h, obj, memo: dict) -> None:
    if obj is None:
        h.update(b"N;")
    elif isinstance(obj, (bool, np.bool_)):
        h.update(b"T;" if obj else b"F;")
    elif isinstance(obj, (int, np.integer)):
        h.update(b"i%d;" % int(obj))
    elif isinstance(obj, (float, np.floating)):
        h.update(b"f" + float(obj).hex().encode() + b";")
    elif isinstance(obj, str):
        data = obj.encode()
        h.update(b"s%d:" % len(data) + data)
    elif isinstance(obj, bytes):
        h.update(b"b%d:" % len(obj) + obj)
    elif isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        h.update(b"a" + arr.dtype.str.encode() + repr(arr.shape).encode() + b":")
        h.update(arr.tobytes())
    elif isinstance(obj, (list, tuple)):
        h.update(b"l%d:" % len(obj))
        for item in obj:
            _feed(h, item, memo)
    elif isinstance(obj, dict):
        h.update(b"d%d:" % len(obj))
        for key in sorted(obj, key=str):
            _feed(h, str(key), memo)
            _feed(h, obj[key], memo)
    elif hasattr(obj, "fingerprint"):
        if id(obj) not in memo:
            memo[id(obj)] = (obj, obj.fingerprint())  # keep obj alive so that its id stays unique
        h.update(b"o")
        _feed(h, memo[id(obj)][1], memo)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        h.update(b"c" + type(obj).__qualname__.encode() + b":")
        for f in dataclasses.fields(obj):
            _feed(h, f.name, memo)
            _feed(h, getattr(obj, f.name), memo)
    elif callable(obj):
        h.update(b"q" + f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}".encode())
    else:
        raise InputError(f"cannot fingerprint a {type(obj).__name__} for the TI task journal")


def digest(obj, memo: dict | None = None) -> str:
    """SHA-256 (hex) of a value built from numbers, strings, arrays, lists, dicts, dataclasses and objects
    with a ``fingerprint()`` method; floats and arrays are hashed exactly (bit patterns)."""
    h = hashlib.sha256()
    _feed(h, obj, {} if memo is None else memo)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------- encoding
def _encode(obj):
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        if arr.dtype.kind not in "fiub":
            raise InputError(f"cannot journal an array of dtype {arr.dtype}")
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        return {"nd": base64.b64encode(arr.tobytes()).decode(), "dtype": arr.dtype.str, "shape": arr.shape}
    if isinstance(obj, tuple):
        return {"tuple": [_encode(v) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if np.isfinite(value) else {"float": repr(value)}
    if obj is None or isinstance(obj, str):
        return obj
    raise InputError(f"cannot journal a {type(obj).__name__} task result")


def _decode(obj):
    if isinstance(obj, dict):
        if "nd" in obj:
            data = base64.b64decode(obj["nd"], validate=True)
            return np.frombuffer(data, dtype=np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
        if "tuple" in obj:
            return tuple(_decode(v) for v in obj["tuple"])
        if "float" in obj:
            return float(obj["float"])
        raise ValueError(f"unknown entry {sorted(obj)}")
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


# --------------------------------------------------------------------------------------------- journal
def journal_path(output: str | Path | None, run_file: str | Path) -> Path:
    """Where a run keeps its journal: next to its JSON result (``out.json`` → ``out.ti-journal.jsonl``),
    or next to the run file when the run writes no result file."""
    base = Path(output) if output else Path(run_file)
    return base.with_suffix(SUFFIX)


def _read_header(path: Path) -> dict | None:
    """The header of an existing journal (None for an empty file); StoreError if it is not a journal."""
    with path.open("rb") as fh:
        first = fh.readline()
    if not first.strip():
        return None
    try:
        header = json.loads(first)
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise StoreError(
            f"{path} exists and is not a thermograd TI journal; refusing to use it "
            "(move it away or choose another output path)"
        )
    if header.get("version") != VERSION:
        raise StoreError(
            f"{path} is a TI journal of version {header.get('version')!r}, this thermograd reads version "
            f"{VERSION}; move it away to start over"
        )
    if not isinstance(header.get("system"), dict):
        raise StoreError(f"{path}: damaged journal header (no 'system' entry)")
    return header


def check_journal(path: str | Path) -> Path:
    """Before any work: the journal's folder exists and is writable, and an existing file is a journal.

    Raises:
        StoreError: otherwise (one line naming the file).
    """
    from ..outputs import check_writable

    path = Path(path)
    check_writable(path, "the task journal")
    if path.exists():
        try:
            _read_header(path)
        except OSError as exc:
            raise StoreError(f"cannot read the task journal {path}: {exc.strerror}") from None
    return path


class TaskJournal:
    """Finished TI tasks of one system, persisted one line per task (see the module docstring).

    Use :meth:`open` (a context manager is provided by ``with``); :meth:`key` names a task,
    :meth:`lookup` returns a stored result, :meth:`record` appends one.

    Attributes:
        path: the journal file.
        system: the system fingerprint (part name → digest) the journal belongs to.
        n_reused: tasks taken from the file in this run.
        n_recorded: tasks appended in this run.
    """

    def __init__(self, path: Path, system: dict[str, str], fh, entries: dict[str, object]) -> None:
        self.path = path
        self.system = system
        self._fh = fh
        self._entries = entries
        self._memo: dict = {}
        self.n_reused = 0
        self.n_recorded = 0

    @classmethod
    def open(cls, path: str | Path, system: dict[str, str]) -> TaskJournal:
        """Open (or create) the journal of the system with fingerprint ``system``.

        Raises:
            StoreError: the file is not a journal, belongs to another system, has a damaged line, or is in
                use by another run.
        """
        path = Path(path)
        check_journal(path)
        system = {str(k): str(v) for k, v in system.items()}
        fh = path.open("a+b")
        try:
            _lock(fh, path)
            entries = _load(fh, path, system)
            if fh.tell() == 0:
                header = {"format": FORMAT, "version": VERSION, "system": system}
                fh.write(json.dumps(header, sort_keys=True).encode() + b"\n")
                _sync(fh)
        except BaseException:
            fh.close()
            raise
        return cls(path, system, fh, entries)

    def __enter__(self) -> TaskJournal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the file (every record is already on disk)."""
        if not self._fh.closed:
            self._fh.close()

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, fn, args: tuple) -> str:
        """The key of task ``fn(*args)``: a digest of the function's name and every argument."""
        return digest((f"{fn.__module__}.{fn.__qualname__}", args), self._memo)

    def lookup(self, key: str) -> tuple[bool, object]:
        """(found, result) of a task key."""
        if key in self._entries:
            self.n_reused += 1
            return True, self._entries[key]
        return False, None

    def record(self, key: str, fn, result, label: str = "") -> None:
        """Append a finished task's result and force it to disk."""
        line = {"key": key, "task": fn.__name__, "label": label, "result": _encode(result)}
        self._fh.write(json.dumps(line, allow_nan=False).encode() + b"\n")
        _sync(self._fh)
        self._entries[key] = result
        self.n_recorded += 1


def _sync(fh) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _lock(fh, path: Path) -> None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise StoreError(f"{path} is in use by another thermograd ti run") from None


def _load(fh, path: Path, system: dict[str, str]) -> dict[str, object]:
    """Read every finished task; drop a last line cut short by a kill (the file is truncated to the last
    complete line), refuse a journal of another system or with a damaged line."""
    fh.seek(0)
    data = fh.read()
    end = data.rfind(b"\n") + 1
    if end < len(data):  # an incomplete last line: the run was killed while writing it
        fh.truncate(end)
        _sync(fh)
        data = data[:end]
    fh.seek(0, os.SEEK_END)
    if not data:
        if fh.tell():
            fh.truncate(0)
        return {}
    header = _read_header(path)
    if header is None:  # a blank first line: not written by this module
        raise StoreError(f"{path}: damaged journal header")
    stored = header["system"]
    if stored != system:
        parts = sorted(k for k in set(stored) | set(system) if stored.get(k) != system.get(k))
        raise StoreError(
            f"{path} holds the finished tasks of another TI run (different {', '.join(parts)}); "
            "delete it to start over or choose another output path"
        )
    entries: dict[str, object] = {}
    for number, raw in enumerate(data.split(b"\n")[1:-1], start=2):
        try:
            line = json.loads(raw)
            key, result = line["key"], _decode(line["result"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise StoreError(f"{path}: line {number} is damaged; delete the journal to start over") from None
        entries[str(key)] = result
    return entries
