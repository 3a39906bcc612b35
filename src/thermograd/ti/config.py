"""Run file of ``thermograd ti`` (YAML, strict keys; ``thermograd init ti`` prints a commented example)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ..config import StrictModel, load_yaml_model
from ..systems import PotentialConfig, StructureConfig

METHODS = ("lambda", "frenkel_ladd", "reversible_scaling")


class MDConfig(StrictModel):
    """Langevin MD settings shared by all methods."""

    timestep: float = Field(default=0.002, gt=0, description="ps")
    damping: float = Field(default=0.1, gt=0, description="Langevin relaxation time, ps")
    max_displacement: float | None = Field(default=None, gt=0, description="Å; default half the NN distance")


class LambdaConfig(StrictModel):
    """λ-TI settings; ``adaptive`` grows the Gauss–Legendre rule (n → n + 2, up to ``max_points``) until
    its quadrature-error estimate is at most the statistical error (see :mod:`thermograd.ti.lambda_ti`)."""

    n_points: int = Field(default=5, ge=1)
    n_equil: int = Field(default=1000, ge=0)
    n_prod: int = Field(default=5000, ge=16)
    convention: Literal["ddos", "cell"] = "ddos"
    adaptive: bool = False
    max_points: int = Field(default=11, ge=3)

    @model_validator(mode="after")
    def _adaptive_range(self) -> LambdaConfig:
        if self.adaptive and not 3 <= self.n_points <= self.max_points:
            raise ValueError(
                f"adaptive λ quadrature needs 3 <= n_points <= max_points, got n_points = {self.n_points}, "
                f"max_points = {self.max_points}"
            )
        return self


class FrenkelLaddConfig(StrictModel):
    spring: float | None = Field(default=None, gt=0, description="eV/Å²; default from the MSD")
    n_msd_equil: int = Field(default=1000, ge=0)
    n_msd: int = Field(default=4000, ge=16)
    n_equil: int = Field(default=2000, ge=0)
    n_switch: int = Field(default=5000, ge=1)
    n_repeats: int = Field(default=4, ge=1)


class NPTConfig(StrictModel):
    pressure: float = Field(description="bar")
    n_steps: int = Field(default=5000, ge=200)


class ReversibleScalingConfig(StrictModel):
    T_final: float = Field(gt=0, description="K; the anchor is the first temperature")
    n_equil: int = Field(default=2000, ge=0)
    n_switch: int = Field(default=10000, ge=2)
    n_repeats: int = Field(default=4, ge=1)
    n_temperatures: int = Field(default=41, ge=2)


class TIRunConfig(StrictModel):
    """A ``thermograd ti`` run: one structure and potential, several temperatures and methods."""

    structure: StructureConfig
    potential: PotentialConfig
    temperatures: list[float] = Field(min_length=1)
    methods: list[Literal["lambda", "frenkel_ladd", "reversible_scaling"]] = Field(
        default_factory=lambda: ["lambda", "frenkel_ladd"]
    )
    seed: int = 0
    md: MDConfig = MDConfig()
    relax_lattice: bool = False
    lambda_ti: LambdaConfig = LambdaConfig()
    frenkel_ladd: FrenkelLaddConfig = FrenkelLaddConfig()
    npt: NPTConfig | None = None
    reversible_scaling: ReversibleScalingConfig | None = None
    output: str | None = None

    @field_validator("temperatures")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        bad = [t for t in value if not t > 0]
        if bad:
            raise ValueError(f"temperatures must be > 0 K, got {bad}")
        return value

    @model_validator(mode="after")
    def _rs_needs_settings(self) -> TIRunConfig:
        if "reversible_scaling" in self.methods and self.reversible_scaling is None:
            raise ValueError("method 'reversible_scaling' needs a 'reversible_scaling:' section with T_final")
        if not self.methods:
            raise ValueError(f"give at least one method of {METHODS}")
        return self


def load_ti_config(path: str | Path) -> TIRunConfig:
    """Validate a run file; relative structure/output paths are taken relative to the file."""
    cfg = load_yaml_model(TIRunConfig, path)
    base = Path(path).resolve().parent
    if cfg.structure.file is not None and not Path(cfg.structure.file).is_absolute():
        cfg.structure.file = str(base / cfg.structure.file)
    if cfg.output is not None and not Path(cfg.output).is_absolute():
        cfg.output = str(base / cfg.output)
    for key in ("eam", "snap"):  # potential files next to the run file win over the search path
        name = getattr(cfg.potential, key)
        if name is not None and not Path(name).is_absolute() and (base / name).exists():
            setattr(cfg.potential, key, str(base / name))
    return cfg


def build_potential(spec: PotentialConfig, element: str):
    """The :class:`~thermograd.engines.potentials.Potential` of a run file's ``potential`` section."""
    from ..engines.potentials import Potential

    if spec.snap is not None:
        return Potential.from_snap(spec.snap, spec.elements)
    if spec.eam is not None:
        return Potential.eam(spec.eam, spec.elements)
    return Potential.from_lammps(spec.pair_style, spec.pair_coeff_lines, spec.elements or [element])
