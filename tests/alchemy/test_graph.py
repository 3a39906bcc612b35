"""Graph expansion and system validation (no MLIP needed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from thermograd.alchemy.graph import batch_graphs, build_graph, edge_vectors, edge_weights, node_weights
from thermograd.alchemy.system import AlchemicalGroup, AlchemicalSystem, substitution, vacancy
from thermograd.errors import InputError


def _na_sites(atoms):
    return [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Na"]


def test_plain_graph_matches_neighbour_list(nacl8):
    g = build_graph(nacl8, 5.0)
    assert g.n_nodes == 8 and g.n_groups == 0
    assert torch.equal(g.node_site, torch.arange(8))
    assert torch.all(g.edge_weight_group == 0)
    # every Na has 6 Cl at a/2, 12 Na at a/√2 and 8 Cl at a√3/2 within 5 Å
    assert g.n_edges == 8 * 26
    d = edge_vectors(g, torch.tensor(nacl8.positions), torch.tensor(nacl8.cell.array)).norm(dim=1)
    assert float(d.min()) == pytest.approx(5.683 / 2)


def test_substitution_edge_counts_and_weights(nacl8):
    sysm = substitution(nacl8, _na_sites(nacl8), ["Na", "K"], [0.6, 0.4])
    g = build_graph(sysm, 5.0)
    # 4 Na sites x 2 copies + 4 Cl
    assert g.n_nodes == 12
    # Na-Na (48) -> same label only: 96; Na<-Cl (56) -> 112; Cl<-Na (56) -> 112; Cl-Cl (48)
    assert g.n_edges == 96 + 112 + 112 + 48
    lam = torch.tensor([0.6, 0.4], dtype=torch.float64)
    w_node = node_weights(g, lam)
    assert torch.allclose(w_node[g.node_group == 0], torch.ones(4, dtype=torch.float64))
    assert torch.allclose(w_node[g.node_group == 2], torch.full((4,), 0.4, dtype=torch.float64))
    omega = edge_weights(g, lam)
    recv_fixed = g.node_group[g.edge_index[0]] == 0
    send_alch = g.node_group[g.edge_index[1]] > 0
    # only messages from copies into fixed atoms are scaled, by the sender's weight
    scaled = recv_fixed & send_alch
    assert torch.allclose(omega[scaled], lam[g.node_group[g.edge_index[1]][scaled] - 1])
    assert torch.all(omega[~scaled] == 1)
    # copies of different labels are never connected, and there are no zero-length edges
    both = (g.node_group[g.edge_index[0]] > 0) & send_alch
    assert torch.all(g.node_group[g.edge_index[0]][both] == g.node_group[g.edge_index[1]][both])
    d = edge_vectors(g, torch.tensor(nacl8.positions), torch.tensor(nacl8.cell.array)).norm(dim=1)
    assert float(d.min()) > 1.0


def test_messages_are_consistent_with_edges(nacl8, perovskite, two_sublattice):
    """Each node edge carries the message of its (parent edge, sender); ω is a function of the message."""
    na = [i for i, s in enumerate(nacl8.get_chemical_symbols()) if s == "Na"]
    for g in (
        build_graph(substitution(nacl8, na, ["Na", "K"]), 5.0),
        build_graph(two_sublattice(perovskite), 5.0),
        build_graph(two_sublattice(perovskite), 5.0, policy="paper"),
    ):
        m = g.edge_message
        assert torch.equal(g.message_sender[m], g.edge_index[1])
        assert torch.equal(g.message_weight_group[m], g.edge_weight_group)
        assert torch.equal(g.parent_site_index[:, g.message_parent[m]], g.edge_site_index)
        assert torch.equal(g.parent_cell_shift[g.message_parent[m]], g.edge_cell_shift)
        assert g.message_parent.shape[0] < g.n_edges  # copies of a receiver share fixed senders' messages


def test_autograd_reaches_lambda(nacl8):
    g = build_graph(substitution(nacl8, _na_sites(nacl8), ["Na", "K"]), 5.0)
    lam = torch.tensor([0.3, 0.7], dtype=torch.float64, requires_grad=True)
    (node_weights(g, lam).sum() + edge_weights(g, lam).sum()).backward()
    assert torch.all(lam.grad > 0)


def test_self_image_edges_in_small_cell():
    # 2-atom bcc cell: each site sees its own periodic images; same-label copies stay connected
    atoms = bulk("Fe", "bcc", a=2.83, cubic=True)
    g = build_graph(AlchemicalSystem(atoms, [AlchemicalGroup((0,), "Fe"), AlchemicalGroup((0,), "Co")]), 5.0)
    self_edges = g.edge_site_index[0] == g.edge_site_index[1]
    assert self_edges.any()
    assert torch.all(g.node_group[g.edge_index[0]][self_edges] == g.node_group[g.edge_index[1]][self_edges])
    assert torch.all(g.edge_cell_shift[self_edges].abs().sum(1) > 0)


def test_paper_policy_drops_cross_sublattice_edges(perovskite, two_sublattice):
    atoms = perovskite
    sysm = two_sublattice(atoms)
    plain = build_graph(atoms, 5.0)
    a_b = int(((plain.edge_site_index[0] == 0) & (plain.edge_site_index[1] == 1)).sum())
    assert a_b == 8  # Sr sees 8 Ti at a√3/2
    paper = build_graph(sysm, 5.0, policy="paper")
    cross = build_graph(sysm, 5.0, policy="cross-group")
    is_ab = lambda g: (g.edge_site_index[0] == 0) & (g.edge_site_index[1] == 1)  # noqa: E731
    assert int(is_ab(paper).sum()) == 0
    # cross-group keeps every copy pair (2 x 2 per original edge), weighted by the sender's λ
    assert int(is_ab(cross).sum()) == 4 * a_b
    assert torch.all(
        cross.edge_weight_group[is_ab(cross)] == cross.node_group[cross.edge_index[1][is_ab(cross)]]
    )


def test_single_sublattice_policies_agree(nacl8):
    sysm = substitution(nacl8, _na_sites(nacl8), ["Na", "K"])
    a, b = build_graph(sysm, 5.0, policy="paper"), build_graph(sysm, 5.0, policy="cross-group")
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_weight_group, b.edge_weight_group)


def test_batch_graphs_offsets(nacl8):
    g = build_graph(substitution(nacl8, _na_sites(nacl8), ["Na", "K"]), 5.0)
    bg = batch_graphs([g, g, g])
    assert bg.n_nodes == 3 * g.n_nodes and bg.n_edges == 3 * g.n_edges and bg.n_groups == 6
    lam = torch.tensor([1.0, 0.0, 0.5, 0.5, 0.0, 1.0], dtype=torch.float64)
    w = node_weights(bg, lam)
    assert torch.allclose(w[bg.node_system == 1].sum(), torch.tensor(4.0 + 4.0, dtype=torch.float64))
    assert int(bg.node_site.max()) == 23


@pytest.mark.parametrize(
    ("groups", "constraints", "lam", "match"),
    [
        ([AlchemicalGroup((9,), "K")], None, None, "out of range"),
        ([AlchemicalGroup((0,), "Xx")], None, None, "unknown chemical symbol"),
        ([AlchemicalGroup((0,), "Na"), AlchemicalGroup((0,), "K")], None, [0.7, 0.7], "sum to 1"),
        ([AlchemicalGroup((0,), "Na"), AlchemicalGroup((0,), "K")], None, [1.2, -0.2], r"\[0, 1\]"),
        ([AlchemicalGroup((0,), "Na")], None, [1.5], r"\[0, 1\]"),
        ([AlchemicalGroup((0,), "Na"), AlchemicalGroup((0,), "K")], [(0,)], None, "exactly once"),
    ],
)
def test_system_validation(nacl8, groups, constraints, lam, match):
    with pytest.raises(InputError, match=match):
        AlchemicalSystem(nacl8, groups, constraints, None if lam is None else np.array(lam))


def test_constraints_inferred_and_masses(nacl8):
    sysm = substitution(nacl8, _na_sites(nacl8), ["Na", "K"], [0.5, 0.5])
    assert sysm.constraints == [(0, 1)]
    m = sysm.masses()
    assert m[0] == pytest.approx(0.5 * (22.98977 + 39.0983), rel=1e-4)
    assert m[1] == pytest.approx(35.45, rel=1e-3)
    vac = vacancy(nacl8, 1, 0.0)
    assert vac.masses()[1] == pytest.approx(35.45, rel=1e-3)  # the ghost keeps its mass
    assert len(vac.endpoint_atoms()) == 7
    with pytest.raises(InputError, match="policy"):
        build_graph(sysm, 5.0, policy="virtual-crystal")


def test_backend_species_check_names_every_unknown_species_on_one_line(nacl8):
    from thermograd.alchemy.calculator import check_backend_species

    class NaClOnly:
        name = "toy"

        def supported_numbers(self):
            return frozenset({11, 17})

    system = substitution(nacl8, [0, 2, 4, 6], ["Na", "K", "Li"], [0.8, 0.1, 0.1])
    with pytest.raises(InputError) as info:
        check_backend_species(NaClOnly(), system)
    assert str(info.value) == "species Li, K unknown to the toy backend"  # by atomic number: Li 3, K 19
    check_backend_species(NaClOnly(), substitution(nacl8, [0, 2], ["Na", "Na"], [0.5, 0.5]))
