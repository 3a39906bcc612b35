"""ASE calculator and batched API (SevenNet-0, float64, 8-atom NaCl)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thermograd.alchemy.calculator import AlchemicalCalculator, evaluate_compositions
from thermograd.alchemy.derivatives import evaluate
from thermograd.alchemy.graph import build_graph
from thermograd.alchemy.system import substitution
from thermograd.errors import InputError

pytestmark = pytest.mark.mlip


def _system(atoms, lam=(0.7, 0.3)):
    na = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Na"]
    return substitution(atoms, na, ["Na", "K"], lam)


def test_calculator_results_and_lambda_attribute(sevennet64, nacl8_rattled):
    atoms = nacl8_rattled.copy()
    system = _system(atoms)
    atoms.calc = AlchemicalCalculator(system, backend=sevennet64)
    e1 = atoms.get_potential_energy()
    g = build_graph(system, sevennet64.cutoff)
    ref = evaluate(sevennet64, g, atoms.positions, atoms.cell.array, system.lam)
    assert e1 == pytest.approx(float(ref.energy), abs=1e-10)
    assert np.allclose(atoms.get_forces(), ref.forces.numpy(), atol=1e-10)
    s = ref.stress.numpy()
    assert np.allclose(atoms.get_stress(), [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]], atol=1e-12)
    assert np.allclose(atoms.calc.get_alchemical_grad(atoms), ref.dE_dlam.numpy(), atol=1e-10)
    # λ is a settable attribute; setting it clears the cached results and is validated
    atoms.calc.lam = [0.2, 0.8]
    assert atoms.get_potential_energy() != pytest.approx(e1)
    with pytest.raises(InputError, match="sum to 1"):
        atoms.calc.lam = [0.5, 0.6]
    # a geometry change rebuilds the graph
    builds = atoms.calc.n_graph_builds
    atoms.set_cell(atoms.cell * 1.02, scale_atoms=True)
    atoms.get_potential_energy()
    assert atoms.calc.n_graph_builds == builds + 1


def test_batched_equals_single(sevennet64, nacl8_rattled):
    system = _system(nacl8_rattled)
    lams = np.array([[1.0, 0.0], [0.5, 0.5], [0.1, 0.9]])
    out = evaluate_compositions(system, lams, backend=sevennet64)
    g = build_graph(system, sevennet64.cutoff)
    for b, lam in enumerate(lams):
        ref = evaluate(sevennet64, g, nacl8_rattled.positions, nacl8_rattled.cell.array, lam)
        assert float(out["energy"][b]) == pytest.approx(float(ref.energy), abs=1e-9)
        assert torch.allclose(out["forces"][b], ref.forces, atol=1e-9)
        assert torch.allclose(out["stress"][b], ref.stress, atol=1e-10)
        assert torch.allclose(out["dE_dlam"][b], ref.dE_dlam, atol=1e-9)
    with pytest.raises(InputError, match="sum to 1"):
        evaluate_compositions(system, [[0.5, 0.6]], backend=sevennet64)


def test_masses_interpolated_in_relaxation(sevennet64, nacl8):
    from thermograd.alchemy.workflows import relax

    system = _system(nacl8, (0.5, 0.5))
    atoms, _steps, _converged = relax(system, sevennet64, cell=True, fmax=0.05, steps=20)
    assert atoms.get_masses()[0] == pytest.approx(0.5 * (22.98977 + 39.0983), rel=1e-4)
    assert atoms.cell.lengths()[0] > 5.683  # K expands the lattice
