"""YAML run-file models for ``thermograd alchemy lattice|optimize|integrate|free-energy RUN.yaml`` (strict
keys, "did you mean" hints), and the builders that turn them into an alchemical system and a backend. The
``structure`` section is the shared :class:`thermograd.systems.StructureConfig` (an ``ase.build.bulk``
prototype, a lattice builder or a file), built by :func:`thermograd.systems.build_structure`."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from ..config import StrictModel
from ..errors import ConfigError, InputError
from ..systems import StructureConfig


class MorseConfig(StrictModel):
    """A Morse pair model (:class:`~thermograd.alchemy.pair.MorseBackend`): a preset or explicit pairs."""

    preset: Literal["fe", "cspbi3"] | None = None  # fe: FE_MORSE, cutoff 3.6 Å; cspbi3: cspbi3_morse()
    pairs: dict[str, list[float]] | None = None  # {"Fe-Fe": [D eV, a 1/Å, r0 Å], ...}
    cutoff: float | None = Field(default=None, gt=0)  # Å, with pairs
    taper: float = Field(default=0.5, gt=0)  # Å, cosine taper below the cutoff, with pairs

    @model_validator(mode="after")
    def _one_source(self):
        if (self.preset is None) == (self.pairs is None):
            raise ValueError("give exactly one of 'preset' (fe, cspbi3) or 'pairs' (with 'cutoff')")
        if self.preset is not None and self.model_fields_set & {"cutoff", "taper"}:
            raise ValueError("a preset fixes its cutoff and taper; give 'pairs' to choose them")
        if self.pairs is not None:
            if self.cutoff is None:
                raise ValueError("'pairs' needs 'cutoff' (Å)")
            for name, p in self.pairs.items():
                if len(name.split("-")) != 2 or len(p) != 3:
                    raise ValueError(f"pair {name!r}: write 'A-B': [D, a, r0] (eV, 1/Å, Å)")
        return self


class RandomMaceConfig(StrictModel):
    """A small MACE with random weights (``MaceAlchemicalBackend.random``), for tests."""

    species: list[str] = Field(min_length=1)
    seed: int = 0


class BackendConfig(StrictModel):
    """Which alchemical model to use: SevenNet, MACE (a model file, or ``model: random`` with ``random``),
    a Morse pair model (``morse``) or the sum of several backends (``sum``)."""

    name: Literal["sevennet", "mace", "morse", "sum"] = "sevennet"
    model: str = "7net-0"  # sevennet: pretrained name or checkpoint; mace: path to a model file, or random
    dtype: Literal["float32", "float64"] = "float64"
    policy: Literal["cross-group", "paper"] = "cross-group"
    device: str = "cpu"
    morse: MorseConfig | None = None  # name: morse
    random: RandomMaceConfig | None = None  # name: mace, model: random
    sum: list[BackendConfig] | None = Field(default=None, min_length=2)  # name: sum

    @model_validator(mode="after")
    def _consistent(self):
        given = self.model_fields_set
        if (self.name == "morse") != (self.morse is not None):
            raise ValueError(
                "backend 'morse' needs a 'morse' section (preset or pairs), and only it takes one"
            )
        if (self.name == "sum") != (self.sum is not None):
            raise ValueError("backend 'sum' needs 'sum: [backend, backend, ...]', and only it takes one")
        is_random = self.name == "mace" and self.model == "random"
        if is_random != (self.random is not None):
            raise ValueError(
                "'model: random' (name: mace) needs a 'random' section (species, seed), and only it takes one"
            )
        if self.name in ("morse", "sum") and "model" in given:
            raise ValueError(f"backend {self.name!r} takes no 'model'")
        return self

    def model_files(self) -> list[str]:
        """The model files this backend reads (inputs: never an output)."""
        if self.name == "sum":
            return [f for b in self.sum or [] for f in b.model_files()]
        if self.name in ("sevennet", "mace") and self.model != "random":
            return [self.model]
        return []


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


class MDConfig(StrictModel):
    """Step counts of a free-energy run (:class:`thermograd.md.frenkel_ladd.MDSettings`; every count per
    replica; a key left out takes MDSettings' default)."""

    timestep: float | None = Field(default=None, gt=0)  # ps
    damping: float | None = Field(default=None, gt=0)  # Langevin 1/γ, ps
    n_npt: int | None = Field(default=None, ge=0)  # NPT steps for the volume (with a pressure)
    n_msd_equil: int | None = Field(default=None, ge=0)  # spring-constant run: equilibration
    n_msd: int | None = Field(default=None, ge=1)  # spring-constant run: production
    n_equil: int | None = Field(default=None, ge=0)  # steps at each end of a switch
    n_switch: int | None = Field(default=None, ge=1)  # steps of each switching leg
    n_replicas: int | None = Field(default=None, ge=1)  # independent switching pairs in one batch
    seed: int | None = None
    max_displacement: float | None = Field(default=None, gt=0)  # Å: farther from its site = melted
    barostat_time: float | None = Field(default=None, gt=0)  # ps
    compressibility: float | None = Field(default=None, gt=0)  # 1/GPa (barostat coupling)

    def settings(self, n_switch: int | None = None):
        """The :class:`~thermograd.md.frenkel_ladd.MDSettings` (``n_switch`` overrides the section's)."""
        from ..md.frenkel_ladd import MDSettings

        kwargs = {k: v for k, v in self.model_dump().items() if v is not None}
        if n_switch is not None:
            kwargs["n_switch"] = int(n_switch)
        try:
            return MDSettings(**kwargs)
        except InputError as exc:
            raise ConfigError(f"free_energy.md: {exc}") from None


FREE_ENERGY_KINDS = ("vacancy", "substitution", "cycle", "frenkel-ladd")


class FreeEnergyConfig(StrictModel):
    """``thermograd alchemy free-energy``: what to compute, at which temperatures, with which MD."""

    kind: Literal["vacancy", "substitution", "cycle", "frenkel-ladd"]
    temperatures: list[float] = Field(min_length=1)  # K
    pressure: float | None = None  # bar (vacancy, frenkel-ladd): fix the volume by NPT first
    conventional: bool = True  # vacancy: also the defect crystal's Frenkel–Ladd (the conventional route)
    relax_defect: bool = True  # vacancy, conventional: relax the defect crystal's sites first (fixed cell)
    harmonic: bool = False  # vacancy: also the harmonic reference E_v + F_h,v (two Hessians, no sampling)
    md: MDConfig = Field(default_factory=MDConfig)
    n_switch_scan: list[int] | None = Field(default=None, min_length=1)  # repeat at each n_switch
    checkpoint_dir: str | None = None  # default: next to the output, or thermograd-checkpoints/<stem>
    phases: dict[str, StructureConfig] | None = None  # cycle: exactly two phases, name -> structure

    @model_validator(mode="after")
    def _per_kind(self):
        if any(not t > 0 for t in self.temperatures):
            raise ValueError(f"temperatures must be > 0 K, got {self.temperatures}")
        if self.n_switch_scan is not None and any(n < 1 for n in self.n_switch_scan):
            raise ValueError(f"n_switch_scan must hold step counts >= 1, got {self.n_switch_scan}")
        if self.pressure is not None and self.kind not in ("vacancy", "frenkel-ladd"):
            raise ValueError(f"'pressure' is for kind vacancy or frenkel-ladd, not {self.kind} (fixed cell)")
        for key in ("conventional", "relax_defect", "harmonic"):
            if key in self.model_fields_set and self.kind != "vacancy":
                raise ValueError(f"{key!r} is for kind vacancy, not {self.kind}")
        if self.kind == "cycle":
            n = 0 if self.phases is None else len(self.phases)
            if n != 2:
                raise ValueError(f"kind cycle needs 'phases' with exactly two structures, got {n}")
        elif self.phases is not None:
            raise ValueError(f"'phases' is for kind cycle, not {self.kind}")
        return self


class AlchemyRun(StrictModel):
    """A complete ``thermograd alchemy`` run file."""

    backend: BackendConfig = Field(default_factory=BackendConfig)
    structure: StructureConfig | None = None  # every action but a free-energy cycle (free_energy.phases)
    alchemy: AlchemyConfig | None = None
    lattice: LatticeConfig | None = None
    optimize: OptimizeConfig | None = None
    integrate: IntegrateConfig | None = None
    free_energy: FreeEnergyConfig | None = None
    output: str | None = None  # JSON results file

    @model_validator(mode="after")
    def _sections(self):
        fe = self.free_energy
        kind = None if fe is None else fe.kind
        if kind == "cycle":
            if self.structure is not None:
                raise ValueError(
                    "kind cycle takes its structures from free_energy.phases: remove 'structure'"
                )
        elif self.structure is None:
            raise ValueError("the run file needs a 'structure' section")
        if kind != "frenkel-ladd" and self.alchemy is None:
            raise ValueError("the run file needs an 'alchemy' section")
        al = self.alchemy
        if kind == "vacancy" and al.vacancy is None:
            raise ValueError("kind vacancy needs 'alchemy.vacancy' (the index of the site to remove)")
        if kind in ("substitution", "cycle"):
            if al.species is None or len(al.species) != 2:
                raise ValueError(f"kind {kind} needs 'alchemy.species: [from, to]' (two species)")
            if kind == "cycle" and al.sites != al.species[0]:
                raise ValueError(
                    f"kind cycle substitutes a whole sublattice in both phases: set alchemy.sites to "
                    f"{al.species[0]!r} (the 'from' species)"
                )
            if isinstance(al.sites, str) and al.sites != al.species[0]:
                raise ValueError(
                    f"alchemy.sites {al.sites!r} is not the 'from' species {al.species[0]!r} of alchemy.species"
                )
        return self

    def structure_files(self) -> list[str]:
        """Structure files this run reads."""
        specs = [self.structure] if self.structure is not None else []
        if self.free_energy is not None and self.free_energy.phases:
            specs += list(self.free_energy.phases.values())
        return [s.file for s in specs if s.file]


def build_backend(cfg: BackendConfig):
    """Instantiate the backend named in the run file.

    Raises:
        ConfigError: a backend that cannot be built from the section (bad Morse pairs, MACE missing, ...).
    """
    import torch

    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    if cfg.name == "sevennet":
        from .sevennet import load_sevennet

        return load_sevennet(cfg.model, dtype=dtype, device=cfg.device)
    if cfg.name == "morse":
        from .pair import FE_MORSE, MorseBackend

        m = cfg.morse
        try:
            if m.preset == "fe":
                return MorseBackend(FE_MORSE, 3.6, dtype=dtype)
            if m.preset == "cspbi3":
                from .perovskites import CSPBI3_MORSE, CSPBI3_MORSE_CUTOFF

                return MorseBackend(CSPBI3_MORSE, CSPBI3_MORSE_CUTOFF, taper=0.5, dtype=dtype)
            pairs = {tuple(k.split("-")): tuple(v) for k, v in m.pairs.items()}
            return MorseBackend(pairs, m.cutoff, taper=m.taper, dtype=dtype)
        except InputError as exc:
            raise ConfigError(f"backend.morse: {exc}") from None
    if cfg.name == "sum":
        from .pair import SumBackend

        try:
            return SumBackend([build_backend(b) for b in cfg.sum])
        except InputError as exc:
            raise ConfigError(f"backend.sum: {exc}") from None
    import contextlib
    import sys

    try:
        from .mace import MaceAlchemicalBackend
    except ImportError as exc:
        raise ConfigError(f"backend 'mace' is not available: {exc}") from None
    # mace prints notices (cuequivariance) on stdout at import: kept off the results (--json is one line);
    # a missing mace-torch is reported by the backend itself
    with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(ImportError):
        import mace.modules  # noqa: F401
    if cfg.model == "random":
        try:
            return MaceAlchemicalBackend.random(
                cfg.random.species, cfg.random.seed, dtype=dtype, device=cfg.device
            )
        except (InputError, KeyError, ValueError) as exc:
            raise ConfigError(f"backend.random: {exc}") from None
    return MaceAlchemicalBackend.from_file(cfg.model, dtype=dtype, device=cfg.device)
