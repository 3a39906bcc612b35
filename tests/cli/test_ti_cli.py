"""``thermograd ti`` and ``thermograd init ti``: template validity, a tiny end-to-end run, bad input."""

from __future__ import annotations

import json

import pytest
import yaml

from thermograd.cli import main


def test_init_ti_template_is_valid(capsys):
    from thermograd.config import validate_model
    from thermograd.ti.config import TIRunConfig

    assert main(["init", "ti"]) == 0
    text = capsys.readouterr().out
    cfg = validate_model(TIRunConfig, yaml.safe_load(text))
    assert cfg.potential.eam == "Fe_mm.eam.fs" and cfg.temperatures == [400, 800]
    assert set(cfg.methods) == {"lambda", "frenkel_ladd", "reversible_scaling"}


def _tiny(tmp_path, **override):
    data = {
        "structure": {"builder": "bcc", "element": "Fe", "a": 2.855, "size": 2},
        "potential": {"eam": "Fe_mm.eam.fs", "elements": ["Fe"]},
        "temperatures": [300],
        "methods": ["lambda", "frenkel_ladd"],
        "seed": 1,
        "lambda_ti": {"n_points": 2, "n_equil": 20, "n_prod": 200},
        "frenkel_ladd": {"n_equil": 20, "n_switch": 200, "n_repeats": 2, "n_msd_equil": 20, "n_msd": 200},
    }
    data.update(override)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.lammps
def test_ti_cli_json_and_output(tmp_path, capsys):
    run = _tiny(tmp_path, output="out.json")
    plot = tmp_path / "ti.png"
    assert main(["ti", str(run), "--json", "--plot", str(plot)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["complete"] is True and out["n_atoms"] == 16
    assert out["lambda_ti"][0]["T"] == 300 and out["frenkel_ladd"][0]["units"] == "eV/atom"
    assert "lambda-frenkel_ladd" in out["comparison"][0]
    saved = json.loads((tmp_path / "out.json").read_text())
    assert saved["lambda_ti"][0]["F"] == out["lambda_ti"][0]["F"]
    assert plot.stat().st_size > 0
    # refuses to overwrite a finished result
    assert main(["ti", str(run)]) == 2
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    "override, message",
    [
        ({"temperatures": [0]}, "temperatures must be > 0"),
        ({"temperatures": [-100, 300]}, "temperatures must be > 0"),
        ({"methods": ["lambda", "reversible_scaling"]}, "needs a 'reversible_scaling:' section"),
        ({"lamda_ti": {}}, "did you mean 'lambda_ti'"),
    ],
)
def test_ti_cli_bad_run_file(tmp_path, capsys, override, message):
    run = _tiny(tmp_path, **override)
    assert main(["ti", str(run)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.lammps
def test_ti_cli_unstable_structure_writes_nothing(tmp_path, capsys):
    run = _tiny(
        tmp_path,
        temperatures=[6000],
        methods=["frenkel_ladd"],
        output="out.json",
        frenkel_ladd={"spring": 2.0, "n_equil": 3000, "n_switch": 50, "n_repeats": 1},
    )
    assert main(["ti", str(run), "--no-progress"]) == 2
    assert "melted or is unstable" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists()
    assert not list(tmp_path.glob(".out.json*"))


@pytest.mark.lammps
def test_ti_cli_melting_temperature_keeps_the_finished_one_and_resumes(tmp_path, capsys):
    """The issue's case on LAMMPS: 300 K finishes, 6000 K melts. The 300 K result is printed and written next
    to the named failure (exit 2); a rerun reuses the finished task from the journal instead of rerunning it."""
    run = _tiny(
        tmp_path,
        temperatures=[300, 6000],
        methods=["frenkel_ladd"],
        output="out.json",
        frenkel_ladd={"spring": 2.0, "n_equil": 3000, "n_switch": 50, "n_repeats": 1},
    )
    assert main(["ti", str(run), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "300.0 K  Frenkel-Ladd  F = " in captured.out
    assert "thermograd ti: error: Frenkel–Ladd at 6000 K failed (UnstableStructureError)" in captured.err
    assert "tasks: 1 computed now, 0 reused" in captured.out
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["complete"] is False and [r["T"] for r in out["frenkel_ladd"]] == [300]
    assert [(f["method"], f["T"]) for f in out["failures"]] == [("frenkel_ladd", 6000)]
    assert main(["ti", str(run), "--quiet"]) == 2  # no --force needed to resume an unfinished result
    captured = capsys.readouterr()
    assert "tasks: 0 computed now, 1 reused" in captured.out
    assert json.loads((tmp_path / "out.json").read_text())["frenkel_ladd"] == out["frenkel_ladd"]
