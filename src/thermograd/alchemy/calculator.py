"""ASE calculator and batched torch API for alchemical models.

:class:`AlchemicalCalculator` behaves like any ASE calculator (energy, forces, stress in eV, eV/Å, eV/Å³) for
the *original* atoms; the weights ``calc.lam`` are a settable attribute and ``results["alchemical_grad"]``
holds ∂E/∂λ (eV). The graph is rebuilt on every geometry change (a stale neighbour list gives wrong energies).
:func:`evaluate_compositions` evaluates one structure at many compositions in one batched graph.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from ..errors import InputError
from .derivatives import check_species, evaluate
from .graph import DEFAULT_POLICY, batch_graphs, build_graph
from .system import AlchemicalSystem, check_lam


def default_backend(dtype: torch.dtype = torch.float64):
    """The default backend: SevenNet-0 from the ``sevenn`` wheel (cached)."""
    from .sevennet import load_sevennet

    return load_sevennet("7net-0", dtype=dtype)


def check_backend_species(backend, system: AlchemicalSystem) -> None:
    """Raise :class:`InputError` if the backend does not know a species of the system (fixed or copy)."""
    numbers = set(int(z) for z in system.atoms.numbers) | {g.z for g in system.groups}
    name = getattr(backend, "name", type(backend).__name__)
    check_species(numbers, backend.supported_numbers(), f"the {name} backend")


class AlchemicalCalculator(Calculator):
    """ASE calculator for an alchemical system.

    Args:
        system: the alchemical system; its groups refer to indices of the atoms the calculator is attached to.
        backend: an alchemical backend (default SevenNet-0, float64).
        policy: edge policy for the graph (``"cross-group"`` default, or ``"paper"``).
        set_masses: write interpolated masses into the atoms at each calculation (for MD and FIRE).

    Attributes:
        lam: current weights, shape (n_groups,); setting validates against the constraints and clears results.
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress", "alchemical_grad")

    def __init__(
        self,
        system: AlchemicalSystem,
        backend=None,
        policy: str = DEFAULT_POLICY,
        set_masses: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.system = system
        self.backend = backend if backend is not None else default_backend()
        check_backend_species(self.backend, system)
        self.policy = policy
        self.set_masses = set_masses
        self.n_graph_builds = 0

    @property
    def lam(self) -> np.ndarray:
        """Weights λ, shape (n_groups,)."""
        return self.system.lam.copy()

    @lam.setter
    def lam(self, value: Sequence[float]) -> None:
        self.system.set_lam(value)
        self.results = {}

    def calculate(self, atoms: Atoms | None = None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        if len(atoms) != len(self.system.atoms):
            raise InputError(
                f"the calculator's alchemical system has {len(self.system.atoms)} sites, "
                f"atoms has {len(atoms)}"
            )
        graph = build_graph(atoms, self.backend.cutoff, self.policy, groups=self.system.groups)
        self.n_graph_builds += 1
        want_stress = "stress" in properties or bool(np.all(atoms.pbc))
        res = evaluate(
            self.backend,
            graph,
            atoms.positions,
            np.asarray(atoms.cell.array),
            self.system.lam,
            forces=True,
            stress=want_stress and bool(np.all(atoms.pbc)),
            alchemical=True,
        )
        e = float(res.energy)
        self.results["energy"] = e
        self.results["free_energy"] = e
        self.results["forces"] = res.forces.detach().cpu().numpy().astype(float)
        if res.stress is not None:
            s = res.stress.detach().cpu().numpy().astype(float)
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
        self.results["alchemical_grad"] = res.dE_dlam.detach().cpu().numpy().astype(float)
        if self.set_masses:
            atoms.set_masses(self.system.masses())

    def get_alchemical_grad(self, atoms: Atoms | None = None) -> np.ndarray:
        """∂E/∂λ, shape (n_groups,), eV."""
        return self.get_property("alchemical_grad", atoms)


def evaluate_compositions(
    system: AlchemicalSystem,
    lams,
    backend=None,
    policy: str = DEFAULT_POLICY,
    positions=None,
    cell=None,
    stress: bool = True,
    create_graph: bool = False,
) -> dict[str, torch.Tensor]:
    """Evaluate one structure at many compositions in one batched graph (torch API).

    Args:
        system: the alchemical system (geometry from ``system.atoms`` unless given).
        lams: weights, shape (n_compositions, n_groups); each row is checked against the constraints unless it
            requires grad.
        backend: alchemical backend (default SevenNet-0, float64).
        policy: edge policy.
        positions: optional positions, shape (n_sites, 3), Å (a tensor keeps its autograd history).
        cell: optional cell, shape (3, 3), Å.
        stress: also return stresses.
        create_graph: keep the autograd graph (differentiate the outputs again, e.g. w.r.t. ``lams``).

    Returns:
        dict with ``energy`` (B,), eV; ``forces`` (B, n_sites, 3), eV/Å; ``stress`` (B, 3, 3), eV/Å³;
        ``dE_dlam`` (B, n_groups), eV.
    """
    backend = backend if backend is not None else default_backend()
    check_backend_species(backend, system)
    lams_t = torch.as_tensor(lams, dtype=backend.dtype)
    if lams_t.dim() != 2 or lams_t.shape[1] != system.n_groups:
        raise InputError(
            f"lams must have shape (n_compositions, {system.n_groups}), got {tuple(lams_t.shape)}"
        )
    if not lams_t.requires_grad:
        for row in lams_t.numpy():
            check_lam(row, system.constraints, system.n_groups)
    n = lams_t.shape[0]
    atoms = system.atoms
    pos = torch.as_tensor(atoms.positions if positions is None else positions, dtype=backend.dtype)
    cel = torch.as_tensor(np.asarray(atoms.cell.array) if cell is None else cell, dtype=backend.dtype)
    graph = batch_graphs([build_graph(system, backend.cutoff, policy)] * n)
    res = evaluate(
        backend,
        graph,
        pos.repeat(n, 1),
        cel.expand(n, 3, 3),
        lams_t.reshape(-1),
        forces=True,
        stress=stress,
        alchemical=True,
        create_graph=create_graph,
    )
    out = {
        "energy": res.energy,
        "forces": res.forces.reshape(n, -1, 3),
        "dE_dlam": res.dE_dlam.reshape(n, -1),
    }
    if res.stress is not None:
        out["stress"] = res.stress
    return out
