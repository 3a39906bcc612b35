"""HDF5 campaign file: provenance, references, per-chunk raw samples and per-shell sketches; resumable.

Layout (format ``thermograd-campaign`` version 1; lengths Å, energies eV, masses amu, temperatures K)::

    /                       attrs: format, format_version, config_hash, seed, sampler, units, created,
                                   thermograd/numpy/h5py/lammps/torch versions (:mod:`thermograd.io.store`)
    /config                 the run file's YAML text (attrs: hash, canonical_json)
    /phases/<phase>/strain_<i>/            attrs: phase, strain, strain_index, n_atoms, mass, volume_per_atom,
                                                  E_0 (eV/atom), descriptor (JSON), potential (JSON), complete
        structure/{positions (N,3), cell (3,3), numbers (N,), masses (N,), pbc (3,)}
        hessian (3N,3N) eV/Å²;  modes/{kappa (M,) eV/Å², vectors (3N,M)} (attrs mass, n_atoms);  D_0 (d,)
        shells/<k:03d>/     attrs: shell_index, T_shell, alpha, n_samples, n_chunks
            chunks/<c:05d>/{descriptors (n,d), harmonic_energy (n,) eV/atom}
                            attrs: chunk_index, n, seed_entropy, spawn_key, complete (written last)
            sketch/         ShellSketch.to_hdf5 (+ attr complete, written last)

Every group that a crash could leave half-written carries a ``complete`` attribute set last; readers ignore
groups without it and the writer deletes and redoes them. The file is flushed after every chunk. A file
that is not HDF5, is HDF5 but not a campaign, or holds a campaign with another config hash is refused
with one-line :class:`StoreError` and never modified; a different run file is accepted when it only grows
the campaign (:mod:`~thermograd.ddos.sampling.campaign_growth`: the previous run file is kept in ``/config_history``).
A lock file (``.<name>.lock``) refuses a second driver; a snapshot and a chunk journal beside the file make a
driver killed inside an HDF5 write recoverable (:mod:`~thermograd.ddos.sampling.campaign_journal`).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ...errors import StoreError
from ...harmonic import Modes
from ...io.store import CAMPAIGN, StoreLock, create, open_file
from .campaign_growth import CampaignChange, compare

FORMAT = CAMPAIGN.name
FORMAT_VERSION = CAMPAIGN.version
_REFUSAL = "; refusing to touch it; choose another output path"
#: how chunks are drawn and seeded; a file of another sampler is read but never resumed or grown (mixing two
#: draws would make the file depend on when it was interrupted)
SAMPLER = "v2: Cartesian Gaussian projected on the modes; chunks seeded by (phase, strain, T_shell, chunk)"
UNITS = "LAMMPS metal: length Å, energy eV, mass amu, temperature K; energies per atom unless named _total"

__all__ = ["FORMAT", "FORMAT_VERSION", "CampaignLock", "CampaignStore", "Reference", "check_campaign_file"]


@dataclass
class Reference:
    """The harmonic reference of one (phase, strain), as set up on the driver.

    Attributes:
        phase: phase label.
        strain_index: index into the run file's strains.
        strain: isotropic strain ε (cell scaled by 1 + ε).
        positions: shape (N, 3), Å.  cell: shape (3, 3), Å, rows.  numbers: shape (N,).
        masses: shape (N,), amu.  pbc: shape (3,).
        hessian: force constants, shape (3N, 3N), eV/Å².
        modes: normal modes (3N − 3).
        E_0: static lattice energy of the reference potential, eV/atom.
        D_0: descriptor of the perfect lattice, shape (d,).
        descriptor: descriptor metadata (JSON-serialisable).
        potential: reference potential metadata (JSON-serialisable).
    """

    phase: str
    strain_index: int
    strain: float
    positions: np.ndarray
    cell: np.ndarray
    numbers: np.ndarray
    masses: np.ndarray
    pbc: np.ndarray
    hessian: np.ndarray
    modes: Modes
    E_0: float
    D_0: np.ndarray
    descriptor: dict
    potential: dict

    @property
    def n_atoms(self) -> int:
        return int(self.positions.shape[0])

    @property
    def volume_per_atom(self) -> float:
        return float(abs(np.linalg.det(self.cell)) / self.n_atoms)


def _attr_str(value) -> str | None:
    if isinstance(value, bytes):
        return value.decode()
    return None if value is None else str(value)


def check_campaign_file(
    path: str | Path, config_hash: str | None = None, canonical: dict | None = None
) -> CampaignChange | None:
    """Validate an existing file as a campaign, opening it read-only.

    Args:
        path: the file.
        config_hash: refuse a campaign of another config hash (exact identity).
        canonical: the run file's canonical description (:meth:`CampaignConfig.canonical`): refuse changes that
            the campaign cannot absorb, naming every key that differs; growth is allowed.

    Returns:
        With ``canonical``, the :class:`~thermograd.ddos.sampling.campaign_growth.CampaignChange`; else None.

    Raises:
        StoreError: not HDF5 / unreadable, not a campaign, newer format version, or another campaign.
    """
    path = Path(path)
    with open_file(path, CAMPAIGN, refusal=_REFUSAL) as f:
        stored_hash = _attr_str(f.attrs.get("config_hash"))
        sampler = _attr_str(f.attrs.get("sampler"))
        stored_canonical = _attr_str(f["config"].attrs.get("canonical_json")) if "config" in f else None
    if config_hash is not None and stored_hash != config_hash:
        raise StoreError(
            f"{path} holds a different campaign (config hash {str(stored_hash)[:12]}…, this run file "
            f"{config_hash[:12]}…); refusing to overwrite it; use another output path or the "
            "original run file"
        )
    if canonical is None:
        return None
    if sampler != SAMPLER:
        raise StoreError(
            f"{path} was sampled by an earlier thermograd (sampler {sampler or 'v1'}: draws in mode coordinates, "
            f"chunks seeded by position); it can still be read (fit, predict, info) but not resumed or grown "
            f"with this sampler ({SAMPLER}); write to another output path"
        )
    try:
        stored = json.loads(stored_canonical) if stored_canonical else None
    except ValueError:
        stored = None
    if not isinstance(stored, dict):
        raise StoreError(
            f"{path}: the stored run file description is missing or unreadable; refusing to touch it"
        )
    change = compare(stored, canonical)
    if change.refused:
        raise StoreError(
            f"{path} holds a different campaign; these keys differ from the run file: "
            f"{'; '.join(change.refused)}. A campaign can only grow (phases, strains, shells, samples); "
            "use another output path or the original values"
        )
    return change


#: the lock of a campaign file (the storage layer's lock; the name is kept for the sampler and its tests)
CampaignLock = StoreLock


def _ref_path(phase: str, strain_index: int) -> str:
    return f"phases/{phase}/strain_{strain_index:02d}"


def _shell_path(phase: str, strain_index: int, shell_index: int) -> str:
    return f"{_ref_path(phase, strain_index)}/shells/{shell_index:03d}"


def _complete(group) -> bool:
    return bool(group.attrs.get("complete", False))


class CampaignStore:
    """An open campaign file (read-write), created or resumed by :meth:`open_or_create`."""

    def __init__(self, path: Path, file: h5py.File) -> None:
        self.path = path
        self.file = file

    # -- opening -------------------------------------------------------------------------------------------
    @classmethod
    def open_or_create(
        cls, path: str | Path, *, config_text: str, config_hash: str, canonical_json: str, seed: int
    ) -> CampaignStore:
        """Resume the campaign at ``path`` or create it atomically (:func:`thermograd.io.store.create`); check
        first that an existing file is the same or a growable campaign (:func:`check_campaign_file`).

        Raises:
            StoreError: the existing file is foreign, corrupt or of another campaign (it is left untouched).
        """
        path = Path(path)
        if path.exists():
            check_campaign_file(path)  # the caller decides whether a different run file may grow it
        else:
            attrs = {"config_hash": config_hash, "seed": seed, "sampler": SAMPLER, "units": UNITS}
            with create(path, CAMPAIGN, **attrs) as f:
                ds = f.create_dataset("config", data=config_text, dtype=h5py.string_dtype())
                ds.attrs["hash"] = config_hash
                ds.attrs["canonical_json"] = canonical_json
                f.create_group("phases")
        try:
            return cls(path, h5py.File(path, "r+"))
        except OSError as exc:
            raise StoreError(f"cannot open {path} for writing: {str(exc).splitlines()[0]}") from None

    def close(self) -> None:
        if self.file.id.valid:
            self.file.flush()
            self.file.close()

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- references ----------------------------------------------------------------------------------------
    def has_reference(self, phase: str, strain_index: int) -> bool:
        g = self.file.get(_ref_path(phase, strain_index))
        return g is not None and _complete(g)

    def write_reference(self, ref: Reference) -> None:
        """Store structure, Hessian, modes, E_0 and D_0 of one (phase, strain); ``complete`` is set last."""
        name = _ref_path(ref.phase, ref.strain_index)
        if name in self.file:
            if _complete(self.file[name]):
                raise StoreError(f"{self.path}: reference {name} already stored")
            del self.file[name]
        g = self.file.create_group(name)
        s = g.create_group("structure")
        s["positions"], s["cell"], s["numbers"] = ref.positions, ref.cell, ref.numbers
        s["masses"], s["pbc"] = ref.masses, np.asarray(ref.pbc, dtype=bool)
        g["hessian"] = ref.hessian
        m = g.create_group("modes")
        m["kappa"], m["vectors"] = ref.modes.kappa, ref.modes.vectors
        m.attrs["mass"], m.attrs["n_atoms"] = ref.modes.mass, ref.modes.n_atoms
        m.attrs["kappa_bar"], m.attrs["mean_log_nu"] = ref.modes.kappa_bar, ref.modes.mean_log_nu
        g["D_0"] = ref.D_0
        g.create_group("shells")
        g.attrs.update(
            phase=ref.phase,
            strain=ref.strain,
            strain_index=ref.strain_index,
            n_atoms=ref.n_atoms,
            mass=ref.modes.mass,
            volume_per_atom=ref.volume_per_atom,
            E_0=ref.E_0,
            descriptor=json.dumps(ref.descriptor, sort_keys=True),
            potential=json.dumps(ref.potential, sort_keys=True),
        )
        g.attrs["complete"] = True
        self.file.flush()

    def read_reference(self, phase: str, strain_index: int) -> Reference:
        return read_reference(self.file[_ref_path(phase, strain_index)])

    # -- chunks and shells ---------------------------------------------------------------------------------
    def shell_group(
        self,
        phase: str,
        strain_index: int,
        shell_index: int,
        *,
        T_shell: float,
        alpha: float,
        n_samples: int,
        n_chunks: int,
        sizes: list[int] | None = None,
    ) -> h5py.Group:
        """The group of one shell, created with its metadata on first use; with ``sizes`` (the chunk sizes of
        the run file), a stored shell of fewer samples is resized for growth."""
        name = _shell_path(phase, strain_index, shell_index)
        g = self.file.get(name)
        if g is None:
            g = self.file.create_group(name)
            g.create_group("chunks")
            g.attrs.update(
                shell_index=shell_index,
                T_shell=float(T_shell),
                alpha=float(alpha),
                n_samples=n_samples,
                n_chunks=n_chunks,
            )
        elif sizes is not None and int(g.attrs["n_samples"]) != n_samples:
            self._resize_shell(g, n_samples, sizes)
        return g

    def _resize_shell(self, g: h5py.Group, n_samples: int, sizes: list[int]) -> None:
        """More samples per shell: drop the sketch and any chunk whose size changed (the old last, partial
        one); every other chunk is the same draw and is kept."""
        for cname, c in list(g["chunks"].items()):
            c_idx = int(cname)
            if c_idx >= len(sizes) or int(c.attrs.get("n", -1)) != sizes[c_idx]:
                del g["chunks"][cname]
        if "sketch" in g:
            del g["sketch"]
        g.attrs.update(n_samples=n_samples, n_chunks=len(sizes))
        self.file.flush()

    def drop_sketches(self) -> int:
        """Delete every shell sketch (they are recomputed from the stored chunks); returns how many."""
        n = 0
        for phase in self.file["phases"].values():
            for ref in phase.values():
                for shell in ref["shells"].values():
                    if "sketch" in shell:
                        del shell["sketch"]
                        n += 1
        self.file.flush()
        return n

    def reindex(self, phase: str, strains: list[float], shells: list[float]) -> None:
        """Rename the stored groups of one phase to the positions that their strain and shell temperature
        take in the run file (a grown run file may insert values), two-phase so that names never collide."""
        base = self.file.get(f"phases/{phase}")
        if base is None:
            return
        moves: list[tuple[h5py.Group, str, dict]] = []
        for sname, g in list(base.items()):
            si = strains.index(float(g.attrs["strain"]))
            moves.append((base, sname, {"to": f"strain_{si:02d}", "attrs": {"strain_index": si}}))
            for kname, shell in list(g["shells"].items()):
                k = shells.index(float(shell.attrs["T_shell"]))
                moves.append((g["shells"], kname, {"to": f"{k:03d}", "attrs": {"shell_index": k}}))
        # shells first (inside their strain group, whose name is still the old one), then strains
        for parent, name, move in sorted(moves, key=lambda m: m[0] is base):
            if name == move["to"]:
                parent[name].attrs.update(move["attrs"])
                continue
            parent.move(name, f"{name}.moving")
            move["tmp"] = f"{name}.moving"
        for parent, _, move in sorted(moves, key=lambda m: m[0] is base):
            if "tmp" in move:
                parent.move(move["tmp"], move["to"])
                parent[move["to"]].attrs.update(move["attrs"])
        self.file.flush()

    def update_config(self, *, config_text: str, config_hash: str, canonical_json: str, note: str) -> None:
        """Record a grown run file: the current one replaces ``/config``; the previous one is kept in
        ``/config_history/<n>`` with the note of what changed."""
        hist = self.file.require_group("config_history")
        old = self.file["config"]
        k = f"{len(hist):03d}"
        self.file.copy(old, hist, name=k)
        hist[k].attrs["replaced"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        hist[k].attrs["change"] = note
        del self.file["config"]
        ds = self.file.create_dataset("config", data=config_text, dtype=h5py.string_dtype())
        ds.attrs["hash"] = config_hash
        ds.attrs["canonical_json"] = canonical_json
        self.file.attrs["config_hash"] = config_hash
        self.file.flush()

    def completed_chunks(self, phase: str, strain_index: int, shell_index: int) -> set[int]:
        g = self.file.get(_shell_path(phase, strain_index, shell_index) + "/chunks")
        if g is None:
            return set()
        return {int(k) for k, c in g.items() if _complete(c)}

    def write_chunk(self, shell: h5py.Group, result) -> None:
        """Store one chunk's raw descriptors and harmonic energies atomically (``complete`` last); flush."""
        name = f"{result.task.chunk_index:05d}"
        chunks = shell["chunks"]
        if name in chunks:
            if _complete(chunks[name]):
                raise StoreError(f"{self.path}: chunk {chunks.name}/{name} already stored")
            del chunks[name]
        c = chunks.create_group(name)
        c["descriptors"] = result.descriptors
        c["harmonic_energy"] = result.harmonic_energy
        c.attrs.update(
            chunk_index=result.task.chunk_index,
            n=result.task.n,
            seed_entropy=result.seed_entropy,
            spawn_key=np.asarray(result.spawn_key, dtype=np.uint64),
        )
        c.attrs["complete"] = True
        self.file.flush()

    def read_chunks(self, shell: h5py.Group, n_chunks: int) -> np.ndarray:
        """Descriptors of all chunks of a shell in chunk order, shape (n_samples, d)."""
        chunks = shell["chunks"]
        return np.concatenate([chunks[f"{c:05d}"]["descriptors"][()] for c in range(n_chunks)], axis=0)

    def has_sketch(self, shell: h5py.Group) -> bool:
        return "sketch" in shell and _complete(shell["sketch"])

    def write_sketch(self, shell: h5py.Group, sketch) -> None:
        """Store the final sketch of a shell (``complete`` last) and flush."""
        if "sketch" in shell:
            del shell["sketch"]
        g = shell.create_group("sketch")
        sketch.to_hdf5(g)
        g.attrs["complete"] = True
        self.file.flush()


def read_reference(g: h5py.Group) -> Reference:
    """Read a reference group written by :meth:`CampaignStore.write_reference`."""
    s, m = g["structure"], g["modes"]
    modes = Modes(
        kappa=m["kappa"][()],
        vectors=m["vectors"][()],
        mass=float(m.attrs["mass"]),
        n_atoms=int(m.attrs["n_atoms"]),
    )
    return Reference(
        phase=_attr_str(g.attrs["phase"]),
        strain_index=int(g.attrs["strain_index"]),
        strain=float(g.attrs["strain"]),
        positions=s["positions"][()],
        cell=s["cell"][()],
        numbers=s["numbers"][()],
        masses=s["masses"][()],
        pbc=s["pbc"][()],
        hessian=g["hessian"][()],
        modes=modes,
        E_0=float(g.attrs["E_0"]),
        D_0=g["D_0"][()],
        descriptor=json.loads(_attr_str(g.attrs["descriptor"])),
        potential=json.loads(_attr_str(g.attrs["potential"])),
    )
