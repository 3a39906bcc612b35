"""Checks shared by the readers of thermograd's HDF5 files."""

from __future__ import annotations

import numpy as np

from ..errors import StoreError

__all__ = ["check_finite_hdf5"]


def check_finite_hdf5(f, path, skip: tuple[str, ...] = (), remedy: str = "") -> None:
    """Raise :class:`StoreError` naming the first floating-point dataset of the open HDF5 file ``f`` that
    holds NaN or inf (a corrupt file, which would otherwise surface as a ``nan`` result); groups whose name is
    in ``skip`` are not read; ``remedy`` is appended to the message."""
    import h5py

    def visit(group) -> None:
        for key, obj in group.items():
            if isinstance(obj, h5py.Group):
                if key not in skip:
                    visit(obj)
            elif obj.dtype.kind in "fc":
                data = obj[()]
                bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
                if bad:
                    raise StoreError(
                        f"{path}: dataset {obj.name} holds {bad} non-finite value(s) (NaN/inf); "
                        f"the file is corrupt{'; ' + remedy if remedy else ''}"
                    )

    visit(f)
