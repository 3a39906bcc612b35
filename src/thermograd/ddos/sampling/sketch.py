"""Mergeable per-shell statistics: the rank-one (PCA + histogram) compression of D-DOS shell samples.

For one shell the n descriptor vectors D (n, d) are reduced to their mean, covariance, a PCA basis W and one
histogram per PCA component of x = (D − c)W, where the basis W and the centre c are frozen by the first batch
(Swinburne, Lapointe, Marinica, Nat. Commun. 17, 248 (2026); docs: science-ddos.md §5). Later batches are
projected onto the frozen basis and their counts added, so sketches from independent tasks merge exactly:
counts add, and the pooled mean and covariance follow from Chan et al.'s update. Samples outside the
histogram range are counted in ``underflow``/``overflow`` instead of being silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import h5py
import numpy as np

from ...errors import InputError, StoreError
from ...io.store import SKETCH, check_group
from ..dataset import ShellData

__all__ = ["ShellSketch"]

_FORMAT, _VERSION = SKETCH.name, SKETCH.version
_ARRAYS = ("mean", "covariance", "basis", "eigenvalues", "center", "edges", "counts", "underflow", "overflow")


def _histogram(x: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-component histograms with ``np.histogram`` semantics (last bin closed on the right).

    Args:
        x: projections, shape (n, d).
        edges: increasing edges per component, shape (d, n_bins + 1).

    Returns:
        counts (d, n_bins), underflow (d,), overflow (d,), all int64.
    """
    d, n_edges = edges.shape
    n_bins = n_edges - 1
    counts = np.zeros((d, n_bins), dtype=np.int64)
    under = np.zeros(d, dtype=np.int64)
    over = np.zeros(d, dtype=np.int64)
    for a in range(d):
        xa = x[:, a]
        e = edges[a]
        idx = np.searchsorted(e, xa, side="right") - 1
        idx[xa == e[-1]] = n_bins - 1
        under[a] = np.count_nonzero(idx < 0)
        over[a] = np.count_nonzero(idx >= n_bins)
        inside = idx[(idx >= 0) & (idx < n_bins)]
        counts[a] = np.bincount(inside, minlength=n_bins)
    return counts, under, over


def _percentile_edges(x: np.ndarray, percentile: float, n_bins: int) -> np.ndarray:
    """Uniform edges per component spanning the [p, 100 − p] percentiles of x (n, d) -> (d, n_bins + 1)."""
    lo, hi = np.percentile(x, [percentile, 100.0 - percentile], axis=0)
    # a component with no spread (e.g. a descriptor constant on the shell) gets a tiny symmetric window
    # so that its samples are counted rather than falling outside a zero-width range
    flat = ~(hi > lo)
    width = 1e-9 * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
    lo = np.where(flat, lo - width, lo)
    hi = np.where(flat, hi + width, hi)
    return np.linspace(lo, hi, n_bins + 1, axis=1)


