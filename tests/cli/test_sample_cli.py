"""Tests of ``thermograd sample``: bad input is one clear line on stderr, exit code ≠ 0, no traceback, and
nothing lost; a tiny LAMMPS campaign runs and resumes from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from thermograd.cli import main
from thermograd.ddos.sampling.campaign import load_datasets, run_campaign
from thermograd.ddos.sampling.campaign_config import CampaignConfig
from thermograd.testing.toy import ToyReferenceBuilder

MO = {
    "output": "mo.h5",
    "seed": 5,
    "phases": [{"name": "bcc", "structure": {"builder": "bcc", "element": "Mo", "a": 3.16, "size": 2}}],
    "potential": {"snap": "Mo_Zuo_JPCA2020"},
    "shells": "500/1500/2",
    "samples_per_shell": 6,
    "chunk_size": 4,
}


def write_run(tmp_path: Path, **changes) -> Path:
    data = {**MO, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sample(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["sample", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, fragment: str) -> None:
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("thermograd sample: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_unknown_key_did_you_mean(tmp_path: Path, capsys) -> None:
    run = write_run(tmp_path, samples_per_shell=None, sample_per_shell=6)
    code, _, err = sample(capsys, run, "--no-progress")
    assert_one_line_error(code, err, "did you mean 'samples_per_shell'")
    assert not (tmp_path / "mo.h5").exists()


def test_missing_potential_file(tmp_path: Path, capsys) -> None:
    run = write_run(
        tmp_path,
        potential={"eam": "No_such_potential.eam.alloy", "elements": ["Mo"]},
        descriptor={"snapparam": "Mo_Zuo_JPCA2020"},
    )
    code, _, err = sample(capsys, run, "--no-progress")
    assert_one_line_error(code, err, "No_such_potential.eam.alloy")
    assert not (tmp_path / "mo.h5").exists()


def test_output_holding_a_different_campaign_is_untouched(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mo.h5"
    other = CampaignConfig.model_validate(
        {
            **MO,
            "output": str(out),
            "seed": 6,
            "phases": [
                {"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}
            ],
        }
    )
    run_campaign(other, "other\n", progress=False, builder=ToyReferenceBuilder(other))
    before, mtime = out.read_bytes(), out.stat().st_mtime_ns
    code, _, err = sample(capsys, write_run(tmp_path), "--no-progress")
    assert_one_line_error(code, err, "holds a different campaign")
    assert out.read_bytes() == before and out.stat().st_mtime_ns == mtime
    # and a non-HDF5 file in the way
    out.write_text("precious notes\n")
    code, _, err = sample(capsys, write_run(tmp_path), "--no-progress")
    assert_one_line_error(code, err, "not an HDF5 file")
    assert out.read_text() == "precious notes\n"


def test_entry_point_prints_no_traceback(tmp_path: Path) -> None:
    run = write_run(tmp_path, seed=-1)
    proc = subprocess.run(
        [sys.executable, "-m", "thermograd.cli", "sample", str(run)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "seed" in proc.stderr


@pytest.mark.lammps
def test_unstable_reference(tmp_path: Path, capsys) -> None:
    run = write_run(
        tmp_path,
        phases=[
            {
                "name": "fcc",
                "structure": {"builder": "fcc", "element": "Mo", "volume_per_atom": 15.8, "size": 2},
            }
        ],
    )
    code, _, err = sample(capsys, run, "--no-progress")
    assert_one_line_error(code, err, "unstable reference structure")
    assert "phase 'fcc'" in err
    assert not (tmp_path / "mo.h5").exists()


@pytest.mark.lammps
def test_descriptor_compute_that_does_not_exist(tmp_path: Path, capsys) -> None:
    run = write_run(tmp_path, descriptor={"compute": "nosuchthing/atom 1.0", "cutoff": 4.0})
    code, _, err = sample(capsys, run, "--no-progress")
    assert_one_line_error(code, err, "nosuchthing")
    assert not (tmp_path / "mo.h5").exists()


@pytest.mark.lammps
def test_sample_runs_and_resumes(tmp_path: Path, capsys) -> None:
    run = write_run(tmp_path)
    code, out, _ = sample(capsys, run, "--no-progress")
    assert code == 0 and "4 sampled now" in out
    code, out, _ = sample(capsys, run, "--no-progress", "--executor", "processes", "--workers", "2")
    assert code == 0 and "0 sampled now, 4 already stored" in out
    (d,) = load_datasets(tmp_path / "mo.h5")
    assert d.n_atoms == 16 and len(d.shells) == 2 and d.shells[0].raw.shape == (6, 30)
    with h5py.File(tmp_path / "mo.h5", "r") as f:
        assert f["config"][()].decode() == run.read_text()
        assert np.all(f["phases/bcc/strain_00/modes/kappa"][()] > 0)
