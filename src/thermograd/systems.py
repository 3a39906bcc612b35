"""What a calculation is run on, shared by every workflow (D-DOS campaigns, TI, alchemy): a reference
structure (:class:`StructureConfig`, built by :func:`build_structure`) and a reference potential
(:class:`PotentialConfig`). These are run-file sections; they live above ``ddos/``, ``ti/`` and ``alchemy/``
so that no workflow imports another for its inputs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .config import StrictModel

__all__ = ["PotentialConfig", "StructureConfig", "build_structure"]


class StructureConfig(StrictModel):
    """A reference structure: a lattice builder (bcc/fcc/hcp/a15) or a structure file (any ASE format).

    ``size`` counts conventional cells along each axis (one integer for a cube). Give at most one of
    ``a`` (Å) and ``volume_per_atom`` (Å³/atom); with neither the builder's default applies.
    """

    builder: Literal["bcc", "fcc", "hcp", "a15"] | None = None
    element: str | None = None
    a: float | None = Field(default=None, gt=0)
    volume_per_atom: float | None = Field(default=None, gt=0)
    size: int | tuple[int, int, int] = 4
    file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> StructureConfig:
        if (self.builder is None) == (self.file is None):
            raise ValueError("give exactly one of 'builder' (bcc, fcc, hcp, a15) or 'file'")
        if self.builder is not None and not self.element:
            raise ValueError(f"builder {self.builder!r} needs 'element'")
        if self.a is not None and self.volume_per_atom is not None:
            raise ValueError("give at most one of 'a' and 'volume_per_atom'")
        size = (self.size,) * 3 if isinstance(self.size, int) else tuple(self.size)
        if any(n < 1 for n in size):
            raise ValueError(f"size must be positive, got {self.size}")
        return self

    @property
    def size3(self) -> tuple[int, int, int]:
        return (self.size,) * 3 if isinstance(self.size, int) else tuple(self.size)  # type: ignore[return-value]


class PotentialConfig(StrictModel):
    """Reference potential for the Hessian and E_0: exactly one of ``snap`` (a shipped or local ``.snap`` set,
    by name or path), ``eam`` (a file, with ``elements``) or ``pair_style`` + ``pair_coeff`` LAMMPS lines."""

    snap: str | None = None
    eam: str | None = None
    elements: list[str] | None = None
    pair_style: str | None = None
    pair_coeff: list[str] | str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PotentialConfig:
        kinds = [k for k in ("snap", "eam", "pair_style") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                "give exactly one of 'snap', 'eam' (with 'elements') or 'pair_style' (with 'pair_coeff')"
            )
        if self.eam is not None and not self.elements:
            raise ValueError("'eam' needs 'elements' (one per LAMMPS atom type)")
        if self.pair_style is not None and not self.pair_coeff:
            raise ValueError("'pair_style' needs 'pair_coeff'")
        if self.pair_style is None and self.pair_coeff is not None:
            raise ValueError("'pair_coeff' needs 'pair_style'")
        return self

    @property
    def pair_coeff_lines(self) -> list[str]:
        if self.pair_coeff is None:
            return []
        return [self.pair_coeff] if isinstance(self.pair_coeff, str) else list(self.pair_coeff)


def build_structure(spec: StructureConfig, strain: float = 0.0):
    """ASE ``Atoms`` of a run-file structure with isotropic strain ε (cell and positions × (1 + ε))."""
    from ... import structures

    if spec.file is not None:
        atoms = structures.read_structure(spec.file)
        return structures.apply_strain(atoms, strain) if strain else atoms
    builder = getattr(structures, spec.builder)
    return builder(
        spec.element, a=spec.a, volume_per_atom=spec.volume_per_atom, size=spec.size3, strain=strain
    )
