"""MLIPs on the batched torch engine: plain models and alchemical paths H(λ) with λ-dependent masses.

* :class:`MLIPPotential`: any alchemical backend (SevenNet-0, MACE, the pair backends of
  :mod:`thermograd.alchemy.pair`) on a plain structure, as a :class:`thermograd.md.hamiltonians.Potential`.
* :class:`AlchemicalPath`: the group weights follow one switching variable, λ_g(s) = λ_g⁰ + s(λ_g¹ − λ_g⁰);
  U_s = E_alch(x; λ(s)) and ∂U/∂s = Σ_g ∂E/∂λ_g (λ_g¹ − λ_g⁰) from the same autograd pass as the forces.
  Masses follow the weights (:meth:`thermograd.alchemy.system.AlchemicalSystem.masses`; a vacancy ghost keeps
  its own mass) unless ``interpolate_masses=False``.

The graph is rebuilt for every replica at every evaluation (the neighbour list depends on the geometry; a
stale list misses neighbours, science-alchemical.md §6), and the replicas are evaluated as one batched graph.
"""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms

from ..errors import InputError
from ..md.hamiltonians import DTYPE, Evaluation, as_tensor
from .calculator import check_backend_species
from .derivatives import evaluate
from .graph import DEFAULT_POLICY, batch_graphs, build_graph
from .system import AlchemicalSystem, check_lam

#: on a CPU, replicas are evaluated in chunks of at most this many graph edges (at least one replica each):
#: one batched graph of four 16-atom SevenNet-0 replicas (3,648 edges) costs 5–7× one replica, four
#: sequential calls 4× (its intermediate tensors leave the cache; benchmarks/md_throughput.py --profile),
#: while cheap models (pair terms, tiny MACE) gain from batching. On a GPU every replica goes in one batch.
CPU_MAX_EDGES = 1000


def _replica_graphs(
    atoms: Atoms, groups, positions: torch.Tensor, cells: torch.Tensor, cutoff: float, policy: str
) -> list:
    graphs = []
    a = atoms.copy()
    for x, h in zip(positions.detach().cpu().numpy(), cells.detach().cpu().numpy()):
        a.set_cell(h, scale_atoms=False)
        a.positions = x
        graphs.append(build_graph(a, cutoff, policy, groups=groups))
    return graphs


def _chunks(graphs: list, max_edges: float) -> list[list[int]]:
    out: list[list[int]] = [[]]
    edges = 0
    for r, g in enumerate(graphs):
        if out[-1] and edges + g.n_edges > max_edges:
            out.append([])
            edges = 0
        out[-1].append(r)
        edges += g.n_edges
    return out


def _evaluate(backend, graphs, positions, cells, lam, stress: bool, alchemical: bool, max_edges=None):
    """Energies (R,), forces (R, N, 3), stress (R, 3, 3) | None and ∂E/∂λ (R, G) | None of R replicas, as
    float64 CPU tensors; ``lam`` has shape (R, G) (G may be 0)."""
    device = torch.device(getattr(backend, "device", "cpu"))
    if max_edges is None:
        max_edges = CPU_MAX_EDGES if device.type == "cpu" else float("inf")
    parts = []
    for idx in _chunks(graphs, max_edges):
        k = len(idx)
        graph = graphs[idx[0]] if k == 1 else batch_graphs([graphs[i] for i in idx])
        if device.type != "cpu":
            graph = graph.to(device)
        pos = positions[idx].reshape(-1, 3).to(device=device, dtype=backend.dtype)
        cell = (cells[idx[0]] if k == 1 else cells[idx]).to(device=device, dtype=backend.dtype)
        lam_k = lam[idx].reshape(-1).to(device=device, dtype=backend.dtype)
        res = evaluate(backend, graph, pos, cell, lam_k, forces=True, stress=stress, alchemical=alchemical)
        parts.append(
            (
                res.energy.reshape(k),
                res.forces.reshape(k, -1, 3),
                None if res.stress is None else res.stress.reshape(k, 3, 3),
                None if res.dE_dlam is None else res.dE_dlam.reshape(k, -1),
            )
        )

    def cat(j):
        if parts[0][j] is None:
            return None
        return torch.cat([p[j] for p in parts]).to(device="cpu", dtype=DTYPE)

    return cat(0), cat(1), cat(2), cat(3)


