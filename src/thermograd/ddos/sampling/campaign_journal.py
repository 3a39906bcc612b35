"""Crash safety of a campaign file beyond HDF5's own: a snapshot plus a journal of the chunks written since.

HDF5 is not transactional: a driver killed (``kill -9``, power loss) while the library writes metadata can
leave a file that no longer opens. The campaign driver therefore keeps, while it runs,

* ``.<name>.bak``: a copy of the campaign file taken once the references are set up (before any chunk of
  this run is written), and
* ``.<name>.journal/``: one small ``.npz`` per chunk finished since that copy, each written to a temporary
  name, flushed to disk and renamed, before the chunk goes into the HDF5 file.

A clean end (the file closed normally, also after an error or Ctrl-C) removes both. After a kill they
remain, and the next run calls :meth:`CampaignJournal.recover`: a file that no longer reads completely is
moved aside (``<name>.damaged-<time>``, never deleted) and the snapshot takes its place; the journalled chunks
are then written again (:meth:`entries`), so a kill at any instant loses no finished chunk.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from ...errors import StoreError
from .tasks import ChunkResult, ChunkTask

__all__ = ["CampaignJournal", "file_is_readable"]


def file_is_readable(path: Path) -> bool:
    """True when the HDF5 file opens and every group, dataset header and attribute in it reads."""
    try:
        with h5py.File(path, "r", locking=False) as f:

            def visit(_name, obj):
                dict(obj.attrs)
                if isinstance(obj, h5py.Dataset):
                    _ = obj.shape, obj.dtype

            f.visititems(visit)
        return True
    except Exception:  # any HDF5 error means damaged: h5py raises OSError, KeyError, RuntimeError, ...
        return False


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class CampaignJournal:
    """The snapshot and chunk journal beside one campaign file (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.folder = self.path.with_name(f".{self.path.name}.journal")
        self.snapshot = self.path.with_name(f".{self.path.name}.bak")

    @property
    def pending(self) -> bool:
        """A previous driver ended without closing the file (its snapshot or journal is still there)."""
        return self.snapshot.exists() or self.folder.exists()

    def recover(self) -> str | None:
        """Repair the campaign file after a killed driver; returns a note of what was done, or None.

        A file that reads completely is kept (the journal is replayed by the caller). A damaged one is moved
        aside and replaced by the snapshot (or, with none, by nothing: the references are set up again).
        """
        if not self.pending or not self.path.exists() or file_is_readable(self.path):
            return None
        stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        os.replace(self.path, aside)
        if self.snapshot.exists():
            shutil.copyfile(self.snapshot, self.path)
            return (
                f"{self.path} was damaged by a killed driver (moved to {aside.name}); restored its snapshot"
            )
        return f"{self.path} was damaged by a killed driver (moved to {aside.name}); starting it again"

    def begin(self) -> None:
        """Snapshot the (closed, consistent) campaign file and start an empty journal."""
        if not self.path.exists():
            raise StoreError(f"cannot snapshot {self.path}: it does not exist")
        tmp = self.snapshot.with_name(self.snapshot.name + ".tmp")
        shutil.copyfile(self.path, tmp)
        os.replace(tmp, self.snapshot)
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir()
        _fsync_dir(self.path.parent)

    def record(self, result: ChunkResult) -> None:
        """Write one finished chunk durably (temporary name, fsync, rename) before it goes into HDF5."""
        t = result.task
        name = f"{t.phase}.{t.strain_index}.{t.shell_index}.{t.chunk_index}"
        tmp = self.folder / f".{name}.tmp"
        with tmp.open("wb") as fh:
            np.savez(
                fh,
                descriptors=result.descriptors,
                harmonic_energy=result.harmonic_energy,
                key=np.array([t.phase, repr(float(t.strain)), repr(float(t.T_shell))]),
                ints=np.array([t.strain_index, t.shell_index, t.chunk_index, t.n, t.seed]),
                seed_entropy=np.array(str(result.seed_entropy)),
                spawn_key=np.asarray(result.spawn_key, dtype=np.uint64),
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.folder / f"{name}.npz")

    def entries(self) -> Iterator[ChunkResult]:
        """The journalled chunks (tasks as recorded; the caller maps them onto the current plan)."""
        if not self.folder.is_dir():
            return
        for file in sorted(self.folder.glob("*.npz")):
            try:
                with np.load(file, allow_pickle=False) as z:
                    phase, strain, T = (str(v) for v in z["key"])
                    si, k, c, n, seed = (int(v) for v in z["ints"])
                    task = ChunkTask(phase, si, k, c, float(T), n, seed, float(strain))
                    yield ChunkResult(
                        task=task,
                        descriptors=z["descriptors"],
                        harmonic_energy=z["harmonic_energy"],
                        seed_entropy=int(str(z["seed_entropy"])),
                        spawn_key=tuple(int(v) for v in z["spawn_key"]),
                    )
            except (OSError, ValueError, KeyError):
                continue  # a torn entry (killed before its rename cannot happen; be safe): the chunk is redone

    def clear(self) -> None:
        """Remove the snapshot and the journal (after the campaign file was closed normally)."""
        if self.folder.exists():
            shutil.rmtree(self.folder)
        with contextlib.suppress(FileNotFoundError):
            self.snapshot.unlink()
