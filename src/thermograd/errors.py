"""Project exceptions. Every error a user can trigger derives from :class:`ThermogradError`;
the CLI prints its message on one line and exits with a non-zero code."""

from __future__ import annotations


class ThermogradError(Exception):
    """Base class for errors caused by user input or environment, reported without traceback."""


class ConfigError(ThermogradError, ValueError):
    """A run file (YAML) or option is malformed."""


class InputError(ThermogradError, ValueError):
    """A function argument or input file has the wrong shape, type or value."""


class UnstableStructureError(ThermogradError):
    """A reference structure is not a local minimum (negative Hessian eigenvalues) or melted in MD."""


class EngineError(ThermogradError):
    """The simulation engine (LAMMPS, torch model) rejected a command or is unavailable."""


class StoreError(ThermogradError):
    """An output/campaign/model file is corrupt, foreign, of another version, or would be overwritten."""
