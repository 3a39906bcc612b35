"""Run-file model of a D-DOS sampling campaign (``thermograd sample run.yaml``).

A campaign samples harmonic-energy shells of every phase × strain of a reference structure
(science-ddos.md §3, §12). The run file names the phases (a builder or a structure file), the isotropic
strains, the reference potential (Hessian and E_0), the descriptor (default: the SNAP bispectrum of the
potential's ``.snapparam``), the shell temperatures, samples per shell, chunk size, seed, histogram percentile
and the output HDF5 file. Every model forbids unknown keys; misspelled keys get a "did you mean" hint.

The *config hash* identifies a campaign: it is the SHA-256 of the canonical JSON of the validated config
(comments, key order, the output path and the folders of input files do not enter; input files enter by
content), so a rerun with an equivalent file resumes, also after the run folder was moved. A run file that
adds phases, strains, shells or samples grows the campaign (see :mod:`thermograd.ddos.sampling.campaign_growth`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import numpy as np
import yaml
from pydantic import Field, PrivateAttr, field_validator, model_validator

from ...config import StrictModel, validate_model
from ...errors import ConfigError
from ...systems import PotentialConfig, StructureConfig

__all__ = [
    "CampaignConfig",
    "DescriptorConfig",
    "HessianConfig",
    "PhaseConfig",
    "ShellRange",
    "file_digest",
    "load_campaign_config",
]


class PhaseConfig(StrictModel):
    """One phase: a label and its reference structure."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")
    structure: StructureConfig


class DescriptorConfig(StrictModel):
    """Per-atom descriptor averaged over atoms: a SNAP bispectrum from a ``.snapparam`` (name or path), or a
    generic LAMMPS per-atom ``compute`` (e.g. ``"sna/atom 4.6 0.99363 6 0.5 1.0 rmin0 0.0"``) with its
    ``cutoff`` (Å). Omitted: the bispectrum of the SNAP reference potential's own ``.snapparam``."""

    snapparam: str | None = None
    compute: str | None = None
    cutoff: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> DescriptorConfig:
        if (self.snapparam is None) == (self.compute is None):
            raise ValueError("give exactly one of 'snapparam' or 'compute'")
        if self.compute is not None and self.cutoff is None:
            raise ValueError("'compute' needs 'cutoff' (Å, for the pair_style zero neighbour list)")
        if self.snapparam is not None and self.cutoff is not None:
            raise ValueError("'cutoff' is read from the .snapparam; give it only with 'compute'")
        return self


class HessianConfig(StrictModel):
    """Hessian of the reference potential: central finite differences of forces (``fd``) or the LAMMPS PHONON
    ``dynmat`` command, with displacement ``step`` in Å (default: the engine's, 1e-3 Å); ``negative_tol`` is
    the relative tolerance below which a mode counts as unstable."""

    method: Literal["fd", "dynmat"] = "fd"
    step: float | None = Field(default=None, gt=0, lt=0.1)
    negative_tol: float = Field(default=1e-6, gt=0)


class ShellRange(StrictModel):
    """Evenly spaced shell temperatures, like ``numpy.linspace(start, stop, num)`` (K)."""

    start: float = Field(gt=0)
    stop: float = Field(gt=0)
    num: int = Field(ge=1)

    def values(self) -> list[float]:
        return [float(t) for t in np.linspace(self.start, self.stop, self.num)]


