"""Importer for shell data of the DescriptorDOS reference implementation (``.npz`` conversions and pickles).

The reference stores one dict per (strain, shell) job: isosurface value I (T_α = 1000 K · I), the PCA
(cov_eval, cov_evec), histograms of (D − D_mean)@cov_evec (cov_bins, cov_counts), D_0, N, mass, V_0, U_0,
alpha_shift = ln(κ̄/2U_0) and log_det = ⟨ln ν⟩. The ``.npz`` files of ../shared/data/fe-ddos-shells stack
the same keys over shells. Conversion to :class:`~thermograd.ddos.dataset.PhaseDataset`:
α = ln I − alpha_shift, κ̄ = omega_mean (or 2U_0 e^{alpha_shift}), n_modes = 3N − 3.

A pickle can execute code, so pickles are read by :class:`RestrictedUnpickler`, which reconstructs only
NumPy arrays, dtypes and scalars and plain builtin containers; anything else raises :class:`InputError`.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..units import KB

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "bytearray"),
    ("builtins", "complex"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # protocol-2 pickles of array bytes (pure str → bytes)
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that reconstructs only NumPy arrays/dtypes/scalars and builtin containers."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise InputError(
            f"refusing to unpickle {module}.{name}: only NumPy arrays and plain containers are accepted "
            "(a pickle can execute code)"
        )


def restricted_load(data: bytes):
    """Unpickle bytes through :class:`RestrictedUnpickler`; malformed data raises :class:`InputError`."""
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"not a readable DescriptorDOS pickle: {type(exc).__name__}: {exc}") from None


def _records_from_npz(path: Path) -> list[dict]:
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    if "IsoSurface" not in data and "IsoSurfaceMeasured_mean" not in data:
        raise InputError(f"{path}: not DescriptorDOS shell data (no IsoSurface array)")
    iso = data.get("IsoSurfaceMeasured_mean", data.get("IsoSurface"))
    n = int(np.asarray(iso).shape[0])
    records = []
    for i in range(n):
        rec = {}
        for k, v in data.items():
            v = np.asarray(v)
            rec[k] = v[i] if v.ndim >= 1 and v.shape[0] == n and k not in ("D_0", "x_0", "x_ref") else v
        records.append(rec)
    return records


def _get(rec: dict, *keys, path: Path):
    for k in keys:
        if k in rec:
            return rec[k]
    raise InputError(f"{path}: shell record lacks {' / '.join(keys)}")


def _dataset_from_records(records: list[dict], name: str, path: Path):
    from ..ddos.dataset import PhaseDataset, ShellData

    r0 = records[0]
    flavor = str(np.asarray(r0.get("flavor", "Hessian"))).lower()
    if flavor != "hessian":
        raise InputError(
            f"{path}: flavour {flavor!r} is not supported (only Hessian shells have an exact S_0)"
        )
    N = int(_get(r0, "N", path=path))
    U0 = float(_get(r0, "U_0", path=path))
    shift = float(_get(r0, "alpha_shift", path=path))
    kappa_bar = float(r0["omega_mean"]) if "omega_mean" in r0 else 2.0 * U0 * np.exp(shift)
    shells = []
    for r in records:
        iso = float(_get(r, "IsoSurfaceMeasured_mean", "IsoSurface", path=path))
        T_shell = iso * U0 / (1.5 * KB)
        counts = np.asarray(_get(r, "cov_counts", path=path), dtype=float)
        edges = np.asarray(_get(r, "cov_bins", path=path), dtype=float)
        cov = np.asarray(_get(r, "D_var", "cov", path=path), dtype=float)
        shells.append(
            ShellData(
                T_shell=T_shell,
                alpha=float(np.log(iso) - shift),
                n_samples=int(r.get("calls", counts.sum(-1).max())),
                mean=np.asarray(_get(r, "D_mean", "mean", path=path), dtype=float),
                covariance=cov,
                basis=np.asarray(_get(r, "cov_evec", path=path), dtype=float),
                eigenvalues=np.asarray(_get(r, "cov_eval", path=path), dtype=float),
                edges=edges,
                counts=counts,
            )
        )
    V0 = float(_get(r0, "V_0", path=path))
    strain = np.asarray(r0.get("Strain", 0.0)).reshape(-1)
    D0 = np.asarray(_get(r0, "D_0", path=path), dtype=float)
    return PhaseDataset(
        name=name,
        n_atoms=N,
        mass=float(_get(r0, "mass", path=path)),
        volume_per_atom=V0 / N,
        strain=float(strain[0]) if strain.size else 0.0,
        D_0=D0,
        kappa_bar=kappa_bar,
        mean_log_nu=float(_get(r0, "log_det", path=path)),
        n_modes=3 * N - 3,
        shells=shells,
        E0_reference=float(r0["E_0"]) if "E_0" in r0 else None,
        descriptor={"source": "DescriptorDOS shell data", "n_features": int(D0.shape[0])},
        provenance={"source_file": str(path), "format": "DescriptorDOS", "U_0": U0, "alpha_shift": shift},
    )


def load_descriptordos(path, name: str | None = None) -> list:
    """Read DescriptorDOS shell data (``.npz`` or pickle) into one PhaseDataset per cell volume.

    Args:
        path: ``.npz`` (stacked arrays) or a DescriptorDOS pickle (list of per-shell dicts).
        name: phase label (default: file stem; ``stem@V`` when the file holds several volumes).

    Returns:
        list of :class:`~thermograd.ddos.dataset.PhaseDataset`, sorted by volume per atom.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"shell data file not found: {path}")
    if path.suffix == ".npz":
        records = _records_from_npz(path)
    else:
        obj = restricted_load(path.read_bytes())
        if isinstance(obj, dict):
            obj = [obj]
        if not isinstance(obj, list | tuple) or not all(isinstance(r, dict) for r in obj) or not obj:
            raise InputError(f"{path}: expected a list of per-shell dicts (DescriptorDOS format)")
        records = list(obj)
    groups: dict[float, list[dict]] = {}
    for r in records:
        vpa = round(float(_get(r, "V_0", path=path)) / float(_get(r, "N", path=path)), 6)
        groups.setdefault(vpa, []).append(r)
    stem = name or path.stem
    out = []
    for vpa in sorted(groups):
        label = stem if len(groups) == 1 else f"{stem}@{vpa:g}"
        out.append(_dataset_from_records(groups[vpa], label, path))
    return out


def write_descriptordos_pickle(path, npz_path) -> None:
    """Write a ``.npz`` shell file back as a DescriptorDOS-style pickle (list of per-shell dicts).

    Used by tests and the benchmark to feed the reference analyser the same data.
    """
    records = _records_from_npz(Path(npz_path))
    clean = [
        {k: (v.item() if v.ndim == 0 and v.dtype.kind in "fiub" else v) for k, v in r.items()}
        for r in records
    ]
    for r in clean:
        if isinstance(r.get("flavor"), np.ndarray):
            r["flavor"] = str(r["flavor"])
    Path(path).write_bytes(pickle.dumps(clean, protocol=4))
