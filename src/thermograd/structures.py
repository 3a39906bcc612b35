"""Crystal structure builders (cubic supercells as ASE ``Atoms``), isotropic strain and the one reader of
structure files.

Every lattice builder (bcc, fcc, hcp, a15) takes exactly one of the lattice parameter ``a`` (Å) or the
volume per atom (Å³), an integer supercell ``size`` and an isotropic linear strain ε applied afterwards
(lengths × (1 + ε)). Cells are rows of lattice vectors; BCC/FCC/A15 are cubic, HCP uses the orthohexagonal
4-atom cell (a, √3·a, c). :func:`prototype` builds any other ``ase.build.bulk`` structure (NaCl, CeO2, ...).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from .errors import InputError

#: Atoms per conventional cell.
ATOMS_PER_CELL = {"bcc": 2, "fcc": 4, "hcp": 4, "a15": 8}

# A15 (Cr3Si / β-W, Pm-3n): 2a sites (0,0,0), (½,½,½) and 6c chain sites on the cube faces.
_A15_FRACTIONAL = np.array(
    [
        [0.0, 0.0, 0.0],
        [0.5, 0.5, 0.5],
        [0.25, 0.0, 0.5],
        [0.75, 0.0, 0.5],
        [0.5, 0.25, 0.0],
        [0.5, 0.75, 0.0],
        [0.0, 0.5, 0.25],
        [0.0, 0.5, 0.75],
    ]
)


def _size(size: int | Sequence[int]) -> tuple[int, int, int]:
    reps = (size, size, size) if isinstance(size, int | np.integer) else tuple(size)
    if len(reps) != 3 or not all(isinstance(n, int | np.integer) and n >= 1 for n in reps):
        raise InputError(f"size must be a positive integer or three positive integers, got {size!r}")
    return tuple(int(n) for n in reps)  # type: ignore[return-value]


def _lattice_parameter(a: float | None, volume_per_atom: float | None, volume_factor: float) -> float:
    """a from either a or V/atom, where V_cell/atom = volume_factor · a³."""
    if (a is None) == (volume_per_atom is None):
        raise InputError("give exactly one of a (Å) and volume_per_atom (Å³)")
    if a is not None:
        if not a > 0:
            raise InputError(f"lattice parameter must be > 0 Å, got {a!r}")
        return float(a)
    if not volume_per_atom > 0:  # type: ignore[operator]
        raise InputError(f"volume_per_atom must be > 0 Å³, got {volume_per_atom!r}")
    return float((volume_per_atom / volume_factor) ** (1.0 / 3.0))  # type: ignore[operator]


def _finish(atoms, size, strain: float):
    atoms = atoms.repeat(_size(size))
    atoms.pbc = True
    return apply_strain(atoms, strain) if strain else atoms


def _reason(exc: Exception) -> str:
    """The first line of an exception's message, or its type where it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_element(element: str) -> str:
    from ase.data import atomic_numbers

    if element not in atomic_numbers:
        raise InputError(f"unknown element symbol {element!r}")
    return element


def _cubic_bulk(element: str, structure: str, a: float, size, strain: float):
    from ase.build import bulk

    return _finish(bulk(_check_element(element), structure, a=a, cubic=True), size, strain)


def bcc(
    element: str,
    a: float | None = None,
    volume_per_atom: float | None = None,
    size: int | Sequence[int] = (1, 1, 1),
    strain: float = 0.0,
):
    """Body-centred cubic supercell: 2·n_x·n_y·n_z atoms, V/atom = a³/2, nearest neighbour √3·a/2."""
    return _cubic_bulk(element, "bcc", _lattice_parameter(a, volume_per_atom, 0.5), size, strain)


def fcc(
    element: str,
    a: float | None = None,
    volume_per_atom: float | None = None,
    size: int | Sequence[int] = (1, 1, 1),
    strain: float = 0.0,
):
    """Face-centred cubic supercell: 4·n_x·n_y·n_z atoms, V/atom = a³/4, nearest neighbour a/√2."""
    return _cubic_bulk(element, "fcc", _lattice_parameter(a, volume_per_atom, 0.25), size, strain)