@dataclass(eq=False)
class ShellSketch:
    """Compressed, mergeable statistics of the descriptor samples of one shell.

    Attributes:
        n: number of samples.
        mean: sample mean of D, shape (d,).
        covariance: **population** covariance of D (normalised by n, not n − 1), shape (d, d).
        basis: PCA eigenvectors as columns in ascending eigenvalue order, shape (d, d); frozen by the
            samples that defined the sketch.
        eigenvalues: variance of the samples along each basis vector, diag(Wᵀ C W), shape (d,); these are the
            PCA eigenvalues when the basis is the PCA of the same samples.
        center: vector c subtracted before projecting, x = (D − c) @ basis, shape (d,): the mean of the
            samples that defined the basis.
        edges: histogram edges per component in x, shape (d, n_bins + 1), increasing.
        counts: samples per bin, shape (d, n_bins), int64 (bins are [e_k, e_{k+1}), the last one closed).
        underflow: samples with x < edges[:, 0], shape (d,), int64.
        overflow: samples with x > edges[:, -1], shape (d,), int64.
        raw: the descriptors themselves, shape (n, d), or None when not kept.
        percentile: percentile p used to place the edges ([p, 100 − p]).
        n_bins: bins per component.
    """

    n: int
    mean: np.ndarray
    covariance: np.ndarray
    basis: np.ndarray
    eigenvalues: np.ndarray
    center: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    underflow: np.ndarray
    overflow: np.ndarray
    raw: np.ndarray | None
    percentile: float
    n_bins: int

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def from_samples(
        cls,
        D: np.ndarray,
        *,
        basis: np.ndarray | None = None,
        center: np.ndarray | None = None,
        edges: np.ndarray | None = None,
        percentile: float = 0.5,
        n_bins: int = 99,
        keep_raw: bool = True,
    ) -> ShellSketch:
        """Sketch a batch of samples.

        Without ``basis``/``center``/``edges`` the basis is the PCA of D's covariance, the centre is D's mean
        and each component's edges span the [p, 100 − p] percentiles of its projections. To sketch a later
        batch so that it merges with an earlier sketch, pass that sketch's ``basis``, ``center`` and
        ``edges``.

        Args:
            D: per-atom mean descriptors, shape (n, d), n ≥ 1.
            basis: frozen basis, shape (d, d) (requires ``center``).
            center: frozen centre, shape (d,) (requires ``basis``).
            edges: frozen edges, shape (d, n_bins + 1) (requires ``basis`` and ``center``); overrides n_bins.
            percentile: p in [0, 50), percent, for computed edges.
            n_bins: bins per component for computed edges.
            keep_raw: keep a copy of D in ``raw``.

        Raises:
            InputError: bad shapes, non-finite values or inconsistent frozen arguments.
        """
        D = np.asarray(D, dtype=float)
        if D.ndim != 2 or D.shape[0] < 1 or D.shape[1] < 1:
            raise InputError(f"descriptors must have shape (n >= 1, d >= 1), got {D.shape}")
        if not np.all(np.isfinite(D)):
            raise InputError(f"descriptors contain {int(np.sum(~np.isfinite(D)))} non-finite values")
        n, d = D.shape
        if not 0.0 <= percentile < 50.0:
            raise InputError(f"percentile must be in [0, 50), got {percentile!r}")
        mean = D.mean(axis=0)
        dev = D - mean
        cov = dev.T @ dev / n
        if (basis is None) != (center is None):
            raise InputError("basis and center must be given together (a frozen basis needs its centre)")
        if basis is None:
            if edges is not None:
                raise InputError("edges require the basis and center they were computed in")
            _, basis = np.linalg.eigh(cov)
            center = mean.copy()
        else:
            basis = np.array(basis, dtype=float)
            center = np.array(center, dtype=float)
            if basis.shape != (d, d) or center.shape != (d,):
                raise InputError(
                    f"basis/center must have shapes ({d}, {d})/({d},), got {basis.shape}/{center.shape}"
                )
        x = (D - center) @ basis
        if edges is None:
            if isinstance(n_bins, bool) or not int(n_bins) == n_bins or n_bins < 1:
                raise InputError(f"n_bins must be a positive integer, got {n_bins!r}")
            edges = _percentile_edges(x, percentile, int(n_bins))
        else:
            edges = np.array(edges, dtype=float)
            if edges.ndim != 2 or edges.shape[0] != d or edges.shape[1] < 2:
                raise InputError(f"edges must have shape ({d}, n_bins + 1), got {edges.shape}")
            if not np.all(np.diff(edges, axis=1) > 0):
                raise InputError("edges must be strictly increasing along each component")
        counts, under, over = _histogram(x, edges)
        return cls(
            n=n,
            mean=mean,
            covariance=cov,
            basis=basis,
            eigenvalues=np.einsum("ia,ij,ja->a", basis, cov, basis),
            center=center,
            edges=edges,
            counts=counts,
            underflow=under,
            overflow=over,
            raw=D.copy() if keep_raw else None,
            percentile=float(percentile),
            n_bins=int(edges.shape[1] - 1),
        )

    def merge(self, other: ShellSketch) -> ShellSketch:
        """Pool two sketches built on the identical basis, centre and edges.

        Mean and covariance are pooled exactly (Chan, Golub & LeVeque), counts add, and raw samples are
        concatenated (self first); raw is None unless both sketches kept it.

        Raises:
            InputError: the sketches differ in basis, centre or edges (compare bit for bit).
        """
        if not isinstance(other, ShellSketch):
            raise InputError(f"can only merge ShellSketch objects, got {type(other).__name__}")
        for name in ("basis", "center", "edges"):
            a, b = getattr(self, name), getattr(other, name)
            if a.shape != b.shape or not np.array_equal(a, b):
                raise InputError(
                    f"cannot merge shell sketches with different {name}: sketch later batches with "
                    "ShellSketch.from_samples(D, basis=first.basis, center=first.center, edges=first.edges)"
                )
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = (
            self.covariance * self.n
            + other.covariance * other.n
            + np.outer(delta, delta) * (self.n * other.n / n)
        )
        cov = m2 / n
        raw = None
        if self.raw is not None and other.raw is not None:
            raw = np.concatenate([self.raw, other.raw], axis=0)
        return replace(
            self,
            n=n,
            mean=mean,
            covariance=cov,
            eigenvalues=np.einsum("ia,ij,ja->a", self.basis, cov, self.basis),
            basis=self.basis.copy(),
            center=self.center.copy(),
            edges=self.edges.copy(),
            counts=self.counts + other.counts,
            underflow=self.underflow + other.underflow,
            overflow=self.overflow + other.overflow,
            raw=raw,
        )

    @classmethod
    def merge_all(cls, sketches) -> ShellSketch:
        """Left fold of :meth:`merge` over ``sketches`` in the given order (at least one)."""
        sketches = list(sketches)
        if not sketches:
            raise InputError("merge_all needs at least one sketch")
        out = sketches[0]
        for s in sketches[1:]:
            out = out.merge(s)
        return out

    def to_hdf5(self, group: h5py.Group) -> None:
        """Write into an (empty) HDF5 group: arrays as datasets, scalars as attributes.

        Raises:
            StoreError: the group already holds sketch data.
        """
        clash = [k for k in (*_ARRAYS, "raw") if k in group]
        if clash:
            raise StoreError(f"HDF5 group {group.name!r} already holds {clash}; refusing to overwrite")
        for name in _ARRAYS:
            group.create_dataset(name, data=getattr(self, name))
        if self.raw is not None:
            group.create_dataset("raw", data=self.raw)
        group.attrs["format"] = _FORMAT
        group.attrs["version"] = _VERSION
        group.attrs["n"] = self.n
        group.attrs["percentile"] = self.percentile
        group.attrs["n_bins"] = self.n_bins
        group.attrs["covariance_normalisation"] = "population (1/n)"

    @classmethod
    def from_hdf5(cls, group: h5py.Group) -> ShellSketch:
        """Read a sketch written by :meth:`to_hdf5`.

        Raises:
            StoreError: the group is not a thermograd shell sketch, has another version, is incomplete or
                holds NaN/inf (the dataset is named).
        """
        check_group(group, SKETCH)
        missing = [k for k in _ARRAYS if k not in group]
        if missing:
            raise StoreError(f"{_FORMAT} in {group.name!r} is incomplete: missing {missing}")
        arrays = {k: group[k][()] for k in _ARRAYS}
        raw = group["raw"][()] if "raw" in group else None
        for k, v in (*arrays.items(), ("raw", raw)):
            if v is not None and v.dtype.kind in "fc" and not np.all(np.isfinite(v)):
                raise StoreError(
                    f"{group.file.filename}: dataset {group.name}/{k} holds "
                    f"{int(np.size(v) - np.count_nonzero(np.isfinite(v)))} non-finite value(s) (NaN/inf); "
                    "the file is corrupt"
                )
        return cls(
            n=int(group.attrs["n"]),
            raw=raw,
            percentile=float(group.attrs["percentile"]),
            n_bins=int(group.attrs["n_bins"]),
            **arrays,
        )

    def to_shell_data(self, T_shell: float, alpha: float) -> ShellData:
        """Express the sketch as a :class:`~thermograd.ddos.dataset.ShellData`.

        ShellData histograms live in x = (D − mean) @ basis; the sketch's are in (D − center) @ basis, so the
        edges are shifted by (mean − center) @ basis (zero when the sketch was defined by its own samples).
        Samples outside the edges (``underflow``/``overflow``) are not part of ShellData.

        Args:
            T_shell: shell temperature T_α, K.
            alpha: shell coordinate α = ln(3k_BT_α/κ̄), ln Å².
        """
        shift = (self.mean - self.center) @ self.basis  # (d,)
        return ShellData(
            T_shell=float(T_shell),
            alpha=float(alpha),
            n_samples=int(self.n),
            mean=self.mean.copy(),
            covariance=self.covariance.copy(),
            basis=self.basis.copy(),
            eigenvalues=self.eigenvalues.copy(),
            edges=self.edges - shift[:, None],
            counts=self.counts.copy(),
            raw=None if self.raw is None else self.raw.copy(),
        )
