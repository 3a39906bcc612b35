"""Thermodynamic integration: absolute free energies of crystals for any LAMMPS pair style (or a native
analytic model), with honest error bars.

* :func:`run_lambda_ti` — harmonic (model Hessian) → model equilibrium λ-TI: F = E_0 + F_h + F_anh.
* :func:`run_frenkel_ladd` — Einstein crystal → model nonequilibrium switching (Freitas et al. 2016).
* :func:`run_reversible_scaling` — F(T) over a temperature range anchored at one F(T0).
* Systems: :class:`~thermograd.ti.lammps_md.LammpsSystem` (LAMMPS) and
  :class:`~thermograd.ti.native.NativeSystem` (NumPy BAOAB Langevin on analytic models).
* Conventions (``"cell"``, ``"ddos"``, ``"calphy"``) are defined in :mod:`thermograd.ti.results`.
"""

from .frenkel_ladd import run_frenkel_ladd
from .lambda_ti import run_lambda_ti
from .results import FrenkelLaddResult, LambdaTIResult, ReversibleScalingResult
from .reversible_scaling import run_reversible_scaling

__all__ = [
    "FrenkelLaddResult",
    "LambdaTIResult",
    "ReversibleScalingResult",
    "run_frenkel_ladd",
    "run_lambda_ti",
    "run_reversible_scaling",
]
