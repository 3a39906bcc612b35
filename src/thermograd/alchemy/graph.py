"""Alchemical graph expansion: one node per (site, candidate species), edges weighted by λ.

The ordinary neighbour list of the original atoms (periodic images, integer cell shifts) is expanded without
a Python loop over edges. Every original edge j → i (sender j, receiver i) becomes node edges b → a with a
weight ω_ab that is a gather of the padded weight vector (1, λ_1, …, λ_G), so autograd reaches λ:

=================  =================  ====================================  ===========================
receiver site i    sender site j      node edges                            ω_ab
=================  =================  ====================================  ===========================
fixed              fixed              the single edge                       1
alchemical         fixed              into every copy of i                  1
fixed              alchemical         from every copy of j                  λ_g(b)
alchemical         alchemical         same group set: same-label pairs      1
                                      different group sets: see ``policy``
=================  =================  ====================================  ===========================

Policies for alchemical sites with *different* group sets (independently mixed sublattices):

* ``"cross-group"`` (default): every copy pair is connected, weighted by the sender's λ. Sites that share
  one group set (the usual single mixed sublattice, or a vacancy) follow the paper's same-label rule, so for
  a single substituted sublattice this *is* the paper's rule; with two independently substituted
  sublattices it keeps their interaction and stays exact at the end points.
* ``"paper"``: the reference implementation (Nam et al., Nat. Commun. 16 (2025)) — copy pairs only with the
  same group label, at any group set. Sites with disjoint group sets get no edge at all, which drops e.g. the
  A–B interaction of an (A,A')(B,B')X solid solution and breaks endpoint exactness.

Backend contract: ``energy(graph, positions, cell, lam) -> scalar`` with E = Σ_a w_a ε_a and every per-edge
filter weight multiplied by ω_ab (``node_weights``, ``edge_weights``, ``edge_vectors`` below). The graph
depends on geometry: rebuild it whenever positions or cell change beyond a rigid strain of the edge vectors
(a stale list misses neighbours that moved inside the cutoff).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from ase.neighborlist import primitive_neighbor_list

from ..errors import InputError
from .system import AlchemicalGroup, AlchemicalSystem

POLICIES = ("cross-group", "paper")
DEFAULT_POLICY = "cross-group"


@dataclass
class AlchemicalGraph:
    """The expanded graph. All tensors live on CPU unless moved with :meth:`to`.

    Attributes:
        node_species: atomic number of each node, shape (n_nodes,), long.
        node_site: parent original atom index p(a) of each node, shape (n_nodes,), long.
        node_group: 0 for a fixed atom, g + 1 for a copy in group g, shape (n_nodes,), long; an index into
            the padded weight vector (1, λ_1, …, λ_G).
        edge_index: node indices, shape (2, n_edges), long; row 0 receiver, row 1 sender.
        edge_site_index: original atom indices of the same edges, shape (2, n_edges), long.
        edge_cell_shift: integer cell shifts S, shape (n_edges, 3), long.
        edge_shift: Cartesian shifts S·h at build time, shape (n_edges, 3), Å (float64); the edge vector is
            r_sender − r_receiver + shift.
        edge_weight_group: index into (1, λ) giving ω_ab, shape (n_edges,), long (0 → weight 1).
        n_sites: number of original atoms.
        n_groups: number of alchemical groups G.
        cutoff: neighbour cutoff, Å.
        policy: ``"cross-group"`` or ``"paper"``.
        node_system: system index of each node for batched graphs, shape (n_nodes,), long (zeros otherwise).
        n_systems: number of systems in a batched graph (1 otherwise).
        parent_site_index: the original edges (receiver, sender site) that have node edges, shape
            (2, n_parents), long. Optional (backends may ignore it and the fields below): the edge geometry,
            radial functions and spherical harmonics depend only on the parent edge.
        parent_cell_shift: integer cell shifts of the parent edges, shape (n_parents, 3), long.
        parent_system: system index of each parent edge, shape (n_parents,), long.
        message_parent, message_sender, message_weight_group: the distinct messages, one per (parent edge,
            sender node), shape (n_messages,), long. A message does not depend on its receiver, and ω_ab is a
            function of (parent, sender), so the copies of an alchemical receiver share the messages of a
            fixed sender: computing messages once per (parent, sender) costs fewer tensor products.
        edge_message: which message each node edge carries, shape (n_edges,), long.
    """

    node_species: torch.Tensor
    node_site: torch.Tensor
    node_group: torch.Tensor
    edge_index: torch.Tensor
    edge_site_index: torch.Tensor
    edge_cell_shift: torch.Tensor
    edge_shift: torch.Tensor
    edge_weight_group: torch.Tensor
    n_sites: int
    n_groups: int
    cutoff: float
    policy: str
    node_system: torch.Tensor | None = None
    n_systems: int = 1
    parent_site_index: torch.Tensor | None = None
    parent_cell_shift: torch.Tensor | None = None
    parent_system: torch.Tensor | None = None
    message_parent: torch.Tensor | None = None
    message_sender: torch.Tensor | None = None
    message_weight_group: torch.Tensor | None = None
    edge_message: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.node_system is None:
            self.node_system = torch.zeros_like(self.node_site)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_species.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of node edges."""
        return int(self.edge_index.shape[1])

    def to(self, device: torch.device | str) -> AlchemicalGraph:
        """Copy of the graph with every tensor on ``device``."""
        kw = {k: (v.to(device) if isinstance(v, torch.Tensor) else v) for k, v in self.__dict__.items()}
        return AlchemicalGraph(**kw)


