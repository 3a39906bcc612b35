"""Energy, forces, stress and ∂E/∂λ of an alchemical model by one autograd pass; ∂σ/∂λ by double backprop.

The strain trick: a symmetric displacement gradient ε is applied to positions and cell, r' = r(1 + ε),
h' = h(1 + ε), so σ = (1/V) ∂E/∂ε (ASE sign convention, eV/Å³). Because copy positions are a gather of the
original positions, F_i = −∂E/∂r_i already sums over the copies of site i, and ∂E/∂λ_g collects the node and
edge weights that gather λ_g (Nam et al., Nat. Commun. 16 (2025), §Methods).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from ..errors import InputError
from .graph import AlchemicalGraph


@runtime_checkable
class AlchemicalBackend(Protocol):
    """What a backend provides. ``node_energies`` returns the weighted per-node energies w_a ε_a,
    shape (n_nodes,), eV; ``energy`` is their sum. Every per-edge filter weight is multiplied by ω_ab."""

    cutoff: float
    dtype: torch.dtype

    def energy(
        self, graph: AlchemicalGraph, positions: torch.Tensor, cell: torch.Tensor, lam: torch.Tensor
    ) -> torch.Tensor: ...

    def supported_numbers(self) -> frozenset[int]: ...


def check_species(numbers, known, model: str) -> None:
    """Raise a one-line :class:`InputError` naming every atomic number in ``numbers`` that is not in
    ``known``, e.g. "species Li unknown to SevenNet (89 elements supported)" for ``model`` "SevenNet (...)"."""
    bad = sorted({int(z) for z in numbers} - {int(z) for z in known})
    if bad:
        from ase.data import chemical_symbols

        names = [chemical_symbols[z] if 0 < z < len(chemical_symbols) else str(z) for z in bad]
        raise InputError(f"species {', '.join(names)} unknown to {model}")


@dataclass
class AlchemicalResult:
    """Outputs of one evaluation (torch tensors; detached unless ``create_graph=True``).

    Attributes:
        energy: total energy, shape () or (n_systems,) for a batched graph, eV.
        forces: forces on the original atoms, shape (n_sites, 3), eV/Å.
        stress: stress σ = (1/V) ∂E/∂ε, shape (3, 3) or (n_systems, 3, 3), eV/Å³ (ASE sign: σ = −P·1 under
            hydrostatic pressure P).
        dE_dlam: alchemical gradient ∂E/∂λ, shape (n_groups,), eV.
    """

    energy: torch.Tensor
    forces: torch.Tensor | None
    stress: torch.Tensor | None
    dE_dlam: torch.Tensor | None


def _site_system(graph: AlchemicalGraph) -> torch.Tensor:
    out = torch.zeros(graph.n_sites, dtype=torch.long, device=graph.node_site.device)
    out[graph.node_site] = graph.node_system
    return out


def _energies(backend, graph, positions, cell, lam) -> torch.Tensor:
    if graph.n_systems == 1:
        return backend.energy(graph, positions, cell, lam).reshape(())
    if not hasattr(backend, "node_energies"):
        raise InputError(f"{type(backend).__name__} has no node_energies(); batched graphs need it")
    e_node = backend.node_energies(graph, positions, cell, lam)
    out = torch.zeros(graph.n_systems, dtype=e_node.dtype, device=e_node.device)
    return out.index_add(0, graph.node_system, e_node)


def evaluate(
    backend,
    graph: AlchemicalGraph,
    positions,
    cell,
    lam,
    *,
    forces: bool = True,
    stress: bool = True,
    alchemical: bool = True,
    create_graph: bool = False,
) -> AlchemicalResult:
    """Energy and the requested derivatives by one backward pass.

    Args:
        backend: an :class:`AlchemicalBackend`.
        graph: graph built for these positions and cell (rebuild it after any geometry change).
        positions: original positions, shape (n_sites, 3), Å.
        cell: lattice vectors as rows, shape (3, 3), or (n_systems, 3, 3) for a batched graph, Å.
        lam: weights, shape (n_groups,).
        forces, stress, alchemical: which derivatives to return.
        create_graph: keep the autograd graph of the derivatives (for ∂σ/∂λ, ∂F/∂λ, stress losses); inputs
            that already require grad stay connected.

    Returns:
        :class:`AlchemicalResult`.
    """
    dtype, device = backend.dtype, getattr(backend, "device", torch.device("cpu"))
    pos = torch.as_tensor(positions, dtype=dtype, device=device)
    cell = torch.as_tensor(cell, dtype=dtype, device=device)
    lam = torch.as_tensor(lam, dtype=dtype, device=device)
    if pos.shape != (graph.n_sites, 3):
        raise InputError(f"positions must have shape ({graph.n_sites}, 3), got {tuple(pos.shape)}")
    if lam.shape != (graph.n_groups,):
        raise InputError(f"lam must have shape ({graph.n_groups},), got {tuple(lam.shape)}")
    batched = graph.n_systems > 1
    if batched and cell.dim() == 2:
        cell = cell.expand(graph.n_systems, 3, 3)
    wrt: list[torch.Tensor] = []
    if forces and not pos.requires_grad:
        pos = pos.detach().requires_grad_(True)
    if alchemical and not lam.requires_grad:
        lam = lam.detach().requires_grad_(True)
    if stress:
        eps = torch.zeros(
            (graph.n_systems, 3, 3) if batched else (3, 3), dtype=dtype, device=device, requires_grad=True
        )
        sym = 0.5 * (eps + eps.transpose(-1, -2))
        if batched:
            pos_s = pos + torch.einsum("ni,nij->nj", pos, sym[_site_system(graph)])
            cell_s = cell + torch.bmm(cell, sym)
        else:
            pos_s = pos + pos @ sym
            cell_s = cell + cell @ sym
    else:
        pos_s, cell_s = pos, cell
    energy = _energies(backend, graph, pos_s, cell_s, lam)
    if forces:
        wrt.append(pos)
    if stress:
        wrt.append(eps)
    if alchemical:
        wrt.append(lam)
    grads = (
        list(torch.autograd.grad(energy.sum(), wrt, create_graph=create_graph, allow_unused=True))
        if wrt
        else []
    )
    grads = [torch.zeros_like(w) if g is None else g for g, w in zip(grads, wrt)]
    out_f = out_s = out_l = None
    if forces:
        out_f = -grads.pop(0)
    if stress:
        volume = torch.linalg.det(cell).abs()
        out_s = grads.pop(0) / (volume.view(-1, 1, 1) if batched else volume)
    if alchemical:
        out_l = grads.pop(0)
    if not create_graph:
        energy = energy.detach()
    return AlchemicalResult(energy=energy, forces=out_f, stress=out_s, dE_dlam=out_l)


def stress_lambda_jacobian(
    backend, graph: AlchemicalGraph, positions, cell, lam
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stress and its λ-Jacobian by double backprop.

    Args:
        backend, graph, positions, cell, lam: as in :func:`evaluate` (single system).

    Returns:
        (stress, shape (3, 3), eV/Å³; dstress_dlam, shape (3, 3, n_groups), eV/Å³).
    """
    lam = torch.as_tensor(lam, dtype=backend.dtype).detach().requires_grad_(True)
    res = evaluate(backend, graph, positions, cell, lam, forces=False, alchemical=False, create_graph=True)
    rows = []
    for i in range(3):
        for j in range(3):
            (g,) = torch.autograd.grad(res.stress[i, j], lam, retain_graph=True, allow_unused=True)
            rows.append(torch.zeros_like(lam) if g is None else g)
    jac = torch.stack(rows).reshape(3, 3, -1)
    return res.stress.detach(), jac.detach()


def pressure(stress: torch.Tensor) -> torch.Tensor:
    """Hydrostatic pressure P = −tr σ / 3 (eV/Å³) from a stress of shape (..., 3, 3)."""
    return -torch.diagonal(stress, dim1=-2, dim2=-1).sum(-1) / 3.0
