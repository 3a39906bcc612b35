"""A driver killed at any instant loses no finished chunk, even when the kill damages the HDF5 file.

The driver runs in a subprocess and SIGKILLs itself at a chosen point; the test then damages the campaign
file as a kill inside an HDF5 metadata write can, and checks that a rerun restores the snapshot, replays the
journal, samples only what is missing and ends with the same file as an uninterrupted campaign.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from thermograd.ddos.sampling.campaign import run_campaign
from thermograd.ddos.sampling.campaign_config import CampaignConfig
from thermograd.ddos.sampling.campaign_journal import CampaignJournal, file_is_readable
from thermograd.ddos.sampling.tasks import run_chunk
from thermograd.testing.toy import ToyReferenceBuilder

TOY = {
    "seed": 8,
    "phases": [{"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}],
    "potential": {"snap": "Mo_Zuo_JPCA2020"},
    "shells": [300.0, 900.0, 1500.0],
    "samples_per_shell": 9,
    "chunk_size": 3,
}
N_CHUNKS = 9


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, context, task):
        self.calls += 1
        return run_chunk(context, task)


def run(path: Path):
    config = CampaignConfig.model_validate({**TOY, "output": str(path)})
    count = Counting()
    summary = run_campaign(
        config, "toy\n", progress=False, builder=ToyReferenceBuilder(config), task_fn=count
    )
    return summary, count.calls


def samples(path: Path) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        f["phases"].visititems(
            lambda name, obj: (
                out.__setitem__(name, obj[()].tobytes()) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    return samples(run(tmp_path_factory.mktemp("ref") / "ref.h5")[0].path)


def kill_driver(path: Path, where: str, after: int) -> None:
    """Run the campaign in a subprocess that SIGKILLs itself at the ``after``-th call of ``where``
    ('task': while sampling a chunk; 'write': after the chunk is journalled, before it enters HDF5)."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from thermograd.ddos.sampling import campaign_store
        from thermograd.ddos.sampling.campaign import run_campaign
        from thermograd.ddos.sampling.campaign_config import CampaignConfig
        from thermograd.testing.toy import ToyReferenceBuilder
        from thermograd.ddos.sampling.tasks import run_chunk
        calls = 0
        def hit():
            global calls
            calls += 1
            if calls == {after}:
                os.kill(os.getpid(), signal.SIGKILL)
        if {where!r} == "write":
            original = campaign_store.CampaignStore.write_chunk
            def write_chunk(self, shell, result):
                hit()
                return original(self, shell, result)
            campaign_store.CampaignStore.write_chunk = write_chunk
        def task(context, t):
            if {where!r} == "task":
                hit()
            return run_chunk(context, t)
        config = CampaignConfig.model_validate({{**{TOY!r}, "output": {str(path)!r}}})
        run_campaign(config, "toy\\n", progress=False, builder=ToyReferenceBuilder(config), task_fn=task)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]


def damage(path: Path) -> None:
    """Overwrite the file's superblock and first object headers, as a torn metadata write can."""
    with path.open("r+b") as fh:
        fh.seek(0)
        fh.write(np.random.default_rng(0).bytes(4096))
    assert not file_is_readable(path)


def test_kill_that_damages_the_file_loses_no_finished_chunk(tmp_path: Path, reference: dict) -> None:
    path = tmp_path / "c.h5"
    kill_driver(path, "task", after=6)  # five chunks finished, the sixth in progress
    journal = CampaignJournal(path)
    assert journal.snapshot.exists() and len(list(journal.folder.glob("*.npz"))) == 5
    damage(path)
    with pytest.warns(UserWarning, match="damaged by a killed driver .* restored its snapshot"):
        summary, calls = run(path)
    assert summary.n_chunks_recovered == 5
    assert calls == N_CHUNKS - 5
    assert samples(path) == reference
    assert not journal.pending  # a clean end removes the snapshot and the journal
    assert len(list(tmp_path.glob("c.h5.damaged-*"))) == 1  # the damaged file is kept aside, not deleted


def test_kill_between_journal_and_hdf5_write_keeps_the_chunk(tmp_path: Path, reference: dict) -> None:
    path = tmp_path / "c.h5"
    kill_driver(path, "write", after=4)  # the fourth chunk is journalled, not yet in the HDF5 file
    assert file_is_readable(path)
    summary, calls = run(path)
    assert summary.n_chunks_recovered == 1  # only the chunk that HDF5 lacked is written from the journal
    assert calls == N_CHUNKS - 4
    assert samples(path) == reference
