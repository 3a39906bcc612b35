"""Alchemical MLIPs: composition and vacancies as continuous, differentiable variables.

Nodes per (site, candidate species) with weights λ; energies, forces, stress and ∂E/∂λ from one autograd pass
(Nam, Peng, Gómez-Bombarelli, Nat. Commun. 16 (2025)). Backends: SevenNet-0 (:mod:`.sevennet`, default) and
MACE (:mod:`.mace`). Imports are lazy: ``import thermograd.alchemy`` loads nothing heavy; torch and ASE
come with the first name used, a backend (``sevenn``, ``mace``) with its first model.
"""

from __future__ import annotations

import importlib

#: public name -> submodule; imported on first access, so that ``thermograd.alchemy.config`` (the run-file
#: model, used by the CLI to check a run file) does not pull torch in
_EXPORTS = {
    "AlchemicalCalculator": "calculator",
    "evaluate_compositions": "calculator",
    "AlchemicalResult": "derivatives",
    "evaluate": "derivatives",
    "pressure": "derivatives",
    "stress_lambda_jacobian": "derivatives",
    "AlchemicalGraph": "graph",
    "batch_graphs": "graph",
    "build_graph": "graph",
    "edge_vectors": "graph",
    "edge_weights": "graph",
    "node_weights": "graph",
    "OptimizationResult": "optimize",
    "exponentiated_step": "optimize",
    "optimize_composition": "optimize",
    "project_simplex": "optimize",
    "projected_step": "optimize",
    "load_sevennet": "sevennet",
    "AlchemicalGroup": "system",
    "AlchemicalSystem": "system",
    "substitution": "system",
    "vacancy": "system",
    "LambdaIntegration": "workflows",
    "LatticeScan": "workflows",
    "lambda_integration_0k": "workflows",
    "lattice_vs_composition": "workflows",
    "match_lattice": "workflows",
    "plot_series": "workflows",
    "plot_vegard": "workflows",
    "relax": "workflows",
    "stress_loss_fn": "workflows",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


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
    "plot_series",
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
