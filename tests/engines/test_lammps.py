"""LammpsSession: energies, forces, Hessians against analytic and independent references, error paths."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from scipy.spatial.transform import Rotation

from thermograd.engines import LammpsSession, Potential
from thermograd.errors import EngineError, InputError
from thermograd.structures import bcc

pytestmark = pytest.mark.lammps

A_FE = 2.8553


@pytest.fixture(scope="module")
def fe_session():
    with LammpsSession(bcc("Fe", a=A_FE, size=2), Potential.eam("Fe_mm.eam.fs", "Fe")) as session:
        yield session


@pytest.fixture(scope="module")
def mo_session():
    with LammpsSession(bcc("Mo", a=3.16, size=2), Potential.from_snap("Mo_Zuo_JPCA2020")) as session:
        yield session


def test_perfect_lattice_has_zero_forces(fe_session):
    energy, forces = fe_session.energy_forces(fe_session.atoms.positions)
    assert energy / 16 == pytest.approx(-4.1224, abs=1e-3)  # Mendelev 2003 BCC Fe near a_0
    assert np.abs(forces).max() < 1e-12


def test_forces_are_minus_energy_gradient(mo_session):
    rng = np.random.default_rng(7)
    x = mo_session.atoms.positions + rng.normal(0.0, 0.08, (16, 3))
    _, forces = mo_session.energy_forces(x)
    step = 1e-5
    for i, k in [(0, 0), (5, 1), (11, 2), (15, 0)]:
        xp, xm = x.copy(), x.copy()
        xp[i, k] += step
        xm[i, k] -= step
        grad = (mo_session.energy(xp) - mo_session.energy(xm)) / (2 * step)
        assert forces[i, k] == pytest.approx(-grad, abs=1e-7)


def test_positions_roundtrip_outside_box_and_velocities(mo_session):
    rng = np.random.default_rng(1)
    x = mo_session.atoms.positions + rng.normal(0.0, 0.05, (16, 3))
    x[3] += mo_session.cell[0] * 2 - mo_session.cell[2]  # far outside the box: wrapped, image flags kept
    e_wrapped = mo_session.energy(x)
    assert np.allclose(mo_session.get_positions(), x, atol=1e-12)
    x[3] -= mo_session.cell[0] * 2 - mo_session.cell[2]
    assert mo_session.energy(x) == pytest.approx(e_wrapped, abs=1e-10)
    v = rng.normal(size=(16, 3))
    mo_session.set_velocities(v)
    assert np.allclose(mo_session.get_velocities(), v)
    mo_session.set_velocities(np.zeros((16, 3)))
    assert mo_session.potential_energy() == pytest.approx(mo_session.energy(x))


def test_triclinic_rotated_and_left_handed_cells():
    """Energy is invariant and forces co-rotate for a general (rotated, left-handed) cell."""
    pot = Potential.eam("Fe_mm.eam.fs", "Fe")
    prim = bulk("Fe", "bcc", a=A_FE).repeat(3)  # rhombohedral primitive cell: triclinic rows
    rng = np.random.default_rng(3)
    x = prim.positions + rng.normal(0.0, 0.05, prim.positions.shape)
    with LammpsSession(prim, pot) as s:
        e0, f0 = s.energy_forces(x)
    rot = Rotation.from_euler("zyx", [0.3, -0.7, 1.1]).as_matrix()
    turned = prim.copy()
    turned.set_cell(prim.cell[:] @ rot.T)
    turned.positions = x @ rot.T
    with LammpsSession(turned, pot) as s:
        assert s.rotation is not None
        e1, f1 = s.energy_forces(x @ rot.T)
    assert e1 == pytest.approx(e0, abs=1e-9)
    assert np.allclose(f1, f0 @ rot.T, atol=1e-9)
    mirrored = prim.copy()
    mirrored.set_cell(prim.cell[[1, 0, 2]])  # same lattice, left-handed row order
    with LammpsSession(mirrored, pot) as s:
        e2, f2 = s.energy_forces(x)
    assert e2 == pytest.approx(e0, abs=1e-9)
    assert np.allclose(f2, f0, atol=1e-9)
    cubic = bcc("Fe", a=A_FE, size=3)
    with LammpsSession(cubic, pot) as s:
        e_cubic = s.energy(cubic.positions) / len(cubic)
    with LammpsSession(prim, pot) as s:
        assert s.energy(prim.positions) / len(prim) == pytest.approx(e_cubic, abs=1e-12)


def test_lj_dimer_hessian_is_analytic():
    eps, sigma, r = 0.0104, 3.4, 3.9
    atoms = Atoms("Ar2", positions=[[5.0, 5.0, 5.0], [5.0 + r, 5.0, 5.0]], cell=[20.0, 20.0, 20.0], pbc=True)
    pot = Potential.from_lammps("lj/cut 8.5", "1 1 0.0104 3.4", ["Ar"])
    with LammpsSession(atoms, pot) as s:
        h = s.hessian()
        h_dynmat = s.hessian(method="dynmat")
    sr6 = (sigma / r) ** 6
    d1 = 4 * eps * (-12 * sr6**2 + 6 * sr6) / r
    d2 = 4 * eps * (156 * sr6**2 - 42 * sr6) / r**2
    block = np.diag([d2, d1 / r, d1 / r])
    expected = np.block([[block, -block], [-block, block]])
    # central differences with a 1e-3 Å step carry an O(step²·U''''/6) ≈ 5e-6 relative truncation error here
    assert np.allclose(h, expected, rtol=2e-5, atol=1e-7 * abs(d2))
    assert np.allclose(h_dynmat, expected, rtol=2e-5, atol=1e-7 * abs(d2))


def test_eam_hessian_matches_phonopy_and_dynmat(fe_session):
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    atoms = fe_session.atoms
    h = fe_session.hessian()
    n = len(atoms)
    assert np.allclose(h, h.T, atol=0.0)
    assert np.abs(h.reshape(n, 3, n, 3).sum(axis=2)).max() < 1e-10  # acoustic sum rule
    unit = PhonopyAtoms(symbols=atoms.get_chemical_symbols(), cell=atoms.cell[:], positions=atoms.positions)
    phonon = Phonopy(unit, supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P")
    phonon.generate_displacements(distance=1e-3, is_plusminus=True)
    phonon.forces = [fe_session.energy_forces(sc.positions)[1] for sc in phonon.supercells_with_displacements]
    phonon.produce_force_constants()
    fc = phonon.force_constants.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)
    scale = np.abs(h).max()
    assert np.abs(fc - h).max() < 1e-4 * scale
    assert np.abs(fe_session.hessian(method="dynmat") - h).max() < 1e-4 * scale


def test_multi_element_types_and_masses():
    atoms = bcc("Fe", a=A_FE, size=2)
    atoms.symbols[[0, 5]] = "P"
    pot = Potential.eam("FeP_mm.eam.fs", ["Fe", "P"])
    with LammpsSession(atoms, pot) as s:
        assert list(s.types[:6]) == [2, 1, 1, 1, 1, 2]
        masses = s.lmp.numpy.extract_atom("mass")
        assert masses[1:3] == pytest.approx([55.845, 30.973762], rel=1e-4)
        e, f = s.energy_forces(atoms.positions)
    assert np.isfinite(e) and np.abs(f).max() > 1e-3  # the substitution breaks the symmetry of two sites


def test_bad_inputs():
    atoms = bcc("Fe", a=A_FE)
    with pytest.raises(InputError) as info:
        Potential.eam("Fe_mn.eam.fs", "Fe")
    assert "\n" not in str(info.value)
    with pytest.raises(EngineError, match="Unrecognized pair style 'nosuch/style'"):
        LammpsSession(atoms, Potential.from_lammps("nosuch/style 3.0", "* *", ["Fe"]))
    with pytest.raises(InputError, match="not described"):
        LammpsSession(atoms, Potential.eam("W_zhou.eam.alloy", "W"))
    with LammpsSession(atoms, Potential.eam("Fe_mm.eam.fs", "Fe")) as s:
        with pytest.raises(InputError, match="shape"):
            s.energy(np.zeros((3, 3)))
        with pytest.raises(EngineError, match="LAMMPS error"):
            s.command("fix 1 all nonexistent_fix")
        with pytest.raises(InputError, match="method"):
            s.hessian(method="magic")
    with pytest.raises(EngineError, match="closed"):
        s.command("run 0")


def test_lammps_rejects_corrupt_potential_file(tmp_path):
    bad = tmp_path / "broken.eam.fs"
    bad.write_text("comment\ncomment\ncomment\n1 Fe\nnot numbers at all\n")
    with pytest.raises(EngineError) as info:
        LammpsSession(bcc("Fe", a=A_FE), Potential.eam(bad, "Fe"))
    assert info.value.args[0].startswith("LAMMPS error:") and "\n" not in info.value.args[0]


def test_raw_md_through_commands():
    """The TI engineer drives MD through command(); a short NVE run conserves energy."""
    atoms = bcc("Fe", a=A_FE, size=2)
    with LammpsSession(atoms, Potential.eam("Fe_mm.eam.fs", "Fe")) as s:
        s.command("velocity all create 600 4928459 mom yes rot no dist gaussian")
        s.command("fix nve all nve\ntimestep 0.001\nthermo_style custom step pe ke etotal\nthermo 10")
        s.run0()
        e_start = s.lmp.get_thermo("etotal")
        s.command("run 200")
        assert s.lmp.get_thermo("etotal") == pytest.approx(e_start, abs=2e-4 * 16)
        x = s.get_positions()
        assert np.abs(x - atoms.positions).max() > 1e-3  # atoms moved, unwrapped coordinates stay close
        assert np.abs(x - atoms.positions).max() < 0.5
        e, f = s.energy_forces(x)
        assert e == pytest.approx(s.potential_energy())
        assert np.allclose(f, s.get_forces())
