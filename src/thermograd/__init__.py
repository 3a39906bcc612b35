"""thermograd: differentiable finite-temperature free energies of atomic systems.

Three capabilities on one engine layer:

* D-DOS (descriptor density of states; Swinburne, Lapointe, Marinica, Nat. Commun. 17, 248 (2026)):
  harmonic-shell sampling campaigns, then F(θ, T) ± σ and ∂F/∂θ for any descriptor-linear potential.
* Alchemical MLIPs (Nam, Peng, Gómez-Bombarelli, Nat. Commun. 16 (2025)): composition as a continuous,
  differentiable variable in SevenNet-0 and MACE.
* Thermodynamic integration (λ-TI, Frenkel–Ladd, reversible scaling) as ground truth.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import (
    ConfigError,
    EngineError,
    InputError,
    StoreError,
    ThermogradError,
    UnstableStructureError,
)

__all__ = [
    "ConfigError",
    "EngineError",
    "InputError",
    "StoreError",
    "ThermogradError",
    "UnstableStructureError",
    "__version__",
]
