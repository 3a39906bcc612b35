"""Alchemical MLIPs: composition and vacancies as continuous, differentiable variables.

Nodes per (site, candidate species) with weights λ; energies, forces, stress and ∂E/∂λ from one autograd pass
(Nam, Peng, Gómez-Bombarelli, Nat. Commun. 16 (2025)). Backends: SevenNet-0 (:mod:`.sevennet`, default) and
MACE (:mod:`.mace`). Backend imports are lazy: ``import thermograd.alchemy`` needs only torch and ASE.
"""

from __future__ import annotations

from .calculator import AlchemicalCalculator, evaluate_compositions
from .derivatives import AlchemicalResult, evaluate, pressure, stress_lambda_jacobian
from .graph import (
    AlchemicalGraph,
    batch_graphs,
    build_graph,
    edge_vectors,
    edge_weights,
    node_weights,
)
from .optimize import (
    OptimizationResult,
    exponentiated_step,
    optimize_composition,
    project_simplex,
    projected_step,
)
from .system import AlchemicalGroup, AlchemicalSystem, substitution, vacancy
from .workflows import (
    LambdaIntegration,
    LatticeScan,
    lambda_integration_0k,
    lattice_vs_composition,
    match_lattice,
    plot_vegard,
    relax,
    stress_loss_fn,
)


def load_sevennet(model: str = "7net-0", dtype=None, device: str = "cpu"):
    """Cached SevenNet backend (imports ``sevenn`` on first use); ``dtype`` defaults to float64."""
    import torch

    from .sevennet import load_sevennet as _load

    return _load(model, dtype=torch.float64 if dtype is None else dtype, device=device)


__all__ = [
    "AlchemicalCalculator",
    "AlchemicalGraph",
    "AlchemicalGroup",
    "AlchemicalResult",
    "AlchemicalSystem",
    "LambdaIntegration",
    "LatticeScan",
    "OptimizationResult",
    "batch_graphs",
    "build_graph",
    "edge_vectors",
    "edge_weights",
    "evaluate",
    "evaluate_compositions",
    "exponentiated_step",
    "lambda_integration_0k",
    "lattice_vs_composition",
    "load_sevennet",
    "match_lattice",
    "node_weights",
    "optimize_composition",
    "plot_vegard",
    "pressure",
    "project_simplex",
    "projected_step",
    "relax",
    "stress_lambda_jacobian",
    "stress_loss_fn",
    "substitution",
    "vacancy",
]
