"""Phase thermodynamics from D-DOS models: transition temperatures, their inverse design, volumes and pressure."""

from .eos import GibbsResult, PressureTransition, gibbs_free_energy, transition_at_pressure
from .transition import TransitionResult, transition_temperature
from .tune import TuneResult, tune_transition

__all__ = [
    "GibbsResult",
    "PressureTransition",
    "TransitionResult",
    "TuneResult",
    "gibbs_free_energy",
    "transition_at_pressure",
    "transition_temperature",
    "tune_transition",
]