class MLIPPotential:
    """A backend's model on the structure ``atoms`` (species, order, pbc); positions and cells come from the
    engine, so the same object serves NVT and NPT.

    Args:
        backend: an alchemical backend (``energy``/``node_energies``, ``cutoff``, ``dtype``).
        atoms: the structure.
        max_edges: as in :class:`AlchemicalPath`.

    Raises:
        InputError: a species of ``atoms`` unknown to the model.
    """

    def __init__(self, backend, atoms: Atoms, *, max_edges: float | None = None):
        self.backend = backend
        self.atoms = atoms.copy()
        self.n_atoms = len(atoms)
        self.max_edges = max_edges
        check = getattr(backend, "check_species", None)
        if check is not None:
            check(atoms.numbers)

    def evaluate(self, positions, cells, stress: bool = False):
        graphs = _replica_graphs(self.atoms, [], positions, cells, self.backend.cutoff, DEFAULT_POLICY)
        lam = torch.zeros((positions.shape[0], 0), dtype=DTYPE)
        e, f, s, _ = _evaluate(self.backend, graphs, positions, cells, lam, stress, False, self.max_edges)
        return e, f, s


class AlchemicalPath:
    """H(s) = E_alch(x; λ(s)), λ(s) = λ⁰ + s(λ¹ − λ⁰), s ∈ [0, 1] (module docstring).

    Args:
        backend: an alchemical backend.
        system: the structure with its alchemical groups.
        lam_start, lam_end: group weights at s = 0 and s = 1 (each checked against the system's simplices).
        interpolate_masses: masses follow λ(s) (the kinetic free energy is then added analytically by the
            caller, :func:`thermograd.alchemy.free_energy.mass_term`); False keeps the masses of s = 0.
        policy: the graph's edge policy.
        max_edges: replicas are evaluated in batches of at most this many graph edges (default
            :data:`CPU_MAX_EDGES` on a CPU, one batch on a GPU).
    """

    def __init__(
        self,
        backend,
        system: AlchemicalSystem,
        lam_start,
        lam_end,
        *,
        interpolate_masses: bool = True,
        policy: str = DEFAULT_POLICY,
        max_edges: float | None = None,
    ):
        check_backend_species(backend, system)
        self.backend = backend
        self.system = system
        self.lam0 = check_lam(lam_start, system.constraints, system.n_groups)
        self.lam1 = check_lam(lam_end, system.constraints, system.n_groups)
        self.interpolate_masses = bool(interpolate_masses)
        self.policy = policy
        self.max_edges = max_edges
        self.n_atoms = len(system.atoms)
        self._dlam = torch.as_tensor(self.lam1 - self.lam0, dtype=DTYPE)

    def group_weights(self, s: torch.Tensor) -> np.ndarray:
        """λ(s) per replica, shape (R, G)."""
        s = np.asarray(s, dtype=float).reshape(-1, 1)
        return self.lam0[None, :] + s * (self.lam1 - self.lam0)[None, :]

    def evaluate(self, positions, cells, lam, stress: bool = False) -> Evaluation:
        weights = self.group_weights(lam.detach().numpy())
        if np.any(weights < -1e-12) or np.any(weights > 1 + 1e-12):
            raise InputError(f"switching variable outside [0, 1]: {lam.tolist()}")
        graphs = _replica_graphs(
            self.system.atoms, self.system.groups, positions, cells, self.backend.cutoff, self.policy
        )
        lam_r = torch.as_tensor(weights, dtype=DTYPE)
        e, f, s, dl = _evaluate(self.backend, graphs, positions, cells, lam_r, stress, True, self.max_edges)
        return Evaluation(e, f, dl @ self._dlam, s)

    def masses(self, lam: torch.Tensor) -> torch.Tensor | None:
        if not self.interpolate_masses:
            return None
        weights = self.group_weights(lam.detach().numpy())
        return torch.as_tensor(np.stack([self.system.masses(w) for w in weights]), dtype=DTYPE)

    def start_masses(self) -> np.ndarray:
        """Masses at s = 0, amu."""
        return self.system.masses(self.lam0)


def relax_positions(atoms: Atoms, backend, fmax: float = 1e-3, steps: int = 500) -> Atoms:
    """Relax the positions of ``atoms`` at fixed cell with FIRE under a backend's plain model.

    Args:
        atoms: the structure (not modified).
        backend: an alchemical backend (e.g. SevenNet-0, a pair model).
        fmax: force criterion, eV/Å.
        steps: maximum FIRE steps.

    Returns:
        A relaxed copy (``info["energy"]`` eV, ``info["converged"]``).
    """
    from ase.calculators.calculator import Calculator, all_changes
    from ase.optimize import FIRE

    pot = MLIPPotential(backend, atoms)

    class _Plain(Calculator):
        implemented_properties = ("energy", "free_energy", "forces")

        def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
            super().calculate(atoms, properties, system_changes)
            x = as_tensor(self.atoms.positions)[None]
            e, f, _ = pot.evaluate(x, as_tensor(self.atoms.cell[:])[None])
            self.results = {"energy": float(e[0]), "free_energy": float(e[0]), "forces": f[0].numpy()}

    out = atoms.copy()
    out.calc = _Plain()
    opt = FIRE(out, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    energy = out.get_potential_energy()
    out.calc = None
    out.info.update(energy=energy, converged=converged)
    return out
