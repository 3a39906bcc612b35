"""D-DOS sampling campaigns: plan → tasks → executor → HDF5 store → resume (science-ddos.md §3, §5, §12).

A campaign samples, for every phase × strain of a reference structure, ``samples_per_shell`` configurations
uniformly on each harmonic-energy shell T_α and records their per-atom mean descriptors. The driver sets up
each reference (structure, Hessian → modes, E_0, D_0; stored once), then dispatches chunk tasks
(:func:`thermograd.ddos.sampling.tasks.run_chunk`, pure and seeded by (seed, phase, strain, shell, chunk)) through any
``concurrent.futures.Executor`` and streams finished chunks into the campaign file, flushing after each.
When all chunks of a shell are in, the shell's sketch (PCA + histograms, optional raw samples) is computed
from the chunks in chunk order, so the file's content is bit-identical whatever the executor and worker
count. A rerun of the same run file skips every finished reference, chunk and sketch.

:func:`load_datasets` reads a campaign file into :class:`~thermograd.ddos.dataset.PhaseDataset` objects for
the model fit.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ...errors import EngineError, StoreError, ThermogradError
from ...harmonic import shell_alpha
from ..dataset import PhaseDataset
from .campaign_config import CampaignConfig, load_campaign_config
from .campaign_journal import CampaignJournal
from .campaign_store import CampaignLock, CampaignStore, check_campaign_file, read_reference
from .references import LammpsReferenceBuilder, context_of
from .sketch import ShellSketch
from .tasks import ChunkTask, run_chunk

__all__ = ["CampaignSummary", "load_datasets", "plan_chunks", "run_campaign", "run_campaign_file"]


@dataclass
class CampaignSummary:
    """What one call of :func:`run_campaign` did.

    Attributes:
        path: the campaign file.
        n_references: (phase, strain) references in the campaign.
        n_references_computed: references set up in this call (the others were read from the file).
        n_chunks: chunks in the campaign.
        n_chunks_run: chunks sampled in this call.
        n_shells_finalised: shell sketches written in this call.
        n_samples: samples in the campaign.
        grown: what the run file added to an existing campaign (empty for a new or unchanged one).
        n_chunks_recovered: chunks restored from the journal of a killed driver.
    """

    path: Path
    n_references: int
    n_references_computed: int
    n_chunks: int
    n_chunks_run: int
    n_shells_finalised: int
    n_samples: int
    grown: list[str]
    n_chunks_recovered: int = 0


def plan_chunks(config: CampaignConfig) -> list[ChunkTask]:
    """Every chunk task of a campaign, in deterministic order (phase, strain, shell, chunk)."""
    tasks = []
    for phase in config.phases:
        for si, strain in enumerate(config.strains):
            for k, T in enumerate(config.shell_temperatures):
                for c, n in enumerate(config.chunk_sizes):
                    tasks.append(ChunkTask(phase.name, si, k, c, float(T), n, config.seed, float(strain)))
    return tasks


def _in_flight(ex, executor_kind: str, workers: int | None, scheduler: str | None) -> int:
    """Chunks kept in flight: two per worker (one running, one queued) plus two. On a Dask cluster given by
    address without ``workers``, the cluster's current worker threads (workers may join while it runs)."""
    if executor_kind == "serial" and not scheduler:
        return 1
    client = getattr(ex, "_client", None)  # distributed's ClientExecutor
    if client is not None and workers is None:
        try:
            threads = sum(int(w.get("nthreads", 1)) for w in client.scheduler_info()["workers"].values())
        except Exception:  # scheduler info unavailable: the default below
            threads = 0
        return 2 * max(threads, 2) + 2
    return 2 * (workers or 2) + 2


