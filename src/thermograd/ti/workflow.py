"""Run-file workflow of ``thermograd ti``: build the system, run the chosen methods at every temperature,
compare them in the ``"cell"`` convention and write one complete JSON result (atomically, only on success)."""

from __future__ import annotations

import json
import math
import os
import tempfile
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StoreError
from .config import TIRunConfig, build_potential
from .frenkel_ladd import run_frenkel_ladd
from .lambda_ti import run_lambda_ti
from .results import FrenkelLaddResult, LambdaTIResult, ReversibleScalingResult, _clean
from .reversible_scaling import run_reversible_scaling


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
        complete: True once every requested calculation finished.
    """

    n_atoms: int
    lattice_scale: float = 1.0
    lambda_ti: dict[float, LambdaTIResult] = field(default_factory=dict)
    frenkel_ladd: dict[float, FrenkelLaddResult] = field(default_factory=dict)
    reversible_scaling: ReversibleScalingResult | None = None
    comparison: list[dict] = field(default_factory=list)
    complete: bool = False

    def to_dict(self) -> dict:
        return _clean(
            {
                "complete": self.complete,
                "n_atoms": self.n_atoms,
                "lattice_scale": self.lattice_scale,
                "units": "eV/atom",
                "comparison_convention": "cell",
                "lambda_ti": [r.to_dict() for r in self.lambda_ti.values()],
                "frenkel_ladd": [r.to_dict() for r in self.frenkel_ladd.values()],
                "reversible_scaling": self.reversible_scaling.to_dict() if self.reversible_scaling else None,
                "comparison": self.comparison,
            }
        )


def build_system(cfg: TIRunConfig):
    """(LammpsSystem, lattice scale) of a run file."""
    from ..ddos.references import build_structure
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


def run_ti_workflow(
    cfg: TIRunConfig, executor: Executor | None = None, progress: bool = False, system=None
) -> TIReport:
    """Run every method of ``cfg`` (serially over temperatures; tasks of each method go to ``executor``)."""
    scale = 1.0
    if system is None:
        system, scale = build_system(cfg)
    report = TIReport(n_atoms=system.n_atoms, lattice_scale=scale)
    temps = [float(t) for t in cfg.temperatures]
    hessian = system.hessian() if "lambda" in cfg.methods else None
    lt, fl = cfg.lambda_ti, cfg.frenkel_ladd
    need_fl = "frenkel_ladd" in cfg.methods
    for i, T in enumerate(temps):
        seed = cfg.seed + 1000 * i
        if "lambda" in cfg.methods:
            report.lambda_ti[T] = run_lambda_ti(
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
            )
        if need_fl or ("reversible_scaling" in cfg.methods and i == 0):
            npt = cfg.npt
            report.frenkel_ladd[T] = run_frenkel_ladd(
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
            )
    if "reversible_scaling" in cfg.methods:
        rs, anchor = cfg.reversible_scaling, report.frenkel_ladd[temps[0]]
        report.reversible_scaling = run_reversible_scaling(
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
        )
    report.comparison = _compare(report, temps)
    report.complete = True
    return report


def write_report(report: TIReport, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write a complete report as JSON atomically (temporary file + rename); refuses partial reports."""
    path = Path(path)
    if not report.complete:
        raise StoreError("refusing to write an incomplete TI report")
    if path.exists() and not overwrite:
        raise StoreError(f"{path} exists; pass --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(report.to_dict(), fh, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


__all__ = ["TIReport", "build_system", "run_ti_workflow", "write_report"]
