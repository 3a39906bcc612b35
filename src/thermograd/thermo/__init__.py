"""Phase thermodynamics from D-DOS models: transition temperatures and their inverse design."""

from .transition import TransitionResult, transition_temperature
from .tune import TuneResult, tune_transition

__all__ = ["TransitionResult", "TuneResult", "transition_temperature", "tune_transition"]