def _as_system(system_or_atoms, groups) -> tuple[Atoms, list[AlchemicalGroup]]:
    if isinstance(system_or_atoms, AlchemicalSystem):
        return system_or_atoms.atoms, system_or_atoms.groups
    if isinstance(system_or_atoms, Atoms):
        gs = [g if isinstance(g, AlchemicalGroup) else AlchemicalGroup(*g) for g in (groups or [])]
        n = len(system_or_atoms)
        for k, g in enumerate(gs):
            bad = [s for s in g.sites if not 0 <= s < n]
            if bad:
                raise InputError(f"alchemical group {k}: site index {bad[0]} out of range for {n} atoms")
        return system_or_atoms, gs
    raise InputError(
        f"build_graph needs an AlchemicalSystem or ase.Atoms, got {type(system_or_atoms).__name__}"
    )


def _nodes(numbers: np.ndarray, groups: list[AlchemicalGroup]):
    """Nodes sorted by (site, label): fixed atoms keep one node (label 0); alchemical sites one per group."""
    n_sites = len(numbers)
    if groups:
        g_site = np.concatenate([np.asarray(g.sites, dtype=np.int64) for g in groups])
        g_label = np.concatenate([np.full(len(g.sites), k + 1, dtype=np.int64) for k, g in enumerate(groups)])
        g_z = np.concatenate([np.full(len(g.sites), g.z, dtype=np.int64) for g in groups])
    else:
        g_site = g_label = g_z = np.zeros(0, dtype=np.int64)
    is_alch = np.zeros(n_sites, dtype=bool)
    is_alch[g_site] = True
    fixed = np.flatnonzero(~is_alch)
    site = np.concatenate([fixed, g_site])
    label = np.concatenate([np.zeros(len(fixed), dtype=np.int64), g_label])
    z = np.concatenate([numbers[fixed].astype(np.int64), g_z])
    order = np.lexsort((label, site))
    site, label, z = site[order], label[order], z[order]
    counts = np.bincount(site, minlength=n_sites)
    ptr = np.concatenate([[0], np.cumsum(counts)[:-1]])
    # group-set key per site: sites with identical label sets share a key; fixed sites get -1
    width = int(counts.max()) if n_sites else 1
    local = np.arange(len(site)) - ptr[site]
    table = np.zeros((n_sites, width), dtype=np.int64)
    table[site, local] = label
    _, key = np.unique(table, axis=0, return_inverse=True)
    key = np.where(is_alch, key.reshape(-1), -1)
    return site, label, z, counts, ptr, is_alch, key


