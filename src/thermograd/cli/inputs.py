"""Command-line argument parsing shared by the D-DOS commands (temperature ranges). Files are read by the
library (coefficients: :class:`thermograd.ddos.Coefficients`; campaigns: :mod:`thermograd.ddos.inputs`)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


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
