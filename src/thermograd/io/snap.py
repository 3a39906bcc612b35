"""Readers and writers for LAMMPS SNAP files (``.snapcoeff``, ``.snapparam``).

A ``.snapcoeff`` file holds, per element, a header ``Elem radius weight`` followed by ``ncoeff``
coefficients: the constant β_0 first, then one coefficient per bispectrum component (then the quadratic
ones when ``quadraticflag`` is set). thermograd's descriptor-linear θ is the linear part (without β_0).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError


@dataclass
class SnapCoefficients:
    """Coefficients of one or more elements from a ``.snapcoeff`` file.

    Attributes:
        elements: element symbols in file order.
        radius: per-element radius (Å-scaled factor as in LAMMPS).
        weight: per-element neighbour weight.
        coeffs: per-element coefficient arrays, shape (ncoeff,), constant first.
    """

    elements: list[str]
    radius: dict[str, float]
    weight: dict[str, float]
    coeffs: dict[str, np.ndarray]
    header: list[str] = field(default_factory=list)

    def theta(self, element: str | None = None) -> np.ndarray:
        """Linear coefficients θ (without the constant β_0) of one element, shape (ncoeff − 1,)."""
        el = element or self.elements[0]
        if el not in self.coeffs:
            raise InputError(f"element {el!r} not in SNAP coefficients (has {self.elements})")
        return self.coeffs[el][1:].copy()

    def constant(self, element: str | None = None) -> float:
        el = element or self.elements[0]
        return float(self.coeffs[el][0])


def _data_lines(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    lines = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def read_snapcoeff(path: str | Path) -> SnapCoefficients:
    """Parse a ``.snapcoeff`` file; raises :class:`InputError` on malformed content."""
    path = Path(path)
    lines = _data_lines(path)
    header = [ln for ln in path.read_text().splitlines() if ln.strip().startswith("#")]
    try:
        nelem, ncoeff = (int(v) for v in lines[0].split()[:2])
        pos = 1
        elements, radius, weight, coeffs = [], {}, {}, {}
        for _ in range(nelem):
            el, r, w = lines[pos].split()[:3]
            pos += 1
            vals = np.array([float(lines[pos + k].split()[0]) for k in range(ncoeff)])
            pos += ncoeff
            elements.append(el)
            radius[el], weight[el], coeffs[el] = float(r), float(w), vals
    except (IndexError, ValueError) as exc:
        raise InputError(f"malformed .snapcoeff file {path}: {exc}") from None
    return SnapCoefficients(elements, radius, weight, coeffs, header)


def write_snapcoeff(path: str | Path, coeffs: SnapCoefficients, comment: str = "") -> None:
    """Write coefficients in LAMMPS ``.snapcoeff`` format (full float precision)."""
    out = [f"# {line}" for line in comment.splitlines()] if comment else []
    ncoeff = len(next(iter(coeffs.coeffs.values())))
    out.append(f"{len(coeffs.elements)} {ncoeff}")
    for el in coeffs.elements:
        out.append(f"{el} {coeffs.radius[el]!r} {coeffs.weight[el]!r}")
        out.extend(repr(float(v)) for v in coeffs.coeffs[el])
    Path(path).write_text("\n".join(out) + "\n")


def read_snapparam(path: str | Path) -> dict[str, float]:
    """Parse a ``.snapparam`` file into a dict (numbers as float/int; e.g. ``twojmax``, ``rcutfac``)."""
    path = Path(path)
    params: dict[str, float] = {}
    for line in _data_lines(path):
        parts = line.split()
        if len(parts) < 2:
            raise InputError(f"malformed line in .snapparam file {path}: {line!r}")
        key, val = parts[0], parts[1]
        try:
            params[key] = int(val) if val.lstrip("-").isdigit() else float(val)
        except ValueError:
            params[key] = val  # type: ignore[assignment]
    for req in ("rcutfac", "twojmax"):
        if req not in params:
            raise InputError(f".snapparam file {path} lacks required key {req!r}")
    return params


def n_bispectrum(twojmax: int) -> int:
    """Number of bispectrum components for a given 2J_max (LAMMPS ``compute sna/atom`` count)."""
    count = 0
    for j1 in range(twojmax + 1):
        for j2 in range(j1 + 1):
            for j in range(j1 - j2, min(twojmax, j1 + j2) + 1, 2):
                if j >= j1:
                    count += 1
    return count