class _Shells:
    """Book-keeping of the shells of a campaign: which chunks remain, and the final sketch."""

    def __init__(
        self, store: CampaignStore, config: CampaignConfig, refs: dict, journal: CampaignJournal | None = None
    ) -> None:
        self.store, self.config, self.journal = store, config, journal
        self.groups: dict[tuple, h5py.Group] = {}
        self.remaining: dict[tuple, set[int]] = {}
        n_chunks = len(config.chunk_sizes)
        for (phase, si), ref in refs.items():
            for k, T in enumerate(config.shell_temperatures):
                g = store.shell_group(
                    phase,
                    si,
                    k,
                    T_shell=T,
                    alpha=float(shell_alpha(T, ref.modes.kappa_bar)),
                    n_samples=config.samples_per_shell,
                    n_chunks=n_chunks,
                    sizes=config.chunk_sizes,
                )
                self.groups[(phase, si, k)] = g
                if not store.has_sketch(g):
                    self.remaining[(phase, si, k)] = set(range(n_chunks)) - store.completed_chunks(
                        phase, si, k
                    )
        self.n_finalised = 0

    def pending(self, task: ChunkTask) -> bool:
        return task.chunk_index in self.remaining.get((task.phase, task.strain_index, task.shell_index), ())

    def add(self, result) -> None:
        t = result.task
        key = (t.phase, t.strain_index, t.shell_index)
        if self.journal is not None:
            self.journal.record(result)  # durable before HDF5 is touched
        self.store.write_chunk(self.groups[key], result)
        self.remaining[key].discard(t.chunk_index)
        if not self.remaining[key]:
            self.finalise(key)

    def finalise(self, key: tuple) -> None:
        g = self.groups[key]
        D = self.store.read_chunks(g, len(self.config.chunk_sizes))
        sketch = ShellSketch.from_samples(
            D, percentile=self.config.percentile, n_bins=self.config.n_bins, keep_raw=self.config.keep_raw
        )
        self.store.write_sketch(g, sketch)
        del self.remaining[key]
        self.n_finalised += 1

    def finalise_ready(self) -> None:
        for key in [k for k, rest in self.remaining.items() if not rest]:
            self.finalise(key)


def _grow(store: CampaignStore, config: CampaignConfig, change, text: str, config_hash: str, canonical: str):
    """Absorb a grown run file: stored groups take their new positions, sketches whose settings changed are
    dropped (recomputed from the chunks), and the run file is recorded with the previous one in history."""
    for phase in config.phases:
        store.reindex(phase.name, [float(s) for s in config.strains], config.shell_temperatures)
    if change.resketch:
        store.drop_sketches()
    note = "; ".join(change.grown + (["sketch settings changed"] if change.resketch else []))
    store.update_config(config_text=text, config_hash=config_hash, canonical_json=canonical, note=note)


def _replay(journal: CampaignJournal, shells: _Shells, plan: list[ChunkTask]) -> int:
    """Write the chunks journalled by a killed driver that the campaign file lacks; returns how many."""
    by_value = {(t.phase, t.strain, t.T_shell, t.chunk_index): t for t in plan}
    n = 0
    for entry in journal.entries():
        old = entry.task
        task = by_value.get((old.phase, old.strain, old.T_shell, old.chunk_index))
        if task is None or task.n != old.n or task.seed != old.seed or not shells.pending(task):
            continue
        shells.add(dataclasses.replace(entry, task=task))
        n += 1
    return n


def _worker_failure(exc: BaseException, path: Path) -> ThermogradError:
    name = type(exc).__name__
    return EngineError(
        f"a worker failed ({name}: {str(exc).splitlines()[0] if str(exc) else 'no message'}); "
        f"finished chunks are kept in {path}; rerun the same command to resume"
    )


