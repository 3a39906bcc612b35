"""Fixtures for the alchemical tests: small cells and one cached SevenNet-0 backend per precision."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from thermograd.alchemy.system import AlchemicalGroup, AlchemicalSystem


@pytest.fixture(scope="session")
def sevennet64():
    pytest.importorskip("sevenn")
    import torch

    from thermograd.alchemy.sevennet import load_sevennet

    return load_sevennet(dtype=torch.float64)


@pytest.fixture(scope="session")
def sevennet32():
    pytest.importorskip("sevenn")
    import torch

    from thermograd.alchemy.sevennet import load_sevennet

    return load_sevennet(dtype=torch.float32)


@pytest.fixture()
def nacl8():
    """8-atom conventional rocksalt NaCl, a = 5.683 Å (Na on even indices)."""
    return bulk("NaCl", "rocksalt", a=5.683, cubic=True)


@pytest.fixture()
def nacl8_rattled(nacl8):
    atoms = nacl8.copy()
    atoms.positions += np.random.default_rng(7).normal(scale=0.05, size=atoms.positions.shape)
    return atoms


@pytest.fixture()
def perovskite():
    """5-atom cubic SrTiO3, a = 3.9 Å (Sr 0, Ti 1, O 2-4)."""
    return Atoms(
        "SrTiO3",
        cell=np.eye(3) * 3.9,
        pbc=True,
        scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
    )


@pytest.fixture()
def two_sublattice():
    """Factory: (Sr,Ba)(Ti,Zr)O3, two independently mixed sublattices with one simplex each."""

    def make(atoms, lam=(1.0, 0.0, 1.0, 0.0)):
        groups = [
            AlchemicalGroup((0,), "Sr"),
            AlchemicalGroup((0,), "Ba"),
            AlchemicalGroup((1,), "Ti"),
            AlchemicalGroup((1,), "Zr"),
        ]
        return AlchemicalSystem(atoms, groups, [(0, 1), (2, 3)], np.array(lam, dtype=float))

    return make
