"""Tests of D-DOS sampling campaigns (thermograd.ddos.sampling.campaign): determinism across executors, resume after a
crash, the HDF5 layout, refusal of foreign files, and the reader ``load_datasets``.

Most tests use the engine-free pair-descriptor toy (ToyReferenceBuilder + ToyDescriptorSpec) so that they run
in seconds; one LAMMPS-marked test runs a tiny BCC Mo campaign end to end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from thermograd.ddos.sampling.campaign import load_datasets, plan_chunks, run_campaign
from thermograd.ddos.sampling.campaign_config import CampaignConfig
from thermograd.ddos.sampling.campaign_store import FORMAT, CampaignLock
from thermograd.ddos.sampling.sketch import ShellSketch
from thermograd.ddos.sampling.tasks import run_chunk
from thermograd.errors import EngineError, StoreError, UnstableStructureError
from thermograd.testing.toy import ToyReferenceBuilder
from thermograd.units import KB

TOY = {
    "seed": 11,
    "phases": [{"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}],
    "strains": [0.0, 0.01],
    "potential": {"snap": "Mo_Zuo_JPCA2020"},  # unused by the toy builder
    "shells": [300.0, 900.0, 1500.0],
    "samples_per_shell": 12,
    "chunk_size": 5,
}
N_CHUNKS = 2 * 3 * 3  # strains × shells × chunks (5, 5, 2)


def toy_config(path: Path, **changes) -> CampaignConfig:
    return CampaignConfig.model_validate({**TOY, "output": str(path), **changes})


def run_toy(path: Path, executor: str = "serial", workers: int | None = None, **kwargs):
    config = kwargs.pop("config", None) or toy_config(path)
    builder = kwargs.pop("builder", None) or ToyReferenceBuilder(config)
    return run_campaign(
        config,
        "toy: run file text\n",
        executor=executor,
        workers=workers,
        progress=False,
        builder=builder,
        **kwargs,
    )


def content(path: Path) -> dict:
    """Every dataset and attribute below the root (not the creation time), for bitwise comparison."""
    out: dict = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            for k, v in obj.attrs.items():
                out[f"{name}@{k}"] = np.asarray(v).tobytes() if not isinstance(v, str) else v
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()].tobytes() if obj.dtype.kind != "O" else obj[()]

        f.visititems(visit)
    return out


def complete_chunks(path: Path) -> int:
    with h5py.File(path, "r") as f:
        n = 0

        def visit(name, obj):
            nonlocal n
            if "/chunks/" in name and isinstance(obj, h5py.Group) and obj.attrs.get("complete", False):
                n += 1

        f.visititems(visit)
    return n


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "toy.h5"
    summary = run_toy(path)
    assert summary.n_chunks_run == N_CHUNKS and summary.n_references_computed == 2
    return path


def test_plan_covers_every_chunk_once() -> None:
    tasks = plan_chunks(toy_config(Path("x.h5")))
    keys = {(t.phase, t.strain_index, t.shell_index, t.chunk_index) for t in tasks}
    assert len(tasks) == len(keys) == N_CHUNKS
    assert sum(t.n for t in tasks) == 2 * 3 * 12


def test_file_layout_and_provenance(reference_file: Path) -> None:
    with h5py.File(reference_file, "r") as f:
        assert f.attrs["format"] == FORMAT and int(f.attrs["format_version"]) == 1
        for key in (
            "config_hash",
            "units",
            "created",
            "thermograd_version",
            "numpy_version",
            "lammps_version",
        ):
            assert key in f.attrs
        assert f["config"][()].decode() == "toy: run file text\n"
        assert f["config"].attrs["hash"] == f.attrs["config_hash"]
        g = f["phases/fcc/strain_01"]
        assert g.attrs["complete"] and g.attrs["strain"] == 0.01
        n = int(g.attrs["n_atoms"])
        assert g["structure/positions"].shape == (n, 3) and g["hessian"].shape == (3 * n, 3 * n)
        assert g["modes/kappa"].shape == (3 * n - 3,) and g["modes/vectors"].shape == (3 * n, 3 * n - 3)
        shell = g["shells/002"]
        assert shell.attrs["T_shell"] == 1500.0 and shell.attrs["n_chunks"] == 3
        assert sorted(shell["chunks"]) == ["00000", "00001", "00002"]
        chunk = shell["chunks/00002"]
        assert chunk.attrs["complete"] and chunk.attrs["n"] == 2 and chunk["descriptors"].shape == (2, 3)
        # every sample lies on its shell: harmonic energy per atom = 1.5 k_B T
        np.testing.assert_allclose(chunk["harmonic_energy"][()], 1.5 * KB * 1500.0, rtol=1e-10)
        # the final sketch is the sketch of all chunks in chunk order
        D = np.concatenate([shell[f"chunks/{c:05d}/descriptors"][()] for c in range(3)])
        stored = ShellSketch.from_hdf5(shell["sketch"])
        fresh = ShellSketch.from_samples(D, percentile=0.5, n_bins=99)
        np.testing.assert_array_equal(stored.counts, fresh.counts)
        np.testing.assert_array_equal(stored.raw, D)


def test_load_datasets(reference_file: Path) -> None:
    datasets = load_datasets(reference_file)
    assert [(d.name, d.strain) for d in datasets] == [("fcc", 0.0), ("fcc", 0.01)]
    d = datasets[1]
    assert d.n_atoms == 32 and d.n_features == 3 and d.n_modes == 93 and d.has_raw
    np.testing.assert_array_equal(d.T_shells, [300.0, 900.0, 1500.0])
    assert d.shells[0].n_samples == 12 and d.shells[0].raw.shape == (12, 3)
    assert d.volume_per_atom == pytest.approx(3.6**3 / 4 * 1.01**3, rel=1e-12)
    assert d.kappa.shape == (93,) and d.kappa_bar == pytest.approx(np.mean(d.kappa))
    assert d.E0_reference is None  # not a linear SNAP reference
    assert d.provenance["config_hash"]


@pytest.mark.parametrize(("executor", "workers"), [("processes", 1), ("processes", 2), ("dask", 2)])
def test_bit_identical_across_executors_and_workers(
    reference_file: Path, tmp_path: Path, executor, workers
) -> None:
    path = tmp_path / "par.h5"
    summary = run_toy(path, executor=executor, workers=workers)
    assert summary.n_chunks_run == N_CHUNKS
    a, b = content(reference_file), content(path)
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k] != b[k]]
    assert differ == []


class CrashAfter:
    """A serial task that fails after ``k`` successful calls (and counts its calls)."""

    def __init__(self, k: int | None) -> None:
        self.k, self.calls = k, 0

    def __call__(self, context, task):
        if self.k is not None and self.calls >= self.k:
            raise EngineError("simulated crash")
        self.calls += 1
        return run_chunk(context, task)


class CountingBuilder(ToyReferenceBuilder):
    def __init__(self, config) -> None:
        super().__init__(config)
        self.builds = 0

    def build(self, *args):
        self.builds += 1
        return super().build(*args)


def test_resume_after_crash_recomputes_nothing_finished(reference_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "crash.h5"
    crash = CrashAfter(7)
    with pytest.raises(EngineError, match="simulated crash"):
        run_toy(path, task_fn=crash)
    assert complete_chunks(path) == 7
    config = toy_config(path)
    builder = CountingBuilder(config)
    count = CrashAfter(None)
    summary = run_toy(path, task_fn=count, config=config, builder=builder)
    assert count.calls == N_CHUNKS - 7 == summary.n_chunks_run
    assert builder.builds == 0  # Hessians were stored
    assert content(path) == content(reference_file)
    again = CrashAfter(None)
    assert run_toy(path, task_fn=again).n_chunks_run == 0 and again.calls == 0


def test_incomplete_chunk_is_redone(reference_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "partial.h5"
    with pytest.raises(EngineError):
        run_toy(path, task_fn=CrashAfter(4))
    with h5py.File(path, "r+") as f:  # a chunk whose writer died before setting `complete`
        g = f["phases/fcc/strain_00/shells/001/chunks"].create_group("00001")
        g["descriptors"] = np.zeros((5, 3))
    count = CrashAfter(None)
    run_toy(path, task_fn=count)
    assert count.calls == N_CHUNKS - 4
    assert content(path) == content(reference_file)


def kill_own_process(context, task):
    """Chunk task that kills its worker process on one chunk (a crashed/OOM-killed worker)."""
    if task.strain_index == 1 and task.shell_index == 1 and task.chunk_index == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_chunk(context, task)


def test_killed_worker_keeps_finished_chunks(reference_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "killed.h5"
    with pytest.raises(EngineError, match="rerun the same command"):
        run_toy(path, executor="processes", workers=1, task_fn=kill_own_process)
    finished = complete_chunks(path)
    assert 0 < finished < N_CHUNKS
    count = CrashAfter(None)
    run_toy(path, task_fn=count)
    assert count.calls == N_CHUNKS - finished
    assert content(path) == content(reference_file)


def test_killed_driver_leaves_a_resumable_file(reference_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "driver.h5"
    script = tmp_path / "driver.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys, time
        from thermograd.ddos.sampling.campaign import run_campaign
        from thermograd.ddos.sampling.campaign_config import CampaignConfig
        from thermograd.testing.toy import ToyReferenceBuilder
        from thermograd.ddos.sampling.tasks import run_chunk
        config = CampaignConfig.model_validate({{**{TOY!r}, "output": {str(path)!r}}})
        def slow(context, task):
            print("chunk", flush=True)
            time.sleep(0.5)
            return run_chunk(context, task)
        run_campaign(config, "toy: run file text\\n", progress=False, builder=ToyReferenceBuilder(config),
                     task_fn=slow)
    """)
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    for _ in range(6):
        assert proc.stdout.readline().strip() == "chunk"
    proc.kill()
    proc.wait()
    proc.stdout.close()
    count = CrashAfter(None)
    run_toy(path, task_fn=count)
    assert 0 < count.calls < N_CHUNKS
    assert content(path) == content(reference_file)


