"""Per-atom descriptors evaluated by LAMMPS computes (SNAP bispectrum or any ``*/atom`` compute).

Descriptor specifications are frozen, picklable dataclasses; a :class:`DescriptorCalculator` builds its own
LAMMPS instance from ``(atoms, descriptor)`` with ``pair_style zero`` (cutoff = the descriptor cutoff), so
that no reference energy is evaluated per sample (docs/science-ddos.md §13, pitfall 3). Rows are returned
sorted by atom id (pitfall 4) after ``run 0`` with full setup (pitfall 2). For a linear SNAP potential the
energy per atom is β_0 + θ·(mean descriptor) exactly (the D-DOS linearity identity, same bzeroflag).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import EngineError, InputError
from ..io.snap import n_bispectrum, read_snapcoeff, read_snapparam
from ._mpi import lammps_error, lammps_module
from .lammps import LammpsSession
from .potentials import Potential, find_potential_file

_COMPUTE_ID = "thermograd_desc"
# pair_snap's defaults for keys absent from a .snapparam file (LAMMPS 2025 pair_snap.cpp)
_SNAP_DEFAULTS = {
    "rfac0": 0.99363,
    "rmin0": 0.0,
    "switchflag": 1,
    "bzeroflag": 1,
    "quadraticflag": 0,
    "chemflag": 0,
    "bnormflag": 0,
    "wselfallflag": 0,
    "switchinnerflag": 0,
}


@dataclass(frozen=True)
class SnapDescriptor:
    """SNAP bispectrum components (LAMMPS ``compute sna/atom``).

    Attributes:
        elements: symbols of LAMMPS types 1, 2, ...
        rcutfac: cutoff scale; the i–j cutoff is rcutfac·(R_i + R_j), Å.
        twojmax: 2J_max (band limit).
        radii: R per element (same order as ``elements``).
        weights: neighbour weight per element.
        rfac0, rmin0, switchflag, bzeroflag, quadraticflag, bnormflag, wselfallflag: as in LAMMPS.
    """

    elements: tuple[str, ...]
    rcutfac: float
    twojmax: int
    radii: tuple[float, ...]
    weights: tuple[float, ...]
    rfac0: float = 0.99363
    rmin0: float = 0.0
    switchflag: int = 1
    bzeroflag: int = 1
    quadraticflag: int = 0
    bnormflag: int = 0
    wselfallflag: int = 0

    def __post_init__(self) -> None:
        n = len(self.elements)
        if n == 0 or len(self.radii) != n or len(self.weights) != n:
            raise InputError(f"SnapDescriptor needs one radius and weight per element, got {self}")
        if self.twojmax < 0 or not self.rcutfac > 0:
            raise InputError(f"SnapDescriptor needs twojmax >= 0 and rcutfac > 0, got {self}")

    @property
    def cutoff(self) -> float:
        """Largest pair cutoff rcutfac·(R_i + R_j), Å."""
        return 2.0 * self.rcutfac * max(self.radii)

    @property
    def n_features(self) -> int:
        """Number of columns d of the per-atom descriptor."""
        n = n_bispectrum(self.twojmax)
        return n + n * (n + 1) // 2 if self.quadraticflag else n

    @property
    def compute(self) -> str:
        """Compute style and arguments after the group, e.g. ``"sna/atom 4.6 0.99363 6 0.5 1 ..."``."""
        args = [f"{float(self.rcutfac)!r}", f"{float(self.rfac0)!r}", str(int(self.twojmax))]
        args += [f"{float(r)!r}" for r in self.radii] + [f"{float(w)!r}" for w in self.weights]
        args += [
            f"rmin0 {float(self.rmin0)!r}",
            f"switchflag {int(self.switchflag)}",
            f"bzeroflag {int(self.bzeroflag)}",
            f"quadraticflag {int(self.quadraticflag)}",
            f"bnormflag {int(self.bnormflag)}",
            f"wselfallflag {int(self.wselfallflag)}",
        ]
        return "sna/atom " + " ".join(args)

    @classmethod
    def from_snapparam(
        cls, name_or_path: str | os.PathLike, snapcoeff: str | os.PathLike | None = None
    ) -> SnapDescriptor:
        """Descriptor matching a SNAP potential's ``.snapparam`` (+ radii/weights from its ``.snapcoeff``).

        Args:
            name_or_path: ``.snapparam`` path or name (``"Mo_Zuo_JPCA2020"`` or ``"....snapparam"``).
            snapcoeff: the ``.snapcoeff`` file; default: same stem as the ``.snapparam``.
        """
        text = str(name_or_path)
        if not text.endswith(".snapparam"):
            text = text.removesuffix(".snap") + ".snapparam"
        param_path = find_potential_file(text)
        coeff_path = find_potential_file(
            snapcoeff if snapcoeff is not None else param_path.name.removesuffix(".snapparam") + ".snapcoeff",
            base_dir=param_path.parent,
        )
        params = {**_SNAP_DEFAULTS, **read_snapparam(param_path)}
        for key in ("chemflag", "switchinnerflag"):
            if int(params[key]):
                raise InputError(f"{param_path.name}: {key} 1 is not supported by SnapDescriptor")
        coeffs = read_snapcoeff(coeff_path)
        return cls(
            elements=tuple(coeffs.elements),
            rcutfac=float(params["rcutfac"]),
            twojmax=int(params["twojmax"]),
            radii=tuple(coeffs.radius[e] for e in coeffs.elements),
            weights=tuple(coeffs.weight[e] for e in coeffs.elements),
            rfac0=float(params["rfac0"]),
            rmin0=float(params["rmin0"]),
            switchflag=int(params["switchflag"]),
            bzeroflag=int(params["bzeroflag"]),
            quadraticflag=int(params["quadraticflag"]),
            bnormflag=int(params["bnormflag"]),
            wselfallflag=int(params["wselfallflag"]),
        )

    @classmethod
    def from_potential(cls, potential: Potential) -> SnapDescriptor:
        """Descriptor of the ``snap`` part of a potential built by :meth:`Potential.from_snap`."""
        files = potential.snap_files
        if files is None:
            raise InputError(f"potential {potential.name!r} has no snap pair style")
        return cls.from_snapparam(files[1], snapcoeff=files[0])


@dataclass(frozen=True)
class ComputeDescriptor:
    """Any per-atom LAMMPS compute used as a descriptor.

    Attributes:
        compute: compute style and arguments after the group ID, e.g. ``"sna/atom 4.6 0.99363 6 0.5 1"``
            or ``"coord/atom cutoff 3.0"``.
        cutoff: neighbour cutoff the compute needs, Å (the ``pair_style zero`` cutoff).
        elements: symbols of LAMMPS types 1, 2, ...; empty: the structure's elements in order of appearance.
    """

    compute: str
    cutoff: float
    elements: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.compute.strip():
            raise InputError("ComputeDescriptor needs a compute style")
        if not self.cutoff > 0:
            raise InputError(f"descriptor cutoff must be > 0 Å, got {self.cutoff!r}")

    @property
    def n_features(self) -> int | None:
        """Unknown until evaluated (None); see :attr:`DescriptorCalculator.n_features`."""
        return None


Descriptor = SnapDescriptor | ComputeDescriptor


class DescriptorCalculator:
    """Per-atom descriptors of one structure's configurations, on a private LAMMPS instance.

    Picklable by specification: pickling stores ``(atoms, descriptor)`` and unpickling builds a new LAMMPS
    instance, so worker processes can receive calculators (or build them from the specs).

    Args:
        atoms: ASE ``Atoms``; its cell is kept fixed, only positions change.
        descriptor: :class:`SnapDescriptor` or :class:`ComputeDescriptor`.
        neighbor_skin: neighbour skin, Å.

    Raises:
        EngineError: LAMMPS does not know the compute style (message names it) or rejects its arguments.
    """

    def __init__(self, atoms, descriptor: Descriptor, *, neighbor_skin: float = 1.0) -> None:
        self.descriptor = descriptor
        self._atoms = atoms.copy()
        elements = tuple(descriptor.elements) or tuple(dict.fromkeys(atoms.get_chemical_symbols()))
        missing = sorted(set(atoms.get_chemical_symbols()) - set(elements))
        if missing:
            raise InputError(
                f"elements {missing} are not covered by the descriptor (its elements: {list(elements)})"
            )
        self._skin = float(neighbor_skin)
        self.session = LammpsSession(
            atoms, Potential.zero(descriptor.cutoff, elements), neighbor_skin=neighbor_skin
        )
        self.n_atoms = self.session.n_atoms
        try:
            self.session.command(f"compute {_COMPUTE_ID} all {descriptor.compute}")
            first = self._evaluate()
        except EngineError:
            self.close()
            raise
        self.n_features = int(first.shape[1])
        expected = descriptor.n_features
        if expected is not None and expected != self.n_features:
            self.close()
            raise EngineError(f"LAMMPS returned {self.n_features} descriptor columns, expected {expected}")

    def _evaluate(self) -> np.ndarray:
        self.session.run0()
        lmp = self.session.lmp
        module = lammps_module()
        try:
            data = lmp.numpy.extract_compute(_COMPUTE_ID, module.LMP_STYLE_ATOM, module.LMP_TYPE_ARRAY)
            if data is None:
                data = lmp.numpy.extract_compute(_COMPUTE_ID, module.LMP_STYLE_ATOM, module.LMP_TYPE_VECTOR)
        except Exception as exc:
            raise lammps_error(exc, f"compute {self.descriptor.compute}") from None
        if data is None:
            raise EngineError(f"compute {self.descriptor.compute.split()[0]!r} produced no per-atom data")
        data = np.asarray(data, dtype=float)
        nlocal = lmp.extract_global("nlocal")
        data = data[:nlocal].reshape(nlocal, -1)
        return np.array(data[self.session._order()])

    def per_atom(self, positions: np.ndarray) -> np.ndarray:
        """Per-atom descriptors at ``positions``.

        Args:
            positions: Cartesian coordinates, shape (N, 3), Å, atom order.

        Returns:
            Descriptor rows sorted by atom id (= atom order), shape (N, d).
        """
        self.session.set_positions(positions)
        return self._evaluate()

    def mean(self, positions_batch: np.ndarray) -> np.ndarray:
        """Per-atom mean descriptors of a batch of configurations.

        Args:
            positions_batch: shape (n, N, 3) or (N, 3), Å.

        Returns:
            Mean over atoms of :meth:`per_atom`, shape (n, d) (or (d,) for a single configuration).
        """
        batch = np.asarray(positions_batch, dtype=float)
        if batch.ndim == 2:
            return self.per_atom(batch).mean(axis=0)
        if batch.ndim != 3:
            raise InputError(f"positions_batch must have shape (n, {self.n_atoms}, 3), got {batch.shape}")
        return np.stack([self.per_atom(x).mean(axis=0) for x in batch])

    def close(self) -> None:
        """Release the LAMMPS instance (idempotent)."""
        self.session.close()

    def __enter__(self) -> DescriptorCalculator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __reduce__(self):
        return (_rebuild_calculator, (self._atoms, self.descriptor, self._skin))


def _rebuild_calculator(atoms, descriptor: Descriptor, neighbor_skin: float) -> DescriptorCalculator:
    return DescriptorCalculator(atoms, descriptor, neighbor_skin=neighbor_skin)


def snap_linear_parameters(potential: Potential) -> tuple[np.ndarray, np.ndarray, Sequence[str]]:
    """β_0, shape (n_elements,), and θ, shape (n_elements, d), eV, of a SNAP potential (elements in order)."""
    files = potential.snap_files
    if files is None:
        raise InputError(f"potential {potential.name!r} has no snap pair style")
    coeffs = read_snapcoeff(files[0])
    beta0 = np.array([coeffs.constant(e) for e in coeffs.elements])
    theta = np.stack([coeffs.theta(e) for e in coeffs.elements])
    return beta0, theta, coeffs.elements
