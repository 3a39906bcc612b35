"""Alchemical systems: a structure plus groups of (site, species) copies whose weights λ are continuous.

A group ``g`` puts one copy of species ``species`` on each of its ``sites``; the copies carry the weight λ_g.
Groups over the same site set share one simplex (Σλ = 1, λ ≥ 0), e.g. Ce/Sn on the cation sites of CeO₂
with λ = (1 − x, x); a group alone on its sites (a vacancy) is a single weight in [0, 1].
Nam, Peng, Gómez-Bombarelli, Nat. Commun. 16 (2025), doi:10.1038/s41467-025-59543-2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from ..errors import InputError

#: tolerance on Σλ = 1 and on the bounds when validating weights
SIMPLEX_TOL = 1e-6


@dataclass(frozen=True)
class AlchemicalGroup:
    """One alchemical group: a copy of ``species`` on every site in ``sites``, all with the weight λ_g.

    Attributes:
        sites: original atom indices (0-based) that receive a copy.
        species: chemical symbol of the copies, e.g. ``"K"``.
    """

    sites: tuple[int, ...]
    species: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "sites", tuple(int(s) for s in self.sites))

    @property
    def z(self) -> int:
        """Atomic number of the copies."""
        if self.species not in atomic_numbers:
            raise InputError(f"unknown chemical symbol {self.species!r} in an alchemical group")
        return atomic_numbers[self.species]


@dataclass
class AlchemicalSystem:
    """A structure with alchemical groups, their constraint simplices and the current weights.

    Attributes:
        atoms: the original structure (species of non-alchemical sites, positions, cell, pbc).
        groups: alchemical groups; a site listed in any group is alchemical and is represented only by its
            copies.
        constraints: tuples of group indices that share one simplex; a 1-tuple is a single weight in [0, 1].
            ``None`` infers them: groups over identical site sets form one simplex.
        lam: weights, shape (n_groups,). ``None`` puts each simplex at its first vertex (pure first group)
            and each single weight at 1.
    """

    atoms: Atoms
    groups: list[AlchemicalGroup]
    constraints: list[tuple[int, ...]] | None = None
    lam: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.groups = [g if isinstance(g, AlchemicalGroup) else AlchemicalGroup(*g) for g in self.groups]
        if not self.groups:
            raise InputError("an alchemical system needs at least one alchemical group")
        n_atoms = len(self.atoms)
        for k, g in enumerate(self.groups):
            if not g.sites:
                raise InputError(f"alchemical group {k} ({g.species}) has no sites")
            bad = [s for s in g.sites if s < 0 or s >= n_atoms]
            if bad:
                raise InputError(
                    f"alchemical group {k} ({g.species}): site index {bad[0]} out of range for "
                    f"{n_atoms} atoms "
                    f"(valid 0..{n_atoms - 1})"
                )
            if len(set(g.sites)) != len(g.sites):
                raise InputError(f"alchemical group {k} ({g.species}) lists a site twice")
            _ = g.z
        if self.constraints is None:
            self.constraints = infer_constraints(self.groups)
        self.constraints = [tuple(int(i) for i in c) for c in self.constraints]
        seen = sorted(i for c in self.constraints for i in c)
        if seen != list(range(len(self.groups))):
            raise InputError(
                f"constraints must list every group index 0..{len(self.groups) - 1} exactly once, got "
                f"{self.constraints}"
            )
        if self.lam is None:
            lam = np.zeros(len(self.groups))
            for c in self.constraints:
                lam[c[0]] = 1.0
            self.lam = lam
        self.set_lam(self.lam)

    # ------------------------------------------------------------------ weights
    @property
    def n_groups(self) -> int:
        """Number of alchemical groups G."""
        return len(self.groups)

    def set_lam(self, lam: Sequence[float] | np.ndarray) -> None:
        """Set the weights after checking them against the constraint simplices.

        Args:
            lam: weights, shape (n_groups,).

        Raises:
            InputError: wrong length, non-finite, or off a simplex / outside [0, 1].
        """
        self.lam = check_lam(lam, self.constraints, self.n_groups)

    # ------------------------------------------------------------------ derived
    def alchemical_sites(self) -> np.ndarray:
        """Sorted indices of the sites that appear in any group."""
        return np.unique(np.concatenate([np.asarray(g.sites) for g in self.groups]))

    def masses(self, lam: np.ndarray | None = None) -> np.ndarray:
        """Interpolated masses m_i = Σ_a w_a M(z_a) / Σ_a w_a over the copies of site i (amu).

        Normalising by Σ w_a keeps a vacancy ghost at its own mass and equals the plain weighted sum on a
        simplex; a site whose weights are all zero gets the mean mass of its copies.

        Args:
            lam: weights, shape (n_groups,); defaults to ``self.lam``.

        Returns:
            masses, shape (n_atoms,), amu.
        """
        lam = self.lam if lam is None else np.asarray(lam, dtype=float)
        m = np.array(self.atoms.get_masses(), dtype=float)
        num = np.zeros(len(m))
        den = np.zeros(len(m))
        cnt = np.zeros(len(m))
        mean = np.zeros(len(m))
        for k, g in enumerate(self.groups):
            idx = np.asarray(g.sites)
            num[idx] += lam[k] * atomic_masses[g.z]
            den[idx] += lam[k]
            mean[idx] += atomic_masses[g.z]
            cnt[idx] += 1
        alch = cnt > 0
        safe = alch & (den > 1e-12)
        m[safe] = num[safe] / den[safe]
        zero = alch & ~safe
        m[zero] = mean[zero] / cnt[zero]
        return m

    def endpoint_atoms(self, lam: np.ndarray | None = None) -> Atoms:
        """The pure structure at a vertex of every simplex (one-hot λ; single weights 0 or 1).

        Sites whose copies all have weight 0 are removed (vacancies); the others take the species of their
        weight-1 copy.

        Raises:
            InputError: λ is not at a vertex.
        """
        lam = self.lam if lam is None else np.asarray(lam, dtype=float)
        if not np.all((np.abs(lam) < 1e-12) | (np.abs(lam - 1) < 1e-12)):
            raise InputError(f"endpoint_atoms needs one-hot weights, got {lam}")
        atoms = self.atoms.copy()
        numbers = atoms.numbers.copy()
        keep = np.ones(len(atoms), dtype=bool)
        keep[self.alchemical_sites()] = False
        for k, g in enumerate(self.groups):
            if lam[k] > 0.5:
                numbers[list(g.sites)] = g.z
                keep[list(g.sites)] = True
        atoms.numbers = numbers
        return atoms[keep]


def infer_constraints(groups: Sequence[AlchemicalGroup]) -> list[tuple[int, ...]]:
    """Groups over identical site sets share one simplex; each distinct site set gives one constraint."""
    by_sites: dict[tuple[int, ...], list[int]] = {}
    for k, g in enumerate(groups):
        by_sites.setdefault(tuple(sorted(g.sites)), []).append(k)
    return [tuple(v) for v in by_sites.values()]


def check_lam(
    lam, constraints: Sequence[tuple[int, ...]], n_groups: int, tol: float = SIMPLEX_TOL
) -> np.ndarray:
    """Validate weights against constraint simplices; return them as a float array.

    Args:
        lam: weights, shape (n_groups,).
        constraints: tuples of group indices sharing one simplex; 1-tuples are weights in [0, 1].
        n_groups: expected length.
        tol: tolerance on the bounds and on Σλ = 1.

    Raises:
        InputError: naming the offending constraint and values.
    """
    lam = np.asarray(lam, dtype=float).reshape(-1)
    if lam.shape != (n_groups,):
        raise InputError(f"lam must have {n_groups} entries (one per alchemical group), got {lam.shape[0]}")
    if not np.all(np.isfinite(lam)):
        raise InputError(f"lam must be finite, got {lam}")
    for c in constraints:
        sub = lam[list(c)]
        if np.any(sub < -tol) or np.any(sub > 1 + tol):
            raise InputError(f"weights {sub.tolist()} of groups {c} must lie in [0, 1]")
        if len(c) > 1 and abs(sub.sum() - 1.0) > tol:
            raise InputError(
                f"weights {sub.tolist()} of groups {c} share one simplex and must sum to 1 "
                f"(sum {sub.sum():.6g})"
            )
    return lam


def substitution(
    atoms: Atoms, sites: Sequence[int], species: Sequence[str], lam: Sequence[float] | None = None
) -> AlchemicalSystem:
    """Convenience constructor: one simplex over ``species`` on ``sites`` (e.g. Na/K on the cation sites).

    Args:
        atoms: the structure.
        sites: indices of the mixed sublattice.
        species: candidate species, one group each, e.g. ``["Na", "K"]``.
        lam: weights, shape (len(species),); default the first species pure.
    """
    groups = [AlchemicalGroup(tuple(sites), s) for s in species]
    return AlchemicalSystem(
        atoms, groups, [tuple(range(len(groups)))], None if lam is None else np.asarray(lam, dtype=float)
    )


def vacancy(atoms: Atoms, site: int, w: float = 1.0) -> AlchemicalSystem:
    """Convenience constructor: ``site`` becomes one copy of its own species with weight ``w`` ∈ [0, 1]."""
    if not 0 <= int(site) < len(atoms):
        raise InputError(f"vacancy site {site} out of range for {len(atoms)} atoms")
    g = AlchemicalGroup((int(site),), atoms[int(site)].symbol)
    return AlchemicalSystem(atoms, [g], [(0,)], np.array([float(w)]))
