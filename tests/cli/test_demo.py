"""``thermograd demo --quick --json``: the embedded default runs end to end and is its own check.

The quick demo (16-atom BCC Mo, Mo_Zuo_JPCA2020, 1000 K) compares two D-DOS routes with λ-TI in one
convention ('cell'). Each row must satisfy the demo's stated tolerance (3 combined σ + the route's stated bias
allowance, σ_DDOS ≤ 2 meV/atom, not flagged), recomputed here from the printed numbers, and the anharmonic
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
    assert "'cell'" in result["convention"]
    for r in rows:
        for route, tag in (("cumulant", ""), ("score", "_score")):
            diff = r[f"F_ddos{tag}"] - r["F_ti"]
            assert diff == pytest.approx(r[f"difference{tag}"], abs=1e-12)
            sig = np.hypot(r[f"F_ddos{tag}_error"], r["F_ti_error"])
            tol = demo.N_SIGMA * sig + demo.BIAS_ALLOWANCE[route]
            assert abs(diff) <= tol, (route, r["model"], diff, tol)
            assert r[f"F_ddos{tag}_error"] <= demo.MAX_SIGMA and not r[f"ddos{tag}_flagged"]
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
