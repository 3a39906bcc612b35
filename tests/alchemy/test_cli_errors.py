"""``thermograd alchemy``: outputs checked before the work, a table with units (not a Python dict), and an
optimiser that does not converge exits non-zero with its reason.

The backend is replaced by a stand-in and ``match_lattice`` by the real optimiser on a quadratic loss of λ,
so these tests need no MLIP; one MLIP-marked test runs SevenNet-0 itself.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import pytest
import torch
import yaml

from thermograd.alchemy.optimize import optimize_composition
from thermograd.cli import main


def _template() -> dict:
    return yaml.safe_load(resources.files("thermograd.templates").joinpath("alchemy.yaml").read_text())


def _run_file(tmp_path, **optimize):
    data = _template()
    data["optimize"].update(optimize)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _quadratic(target: float = 0.3):
    """(λ_K − target)² ×10 "GPa²": the optimiser reaches it from λ_K = 0.001 in about 90 steps at lr 5e-3."""
    return lambda lam: 10.0 * (lam[1] - target) ** 2


@pytest.fixture
def fake_backend(monkeypatch):
    """No MLIP: ``build_backend`` returns a stand-in (calls counted), ``match_lattice`` runs the real
    optimiser on :func:`_quadratic` with the run file's settings."""
    import thermograd.alchemy.calculator as calculator
    import thermograd.alchemy.config as config
    import thermograd.alchemy.workflows as workflows

    built = []

    def build_backend(cfg):
        built.append(cfg)
        return object()

    def match_lattice(system, backend, a=None, kind="hydrostatic", method="projected", lr=5e-3, max_steps=200,
                      tol=1e-6, policy="cross-group", progress=False):  # fmt: skip
        return optimize_composition(
            _quadratic(), system.lam, system.constraints, method, lr=lr, max_steps=max_steps, tol=tol
        )

    monkeypatch.setattr(config, "build_backend", build_backend)
    monkeypatch.setattr(calculator, "check_backend_species", lambda backend, system: None)
    monkeypatch.setattr(workflows, "match_lattice", match_lattice)
    return built


def test_unconverged_optimize_exits_nonzero_with_the_reason(tmp_path, capsys, fake_backend):
    run = _run_file(tmp_path, max_steps=3, tol=1e-4, lr=5e-3)
    out = tmp_path / "result.json"
    data = yaml.safe_load(run.read_text())
    data["output"] = str(out)
    run.write_text(yaml.safe_dump(data))
    assert main(["alchemy", "optimize", str(run), "--quiet"]) == 2
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith(
        "thermograd alchemy: error: the composition optimisation did not"
    )
    assert "after max_steps = 3 steps" in err[0] and "GPa²" in err[0] and "raise optimize.max_steps" in err[0]
    # the numbers are still shown and kept, marked unconverged
    assert (
        "converged                NO" in captured.out
        and "steps                    3 of at most 3" in captured.out
    )
    saved = json.loads(out.read_text())
    assert saved["converged"] is False and saved["stop"] == "max_steps" and saved["steps"] == 3


