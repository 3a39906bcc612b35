"""Thermodynamic integration: absolute free energies of crystals for any LAMMPS pair style (or a native
analytic model), with honest error bars.

* :func:`run_lambda_ti` — harmonic (model Hessian) → model equilibrium λ-TI: F = E_0 + F_h + F_anh.
* :func:`run_frenkel_ladd` — Einstein crystal → model nonequilibrium switching (Freitas et al. 2016).
* :func:`run_reversible_scaling` — F(T) over a temperature range anchored at one F(T0).
* Systems: anything implementing :class:`~thermograd.ti.system.TISystem` (the drivers' only contract with an
  engine; per-step records are :class:`~thermograd.ti.system.Trace`):
  :class:`~thermograd.ti.lammps_md.LammpsSystem` (LAMMPS) and :class:`~thermograd.ti.native.NativeSystem`
  (NumPy BAOAB Langevin on analytic models).
* Conventions (``"cell"``, ``"ddos"``, ``"calphy"``) are defined in :mod:`thermograd.ti.results`.
"""

from __future__ import annotations

import importlib

#: public name -> defining submodule (imported on first use, so that ``thermograd ti`` checks its run file
#: and outputs before NumPy and the engines are loaded)
_EXPORTS = {
    "FrenkelLaddResult": "results",
    "LambdaTIResult": "results",
    "NPTSystem": "system",
    "ReversibleScalingResult": "results",
    "TISystem": "system",
    "Trace": "system",
    "run_frenkel_ladd": "frenkel_ladd",
    "run_lambda_ti": "lambda_ti",
    "run_reversible_scaling": "reversible_scaling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
