"""Tests of mergeable shell sketches (thermograd.ddos.sampling.sketch)."""

from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest

from thermograd.ddos.dataset import ShellData
from thermograd.ddos.sampling.shells import sample_shell, task_seed
from thermograd.ddos.sampling.sketch import ShellSketch
from thermograd.errors import InputError, StoreError
from thermograd.testing.toy import PairDescriptorToy


def correlated_samples(n: int, seed: int, d: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(99).normal(size=(d, d))
    return rng.normal(size=(n, d)) @ mix + np.arange(d)


def assert_sketch_equal(a: ShellSketch, b: ShellSketch) -> None:
    """Bit-for-bit equality of every field."""
    for f in dataclasses.fields(ShellSketch):
        va, vb = getattr(a, f.name), getattr(b, f.name)
        if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
            assert isinstance(va, np.ndarray) and isinstance(vb, np.ndarray), f.name
            assert va.dtype == vb.dtype and va.shape == vb.shape, f.name
            np.testing.assert_array_equal(va, vb, err_msg=f.name)
        else:
            assert va == vb, f.name


def test_from_samples_pca_and_histograms() -> None:
    D = correlated_samples(5000, 1)
    s = ShellSketch.from_samples(D)
    d = D.shape[1]
    assert s.n == 5000 and s.n_bins == 99 and s.edges.shape == (d, 100) and s.counts.shape == (d, 99)
    assert s.counts.dtype == np.int64 and s.underflow.dtype == np.int64
    np.testing.assert_allclose(s.covariance, np.cov(D.T, ddof=0), rtol=1e-12)  # population covariance
    np.testing.assert_allclose(s.basis.T @ s.basis, np.eye(d), atol=1e-12)
    assert np.all(np.diff(s.eigenvalues) > 0)  # ascending
    np.testing.assert_allclose(s.basis.T @ s.covariance @ s.basis, np.diag(s.eigenvalues), atol=1e-12)
    # every sample is accounted for, and the [0.5, 99.5] percentile edges leave ~0.5 % on each side
    np.testing.assert_array_equal(s.counts.sum(axis=1) + s.underflow + s.overflow, 5000)
    assert np.all((s.underflow >= 20) & (s.underflow <= 30)) and np.all(
        (s.overflow >= 20) & (s.overflow <= 30)
    )


def test_underflow_overflow_counted_against_explicit_edges() -> None:
    D = np.array([[-2.0], [-1.0], [-0.5], [0.0], [0.999], [1.0], [1.5], [3.0]])
    s = ShellSketch.from_samples(D, basis=np.eye(1), center=np.zeros(1), edges=np.array([[-1.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(s.counts, [[2, 3]])  # [-1, 0) and [0, 1] (last bin closed)
    np.testing.assert_array_equal(s.underflow, [1])
    np.testing.assert_array_equal(s.overflow, [2])
    h, _ = np.histogram(D[:, 0], bins=[-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(s.counts[0], h)


def test_merge_equals_pooled_sketch() -> None:
    D1, D2, D3 = correlated_samples(700, 2), correlated_samples(1300, 3), correlated_samples(11, 4)
    first = ShellSketch.from_samples(D1)
    frozen = {"basis": first.basis, "center": first.center, "edges": first.edges}
    second = ShellSketch.from_samples(D2, **frozen)
    third = ShellSketch.from_samples(D3, **frozen)
    merged = ShellSketch.merge_all([first, second, third])
    pooled = ShellSketch.from_samples(np.concatenate([D1, D2, D3]), **frozen)
    assert merged.n == pooled.n == 2011
    np.testing.assert_array_equal(merged.counts, pooled.counts)
    np.testing.assert_array_equal(merged.underflow, pooled.underflow)
    np.testing.assert_array_equal(merged.overflow, pooled.overflow)
    np.testing.assert_array_equal(merged.raw, pooled.raw)
    # different summation orders: only rounding differs (~n·eps relative at worst, 1e-12 is ample)
    np.testing.assert_allclose(merged.mean, pooled.mean, rtol=1e-12)
    scale = np.abs(pooled.covariance).max()
    np.testing.assert_allclose(merged.covariance, pooled.covariance, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(merged.eigenvalues, pooled.eigenvalues, rtol=1e-12)
    assert merged.basis is not first.basis  # no aliasing between sketches
    # raw dropped unless both kept it
    assert first.merge(ShellSketch.from_samples(D2, keep_raw=False, **frozen)).raw is None


def test_merge_rejects_different_basis() -> None:
    a = ShellSketch.from_samples(correlated_samples(100, 5))
    b = ShellSketch.from_samples(correlated_samples(100, 6))
    with pytest.raises(InputError, match="different basis"):
        a.merge(b)
    with pytest.raises(InputError, match="different edges"):
        a.merge(ShellSketch.from_samples(correlated_samples(50, 7), basis=a.basis, center=a.center))
    with pytest.raises(InputError):
        ShellSketch.merge_all([])
    with pytest.raises(InputError, match="together"):
        ShellSketch.from_samples(correlated_samples(50, 7), basis=a.basis)


def test_hdf5_round_trip_is_exact(tmp_path) -> None:
    s = ShellSketch.from_samples(correlated_samples(300, 8), percentile=1.0, n_bins=17)
    t = ShellSketch.from_samples(correlated_samples(30, 9), keep_raw=False)
    with h5py.File(tmp_path / "s.h5", "w") as f:
        s.to_hdf5(f.create_group("a"))
        t.to_hdf5(f.create_group("b"))
        with pytest.raises(StoreError, match="overwrite"):
            s.to_hdf5(f["a"])
        f.create_group("c").attrs["format"] = "something else"
    with h5py.File(tmp_path / "s.h5", "r") as f:
        assert_sketch_equal(ShellSketch.from_hdf5(f["a"]), s)
        back = ShellSketch.from_hdf5(f["b"])
        assert back.raw is None
        assert_sketch_equal(back, t)
        with pytest.raises(StoreError, match="not a"):
            ShellSketch.from_hdf5(f["c"])


def test_to_shell_data_expresses_histograms_relative_to_mean() -> None:
    D1, D2 = correlated_samples(400, 10), correlated_samples(400, 11) + 0.3
    first = ShellSketch.from_samples(D1)
    merged = first.merge(
        ShellSketch.from_samples(D2, basis=first.basis, center=first.center, edges=first.edges)
    )
    shell = merged.to_shell_data(T_shell=500.0, alpha=-3.2)
    assert isinstance(shell, ShellData) and shell.n_samples == 800 and shell.alpha == -3.2
    # x in ShellData's convention, (D − mean) @ basis, falls in the same bins as (D − center) @ basis
    x_sketch = (merged.raw - merged.center) @ merged.basis
    x_shell = (merged.raw - shell.mean) @ shell.basis
    shift = (merged.mean - merged.center) @ merged.basis
    assert np.abs(shift).max() > 0.01  # the test exercises a real shift
    np.testing.assert_allclose(x_shell, x_sketch - shift, atol=1e-12)
    np.testing.assert_allclose(shell.edges, merged.edges - shift[:, None], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(shell.counts, merged.counts)
    # own-sample sketch: centre == mean, edges unchanged
    np.testing.assert_array_equal(first.to_shell_data(500.0, -3.2).edges, first.edges)


def test_constant_descriptor_component_is_counted() -> None:
    D = np.column_stack([np.full(50, 0.25), np.linspace(0, 1, 50)])
    s = ShellSketch.from_samples(D, percentile=0.0)
    np.testing.assert_array_equal(s.counts.sum(axis=1), 50)


def test_same_seed_gives_bit_identical_sketch() -> None:
    toy = PairDescriptorToy.fcc(repeat=2, n_features=3)
    modes = toy.modes()

    def run(seed):
        samples = sample_shell(modes, toy.positions0, 800.0, seed, 64, toy.features, batch=16)
        return ShellSketch.from_samples(samples.descriptors)

    a, b = run(task_seed(3, "bcc", 0)), run(task_seed(3, "bcc", 0))
    assert_sketch_equal(a, b)
    assert not np.array_equal(a.mean, run(task_seed(3, "bcc", 1)).mean)
