"""``thermograd info``: campaigns (complete, interrupted, never started), tilt files, models, .snapcoeff and
DescriptorDOS shell data made by the real code paths (engine-free toy descriptor); files are never changed,
and foreign or damaged files give one line and exit 2."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import thermograd
from thermograd.cli import main
from thermograd.ddos.sampling.campaign import run_campaign
from thermograd.ddos.sampling.campaign_config import CampaignConfig
from thermograd.ddos.sampling.tasks import run_chunk
from thermograd.ddos.sampling.tilt_campaign import TiltPlan, run_tilt
from thermograd.errors import EngineError
from thermograd.io.snap import SnapCoefficients, write_snapcoeff
from thermograd.testing.toy import ToyReferenceBuilder
from thermograd.units import KB

TOY = {
    "seed": 11,
    "phases": [{"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}],
    "strains": [0.0, 0.01],
    "potential": {"snap": "Mo_Zuo_JPCA2020"},  # unused by the toy builder
    "shells": [300.0, 900.0, 1500.0],
    "samples_per_shell": 12,
    "chunk_size": 5,  # chunks of 5, 5, 2 samples
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config(path: Path) -> CampaignConfig:
    return CampaignConfig.model_validate({**TOY, "output": str(path)})


class CrashAfter:
    """Chunk task that fails after ``k`` chunks (a driver stopped mid-campaign)."""

    def __init__(self, k: int) -> None:
        self.k, self.calls = k, 0

    def __call__(self, context, task):
        if self.calls >= self.k:
            raise EngineError("simulated crash")
        self.calls += 1
        return run_chunk(context, task)


class FailSecondReference(ToyReferenceBuilder):
    """Builds the first reference, fails on the second (a crash during reference set-up)."""

    def build(self, phase, strain_index, strain):
        if strain_index > 0:
            raise EngineError("simulated crash in reference set-up")
        return super().build(phase, strain_index, strain)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("info")
    out = {}
    c = config(d / "camp.h5")
    run_campaign(c, "toy run file\n", progress=False, builder=ToyReferenceBuilder(c))
    out["campaign"] = d / "camp.h5"

    c = config(d / "partial.h5")
    with pytest.raises(EngineError):
        run_campaign(
            c, "toy run file\n", progress=False, builder=ToyReferenceBuilder(c), task_fn=CrashAfter(4)
        )
    out["partial"] = d / "partial.h5"

    c = config(d / "norefs.h5")
    with pytest.raises(EngineError):
        run_campaign(c, "toy run file\n", progress=False, builder=FailSecondReference(c))
    out["norefs"] = d / "norefs.h5"

    theta = np.array([-5.0, 16.0, 0.5])
    out["tilt"] = d / "tilt.h5"
    plan = TiltPlan(lambdas=(0.5, 1.0), n_chains=4, n_steps=6, n_burn=2, thin=2, seed=3)
    run_tilt(
        out["campaign"], theta, 1200.0, out["tilt"], phase="fcc", shells=[1, 2], plan=plan, progress=False
    )

    out["model"] = d / "model.h5"
    assert (
        main(["fit", str(out["campaign"]), "--phase", "fcc@0", "--order", "2", "-o", str(out["model"])]) == 0
    )

    out["snapcoeff"] = d / "toy.snapcoeff"
    coeffs = np.concatenate([[0.25], np.linspace(-1.0, 1.0, 55)])  # β_0 + 55 = SNAP 2J_max = 8
    write_snapcoeff(
        out["snapcoeff"], SnapCoefficients(["Mo"], {"Mo": 0.5}, {"Mo": 1.0}, {"Mo": coeffs}), "test θ"
    )

    out["npz"] = d / "shells.npz"
    write_descriptordos_npz(out["npz"])
    return out


def write_descriptordos_npz(path: Path, n_shells: int = 4, d: int = 3, n_bins: int = 9) -> None:
    """A small DescriptorDOS-style shell file (the keys of ../shared/data/fe-ddos-shells, stacked over shells)."""
    rng = np.random.default_rng(0)
    iso = np.linspace(0.5, 2.0, n_shells)
    evec = np.stack([np.linalg.qr(rng.normal(size=(d, d)))[0] for _ in range(n_shells)])
    evals = rng.uniform(0.1, 1.0, (n_shells, d))
    cov = np.einsum("sij,sj,skj->sik", evec, evals, evec)
    bins = np.broadcast_to(np.linspace(-3, 3, n_bins + 1), (n_shells, d, n_bins + 1)).copy()
    counts = np.broadcast_to(np.full(n_bins, 100.0), (n_shells, d, n_bins)).copy()
    np.savez(
        path,
        IsoSurface=iso,
        U_0=np.array(1.5 * KB * 1000.0),
        alpha_shift=np.array(0.3),
        log_det=np.array(-0.1),
        omega_mean=np.array(5.0),
        D_0=np.zeros(d),
        E_0=np.array(-1.5),
        D_mean=rng.normal(size=(n_shells, d)),
        D_var=cov,
        cov_eval=evals,
        cov_evec=evec,
        cov_bins=bins,
        cov_counts=counts,
        calls=np.full(n_shells, 900),
        N=np.array(16),
        mass=np.array(55.85),
        V_0=np.array(16 * 11.8),
        Strain=np.array(0.0),
    )


def info(path: Path, capsys, *extra: str) -> dict:
    before = sha256(path)
    assert main(["info", str(path), "--json", *extra]) == 0
    captured = capsys.readouterr()
    assert sha256(path) == before  # read-only
    return json.loads(captured.out)


def test_complete_campaign(files, capsys):
    r = info(files["campaign"], capsys)
    assert r["kind"] == "campaign" and r["format"] == "thermograd-campaign" and r["format_version"] == 1
    assert r["complete"] and r["unfinished"] == [] and r["problems"] == []
    size = r["size"]
    assert size["phases"] == ["fcc"] and size["strains"] == [0.0, 0.01] and size["references"] == 2
    assert size["atoms"] == [32] and size["descriptor_dimension"] == 3
    assert size["shell_temperatures_K"] == [300.0, 900.0, 1500.0]
    assert size["samples_per_shell"] == 12 and size["chunk_size"] == 5 and size["raw_samples_kept"] is True
    assert r["progress"] == {
        "references": 2,
        "references_done": 2,
        "shells": 6,
        "shells_done": 6,
        "chunks": 18,
        "chunks_done": 18,
        "samples": 72,
        "samples_done": 72,
    }
    shell = r["references"][1]["shells"][2]
    assert shell == {
        "index": 2,
        "T_K": 1500.0,
        "samples": 12,
        "samples_done": 12,
        "chunks": 3,
        "chunks_done": 3,
        "finished": True,
        "raw_samples": True,
    }
    with h5py.File(files["campaign"], "r") as f:
        prov = r["provenance"]
        assert prov["config_hash"] == f.attrs["config_hash"] and prov["seed"] == 11
        assert (
            prov["created"] == f.attrs["created"]
            and prov["thermograd_version"] == f.attrs["thermograd_version"]
        )
        assert prov["lammps_version"] == f.attrs["lammps_version"]
    # the text view says the same in words
    assert main(["info", str(files["campaign"]), "--shells"]) == 0
    text = capsys.readouterr().out
    assert "complete: references 2/2, shells 6/6, chunks 18/18, samples 72/72" in text
    assert "shell 002      1500 K  samples 12/12  chunks 3/3  finished" in text
    assert "seed 11" in text and prov["config_hash"] in text


def test_grown_campaign(files, tmp_path, capsys):
    """A run file with one more shell grows a copy of the campaign: the new shell, complete, and its history."""
    path = tmp_path / "grown.h5"
    shutil.copy(files["campaign"], path)
    c = CampaignConfig.model_validate({**TOY, "output": str(path), "shells": [300.0, 900.0, 1500.0, 2100.0]})
    run_campaign(c, "grown run file\n", progress=False, builder=ToyReferenceBuilder(c))
    r = info(path, capsys)
    assert r["complete"] and r["size"]["shell_temperatures_K"] == [300.0, 900.0, 1500.0, 2100.0]
    assert (r["progress"]["shells_done"], r["progress"]["chunks_done"]) == (8, 24)
    (grown,) = r["provenance"]["grown"]
    assert "2100" in grown["change"] and grown["replaced"]
    assert r["provenance"]["config_hash"] != info(files["campaign"], capsys)["provenance"]["config_hash"]


def test_interrupted_campaign_is_incomplete(files, capsys):
    """Four chunks were stored before the crash: shell 000 of strain 0 (5 + 5 + 2) and one chunk of shell 001."""
    r = info(files["partial"], capsys)
    assert not r["complete"]
    p = r["progress"]
    assert (p["references_done"], p["shells_done"], p["chunks_done"], p["samples_done"]) == (2, 1, 4, 17)
    assert (p["shells"], p["chunks"], p["samples"]) == (6, 18, 72)
    assert r["unfinished"][0] == "fcc strain_00 shell 001 (900 K): 1 of 3 chunks, 5 of 12 samples"
    assert len(r["unfinished"]) == 5  # shells 001, 002 of strain 0 and all three of strain 1
    assert main(["info", str(files["partial"])]) == 0
    text = capsys.readouterr().out
    assert "INCOMPLETE: references 2/2, shells 1/6, chunks 4/18, samples 17/72" in text
    assert "fcc strain_01 shell 002 (1500 K): 0 of 3 chunks, 0 of 12 samples" in text


def test_files_of_a_killed_driver_are_noted(files, tmp_path, capsys):
    path = tmp_path / "killed.h5"
    shutil.copy(files["partial"], path)
    journal = tmp_path / ".killed.h5.journal"
    journal.mkdir()
    (journal / "fcc.0.1.1.npz").write_bytes(b"x")
    (tmp_path / ".killed.h5.lock").write_text("12345\n")
    r = info(path, capsys)
    assert r["notes"][0].startswith("lock file .killed.h5.lock present")
    assert r["notes"][1].startswith("journal .killed.h5.journal holds 1 chunk(s)")
    assert info(files["partial"], capsys)["notes"] == []


def test_reference_never_computed_is_named(files, capsys):
    r = info(files["norefs"], capsys)
    assert not r["complete"]
    assert [x["status"] for x in r["references"]] == ["finished", "not started"]
    second = r["references"][1]
    assert second["status"] == "not started" and len(second["shells"]) == 3  # planned, from the run file
    assert any(u.startswith("fcc strain_01: reference not computed yet") for u in r["unfinished"])
    assert r["progress"]["references_done"] == 1 and r["progress"]["chunks_done"] == 0


def test_tilt_file(files, capsys):
    r = info(files["tilt"], capsys)
    assert r["kind"] == "tilt" and r["complete"]
    size = r["size"]
    assert size["phase"] == "fcc" and size["T_tilt_K"] == 1200.0 and size["descriptor_dimension"] == 3
    assert size["lambdas"] == [0.5, 1.0] and (size["shells"], size["shells_done"]) == (2, 2)
    assert [s["index"] for s in r["shells"]] == [1, 2] and [s["T_K"] for s in r["shells"]] == [900.0, 1500.0]
    # chains × kept steps per rung: 4 chains × 6 steps / thin 2
    assert all(s["samples_per_rung"] == [12, 12] for s in r["shells"])
    with h5py.File(files["campaign"], "r") as f:
        assert r["provenance"]["campaign_config_hash"] == f.attrs["config_hash"]
    assert r["provenance"]["campaign_found"] and r["provenance"]["seed"] == 3


def test_tilt_file_with_an_interrupted_shell(files, tmp_path, capsys):
    path = tmp_path / "tilt.h5"
    shutil.copy(files["tilt"], path)
    with h5py.File(path, "r+") as f:  # a shell whose writer died before setting `complete`
        del f["shells/002"].attrs["complete"]
    r = info(path, capsys)
    assert not r["complete"] and r["size"]["shells_done"] == 1
    assert r["unfinished"] == ["shell 002: interrupted while sampling (will be redone on rerun)"]


def test_model_file(files, capsys):
    r = info(files["model"], capsys)
    assert r["kind"] == "model" and r["complete"] and r["format_version"] == 1
    size = r["size"]
    assert size["phase"] == "fcc@0" and size["n_atoms"] == 32 and size["descriptor_dimension"] == 3
    assert size["shell_temperatures_K"] == [300.0, 900.0, 1500.0] and size["samples_per_shell"] == [
        12,
        12,
        12,
    ]
    assert size["order"] == 2
    with h5py.File(files["campaign"], "r") as f:
        assert r["provenance"]["config_hash"] == f.attrs["config_hash"] and r["provenance"]["seed"] == 11
    assert "config" not in r["provenance"]  # the run file text is not repeated
    # the model file's own provenance (io.store), apart from that of its data
    with h5py.File(files["model"], "r") as f:
        created = f.attrs["created"]
    written = r["provenance"]["model_file"]
    assert written["created"] == created and written["thermograd_version"] == thermograd.__version__
    assert main(["info", str(files["model"])]) == 0
    text = capsys.readouterr().out
    assert f"model file: created {written['created']}; thermograd {thermograd.__version__}" in text


def test_model_with_non_finite_values_is_reported(files, tmp_path, capsys):
    path = tmp_path / "m.h5"
    shutil.copy(files["model"], path)
    with h5py.File(path, "r+") as f:
        coef = f["components/coef"][()]
        coef[0, 0, 0] = np.nan
        f["components/coef"][...] = coef
    r = info(path, capsys)
    assert not r["complete"] and r["problems"] == ["non-finite values in components/coef"]


def test_snapcoeff(files, capsys):
    r = info(files["snapcoeff"], capsys)
    assert r["kind"] == "snapcoeff" and r["complete"]
    assert r["size"] == {
        "elements": ["Mo"],
        "coefficients_per_element": 56,
        "descriptor_dimension": 55,
        "layout": "linear SNAP, 2J_max = 8",
    }
    assert r["elements"]["Mo"]["beta_0"] == 0.25 and r["provenance"]["comments"] == ["test θ"]


def test_descriptordos_npz(files, capsys):
    r = info(files["npz"], capsys)
    assert r["kind"] == "descriptordos" and r["complete"]
    (ds,) = r["data_sets"]
    assert ds["n_atoms"] == 16 and ds["descriptor_dimension"] == 3
    np.testing.assert_allclose([s["T_K"] for s in ds["shells"]], [500.0, 1000.0, 1500.0, 2000.0], rtol=1e-12)
    assert [s["samples"] for s in ds["shells"]] == [900] * 4


def test_fe_reference_shell_data(fe_shells, capsys):
    r = info(fe_shells / "bcc.npz", capsys)
    (ds,) = r["data_sets"]
    assert ds["n_atoms"] == 128 and ds["descriptor_dimension"] == 55 and len(ds["shells"]) == 20
    assert {s["samples"] for s in ds["shells"]} == {2560}


def refused(path: Path, capsys, match: str) -> None:
    """One line on stderr naming the file, exit 2, nothing on stdout, the file unchanged."""
    before = sha256(path) if path.is_file() else None
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("thermograd info: error: ")
    assert match in lines[0] and path.name in lines[0]
    if before is not None:
        assert sha256(path) == before


def test_foreign_and_damaged_files(files, tmp_path, capsys):
    refused(tmp_path / "missing.h5", capsys, "not found")
    refused(tmp_path, capsys, "is a folder")
    noise = tmp_path / "noise.h5"
    noise.write_bytes(np.random.default_rng(1).bytes(4096))
    refused(noise, capsys, "not an HDF5 file")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = np.arange(3)
    refused(foreign, capsys, "not a thermograd campaign, tilt or model file")
    header = tmp_path / "header.h5"
    data = bytearray(files["campaign"].read_bytes())
    data[8:512] = bytes(504)  # signature kept, superblock destroyed
    header.write_bytes(bytes(data))
    refused(header, capsys, "cannot open")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(files["campaign"].read_bytes()[:20000])
    refused(truncated, capsys, "truncated.h5")
    newer = tmp_path / "newer.h5"
    shutil.copy(files["campaign"], newer)
    with h5py.File(newer, "r+") as f:
        f.attrs["format_version"] = 99
    refused(newer, capsys, "reads up to version 1")
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    refused(text, capsys, "not a file that thermograd info reads")
    npz = tmp_path / "cut.npz"
    npz.write_bytes(files["npz"].read_bytes()[:300])
    refused(npz, capsys, "cut.npz")


def test_malformed_snapcoeff(files, tmp_path, capsys):
    lines = files["snapcoeff"].read_text().splitlines()
    short = tmp_path / "short.snapcoeff"
    short.write_text("\n".join(lines[:-3]) + "\n")
    refused(short, capsys, "truncated")
    extra = tmp_path / "extra.snapcoeff"
    extra.write_text("\n".join([*lines, "0.5"]) + "\n")
    refused(extra, capsys, "extra lines")
    binary = tmp_path / "bin.snapcoeff"
    binary.write_bytes(bytes(range(256)) * 4)
    refused(binary, capsys, "bin.snapcoeff")