def run_campaign(
    config: CampaignConfig,
    config_text: str = "",
    *,
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    builder=None,
    task_fn: Callable = run_chunk,
) -> CampaignSummary:
    """Run (or resume) a campaign into ``config.output``.

    Args:
        config: validated campaign (paths absolute, see :func:`load_campaign_config`).
        config_text: the run file's YAML text, stored for provenance.
        executor: ``serial``, ``processes`` or ``dask`` (see :func:`thermograd.parallel.make_executor`).
        workers: worker processes for ``processes`` or a local Dask cluster.
        scheduler: address of an existing Dask scheduler.
        progress: show a tqdm progress bar (stderr).
        builder: reference builder (default :class:`~thermograd.ddos.sampling.references.LammpsReferenceBuilder`).
        task_fn: the chunk task, ``task_fn(context, task) -> ChunkResult`` (picklable for parallel executors).

    Returns:
        :class:`CampaignSummary`.

    Raises:
        StoreError: the output holds something else, or another driver holds the lock (file untouched).
        ThermogradError: bad potential/descriptor/structure, unstable reference, failed worker.
    """
    builder = builder if builder is not None else LammpsReferenceBuilder(config)
    out = Path(config.output)
    with CampaignLock(out):
        journal = CampaignJournal(out)
        repaired = journal.recover()
        if repaired:
            warnings.warn(repaired, stacklevel=2)
        builder.check()
        files = builder.file_digests() if hasattr(builder, "file_digests") else {}
        canonical_json = config.canonical_json(files)
        config_hash = config.config_hash(files)
        change = check_campaign_file(out, canonical=config.canonical(files)) if out.exists() else None
        store: CampaignStore | None = None

        def open_store() -> CampaignStore:
            return CampaignStore.open_or_create(
                out,
                config_text=config_text,
                config_hash=config_hash,
                canonical_json=canonical_json,
                seed=config.seed,
            )

        try:
            if out.exists():
                store = open_store()
                if change is not None and not change.unchanged:
                    _grow(store, config, change, config_text, config_hash, canonical_json)
            refs, n_computed = {}, 0
            for phase in config.phases:
                for si, strain in enumerate(config.strains):
                    if store is not None and store.has_reference(phase.name, si):
                        refs[(phase.name, si)] = store.read_reference(phase.name, si)
                        continue
                    ref = builder.build(phase, si, strain)
                    store = store or open_store()
                    store.write_reference(ref)
                    # sample from the stored copy, as a resumed run does: the same arrays (values and memory
                    # layout) give the same arithmetic, so resumed and uninterrupted campaigns agree bit for bit
                    refs[(phase.name, si)] = store.read_reference(phase.name, si)
                    n_computed += 1
            contexts = {key: context_of(ref, builder.descriptor_spec) for key, ref in refs.items()}
            all_tasks = plan_chunks(config)
            shells = _Shells(store, config, refs)
            n_replayed = _replay(journal, shells, all_tasks)
            shells.finalise_ready()
            todo = [t for t in all_tasks if shells.pending(t)]
            n_finalised = shells.n_finalised
            if todo:
                # snapshot the consistent file before this run writes chunks into it (campaign_journal)
                store.close()
                journal.begin()
                store = open_store()
                shells = _Shells(store, config, refs, journal=journal)
            n_samples = config.samples_per_shell * len(refs) * len(config.shell_temperatures)
            n_run = _dispatch(
                todo,
                contexts,
                shells,
                store.path,
                task_fn,
                executor,
                workers,
                scheduler,
                progress,
                total=n_samples,
            )
            return CampaignSummary(
                grown=list(change.grown) if change is not None else [],
                path=out,
                n_references=len(refs),
                n_references_computed=n_computed,
                n_chunks=len(all_tasks),
                n_chunks_run=n_run,
                n_shells_finalised=n_finalised + (shells.n_finalised if todo else 0),
                n_samples=n_samples,
                n_chunks_recovered=n_replayed,
            )
        finally:
            if store is not None:
                store.close()
                journal.clear()  # the file was closed normally: it is consistent on its own


def _dispatch(
    todo, contexts, shells: _Shells, path: Path, task_fn, executor, workers, scheduler, progress, total: int
) -> int:
    """Submit ``todo`` with a bounded number in flight; store each result as it completes."""
    from tqdm import tqdm

    from ...parallel import make_executor

    if not todo:
        return 0
    done_samples = total - sum(t.n for t in todo)
    bar = tqdm(
        total=total,
        initial=done_samples,
        unit="sample",
        disable=not progress,
        dynamic_ncols=True,
        desc="sampling",
    )
    n_run = 0
    failure: BaseException | None = None
    try:
        with make_executor(executor, workers, scheduler) as ex:
            queue = iter(todo)
            pending: dict[Future, ChunkTask] = {}

            def fill() -> BaseException | None:
                limit = _in_flight(ex, executor, workers, scheduler)
                while failure is None and len(pending) < limit:
                    task = next(queue, None)
                    if task is None:
                        return None
                    try:
                        fut = ex.submit(task_fn, contexts[(task.phase, task.strain_index)], task)
                    except BrokenProcessPool as exc:
                        return _worker_failure(exc, path)
                    pending[fut] = task
                return None

            failure = fill()
            while pending:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: _order(pending[f])):
                    task = pending.pop(fut)
                    try:
                        result = fut.result()
                    except ThermogradError as exc:
                        failure = failure or exc
                        continue
                    except BrokenProcessPool as exc:
                        failure = failure or _worker_failure(exc, path)
                        continue
                    except Exception as exc:
                        if type(exc).__name__ in ("KilledWorker", "CancelledError", "CommClosedError"):
                            failure = failure or _worker_failure(exc, path)
                            continue
                        failure = failure or exc
                        continue
                    shells.add(result)
                    n_run += 1
                    bar.update(task.n)
                if failure is not None:
                    for fut in list(pending):
                        if fut.cancel():
                            pending.pop(fut)
                failure = failure or fill()
    finally:
        bar.close()
    if failure is not None:
        raise failure
    return n_run


