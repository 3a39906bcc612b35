"""``thermograd ti`` and ``thermograd demo``: outputs checked before the work, results printed before files
are written, a failed calculation fails alone and a rerun computes only what is missing.

The system is the NumPy engine's 27-atom anharmonic spring network (``build_system`` is replaced, so no
LAMMPS run is needed); at 3000 K an atom leaves its site by more than the 0.6 Å limit (melting).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest
import yaml

from thermograd.cli import main
from thermograd.ti.native import HarmonicModel, NativeSystem

CALLS: Counter = Counter()
CRASH: set = set()  # (T, seed) of λ tasks that crash


@dataclass(frozen=True)
class Quartic:
    harmonic: HarmonicModel
    c: float

    def __call__(self, x):
        e, f = self.harmonic(x)
        d = np.asarray(x) - self.harmonic.reference
        r2 = (d * d).sum(1)
        return e + self.c * float((r2**2).sum()), f - 4 * self.c * r2[:, None] * d


@dataclass
class Counting(NativeSystem):
    def lambda_samples(self, lam, T, hessian, energy_offset, n_equil, n_prod, seed):
        CALLS["lambda"] += 1
        if (float(T), int(seed)) in CRASH:
            raise RuntimeError("simulated worker crash")
        return super().lambda_samples(lam, T, hessian, energy_offset, n_equil, n_prod, seed)

    def fl_switch(self, T, spring, n_equil, n_switch, seed):
        CALLS["fl"] += 1
        return super().fl_switch(T, spring, n_equil, n_switch, seed)

    def msd(self, T, n_equil, n_steps, seed):
        CALLS["msd"] += 1
        return super().msd(T, n_equil, n_steps, seed)


@pytest.fixture
def native(network, monkeypatch):
    """Every ``thermograd ti`` run uses the spring network; ``built`` counts how often it was built."""
    pos, h = network
    built = []

    def build_system(cfg):
        built.append(cfg)
        return Counting(
            Quartic(HarmonicModel(h, pos), 0.5), pos, 55.85, volume=7.5**3, max_displacement=0.6
        ), 1.0

    monkeypatch.setattr("thermograd.ti.workflow.build_system", build_system)
    CALLS.clear()
    CRASH.clear()
    yield built
    CALLS.clear()
    CRASH.clear()


@pytest.fixture
def network():
    """3×3×3 simple-cubic periodic spring network (a = 2.5 Å; 4 and 1.5 eV/Å² along and across bonds)."""
    n_side, a = 3, 2.5
    grid = np.stack(np.meshgrid(*[np.arange(n_side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    n = len(grid)
    h = np.zeros((3 * n, 3 * n))
    for i in range(n):
        for axis in range(3):
            nb = grid[i].copy()
            nb[axis] = (nb[axis] + 1) % n_side
            j = int(np.flatnonzero(np.all(grid == nb, axis=1))[0])
            e = np.eye(3)[axis]
            k = 4.0 * np.outer(e, e) + 1.5 * (np.eye(3) - np.outer(e, e))
            for p, q, sign in ((i, j, -1), (j, i, -1), (i, i, 1), (j, j, 1)):
                h[3 * p : 3 * p + 3, 3 * q : 3 * q + 3] += sign * k
    return grid * a, h


def _run_file(tmp_path, **override):
    data = {
        "structure": {"builder": "bcc", "element": "Fe", "a": 2.855, "size": 2},
        "potential": {"eam": "Fe_mm.eam.fs", "elements": ["Fe"]},
        "temperatures": [300],
        "methods": ["lambda", "frenkel_ladd"],
        "seed": 4,
        "lambda_ti": {"n_points": 3, "n_equil": 50, "n_prod": 300},
        "frenkel_ladd": {"n_equil": 50, "n_switch": 300, "n_repeats": 2, "n_msd_equil": 50, "n_msd": 300},
        **override,
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_error_line(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("thermograd ti: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize("flag", ["--output", "--plot"])
def test_missing_output_folder_is_refused_before_any_work(tmp_path, capsys, native, flag):
    run = _run_file(tmp_path)
    target = tmp_path / "no-such-folder" / ("out.json" if flag == "--output" else "ti.png")
    assert main(["ti", str(run), flag, str(target), "--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "does not exist", "no-such-folder")
    assert native == [] and sum(CALLS.values()) == 0  # nothing was built, nothing ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]


def test_output_folder_given_as_a_file_is_refused(tmp_path, capsys, native):
    run = _run_file(tmp_path)
    blocker = tmp_path / "results"
    blocker.write_text("a file, not a folder")
    assert main(["ti", str(run), "--output", str(blocker / "out.json")]) == 2
    _one_error_line(capsys.readouterr().err, "does not exist")
    assert native == [] and blocker.read_text() == "a file, not a folder"


@pytest.mark.parametrize("flag", ["--output", "--plot"])
def test_an_input_is_never_an_output(tmp_path, capsys, native, flag):
    run = _run_file(tmp_path)
    before = _sha(run)
    assert main(["ti", str(run), flag, str(run), "--force"]) == 2
    _one_error_line(capsys.readouterr().err)
    assert _sha(run) == before and native == []


def test_existing_result_needs_force_and_overwrite_is_its_alias(tmp_path, capsys, native):
    run = _run_file(tmp_path, output="out.json")
    out = tmp_path / "out.json"
    assert main(["ti", str(run), "--no-progress"]) == 0
    first = json.loads(out.read_text())
    assert first["complete"] is True and first["format"] == "thermograd-ti"
    before = _sha(out)
    capsys.readouterr()
    assert main(["ti", str(run), "--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "exists", "--force")
    assert _sha(out) == before and len(native) == 1
    CALLS.clear()
    assert main(["ti", str(run), "--overwrite", "--quiet"]) == 0  # alias of --force
    assert sum(CALLS.values()) == 0  # every task came from the journal
    assert json.loads(out.read_text())["lambda_ti"] == first["lambda_ti"]


def test_a_plot_may_not_replace_another_kind_of_file(tmp_path, capsys, native):
    run = _run_file(tmp_path)
    data = tmp_path / "ti.png"
    data.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)  # an HDF5 file that happens to be named .png
    before = _sha(data)
    assert main(["ti", str(run), "--plot", str(data), "--force"]) == 2
    _one_error_line(capsys.readouterr().err, "refusing to replace it")
    assert _sha(data) == before and native == []


def test_results_are_printed_before_any_file_is_written(tmp_path, capsys, native, monkeypatch):
    from thermograd.errors import StoreError

    def failing_write(report, path):
        raise StoreError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr("thermograd.ti.workflow.write_report", failing_write)
    run = _run_file(tmp_path, output="out.json")
    assert main(["ti", str(run), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "300.0 K  λ-TI          F = " in captured.out and "Frenkel-Ladd  F = " in captured.out
    _one_error_line(captured.err, "No space left on device")


def test_a_melting_temperature_keeps_and_writes_the_finished_one(tmp_path, capsys, native):
    """The issue's case: two temperatures, the higher one melts. The lower one is printed and written next
    to the named failures; the exit code is non-zero."""
    run = _run_file(tmp_path, temperatures=[300, 3000], output="out.json")
    assert main(["ti", str(run), "--quiet", "--plot", str(tmp_path / "ti.png")]) == 2
    captured = capsys.readouterr()
    assert "300.0 K  λ-TI" in captured.out and "300.0 K  Frenkel-Ladd" in captured.out
    assert "3000.0 K  FAILED" in captured.out
    errors = captured.err.splitlines()
    assert "thermograd ti: error: λ-TI at 3000 K failed (UnstableStructureError): an atom moved" in errors[0]
    assert errors[1].startswith(
        "thermograd ti: error: Frenkel–Ladd at 3000 K failed (UnstableStructureError)"
    )
    assert "rerun the same command" in errors[2] and len(errors) == 3
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["complete"] is False and [r["T"] for r in out["lambda_ti"]] == [300.0]
    assert {(f["method"], f["T"]) for f in out["failures"]} == {("lambda", 3000.0), ("frenkel_ladd", 3000.0)}
    assert (tmp_path / "ti.png").stat().st_size > 0
    assert (tmp_path / "out.ti-journal.jsonl").is_file()


def test_rerun_after_a_crash_computes_only_what_is_missing(tmp_path, capsys, native):
    from thermograd.ti._tasks import task_seeds

    run = _run_file(tmp_path, temperatures=[300, 400], output="out.json")
    out = tmp_path / "out.json"
    CRASH.add((400.0, task_seeds(4 + 1000, 3)[2]))  # the last λ point at 400 K crashes
    assert main(["ti", str(run), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "λ-TI at 400 K failed (RuntimeError): simulated worker crash" in captured.err
    assert json.loads(out.read_text())["complete"] is False
    assert CALLS == Counter({"lambda": 6, "msd": 2, "fl": 4})
    CRASH.clear()
    CALLS.clear()
    # the unfinished result is replaced without --force; only the crashed λ point runs again
    assert main(["ti", str(run), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert CALLS == Counter({"lambda": 1})
    assert "tasks: 1 computed now, 11 reused from" in captured.out and captured.err == ""
    done = json.loads(out.read_text())
    assert done["complete"] is True and done["failures"] == [] and len(done["lambda_ti"]) == 2
    assert done["tasks"] == {"reused": 11, "computed": 1, "journal": str(tmp_path / "out.ti-journal.jsonl")}


def test_a_foreign_journal_is_refused_and_kept(tmp_path, capsys, native):
    run = _run_file(tmp_path, output="out.json")
    journal = tmp_path / "out.ti-journal.jsonl"
    journal.write_text("my notes, not a journal\n")
    assert main(["ti", str(run), "--quiet"]) == 2
    _one_error_line(capsys.readouterr().err, "out.ti-journal.jsonl", "not a thermograd TI journal")
    assert journal.read_text() == "my notes, not a journal\n" and native == []


# --------------------------------------------------------------------------------------------- demo
def test_demo_refuses_a_workdir_it_cannot_create_before_any_work(tmp_path, capsys, monkeypatch):
    import thermograd.engines.potentials as potentials

    def no_work(*args, **kwargs):
        raise AssertionError("the demo started its work")

    monkeypatch.setattr(potentials.Potential, "from_snap", no_work)
    work = tmp_path / "missing" / "demo"
    assert main(["demo", "--quick", "--quiet", "--workdir", str(work)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("thermograd demo: error: ") and "does not exist" in err[0]
    assert not (tmp_path / "missing").exists()


def test_demo_refuses_to_replace_another_kind_of_file_in_its_workdir(tmp_path, capsys, monkeypatch):
    import thermograd.engines.potentials as potentials

    monkeypatch.setattr(potentials.Potential, "from_snap", lambda *a, **k: pytest.fail("work started"))
    work = tmp_path / "demo"
    work.mkdir()
    (work / "bcc-model.h5").write_text("my notes")
    assert main(["demo", "--quick", "--quiet", "--workdir", str(work)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thermograd demo: error: ") and len(err.strip().splitlines()) == 1
    assert "bcc-model.h5" in err and "not a model file" in err
    assert (work / "bcc-model.h5").read_text() == "my notes"
