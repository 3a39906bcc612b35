"""D-DOS input files, checked before use: a thermograd campaign (missing, foreign, damaged, newer, unfinished
or non-finite files are one line naming the file and what is wrong) and DescriptorDOS shell data."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError, StoreError
from ..io.store import CAMPAIGN, HDF5_SIGNATURE, check_finite, open_file

__all__ = ["check_campaign", "load_campaign", "load_campaign_datasets", "unfinished_parts"]


def unfinished_parts(path) -> list[str]:
    """What a thermograd campaign file still lacks: references not set up and shells without a finished
    sketch, as short descriptions (``[]`` for a complete campaign). The plan (phases, strains, shells) is read
    from the configuration stored in the file; parts that exist but are not marked complete count too."""
    with open_file(path, CAMPAIGN) as f:
        return _unfinished(f)


def _unfinished(f) -> list[str]:
    """:func:`unfinished_parts` of an open campaign file."""
    import json

    missing: list[str] = []
    plan = {}
    cfg = f.get("config")
    if cfg is not None and "canonical_json" in cfg.attrs:
        try:
            plan = json.loads(cfg.attrs["canonical_json"])
        except (TypeError, ValueError):
            plan = {}
    phases = [p.get("name") for p in plan.get("phases", []) if isinstance(p, dict)]
    n_strains = len(plan.get("strains") or [0.0])
    shells = plan.get("shells")
    n_shells = len(shells) if isinstance(shells, list) else None
    stored = f.get("phases")
    names = list(phases) or (list(stored) if stored is not None else [])
    for phase in names:
        pg = stored.get(phase) if stored is not None else None
        strain_keys = [f"strain_{k:02d}" for k in range(n_strains)] if phases else sorted(pg or [])
        for sk in strain_keys:
            label = phase if n_strains == 1 else f"{phase}/{sk}"
            g = pg.get(sk) if pg is not None else None
            if g is None or not g.attrs.get("complete", False):
                missing.append(f"reference {label} (not set up)")
                continue
            sg = g.get("shells")
            keys = [f"{k:03d}" for k in range(n_shells)] if n_shells else sorted(sg or [])
            todo = []
            for key in keys:
                s = sg.get(key) if sg is not None else None
                sketch = s.get("sketch") if s is not None else None
                if sketch is None or not sketch.attrs.get("complete", False):
                    todo.append(str(int(key)))
            if todo:
                missing.append(f"shell(s) {','.join(todo)} of {label}")
    return missing


def load_campaign_datasets(path, *, require_complete: bool = True) -> list:
    """Data sets of a thermograd campaign file, checked by :func:`check_campaign` before use."""
    check_campaign(path, require_complete=require_complete)
    from .sampling.campaign import load_datasets

    return list(load_datasets(path, require_complete=require_complete))


def check_campaign(path, *, require_complete: bool = True) -> None:
    """Check a thermograd campaign file before use (reads every stored array except the chunks).

    Raises:
        InputError: the file is missing.
        StoreError: not HDF5, damaged, not a campaign (another thermograd file is named), a newer version
            (:func:`thermograd.io.store.open_file`); (``require_complete``) unfinished references or shells,
            named; NaN/inf in any stored array (the dataset is named).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"campaign file not found: {path}")
    with open_file(path, CAMPAIGN) as f:  # not HDF5, damaged, another format or a newer version: one line
        todo = _unfinished(f) if require_complete else []
        if todo:
            shown = "; ".join(todo[:4]) + (f"; … ({len(todo)} parts)" if len(todo) > 4 else "")
            raise StoreError(
                f"{path}: unfinished campaign: {shown} not finished; "
                "rerun 'thermograd sample' with its run file to complete it"
            )
        check_finite(f, path, skip=("chunks",))


def load_campaign(path, phase: str | None = None) -> list:
    """Phase data sets from a campaign: thermograd HDF5 campaign file, DescriptorDOS ``.npz`` or pickle.

    Args:
        path: input file. A ``.h5``/``.hdf5`` name or the HDF5 signature selects the campaign reader (the
            campaign must be complete), ``.npz`` the DescriptorDOS arrays, anything else the restricted
            DescriptorDOS pickle reader.
        phase: keep only data sets whose name equals (or starts with ``phase@``) this label.

    Data sets of one phase at several strains (or volumes) are labelled ``phase@strain`` (``phase@V``).

    Raises:
        InputError, StoreError: one line naming the file and what is wrong (see the readers).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"campaign file not found: {path}")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head == HDF5_SIGNATURE or path.suffix.lower() in (".h5", ".hdf5"):
        datasets = load_campaign_datasets(path)
        names = [d.name for d in datasets]
        for d in datasets:  # one data set per phase × strain: make the labels unique
            if names.count(d.name) > 1:
                d.name = f"{d.name}@{d.strain:g}"
    else:
        from .importers import load_descriptordos

        datasets = load_descriptordos(path)
    if phase is not None:
        names = [d.name for d in datasets]
        datasets = [d for d in datasets if d.name == phase or d.name.startswith(f"{phase}@")]
        if not datasets:
            raise InputError(f"{path}: no phase {phase!r}; available: {', '.join(names)}")
    if not datasets:
        raise InputError(f"{path}: no phase data sets")
    return datasets
