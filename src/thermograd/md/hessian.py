"""Force constants of any batched :class:`~thermograd.md.hamiltonians.Potential` by central differences.

The 6N displaced structures (±d along each Cartesian coordinate) are evaluated as replicas of one batch
(``batch`` at a time), so an MLIP or a LAMMPS potential gives its Hessian through the same interface the
engine drives. Truncation error is O(d²·∂⁴U); for a crystal at a minimum, d = 5e-3 Å changes ln ω by far less
than 1e-4 on every model we ship, while float32 models keep a force signal well above their round-off.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from .hamiltonians import DTYPE, Potential


def force_constants(
    potential: Potential, positions, cell, *, displacement: float = 5e-3, batch: int = 16
) -> np.ndarray:
    """Hessian ∂²U/∂x∂x of ``potential`` at ``positions``, eV/Å², shape (3N, 3N), symmetrised.

    Args:
        potential: a batched potential on the N-atom structure.
        positions: shape (N, 3), Å. cell: lattice vectors as rows, shape (3, 3), Å.
        displacement: finite-difference step d, Å.
        batch: displaced structures per evaluation.
    """
    x0 = torch.as_tensor(np.asarray(positions, dtype=float), dtype=DTYPE)
    n = int(potential.n_atoms)
    if x0.shape != (n, 3):
        raise InputError(f"positions must have shape ({n}, 3), got {tuple(x0.shape)}")
    if not displacement > 0 or batch < 1:
        raise InputError("displacement must be > 0 Å and batch >= 1")
    h = torch.as_tensor(np.asarray(cell, dtype=float), dtype=DTYPE)
    steps = torch.zeros((6 * n, n, 3), dtype=DTYPE)
    for j in range(3 * n):  # rows 2j, 2j + 1: +d and −d along coordinate j
        steps[2 * j].view(-1)[j] = displacement
        steps[2 * j + 1].view(-1)[j] = -displacement
    forces = []
    for lo in range(0, 6 * n, batch):
        x = x0[None] + steps[lo : lo + batch]
        _, f, _ = potential.evaluate(x, h[None].expand(x.shape[0], 3, 3).clone())
        forces.append(f.reshape(x.shape[0], 3 * n).to(DTYPE))
    f = torch.cat(forces).numpy()
    hess = -(f[0::2] - f[1::2]).T / (2.0 * displacement)  # column j: −∂F/∂x_j
    return 0.5 * (hess + hess.T)
