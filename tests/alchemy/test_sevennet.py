"""SevenNet-0 backend: endpoint exactness, autograd against finite differences, invariances."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from thermograd.alchemy.derivatives import evaluate, stress_lambda_jacobian
from thermograd.alchemy.graph import build_graph
from thermograd.alchemy.system import AlchemicalGroup, AlchemicalSystem, substitution, vacancy
from thermograd.errors import InputError

pytestmark = pytest.mark.mlip


def _na(atoms):
    return [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Na"]


def _alch(backend, system, lam=None, policy="cross-group", atoms=None):
    atoms = system.atoms if atoms is None else atoms
    g = build_graph(atoms, backend.cutoff, policy, groups=system.groups)
    return evaluate(backend, g, atoms.positions, atoms.cell.array, system.lam if lam is None else lam)


def _plain(backend, atoms):
    g = build_graph(atoms, backend.cutoff)
    return evaluate(backend, g, atoms.positions, atoms.cell.array, np.zeros(0), alchemical=False)


def _assert_same(a, b, tol_e, tol_f):
    assert abs(float(a.energy) - float(b.energy)) < tol_e
    assert torch.allclose(a.forces, b.forces, atol=tol_f, rtol=0)
    assert torch.allclose(a.stress, b.stress, atol=tol_f, rtol=0)


@pytest.mark.parametrize(("lam", "species"), [((1.0, 0.0), "Na"), ((0.0, 1.0), "K")])
def test_endpoint_nacl_kcl_float64(sevennet64, nacl8_rattled, lam, species):
    sysm = substitution(nacl8_rattled, _na(nacl8_rattled), ["Na", "K"], lam)
    pure = sysm.endpoint_atoms()
    assert pure.get_chemical_symbols().count(species) == 4
    _assert_same(_alch(sevennet64, sysm), _plain(sevennet64, pure), 1e-8, 1e-8)


def test_plain_forward_matches_sevenn_calculator(sevennet32, nacl8):
    """The wrapper's own forward equals the unmodified SevenNet-0 calculator (float32)."""
    from sevenn.calculator import SevenNetCalculator

    calc = SevenNetCalculator("7net-0")
    for lam in ((1.0, 0.0), (0.0, 1.0)):
        sysm = substitution(nacl8, _na(nacl8), ["Na", "K"], lam)
        pure = sysm.endpoint_atoms()
        pure.calc = calc
        res = _alch(sevennet32, sysm)
        assert abs(float(res.energy) - pure.get_potential_energy()) < 1e-4
        assert np.allclose(res.forces.numpy(), pure.get_forces(), atol=1e-4)
        assert np.allclose(res.stress.numpy(), pure.get_stress(voigt=False), atol=1e-5)


@pytest.fixture(scope="module")
def fe54():
    return bulk("Fe", "bcc", a=2.83, cubic=True).repeat(3)


@pytest.mark.parametrize("dtype_tol", [("f32", 1e-4), pytest.param(("f64", 1e-8), marks=pytest.mark.slow)])
def test_endpoint_vacancy_fe54(request, fe54, dtype_tol):
    name, tol = dtype_tol
    backend = request.getfixturevalue("sevennet32" if name == "f32" else "sevennet64")
    site = 27
    for w, ref_atoms in ((1.0, fe54), (0.0, fe54[[i for i in range(54) if i != site]])):
        res = _alch(backend, vacancy(fe54, site, w))
        ref = _plain(backend, ref_atoms)
        assert abs(float(res.energy) - float(ref.energy)) < tol
        f = res.forces.numpy()
        if w == 0.0:
            f = np.delete(f, site, axis=0)
        assert np.allclose(f, ref.forces.numpy(), atol=10 * tol)
        assert np.allclose(res.stress.numpy(), ref.stress.numpy(), atol=10 * tol)


def test_two_sublattices_endpoint_exact_only_with_cross_group(sevennet64, perovskite, two_sublattice):
    """(Sr,Ba)(Ti,Zr)O3: the default policy is exact at every vertex; the paper's rule loses A–B bonds."""
    atoms = perovskite
    errors_paper = []
    for lam in ((1, 0, 1, 0), (0, 1, 0, 1), (1, 0, 0, 1)):
        sysm = two_sublattice(atoms, lam)
        ref = _plain(sevennet64, sysm.endpoint_atoms())
        _assert_same(_alch(sevennet64, sysm), ref, 1e-8, 1e-8)
        errors_paper.append(float(_alch(sevennet64, sysm, policy="paper").energy - ref.energy))
    # what the reference rule would have dropped: the 8 A–B bonds per cell (measured errors
    # +0.695, -0.338, -0.005 eV per 5-atom cell at the three vertices; printed with -s)
    print("paper-rule endpoint errors (eV):", errors_paper)
    assert min(abs(e) for e in errors_paper) > 1e-3


def _fd(fn, x, h):
    x = np.array(x, dtype=float)
    out = []
    for i in range(x.size):
        xp, xm = x.copy(), x.copy()
        xp.flat[i] += h
        xm.flat[i] -= h
        out.append((fn(xp) - fn(xm)) / (2 * h))
    return np.array(out)


