"""Campaign tasks: one chunk of samples on one shell, as a pure, picklable function.

A chunk task draws ``n`` configurations uniformly on the harmonic-energy shell T_α of one reference
(phase, strain) and returns their per-atom mean descriptors and harmonic energies (science-ddos.md §3). Its
randomness comes only from ``task_seed(seed, phase, strain, T_shell, chunk_index)``, so the result
does not depend on which process runs it, on the executor or on the worker count.

Descriptors are described by a small *descriptor spec* protocol: a picklable value with
``make_calculator(atoms) -> fn`` (``fn`` maps positions, shape (m, N, 3), Å, to descriptors, shape (m, d)),
``metadata() -> dict`` and ``cache_key() -> str``. :class:`LammpsDescriptorSpec` (SNAP bispectrum or any
per-atom compute, evaluated by LAMMPS with ``pair_style zero``) and :class:`ToyDescriptorSpec` (the numpy
pair-descriptor toy, for engine-free tests) are interchangeable. Calculators are built once per worker
process and reference, and cached.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ...errors import InputError
from ...harmonic import Modes
from .shells import sample_shell, task_seed

__all__ = [
    "ChunkResult",
    "ChunkTask",
    "DescriptorSpec",
    "LammpsDescriptorSpec",
    "SamplingContext",
    "clear_calculator_cache",
    "run_chunk",
]

DescriptorFn = Callable[[np.ndarray], np.ndarray]


@runtime_checkable
class DescriptorSpec(Protocol):
    """What a campaign needs to know about a descriptor (a small, picklable value)."""

    def make_calculator(self, atoms: Any) -> DescriptorFn:
        """Build the evaluator for one reference structure (an ASE ``Atoms``)."""
        ...

    def metadata(self) -> dict:
        """JSON-serialisable description stored in the campaign file."""
        ...

    def cache_key(self) -> str:
        """Stable text identifying the descriptor (for the per-worker calculator cache)."""
        ...


@dataclass(frozen=True)
class LammpsDescriptorSpec:
    """Per-atom descriptors from LAMMPS (``pair_style zero`` + a per-atom compute), averaged over atoms.

    Attributes:
        snapparam: ``.snapparam`` name or path for the SNAP bispectrum (mutually exclusive with ``compute``).
        compute: per-atom compute style and arguments, e.g. ``"sna/atom 4.6 0.99363 6 0.5 1.0 rmin0 0.0"``.
        cutoff: neighbour cutoff for ``compute``, Å.
    """

    snapparam: str | None = None
    compute: str | None = None
    cutoff: float | None = None

    def descriptor(self):
        """The engine's descriptor object (SnapDescriptor or ComputeDescriptor)."""
        from ...engines.descriptors import ComputeDescriptor, SnapDescriptor

        if self.snapparam is not None:
            return SnapDescriptor.from_snapparam(self.snapparam)
        return ComputeDescriptor(compute=self.compute, cutoff=self.cutoff)

    def make_calculator(self, atoms) -> DescriptorFn:
        from ...engines.descriptors import DescriptorCalculator

        return DescriptorCalculator(atoms, self.descriptor()).mean

    def metadata(self) -> dict:
        desc = self.descriptor()
        meta: dict[str, Any] = {"kind": "lammps", "compute": desc.compute, "cutoff": float(desc.cutoff)}
        if self.snapparam is not None:
            from ...engines.potentials import find_potential_file

            text = (
                self.snapparam
                if self.snapparam.endswith(".snapparam")
                else (self.snapparam.removesuffix(".snap") + ".snapparam")
            )
            meta["snapparam"] = str(find_potential_file(text))
            meta["snap"] = _jsonable(dataclasses.asdict(desc))
            meta["n_features"] = int(desc.n_features)
        return meta

    def cache_key(self) -> str:
        return f"lammps:{self.snapparam}:{self.compute}:{self.cutoff}"


#: stored descriptor kind → factory of its spec from the stored metadata (see :func:`spec_from_metadata`)
_SPEC_KINDS: dict[str, Callable[[dict], DescriptorSpec]] = {}


def register_descriptor_kind(kind: str, factory: Callable[[dict], DescriptorSpec]) -> None:
    """Make campaigns whose descriptor metadata has ``kind`` readable by :func:`spec_from_metadata`."""
    _SPEC_KINDS[kind] = factory


def spec_from_metadata(meta: dict) -> DescriptorSpec:
    """The descriptor spec a campaign used, rebuilt from its stored metadata."""
    kind = meta.get("kind")
    if kind not in _SPEC_KINDS:
        hint = (
            " (the engine-free test descriptor: import thermograd.testing.toy first)" if kind == "toy" else ""
        )
        raise InputError(f"unknown descriptor kind {kind!r} in the campaign file{hint}")
    return _SPEC_KINDS[kind](meta)


