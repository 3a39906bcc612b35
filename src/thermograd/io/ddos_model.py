"""HDF5 file format of a fitted D-DOS model (one phase at one strain).

Layout (format ``thermograd-ddos-model``, version :data:`FORMAT_VERSION`)::

    /            attrs: format, format_version, name, units (JSON), reference (convention statement),
                        n_atoms, mass, volume_per_atom, strain, kappa_bar, mean_log_nu, n_modes,
                        order, alt_order, E0_reference, descriptor (JSON), provenance (JSON), fit_info (JSON)
    /D_0                 (d,)               perfect-lattice descriptor
    /shells/alphas       (n_s,)             α_i, ln Å²
    /shells/T_shells     (n_s,)             K
    /shells/rotations    (n_s, d, d)        PCA bases W_i (columns)
    /shells/n_samples    (n_s,)
    /shells/means        (n_s, d)           shell means of D
    /shells/eigenvalues  (n_s, d)           PCA eigenvalues (component variances)
    /components/<key>    (n_s, d[, K[, K]]) score-model arrays (and alt_<key> for the second order)

No raw samples are stored (≈ n_s·d² floats, ≈ 0.5 MB for the Fe data); reading is a few ms.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import StoreError

FORMAT = "thermograd-ddos-model"
FORMAT_VERSION = 1
UNITS = {
    "energy": "eV/atom",
    "temperature": "K",
    "alpha": "ln(Å^2)",
    "kappa_bar": "eV/Å^2",
    "mass": "amu",
    "volume_per_atom": "Å^3/atom",
    "theta": "eV per descriptor unit (per-atom mean descriptor)",
    "entropy": "k_B per atom",
}
_COMPONENT_KEYS = ("coef", "cov", "xbar", "scale", "t_lo", "t_hi", "p_max", "t_mode")


def save_model(model, path) -> None:
    """Write ``model`` (:class:`~thermograd.ddos.estimators.model.DDOSModel`) to ``path`` (overwrites)."""
    import h5py

    from ..ddos.estimators.core import REFERENCE

    path = Path(path)
    with h5py.File(path, "w") as f:
        a = f.attrs
        a["format"] = FORMAT
        a["format_version"] = FORMAT_VERSION
        a["name"] = model.name
        a["units"] = json.dumps(UNITS)
        a["reference"] = REFERENCE
        for key in (
            "n_atoms",
            "mass",
            "volume_per_atom",
            "strain",
            "kappa_bar",
            "mean_log_nu",
            "n_modes",
            "order",
            "alt_order",
        ):
            a[key] = getattr(model, key)
        a["E0_reference"] = np.nan if model.E0_reference is None else float(model.E0_reference)
        for key in ("descriptor", "provenance", "fit_info"):
            a[key] = json.dumps(getattr(model, key), default=str)
        f["D_0"] = model.D_0
        g = f.create_group("shells")
        geo = model.geometry
        for key in ("alphas", "T_shells", "rotations", "n_samples", "means", "eigenvalues"):
            g.create_dataset(key, data=getattr(geo, key))
        c = f.create_group("components")
        for prefix in ("", "alt_"):
            for key in _COMPONENT_KEYS:
                c.create_dataset(prefix + key, data=model.arrays[prefix + key])


def load_model(path):
    """Read a model file written by :func:`save_model`.

    Raises:
        StoreError: missing file, not a thermograd D-DOS model, or another format version.
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise StoreError(f"model file not found: {path}")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise StoreError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    if head != b"\x89HDF\r\n\x1a\n":
        raise StoreError(
            f"{path}: not an HDF5 file (damaged header or another format); expected a D-DOS model"
        )
    try:
        f = h5py.File(path, "r", locking=False)
    except OSError as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise StoreError(f"{path}: damaged HDF5 file, cannot be opened ({reason})") from None
    with f:
        a = f.attrs
        fmt = a.get("format")
        if isinstance(fmt, bytes):
            fmt = fmt.decode()
        if fmt != FORMAT:
            kind = {"thermograd-campaign": "a campaign", "thermograd-tilt": "a tilt"}.get(str(fmt))
            hint = f" ({kind} file; make a model with 'thermograd fit')" if kind else f" (format {fmt!r})"
            raise StoreError(f"{path}: not a thermograd D-DOS model file{hint}")
        version = int(a.get("format_version", -1))
        if version != FORMAT_VERSION:
            raise StoreError(
                f"{path}: D-DOS model format version {version}, "
                f"this thermograd reads version {FORMAT_VERSION}; "
                "refit the model with this version (thermograd fit)"
            )
        from ..ddos.estimators.model import DDOSModel, ShellGeometry  # torch: only for a file that is a model

        try:
            geo = ShellGeometry(
                **{
                    k: f["shells"][k][()]
                    for k in ("alphas", "T_shells", "rotations", "n_samples", "means", "eigenvalues")
                }
            )
            arrays = {k: f["components"][k][()] for k in f["components"]}
            _check_finite(path, f, a)
            e0 = float(a["E0_reference"])
            return DDOSModel(
                name=str(a["name"]),
                n_atoms=int(a["n_atoms"]),
                mass=float(a["mass"]),
                volume_per_atom=float(a["volume_per_atom"]),
                strain=float(a["strain"]),
                D_0=f["D_0"][()],
                kappa_bar=float(a["kappa_bar"]),
                mean_log_nu=float(a["mean_log_nu"]),
                n_modes=int(a["n_modes"]),
                geometry=geo,
                arrays=arrays,
                order=int(a["order"]),
                alt_order=int(a["alt_order"]),
                fit_info=json.loads(a["fit_info"]),
                E0_reference=None if np.isnan(e0) else e0,
                descriptor=json.loads(a["descriptor"]),
                provenance=json.loads(a["provenance"]),
            )
        except KeyError as exc:
            raise StoreError(f"{path}: incomplete D-DOS model file (missing {exc})") from None
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{path}: malformed D-DOS model file ({type(exc).__name__}: {exc})") from None


#: numeric attributes that must be finite (E0_reference is NaN when unknown)
_FINITE_ATTRS = ("mass", "volume_per_atom", "strain", "kappa_bar", "mean_log_nu")


def _check_finite(path: Path, f, attrs) -> None:
    """Every array (and the numeric attributes) of a model file must be finite: a NaN or inf is corruption,
    reported with the dataset's name instead of surfacing as a ``nan`` free energy."""
    from .checks import check_finite_hdf5

    check_finite_hdf5(f, path, remedy="refit the model with 'thermograd fit'")
    for key in _FINITE_ATTRS:
        if not np.isfinite(float(attrs[key])):
            raise StoreError(
                f"{path}: attribute {key} = {attrs[key]} is not finite; the model file is corrupt"
            )
