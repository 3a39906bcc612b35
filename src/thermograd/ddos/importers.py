"""Importers: files → D-DOS objects. Shell data of the DescriptorDOS reference implementation (``.npz``
conversions and pickles) → :class:`~thermograd.ddos.dataset.PhaseDataset`; thermograd model files
(:mod:`thermograd.io.ddos_model`) ↔ :class:`~thermograd.ddos.estimators.model.DDOSModel`.

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

from ..errors import InputError, StoreError
from ..units import KB
from .dataset import PhaseDataset, ShellData

__all__ = [
    "RestrictedUnpickler",
    "load_descriptordos",
    "load_model",
    "restricted_load",
    "save_model",
    "write_descriptordos_pickle",
]

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
        reason = (str(exc).splitlines() or [""])[0]
        raise InputError(f"not a readable DescriptorDOS pickle ({type(exc).__name__}: {reason})") from None


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _records_from_npz(path: Path) -> list[dict]:
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head not in _ZIP_MAGIC:
        raise InputError(f"{path}: not a .npz archive (damaged or another format)")
    data = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for k in z.files:
                try:
                    data[k] = z[k]
                except ValueError:  # an object array: never unpickled
                    raise InputError(
                        f"{path}: array {k!r} holds Python objects; only numeric arrays are read"
                    ) from None
    except InputError:
        raise
    except Exception as exc:  # truncated or damaged archive (zipfile, zlib, format errors)
        raise InputError(f"{path}: damaged .npz archive ({type(exc).__name__}: {exc})") from None
    if "IsoSurface" not in data and "IsoSurfaceMeasured_mean" not in data:
        raise InputError(f"{path}: not DescriptorDOS shell data (no IsoSurface array)")
    iso = np.asarray(data.get("IsoSurfaceMeasured_mean", data.get("IsoSurface")))
    if iso.ndim != 1 or iso.shape[0] == 0:
        raise InputError(f"{path}: IsoSurface must be a 1-D array over shells, got shape {iso.shape}")
    n = int(iso.shape[0])
    records = []
    for i in range(n):
        rec = {}
        for k, v in data.items():
            v = np.asarray(v)
            rec[k] = v[i] if v.ndim >= 1 and v.shape[0] == n and k not in ("D_0", "x_0", "x_ref") else v
        records.append(rec)
    return records


def _array(rec: dict, keys: tuple[str, ...], shape: tuple[int, ...], path: Path, shell: int) -> np.ndarray:
    """A numeric array of one shell record with the expected shape and finite values."""
    value = _get(rec, *keys, path=path)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{path}: {keys[0]} of shell {shell} is not numeric") from None
    if arr.shape != shape:
        raise InputError(
            f"{path}: {keys[0]} of shell {shell} has shape {arr.shape}, expected {shape} "
            "(arrays of the file do not match each other)"
        )
    if not np.all(np.isfinite(arr)):
        raise InputError(
            f"{path}: {keys[0]} of shell {shell} holds {int(np.sum(~np.isfinite(arr)))} non-finite value(s)"
        )
    return arr


def _scalar(rec: dict, keys: tuple[str, ...], path: Path) -> float:
    value = np.asarray(_get(rec, *keys, path=path))
    if value.size != 1:
        raise InputError(f"{path}: {keys[0]} should be one number, got shape {value.shape}")
    try:
        x = float(value.reshape(-1)[0])
    except (TypeError, ValueError):
        raise InputError(f"{path}: {keys[0]} is not a number") from None
    if not np.isfinite(x):
        raise InputError(f"{path}: {keys[0]} is not finite ({x})")
    return x


def _get(rec: dict, *keys, path: Path):
    for k in keys:
        if k in rec:
            return rec[k]
    raise InputError(f"{path}: shell record lacks {' / '.join(keys)}")


def _dataset_from_records(records: list[dict], name: str, path: Path) -> PhaseDataset:
    r0 = records[0]
    flavor = str(np.asarray(r0.get("flavor", "Hessian"))).lower()
    if flavor != "hessian":
        raise InputError(
            f"{path}: flavour {flavor!r} is not supported (only Hessian shells have an exact S_0)"
        )
    N = int(_scalar(r0, ("N",), path))
    U0 = _scalar(r0, ("U_0",), path)
    shift = _scalar(r0, ("alpha_shift",), path)
    kappa_bar = _scalar(r0, ("omega_mean",), path) if "omega_mean" in r0 else 2.0 * U0 * np.exp(shift)
    if N < 1 or U0 <= 0 or kappa_bar <= 0:
        raise InputError(f"{path}: N = {N}, U_0 = {U0}, κ̄ = {kappa_bar} must all be > 0")
    D0 = np.asarray(_get(r0, "D_0", path=path), dtype=float)
    if D0.ndim != 1 or D0.size == 0 or not np.all(np.isfinite(D0)):
        raise InputError(f"{path}: D_0 must be a finite 1-D descriptor vector, got shape {D0.shape}")
    d = D0.shape[0]
    edges0 = np.asarray(_get(r0, "cov_bins", path=path))
    nb = edges0.shape[-1] - 1 if edges0.ndim == 2 else -1
    if nb < 1:
        raise InputError(f"{path}: cov_bins must have shape ({d}, n_bins + 1), got {edges0.shape}")
    shells = []
    for k, r in enumerate(records):
        iso = _scalar(r, ("IsoSurfaceMeasured_mean", "IsoSurface"), path)
        if iso <= 0:
            raise InputError(f"{path}: isosurface value of shell {k} is {iso}, must be > 0")
        T_shell = iso * U0 / (1.5 * KB)
        counts = _array(r, ("cov_counts",), (d, nb), path, k)
        edges = _array(r, ("cov_bins",), (d, nb + 1), path, k)
        cov = _array(r, ("D_var", "cov"), (d, d), path, k)
        if np.any(counts < 0) or np.any(np.diff(edges, axis=-1) < 0):
            raise InputError(f"{path}: shell {k} has negative counts or decreasing histogram edges")
        shells.append(
            ShellData(
                T_shell=T_shell,
                alpha=float(np.log(iso) - shift),
                n_samples=int(r.get("calls", counts.sum(-1).max())),
                mean=_array(r, ("D_mean", "mean"), (d,), path, k),
                covariance=cov,
                basis=_array(r, ("cov_evec",), (d, d), path, k),
                eigenvalues=_array(r, ("cov_eval",), (d,), path, k),
                edges=edges,
                counts=counts,
            )
        )
    V0 = _scalar(r0, ("V_0",), path)
    strain = np.asarray(r0.get("Strain", 0.0)).reshape(-1)
    return PhaseDataset(
        name=name,
        n_atoms=N,
        mass=_scalar(r0, ("mass",), path),
        volume_per_atom=V0 / N,
        strain=float(strain[0]) if strain.size else 0.0,
        D_0=D0,
        kappa_bar=kappa_bar,
        mean_log_nu=_scalar(r0, ("log_det",), path),
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
        try:
            obj = restricted_load(path.read_bytes())
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        if isinstance(obj, dict):
            obj = [obj]
        if not isinstance(obj, list | tuple) or not all(isinstance(r, dict) for r in obj) or not obj:
            raise InputError(f"{path}: expected a list of per-shell dicts (DescriptorDOS format)")
        records = list(obj)
    groups: dict[float, list[dict]] = {}
    for r in records:
        vpa = round(_scalar(r, ("V_0",), path) / _scalar(r, ("N",), path), 6)
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


# -- model files ---------------------------------------------------------------------------------------------
def load_model(path):
    """Read a model file (:func:`thermograd.io.ddos_model.read_model_file`); the file is checked before PyTorch
    is imported, so a file that is not a model is refused at once.

    Returns:
        The :class:`~thermograd.ddos.estimators.model.DDOSModel`.

    Raises:
        StoreError: missing, foreign, damaged or newer file, or one whose contents do not make a model.
    """
    from ..io.ddos_model import read_model_file

    fields = read_model_file(path)
    from .estimators.model import DDOSModel, ShellGeometry

    try:
        return DDOSModel(**{**fields, "geometry": ShellGeometry(**fields["geometry"])})
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{path}: malformed D-DOS model file ({type(exc).__name__}: {exc})") from None


def save_model(model, path) -> None:
    """Write ``model`` (:class:`~thermograd.ddos.estimators.model.DDOSModel`) to ``path`` atomically, with the
    statement of what its free energies are (:data:`~thermograd.ddos.estimators.core.REFERENCE`)."""
    from ..io.ddos_model import write_model_file
    from .estimators.core import REFERENCE

    write_model_file(path, model, REFERENCE)
