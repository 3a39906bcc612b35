"""Structure builders: atom counts, volumes and nearest-neighbour distances against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from thermograd.errors import InputError
from thermograd.structures import a15, apply_strain, bcc, fcc, hcp, read_structure


def _nn(atoms) -> float:
    return float(neighbor_list("d", atoms, 0.9 * min(atoms.cell.lengths())).min())


@pytest.mark.parametrize(
    ("builder", "per_cell", "volume_factor", "nn_factor"),
    [
        (bcc, 2, 0.5, math.sqrt(3) / 2),
        (fcc, 4, 0.25, 1 / math.sqrt(2)),
        (a15, 8, 0.125, 0.5),
    ],
)
def test_cubic_builders(builder, per_cell, volume_factor, nn_factor):
    a = 3.1856
    atoms = builder("W", a=a, size=(2, 3, 2))
    assert len(atoms) == per_cell * 12
    assert atoms.get_volume() / len(atoms) == pytest.approx(volume_factor * a**3, rel=1e-12)
    assert _nn(atoms) == pytest.approx(nn_factor * a, rel=1e-12)
    assert np.all(atoms.pbc)
    same = builder("W", volume_per_atom=volume_factor * a**3, size=2)
    assert same.cell.lengths() == pytest.approx([2 * a] * 3, rel=1e-12)


def test_hcp_ideal_and_custom_c_over_a():
    a = 2.95
    atoms = hcp("Ti", a=a, size=2)
    assert len(atoms) == 32
    assert atoms.get_volume() / len(atoms) == pytest.approx(math.sqrt(3) / 4 * a**2 * math.sqrt(8 / 3) * a)
    assert _nn(atoms) == pytest.approx(a, rel=1e-10)
    squashed = hcp("Ti", volume_per_atom=17.0, c_over_a=1.58, size=(2, 1, 2))
    assert squashed.get_volume() / len(squashed) == pytest.approx(17.0, rel=1e-12)
    lengths = squashed.cell.lengths()
    assert lengths[2] / 2 / (lengths[0] / 2) == pytest.approx(1.58, rel=1e-12)


def test_a15_coordination():
    atoms = a15("W", a=5.0)
    i, d = neighbor_list("id", atoms, 2.6)
    counts = np.bincount(i, minlength=8)
    # 2a sites have no neighbour closer than a·√5/4 = 2.795 Å; 6c chain sites have two at a/2.
    assert list(counts[:2]) == [0, 0]
    assert list(counts[2:]) == [2] * 6
    assert d.min() == pytest.approx(2.5)


def test_strain_scales_lengths_and_volume():
    atoms = bcc("Mo", a=3.16, size=2)
    strained = bcc("Mo", a=3.16, size=2, strain=0.01)
    assert strained.get_volume() == pytest.approx(atoms.get_volume() * 1.01**3, rel=1e-12)
    assert _nn(strained) == pytest.approx(1.01 * _nn(atoms), rel=1e-12)
    assert np.allclose(apply_strain(atoms, 0.01).positions, strained.positions, atol=1e-12)
    assert np.allclose(apply_strain(atoms, 0.0).positions, atoms.positions)


@pytest.mark.parametrize("kwargs", [{}, {"a": 3.0, "volume_per_atom": 10.0}, {"a": -1.0}])
def test_lattice_parameter_validation(kwargs):
    with pytest.raises(InputError):
        bcc("Fe", **kwargs)


def test_bad_inputs():
    with pytest.raises(InputError, match="size"):
        bcc("Fe", a=2.8, size=(2, 2))
    with pytest.raises(InputError, match="element"):
        fcc("Xx", a=3.6)
    with pytest.raises(InputError):
        apply_strain(bcc("Fe", a=2.8), -1.5)


def test_read_structure_roundtrip(tmp_path):
    atoms = fcc("Cu", a=3.6, size=2)
    path = tmp_path / "cu.extxyz"
    atoms.write(path)
    back = read_structure(path)
    assert len(back) == 32
    assert np.allclose(back.positions, atoms.positions)
    with pytest.raises(InputError, match="not found"):
        read_structure(tmp_path / "missing.xyz")
    junk = tmp_path / "junk.xyz"
    junk.write_text("this is not\na structure\n")
    with pytest.raises(InputError, match="cannot read") as info:
        read_structure(junk)
    assert "\n" not in str(info.value)
