"""Stored TI reference numbers (tests/references/): self-consistency of the files the D-DOS validation reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thermograd.units import KB


def _load(references, name):
    path = references / name
    if not path.is_file():
        pytest.skip(f"{path} not generated yet (see its make_*.py for the command)")
    return json.loads(path.read_text())


@pytest.fixture
def references():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "references"


def test_mo_bcc_reference_is_complete_and_consistent(references):
    data = _load(references, "mo_bcc_ti.json")
    assert data["complete"] is True and data["command"]
    rows = {(r["theta"], r["T"]): r for r in data["results"]}
    assert set(rows) == {(t, T) for t in ("reference", "perturbed") for T in (1500.0, 2500.0)}
    n = 128
    for (_, T), r in rows.items():
        assert np.isclose(r["F_ddos"], r["E0"] + r["F_h_ddos"] + r["F_anh"])
        assert np.isclose(r["F_cell"], r["E0"] + r["F_h_cell"] + r["F_anh"])
        # the two harmonic conventions differ by (3/N)·k_BT⟨ln βħω⟩ = F_h,ddos / N
        assert np.isclose(r["F_h_ddos"] - r["F_h_cell"], r["F_h_ddos"] / n, rtol=1e-9)
        assert r["F_anh"] < 0 and r["F_anh_error"] < 0.5e-3
        assert abs(r["F_h_ddos"]) < 10 * 3 * KB * T
    assert rows[("reference", 2500.0)]["F_anh"] < rows[("reference", 1500.0)]["F_anh"]


def test_calphy_benchmark_record(references):
    data = _load(references, "ti_vs_calphy_fe800.json")
    assert "command" in data
    assert abs(data["diff_fl_minus_calphy_meV"]) < 1.0 and abs(data["diff_fl_minus_calphy_sigmas"]) < 3
