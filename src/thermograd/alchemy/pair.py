"""Alchemical pair potentials: the cheapest models that speak the alchemical-backend contract.

A Morse pair energy φ_ij(r) = D[e^{−2a(r − r₀)} − 2e^{−a(r − r₀)}]·f_c(r), with a cosine taper f_c from
``cutoff − taper`` to ``cutoff`` (energy and force continuous), parameters per species pair, on the alchemical
graph of :mod:`thermograd.alchemy.graph`:

    ε_a = ½ Σ_{b→a} ω_ab φ_{z_a z_b}(r_ab),      E = Σ_a w_a ε_a.

With the graph's edge rules this makes a pair between a fixed atom and a copy of weight λ count λφ, two
same-group copies λφ, and a vacancy ghost at w = 0 exactly decoupled, so the end points are exact and the
energy is linear in each weight (a message-passing model such as MACE adds the non-linearity). Used where a
test or a CPU example needs a stable crystal in milliseconds (thermograd's CI has no GPU).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from ase.data import atomic_numbers, chemical_symbols

from ..errors import InputError
from .derivatives import check_species
from .graph import AlchemicalGraph, edge_vectors, edge_weights, node_weights


class MorseBackend:
    """Morse pairs per species pair on an alchemical graph (module docstring).

    Args:
        params: ``{(A, B): (D eV, a 1/Å, r0 Å)}`` for every unordered pair of the species used (symbols).
        cutoff: Å.
        taper: width of the cosine taper below the cutoff, Å.
        dtype: float64 by default.
    """

    name = "morse"

    def __init__(
        self,
        params: Mapping[tuple[str, str], tuple[float, float, float]],
        cutoff: float,
        taper: float = 0.5,
        dtype: torch.dtype = torch.float64,
    ):
        if not 0 < taper < cutoff:
            raise InputError(f"need 0 < taper < cutoff, got taper {taper}, cutoff {cutoff}")
        species = sorted({s for pair in params for s in pair}, key=lambda s: atomic_numbers.get(s, 0))
        for s in species:
            if s not in atomic_numbers:
                raise InputError(f"unknown chemical symbol {s!r} in the Morse parameters")
        self._z = [atomic_numbers[s] for s in species]
        n = len(species)
        table = np.full((n, n, 3), np.nan)
        for (a, b), (d, alpha, r0) in params.items():
            i, j = species.index(a), species.index(b)
            table[i, j] = table[j, i] = (float(d), float(alpha), float(r0))
        if np.isnan(table).any():
            missing = [
                (species[i], species[j]) for i in range(n) for j in range(i, n) if np.isnan(table[i, j, 0])
            ]
            raise InputError(f"Morse parameters missing for the pairs {missing}")
        self.params = {k: tuple(map(float, v)) for k, v in params.items()}
        self.cutoff = float(cutoff)
        self.taper = float(taper)
        self.dtype = dtype
        self._table = torch.as_tensor(table, dtype=dtype)
        lookup = torch.full((len(chemical_symbols),), -1, dtype=torch.long)
        lookup[torch.tensor(self._z)] = torch.arange(n)
        self._lookup = lookup

    def supported_numbers(self) -> frozenset[int]:
        return frozenset(self._z)

    def check_species(self, numbers) -> None:
        check_species(
            numbers, self._z, f"the Morse model ({', '.join(chemical_symbols[z] for z in self._z)})"
        )

    def pair_energy(self, r: torch.Tensor, zi: torch.Tensor, zj: torch.Tensor) -> torch.Tensor:
        """φ(r) for species index arrays ``zi``, ``zj`` (tapered, zero beyond the cutoff), eV."""
        p = self._table[zi, zj]
        d, a, r0 = p[..., 0], p[..., 1], p[..., 2]
        x = torch.exp(-a * (r - r0))
        phi = d * (x * x - 2 * x)
        r_on = self.cutoff - self.taper
        t = ((r - r_on) / self.taper).clamp(0.0, 1.0)
        fc = 0.5 * (1 + torch.cos(torch.pi * t))
        return torch.where(r < self.cutoff, phi * fc, torch.zeros_like(phi))

    def node_energies(self, graph: AlchemicalGraph, positions, cell, lam) -> torch.Tensor:
        vec = edge_vectors(graph, positions, cell)
        r = torch.linalg.norm(vec, dim=-1)
        zi = self._lookup[graph.node_species[graph.edge_index[0]]]
        zj = self._lookup[graph.node_species[graph.edge_index[1]]]
        if bool((zi < 0).any() or (zj < 0).any()):
            raise InputError("a species of the graph has no Morse parameters")
        e_edge = 0.5 * edge_weights(graph, lam) * self.pair_energy(r, zi, zj)
        eps = torch.zeros(graph.n_nodes, dtype=e_edge.dtype).index_add(0, graph.edge_index[0], e_edge)
        return node_weights(graph, lam) * eps

    def energy(self, graph: AlchemicalGraph, positions, cell, lam) -> torch.Tensor:
        return self.node_energies(graph, positions, cell, lam).sum()


class SumBackend:
    """E = Σ_k E_k over alchemical backends on one graph (built at the largest cutoff; each backend must
    vanish beyond its own cutoff, as MACE's polynomial envelope and :class:`MorseBackend` do). E.g. a stable
    pair model plus a small random MACE whose message passing makes E(λ) non-linear.

    Args:
        backends: the terms (one dtype).
    """

    name = "sum"

    def __init__(self, backends):
        self.backends = list(backends)
        if not self.backends:
            raise InputError("a sum backend needs at least one term")
        dtypes = {b.dtype for b in self.backends}
        if len(dtypes) != 1:
            raise InputError(f"the terms of a sum backend have different dtypes {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop()
        self.cutoff = max(float(b.cutoff) for b in self.backends)

    def supported_numbers(self) -> frozenset[int]:
        out = None
        for b in self.backends:
            out = b.supported_numbers() if out is None else out & b.supported_numbers()
        return frozenset(out)

    def check_species(self, numbers) -> None:
        for b in self.backends:
            check = getattr(b, "check_species", None)
            if check is not None:
                check(numbers)
            else:
                check_species(numbers, b.supported_numbers(), type(b).__name__)

    def node_energies(self, graph: AlchemicalGraph, positions, cell, lam) -> torch.Tensor:
        return sum(b.node_energies(graph, positions, cell, lam) for b in self.backends)

    def energy(self, graph: AlchemicalGraph, positions, cell, lam) -> torch.Tensor:
        return self.node_energies(graph, positions, cell, lam).sum()


#: A Morse model of BCC iron for tests and CPU examples (D eV, a 1/Å, r0 Å), with ``cutoff=3.6`` Å (between
#: the second and third BCC shells): D and a of Girifalco & Weizer, Phys. Rev. 114, 687 (1959); r0 = 2.5847 Å
#: puts the static pressure of BCC at a = 2.86 Å to zero (their r0 = 2.845 Å is for an all-shell sum and gives
#: +57 GPa with this cutoff). At 2.86 Å the 16-atom cell's Hessian is positive definite (lowest non-zero
#: eigenvalue 1.25 eV/Å²) and E(a) has its minimum. Not a model of real iron.
FE_MORSE = {("Fe", "Fe"): (0.4174, 1.3885, 2.5847)}
