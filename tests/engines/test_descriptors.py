"""Descriptor calculators: SNAP linearity identity, invariances, id ordering, pickling, error paths."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from thermograd.engines import (
    ComputeDescriptor,
    DescriptorCalculator,
    LammpsSession,
    Potential,
    SnapDescriptor,
    snap_linear_parameters,
)
from thermograd.errors import EngineError, InputError
from thermograd.io.snap import read_snapcoeff
from thermograd.structures import bcc

pytestmark = pytest.mark.lammps


@pytest.fixture(scope="module")
def mo():
    atoms = bcc("Mo", a=3.16, size=2)
    descriptor = SnapDescriptor.from_snapparam("Mo_Zuo_JPCA2020")
    with DescriptorCalculator(atoms, descriptor) as calc:
        yield atoms, calc


def _samples(atoms, n, scale=0.1, seed=0):
    rng = np.random.default_rng(seed)
    return atoms.positions + rng.normal(0.0, scale, (n, len(atoms), 3))


def test_snap_descriptor_from_files():
    d = SnapDescriptor.from_snapparam("Mo_Zuo_JPCA2020.snapparam")
    assert d.n_features == 30
    assert (d.twojmax, d.rcutfac, d.bzeroflag, d.radii, d.weights) == (6, 4.6, 0, (0.5,), (1.0,))
    assert d.cutoff == pytest.approx(4.6)
    assert SnapDescriptor.from_potential(Potential.from_snap("Mo_Zuo_JPCA2020")) == d
    w = SnapDescriptor.from_potential(Potential.from_snap("W_2940_2017_2"))
    assert w.n_features == 55
    assert pickle.loads(pickle.dumps(d)) == d


def test_linear_snap_energy_identity(mo):
    """E/N = β_0 + θ·mean(B) for a linear SNAP potential (bzeroflag 0): the D-DOS linearity identity."""
    atoms, calc = mo
    pot = Potential.from_snap("Mo_Zuo_JPCA2020")
    beta0, theta, _ = snap_linear_parameters(pot)
    coeffs = read_snapcoeff(pot.snap_files[0])
    assert beta0[0] == coeffs.constant("Mo") and theta.shape == (1, 30)
    batch = _samples(atoms, 3, scale=0.15)
    means = calc.mean(batch)
    assert means.shape == (3, 30)
    with LammpsSession(atoms, pot) as session:
        energies = np.array([session.energy(x) for x in batch]) / len(atoms)
    assert np.allclose(energies, beta0[0] + means @ theta[0], rtol=0.0, atol=1e-10)


def test_rows_sorted_by_atom_id(mo):
    atoms, calc = mo
    x = _samples(atoms, 1, seed=2)[0]
    rows = calc.per_atom(x)
    assert rows.shape == (16, calc.n_features)
    perm = np.random.default_rng(5).permutation(16)
    permuted = atoms[perm]
    with DescriptorCalculator(permuted, calc.descriptor) as other:
        rows_perm = other.per_atom(x[perm])
    assert np.allclose(rows_perm, rows[perm], rtol=1e-12, atol=1e-12 * np.abs(rows).max())
    assert np.allclose(other_mean := rows_perm.mean(axis=0), rows.mean(axis=0), rtol=1e-12)
    assert other_mean.shape == (calc.n_features,)


def test_translation_invariance_and_repeatability(mo):
    atoms, calc = mo
    x = _samples(atoms, 1, seed=3)[0]
    ref = calc.mean(x)
    shifted = calc.mean(x + np.array([0.37, -1.91, 5.3]))  # also moves atoms across the boundary
    assert np.allclose(shifted, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    other = calc.mean(_samples(atoms, 1, seed=4)[0])
    assert not np.allclose(other, ref)
    assert np.array_equal(calc.mean(x), ref)  # no stale state between evaluations


def test_generic_compute_and_pickle(mo):
    atoms, _ = mo
    calc = DescriptorCalculator(atoms, ComputeDescriptor("coord/atom cutoff 3.0", cutoff=3.0))
    assert calc.n_features == 1
    assert np.all(calc.per_atom(atoms.positions) == 8.0)  # BCC first shell at 2.74 Å
    clone = pickle.loads(pickle.dumps(calc))
    assert clone.n_features == 1 and clone.descriptor == calc.descriptor
    calc.close()
    clone.close()


def test_unknown_compute_and_bad_specs(mo):
    atoms, _ = mo
    with pytest.raises(EngineError, match="Unrecognized compute style 'nosuch/atom'"):
        DescriptorCalculator(atoms, ComputeDescriptor("nosuch/atom 2.0", cutoff=3.0))
    with pytest.raises(InputError):
        ComputeDescriptor("coord/atom cutoff 3.0", cutoff=0.0)
    with pytest.raises(InputError):
        SnapDescriptor(elements=("Mo",), rcutfac=4.6, twojmax=6, radii=(0.5, 0.5), weights=(1.0,))
    with pytest.raises(InputError, match="not found"):
        SnapDescriptor.from_snapparam("Mo_Nobody_2099")


def test_quadratic_snap_energy_identity():
    """The identity also holds for quadratic SNAP (compute sna/atom quadratic columns match pair snap)."""
    atoms = bcc("Mo", a=3.16, size=2)
    pot = Potential.from_snap("Mo_Zuo_JPCA2020.quadratic")
    descriptor = SnapDescriptor.from_potential(pot)
    assert descriptor.quadraticflag == 1 and descriptor.n_features == 30 + 30 * 31 // 2
    beta0, theta, _ = snap_linear_parameters(pot)
    batch = _samples(atoms, 2, scale=0.1, seed=9)
    with DescriptorCalculator(atoms, descriptor) as calc:
        means = calc.mean(batch)
    with LammpsSession(atoms, pot) as session:
        energies = np.array([session.energy(x) for x in batch]) / len(atoms)
    assert np.allclose(energies, beta0[0] + means @ theta[0], rtol=0.0, atol=1e-10)


def test_elements_not_in_descriptor(mo):
    _, calc = mo
    with pytest.raises(InputError, match="not covered"):
        DescriptorCalculator(bcc("W", a=3.18), calc.descriptor)
