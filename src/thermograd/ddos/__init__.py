"""D-DOS: descriptor density of states (Swinburne, Lapointe, Marinica, Nat. Commun. 17, 248 (2026)).

Layers:

* :mod:`.sampling` — campaigns: plan, seeded chunk tasks, uniform and tilted harmonic-energy shells,
  mergeable sketches, the resumable campaign store.
* :mod:`.dataset` — one phase at one cell in memory (the contract between sampling and estimation).
* :mod:`.estimators` — every route to F(θ, T) ± σ and ∂F/∂θ behind one protocol
  (:mod:`thermograd.free_energy`): the score model, shell reweighting, the cumulant closure with MBAR on tilted
  shells.
* :mod:`.phase` — the front door: :class:`Phase` (campaign → model → F, transition, tune).

The names below are imported lazily, so ``import thermograd.ddos`` stays cheap (torch loads on first use).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Phase": ".phase",
    "Coefficients": "..free_energy",
    "FreeEnergyResult": "..free_energy",
    "FreeEnergyEstimator": "..free_energy",
    "open_estimator": ".estimators.from_file",
    "DDOSModel": ".estimators.model",
    "CumulantEstimator": ".estimators.cumulant",
    "ReweightingEstimator": ".estimators.reweighting",
    "PhaseDataset": ".dataset",
    "run_campaign": ".sampling.campaign",
    "run_campaign_file": ".sampling.campaign",
    "load_datasets": ".sampling.campaign",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
