"""CsPbI₃ / CsSnI₃ α and δ structures, the Morse model that holds them, and the Pb → Sn path end points."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.neighborlist import neighbor_list

from thermograd.alchemy.md import AlchemicalPath, MLIPPotential
from thermograd.alchemy.perovskites import (
    b_sites,
    cspbi3_alpha,
    cspbi3_delta,
    cspbi3_morse,
    relax_positions,
)
from thermograd.alchemy.system import substitution
from thermograd.errors import InputError
from thermograd.md.engine import BatchedLangevin
from thermograd.md.hamiltonians import Static, as_tensor

spglib = pytest.importorskip("spglib")


def _space_group(atoms) -> int:
    ds = spglib.get_symmetry_dataset(
        (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=1e-3
    )
    return int(ds.number if hasattr(ds, "number") else ds["number"])


def _pairs(atoms, a: str, b: str, rmax: float):
    i, j, d = neighbor_list("ijd", atoms, rmax)
    s = np.array(atoms.get_chemical_symbols())
    m = (s[i] == a) & (s[j] == b)
    return i[m], d[m]


@pytest.mark.parametrize("b", ["Pb", "Sn"])
def test_delta_structure(b):
    """δ (NH₄CdCl₃ type): 20 atoms, Cs4B4I12, Pnma, each B in an octahedron of 6 I, Cs–I ≥ 3.7 Å.

    B–I of mp-540839 (PBE, ≈ 2 % larger than experiment): 3.09, 3.26 (2), 3.30 (2), 3.43 Å."""
    at = cspbi3_delta(b_site=b)
    assert len(at) == 20
    assert at.get_chemical_formula(mode="hill") == f"Cs4I12{b}4"
    assert _space_group(at) == 62
    i, d = _pairs(at, b, "I", 3.6)
    assert sorted(np.bincount(i, minlength=20)[b_sites(at)]) == [6, 6, 6, 6]
    assert 3.0 <= d.min() and d.max() <= 3.45
    assert 3.2 <= np.median(d) <= 3.3
    _, dcs = _pairs(at, "Cs", "I", 6.0)
    assert dcs.min() >= 3.7
    # edge-sharing octahedra: B–B across a shared edge (≈ 4.75 Å) is shorter than b (corner sharing would be 2·B–I)
    _, dbb = _pairs(at, b, b, 6.0)
    assert dbb.min() < 4.8


def test_alpha_structure_and_order():
    at = cspbi3_alpha(a=6.3, repeat=(2, 2, 2), b_site="Sn")
    assert len(at) == 40 and _space_group(at) == 221
    assert at.get_chemical_symbols()[:8] == ["Cs"] * 8 and at.get_chemical_symbols()[8:16] == ["Sn"] * 8
    assert b_sites(at) == list(range(8, 16))
    _, d = _pairs(at, "Sn", "I", 3.6)
    np.testing.assert_allclose(d, 3.15, atol=1e-12)
    assert len(d) == 6 * 8
    # the Sn structure is the Pb one with the B species changed
    pb = cspbi3_alpha(a=6.3, repeat=(2, 2, 2))
    np.testing.assert_array_equal(pb.positions, at.positions)
    d_pb, d_sn = cspbi3_delta(repeat=(1, 2, 1)), cspbi3_delta(repeat=(1, 2, 1), b_site="Sn")
    np.testing.assert_array_equal(d_pb.positions, d_sn.positions)
    assert len(d_pb) == 40 and b_sites(d_pb) == b_sites(d_sn) == list(range(8, 16))


@pytest.mark.parametrize(
    "call, msg",
    [
        (lambda: cspbi3_alpha(b_site="Ge"), "b_site must be one of ('Pb', 'Sn'), got 'Ge'"),
        (lambda: cspbi3_delta(repeat=(1, 0, 1)), "repeat must be three integers >= 1"),
        (lambda: cspbi3_alpha(a=-1.0), "lattice parameter must be > 0"),
    ],
)
def test_bad_input(call, msg):
    with pytest.raises(InputError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        call()


@pytest.mark.parametrize(
    "phase, b",
    [("alpha", "Pb"), ("delta", "Pb"), ("alpha", "Sn"), ("delta", "Sn")],
)
def test_morse_holds_both_phases_at_300k(phase, b):
    """Fixed cell, 300 K, 2 replicas × 800 steps of 4 fs from the relaxed sites: every atom stays within 1 Å of
    its site (3000-step runs reach at most 0.81 Å) and the relaxed δ keeps Pnma."""
    be = cspbi3_morse()
    at = cspbi3_alpha(repeat=(2, 2, 2), b_site=b) if phase == "alpha" else cspbi3_delta(b_site=b)
    rel = relax_positions(at, be)
    assert rel.info["converged"]
    shift = np.linalg.norm(rel.positions - at.positions, axis=1).max()
    assert shift < 0.3  # the Morse minimum is close to the SevenNet/PBE structure
    assert _space_group(rel) == (221 if phase == "alpha" else 62)
    eng = BatchedLangevin(Static(MLIPPotential(be, rel)), timestep=0.004, damping=0.2, max_displacement=1.0)
    st = eng.initial_state(rel.positions, rel.cell[:], rel.get_masses(), 300.0, [11, 12])
    st, seg = eng.run(st, np.zeros(801), 300.0)  # raises UnstableStructureError beyond 1 Å
    assert np.all(seg.max_displacement < 1.0)
    assert np.all(np.sqrt(seg.msd_sites.mean(1)) < 0.4)
    # thermalised: mean kinetic temperature near 300 K (800 steps, 2 replicas: a loose statistical bound)
    assert np.all(np.abs(seg.temperature - 300.0) < 60.0)


@pytest.mark.parametrize("phase", ["alpha", "delta"])
def test_pb_to_sn_path_end_points_exact(phase):
    """The alchemical Pb → Sn path over the B sites equals the plain Pb structure at s = 0 and the Sn one at
    s = 1 (energies to 1e-9 eV, forces to 1e-9 eV/Å), and its masses are those of the end members."""
    be = cspbi3_morse()
    build = cspbi3_alpha if phase == "alpha" else cspbi3_delta
    pb, sn = build(b_site="Pb"), build(b_site="Sn")
    path = AlchemicalPath(be, substitution(pb, b_sites(pb), ["Pb", "Sn"]), [1.0, 0.0], [0.0, 1.0])
    rng = np.random.default_rng(3)
    x = as_tensor(pb.positions[None] + rng.normal(0.0, 0.1, (2, len(pb), 3)))
    h = as_tensor(pb.cell[:]).expand(2, 3, 3).clone()
    ev = path.evaluate(x, h, torch.tensor([0.0, 1.0], dtype=torch.float64))
    e_pb, f_pb, _ = MLIPPotential(be, pb).evaluate(x[:1], h[:1])
    e_sn, f_sn, _ = MLIPPotential(be, sn).evaluate(x[1:], h[1:])
    assert abs(float(ev.energy[0] - e_pb[0])) < 1e-9
    assert abs(float(ev.energy[1] - e_sn[0])) < 1e-9
    assert float((ev.forces[0] - f_pb[0]).abs().max()) < 1e-9
    assert float((ev.forces[1] - f_sn[0]).abs().max()) < 1e-9
    assert abs(float(e_sn[0] - e_pb[0])) > 0.1  # the two end members differ, so the check has teeth
    m = path.masses(torch.tensor([0.0, 1.0], dtype=torch.float64)).numpy()
    np.testing.assert_allclose(m[0], pb.get_masses(), rtol=1e-12)
    np.testing.assert_allclose(m[1], sn.get_masses(), rtol=1e-12)
