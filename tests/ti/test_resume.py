"""A failed TI calculation fails alone, and a rerun computes only what is missing (task journal).

Engine: the NumPy Langevin engine on a 27-atom anharmonic spring network (a fraction of a second per
temperature). "Melting" is real: at 3000 K an atom leaves its site by more than the 0.6 Å limit, at 300 and
400 K none does (largest excursion 0.44 Å over these seeds; a thermal excursion of 0.6 Å at 400 K is a rare
event, not a seed accident). Crashes are injected in chosen tasks.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest

from thermograd.config import validate_model
from thermograd.errors import StoreError
from thermograd.ti.config import TIRunConfig
from thermograd.ti.journal import TaskJournal, digest
from thermograd.ti.native import HarmonicModel, NativeSystem
from thermograd.ti.workflow import run_ti_workflow

MASS = 55.85

#: calls of each engine method (all tasks run in this process: serial executor)
CALLS: Counter = Counter()
#: (kind, T, seed) of tasks that crash
CRASH: set = set()
#: (kind, T, seed) of tasks during which the user presses Ctrl-C
INTERRUPT: set = set()


@dataclass(frozen=True)
class Quartic:
    """Harmonic network + c Σ|δx_i|⁴ (eV): anharmonic, so every λ point and switch gives a distinct number."""

    harmonic: HarmonicModel
    c: float

    def __call__(self, x):
        e, f = self.harmonic(x)
        d = np.asarray(x) - self.harmonic.reference
        r2 = (d * d).sum(1)
        return e + self.c * float((r2**2).sum()), f - 4 * self.c * r2[:, None] * d


@dataclass
class CountingSystem(NativeSystem):
    """A native system that counts its MD runs and crashes in the tasks listed in :data:`CRASH`."""

    def _enter(self, kind, T, seed):
        CALLS[kind] += 1
        if (kind, float(T), int(seed)) in INTERRUPT:
            raise KeyboardInterrupt
        if (kind, float(T), int(seed)) in CRASH:
            raise RuntimeError(f"simulated crash of a {kind} task")

    def lambda_samples(self, lam, T, hessian, energy_offset, n_equil, n_prod, seed):
        self._enter("lambda", T, seed)
        return super().lambda_samples(lam, T, hessian, energy_offset, n_equil, n_prod, seed)

    def msd(self, T, n_equil, n_steps, seed):
        self._enter("msd", T, seed)
        return super().msd(T, n_equil, n_steps, seed)

    def fl_switch(self, T, spring, n_equil, n_switch, seed):
        self._enter("fl", T, seed)
        return super().fl_switch(T, spring, n_equil, n_switch, seed)

    def rs_switch(self, T, lam_final, n_equil, n_switch, seed):
        self._enter("rs", T, seed)
        return super().rs_switch(T, lam_final, n_equil, n_switch, seed)


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    CRASH.clear()
    INTERRUPT.clear()
    yield
    CALLS.clear()
    CRASH.clear()
    INTERRUPT.clear()


def make_system(network, c=0.5, cls=CountingSystem):
    pos, h = network
    return cls(Quartic(HarmonicModel(h, pos), c), pos, MASS, volume=7.5**3, max_displacement=0.6)


def make_config(temperatures=(300.0, 3000.0), methods=("lambda", "frenkel_ladd"), **extra):
    data = {
        "structure": {"builder": "bcc", "element": "Fe", "a": 2.855, "size": 2},  # unused: system given
        "potential": {"eam": "Fe_mm.eam.fs", "elements": ["Fe"]},
        "temperatures": list(temperatures),
        "methods": list(methods),
        "seed": 4,
        "lambda_ti": {"n_points": 3, "n_equil": 50, "n_prod": 300, "convention": "cell"},
        "frenkel_ladd": {"n_equil": 50, "n_switch": 300, "n_repeats": 2, "n_msd_equil": 50, "n_msd": 300},
        **extra,
    }
    return validate_model(TIRunConfig, data)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_melting_temperature_keeps_every_finished_result(network, tmp_path):
    """The issue's case: two temperatures, the higher one melts; the lower one's results are all kept."""
    report = run_ti_workflow(make_config(), system=make_system(network), journal=tmp_path / "j.jsonl")
    assert not report.complete
    assert set(report.lambda_ti) == {300.0} and set(report.frenkel_ladd) == {300.0}
    assert {(f.method, f.T, f.error) for f in report.failures} == {
        ("lambda", 3000.0, "UnstableStructureError"),
        ("frenkel_ladd", 3000.0, "UnstableStructureError"),
    }
    assert all("melted or is unstable" in f.message for f in report.failures)
    out = report.to_dict()
    assert out["complete"] is False and len(out["failures"]) == 2 and out["lambda_ti"][0]["T"] == 300.0
    assert "lambda-frenkel_ladd" in out["comparison"][0]
    # the kept numbers are those of a run at 300 K alone (same seeds: temperature index 0)
    alone = run_ti_workflow(make_config(temperatures=[300.0]), system=make_system(network))
    assert alone.complete and not alone.failures
    assert alone.lambda_ti[300.0] == report.lambda_ti[300.0]
    assert alone.frenkel_ladd[300.0] == report.frenkel_ladd[300.0]


def test_reversible_scaling_without_its_anchor_is_a_named_failure(network):
    cfg = make_config(
        temperatures=[3000.0],
        methods=["frenkel_ladd", "reversible_scaling"],
        reversible_scaling={"T_final": 3500.0, "n_equil": 20, "n_switch": 100, "n_repeats": 2},
    )
    report = run_ti_workflow(cfg, system=make_system(network))
    assert [(f.method, f.error) for f in report.failures] == [
        ("frenkel_ladd", "UnstableStructureError"),
        ("reversible_scaling", "MissingAnchor"),
    ]
    assert report.reversible_scaling is None and CALLS["rs"] == 0


def test_rerun_computes_only_what_is_missing_and_equals_an_uninterrupted_run(network, tmp_path):
    from thermograd.ti._tasks import task_seeds

    cfg = make_config(temperatures=[300.0, 400.0])
    journal = tmp_path / "out.ti-journal.jsonl"
    # λ point 1 at 400 K (temperature index 1: master seed 4 + 1000) and one Frenkel–Ladd pair at 300 K crash
    lam_seed = task_seeds(cfg.seed + 1000, cfg.lambda_ti.n_points)[1]
    fl_seed = task_seeds(cfg.seed + 1, cfg.frenkel_ladd.n_repeats + 2)[0]
    CRASH.update({("lambda", 400.0, lam_seed), ("fl", 300.0, fl_seed)})
    first = run_ti_workflow(cfg, system=make_system(network), journal=journal)
    assert {(f.method, f.T) for f in first.failures} == {("lambda", 400.0), ("frenkel_ladd", 300.0)}
    assert all(f.error == "RuntimeError" and "simulated crash" in f.message for f in first.failures)
    assert set(first.lambda_ti) == {300.0} and set(first.frenkel_ladd) == {400.0}
    # serial: a crash stops the rest of its calculation (λ point 2 at 400 K, pair 1 at 300 K never start);
    # of the 5 + 2 + 3 tasks that ran, all but the 2 crashed are kept
    assert CALLS == Counter({"lambda": 5, "msd": 2, "fl": 3})
    assert first.tasks_computed == 5 + 2 + 3 - 2 and first.tasks_reused == 0

    CRASH.clear()
    CALLS.clear()
    second = run_ti_workflow(cfg, system=make_system(network), journal=journal)
    assert second.complete and not second.failures
    assert CALLS == Counter({"lambda": 2, "fl": 2})  # only the crashed and the never-started tasks
    assert second.tasks_computed == 4 and second.tasks_reused == 12 - 4

    CALLS.clear()
    fresh = run_ti_workflow(cfg, system=make_system(network))  # uninterrupted, no journal
    assert CALLS == Counter({"lambda": 6, "msd": 2, "fl": 4})
    assert fresh.to_dict()["lambda_ti"] == second.to_dict()["lambda_ti"]  # bit for bit
    assert fresh.to_dict()["frenkel_ladd"] == second.to_dict()["frenkel_ladd"]
    assert fresh.comparison == second.comparison

    CALLS.clear()
    third = run_ti_workflow(cfg, system=make_system(network), journal=journal)  # nothing left to do
    assert sum(CALLS.values()) == 0 and third.tasks_reused == 12 and third.complete


def test_ctrl_c_keeps_every_task_finished_before_it(network, tmp_path):
    from thermograd.ti._tasks import task_seeds

    cfg = make_config(temperatures=[300.0, 400.0])
    journal = tmp_path / "j.jsonl"
    INTERRUPT.add(("lambda", 400.0, task_seeds(cfg.seed + 1000, 3)[1]))  # during λ point 1 at 400 K
    with pytest.raises(KeyboardInterrupt):
        run_ti_workflow(cfg, system=make_system(network), journal=journal)
    # 300 K: 3 λ points, 1 MSD, 2 pairs; 400 K: λ point 0 — all on disk
    assert len(journal.read_text().splitlines()) == 1 + 3 + 1 + 2 + 1
    INTERRUPT.clear()
    CALLS.clear()
    report = run_ti_workflow(cfg, system=make_system(network), journal=journal)
    assert report.complete and CALLS == Counter({"lambda": 2, "msd": 1, "fl": 2})


def test_changed_settings_recompute_only_the_changed_tasks(network, tmp_path):
    journal = tmp_path / "j.jsonl"
    run_ti_workflow(make_config(temperatures=[300.0]), system=make_system(network), journal=journal)
    CALLS.clear()
    # a second temperature and longer λ runs: the FL tasks at 300 K are reused, every λ point is new
    cfg = make_config(temperatures=[300.0, 350.0])
    cfg.lambda_ti.n_prod = 400
    report = run_ti_workflow(cfg, system=make_system(network), journal=journal)
    assert report.complete
    assert CALLS == Counter({"lambda": 6, "msd": 1, "fl": 2})


def test_journal_of_another_system_is_refused_and_left_unchanged(network, tmp_path):
    journal = tmp_path / "j.jsonl"
    run_ti_workflow(make_config(temperatures=[300.0]), system=make_system(network), journal=journal)
    before = _sha(journal)
    CALLS.clear()
    with pytest.raises(StoreError, match=r"holds the finished tasks of another TI run \(different model\)"):
        run_ti_workflow(
            make_config(temperatures=[300.0]), system=make_system(network, c=0.4), journal=journal
        )
    assert _sha(journal) == before and sum(CALLS.values()) == 0


def test_a_line_cut_by_a_kill_is_dropped_and_that_task_recomputed(network, tmp_path):
    journal = tmp_path / "j.jsonl"
    cfg = make_config(temperatures=[300.0], methods=["lambda"])
    full = run_ti_workflow(cfg, system=make_system(network), journal=journal)
    lines = journal.read_bytes().splitlines(keepends=True)
    assert len(lines) == 1 + 3  # header + 3 λ points
    journal.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # killed mid-write
    CALLS.clear()
    again = run_ti_workflow(cfg, system=make_system(network), journal=journal)
    assert CALLS == Counter({"lambda": 1}) and again.lambda_ti == full.lambda_ti
    assert journal.read_bytes().endswith(b"\n") and len(journal.read_bytes().splitlines()) == 4


def test_damaged_or_foreign_journal_is_a_one_line_error(network, tmp_path):
    journal = tmp_path / "j.jsonl"
    cfg = make_config(temperatures=[300.0], methods=["lambda"])
    run_ti_workflow(cfg, system=make_system(network), journal=journal)
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0] + b'{"key": "x", "result": {"nd": "%%%"}}\n' + b"".join(lines[1:]))
    before = _sha(journal)
    with pytest.raises(StoreError, match=r"j\.jsonl: line 2 is damaged"):
        run_ti_workflow(cfg, system=make_system(network), journal=journal)
    assert _sha(journal) == before
    other = tmp_path / "notes.jsonl"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(StoreError, match="is not a thermograd TI journal"):
        TaskJournal.open(other, {"model": "x"})
    assert other.read_text() == '{"hello": 1}\n'


def test_one_run_at_a_time(tmp_path):
    path = tmp_path / "j.jsonl"
    with TaskJournal.open(path, {"model": "a"}):
        with pytest.raises(StoreError, match="in use by another thermograd ti run"):
            TaskJournal.open(path, {"model": "a"})
    with TaskJournal.open(path, {"model": "a"}) as j:  # released
        assert len(j) == 0


def test_results_round_trip_exactly_and_keys_depend_on_every_input(tmp_path):
    rng = np.random.default_rng(0)
    value = (rng.standard_normal(7), float("nan"), 3, np.arange(4, dtype=np.int64), 0.1 + 0.2)
    path = tmp_path / "j.jsonl"

    def task(x):
        return x

    with TaskJournal.open(path, {"model": "a"}) as j:
        key = j.key(task, (1.0, np.ones(3)))
        j.record(key, task, value)
        bumped = np.ones(3)
        bumped[2] = np.nextafter(1.0, 2.0)  # one bit in one array element
        assert key != j.key(task, (1.0, bumped))
        assert key != j.key(task, (np.nextafter(1.0, 2.0), np.ones(3)))
        assert key == j.key(task, (1.0, np.ones(3)))
    with TaskJournal.open(path, {"model": "a"}) as j:
        found, back = j.lookup(key)
    assert found and isinstance(back, tuple) and len(back) == 5
    assert back[0].tobytes() == value[0].tobytes() and np.isnan(back[1]) and back[2] == 3
    assert back[3].dtype == np.int64 and back[4] == value[4]
    assert json.loads(path.read_text().splitlines()[1])["task"] == "task"
    assert digest(np.float64(0.5)) == digest(0.5) != digest(0.5 + 2**-52)


def test_process_pool_tasks_are_journaled_and_reused_serially(network, tmp_path):
    from thermograd.parallel import make_executor

    cfg = make_config(temperatures=[300.0])
    journal = tmp_path / "j.jsonl"
    with make_executor("processes", 2) as ex:
        pooled = run_ti_workflow(
            cfg, executor=ex, system=make_system(network, cls=NativeSystem), journal=journal
        )
    assert pooled.complete and pooled.tasks_computed == 3 + 1 + 2  # λ points, MSD, switching pairs
    CALLS.clear()
    serial = run_ti_workflow(cfg, system=make_system(network), journal=journal)
    assert sum(CALLS.values()) == 0 and serial.tasks_reused == 6
    assert serial.to_dict()["lambda_ti"] == pooled.to_dict()["lambda_ti"]
    assert serial.to_dict()["frenkel_ladd"] == pooled.to_dict()["frenkel_ladd"]
