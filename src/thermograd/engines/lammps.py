"""A LAMMPS instance bound to one ASE structure and one potential: energies, forces, Hessians, MD access.

Atom ``i`` of the ASE ``Atoms`` is LAMMPS atom id ``i + 1``; every per-atom array going in or out is in that
order (LAMMPS' local order changes with sorting and re-neighbouring, so rows are always matched by id).
General triclinic cells (rows are lattice vectors, either handedness) are rotated into LAMMPS' restricted
form ``a = (lx,0,0), b = (xy,ly,0), c = (xz,yz,lz)`` by an orthogonal matrix ``Q`` (``cell @ Q`` is lower
triangular); vectors are converted on the way in and out, so callers only see the ASE frame. Positions
are set with ``run 0`` and full setup (re-initialising every compute; ``run 0 pre no`` can return stale
per-atom data, see docs/science-ddos.md §13).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import EngineError, InputError
from ..harmonic import symmetrize_hessian
from ._mpi import lammps_error, new_lammps
from .potentials import Potential

#: Default finite-difference step of :meth:`LammpsSession.hessian`, Å (see its docstring).
HESSIAN_DELTA = 1e-3


def _lammps_frame(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (lower-triangular cell L, rotation Q or None when the cell is already in LAMMPS form)."""
    lower = np.allclose(cell[np.triu_indices(3, 1)], 0.0, atol=0.0) and np.all(np.diag(cell) > 0)
    if lower:
        return cell.copy(), None
    q, r = np.linalg.qr(cell.T)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    q = q * signs
    low = cell @ q
    low[np.triu_indices(3, 1)] = 0.0
    return low, q