def neighbour_list(pbc, cell, positions, cutoff: float):
    """(receiver i, sender j, integer cell shift S) of every pair closer than ``cutoff`` (positions need not
    be wrapped). matscipy's C implementation for fully periodic cells (≈35× faster than ASE's for small cells, which
    matters when MD rebuilds the graph at every step), else ASE's; both give the same list."""
    try:
        from matscipy.neighbours import neighbour_list as _matscipy_nl
    except ImportError:
        _matscipy_nl = None
    if _matscipy_nl is None or not np.all(pbc):
        return primitive_neighbor_list(
            "ijS", pbc, cell, positions, cutoff, self_interaction=False, use_scaled_positions=False
        )
    return _matscipy_nl("ijS", positions=positions, cell=cell, pbc=pbc, cutoff=cutoff)


def build_graph(
    system_or_atoms: AlchemicalSystem | Atoms,
    cutoff: float,
    policy: str = DEFAULT_POLICY,
    groups: list[AlchemicalGroup] | None = None,
) -> AlchemicalGraph:
    """Expand the neighbour list of the original atoms into the alchemical graph.

    Args:
        system_or_atoms: an :class:`AlchemicalSystem`, or ``ase.Atoms`` together with ``groups``
            (no groups gives the plain graph of the structure).
        cutoff: neighbour cutoff, Å (the model's r_max).
        policy: ``"cross-group"`` (default) or ``"paper"``; see the module docstring.
        groups: alchemical groups when ``system_or_atoms`` is ``ase.Atoms``.

    Returns:
        The :class:`AlchemicalGraph`.

    Raises:
        InputError: unknown policy, non-positive cutoff, site index out of range.
    """
    if policy not in POLICIES:
        raise InputError(f"unknown edge policy {policy!r}; choose one of {', '.join(POLICIES)}")
    if not cutoff > 0:
        raise InputError(f"cutoff must be positive, got {cutoff}")
    atoms, groups = _as_system(system_or_atoms, groups)
    numbers = atoms.numbers
    site, label, z, counts, ptr, is_alch, key = _nodes(numbers, groups)

    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell = np.asarray(atoms.cell.array, dtype=float)
    recv, send, cell_shift = neighbour_list(pbc, cell, atoms.positions, float(cutoff))
    recv = recv.astype(np.int64)
    send = send.astype(np.int64)
    cell_shift = cell_shift.astype(np.int64)

    # every original edge -> c_recv * c_send candidate copy pairs, enumerated without a Python loop
    c_r, c_s = counts[recv], counts[send]
    mult = c_r * c_s
    parent = np.repeat(np.arange(len(recv)), mult)
    k = np.arange(int(mult.sum())) - np.repeat(np.cumsum(mult) - mult, mult)
    a = ptr[recv[parent]] + k // c_s[parent]
    b = ptr[send[parent]] + k % c_s[parent]

    fa, fb = ~is_alch[recv[parent]], ~is_alch[send[parent]]
    same_label = label[a] == label[b]
    same_key = key[recv[parent]] == key[send[parent]]
    alch_alch = ~fa & ~fb
    if policy == "paper":
        keep = fa | fb | same_label
        w_group = np.where(fa & ~fb, label[b], 0)
    else:
        keep = fa | fb | (same_key & same_label) | ~same_key
        w_group = np.where((fa & ~fb) | (alch_alch & ~same_key), label[b], 0)

    a, b, parent, w_group = a[keep], b[keep], parent[keep], w_group[keep]
    shift_int = cell_shift[parent]
    used, parent_c = np.unique(parent, return_inverse=True)
    n_nodes = len(site)
    msg_key, first, edge_msg = np.unique(parent_c * n_nodes + b, return_index=True, return_inverse=True)
    return AlchemicalGraph(
        node_species=torch.as_tensor(z, dtype=torch.long),
        node_site=torch.as_tensor(site, dtype=torch.long),
        node_group=torch.as_tensor(label, dtype=torch.long),
        edge_index=torch.as_tensor(np.stack([a, b]), dtype=torch.long),
        edge_site_index=torch.as_tensor(np.stack([recv[parent], send[parent]]), dtype=torch.long),
        edge_cell_shift=torch.as_tensor(shift_int, dtype=torch.long),
        edge_shift=torch.as_tensor(shift_int.astype(float) @ cell, dtype=torch.float64),
        edge_weight_group=torch.as_tensor(w_group, dtype=torch.long),
        n_sites=len(atoms),
        n_groups=len(groups),
        cutoff=float(cutoff),
        policy=policy,
        parent_site_index=torch.as_tensor(
            np.stack([recv[used], send[used]]).reshape(2, -1), dtype=torch.long
        ),
        parent_cell_shift=torch.as_tensor(cell_shift[used].reshape(-1, 3), dtype=torch.long),
        parent_system=torch.zeros(len(used), dtype=torch.long),
        message_parent=torch.as_tensor(msg_key // n_nodes, dtype=torch.long),
        message_sender=torch.as_tensor(msg_key % n_nodes, dtype=torch.long),
        message_weight_group=torch.as_tensor(w_group[first], dtype=torch.long),
        edge_message=torch.as_tensor(edge_msg.reshape(-1), dtype=torch.long),
    )


def padded_weights(lam: torch.Tensor) -> torch.Tensor:
    """The padded weight vector (1, λ_1, …, λ_G), shape (G + 1,), same dtype and device as ``lam``."""
    lam = torch.as_tensor(lam)
    return torch.cat([torch.ones(1, dtype=lam.dtype, device=lam.device), lam.reshape(-1)])


def node_weights(graph: AlchemicalGraph, lam: torch.Tensor) -> torch.Tensor:
    """Node weights w_a (1 for fixed atoms, λ_g for copies), shape (n_nodes,).

    A gather of (1, λ), so autograd reaches λ.

    Args:
        graph: the alchemical graph.
        lam: weights, shape (n_groups,).
    """
    return padded_weights(lam)[graph.node_group]


def edge_weights(graph: AlchemicalGraph, lam: torch.Tensor) -> torch.Tensor:
    """Edge weights ω_ab, shape (n_edges,); a gather of (1, λ).

    Args:
        graph: the alchemical graph.
        lam: weights, shape (n_groups,).
    """
    return padded_weights(lam)[graph.edge_weight_group]


def edge_vectors(graph: AlchemicalGraph, positions: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """Edge vectors r_sender − r_receiver + S·h from the original positions, shape (n_edges, 3), Å.

    Computed from the integer shifts and ``cell``, so gradients reach both positions and cell (strain).

    Args:
        graph: the alchemical graph.
        positions: original atom positions, shape (n_sites, 3), Å.
        cell: lattice vectors as rows, shape (3, 3), Å; for a batched graph shape (n_systems, 3, 3).
    """
    recv, send = graph.edge_site_index[0], graph.edge_site_index[1]
    shift_int = graph.edge_cell_shift.to(positions.dtype)
    if cell.dim() == 3:
        edge_cell = cell[graph.node_system[graph.edge_index[0]]]
        shift = torch.einsum("ei,eij->ej", shift_int, edge_cell)
    else:
        shift = shift_int @ cell
    return positions[send] - positions[recv] + shift


def parent_vectors(graph: AlchemicalGraph, positions: torch.Tensor, cell: torch.Tensor) -> torch.Tensor:
    """Vectors of the parent (original) edges, shape (n_parents, 3), Å; arguments as in :func:`edge_vectors`."""
    recv, send = graph.parent_site_index[0], graph.parent_site_index[1]
    shift_int = graph.parent_cell_shift.to(positions.dtype)
    if cell.dim() == 3:
        shift = torch.einsum("ei,eij->ej", shift_int, cell[graph.parent_system])
    else:
        shift = shift_int @ cell
    return positions[send] - positions[recv] + shift


def message_weights(graph: AlchemicalGraph, lam: torch.Tensor) -> torch.Tensor:
    """ω of each distinct message, shape (n_messages,); a gather of (1, λ)."""
    return padded_weights(lam)[graph.message_weight_group]


def node_positions(graph: AlchemicalGraph, positions: torch.Tensor) -> torch.Tensor:
    """Copy positions as a gather of the original positions, shape (n_nodes, 3), Å."""
    return positions[graph.node_site]


def batch_graphs(graphs: list[AlchemicalGraph]) -> AlchemicalGraph:
    """Disjoint union of graphs (e.g. one structure at many compositions) as one batched graph.

    Site indices are offset by the preceding systems' ``n_sites`` and group labels by their
    ``n_groups``, so the batched weights are the concatenation of the systems' λ vectors and the positions the
    concatenation of their positions. ``node_system`` tells which system a node belongs to.
    """
    if not graphs:
        raise InputError("batch_graphs needs at least one graph")
    node_off = site_off = group_off = 0
    parts: dict[str, list[torch.Tensor]] = {
        k: []
        for k in (
            "node_species",
            "node_site",
            "node_group",
            "edge_index",
            "edge_site_index",
            "edge_cell_shift",
            "edge_shift",
            "edge_weight_group",
            "node_system",
            "parent_site_index",
            "parent_cell_shift",
            "parent_system",
            "message_parent",
            "message_sender",
            "message_weight_group",
            "edge_message",
        )
    }
    parent_off = msg_off = 0
    for s, g in enumerate(graphs):
        parts["node_species"].append(g.node_species)
        parts["node_site"].append(g.node_site + site_off)
        parts["node_group"].append(torch.where(g.node_group > 0, g.node_group + group_off, 0))
        parts["edge_index"].append(g.edge_index + node_off)
        parts["edge_site_index"].append(g.edge_site_index + site_off)
        parts["edge_cell_shift"].append(g.edge_cell_shift)
        parts["edge_shift"].append(g.edge_shift)
        parts["edge_weight_group"].append(
            torch.where(g.edge_weight_group > 0, g.edge_weight_group + group_off, 0)
        )
        parts["node_system"].append(torch.full_like(g.node_site, s))
        parts["parent_site_index"].append(g.parent_site_index + site_off)
        parts["parent_cell_shift"].append(g.parent_cell_shift)
        parts["parent_system"].append(torch.full_like(g.parent_system, s))
        parts["message_parent"].append(g.message_parent + parent_off)
        parts["message_sender"].append(g.message_sender + node_off)
        parts["message_weight_group"].append(
            torch.where(g.message_weight_group > 0, g.message_weight_group + group_off, 0)
        )
        parts["edge_message"].append(g.edge_message + msg_off)
        parent_off += int(g.parent_system.shape[0])
        msg_off += int(g.message_parent.shape[0])
        node_off += g.n_nodes
        site_off += g.n_sites
        group_off += g.n_groups
    two_row = ("edge_index", "edge_site_index", "parent_site_index")
    cat = {k: torch.cat(v, dim=1 if k in two_row else 0) for k, v in parts.items()}
    return AlchemicalGraph(
        n_sites=site_off,
        n_groups=group_off,
        cutoff=graphs[0].cutoff,
        policy=graphs[0].policy,
        n_systems=len(graphs),
        **cat,
    )
