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


def _read_text(path: Path, what: str) -> str:
    """The text of ``path``; a missing, unreadable or binary file raises :class:`InputError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise InputError(f"{path} is a binary file, not a {what} (text)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not a {what} (text): undecodable byte at offset {exc.start}") from None


def _data_lines(path: Path, what: str = "text file") -> list[str]:
    lines = []
    for raw in _read_text(path, what).splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def read_snapcoeff(path: str | Path) -> SnapCoefficients:
    """Parse a ``.snapcoeff`` file.

    The header ``nelem ncoeff`` fixes the layout: per element one line ``Elem radius weight`` and exactly
    ``ncoeff`` coefficient lines. A file with fewer or more lines than that (truncated, or an extra or missing
    coefficient), a non-numeric or non-finite value, or a binary file raises :class:`InputError` naming the
    file and what is wrong.
    """
    path = Path(path)
    what = ".snapcoeff file"
    text = _read_text(path, what)
    lines = _data_lines(path, what)
    header = [ln for ln in text.splitlines() if ln.strip().startswith("#")]
    if not lines:
        raise InputError(f"{path}: empty .snapcoeff file (no 'nelem ncoeff' line)")
    try:
        nelem, ncoeff = (int(v) for v in lines[0].split()[:2])
    except ValueError:
        raise InputError(
            f"{path}: first line {lines[0]!r} is not 'nelem ncoeff' (two integers) of a .snapcoeff file"
        ) from None
    if nelem < 1 or ncoeff < 1:
        raise InputError(f"{path}: header declares {nelem} element(s) with {ncoeff} coefficients")
    expected = 1 + nelem * (1 + ncoeff)
    if len(lines) < expected:
        raise InputError(
            f"{path}: truncated .snapcoeff file: the header declares {nelem} element(s) × {ncoeff} "
            f"coefficients ({expected} data lines), the file has {len(lines)}"
        )
    if len(lines) > expected:
        raise InputError(
            f"{path}: {len(lines) - expected} data line(s) after the last of the {nelem} × {ncoeff} "
            f"coefficients the header declares (an extra coefficient, or a wrong 'nelem ncoeff' line)"
        )
    pos = 1
    elements, radius, weight, coeffs = [], {}, {}, {}
    for _ in range(nelem):
        parts = lines[pos].split()
        try:
            el, r, w = parts[0], float(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            raise InputError(
                f"{path}: line {lines[pos]!r} should be 'Element radius weight' "
                f"(element block {len(elements) + 1} of {nelem})"
            ) from None
        pos += 1
        try:
            vals = np.array([float(lines[pos + k].split()[0]) for k in range(ncoeff)])
        except ValueError:
            bad = next(ln for ln in lines[pos : pos + ncoeff] if not is_number(ln.split()[0]))
            raise InputError(f"{path}: coefficient {bad!r} of element {el!r} is not a number") from None
        if not np.all(np.isfinite(vals)):
            raise InputError(
                f"{path}: element {el!r} has {int(np.sum(~np.isfinite(vals)))} non-finite coefficient(s)"
            )
        pos += ncoeff
        if el in coeffs:
            raise InputError(f"{path}: element {el!r} appears twice")
        elements.append(el)
        radius[el], weight[el], coeffs[el] = r, w, vals
    return SnapCoefficients(elements, radius, weight, coeffs, header)


def is_number(text: str) -> bool:
    """True when ``text`` parses as a float (e.g. a LAMMPS numeric argument)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def write_snapcoeff(path: str | Path, coeffs: SnapCoefficients, comment: str = "") -> None:
    """Write coefficients in LAMMPS ``.snapcoeff`` format (full float precision), atomically."""
    from .store import write_text

    out = [f"# {line}" for line in comment.splitlines()] if comment else []
    ncoeff = len(next(iter(coeffs.coeffs.values())))
    out.append(f"{len(coeffs.elements)} {ncoeff}")
    for el in coeffs.elements:
        out.append(f"{el} {coeffs.radius[el]!r} {coeffs.weight[el]!r}")
        out.extend(repr(float(v)) for v in coeffs.coeffs[el])
    write_text(path, "\n".join(out) + "\n")


def read_snapparam(path: str | Path) -> dict[str, float]:
    """Parse a ``.snapparam`` file into a dict (numbers as float/int; e.g. ``twojmax``, ``rcutfac``)."""
    path = Path(path)
    params: dict[str, float] = {}
    for line in _data_lines(path, ".snapparam file"):
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
