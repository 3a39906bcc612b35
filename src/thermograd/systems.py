"""What a calculation is run on, shared by every workflow (D-DOS campaigns, TI, alchemy): a reference
structure (:class:`StructureConfig`, built by :func:`build_structure`) and a reference potential
(:class:`PotentialConfig`). These are run-file sections; they live above ``ddos/``, ``ti/`` and ``alchemy/``
so that no workflow imports another for its inputs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_serializer, model_validator

from .config import StrictModel

__all__ = ["PotentialConfig", "StructureConfig", "build_structure"]


#: keys of a lattice builder that a prototype ('name') does not take
_BUILDER_ONLY = ("element", "volume_per_atom", "size")


class StructureConfig(StrictModel):
    """A reference structure, from exactly one source: a lattice builder (bcc/fcc/hcp/a15), an
    ``ase.build.bulk`` prototype (``name`` + ``crystalstructure``, e.g. NaCl rocksalt) or a structure file
    (any ASE format).

    ``size`` counts conventional cells of a builder along each axis (one integer for a cube); a prototype or
    a file is repeated ``repeat`` times along its cell vectors (default once). Give at most one of ``a`` (Å)
    and ``volume_per_atom`` (Å³/atom); a prototype takes ``a`` only, with ASE's reference value by default.
    """

    builder: Literal["bcc", "fcc", "hcp", "a15"] | None = None
    element: str | None = None
    a: float | None = Field(default=None, gt=0)
    volume_per_atom: float | None = Field(default=None, gt=0)
    size: int | tuple[int, int, int] = 4
    file: str | None = None
    name: str | None = None  # ase.build.bulk prototype, e.g. NaCl, CeO2, Fe
    crystalstructure: str | None = None  # rocksalt, fluorite, bcc, ... (with name)
    cubic: bool = True  # with name: the conventional cubic cell where ASE has one
    repeat: list[int] | None = Field(default=None, min_length=3, max_length=3)  # with name or file

    @model_validator(mode="after")
    def _one_source(self) -> StructureConfig:
        if self.name is None and (self.builder is None) == (self.file is None):
            raise ValueError("give exactly one of 'builder' (bcc, fcc, hcp, a15) or 'file'")
        if self.name is not None and (self.builder is not None or self.file is not None):
            raise ValueError(
                "give exactly one of 'builder' (bcc, fcc, hcp, a15), 'name' (an ase.build.bulk prototype, "
                "with 'crystalstructure') or 'file'"
            )
        if self.builder is not None and not self.element:
            raise ValueError(f"builder {self.builder!r} needs 'element'")
        if self.a is not None and self.volume_per_atom is not None:
            raise ValueError("give at most one of 'a' and 'volume_per_atom'")
        if any(n < 1 for n in self.size3):
            raise ValueError(f"size must be positive, got {self.size}")
        given = self.model_fields_set
        if self.name is None and given & {"crystalstructure", "cubic"}:
            keys = _keys(given & {"crystalstructure", "cubic"})
            raise ValueError(f"{keys}: only with 'name' (an ase.build.bulk prototype)")
        if self.name is not None and given & set(_BUILDER_ONLY):
            keys = _keys(given & set(_BUILDER_ONLY))
            raise ValueError(
                f"a prototype ('name') takes 'crystalstructure', 'a', 'cubic' and 'repeat', not {keys}"
            )
        if self.builder is not None and self.repeat is not None:
            raise ValueError(f"builder {self.builder!r} takes 'size', not 'repeat'")
        if self.repeat is not None and any(n < 1 for n in self.repeat):
            raise ValueError(f"repeat must be three positive integers, got {self.repeat}")
        return self

    @model_serializer(mode="wrap")
    def _without_unused(self, handler) -> dict:
        # keys that do not apply to the source are left out: a builder or file section serialises (and a
        # campaign built on it hashes) as it did before prototypes existed, and a dump validates again
        data = handler(self)
        unused = ("name", "crystalstructure", "cubic") if self.name is None else _BUILDER_ONLY
        for key in unused:
            data.pop(key, None)
        if self.repeat is None:
            data.pop("repeat", None)
        return data

    @property
    def size3(self) -> tuple[int, int, int]:
        return (self.size,) * 3 if isinstance(self.size, int) else tuple(self.size)  # type: ignore[return-value]


def _keys(names: set[str]) -> str:
    return " and ".join(repr(k) for k in sorted(names))


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
    """ASE ``Atoms`` of a run-file structure with isotropic strain ε (cell and positions × (1 + ε)).

    Raises:
        InputError: a structure file that is missing or unreadable, or a prototype ASE cannot build.
    """
    from . import structures

    if spec.builder is not None:
        builder = getattr(structures, spec.builder)
        return builder(
            spec.element, a=spec.a, volume_per_atom=spec.volume_per_atom, size=spec.size3, strain=strain
        )
    repeat = (1, 1, 1) if spec.repeat is None else tuple(spec.repeat)
    if spec.name is not None:
        return structures.prototype(
            spec.name, spec.crystalstructure, a=spec.a, cubic=spec.cubic, size=repeat, strain=strain
        )
    atoms = structures.read_structure(spec.file).repeat(repeat)  # type: ignore[arg-type]
    return structures.apply_strain(atoms, strain) if strain else atoms