class LammpsSession:
    """One LAMMPS instance (metal units, atomic style) holding ``atoms`` with ``potential``.

    Args:
        atoms: ASE ``Atoms`` with a non-singular cell (rows are lattice vectors, Å); periodic directions
            from ``atoms.pbc`` (``p``, else ``f``). Masses from ``atoms.get_masses()`` (amu), one per element.
        potential: the pair potential; its ``elements`` fix the LAMMPS type order.
        neighbor_skin: neighbour-list skin, Å.

    Attributes:
        lmp: the raw ``lammps.lammps`` handle (for MD: ``fix langevin``, ``fix external``, ``fix ti/spring``).
        n_atoms: N.
        types: LAMMPS type of each atom, shape (N,), 1-based.
        rotation: ``Q`` with ``x_lammps = x_ase @ Q`` (None when the cell needs no rotation).

    Raises:
        InputError: bad structure (singular cell, element missing from the potential, mixed masses).
        EngineError: LAMMPS rejected a command (e.g. a potential file), with LAMMPS' message.
    """

    def __init__(self, atoms, potential: Potential, *, neighbor_skin: float = 1.0) -> None:
        self.lmp = None
        self.potential = potential
        self.atoms = atoms.copy()
        self.n_atoms = len(atoms)
        if self.n_atoms == 0:
            raise InputError("cannot build a LAMMPS session for an empty structure")
        cell = np.asarray(atoms.cell[:], dtype=float)
        if abs(np.linalg.det(cell)) < 1e-8:
            raise InputError("the structure needs a non-singular cell (rows are lattice vectors, Å)")
        self.cell = cell
        self._inv_cell = np.linalg.inv(cell)
        self._pbc = np.asarray(atoms.pbc, dtype=bool)
        self._lcell, self.rotation = _lammps_frame(cell)
        symbols = atoms.get_chemical_symbols()
        missing = sorted(set(symbols) - set(potential.elements))
        if missing:
            raise InputError(
                f"elements {missing} are not described by potential {potential.name!r} "
                f"(its elements: {list(potential.elements)})"
            )
        self.types = np.array([potential.elements.index(s) + 1 for s in symbols], dtype=np.int32)
        masses = _type_masses(atoms, potential.elements)
        self._type_mass = masses
        self.lmp = new_lammps()
        try:
            self._build(masses, neighbor_skin)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ construction
    def _build(self, masses: list[float], skin: float) -> None:
        low = self._lcell
        bnd = " ".join("p" if p else "f" for p in self._pbc)
        self.command(f"units metal\natom_style atomic\natom_modify map array sort 0 0\nboundary {bnd}")
        lx, ly, lz = float(low[0, 0]), float(low[1, 1]), float(low[2, 2])
        xy, xz, yz = float(low[1, 0]), float(low[2, 0]), float(low[2, 1])
        if xy == 0.0 and xz == 0.0 and yz == 0.0:
            region = f"region box block 0 {lx!r} 0 {ly!r} 0 {lz!r} units box"
        else:
            region = f"region box prism 0 {lx!r} 0 {ly!r} 0 {lz!r} {xy!r} {xz!r} {yz!r} units box"
        self.command(region)
        self.command(f"create_box {len(self.potential.elements)} box")
        x, image = self._wrap(np.asarray(self.atoms.positions, dtype=float))
        ids = np.arange(1, self.n_atoms + 1, dtype=np.int64)
        images = [self._encode(image[i]) for i in range(self.n_atoms)]
        try:
            n = self.lmp.create_atoms(
                self.n_atoms, ids.tolist(), self.types.tolist(), x.ravel().tolist(), image=images
            )
        except Exception as exc:
            raise lammps_error(exc, "create_atoms") from None
        if n != self.n_atoms:
            raise EngineError(
                f"LAMMPS created {n} of {self.n_atoms} atoms (atoms outside a non-periodic box?)"
            )
        for line in self.potential.commands():
            self.command(line)
        for t, m in enumerate(masses, start=1):  # after pair_coeff: eam styles set masses from their files
            self.command(f"mass {t} {float(m)!r}")
        self.command(f"neighbor {float(skin)!r} bin\nneigh_modify delay 0 every 1 check yes")
        self.command("thermo_style custom step pe\nthermo 0")

    # ------------------------------------------------------------------ frames and images
    def to_lammps_frame(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate Cartesian vectors, shape (..., 3), from the ASE frame into the LAMMPS frame."""
        v = np.asarray(vectors, dtype=float)
        return v if self.rotation is None else v @ self.rotation

    def from_lammps_frame(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate Cartesian vectors, shape (..., 3), from the LAMMPS frame back into the ASE frame."""
        v = np.asarray(vectors, dtype=float)
        return v if self.rotation is None else v @ self.rotation.T

    def _wrap(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Wrap ASE-frame positions into the box; return (LAMMPS-frame x (N,3), image flags (N,3) int)."""
        frac = positions @ self._inv_cell
        image = np.where(self._pbc, np.floor(frac), 0.0)
        frac = frac - image
        frac = np.where(self._pbc & (frac >= 1.0), 0.0, frac)
        return frac @ self._lcell, image.astype(np.int64)

    def _encode(self, img: np.ndarray) -> int:
        ix, iy, iz = (int(v) + 512 for v in img)
        if not all(0 <= v < 1024 for v in (ix, iy, iz)):
            raise InputError("positions are more than 511 cells away from the box")
        return (iz << 20) | (iy << 10) | ix

    def _atom(self, name: str) -> np.ndarray:
        """Local per-atom array (owned atoms only, no ghosts), a view into LAMMPS memory."""
        nlocal = self.lmp.extract_global("nlocal")
        return self.lmp.numpy.extract_atom(name, nelem=nlocal)

    def _order(self) -> np.ndarray:
        """Local indices of atoms sorted by id, shape (N,)."""
        ids = self._atom("id")
        if ids is None or len(ids) != self.n_atoms:
            raise EngineError("LAMMPS lost atoms (check the structure and the potential)")
        return np.argsort(np.asarray(ids))

    # ------------------------------------------------------------------ commands
    def command(self, cmd: str) -> None:
        """Run one or more LAMMPS commands (newline-separated); LAMMPS errors become :class:`EngineError`.

        The session uses ``thermo_style custom step pe``; a replacement ``thermo_style`` must keep ``pe``
        for :meth:`energy`/:meth:`energy_forces` (otherwise they raise :class:`EngineError`). Coordinates
        passed to raw commands are in the LAMMPS frame (see :meth:`to_lammps_frame`).
        """
        if self.lmp is None:
            raise EngineError("the LAMMPS session is closed")
        try:
            if "\n" in cmd:
                self.lmp.commands_string(cmd)
            else:
                self.lmp.command(cmd)
        except Exception as exc:
            raise lammps_error(exc, cmd if "\n" not in cmd else None) from None

    def run0(self) -> None:
        """``run 0`` with full setup (re-initialises computes and neighbour lists)."""
        self.command("run 0 post no")

    # ------------------------------------------------------------------ state access
    def set_positions(self, positions: np.ndarray) -> None:
        """Set positions, shape (N, 3), Å (ASE frame, atom order); wrapped, with matching image flags."""
        pos = np.asarray(positions, dtype=float)
        if pos.shape != (self.n_atoms, 3) or not np.all(np.isfinite(pos)):
            raise InputError(f"positions must be finite with shape ({self.n_atoms}, 3), got {pos.shape}")
        x, image = self._wrap(pos)
        order = self._order()
        x_loc = self._atom("x")
        img_loc = self._atom("image")
        x_loc[order] = x
        img_loc[order] = ((image[:, 2] + 512) << 20) | ((image[:, 1] + 512) << 10) | (image[:, 0] + 512)

    def get_positions(self, unwrap: bool = True) -> np.ndarray:
        """Positions, shape (N, 3), Å, sorted by id, ASE frame; unwrapped with image flags."""
        order = self._order()
        x = np.array(self._atom("x")[order], dtype=float)
        if unwrap:
            img = np.asarray(self._atom("image")[order]).astype(np.int64)
            image = np.stack([(img & 1023) - 512, ((img >> 10) & 1023) - 512, (img >> 20) - 512], axis=1)
            x = x + image @ self._lcell
        return self.from_lammps_frame(x)

    def get_velocities(self) -> np.ndarray:
        """Velocities, shape (N, 3), Å/ps, sorted by id, ASE frame."""
        order = self._order()
        return self.from_lammps_frame(np.array(self._atom("v")[order], dtype=float))

    def set_velocities(self, velocities: np.ndarray) -> None:
        """Set velocities, shape (N, 3), Å/ps (ASE frame, atom order)."""
        v = np.asarray(velocities, dtype=float)
        if v.shape != (self.n_atoms, 3):
            raise InputError(f"velocities must have shape ({self.n_atoms}, 3), got {v.shape}")
        order = self._order()
        self._atom("v")[order] = self.to_lammps_frame(v)

    def get_forces(self) -> np.ndarray:
        """Forces of the last evaluation, shape (N, 3), eV/Å, sorted by id, ASE frame."""
        order = self._order()
        return self.from_lammps_frame(np.array(self._atom("f")[order], dtype=float))

    def potential_energy(self) -> float:
        """Potential energy of the current state (after ``run 0``), eV (whole cell)."""
        self.run0()
        return self._pe()

    def _pe(self) -> float:
        try:
            return float(self.lmp.get_thermo("pe"))
        except Exception as exc:
            raise lammps_error(exc, "get_thermo pe") from None

    # ------------------------------------------------------------------ evaluations
    def energy_forces(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Energy and forces at given positions.

        Args:
            positions: Cartesian coordinates, shape (N, 3), Å, atom order.

        Returns:
            (energy of the cell in eV, forces of shape (N, 3) in eV/Å, atom order).
        """
        self.set_positions(positions)
        self.run0()
        return self._pe(), self.get_forces()

    def energy(self, positions: np.ndarray) -> float:
        """Potential energy of the cell at ``positions`` (shape (N, 3), Å), eV."""
        self.set_positions(positions)
        self.run0()
        return self._pe()

    def hessian(
        self,
        positions: np.ndarray | None = None,
        *,
        delta: float = HESSIAN_DELTA,
        method: str = "fd",
        acoustic_sum_rule: bool = True,
    ) -> np.ndarray:
        """Force-constant matrix ∂²U/∂x∂x, symmetrised, with the acoustic sum rule imposed.

        ``"fd"``: central differences of the forces, H[:, 3i+k] = −(F(x+δe) − F(x−δe))/2δ (6N evaluations,
        each with full ``run 0`` setup). Choice of δ = 1e-3 Å (measured on 128-atom BCC): the O(δ²) truncation
        error is ~7e-7 (Mo SNAP) and ~3e-7 (W SNAP+ZBL) of max|H| (it is 100× larger at δ = 1e-2); smaller
        steps gain nothing for analytic potentials (δ = 1e-5 agrees to 7e-7) but amplify the interpolation
        noise of tabulated potentials (Fe_mm EAM: 1e-3 relative error at δ = 1e-5 vs 1e-7 at 1e-3).
        ``"dynmat"``: LAMMPS' PHONON ``dynamical_matrix`` (the same central differences with step δ, done
        inside LAMMPS without per-displacement setup: ~1.4–2× faster; equal to ``"fd"`` to 1e-12),
        converted back from mass-weighted units.

        Args:
            positions: reference positions, shape (N, 3), Å; default the structure's positions.
            delta: displacement, Å.
            method: ``"fd"`` or ``"dynmat"``.
            acoustic_sum_rule: impose the sum rule via :func:`thermograd.harmonic.symmetrize_hessian`.

        Returns:
            Hessian, shape (3N, 3N), eV/Å², atom order, ASE frame.
        """
        if not delta > 0:
            raise InputError(f"Hessian step delta must be > 0 Å, got {delta!r}")
        x0 = np.asarray(self.atoms.positions if positions is None else positions, dtype=float)
        n = self.n_atoms
        if method == "fd":
            h = np.empty((3 * n, 3 * n))
            for i in range(n):
                for k in range(3):
                    x = x0.copy()
                    x[i, k] += delta
                    _, fp = self.energy_forces(x)
                    x[i, k] -= 2 * delta
                    _, fm = self.energy_forces(x)
                    h[:, 3 * i + k] = -(fp - fm).ravel() / (2 * delta)
            self.set_positions(x0)
        elif method == "dynmat":
            h = self._dynmat(x0, delta)
        else:
            raise InputError(f"unknown Hessian method {method!r}; use 'fd' or 'dynmat'")
        return symmetrize_hessian(h, acoustic_sum_rule=acoustic_sum_rule)

    def _dynmat(self, x0: np.ndarray, delta: float) -> np.ndarray:

        self.set_positions(x0)
        self.run0()
        fd, name = tempfile.mkstemp(prefix="thermograd-dynmat-", suffix=".dat")
        os.close(fd)
        try:
            # binary output: raw doubles (the text format is fixed-point with 8 decimals, ~1e-7 eV/Å² error)
            self.command(f"dynamical_matrix all regular {delta!r} file {name} binary yes")
            data = np.fromfile(name, dtype=np.float64)
            if data.size != 9 * self.n_atoms**2:
                raise EngineError(
                    f"dynamical_matrix wrote {data.size} values, expected {9 * self.n_atoms**2}"
                )
            data = data.reshape(3 * self.n_atoms, 3 * self.n_atoms)
        finally:
            Path(name).unlink(missing_ok=True)
        # In metal units dynamical_matrix writes D = Φ/√(m_i m_j) in eV/(Å²·amu) (checked against "fd" to
        # 1e-7): undo the mass weighting with the per-type masses LAMMPS used.
        masses = np.repeat(np.asarray(self._type_mass, dtype=float)[self.types - 1], 3)
        phi = data * np.sqrt(np.outer(masses, masses))
        if self.rotation is not None:
            q = np.kron(np.eye(self.n_atoms), self.rotation)
            phi = q @ phi @ q.T
        return phi

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Release the LAMMPS instance (idempotent)."""
        lmp, self.lmp = self.lmp, None
        if lmp is not None:
            try:
                lmp.close()
            except Exception:  # closing a broken instance must not mask the original error
                pass

    def __enter__(self) -> LammpsSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __reduce__(self):
        raise TypeError("a LammpsSession holds a live LAMMPS instance; pickle (atoms, potential) instead")


def _type_masses(atoms, elements: tuple[str, ...]) -> list[float]:
    from ase.data import atomic_masses, atomic_numbers

    symbols = np.array(atoms.get_chemical_symbols())
    masses = np.asarray(atoms.get_masses(), dtype=float)
    out = []
    for el in elements:
        sel = masses[symbols == el]
        if sel.size == 0:
            out.append(float(atomic_masses[atomic_numbers[el]]) if el in atomic_numbers else 1.0)
            continue
        if np.ptp(sel) > 1e-9 * sel[0]:
            raise InputError(f"atoms of element {el} have different masses; LAMMPS uses one mass per type")
        if not sel[0] > 0:
            raise InputError(f"mass of {el} must be > 0 amu")
        out.append(float(sel[0]))
    return out
