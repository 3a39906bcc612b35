"""Inputs are never outputs (issue 13): the D-DOS commands refuse to replace an input or a file of another
kind (a campaign or tilt file above all), check every output before the work starts, print results before
writing, and write atomically. ``--force`` (alias ``--overwrite``) replaces only a file of the same kind."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import h5py
import pytest

from thermograd.cli import main


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def refused(capsys, argv, fragment: str, folder: Path) -> None:
    """Exit 2, one error line with ``fragment``, and every file under ``folder`` unchanged (none added)."""
    before = {p: sha(p) for p in folder.rglob("*") if p.is_file()}
    rc = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"thermograd {argv[0]}: error: "), err
    assert fragment in lines[0], lines[0]
    assert {p: sha(p) for p in folder.rglob("*") if p.is_file()} == before


@pytest.fixture(scope="module")
def toy_campaign(tmp_path_factory):
    from thermograd.ddos.sampling.campaign import run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig
    from thermograd.testing.toy import ToyReferenceBuilder

    path = tmp_path_factory.mktemp("toy") / "camp.h5"
    config = CampaignConfig.model_validate(
        {
            "seed": 4,
            "output": str(path),
            "strains": [0.0],
            "potential": {"snap": "Mo_Zuo_JPCA2020"},
            "phases": [
                {"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}
            ],
            "shells": [300.0, 900.0, 1500.0],
            "samples_per_shell": 30,
            "chunk_size": 30,
        }
    )
    run_campaign(config, "toy\n", executor="serial", progress=False, builder=ToyReferenceBuilder(config))
    return path


@pytest.fixture
def work(toy_campaign, fe_shells, tmp_path):
    """A folder with a campaign, a tilt-format file, Fe shell data and θ, and two Fe models."""
    shutil.copy(toy_campaign, tmp_path / "camp.h5")
    with h5py.File(tmp_path / "tilt.h5", "w") as f:
        f.attrs["format"] = "thermograd-tilt"
        f["theta"] = [1.0, 2.0]
    shutil.copy(fe_shells / "bcc.npz", tmp_path / "bcc.npz")
    shutil.copy(fe_shells / "fcc.npz", tmp_path / "fcc.npz")
    shutil.copy(fe_shells / "X_Fe.snapcoeff", tmp_path / "X_Fe.snapcoeff")
    for phase in ("bcc", "fcc"):
        assert (
            main(["fit", str(tmp_path / f"{phase}.npz"), "-o", str(tmp_path / f"{phase}.h5"), "--order", "2"])
            == 0
        )
    return tmp_path


def test_fit_never_replaces_its_campaign(work, capsys):
    camp = work / "camp.h5"
    refused(capsys, ["fit", camp, "-o", camp, "--force"], "is an input of this command", work)
    refused(capsys, ["fit", camp, "-o", work / "." / "camp.h5", "--overwrite"], "is an input", work)


@pytest.mark.parametrize(
    ("target", "kind"), [("camp.h5", "campaign"), ("tilt.h5", "tilt"), ("X_Fe.snapcoeff", "snapcoeff")]
)
def test_force_replaces_only_the_same_kind(work, capsys, target, kind):
    refused(capsys, ["fit", work / "fcc.npz", "-o", work / target, "--force"], f"holds a {kind} file", work)


def test_force_replaces_an_old_model(work, capsys):
    old = sha(work / "bcc.h5")
    refused(capsys, ["fit", work / "fcc.npz", "-o", work / "bcc.h5"], "pass --force", work)
    assert main(["fit", str(work / "fcc.npz"), "-o", str(work / "bcc.h5"), "--order", "2", "--force"]) == 0
    assert sha(work / "bcc.h5") != old
    with h5py.File(work / "bcc.h5") as f:
        assert f.attrs["name"] == "fcc"
    assert not [p for p in work.iterdir() if p.name.endswith(".tmp")]  # atomic write left no temporary


def test_outputs_checked_before_the_fit(work, capsys, monkeypatch):
    from thermograd.ddos.estimators.model import DDOSModel

    def no_fit(*a, **k):
        raise AssertionError("outputs must be checked before fitting")

    monkeypatch.setattr(DDOSModel, "fit", no_fit)
    refused(capsys, ["fit", work / "fcc.npz", "-o", work / "missing" / "m.h5"], "does not exist", work)


def test_unwritable_folder_refused_before_the_fit(work, capsys, monkeypatch):
    from thermograd.ddos.estimators.model import DDOSModel

    def no_fit(*a, **k):
        raise AssertionError("outputs must be checked before fitting")

    monkeypatch.setattr(DDOSModel, "fit", no_fit)
    ro = work / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user who can write into read-only folders")
        refused(capsys, ["fit", work / "fcc.npz", "-o", ro / "m.h5"], "not writable", work)
    finally:
        os.chmod(ro, 0o755)


@pytest.mark.parametrize("target", ["bcc.h5", "X_Fe.snapcoeff", "camp.h5", "notes.json"])
def test_plot_never_overwrites_an_input_or_another_kind(work, capsys, target):
    (work / "notes.json").write_text("{}\n")
    argv = ["predict", work / "bcc.h5", "--theta", work / "X_Fe.snapcoeff", "--T", "800", "--force", "--plot"]
    refused(
        capsys, [*argv, work / target], "refusing" if target in ("camp.h5", "notes.json") else "input", work
    )


def test_plot_replaces_an_old_plot_only_with_force(work, capsys):
    png = work / "F.png"
    png.write_bytes(b"\x89PNG old plot")
    argv = ["predict", work / "bcc.h5", "--theta", work / "X_Fe.snapcoeff", "--T", "600,800", "--plot", png]
    refused(capsys, argv, "pass --force", work)
    assert main([*map(str, argv), "--force"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 1000


def test_transition_plot_checked_before_work(work, capsys):
    argv = ["transition", work / "bcc.h5", work / "fcc.h5", "--theta", work / "X_Fe.snapcoeff", "--plot"]
    refused(capsys, [*argv, work / "fcc.h5"], "is an input", work)
    refused(capsys, [*argv, work / "nowhere" / "dF.png"], "does not exist", work)


def test_tune_outputs_checked_before_tuning(work, capsys, monkeypatch):
    import thermograd.thermo.tune as tune_mod

    def no_tuning(*a, **k):
        raise AssertionError("outputs must be checked before tuning")

    monkeypatch.setattr(tune_mod, "tune_transition", no_tuning)
    base = [
        "tune",
        work / "bcc.h5",
        work / "fcc.h5",
        "--theta",
        work / "X_Fe.snapcoeff",
        "--target-Tc",
        "1063",
    ]
    refused(capsys, [*base, "-o", work / "X_Fe.snapcoeff", "--force"], "is an input", work)
    refused(capsys, [*base, "-o", work / "tilt.h5", "--force"], "holds a tilt file", work)
    refused(capsys, [*base, "-o", work / "gone" / "t.snapcoeff"], "does not exist", work)
    refused(
        capsys, [*base, "-o", work / "t.snapcoeff", "--plot", work / "camp.h5"], "holds a campaign file", work
    )


def test_tune_prints_then_writes(work, capsys):
    out = work / "tuned.snapcoeff"
    argv = [
        "tune",
        work / "bcc.h5",
        work / "fcc.h5",
        "--theta",
        work / "X_Fe.snapcoeff",
        "--target-Tc",
        "1063",
    ]
    assert main([*map(str, argv), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "1063.0" in text and f"writing {out}" in text and out.is_file()
    refused(capsys, [*argv, "-o", out], "pass --force", work)
    assert main([*map(str, argv), "-o", str(out), "--force"]) == 0


def test_tilt_output_is_never_a_campaign(work, capsys):
    argv = ["tilt", work / "camp.h5", "--theta", work / "X_Fe.snapcoeff", "--T", "1000", "--quiet", "-o"]
    refused(capsys, [*argv, work / "camp.h5"], "is an input", work)
    refused(capsys, [*argv, work / "bcc.h5"], "holds a model file", work)


def test_common_flag_names():
    from thermograd.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for name in ("fit", "predict", "transition", "tune"):
        assert "--force" in sub[name].format_help(), name
    for name in ("sample", "tilt"):
        args = sub[name].parse_args(
            ["x", "--no-progress"] + (["--theta", "t", "--T", "1", "-o", "o"] if name == "tilt" else [])
        )
        assert args.quiet is True