def test_gradients_against_finite_differences(sevennet64, nacl8_rattled):
    atoms = nacl8_rattled
    sysm = substitution(atoms, _na(atoms), ["Na", "K"], (0.6, 0.4))
    g = build_graph(sysm, sevennet64.cutoff)
    pos, cell = atoms.positions, atoms.cell.array
    res = evaluate(sevennet64, g, pos, cell, sysm.lam)

    def energy(p=pos, c=cell, lam=sysm.lam):
        return float(evaluate(sevennet64, g, p, c, lam, forces=False, stress=False, alchemical=False).energy)

    # ∂E/∂λ (λ off the simplex is fine for the model)
    fd_lam = _fd(lambda lam: energy(lam=lam), sysm.lam, 1e-5)
    assert np.allclose(res.dE_dlam.numpy(), fd_lam, rtol=1e-6, atol=1e-6)
    # forces on two atoms (the graph stays valid for such small displacements)
    for i in (0, 3):
        fd = _fd(lambda r, i=i: energy(p=np.vstack([pos[:i], r, pos[i + 1 :]])), pos[i], 1e-5)
        assert np.allclose(-fd, res.forces[i].numpy(), atol=1e-6)
    # stress: σ = (1/V) ∂E/∂ε with ε applied to positions and cell
    vol = abs(np.linalg.det(cell))

    def strained(eps):
        eps = eps.reshape(3, 3)
        sym = 0.5 * (eps + eps.T)
        return energy(p=pos @ (np.eye(3) + sym), c=cell @ (np.eye(3) + sym))

    fd_s = _fd(strained, np.zeros(9), 1e-6).reshape(3, 3) / vol
    assert np.allclose(fd_s, res.stress.numpy(), atol=1e-7)
    # ∂σ/∂λ by double backprop
    _stress, jac = stress_lambda_jacobian(sevennet64, g, pos, cell, sysm.lam)

    def stress_at(lam, k):
        return float(
            evaluate(sevennet64, g, pos, cell, lam, forces=False, alchemical=False).stress.reshape(-1)[k]
        )

    for k in (0, 4, 5):
        fd = _fd(lambda lam, k=k: stress_at(lam, k), sysm.lam, 1e-5)
        assert np.allclose(jac.reshape(9, -1)[k].numpy(), fd, atol=1e-7)


def test_translation_and_permutation_invariance(sevennet64, nacl8_rattled):
    atoms = nacl8_rattled
    sysm = substitution(atoms, _na(atoms), ["Na", "K"], (0.3, 0.7))
    ref = _alch(sevennet64, sysm)
    moved = atoms.copy()
    moved.positions += np.array([0.3, -1.1, 2.2])
    res = _alch(sevennet64, substitution(moved, _na(moved), ["Na", "K"], (0.3, 0.7)))
    _assert_same(res, ref, 1e-9, 1e-8)
    perm = np.random.default_rng(3).permutation(len(atoms))
    permuted = atoms[perm]
    res = _alch(sevennet64, substitution(permuted, _na(permuted), ["Na", "K"], (0.3, 0.7)))
    assert abs(float(res.energy - ref.energy)) < 1e-9
    assert torch.allclose(res.forces, ref.forces[perm], atol=1e-8)
    assert torch.allclose(res.dE_dlam, ref.dE_dlam, atol=1e-8)


def test_energy_is_smooth_and_not_linear_in_lambda(sevennet64, nacl8):
    sysm = substitution(nacl8, _na(nacl8), ["Na", "K"])
    e = [float(_alch(sevennet64, sysm, lam=(1 - x, x)).energy) for x in (0.0, 0.5, 1.0)]
    assert abs(e[1] - 0.5 * (e[0] + e[2])) > 1e-3


def test_unknown_species_is_rejected(sevennet64, nacl8):
    from thermograd.alchemy.calculator import AlchemicalCalculator

    sysm = AlchemicalSystem(nacl8, [AlchemicalGroup((0,), "Na"), AlchemicalGroup((0,), "Fm")])
    with pytest.raises(InputError, match="Fm"):
        AlchemicalCalculator(sysm, backend=sevennet64)


def test_package_exports_the_one_cached_loader(sevennet64, sevennet32):
    import thermograd.alchemy as alchemy
    from thermograd.alchemy import sevennet

    assert alchemy.load_sevennet is sevennet.load_sevennet
    # dtype defaults to float64 whether left out or given as None; one instance per (model, dtype, device)
    assert alchemy.load_sevennet() is sevennet64 and alchemy.load_sevennet(dtype=None) is sevennet64
    assert alchemy.load_sevennet("7net-0", torch.float32, "cpu") is sevennet32


def test_unknown_species_is_one_line_naming_it(sevennet64):
    with pytest.raises(InputError) as info:
        sevennet64.check_species([11, 17, 118, 0])
    assert str(info.value) == f"species 0, Og unknown to SevenNet ({sevennet64.n_types} elements supported)"
