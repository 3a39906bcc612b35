"""Campaigns that grow: a run file that adds shells, samples, strains or phases reuses every finished chunk and
gives the same file as a fresh campaign of the grown run file; a change of identity is refused with the keys
that differ; moving the run folder keeps the campaign (engine-free toy descriptor, seconds)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from thermograd.ddos.sampling.campaign import load_datasets, run_campaign
from thermograd.ddos.sampling.campaign_config import CampaignConfig, load_campaign_config
from thermograd.ddos.sampling.references import LammpsReferenceBuilder
from thermograd.ddos.sampling.tasks import run_chunk
from thermograd.errors import StoreError
from thermograd.testing.toy import ToyReferenceBuilder

BASE = {
    "seed": 3,
    "phases": [{"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}],
    "strains": [0.0],
    "potential": {"snap": "Mo_Zuo_JPCA2020"},  # unused by the toy builder
    "shells": [300.0, 900.0, 1500.0, 2100.0],
    "samples_per_shell": 8,
    "chunk_size": 3,
}


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, context, task):
        self.calls += 1
        return run_chunk(context, task)


def run(path: Path, **changes):
    config = CampaignConfig.model_validate({**BASE, "output": str(path), **changes})
    count = Counting()
    summary = run_campaign(
        config, "toy\n", progress=False, builder=ToyReferenceBuilder(config), task_fn=count
    )
    return summary, count.calls


def phases_content(path: Path) -> dict:
    """Every dataset and attribute under /phases (the samples, references and sketches)."""
    out: dict = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            for k, v in obj.attrs.items():
                out[f"{name}@{k}"] = v if isinstance(v, str) else np.asarray(v).tobytes()
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()].tobytes()

        f["phases"].visititems(visit)
    return out


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_same(a: Path, b: Path) -> None:
    ca, cb = phases_content(a), phases_content(b)
    assert ca.keys() == cb.keys()
    assert [k for k in ca if ca[k] != cb[k]] == []


def test_growing_from_four_to_eight_shells_samples_only_the_new_ones(tmp_path: Path) -> None:
    grown = tmp_path / "grown.h5"
    _, first = run(grown)
    assert first == 4 * 3  # shells × chunks (3, 3, 2)
    eight = [300.0, 600.0, 900.0, 1200.0, 1500.0, 1800.0, 2100.0, 2400.0]  # new shells interleaved
    summary, calls = run(grown, shells=eight)
    assert calls == 4 * 3 == summary.n_chunks_run
    assert summary.grown == ["shells 600, 1200, 1800, 2400 K added"]
    fresh = tmp_path / "fresh.h5"
    run(fresh, shells=eight)
    assert_same(grown, fresh)
    np.testing.assert_array_equal(load_datasets(grown)[0].T_shells, eight)
    with h5py.File(grown, "r") as f:  # the previous run file is kept, with what changed
        assert f["config_history/000"].attrs["change"] == "shells 600, 1200, 1800, 2400 K added"
    # an unchanged rerun does nothing
    assert run(grown, shells=eight)[1] == 0


def test_more_samples_redo_only_the_partial_chunk(tmp_path: Path) -> None:
    grown = tmp_path / "grown.h5"
    run(grown)  # 8 samples: chunks of 3, 3, 2
    summary, calls = run(grown, samples_per_shell=12)  # chunks of 3, 3, 3, 3
    assert calls == 4 * 2  # per shell: the old partial chunk (2 → 3 samples) and one new chunk
    assert summary.grown == ["samples_per_shell 8 → 12"]
    fresh = tmp_path / "fresh.h5"
    run(fresh, samples_per_shell=12)
    assert_same(grown, fresh)


def test_added_strain_and_phase_reuse_everything_else(tmp_path: Path) -> None:
    grown = tmp_path / "grown.h5"
    run(grown)
    other = {"name": "fcc_b", "structure": {"builder": "fcc", "element": "Cu", "a": 3.62, "size": 2}}
    changes = {"strains": [-0.01, 0.0], "phases": [*BASE["phases"], other]}
    summary, calls = run(grown, **changes)
    assert calls == 3 * 4 * 3  # three new references (fcc −1 %, fcc_b 0 and −1 %) × shells × chunks
    assert summary.n_references_computed == 3
    fresh = tmp_path / "fresh.h5"
    run(fresh, **changes)
    assert_same(grown, fresh)


def test_new_sketch_settings_are_recomputed_without_sampling(tmp_path: Path) -> None:
    grown = tmp_path / "grown.h5"
    run(grown)
    summary, calls = run(grown, percentile=2.0, n_bins=31)
    assert calls == 0 and summary.n_shells_finalised == 4
    fresh = tmp_path / "fresh.h5"
    run(fresh, percentile=2.0, n_bins=31)
    assert_same(grown, fresh)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"seed": 4}, "seed: 3 → 4"),
        ({"chunk_size": 4}, "chunk_size: 3 → 4"),
        ({"shells": [300.0, 900.0, 2100.0]}, "shells: 1500 K removed"),
        ({"samples_per_shell": 6}, "samples_per_shell: 8 → 6"),
        (
            {
                "phases": [
                    {"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.61, "size": 2}}
                ]
            },
            "phases[fcc].structure.a: 3.6 → 3.61",
        ),
    ],
)
def test_a_refused_change_names_the_keys_and_leaves_the_file(tmp_path: Path, changes, named) -> None:
    path = tmp_path / "c.h5"
    run(path)
    before = sha(path)
    with pytest.raises(StoreError, match="holds a different campaign") as err:
        run(path, **changes)
    assert named in str(err.value) and "\n" not in str(err.value)
    assert sha(path) == before


def test_moved_run_folder_keeps_the_campaign_identity(tmp_path: Path) -> None:
    """The identity holds file names and contents, not absolute paths: a moved folder is the same campaign,
    an edited structure file is not."""
    a = tmp_path / "a"
    a.mkdir()
    (a / "cell.xyz").write_text(
        '2\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3\nMo 0 0 0\nMo 1.5 1.5 1.5\n'
    )
    (a / "run.yaml").write_text(
        "output: c.h5\nseed: 1\nphases: [{name: bcc, structure: {file: cell.xyz}}]\n"
        "potential: {snap: Mo_Zuo_JPCA2020}\nshells: [500]\nsamples_per_shell: 4\n"
    )
    b = tmp_path / "elsewhere" / "b"
    shutil.copytree(a, b)

    def identity(folder: Path) -> str:
        config, _ = load_campaign_config(folder / "run.yaml")
        return config.config_hash(LammpsReferenceBuilder(config).file_digests())

    assert identity(a) == identity(b)
    (b / "cell.xyz").write_text((b / "cell.xyz").read_text().replace("1.5 1.5 1.5", "1.5 1.5 1.4"))
    assert identity(a) != identity(b)


def test_a_campaign_of_the_earlier_sampler_is_read_but_not_resumed(tmp_path: Path) -> None:
    """Files made before chunks were seeded by value (no ``sampler`` attribute) stay readable; resuming or
    growing one would mix two draws, so it is refused in one line and the file is left as it was."""
    path = tmp_path / "old.h5"
    run(path)
    with h5py.File(path, "r+") as f:
        del f.attrs["sampler"]
    before = sha(path)
    assert len(load_datasets(path)) == 1
    with pytest.raises(StoreError, match=r"sampled by an earlier thermograd .* not resumed or grown"):
        run(path, shells=[*BASE["shells"], 2700.0])
    assert sha(path) == before