class CampaignConfig(StrictModel):
    """A D-DOS sampling campaign (see the module docstring and ``thermograd init ddos``)."""

    output: str = Field(min_length=1)
    seed: int = Field(ge=0)
    phases: list[PhaseConfig] = Field(min_length=1)
    strains: list[float] = Field(default_factory=lambda: [0.0], min_length=1)
    potential: PotentialConfig
    descriptor: DescriptorConfig | None = None
    hessian: HessianConfig = Field(default_factory=HessianConfig)
    shells: list[float] | ShellRange | str
    samples_per_shell: int = Field(ge=2)
    chunk_size: int = Field(default=64, ge=1)
    percentile: float = Field(default=0.5, ge=0, lt=50)
    n_bins: int = Field(default=99, ge=2)
    keep_raw: bool = True
    _base_dir: Path | None = PrivateAttr(default=None)

    @property
    def base_dir(self) -> Path | None:
        """Folder of the run file (relative file names in ``pair_coeff`` lines are looked up there first)."""
        return self._base_dir

    @field_validator("shells")
    @classmethod
    def _parse_shells(cls, value):
        if isinstance(value, str):
            parts = value.split("/")
            try:
                start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
                if len(parts) != 3:
                    raise ValueError
            except (ValueError, IndexError):
                raise ValueError(
                    f"shells: expected 'start/stop/num' (e.g. '250/3000/12'), got {value!r}"
                ) from None
            value = ShellRange(start=start, stop=stop, num=num)
        if isinstance(value, ShellRange):
            value = value.values()
        temps = [float(t) for t in value]
        if not temps:
            raise ValueError("shells: need at least one shell temperature")
        if any(not (np.isfinite(t) and t > 0) for t in temps):
            raise ValueError(f"shells: temperatures must be finite and > 0 K, got {temps}")
        if len(set(temps)) != len(temps):
            raise ValueError(f"shells: temperatures must be distinct, got {temps}")
        return temps

    @model_validator(mode="after")
    def _check(self) -> CampaignConfig:
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be distinct, got {names}")
        if any(not (-0.5 < s < 0.5) for s in self.strains):
            raise ValueError(f"strains must lie in (-0.5, 0.5), got {self.strains}")
        if len(set(self.strains)) != len(self.strains):
            raise ValueError(f"strains must be distinct, got {self.strains}")
        if self.descriptor is None and self.potential.snap is None:
            raise ValueError(
                "'descriptor' is required unless the reference potential is a SNAP ('snap: NAME')"
            )
        return self

    @property
    def shell_temperatures(self) -> list[float]:
        """Shell temperatures T_α, K, in run-file order (the shell index is the position in this list)."""
        return list(self.shells)  # type: ignore[arg-type]

    @property
    def chunk_sizes(self) -> list[int]:
        """Samples in each chunk of a shell: ``chunk_size`` each, the last one taking the remainder."""
        full, rest = divmod(self.samples_per_shell, self.chunk_size)
        return [self.chunk_size] * full + ([rest] if rest else [])

    def effective_descriptor(self) -> DescriptorConfig:
        """The descriptor to sample: the configured one, or the SNAP reference's own ``.snapparam``."""
        if self.descriptor is not None:
            return self.descriptor
        return DescriptorConfig(snapparam=self.potential.snap)

    def canonical(self, files: dict[str, str] | None = None) -> dict:
        """Everything that determines the samples, free of where the run folder lies.

        The output path is left out; file-valued entries (potential, structure and descriptor files) keep only
        their names, and ``files`` (role → SHA-256 of the content, from the reference builder) identifies
        them, so moving a run folder keeps its campaign while editing a potential file does not.
        """
        data = self.model_dump(mode="json", exclude={"output"})
        data["descriptor"] = self.effective_descriptor().model_dump(mode="json")
        pot = data["potential"]
        for key in ("snap", "eam"):
            if pot.get(key):
                pot[key] = _base_name(pot[key])
        if pot.get("pair_coeff"):
            lines = [pot["pair_coeff"]] if isinstance(pot["pair_coeff"], str) else pot["pair_coeff"]
            pot["pair_coeff"] = [" ".join(_base_name(t) for t in line.split()) for line in lines]
        if data["descriptor"].get("snapparam"):
            data["descriptor"]["snapparam"] = _base_name(data["descriptor"]["snapparam"])
        for phase in data["phases"]:
            if phase["structure"].get("file"):
                phase["structure"]["file"] = _base_name(phase["structure"]["file"])
        data["files"] = dict(sorted((files or {}).items()))
        return data

    def canonical_json(self, files: dict[str, str] | None = None) -> str:
        """:meth:`canonical` as compact JSON with sorted keys."""
        return json.dumps(self.canonical(files), sort_keys=True, separators=(",", ":"))

    def config_hash(self, files: dict[str, str] | None = None) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`: the identity of the campaign in its HDF5 file."""
        return hashlib.sha256(self.canonical_json(files).encode()).hexdigest()


def _base_name(value: str) -> str:
    return Path(value).name if ("/" in value or "\\" in value) else value


def file_digest(path: str | Path) -> str:
    """SHA-256 (hex) of a file's content."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_campaign_config(path: str | Path) -> tuple[CampaignConfig, str]:
    """Read and validate a campaign run file.

    Relative paths inside the file (output, structure files, potential files) are resolved against the run
    file's directory.

    Args:
        path: YAML run file.

    Returns:
        ``(config, text)``: the validated config and the file's YAML text (stored verbatim for provenance).

    Raises:
        ConfigError: missing file, invalid YAML, unknown key (with a "did you mean" hint) or bad value.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"run file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read run file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    config = validate_model(CampaignConfig, data, source=str(path))
    base = path.resolve().parent
    return _resolve_paths(config, base), text


def _resolve(base: Path, value: str) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else base / p)


def _looks_like_path(value: str) -> bool:
    return "/" in value or Path(value).suffix in {".snap", ".snapparam", ".snapcoeff"}


def _resolve_paths(config: CampaignConfig, base: Path) -> CampaignConfig:
    """Make file paths absolute relative to ``base``; bare potential names (``Mo_Zuo_JPCA2020``) stay."""
    config._base_dir = base
    config.output = _resolve(base, config.output)
    for phase in config.phases:
        if phase.structure.file is not None:
            phase.structure.file = _resolve(base, phase.structure.file)
    pot = config.potential
    if pot.eam is not None and ((base / pot.eam).exists() or "/" in pot.eam):
        pot.eam = _resolve(base, pot.eam)
    if pot.snap is not None and _looks_like_path(pot.snap) and (base / pot.snap).exists():
        pot.snap = _resolve(base, pot.snap)
    desc = config.descriptor
    if desc is not None and desc.snapparam is not None and _looks_like_path(desc.snapparam):
        if (base / desc.snapparam).exists():
            desc.snapparam = _resolve(base, desc.snapparam)
    return config


def dump_yaml(config: CampaignConfig) -> str:
    """The validated config as YAML (for messages and tests)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
