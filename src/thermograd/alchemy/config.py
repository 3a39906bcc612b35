"""YAML run-file models for ``thermograd alchemy lattice|optimize|integrate RUN.yaml`` (strict keys,
"did you mean" hints), and the builders that turn them into an alchemical system and a backend. The
``structure`` section is the shared :class:`thermograd.systems.StructureConfig` (an ``ase.build.bulk``
prototype, a lattice builder or a file), built by :func:`thermograd.systems.build_structure`."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ..config import StrictModel
from ..errors import ConfigError, InputError
from ..systems import StructureConfig


class BackendConfig(StrictModel):
    """Which alchemical model to use."""

    name: Literal["sevennet", "mace"] = "sevennet"
    model: str = "7net-0"  # sevennet: pretrained name or checkpoint; mace: path to a model file
    dtype: Literal["float32", "float64"] = "float64"
    policy: Literal["cross-group", "paper"] = "cross-group"
    device: str = "cpu"


class AlchemyConfig(StrictModel):
    """The alchemical degrees of freedom: one mixed sublattice, or one vacancy."""

    sites: str | list[int] | None = None  # chemical symbol of the host sublattice, or explicit indices
    species: list[str] | None = None  # candidates on those sites, e.g. [Na, K]
    lam: list[float] | None = None  # start weights (default: first species pure)
    vacancy: int | None = None  # site index that becomes a ghost with weight w

    @model_validator(mode="after")
    def _one_kind(self):
        if (self.vacancy is None) == (self.species is None):
            raise ValueError("give either 'sites' + 'species' (substitution) or 'vacancy' (site index)")
        if self.species is not None and (self.sites is None or len(self.species) < 2):
            raise ValueError("a substitution needs 'sites' and at least two 'species'")
        return self

    def build(self, atoms):
        """The :class:`~thermograd.alchemy.system.AlchemicalSystem` for ``atoms``."""
        from .system import substitution, vacancy

        if self.vacancy is not None:
            w = 1.0 if self.lam is None else self.lam[0]
            return vacancy(atoms, self.vacancy, w)
        if isinstance(self.sites, str):
            sites = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == self.sites]
            if not sites:
                raise ConfigError(f"alchemy.sites: no {self.sites!r} atoms in the structure")
        else:
            sites = list(self.sites)
        try:
            return substitution(atoms, sites, self.species, None if self.lam is None else np.array(self.lam))
        except InputError as exc:
            raise ConfigError(f"alchemy: {exc}") from None


class LatticeConfig(StrictModel):
    x: list[float] = Field(default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0], min_length=2)
    fmax: float = Field(default=1e-3, gt=0)  # eV/Å
    steps: int = Field(default=500, ge=1)


class OptimizeConfig(StrictModel):
    target: Literal["zero_stress", "lattice_constant"] = "lattice_constant"
    a: float | None = Field(default=None, gt=0)  # Å, for target: lattice_constant
    loss: Literal["hydrostatic", "in_plane", "full"] = "hydrostatic"
    method: Literal["projected", "exponentiated"] = "projected"
    lr: float = Field(default=5e-3, gt=0)
    max_steps: int = Field(default=200, ge=0)
    tol: float = Field(default=1e-6, gt=0)  # GPa²

    @model_validator(mode="after")
    def _need_a(self):
        if self.target == "lattice_constant" and self.a is None:
            raise ValueError("target 'lattice_constant' needs 'a' (Å)")
        return self


class IntegrateConfig(StrictModel):
    lam_start: list[float]
    lam_end: list[float]
    n_points: int = Field(default=4, ge=1)
    rule: Literal["gauss-legendre", "trapezoid"] = "gauss-legendre"
    relax: bool = True
    fmax: float = Field(default=0.01, gt=0)
    steps: int = Field(default=500, ge=1)


class AlchemyRun(StrictModel):
    """A complete ``thermograd alchemy`` run file."""

    backend: BackendConfig = Field(default_factory=BackendConfig)
    structure: StructureConfig
    alchemy: AlchemyConfig
    lattice: LatticeConfig | None = None
    optimize: OptimizeConfig | None = None
    integrate: IntegrateConfig | None = None
    output: str | None = None  # JSON results file


def build_backend(cfg: BackendConfig):
    """Instantiate the backend named in the run file."""
    import torch

    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    if cfg.name == "sevennet":
        from .sevennet import load_sevennet

        return load_sevennet(cfg.model, dtype=dtype, device=cfg.device)
    try:
        from .mace import MaceAlchemicalBackend
    except ImportError as exc:
        raise ConfigError(f"backend 'mace' is not available: {exc}") from None
    return MaceAlchemicalBackend.from_file(cfg.model, dtype=dtype, device=cfg.device)
