"""``thermograd ti``: the λ quadrature-error estimate in the printed summary and the JSON result, the
``adaptive`` run-file option, and its bad settings (engine-free: ``build_system`` is replaced by a system
whose integrand is 0.01/(λ + 0.15) eV/atom plus Gaussian noise, see tests/ti/test_quadrature_error.py)."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import yaml

from thermograd.cli import main
from thermograd.ti.system import Trace


class Pole:
    """TI system with ⟨∂U/∂λ⟩ = 0.01/(λ + 0.15) eV/atom + noise 2e-5 eV/atom per step; 27 atoms."""

    def __init__(self, hessian):
        self._h = hessian

    n_atoms = property(lambda self: self._h.shape[0] // 3)
    mass = property(lambda self: 55.85)
    volume = property(lambda self: 7.5**3)

    def fingerprint(self):
        return {"pole": "0.01/(x+0.15)"}

    def energy(self):
        return 0.0

    def hessian(self):
        return self._h

    def lambda_samples(self, lam, T, hessian, energy_offset, n_equil, n_prod, seed):
        z = np.random.default_rng(seed).standard_normal(n_prod)
        return Trace(np.full(n_prod, lam), self.n_atoms * (0.01 / (lam + 0.15) + 2e-5 * z), 0.0)

    def msd(self, *args):  # pragma: no cover - not used
        raise NotImplementedError

    fl_switch = rs_switch = msd


EXACT = 0.01 * math.log(1.15 / 0.15)


@pytest.fixture
def pole(monkeypatch):
    n_side = 3
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    h = np.zeros((3 * len(grid), 3 * len(grid)))
    for i in range(len(grid)):
        for axis in range(3):
            nb = grid[i].copy()
            nb[axis] = (nb[axis] + 1) % n_side
            j = int(np.flatnonzero(np.all(grid == nb, axis=1))[0])
            k = 4.0 * np.diag(np.eye(3)[axis]) + 1.5 * (np.eye(3) - np.diag(np.eye(3)[axis]))
            for p, q, sign in ((i, j, -1), (j, i, -1), (i, i, 1), (j, j, 1)):
                h[3 * p : 3 * p + 3, 3 * q : 3 * q + 3] += sign * k
    monkeypatch.setattr("thermograd.ti.workflow.build_system", lambda cfg: (Pole(h), 1.0))


def _run_file(tmp_path, **lambda_ti):
    data = {
        "structure": {"builder": "bcc", "element": "Fe", "a": 2.855, "size": 2},
        "potential": {"eam": "Fe_mm.eam.fs", "elements": ["Fe"]},
        "temperatures": [500],
        "methods": ["lambda"],
        "seed": 3,
        "lambda_ti": {"n_points": 5, "n_equil": 0, "n_prod": 400, **lambda_ti},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_json_result_carries_the_quadrature_error_and_the_points_used(tmp_path, capsys, pole):
    run = _run_file(tmp_path, adaptive=True, max_points=11)
    out_file = tmp_path / "out.json"
    assert main(["ti", str(run), "--json", "--output", str(out_file)]) == 0
    out = json.loads(capsys.readouterr().out)
    r = out["lambda_ti"][0]
    assert r["n_points"] > 5 and len(r["points"]) == r["n_points"]  # the curvature forced more points
    assert 0 <= r["F_quadrature_error"] <= r["F_error"] and r["quadrature_converged"] is True
    assert r["quadrature_flag"] is None and r["settings"]["adaptive"] is True
    assert [e["n_points"] for e in r["quadrature_history"]] == list(range(5, r["n_points"] + 1, 2))
    assert abs(r["F_anh"] - EXACT) < 4 * r["F_error"]
    assert json.loads(out_file.read_text())["lambda_ti"] == out["lambda_ti"]


def test_summary_prints_the_estimate_and_flags_an_unconverged_rule(tmp_path, capsys, pole):
    run = _run_file(tmp_path)  # adaptive off (the default): 5 points, off by ≫ σ
    assert main(["ti", str(run), "--quiet"]) == 0  # a flag is not a failure: the result is there
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if "quadrature error" in x)
    assert "with 5 λ points" in line and "FLAGGED: quadrature-error estimate" in line
    assert "exceeds the statistical error" in line and "(adaptive quadrature off)" in line


@pytest.mark.parametrize(
    "settings",
    [{"adaptive": True, "n_points": 2}, {"adaptive": True, "n_points": 7, "max_points": 5}],
)
def test_bad_adaptive_settings_are_one_line_errors(tmp_path, capsys, pole, settings):
    run = _run_file(tmp_path, **settings)
    before = hashlib.sha256(run.read_bytes()).hexdigest()
    assert main(["ti", str(run), "--output", str(tmp_path / "out.json")]) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert len(err) == 1 and err[0].startswith("thermograd ti: error: ")
    assert "adaptive λ quadrature needs 3 <= n_points <= max_points" in err[0]
    assert hashlib.sha256(run.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]
