"""Run-file workflow of ``thermograd ti``: build the system, run the chosen methods at every temperature and
compare them in the ``"cell"`` convention.

A failure fails alone: each (method, temperature) calculation runs on its own, so a temperature that melts,
an unstable model or a crashed worker is reported as a named :class:`TIFailure` next to every result that
did finish, and the report is marked incomplete. With a task journal
(:class:`~thermograd.ti.journal.TaskJournal`) every finished task is kept on disk as it arrives, so a rerun
computes only what is missing.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from .config import TIRunConfig, build_potential
from .frenkel_ladd import run_frenkel_ladd
from .lambda_ti import run_lambda_ti
from .results import FrenkelLaddResult, LambdaTIResult, ReversibleScalingResult, _clean
from .reversible_scaling import run_reversible_scaling
from .system import TISystem

#: ``format`` entry of the JSON result
RESULT_FORMAT = "thermograd-ti"

METHOD_NAMES = {"lambda": "λ-TI", "frenkel_ladd": "Frenkel–Ladd", "reversible_scaling": "reversible scaling"}


@dataclass(frozen=True)
class TIFailure:
    """A calculation that did not finish.

    Attributes:
        method: ``"lambda"``, ``"frenkel_ladd"`` or ``"reversible_scaling"``.
        T: temperature, K (the anchor temperature for reversible scaling).
        error: exception class name (e.g. ``UnstableStructureError``).
        message: what went wrong.
    """

    method: str
    T: float
    error: str
    message: str

    def describe(self) -> str:
        """One line: which calculation failed and why."""
        return f"{METHOD_NAMES.get(self.method, self.method)} at {self.T:g} K failed ({self.error}): {self.message}"

    def to_dict(self) -> dict:
        return {"method": self.method, "T": self.T, "error": self.error, "message": self.message}


@dataclass
class TIReport:
    """Everything a ``thermograd ti`` run produced.

    Attributes:
        n_atoms: N.
        lattice_scale: linear scale applied by ``relax_lattice`` (1.0 if none).
        lambda_ti: λ-TI results by temperature (K → result).
        frenkel_ladd: FL results by temperature.
        reversible_scaling: the RS curve (anchored at the first temperature's FL), or None.
        comparison: per temperature, F (cell convention, eV/atom) ± error of each method and the
            pairwise differences in units of their combined error.
        failures: the calculations that did not finish, each with its reason.
        complete: True once every requested calculation finished.
        tasks_reused: tasks taken from the journal (computed by an earlier run).
        tasks_computed: tasks computed by this run.
        journal: path of the task journal, if any.
    """

    n_atoms: int
    lattice_scale: float = 1.0
    lambda_ti: dict[float, LambdaTIResult] = field(default_factory=dict)
    frenkel_ladd: dict[float, FrenkelLaddResult] = field(default_factory=dict)
    reversible_scaling: ReversibleScalingResult | None = None
    comparison: list[dict] = field(default_factory=list)
    failures: list[TIFailure] = field(default_factory=list)
    complete: bool = False
    tasks_reused: int = 0
    tasks_computed: int = 0
    journal: str | None = None

    @property
    def n_results(self) -> int:
        """Finished calculations (one per method and temperature; the RS curve counts once)."""
        return len(self.lambda_ti) + len(self.frenkel_ladd) + (self.reversible_scaling is not None)

    def to_dict(self) -> dict:
        return _clean(
            {
                "format": RESULT_FORMAT,
                "complete": self.complete,
                "n_atoms": self.n_atoms,
                "lattice_scale": self.lattice_scale,
                "units": "eV/atom",
                "comparison_convention": "cell",
                "lambda_ti": [r.to_dict() for r in self.lambda_ti.values()],
                "frenkel_ladd": [r.to_dict() for r in self.frenkel_ladd.values()],
                "reversible_scaling": self.reversible_scaling.to_dict() if self.reversible_scaling else None,
                "comparison": self.comparison,
                "failures": [f.to_dict() for f in self.failures],
                "tasks": {
                    "reused": self.tasks_reused,
                    "computed": self.tasks_computed,
                    "journal": self.journal,
                },
            }
        )


def build_system(cfg: TIRunConfig):
    """(LammpsSystem, lattice scale) of a run file."""
    from ..systems import build_structure
    from .lammps_md import LammpsSystem, relax_cubic_lattice

    atoms = build_structure(cfg.structure)
    element = atoms.get_chemical_symbols()[0]
    potential = build_potential(cfg.potential, element)
    scale = 1.0
    if cfg.relax_lattice:
        atoms, scale = relax_cubic_lattice(atoms, potential)
    system = LammpsSystem(atoms, potential, cfg.md.timestep, cfg.md.damping, cfg.md.max_displacement)
    return system, scale


def _compare(report: TIReport, temperatures: list[float]) -> list[dict]:
    rows = []
    for T in temperatures:
        row: dict = {"T": T}
        values = {}
        if T in report.lambda_ti:
            values["lambda"] = (report.lambda_ti[T].F_cell, report.lambda_ti[T].F_error)
        if T in report.frenkel_ladd:
            values["frenkel_ladd"] = (report.frenkel_ladd[T].F, report.frenkel_ladd[T].F_error)
        rs = report.reversible_scaling
        if rs is not None and min(rs.temperatures[0], rs.temperatures[-1]) <= T <= max(
            rs.temperatures[0], rs.temperatures[-1]
        ):
            values["reversible_scaling"] = rs.at(T)
        for name, (v, e) in values.items():
            row[f"F_{name}"], row[f"F_{name}_error"] = v, e
        names = list(values)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                (va, ea), (vb, eb) = values[a], values[b]
                sigma = math.hypot(ea, eb)
                row[f"{a}-{b}"] = va - vb
                row[f"{a}-{b}_sigmas"] = (va - vb) / sigma if sigma > 0 else float("nan")
        rows.append(row)
    return rows


def _attempt(report: TIReport, method: str, T: float, fn: Callable, store: dict) -> None:
    """Run one calculation; a failure is recorded, not raised (Ctrl-C still stops the run)."""
    try:
        store[T] = fn()
    except Exception as exc:  # every failure is reported by name; none discards the others
        report.failures.append(TIFailure(method, float(T), type(exc).__name__, _one_line(exc)))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or repr(exc)


def run_ti_workflow(
    cfg: TIRunConfig,
    executor: Executor | None = None,
    progress: bool = False,
    system: TISystem | None = None,
    journal: str | os.PathLike | None = None,
) -> TIReport:
    """Run every method of ``cfg`` (serially over temperatures; tasks of each method go to ``executor``).

    Args:
        cfg: the run file.
        executor: where the tasks of each calculation run (default: serially here).
        progress: tqdm bars.
        system: a ready :class:`~thermograd.ti.system.TISystem` (default: a LAMMPS one built from ``cfg``).
        journal: path of the task journal (created if missing; see :mod:`thermograd.ti.journal`): tasks
            already in it are reused, finished ones are recorded at once. ``None``: no journal.

    Returns:
        The report; ``report.failures`` names every calculation that did not finish (the others are all
        there), ``report.complete`` is True when there is none.

    Raises:
        ThermogradError: the system cannot be built, or the journal belongs to another system.
    """
    from .journal import TaskJournal

    scale = 1.0
    if system is None:
        system, scale = build_system(cfg)
    report = TIReport(n_atoms=system.n_atoms, lattice_scale=scale)
    tj = TaskJournal.open(journal, system.fingerprint()) if journal is not None else None
    try:
        _run_methods(cfg, system, report, executor, progress, tj)
    finally:
        if tj is not None:
            tj.close()
            report.tasks_reused, report.tasks_computed = tj.n_reused, tj.n_recorded
            report.journal = str(tj.path)
    report.comparison = _compare(report, [float(t) for t in cfg.temperatures])
    report.complete = not report.failures
    return report


def _run_methods(
    cfg: TIRunConfig, system: TISystem, report: TIReport, executor, progress: bool, journal
) -> None:
    temps = [float(t) for t in cfg.temperatures]
    lt, fl = cfg.lambda_ti, cfg.frenkel_ladd
    need_fl = "frenkel_ladd" in cfg.methods
    npt = cfg.npt
    hessian = None
    if "lambda" in cfg.methods:
        try:
            hessian = system.hessian()
        except Exception as exc:  # every λ-TI temperature needs it: each fails with the same reason
            for T in temps:
                report.failures.append(TIFailure("lambda", T, type(exc).__name__, _one_line(exc)))
    for i, T in enumerate(temps):
        seed = cfg.seed + 1000 * i
        if hessian is not None:
            _attempt(
                report,
                "lambda",
                T,
                lambda T=T, seed=seed: run_lambda_ti(
                    system,
                    T,
                    n_points=lt.n_points,
                    n_equil=lt.n_equil,
                    n_prod=lt.n_prod,
                    seed=seed,
                    convention=lt.convention,
                    executor=executor,
                    progress=progress,
                    hessian=hessian,
                    journal=journal,
                    adaptive=lt.adaptive,
                    max_points=lt.max_points,
                ),
                report.lambda_ti,
            )
        if need_fl or ("reversible_scaling" in cfg.methods and i == 0):
            _attempt(
                report,
                "frenkel_ladd",
                T,
                lambda T=T, seed=seed: run_frenkel_ladd(
                    system,
                    T,
                    spring=fl.spring,
                    n_msd_equil=fl.n_msd_equil,
                    n_msd=fl.n_msd,
                    n_equil=fl.n_equil,
                    n_switch=fl.n_switch,
                    n_repeats=fl.n_repeats,
                    seed=seed + 1,
                    pressure=npt.pressure if npt else None,
                    n_npt=npt.n_steps if npt else 5000,
                    executor=executor,
                    progress=progress,
                    journal=journal,
                ),
                report.frenkel_ladd,
            )
    if "reversible_scaling" in cfg.methods:
        rs = cfg.reversible_scaling
        anchor = report.frenkel_ladd.get(temps[0])
        if anchor is None:
            report.failures.append(
                TIFailure(
                    "reversible_scaling",
                    temps[0],
                    "MissingAnchor",
                    f"needs the Frenkel–Ladd free energy at {temps[0]:g} K as its anchor, which did not finish",
                )
            )
            return
        holder: dict = {}
        _attempt(
            report,
            "reversible_scaling",
            temps[0],
            lambda: run_reversible_scaling(
                system,
                temps[0],
                rs.T_final,
                anchor.F,
                anchor.F_error,
                n_equil=rs.n_equil,
                n_switch=rs.n_switch,
                n_repeats=rs.n_repeats,
                n_temperatures=rs.n_temperatures,
                seed=cfg.seed + 7,
                executor=executor,
                progress=progress,
                journal=journal,
            ),
            holder,
        )
        report.reversible_scaling = holder.get(temps[0])


def report_json(report: TIReport) -> str:
    """The JSON text of a report (complete or not: ``complete`` and ``failures`` say which)."""
    return json.dumps(report.to_dict(), indent=1)


def write_report(report: TIReport, path: str | os.PathLike) -> Path:
    """Write a report as JSON atomically (temporary file + rename); an incomplete report says so in its
    ``complete`` and ``failures`` entries."""
    from ..outputs import write_text

    path = Path(path)
    write_text(path, report_json(report) + "\n")
    return path


def resumable_result(path: str | os.PathLike) -> bool:
    """True if ``path`` is the JSON result of an unfinished TI run (``complete: false``), which a rerun may
    replace without ``--force``."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(1 << 26))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == RESULT_FORMAT and data.get("complete") is False


__all__ = [
    "RESULT_FORMAT",
    "TIFailure",
    "TIReport",
    "build_system",
    "report_json",
    "resumable_result",
    "run_ti_workflow",
    "write_report",
]
