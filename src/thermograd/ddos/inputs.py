"""Boundary helpers shared by the D-DOS commands: temperature ranges, θ files, campaign dispatch."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def parse_temperatures(spec: str, default_points: int = 41) -> np.ndarray:
    """Parse ``"T0:T1[:n]"`` (n points, inclusive), ``"T0,T1,..."`` or a single value; all > 0 K.

    Returns:
        Temperatures, shape (n_T,), K.
    """
    try:
        if ":" in spec:
            parts = [p for p in spec.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            lo, hi = float(parts[0]), float(parts[1])
            n = int(parts[2]) if len(parts) == 3 else default_points
            if n < 1 or (n > 1 and hi < lo):
                raise ValueError
            T = np.linspace(lo, hi, n) if n > 1 else np.array([lo])
        else:
            T = np.array([float(v) for v in spec.split(",") if v.strip()])
    except ValueError:
        raise InputError(
            f"cannot parse temperatures {spec!r}; use T0:T1[:n] (e.g. 500:2500:41) or a,b,c"
        ) from None
    if T.size == 0 or np.any(~np.isfinite(T)) or np.any(T <= 0):
        raise InputError(f"temperatures must be finite and > 0 K, got {spec!r}")
    return T


def load_theta(path, n_features: int, element: str | None = None):
    """Linear SNAP coefficients θ (constant dropped) from a ``.snapcoeff`` file, checked against d.

    Returns:
        (θ of shape (d,), the :class:`~thermograd.io.snap.SnapCoefficients`, element symbol).
    """
    from ..io.snap import read_snapcoeff

    coeffs = read_snapcoeff(path)
    el = element or coeffs.elements[0]
    theta = coeffs.theta(el)
    if theta.shape[0] != n_features:
        raise InputError(
            f"{path}: θ has {theta.shape[0]} linear coefficients for element {el!r}, "
            f"the model has {n_features} "
            "descriptor components (wrong potential or descriptor settings?)"
        )
    return theta, coeffs, el


def load_campaign(path, phase: str | None = None) -> list:
    """Phase data sets from a campaign: thermograd HDF5 campaign file, DescriptorDOS ``.npz`` or pickle.

    Args:
        path: input file.
        phase: keep only data sets whose name equals (or starts with ``phase@``) this label.

    Data sets of one phase at several strains (or volumes) are labelled ``phase@strain`` (``phase@V``).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"campaign file not found: {path}")
    with path.open("rb") as fh:
        head = fh.read(8)
    if head == HDF5_SIGNATURE:
        try:
            from .campaign import load_datasets
        except ImportError as exc:
            raise InputError(f"{path}: HDF5 campaign files need thermograd.ddos.campaign ({exc})") from None
        datasets = list(load_datasets(path))
        names = [d.name for d in datasets]
        for d in datasets:  # one data set per phase × strain: make the labels unique
            if names.count(d.name) > 1:
                d.name = f"{d.name}@{d.strain:g}"
    else:
        from ..io.descriptordos import load_descriptordos

        datasets = load_descriptordos(path)
    if phase is not None:
        names = [d.name for d in datasets]
        datasets = [d for d in datasets if d.name == phase or d.name.startswith(f"{phase}@")]
        if not datasets:
            raise InputError(f"{path}: no phase {phase!r}; available: {', '.join(names)}")
    if not datasets:
        raise InputError(f"{path}: no phase data sets")
    return datasets
