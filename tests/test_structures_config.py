"""The shared run-file ``structure`` section (:class:`thermograd.systems.StructureConfig`): every source
(lattice builder, ``ase.build.bulk`` prototype, structure file) built by :func:`build_structure`, one-line
refusals, and a builder or file section that serialises exactly as before prototypes existed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.build import bulk
from ase.neighborlist import neighbor_list

from thermograd.config import validate_model
from thermograd.errors import ConfigError, InputError
from thermograd.systems import StructureConfig, build_structure


def _structure(**data) -> StructureConfig:
    return validate_model(StructureConfig, data)


def test_builder_section_with_strain():
    a = 2.87
    atoms = build_structure(_structure(builder="bcc", element="Fe", a=a, size=2), strain=0.01)
    assert len(atoms) == 16
    assert atoms.get_volume() / len(atoms) == pytest.approx(0.5 * (1.01 * a) ** 3, rel=1e-12)


def test_prototype_section_is_ase_bulk_repeated_and_strained():
    a = 5.64
    spec = _structure(name="NaCl", crystalstructure="rocksalt", a=a, repeat=[1, 1, 2])
    atoms = build_structure(spec)
    assert atoms.get_chemical_formula() == "Cl8Na8"
    assert atoms.cell.lengths() == pytest.approx([a, a, 2 * a], rel=1e-12)
    i, j, d = neighbor_list("ijd", atoms, 0.6 * a)
    symbols = np.array(atoms.get_chemical_symbols())
    assert d.min() == pytest.approx(a / 2, rel=1e-12)  # Na–Cl, six per atom
    assert np.all(symbols[i[d < 0.51 * a]] != symbols[j[d < 0.51 * a]])
    assert np.bincount(i[d < 0.51 * a]).tolist() == [6] * 16
    strained = build_structure(spec, strain=-0.02)
    assert strained.get_volume() == pytest.approx(atoms.get_volume() * 0.98**3, rel=1e-12)
    # the alchemy template's section gives the cell the alchemy workflows were written against
    same = build_structure(_structure(name="NaCl", crystalstructure="rocksalt", a=5.683, cubic=True))
    ref = bulk("NaCl", "rocksalt", a=5.683, cubic=True)
    assert same.get_chemical_symbols() == ref.get_chemical_symbols()
    assert np.allclose(same.positions, ref.positions) and np.allclose(same.cell[:], ref.cell[:])


def test_prototype_default_lattice_constant_and_primitive_cell():
    atoms = build_structure(_structure(name="Cu", cubic=False))
    assert len(atoms) == 1  # primitive fcc cell
    a = bulk("Cu", cubic=True).cell.lengths()[0]  # ASE's reference a for Cu
    assert atoms.get_volume() == pytest.approx(a**3 / 4, rel=1e-12)


def test_file_section_is_read_and_repeated(tmp_path):
    path = tmp_path / "w.extxyz"
    cell = bulk("W", "bcc", a=3.165, cubic=True)
    cell.write(path)
    atoms = build_structure(_structure(file=str(path), repeat=[2, 1, 1]), strain=0.005)
    assert len(atoms) == 4
    assert atoms.cell.lengths() == pytest.approx([2 * 3.165 * 1.005, 3.165 * 1.005, 3.165 * 1.005])
    assert len(build_structure(_structure(file=str(path)))) == 2  # no repeat: the file's own cell


def test_missing_file_and_unbuildable_prototype_are_one_line_input_errors(tmp_path):
    missing = tmp_path / "POSCAR_missing"
    with pytest.raises(InputError) as info:
        build_structure(_structure(file=str(missing)))
    assert str(info.value) == f"structure file {str(missing)!r} not found"
    with pytest.raises(InputError) as info:
        build_structure(_structure(name="NaCl", crystalstructure="wurtzitx", a=4.0))
    assert str(info.value).startswith("cannot build the prototype NaCl wurtzitx: ")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "give exactly one of 'builder' (bcc, fcc, hcp, a15) or 'file'"),
        ({"builder": "bcc", "element": "Fe", "file": "x.xyz"}, "give exactly one of 'builder' (bcc, fcc, hcp"),
        ({"builder": "fcc", "element": "Cu", "name": "Cu"}, "'name' (an ase.build.bulk prototype"),
        ({"file": "x.xyz", "name": "Cu"}, "'name' (an ase.build.bulk prototype, with 'crystalstructure')"),
        ({"builder": "bcc"}, "builder 'bcc' needs 'element'"),
        ({"builder": "bcc", "element": "Fe", "repeat": [1, 1, 2]}, "builder 'bcc' takes 'size', not 'repeat'"),
        ({"file": "x.xyz", "crystalstructure": "fcc"}, "'crystalstructure': only with 'name'"),
        ({"name": "Cu", "size": 3}, "takes 'crystalstructure', 'a', 'cubic' and 'repeat', not 'size'"),
        ({"name": "Cu", "element": "Cu"}, "not 'element'"),
        ({"name": "Cu", "repeat": [1, 0, 1]}, "repeat must be three positive integers, got [1, 0, 1]"),
        ({"name": "Cu", "repeat": [2, 2]}, "repeat: List should have at least 3 items"),
    ],
)  # fmt: skip
def test_refusals_are_one_config_error_line(data, message):
    with pytest.raises(ConfigError) as info:
        _structure(**data)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_builder_and_file_sections_serialise_without_the_prototype_keys():
    # campaigns hash their run file's model_dump: a builder or file section must dump exactly as before
    old_keys = {"builder", "element", "a", "volume_per_atom", "size", "file"}
    assert set(_structure(builder="hcp", element="Ti", a=2.95).model_dump()) == old_keys
    assert set(_structure(file="POSCAR").model_dump(mode="json")) == old_keys
    assert set(_structure(file="POSCAR", repeat=[1, 2, 1]).model_dump()) == old_keys | {"repeat"}
    proto = _structure(name="CeO2", crystalstructure="fluorite", a=5.41, cubic=True, repeat=[1, 1, 1])
    dumped = proto.model_dump(mode="json")
    assert dumped["name"] == "CeO2" and dumped["cubic"] is True
    assert "size" not in dumped and validate_model(StructureConfig, dumped) == proto  # a dump validates again
    assert math.isclose(build_structure(proto).get_volume(), 5.41**3, rel_tol=1e-12)