def hcp(
    element: str,
    a: float | None = None,
    volume_per_atom: float | None = None,
    size: int | Sequence[int] = (1, 1, 1),
    strain: float = 0.0,
    c_over_a: float = math.sqrt(8.0 / 3.0),
):
    """Hexagonal close-packed supercell in the orthohexagonal cell (a, √3·a, c): 4·n_x·n_y·n_z atoms.

    V/atom = (√3/4)·a²·c; ``volume_per_atom`` is converted with the given c/a (ideal √(8/3) by default).
    """
    from ase.build import bulk

    if not c_over_a > 0:
        raise InputError(f"c_over_a must be > 0, got {c_over_a!r}")
    a = _lattice_parameter(a, volume_per_atom, math.sqrt(3.0) / 4.0 * c_over_a)
    atoms = bulk(_check_element(element), "hcp", a=a, c=c_over_a * a, orthorhombic=True)
    return _finish(atoms, size, strain)


def a15(
    element: str,
    a: float | None = None,
    volume_per_atom: float | None = None,
    size: int | Sequence[int] = (1, 1, 1),
    strain: float = 0.0,
):
    """A15 (Cr3Si / β-W) supercell of one element: 8·n_x·n_y·n_z atoms, V/atom = a³/8, NN distance a/2."""
    from ase import Atoms

    a = _lattice_parameter(a, volume_per_atom, 0.125)
    el = _check_element(element)
    atoms = Atoms(el * 8, scaled_positions=_A15_FRACTIONAL, cell=np.eye(3) * a, pbc=True)
    return _finish(atoms, size, strain)


def prototype(
    name: str,
    crystalstructure: str | None = None,
    a: float | None = None,
    cubic: bool = True,
    size: int | Sequence[int] = (1, 1, 1),
    strain: float = 0.0,
):
    """Any ``ase.build.bulk`` prototype (e.g. ``prototype("NaCl", "rocksalt", a=5.64)``), repeated ``size``
    times along its cell vectors; ``a`` (Å) defaults to ASE's reference value for ``name``.

    Raises:
        InputError: a prototype ASE cannot build, with its reason on one line.
    """
    from ase.build import bulk

    if a is not None and not a > 0:
        raise InputError(f"lattice parameter must be > 0 Å, got {a!r}")
    try:
        atoms = bulk(name, crystalstructure, a=a, cubic=cubic)
    except Exception as exc:  # ASE raises ValueError, KeyError, RuntimeError... for an unknown prototype
        what = name if crystalstructure is None else f"{name} {crystalstructure}"
        raise InputError(f"cannot build the prototype {what}: {_reason(exc)}") from None
    return _finish(atoms, size, strain)


def apply_strain(atoms, eps: float):
    """Return a copy with the cell and positions scaled isotropically by (1 + ε) (volume × (1 + ε)³)."""
    if not eps > -1.0:
        raise InputError(f"strain must be > -1, got {eps!r}")
    out = atoms.copy()
    out.set_cell(np.asarray(atoms.cell[:]) * (1.0 + eps), scale_atoms=True)
    return out


def read_structure(path: str | os.PathLike, index: int | str = -1, format: str | None = None):
    """Read one structure from any ASE-readable file (extxyz, POSCAR, LAMMPS data, cif, ...).

    Raises:
        InputError: missing/unreadable file or unknown format, with the reason on one line.
    """
    from ase.io import read

    if not os.path.isfile(path):
        raise InputError(f"structure file {os.fspath(path)!r} not found")
    try:
        atoms = read(path, index=index, format=format)
    except Exception as exc:  # ASE raises many types (UnknownFileTypeError, ValueError, StopIteration...)
        raise InputError(f"cannot read structure from {os.fspath(path)!r}: {_reason(exc)}") from None
    if isinstance(atoms, list):
        raise InputError(f"{os.fspath(path)!r}: index {index!r} selects several structures; give one index")
    if len(atoms) == 0:
        raise InputError(f"{os.fspath(path)!r} contains no atoms")
    return atoms
