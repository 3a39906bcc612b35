"""End-to-end CLI: fit / predict / transition / tune on the Fe shell data, and their error paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thermograd.cli import main
from thermograd.io.snap import read_snapcoeff


@pytest.fixture(scope="module")
def fe_models(fe_shells, tmp_path_factory):
    out = tmp_path_factory.mktemp("ddos")
    paths = {}
    for phase in ("bcc", "fcc"):
        paths[phase] = out / f"{phase}.h5"
        assert main(["fit", str(fe_shells / f"{phase}.npz"), "-o", str(paths[phase]), "--order", "2"]) == 0
    return paths, fe_shells / "X_Fe.snapcoeff"


def test_fit_json_and_overwrite_guard(fe_shells, tmp_path, capsys):
    out = tmp_path / "m.h5"
    args = ["fit", str(fe_shells / "fcc.npz"), "-o", str(out), "--order", "2", "--json"]
    assert main(args) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["phase"] == "fcc" and info["order"] == 2 and info["n_shells"] == 20
    assert main(args) == 2  # exists, no --force
    assert "exists" in capsys.readouterr().err


def test_predict_json_table_and_plot(fe_models, tmp_path, capsys):
    paths, theta = fe_models
    png = tmp_path / "F.png"
    rc = main(
        [
            "predict",
            str(paths["bcc"]),
            "--theta",
            str(theta),
            "--theta",
            str(theta),
            "--T",
            "500:2500:5",
            "--json",
            "--plot",
            str(png),
            "--allow-extrapolation",
        ]
    )
    assert rc == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert len(out["results"]) == 2 and "ddos" in out["reference"]
    r = out["results"][0]
    assert r["E0"] == pytest.approx(-1.6711, abs=1e-4)
    np.testing.assert_allclose(np.array(r["F"]) - r["E0"], r["F_minus_E0"], atol=1e-12)
    assert all(s > 0 for s in r["sigma"])
    assert r["flagged"][-1] and not r["flagged"][0]  # 2500 K is beyond the 2000 K top shell
    assert "upper bounds" in captured.err
    assert png.stat().st_size > 1000
    # without --allow-extrapolation the flagged temperatures are an error (one line, exit 2)
    assert main(["predict", str(paths["bcc"]), "--theta", str(theta), "--T", "500:2500:5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-extrapolation" in err and "2500" in err
    assert main(["predict", str(paths["bcc"]), "--theta", str(theta), "--T", "800"]) == 0
    out = capsys.readouterr().out
    assert "F-E0/eV" in out and "F_h/eV" in out and "F_anh/meV" in out and str(theta) in out


def test_transition_json(fe_models, capsys):
    paths, theta = fe_models
    assert (
        main(
            [
                "transition",
                str(paths["bcc"]),
                str(paths["fcc"]),
                "--theta",
                str(theta),
                "--T",
                "500:2500",
                "--json",
                "--allow-extrapolation",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert abs(out["Tc"] - 1950) < 40 and out["Tc_error"] > 0
    assert out["flagged_at_Tc"] is True
    # the same T_c without the flag: refused, since it relies on optima at the edge of the shells
    args = ["transition", str(paths["bcc"]), str(paths["fcc"]), "--theta", str(theta), "--T", "500:2500"]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "--allow-extrapolation" in captured.err


def test_tune_writes_snapcoeff(fe_models, tmp_path, capsys):
    paths, theta = fe_models
    out_file = tmp_path / "tuned.snapcoeff"
    assert (
        main(
            [
                "tune",
                str(paths["bcc"]),
                str(paths["fcc"]),
                "--theta",
                str(theta),
                "--target-Tc",
                "1063",
                "--keep",
                "0K-difference",
                "-o",
                str(out_file),
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert abs(out["Tc"] - 1063) < 10 and abs(out["dE0_change"]) < 1e-6 and out["relative_change"] < 0.01
    assert abs(out["Tc_initial"] - 1950) < 40 and len(out["loss_history"]) >= 2
    old, new = read_snapcoeff(theta), read_snapcoeff(out_file)
    assert new.elements == old.elements and new.constant() == old.constant()
    assert new.radius == old.radius and new.weight == old.weight
    assert np.linalg.norm(new.theta() - old.theta()) / np.linalg.norm(old.theta()) == pytest.approx(
        out["relative_change"], rel=1e-9
    )


def test_user_errors_exit_2(fe_models, tmp_path, capsys):
    paths, theta = fe_models
    short = tmp_path / "short.snapcoeff"
    short.write_text("1 4\nX 0.5 1.0\n0.0\n0.1\n0.2\n0.3\n")
    cases = [
        ["predict", str(paths["bcc"]), "--theta", str(short), "--T", "500"],
        ["predict", str(paths["bcc"]), "--theta", str(theta), "--T", "0:1000:3"],
        ["predict", str(paths["bcc"]), "--theta", str(theta), "--T", "abc"],
        ["predict", str(tmp_path / "nope.h5"), "--theta", str(theta), "--T", "500"],
        ["fit", str(tmp_path / "nope.npz"), "-o", str(tmp_path / "x.h5")],
    ]
    for args in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith(f"thermograd {args[0]}: error:") and err.count("\n") == 1


def test_fit_thermograd_campaign_file(tmp_path, capsys):
    """An HDF5 campaign (engine-free toy, 2 strains) → one model per data set via {name}; --phase selects."""
    from thermograd.ddos.sampling.campaign import run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig
    from thermograd.testing.toy import ToyReferenceBuilder

    campaign = tmp_path / "toy.h5"
    config = CampaignConfig.model_validate(
        {
            "seed": 11,
            "output": str(campaign),
            "strains": [0.0, 0.01],
            "potential": {"snap": "Mo_Zuo_JPCA2020"},
            "phases": [
                {"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}
            ],
            "shells": [300.0, 900.0, 1500.0, 2100.0],
            "samples_per_shell": 40,
            "chunk_size": 40,
        }
    )
    run_campaign(config, "toy\n", executor="serial", progress=False, builder=ToyReferenceBuilder(config))
    assert main(["fit", str(campaign), "-o", str(tmp_path / "m.h5")]) == 2  # two data sets, one output
    assert "--phase" in capsys.readouterr().err
    assert main(["fit", str(campaign), "-o", str(tmp_path / "{name}.h5")]) == 0
    assert {p.name for p in tmp_path.glob("fcc@*.h5")} == {"fcc@0.h5", "fcc@0.01.h5"}
    assert main(["fit", str(campaign), "--phase", "fcc@0.01", "-o", str(tmp_path / "one.h5")]) == 0