def test_results_are_a_table_with_units_not_a_python_dict(tmp_path, capsys, fake_backend):
    run = _run_file(tmp_path, max_steps=200, tol=1e-4, lr=5e-3)
    assert main(["alchemy", "optimize", str(run), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "{" not in out and "'lam'" not in out and "array(" not in out
    lines = out.splitlines()
    assert lines[0] == "composition matched to a = 6 Å (projected steps, hydrostatic stress loss)"
    assert lines[1].split() == ["group", "λ", "start", "λ", "final"]
    assert lines[2].startswith("Na on 4 sites") and lines[3].startswith("K on 4 sites")
    assert abs(float(lines[3].split()[-1]) - 0.3) < 0.01  # converged to the quadratic's minimum
    assert "GPa²  (tol 0.0001 GPa²)" in out and "converged                yes" in out
    assert main(["alchemy", "optimize", str(run), "--json", "--quiet"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["converged"] is True and result["units"]["loss"] == "GPa^2"


@pytest.mark.parametrize("where", ["output", "plot"])
def test_missing_output_folder_is_refused_before_any_work(tmp_path, capsys, fake_backend, where):
    run = _run_file(tmp_path)
    target = tmp_path / "missing" / ("r.json" if where == "output" else "loss.png")
    argv = ["alchemy", "optimize", str(run), "--quiet"]
    if where == "output":
        data = yaml.safe_load(run.read_text())
        data["output"] = str(target)
        run.write_text(yaml.safe_dump(data))
    else:
        argv += ["--plot", str(target)]
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert (
        len(err) == 1
        and err[0].startswith("thermograd alchemy: error: cannot write")
        and "does not exist" in err[0]
    )
    assert fake_backend == []  # the backend was never built
    assert not (tmp_path / "missing").exists()


def test_the_run_file_is_never_an_output(tmp_path, capsys, fake_backend):
    run = _run_file(tmp_path)
    before = _sha(run)
    assert main(["alchemy", "optimize", str(run), "--plot", str(run), "--force"]) == 2
    assert "is an input of this command" in capsys.readouterr().err
    assert _sha(run) == before and fake_backend == []


def test_existing_result_needs_force_overwrite_is_its_alias(tmp_path, capsys, fake_backend):
    run = _run_file(tmp_path, max_steps=200, tol=1e-4)
    plot = tmp_path / "loss.png"
    plot.write_bytes(b"old plot")
    assert main(["alchemy", "optimize", str(run), "--quiet", "--plot", str(plot)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert plot.read_bytes() == b"old plot" and fake_backend == []
    assert main(["alchemy", "optimize", str(run), "--quiet", "--plot", str(plot), "--overwrite"]) == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob(".loss.png*"))  # no temporary file left behind


def test_optimiser_stop_reasons():
    lam0, constraints = [0.999, 0.001], [(0, 1)]
    done = optimize_composition(_quadratic(), lam0, constraints, max_steps=200, tol=1e-4)
    assert done.converged and done.stop == "tol" and "< tol" in done.reason
    short = optimize_composition(_quadratic(), lam0, constraints, max_steps=2, tol=1e-4)
    assert not short.converged and short.stop == "max_steps" and short.n_steps == 2
    assert "still ≥ tol 0.0001 after max_steps = 2 steps" in short.reason

    def nan_after_one_step(lam):  # pulls λ_K up; NaN once λ_K > 0.01 (the first step takes it to ~0.5)
        return torch.where(lam[1] > 0.01, torch.tensor(float("nan"), dtype=lam.dtype), 1.0 - lam[1])

    bad = optimize_composition(
        nan_after_one_step, [0.999, 0.001], constraints, lr=1.0, max_steps=50, tol=1e-9
    )
    assert not bad.converged and bad.stop == "nonfinite" and "non-finite" in bad.reason


@pytest.mark.mlip
def test_sevennet_optimize_that_runs_out_of_steps_exits_nonzero(tmp_path, capsys):
    data = _template()
    data["optimize"].update(max_steps=1, tol=1e-12)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["alchemy", "optimize", str(path), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "did not converge" in captured.err and "after max_steps = 1 steps" in captured.err
    assert "λ final" in captured.out and "GPa²" in captured.out


def test_lattice_table_and_an_unconverged_relaxation(tmp_path, capsys, fake_backend, monkeypatch):
    import numpy as np

    import thermograd.alchemy.workflows as workflows

    def scan(atoms, sites, species, xs, backend, **kwargs):
        xs = np.asarray(xs, dtype=float)
        a = 5.683 + 0.83 * xs - 0.05 * xs * (1 - xs)  # concave bowing of 50 mÅ × x(1 − x)
        return workflows.LatticeScan(
            x=xs,
            lengths=np.repeat(a[:, None], 3, axis=1),
            energies=-27.0 + xs,
            steps=np.full(xs.size, 12),
            converged=xs != 0.5,
            label=kwargs.get("label", ""),
        )

    monkeypatch.setattr(workflows, "lattice_vs_composition", scan)
    run = _run_file(tmp_path)
    assert main(["alchemy", "lattice", str(run), "--quiet"]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("Na1-xKx: lattice constant vs composition")
    assert lines[1].split()[:4] == ["x", "a", "(Å)", "a"] and "(mÅ)" in lines[1] and "E (eV)" in lines[1]
    row = lines[4].split()  # x = 0.5
    assert row[0] == "0.500" and float(row[2]) == pytest.approx(-12.5, abs=0.01) and row[-1] == "NO"
    err = captured.err.strip()
    assert (
        err.startswith("thermograd alchemy: error: the relaxation did not reach fmax") and "x = 0.5;" in err
    )


def test_integrate_table_reports_the_integral_and_the_direct_difference(
    tmp_path, capsys, fake_backend, monkeypatch
):
    import numpy as np

    import thermograd.alchemy.workflows as workflows

    def integrate(system, lam_start, lam_end, backend, n_points=4, **kwargs):
        t, w = workflows.quadrature(n_points)
        d = 2.0 * t - 1.5  # dE/dt, eV: ∫₀¹ = −0.5 eV
        return workflows.LambdaIntegration(
            t=t,
            weights=w,
            dE_dt=d,
            integral=float(w @ d),
            direct=-0.5001,
            energies=-27.0 + t,
            relaxed=True,
            end_energies=(-27.0, -27.5001),
            converged=np.ones(n_points + 2, dtype=bool),
        )

    monkeypatch.setattr(workflows, "lambda_integration_0k", integrate)
    data = _template()
    data["integrate"] = {"lam_start": [0.999, 0.001], "lam_end": [0.001, 0.999], "n_points": 3}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["alchemy", "integrate", str(path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "dE/dt (eV)" in out and "-0.500000 eV" in out and "-0.500100 eV  (direct)" in out
    assert out.strip().splitlines()[-1].split()[-2:] == ["0.100", "meV"]


def test_missing_structure_file_is_one_line_naming_it(tmp_path, capsys, fake_backend):
    data = _template()
    missing = tmp_path / "POSCAR"
    data["structure"] = {"file": str(missing), "repeat": [2, 2, 2]}
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump(data))
    before = _sha(run)
    assert main(["alchemy", "optimize", str(run), "--quiet"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == [f"thermograd alchemy: error: structure file {str(missing)!r} not found"]
    assert _sha(run) == before and fake_backend == []  # refused before the backend was built
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]


def test_structure_file_with_repeat_is_the_host(tmp_path, capsys, fake_backend):
    from ase.build import bulk

    data = _template()
    host = tmp_path / "nacl.extxyz"
    bulk("NaCl", "rocksalt", a=5.683, cubic=True).write(host)
    data["structure"] = {"file": str(host), "repeat": [1, 1, 2]}
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump(data))
    assert main(["alchemy", "optimize", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Na on 8 sites" in out and "K on 8 sites" in out  # 16 atoms: the file's cell repeated twice


@pytest.mark.parametrize("action", ["lattice", "optimize", "integrate"])
def test_missing_section_of_the_action_is_refused_before_the_backend(tmp_path, capsys, fake_backend, action):
    data = _template()
    data.pop(action, None)  # the template has 'lattice' and 'optimize'; 'integrate' is commented out
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump(data))
    before = _sha(run)
    assert main(["alchemy", action, str(run), "--quiet"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == [f"thermograd alchemy: error: {run}: the run file has no {action!r} section"]
    assert fake_backend == [] and _sha(run) == before