def test_unstable_reference_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "unstable.h5"
    config = toy_config(path)
    theta = (
        -ToyReferenceBuilder(config)
        .descriptor_spec.toy(ToyReferenceBuilder(config)._atoms(config.phases[0].structure, 0.0))
        .default_theta()
    )
    with pytest.raises(UnstableStructureError, match=r"phase 'fcc', strain \+0: unstable reference") as err:
        run_toy(path, config=config, builder=ToyReferenceBuilder(config, theta=theta))
    assert "\n" not in str(err.value)
    assert not path.exists()


@pytest.mark.parametrize("kind", ["other-campaign", "foreign-hdf5", "not-hdf5", "empty"])
def test_refuses_foreign_or_corrupt_output_and_leaves_it_untouched(
    reference_file: Path, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "out.h5"
    if kind == "other-campaign":
        path.write_bytes(reference_file.read_bytes())
        config = toy_config(path, seed=12)
        match = "different campaign"
    else:
        config = toy_config(path)
        if kind == "foreign-hdf5":
            with h5py.File(path, "w") as f:
                f["data"] = np.arange(3)
            match = "not a thermograd campaign"
        else:
            path.write_bytes(b"" if kind == "empty" else b"results: 1, 2, 3\n" * 100)
            match = "not an HDF5 file"
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(StoreError, match=match) as err:
        run_toy(path, config=config)
    assert "\n" not in str(err.value)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    if kind != "other-campaign":
        with pytest.raises(StoreError):
            load_datasets(path)


def test_second_driver_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.h5"
    with CampaignLock(path):
        with pytest.raises(StoreError, match="another thermograd driver"):
            run_toy(path)
    assert not path.exists()
    run_toy(path)  # lock released


@pytest.mark.lammps
def test_lammps_end_to_end_tiny_bcc_mo(tmp_path: Path) -> None:
    """16-atom BCC Mo with the shipped linear SNAP Mo_Zuo_JPCA2020: serial and 2 processes agree bitwise."""
    base = {
        "seed": 3,
        "phases": [
            {"name": "bcc", "structure": {"builder": "bcc", "element": "Mo", "a": 3.16, "size": [2, 2, 2]}}
        ],
        "potential": {"snap": "Mo_Zuo_JPCA2020"},
        "shells": [500.0, 2000.0],
        "samples_per_shell": 8,
        "chunk_size": 3,
    }
    files = []
    for executor, workers in (("serial", None), ("processes", 2)):
        path = tmp_path / f"{executor}.h5"
        config = CampaignConfig.model_validate({**base, "output": str(path)})
        run_campaign(config, "mo\n", executor=executor, workers=workers, progress=False)
        files.append(path)
    assert content(files[0]) == content(files[1])
    (d,) = load_datasets(files[0])
    assert d.n_atoms == 16 and d.n_features == 30 and d.mass == pytest.approx(95.95)
    assert np.all(d.kappa > 0)
    assert d.E0_reference is not None  # linear SNAP: θ·D_0
    with h5py.File(files[0], "r") as f:
        g = f["phases/bcc/strain_00"]
        beta0 = -17.762702673549285  # constant term of Mo_Zuo_JPCA2020.snapcoeff
        assert g.attrs["E_0"] == pytest.approx(beta0 + d.E0_reference, abs=1e-8)
        np.testing.assert_allclose(
            g["shells/001/chunks/00000/harmonic_energy"][()], 1.5 * KB * 2000.0, rtol=1e-10
        )


@pytest.mark.lammps
def test_lammps_eam_reference_with_generic_compute_descriptor(tmp_path: Path) -> None:
    """EAM Hessian reference (pair_style/pair_coeff lines) + a generic per-atom compute as the descriptor."""
    config = CampaignConfig.model_validate(
        {
            "output": str(tmp_path / "w.h5"),
            "seed": 4,
            "phases": [
                {"name": "bcc", "structure": {"builder": "bcc", "element": "W", "a": 3.165, "size": 2}}
            ],
            "potential": {
                "pair_style": "eam/alloy",
                "pair_coeff": "* * W_zhou.eam.alloy W",
                "elements": ["W"],
            },
            "descriptor": {"compute": "sna/atom 4.7 0.99363 4 0.5 1.0 rmin0 0.0", "cutoff": 4.7},
            "shells": [1000.0],
            "samples_per_shell": 4,
            "chunk_size": 2,
        }
    )
    run_campaign(config, "w\n", progress=False)
    (d,) = load_datasets(config.output)
    assert d.n_atoms == 16 and d.n_features == 14 and d.E0_reference is None
    assert d.descriptor["compute"].startswith("sna/atom 4.7")


def test_chunks_in_flight_follow_the_dask_cluster_size() -> None:
    """With a scheduler address and no --workers, every worker thread of the cluster gets work (two chunks per
    thread in flight), re-read as workers join; without a cluster, two per requested worker."""
    from thermograd.ddos.sampling.campaign import _in_flight

    class Client:
        def __init__(self, threads):
            self.threads = threads

        def scheduler_info(self):
            return {"workers": {f"tcp://w{i}": {"nthreads": n} for i, n in enumerate(self.threads)}}

    class ClusterExecutor:
        def __init__(self, threads):
            self._client = Client(threads)

    ex = ClusterExecutor([1] * 64)
    assert _in_flight(ex, "dask", None, "tcp://scheduler:8786") == 2 * 64 + 2
    ex._client.threads = [1] * 64 + [4] * 16  # more workers joined
    assert _in_flight(ex, "dask", None, "tcp://scheduler:8786") == 2 * 128 + 2
    assert _in_flight(ex, "dask", 3, "tcp://scheduler:8786") == 2 * 3 + 2  # an explicit --workers wins
    assert _in_flight(object(), "processes", 4, None) == 10
    assert _in_flight(object(), "serial", None, None) == 1