def _order(task: ChunkTask) -> tuple:
    return (task.phase, task.strain_index, task.shell_index, task.chunk_index)


def run_campaign_file(path: str | Path, **kwargs) -> CampaignSummary:
    """Load a run file and :func:`run_campaign` it (keyword arguments are passed on)."""
    config, text = load_campaign_config(path)
    return run_campaign(config, text, **kwargs)


def _snap_E0(ref_potential: dict, descriptor: dict, D_0: np.ndarray, element: str) -> float | None:
    """θ_ref·D_0 when the reference is a linear SNAP whose own bispectrum is the campaign descriptor."""
    if not ref_potential.get("linear_snap") or descriptor.get("kind") != "lammps":
        return None
    snapparam = descriptor.get("snapparam")
    if snapparam is None or Path(str(snapparam)).resolve() != Path(ref_potential["snapparam"]).resolve():
        return None
    try:
        from ...io.snap import read_snapcoeff

        theta = np.asarray(read_snapcoeff(ref_potential["snapcoeff"]).theta(element), dtype=float)
    except (OSError, ThermogradError, KeyError, ValueError):
        return None
    return float(theta @ D_0) if theta.shape == D_0.shape else None


def load_datasets(path: str | Path, *, require_complete: bool = False) -> list[PhaseDataset]:
    """Read a campaign file into one :class:`PhaseDataset` per (phase, strain), in file order.

    Shells without a finished sketch are left out (a phase with none is skipped); raw samples are filled
    when the campaign kept them.

    Args:
        path: campaign HDF5 file.
        require_complete: raise instead of skipping unfinished shells or references.

    Raises:
        StoreError: not a campaign file, or (with ``require_complete``) an unfinished campaign.
    """
    from ase.data import chemical_symbols

    path = Path(path)
    if not path.exists():
        raise StoreError(f"campaign file not found: {path}")
    check_campaign_file(path)
    out: list[PhaseDataset] = []
    with h5py.File(path, "r") as f:
        provenance = {
            "source": str(path),
            "config_hash": str(f.attrs["config_hash"]),
            "seed": int(f.attrs["seed"]),
            "created": str(f.attrs.get("created", "")),
            "thermograd_version": str(f.attrs.get("thermograd_version", "")),
            "lammps_version": str(f.attrs.get("lammps_version", "")),
            "config": f["config"][()].decode()
            if isinstance(f["config"][()], bytes)
            else str(f["config"][()]),
        }
        for phase in f["phases"]:
            for sname in sorted(f["phases"][phase]):
                g = f["phases"][phase][sname]
                if not g.attrs.get("complete", False):
                    if require_complete:
                        raise StoreError(f"{path}: reference {g.name} is unfinished; rerun the campaign")
                    continue
                ref = read_reference(g)
                shells = []
                for kname in sorted(g["shells"]):
                    sg = g["shells"][kname]
                    if "sketch" not in sg or not sg["sketch"].attrs.get("complete", False):
                        if require_complete:
                            raise StoreError(f"{path}: shell {sg.name} is unfinished; rerun the campaign")
                        continue
                    sketch = ShellSketch.from_hdf5(sg["sketch"])
                    shells.append(sketch.to_shell_data(float(sg.attrs["T_shell"]), float(sg.attrs["alpha"])))
                if not shells:
                    continue
                element = chemical_symbols[int(ref.numbers[0])]
                out.append(
                    PhaseDataset(
                        name=ref.phase,
                        n_atoms=ref.n_atoms,
                        mass=ref.modes.mass,
                        volume_per_atom=ref.volume_per_atom,
                        strain=ref.strain,
                        D_0=ref.D_0,
                        kappa_bar=ref.modes.kappa_bar,
                        mean_log_nu=ref.modes.mean_log_nu,
                        n_modes=ref.modes.n_modes,
                        shells=shells,
                        kappa=ref.modes.kappa,
                        E0_reference=_snap_E0(ref.potential, ref.descriptor, ref.D_0, element),
                        descriptor=ref.descriptor,
                        provenance={
                            **provenance,
                            "E_0": ref.E_0,
                            "potential": json.dumps(ref.potential),
                            "group": g.name,
                        },
                    )
                )
    return out
