"""MACE alchemical backend on random-weight ScaleShiftMACE models (float64, milliseconds per call).

Endpoint exactness against mace's own forward on the pure structure, autograd against central finite
differences, and invariances (translation, site permutation, batching).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

pytest.importorskip("mace")

from thermograd.alchemy.derivatives import AlchemicalBackend, evaluate, stress_lambda_jacobian
from thermograd.alchemy.graph import batch_graphs, build_graph
from thermograd.alchemy.mace import MaceAlchemicalBackend, random_mace_model
from thermograd.alchemy.system import AlchemicalGroup, AlchemicalSystem, substitution, vacancy
from thermograd.errors import EngineError, InputError

pytestmark = pytest.mark.mlip

F64 = torch.float64


@pytest.fixture(scope="module")
def nakcl():
    return MaceAlchemicalBackend.random(["Na", "K", "Cl", "Br"], seed=3)


@pytest.fixture(scope="module")
def fe():
    return MaceAlchemicalBackend.random(["Fe"], seed=5)


@pytest.fixture(scope="module")
def zbl():
    return MaceAlchemicalBackend.random(["Na", "K", "Cl"], seed=11, pair_repulsion=True)


def _rattled(atoms, seed, scale=0.05):
    atoms = atoms.copy()
    atoms.positions += np.random.default_rng(seed).normal(scale=scale, size=atoms.positions.shape)
    return atoms


@pytest.fixture(scope="module")
def nacl():
    """8-atom rocksalt NaCl, rattled so forces and off-diagonal stress are non-zero."""
    return _rattled(bulk("NaCl", "rocksalt", a=5.683, cubic=True), seed=7)


@pytest.fixture(scope="module")
def fe16():
    """16-atom bcc Fe (2×2×2 conventional cells), rattled."""
    return _rattled(bulk("Fe", "bcc", a=2.86, cubic=True).repeat(2), seed=9)


def _sites(atoms, symbol):
    return [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == symbol]


def _eval(backend, system, lam, policy="cross-group", **kw):
    graph = build_graph(system, backend.cutoff, policy=policy)
    atoms = system.atoms
    return evaluate(
        backend,
        graph,
        torch.tensor(atoms.positions),
        torch.tensor(atoms.cell.array),
        torch.tensor(lam, dtype=F64),
        **kw,
    )


def _assert_matches_plain(backend, res, atoms, keep=None):
    ref = backend.plain_results(atoms)
    assert abs(float(res.energy) - ref.energy) < 1e-8
    forces = res.forces.numpy() if keep is None else res.forces.numpy()[keep]
    np.testing.assert_allclose(forces, ref.forces, atol=1e-8, rtol=0)
    np.testing.assert_allclose(res.stress.numpy(), ref.stress, atol=1e-8, rtol=0)


# ---------------------------------------------------------------------------------------------- conventions
def test_edges_are_converted_to_mace_convention(nakcl, nacl):
    """Same (sender, receiver, vector) multiset as mace's own neighbour list; energy tests cannot see a sign
    error because an O(3)-equivariant energy is invariant under inverting every edge vector."""
    from mace.data.neighborhood import get_neighborhood

    from thermograd.alchemy.graph import edge_vectors

    graph = build_graph(nacl, nakcl.cutoff)
    ours_index = graph.edge_index.flip(0).numpy()
    ours_vec = -edge_vectors(graph, torch.tensor(nacl.positions), torch.tensor(nacl.cell.array)).numpy()
    index, shifts, _, _ = get_neighborhood(nacl.positions, nakcl.cutoff, tuple(nacl.pbc), nacl.cell.array)
    mace_vec = nacl.positions[index[1]] - nacl.positions[index[0]] + shifts

    def rows(idx, vec):
        return np.array(sorted(zip(idx[0], idx[1], *np.round(vec, 9).T, strict=True)))

    np.testing.assert_allclose(rows(ours_index, ours_vec), rows(index, mace_vec), atol=1e-8)


# ---------------------------------------------------------------------------------------------- endpoints
@pytest.mark.parametrize("lam", [(1.0, 0.0), (0.0, 1.0)])
def test_substitution_endpoints_equal_plain_model(nakcl, nacl, lam):
    system = substitution(nacl, _sites(nacl, "Na"), ["Na", "K"], lam)
    res = _eval(nakcl, system, lam)
    pure = system.endpoint_atoms()
    assert pure.get_chemical_symbols().count("K") == 4 * int(lam[1])
    _assert_matches_plain(nakcl, res, pure)


@pytest.mark.parametrize("w", [1.0, 0.0])
def test_vacancy_endpoints_equal_plain_model(fe, fe16, w):
    site = 5
    system = vacancy(fe16, site, w)
    res = _eval(fe, system, [w])
    if w == 1.0:
        _assert_matches_plain(fe, res, fe16)
        return
    keep = np.arange(len(fe16)) != site
    _assert_matches_plain(fe, res, fe16[keep], keep=keep)
    # the ghost still receives messages, but nothing depends on its position
    assert float(res.forces[site].abs().max()) == 0.0


@pytest.mark.parametrize("lam", [(1.0, 0.0), (0.0, 1.0)])
def test_pair_repulsion_endpoints_equal_plain_model(zbl, nacl, lam):
    assert hasattr(zbl.model, "pair_repulsion")
    system = substitution(nacl, _sites(nacl, "Na"), ["Na", "K"], lam)
    _assert_matches_plain(zbl, _eval(zbl, system, lam), system.endpoint_atoms())


def test_pair_repulsion_vacancy_ghost_drops_out(zbl, nacl):
    system = vacancy(nacl, 2, 0.0)
    keep = np.arange(len(nacl)) != 2
    _assert_matches_plain(zbl, _eval(zbl, system, [0.0]), nacl[keep], keep=keep)


def test_two_independent_sublattices_are_endpoint_exact(nakcl, nacl):
    """(Na,K)(Cl,Br): the default cross-group policy keeps the cation–anion messages at every corner."""
    na, cl = _sites(nacl, "Na"), _sites(nacl, "Cl")
    groups = [
        AlchemicalGroup(na, "Na"),
        AlchemicalGroup(na, "K"),
        AlchemicalGroup(cl, "Cl"),
        AlchemicalGroup(cl, "Br"),
    ]
    for lam in ([1, 0, 1, 0], [1, 0, 0, 1], [0, 1, 1, 0], [0, 1, 0, 1]):
        system = AlchemicalSystem(nacl, groups, lam=np.array(lam, dtype=float))
        _assert_matches_plain(nakcl, _eval(nakcl, system, lam), system.endpoint_atoms())
    # the paper's rule drops every cation–anion edge, so its endpoint is not the pure crystal
    paper = _eval(nakcl, system, lam, policy="paper", forces=False, stress=False, alchemical=False)
    assert abs(float(paper.energy) - nakcl.plain_energy(system.endpoint_atoms())) > 1e-3


def test_float32_endpoint_within_1e_4(nacl):
    backend = MaceAlchemicalBackend.random(["Na", "K", "Cl"], seed=3, dtype=torch.float32)
    system = substitution(nacl, _sites(nacl, "Na"), ["Na", "K"], [0.0, 1.0])
    res = _eval(backend, system, [0.0, 1.0])
    assert res.energy.dtype == torch.float32
    assert abs(float(res.energy) - backend.plain_energy(system.endpoint_atoms())) < 1e-4


# ---------------------------------------------------------------------------------------------- gradients
def _energy(backend, system, lam, positions=None, cell=None):
    atoms = system.atoms.copy()
    if positions is not None:
        atoms.positions = positions
    if cell is not None:
        atoms.set_cell(cell, scale_atoms=False)
    moved = AlchemicalSystem(atoms, system.groups, system.constraints, system.lam)
    graph = build_graph(moved, backend.cutoff)
    with torch.no_grad():
        return float(
            backend.energy(
                graph,
                torch.tensor(atoms.positions),
                torch.tensor(atoms.cell.array),
                torch.tensor(lam, dtype=F64),
            )
        )


@pytest.mark.parametrize("case", ["substitution", "vacancy"])
def test_dE_dlam_matches_central_differences(nakcl, fe, nacl, fe16, case):
    if case == "substitution":
        backend, lam = nakcl, np.array([0.6, 0.4])
        system = substitution(nacl, _sites(nacl, "Na"), ["Na", "K"], lam)
    else:
        backend, lam = fe, np.array([0.4])
        system = vacancy(fe16, 3, 0.4)
    grad = _eval(backend, system, lam).dE_dlam.numpy()
    h = 1e-5
    fd = []
    for g in range(len(lam)):
        step = np.eye(len(lam))[g] * h
        fd.append((_energy(backend, system, lam + step) - _energy(backend, system, lam - step)) / (2 * h))
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-8)


def test_dE_dlam_is_finite_and_nonlinear_between_endpoints(nakcl, nacl):
    system = substitution(nacl, _sites(nacl, "Na"), ["Na", "K"])
    grads = [_eval(nakcl, system, [1 - x, x]).dE_dlam.numpy() for x in (0.0, 0.5, 1.0)]
    assert np.all(np.isfinite(grads))
    energies = [_energy(nakcl, system, np.array([1 - x, x])) for x in (0.0, 0.5, 1.0)]
    assert abs(energies[1] - 0.5 * (energies[0] + energies[2])) > 1e-6


def test_forces_and_stress_match_central_differences(nakcl, nacl):
    lam = np.array([0.3, 0.7])
    system = substitution(nacl, _sites(nacl, "Na"), ["Na", "K"], lam)
    res = _eval(nakcl, system, lam)
    h = 1e-5
    pos0, cell0 = nacl.positions.copy(), nacl.cell.array.copy()
    for atom, axis in [(0, 0), (1, 2), (6, 1)]:
        dp = np.zeros_like(pos0)
        dp[atom, axis] = h
        e_p = _energy(nakcl, system, lam, positions=pos0 + dp)
        e_m = _energy(nakcl, system, lam, positions=pos0 - dp)
        assert float(res.forces[atom, axis]) == pytest.approx(-(e_p - e_m) / (2 * h), rel=1e-6, abs=1e-8)
    volume = abs(np.linalg.det(cell0))
    for i, j in [(0, 0), (1, 2), (2, 1), (0, 1)]:
        eps = np.zeros((3, 3))
        eps[i, j] = eps[j, i] = h / 2 if i != j else h
        e_p = _energy(nakcl, system, lam, positions=pos0 @ (np.eye(3) + eps), cell=cell0 @ (np.eye(3) + eps))
        e_m = _energy(nakcl, system, lam, positions=pos0 @ (np.eye(3) - eps), cell=cell0 @ (np.eye(3) - eps))
        fd = (e_p - e_m) / (2 * h) / volume
        assert float(res.stress[i, j]) == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_stress_lambda_jacobian_matches_central_differences(nakcl, nacl):
    lam = np.array([0.5, 0.5])
    system = substitution(nacl, _sites(nacl, "Na"), ["Na", "K"], lam)
    graph = build_graph(system, nakcl.cutoff)
    pos, cell = torch.tensor(nacl.positions), torch.tensor(nacl.cell.array)
    _, jac = stress_lambda_jacobian(nakcl, graph, pos, cell, torch.tensor(lam))
    h = 1e-5
    for g in range(2):
        step = np.eye(2)[g] * h
        s_p, s_m = (
            evaluate(
                nakcl, graph, pos, cell, torch.tensor(lam + sign * step), forces=False, alchemical=False
            ).stress
            for sign in (1, -1)
        )
        np.testing.assert_allclose(jac[..., g].numpy(), ((s_p - s_m) / (2 * h)).numpy(), rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------------------------- invariances
def test_translation_invariance(nakcl, nacl):
    lam = [0.6, 0.4]
    system = substitution(nacl, _sites(nacl, "Na"), ["Na", "K"], lam)
    moved = nacl.copy()
    moved.positions += np.array([0.37, -1.21, 2.93])
    res0 = _eval(nakcl, system, lam)
    res1 = _eval(nakcl, substitution(moved, _sites(moved, "Na"), ["Na", "K"], lam), lam)
    assert float(res1.energy) == pytest.approx(float(res0.energy), abs=1e-10)
    np.testing.assert_allclose(res1.forces.numpy(), res0.forces.numpy(), atol=1e-10)
    np.testing.assert_allclose(res1.dE_dlam.numpy(), res0.dE_dlam.numpy(), atol=1e-10)
    np.testing.assert_allclose(res1.stress.numpy(), res0.stress.numpy(), atol=1e-12)


def test_site_permutation_invariance(nakcl, nacl):
    lam = [0.6, 0.4]
    perm = np.random.default_rng(1).permutation(len(nacl))
    res0 = _eval(nakcl, substitution(nacl, _sites(nacl, "Na"), ["Na", "K"], lam), lam)
    shuffled = nacl[perm]
    res1 = _eval(nakcl, substitution(shuffled, _sites(shuffled, "Na"), ["Na", "K"], lam), lam)
    assert float(res1.energy) == pytest.approx(float(res0.energy), abs=1e-10)
    np.testing.assert_allclose(res1.forces.numpy(), res0.forces.numpy()[perm], atol=1e-10)
    np.testing.assert_allclose(res1.dE_dlam.numpy(), res0.dE_dlam.numpy(), atol=1e-10)


def test_batched_graph_gives_per_system_energies(nakcl, nacl):
    system = substitution(nacl, _sites(nacl, "Na"), ["Na", "K"])
    graph = build_graph(system, nakcl.cutoff)
    lams = [np.array([0.8, 0.2]), np.array([0.1, 0.9])]
    pos, cell = torch.tensor(nacl.positions), torch.tensor(nacl.cell.array)
    single = [evaluate(nakcl, graph, pos, cell, torch.tensor(lam)) for lam in lams]
    batched = evaluate(
        nakcl, batch_graphs([graph, graph]), torch.cat([pos, pos]), cell, torch.tensor(np.concatenate(lams))
    )
    np.testing.assert_allclose(batched.energy.numpy(), [float(r.energy) for r in single], atol=1e-10)
    np.testing.assert_allclose(
        batched.dE_dlam.numpy(), np.concatenate([r.dE_dlam.numpy() for r in single]), atol=1e-10
    )


# ---------------------------------------------------------------------------------------------- construction
def test_species_properties_and_unknown_species(nakcl, nacl):
    assert isinstance(nakcl, AlchemicalBackend)
    assert nakcl.dtype == F64 and nakcl.name == "mace"
    assert nakcl.species == ("Na", "Cl", "K", "Br")
    assert nakcl.z_table == (11, 17, 19, 35)
    assert nakcl.supported_numbers() == frozenset({11, 17, 19, 35})
    assert nakcl.cutoff == pytest.approx(5.0)
    with pytest.raises(InputError, match="Li"):
        nakcl.check_species([11, 3])
    system = substitution(nacl, _sites(nacl, "Na"), ["Na", "Li"], [0.5, 0.5])
    with pytest.raises(InputError, match="Li"):
        _eval(nakcl, system, [0.5, 0.5])


def test_random_model_is_reproducible_and_leaves_global_rng_alone(nacl):
    state = torch.random.get_rng_state()
    tiny = {"channels": 4, "max_ell": 1, "hidden_l": 0, "correlation": 1}
    a = MaceAlchemicalBackend.random(["Na", "Cl"], seed=2, **tiny)
    b = MaceAlchemicalBackend.random(["Na", "Cl"], seed=2, **tiny)
    c = MaceAlchemicalBackend.random(["Na", "Cl"], seed=4, **tiny)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.plain_energy(nacl) == b.plain_energy(nacl) != c.plain_energy(nacl)
    with pytest.raises(InputError, match="channel"):
        random_mace_model(["Na"], channel=8)


def test_from_file_round_trip(tmp_path, nacl):
    model = random_mace_model(["Na", "K", "Cl"], seed=6)
    path = tmp_path / "random.model"
    torch.save(model, path)
    loaded = MaceAlchemicalBackend.from_file(path)
    assert loaded.plain_energy(nacl) == MaceAlchemicalBackend(model).plain_energy(nacl)
    with pytest.raises(InputError, match="not found"):
        MaceAlchemicalBackend.from_file(tmp_path / "missing.model")
    torch.save({"not": "a model"}, tmp_path / "dict.model")
    with pytest.raises(EngineError, match="dict"):
        MaceAlchemicalBackend.from_file(tmp_path / "dict.model")
    with pytest.raises(InputError, match="head"):
        MaceAlchemicalBackend(model, head="nope")
