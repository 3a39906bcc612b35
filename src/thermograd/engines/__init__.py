"""Simulation engines: LAMMPS sessions (energy, forces, Hessians, MD access), potentials and descriptors.

Importing this package does not load LAMMPS; the shared library (and the venv's MPI) is loaded on the first
:class:`LammpsSession` or :class:`DescriptorCalculator`.
"""

from .descriptors import ComputeDescriptor, DescriptorCalculator, SnapDescriptor, snap_linear_parameters
from .lammps import HESSIAN_DELTA, LammpsSession
from .potentials import Potential, find_potential_file, potential_search_dirs

__all__ = [
    "HESSIAN_DELTA",
    "ComputeDescriptor",
    "DescriptorCalculator",
    "LammpsSession",
    "Potential",
    "SnapDescriptor",
    "find_potential_file",
    "potential_search_dirs",
    "snap_linear_parameters",
]
