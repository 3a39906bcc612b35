"""``thermograd demo --quick --json``: the embedded default runs end to end and is its own check.

The quick demo (16-atom BCC Mo, Mo_Zuo_JPCA2020, 1000 K) compares two D-DOS routes with λ-TI in one
convention ('cell'). Each row must satisfy the demo's stated tolerance (3 combined σ + the route's stated bias
allowance, σ_DDOS below the route's cap, not flagged), recomputed here from the printed numbers, and the anharmonic
columns must describe the same quantity: F_anh = F − E_0 − F_h^cell for every route, so that D-DOS and TI
columns agree within the same tolerance (a column in another convention is off by (3/N) k_BT⟨ln βħω⟩,
≈ 20 meV/atom here, and fails). A deliberately impossible tolerance makes the command exit 4.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from thermograd import demo
from thermograd.cli import main

pytestmark = [pytest.mark.lammps, pytest.mark.slow]


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo") / "work"
    return work


def _run(capsys, work):
    code = main(["demo", "--quick", "--json", "--workdir", str(work), "--workers", "1"])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def test_quick_demo_rows_meet_the_stated_tolerance(quick, capsys):
    code, result, err = _run(capsys, quick)
    assert code == 0, err
    rows = result["validation"]
    assert [(r["model"], r["T"]) for r in rows] == [("reference", 1000.0), ("perturbed", 1000.0)]
    assert result["harmonic_convention"] == "cell" and "'cell'" in result["convention"]
    for r in rows:
        for route, tag in (("cumulant", ""), ("score", "_score")):
            diff = r[f"F_ddos{tag}"] - r["F_ti"]
            assert diff == pytest.approx(r[f"difference{tag}"], abs=1e-12)
            assert diff == pytest.approx(
                r[f"difference{tag}_cell"], abs=1e-12
            )  # printed in the cell convention
            sig = np.hypot(r[f"F_ddos{tag}_error"], r["F_ti_error"])
            tol = demo.N_SIGMA * sig + demo.BIAS_ALLOWANCE[route]
            assert abs(diff) <= tol, (route, r["model"], diff, tol)
            assert r[f"F_ddos{tag}_error"] <= demo.MAX_SIGMA[route] and not r[f"ddos{tag}_flagged"]
            # same quantity as TI's F_anh: differs from it exactly by the F difference
            assert r[f"F_anh_ddos{tag}"] - r["F_anh_ti"] == pytest.approx(diff, abs=1e-9)
            assert abs(r[f"F_anh_ddos{tag}"] - r["F_anh_ti"]) <= tol
    assert result["check"]["passed"] and not result["check"]["failures"]


def test_demo_exits_4_when_its_check_fails(quick, capsys, monkeypatch):
    """Same run (the campaign resumes), zero tolerance: every row fails, the command says so and exits 4."""
    monkeypatch.setattr(demo, "N_SIGMA", 0.0)
    monkeypatch.setattr(demo, "BIAS_ALLOWANCE", {"cumulant": 0.0, "score": 0.0})
    code, result, err = _run(capsys, quick)
    assert code == 4
    assert not result["check"]["passed"]
    assert len(result["check"]["failures"]) == 4
    assert err.count("thermograd demo: check failed:") == 4


def test_demo_in_the_ddos_convention_changes_only_f_h(quick, capsys):
    """--convention ddos: the D-DOS columns move by the reference's F_h difference, λ-TI's by each model's own
    (equal for the reference model); F_anh of λ-TI and the 'cell' differences the check uses do not move."""
    code, cell, _ = _run(capsys, quick)
    code_d = main(
        ["demo", "--quick", "--json", "--workdir", str(quick), "--workers", "1", "--convention", "ddos"]
    )
    ddos = json.loads(capsys.readouterr().out)
    assert code == code_d == 0 and ddos["harmonic_convention"] == "ddos"
    ref_shift = ddos["validation"][0]["F_h"] - cell["validation"][0]["F_h"]  # reference model's own modes
    assert abs(ref_shift) > 1e-3  # (3/N) k_BT<ln βħω>
    for rc, rd in zip(cell["validation"], ddos["validation"]):
        for tag in ("", "_score"):
            # D-DOS uses the reference's modes (the campaign's Hessian; λ-TI computes the same one again)
            assert rd[f"F_ddos{tag}"] - rc[f"F_ddos{tag}"] == pytest.approx(ref_shift, abs=1e-6)
            assert rd[f"difference{tag}_cell"] == pytest.approx(rc[f"difference{tag}_cell"], abs=1e-9)
        assert rd["F_ti"] - rc["F_ti"] == pytest.approx(rd["F_h"] - rc["F_h"], abs=1e-12)
        assert rd["F_anh_ti"] == pytest.approx(rc["F_anh_ti"], abs=1e-12)
