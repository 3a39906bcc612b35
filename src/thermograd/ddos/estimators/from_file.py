"""The estimator a file serves: a model file (``thermograd fit``) gives the score model, a campaign file with
raw samples (``thermograd sample``) the cumulant closure with the exact α integral, plus MBAR on the shells of
any tilt files (``thermograd tilt``). Options that do not apply to the file are refused, never ignored."""

from __future__ import annotations

from ...errors import InputError

__all__ = ["open_estimator", "open_volume_estimators"]


def _label(ds) -> str:
    return f"{ds.name}@{ds.strain:g}"


def _strain_index(ds) -> int | None:
    """The campaign's strain index of a data set (its group ``/phases/<phase>/strain_<i>``), if recorded."""
    group = str((ds.provenance or {}).get("group", ""))
    tail = group.rsplit("/", 1)[-1]
    return int(tail[len("strain_") :]) if tail.startswith("strain_") and tail[7:].isdigit() else None


def _phase_sets(path, phase: str | None) -> list:
    """The data sets of one phase of a campaign file, at every strain, sorted by volume. ``phase`` is a phase
    label (all its strains) or ``label@strain`` (one); None: the only phase of the file."""
    from ..inputs import load_campaign_datasets

    datasets = load_campaign_datasets(path, require_complete=True)
    names = sorted({d.name for d in datasets})
    if phase is not None and "@" in phase:
        found = [d for d in datasets if _label(d) == phase]
        if not found:
            labels = ", ".join(_label(d) for d in datasets)
            raise InputError(f"{path}: no data set {phase!r}; the campaign has {labels}")
        return found
    chosen = phase or (names[0] if len(names) == 1 else None)
    found = [d for d in datasets if d.name == chosen]
    if not found:
        raise InputError(f"{path}: choose a phase with --phase (the campaign has {', '.join(names)})")
    return sorted(found, key=lambda d: d.volume_per_atom)


def _tilts_for(datasets, tilted) -> list[dict]:
    """Each tilt file's shells, attached to the data set (strain) it was sampled on."""
    from ..sampling.tilt_campaign import load_tilted, tilt_strain_index

    out: list[dict] = [{} for _ in datasets]
    for t in tilted:
        idx = tilt_strain_index(t)
        where = [k for k, d in enumerate(datasets) if idx is None or _strain_index(d) in (None, idx)]
        if len(where) != 1:
            have = ", ".join(_label(d) for d in datasets)
            raise InputError(
                f"{t}: a tilt file of strain index {idx}, which is not one of the data sets used ({have})"
            )
        out[where[0]].update(load_tilted(t, datasets[where[0]]))
    return out


def open_volume_estimators(
    path, *, phase: str | None = None, tilted=(), method: str | None = None, model_error=True
):
    """One campaign-route estimator per strain of a phase (sorted by volume; each carries
    ``volume_per_atom``), for :func:`thermograd.thermo.eos.gibbs_free_energy` and the pressure routes.

    Args:
        path: a campaign file (a model file serves one cell only and is refused).
        phase: the phase label (default: the only one). tilted: tilt files, each attached to its own strain.
        method: "gamma" (default) or "reweight". model_error: as in :func:`open_estimator`.

    Raises:
        InputError / StoreError: a model file, a missing phase, a tilt file of a strain not in the campaign.
    """
    from ...outputs import hdf5_format
    from .cumulant import METHODS, CumulantEstimator

    if hdf5_format(path) != "thermograd-campaign":
        raise InputError(
            f"{path} is not a campaign file: free energies at a pressure need a campaign sampled at several strains"
        )
    if method is not None and method not in METHODS:
        raise InputError(
            f"{path} is a campaign file: its route takes --method {' or '.join(METHODS)}, not {method!r}"
        )
    if phase is not None and "@" in phase:
        raise InputError(
            f"{path}: at a pressure every strain of a phase is used; give the phase label, not {phase!r}"
        )
    datasets = _phase_sets(path, phase)
    tilts = _tilts_for(datasets, list(tilted))
    return [
        CumulantEstimator(ds, tilted=tl, method=method or "gamma", model_error=model_error)
        for ds, tl in zip(datasets, tilts)
    ]


def open_estimator(path, *, phase: str | None = None, tilted=(), method: str | None = None, model_error=True):
    """A :class:`~thermograd.free_energy.FreeEnergyEstimator` for ``path``.

    Args:
        path: model or campaign file.
        phase: campaign: the phase label (default: the only one), or ``label@strain`` for one strain of a
            campaign sampled at several (required there: one cell is one free energy); model: must match the
            model's phase.
        tilted: tilt files (campaign files only).
        method: model: "fast" (default), "table" or "exact"; campaign: "gamma" (default) or "reweight".
        model_error: include the estimator's model-error term in σ.

    Raises:
        InputError / StoreError: not a model or campaign file, an option that does not apply to it, a phase
            that is not there, a phase with several strains and none chosen.
    """
    from ...outputs import hdf5_format

    tilted = list(tilted)
    if hdf5_format(path) == "thermograd-campaign":
        from .cumulant import METHODS, CumulantEstimator

        if method is not None and method not in METHODS:
            raise InputError(
                f"{path} is a campaign file: its route takes --method {' or '.join(METHODS)}, not {method!r}"
            )
        found = _phase_sets(path, phase)
        if len(found) > 1:
            labels = ", ".join(_label(d) for d in found)
            raise InputError(
                f"{path}: phase {found[0].name!r} was sampled at {len(found)} strains ({labels}); choose one "
                "with its label, or use the pressure route (--pressure), which fits F over all of them"
            )
        tilts = _tilts_for(found, tilted)[0]
        return CumulantEstimator(found[0], tilted=tilts, method=method or "gamma", model_error=model_error)
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
