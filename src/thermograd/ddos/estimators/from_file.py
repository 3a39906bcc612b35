"""The estimator a file serves: a model file (``thermograd fit``) gives the score model, a campaign file with
raw samples (``thermograd sample``) the cumulant closure with the exact α integral, plus MBAR on the shells of
any tilt files (``thermograd tilt``). Options that do not apply to the file are refused, never ignored."""

from __future__ import annotations

from ...errors import InputError

__all__ = ["open_estimator"]


def open_estimator(path, *, phase: str | None = None, tilted=(), method: str | None = None, model_error=True):
    """A :class:`~thermograd.free_energy.FreeEnergyEstimator` for ``path``.

    Args:
        path: model or campaign file.
        phase: campaign: the phase label (default: the only one); model: must match the model's phase.
        tilted: tilt files (campaign files only).
        method: model: "fast" (default), "table" or "exact"; campaign: "gamma" (default) or "reweight".
        model_error: include the estimator's model-error term in σ.

    Raises:
        InputError / StoreError: not a model or campaign file, an option that does not apply to it, a phase
            that is not there.
    """
    from ...outputs import hdf5_format

    tilted = list(tilted)
    if hdf5_format(path) == "thermograd-campaign":
        from ..inputs import load_campaign_datasets
        from ..sampling.tilt_campaign import load_tilted
        from .cumulant import METHODS, CumulantEstimator

        if method is not None and method not in METHODS:
            raise InputError(
                f"{path} is a campaign file: its route takes --method {' or '.join(METHODS)}, not {method!r}"
            )
        datasets = load_campaign_datasets(path, require_complete=True)
        names = sorted({d.name for d in datasets})
        chosen = phase or (names[0] if len(names) == 1 else None)
        found = [d for d in datasets if d.name == chosen]
        if not found:
            raise InputError(f"{path}: choose a phase with --phase (the campaign has {', '.join(names)})")
        ds = found[0]
        tilts: dict = {}
        for t in tilted:
            tilts.update(load_tilted(t, ds))
        return CumulantEstimator(ds, tilted=tilts, method=method or "gamma", model_error=model_error)
    from ..importers import load_model  # checks the file before torch is imported

    model = load_model(path)
    if tilted:
        raise InputError(
            f"{path} is a model file; tilt files ({', '.join(map(str, tilted))}) serve the campaign route: "
            "give the campaign file instead"
        )
    if phase is not None and phase != model.name:
        raise InputError(f"{path} is a model of phase {model.name!r}, not {phase!r}")
    return model.estimator(method or "fast", model_error=model_error)
