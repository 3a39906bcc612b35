"""Harmonic vacancy formation free energy: a third, noise-free route at low temperature.

At fixed cell, G_v^h(T) = E_v + F_h,v(T) with E_v = E(defect, relaxed) − (N − 1)/N · E(perfect) and the
classical harmonic formation free energy F_h,v = (N − 1)[f_h(defect) − f_h(perfect)] from the two Hessians
(the ``"cell"`` convention of :func:`thermograd.harmonic.harmonic_free_energy`: 3N − 3 modes each, the same
convention as every Frenkel–Ladd in thermograd). It is what both switching routes must approach as T → 0;
anharmonic terms grow as T², so at a small fraction of the melting point it tells a biased route (too short
or too few switches) from a sound one without any sampling noise. The harmonic formation entropy
S_v = −∂F_h,v/∂T is reported with it: in a small cell at fixed volume it can be negative, so that G_v rises
with T there while it falls at constant pressure in a large cell.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms

from ..errors import InputError
from ..harmonic import harmonic_free_energy, modes_from_hessian
from ..md.hamiltonians import as_tensor
from ..md.hessian import force_constants
from ..units import KB
from .md import MLIPPotential, relax_positions


@dataclass
class HarmonicVacancy:
    """Harmonic (fixed-cell) vacancy formation free energy, eV (per vacancy).

    Attributes:
        T: temperatures, K. n_atoms: atoms of the perfect crystal. site: the removed site.
        E_v: static formation energy with the defect relaxed at fixed cell.
        F_h_v: harmonic formation free energy per T. G_v: E_v + F_h_v per T.
        S_v: harmonic formation entropy −∂F_h,v/∂T per T, in k_B.
        lowest_mode: lowest vibrational stiffness of each crystal, eV/Å².
        relaxed: whether the defect relaxation met its force criterion.
    """

    T: list[float]
    n_atoms: int
    site: int
    E_v: float
    F_h_v: list[float]
    G_v: list[float]
    S_v: list[float]
    lowest_mode: dict
    relaxed: bool

    def to_dict(self) -> dict:
        return asdict(self)

    def at(self, T: float) -> float:
        """G_v at one of the computed temperatures."""
        for t, g in zip(self.T, self.G_v):
            if math.isclose(t, T):
                return g
        raise InputError(f"no harmonic G_v at {T} K (computed at {self.T})")


def _energy(backend, atoms: Atoms) -> float:
    e, _, _ = MLIPPotential(backend, atoms).evaluate(
        as_tensor(atoms.positions)[None], as_tensor(atoms.cell[:])[None]
    )
    return float(e[0])


def harmonic_vacancy_formation(
    backend,
    atoms: Atoms,
    site: int,
    T: float | Sequence[float],
    *,
    fmax: float = 1e-4,
    displacement: float = 5e-3,
) -> HarmonicVacancy:
    """Harmonic vacancy formation free energy of a one-species crystal at its cell (module docstring).

    Args:
        backend: an alchemical backend (its plain model is used).
        atoms: the perfect crystal, sites at a minimum of the model.
        site: the atom removed.
        T: one temperature or several, K.
        fmax: force criterion of the defect relaxation (fixed cell), eV/Å.
        displacement: finite-difference step of the Hessians, Å.

    Raises:
        InputError: more than one mass in the crystal, or a site that does not exist.
        UnstableStructureError: a crystal whose Hessian has a non-positive mode (not a minimum).
    """
    temps = [float(t) for t in np.atleast_1d(np.asarray(T, dtype=float))]
    if not temps or any(not t > 0 for t in temps):
        raise InputError(f"temperatures must be > 0 K, got {T!r}")
    n = len(atoms)
    if not isinstance(site, (int, np.integer)) or not 0 <= int(site) < n:
        raise InputError(f"vacancy site {site!r} does not exist: the structure has {n} atoms")
    masses = atoms.get_masses()
    if not np.allclose(masses, masses[0]):
        raise InputError("the harmonic vacancy reference needs a one-mass crystal")
    mass = float(masses[0])
    defect = atoms.copy()
    del defect[int(site)]
    defect = relax_positions(defect, backend, fmax=fmax, steps=5000)
    relaxed = bool(defect.info["converged"])
    if not relaxed:
        warnings.warn(
            f"harmonic vacancy reference: the defect relaxation did not reach fmax = {fmax} eV/Å; E_v and the "
            "defect modes are those of the last step",
            RuntimeWarning,
            stacklevel=2,
        )
    e_v = _energy(backend, defect) - (n - 1) / n * _energy(backend, atoms)
    modes = {}
    for name, at in (("perfect", atoms), ("defect", defect)):
        hess = force_constants(
            MLIPPotential(backend, at), at.positions, at.cell[:], displacement=displacement
        )
        modes[name] = modes_from_hessian(hess, mass)
    f_h, s_v = [], []
    for t in temps:
        f = {k: float(harmonic_free_energy(m, t, convention="cell")) for k, m in modes.items()}
        f_h.append((n - 1) * (f["defect"] - f["perfect"]))
        # classical F = k_BT Σ ln(βħω): −∂F/∂T = −F/T + k_B·(number of modes of the combination)
        n_modes = modes["defect"].n_modes - (n - 1) / n * modes["perfect"].n_modes
        s_v.append((-f_h[-1] / t + KB * n_modes) / KB)
    return HarmonicVacancy(
        T=temps,
        n_atoms=n,
        site=int(site),
        E_v=e_v,
        F_h_v=f_h,
        G_v=[e_v + f for f in f_h],
        S_v=s_v,
        lowest_mode={k: float(m.kappa[0]) for k, m in modes.items()},
        relaxed=relaxed,
    )