def _lammps_spec(meta: dict) -> LammpsDescriptorSpec:
    if meta.get("snapparam"):
        return LammpsDescriptorSpec(snapparam=str(meta["snapparam"]))
    return LammpsDescriptorSpec(compute=str(meta["compute"]), cutoff=float(meta["cutoff"]))


register_descriptor_kind("lammps", _lammps_spec)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


@dataclass(frozen=True, eq=False)
class SamplingContext:
    """Everything a chunk task needs about one reference (phase, strain); sent with every task.

    Attributes:
        phase: phase label.
        strain_index: index of the strain in the run file.
        positions: reference positions, shape (N, 3), Å.
        cell: cell vectors as rows, shape (3, 3), Å.
        numbers: atomic numbers, shape (N,).
        pbc: periodic boundary flags, shape (3,).
        modes: harmonic modes of the reference.
        descriptor: descriptor spec (see the module docstring).
    """

    phase: str
    strain_index: int
    positions: np.ndarray
    cell: np.ndarray
    numbers: np.ndarray
    pbc: tuple[bool, bool, bool]
    modes: Modes
    descriptor: Any
    key: str = field(default="", init=False)

    def __post_init__(self) -> None:
        h = hashlib.sha256()
        for arr in (self.positions, self.cell, self.numbers):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update(json.dumps([self.pbc, self.descriptor.cache_key()]).encode())
        object.__setattr__(self, "key", h.hexdigest())

    def atoms(self):
        """The reference structure as an ASE ``Atoms``."""
        from ase import Atoms

        return Atoms(numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)


@dataclass(frozen=True)
class ChunkTask:
    """One chunk: ``n`` samples on shell ``shell_index`` (temperature ``T_shell``, K) of one reference
    (phase, strain ``strain`` at position ``strain_index`` of the run file)."""

    phase: str
    strain_index: int
    shell_index: int
    chunk_index: int
    T_shell: float
    n: int
    seed: int
    strain: float = 0.0

    def seed_sequence(self) -> np.random.SeedSequence:
        """``task_seed(seed, phase, "strain=<ε>", "T=<T_shell>", chunk_index)``: keyed by values (exact float
        reprs), not by positions in the run file, so a campaign that grows keeps every chunk it had."""
        return task_seed(
            self.seed, self.phase, f"strain={self.strain!r}", f"T={self.T_shell!r}", self.chunk_index
        )


@dataclass
class ChunkResult:
    """Output of :func:`run_chunk`.

    Attributes:
        task: the task that made it.
        descriptors: per-atom mean descriptors, shape (n, d).
        harmonic_energy: harmonic energy per atom of each sample, shape (n,), eV/atom.
        seed_entropy: entropy of the task's SeedSequence.
        spawn_key: spawn key of the task's SeedSequence.
    """

    task: ChunkTask
    descriptors: np.ndarray
    harmonic_energy: np.ndarray
    seed_entropy: int
    spawn_key: tuple[int, ...]


def _single_thread_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its default thread count
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


_CACHE: OrderedDict[str, DescriptorFn] = OrderedDict()
_CACHE_SIZE = 2


def _calculator(context: SamplingContext) -> DescriptorFn:
    fn = _CACHE.get(context.key)
    if fn is None:
        fn = context.descriptor.make_calculator(context.atoms())
        _CACHE[context.key] = fn
        while len(_CACHE) > _CACHE_SIZE:
            _, old = _CACHE.popitem(last=False)
            close = getattr(getattr(old, "__self__", None), "close", None)
            if callable(close):
                close()
    else:
        _CACHE.move_to_end(context.key)
    return fn


def clear_calculator_cache() -> None:
    """Drop (and close) the calculators cached in this process."""
    while _CACHE:
        _, old = _CACHE.popitem()
        close = getattr(getattr(old, "__self__", None), "close", None)
        if callable(close):
            close()


def run_chunk(context: SamplingContext, task: ChunkTask) -> ChunkResult:
    """Sample one chunk (a pure function of its arguments; the calculator is cached per process).

    Args:
        context: the reference (structure, modes, descriptor spec).
        task: which chunk, its shell temperature, size and campaign seed.

    Returns:
        :class:`ChunkResult` with descriptors (n, d) and harmonic energies (n,) eV/atom.
    """
    ss = task.seed_sequence()
    # one BLAS thread: the (n, 3N) mode projections are small; threaded BLAS on busy cores is ~30× slower
    with _single_thread_blas():
        samples = sample_shell(
            context.modes, context.positions, task.T_shell, ss, task.n, _calculator(context)
        )
    return ChunkResult(
        task=task,
        descriptors=np.ascontiguousarray(samples.descriptors, dtype=np.float64),
        harmonic_energy=np.ascontiguousarray(samples.harmonic_energy, dtype=np.float64),
        seed_entropy=int(ss.entropy),
        spawn_key=tuple(int(k) for k in ss.spawn_key),
    )
