"""MACE backend for alchemical graphs: composition weights enter a ``ScaleShiftMACE`` in exactly two places.

For node a with weight w_a and edge b→a with weight ω_ab (see :mod:`thermograd.alchemy.graph`),

    A_a^(t) = (1/n̄) Σ_{b→a} ω_ab · TP(W h_b^(t), Y(r̂_ab); R^(t)(|r_ab|)),      E = Σ_a w_a ε_a,

i.e. (a) the per-edge tensor-product weights of every interaction block are multiplied by ω_ab (mace ≥ 0.3.10
blocks accept a per-edge factor ``cutoff`` that multiplies them; we pass cutoff·ω, or ω alone when the radial
embedding has already applied the envelope), and (b) the node energies ε_a = E0(z_a) + s·(Σ_t readout_t) + μ
are multiplied by w_a before the sum. Node species are pure one-hots, n̄ is unchanged, and a ZBL pair term
(if the model has one) is weighted per edge by ω_ab. At one-hot λ this is the unmodified model on the pure
structure.

Nam, Peng, Gómez-Bombarelli, Nat. Commun. 16 (2025), doi:10.1038/s41467-025-59543-2; MACE: Batatia et al.,
NeurIPS 2022.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.data import chemical_symbols

from ..errors import EngineError, InputError
from .derivatives import check_species
from .graph import AlchemicalGraph, edge_vectors, edge_weights, node_weights

#: sizes of MACE-MP-0 "small" (Batatia et al., arXiv:2401.00096): 128 scalar channels, L = 0 node features;
#: n̄ is of the order of MP-0's (the exact value only rescales messages of a random model)
MP0_SMALL_HPARAMS: dict[str, Any] = {
    "channels": 128,
    "max_ell": 3,
    "hidden_l": 0,
    "correlation": 3,
    "num_interactions": 2,
    "r_max": 6.0,
    "num_bessel": 10,
    "num_polynomial_cutoff": 5,
    "radial_mlp": (64, 64, 64),
    "mlp_channels": 16,
    "avg_num_neighbors": 61.96,
}

#: a few-millisecond model with the same architecture, for tests (float64 checks run in milliseconds)
SMALL_TEST_HPARAMS: dict[str, Any] = {
    "channels": 8,
    "max_ell": 2,
    "hidden_l": 1,
    "correlation": 2,
    "num_interactions": 2,
    "r_max": 5.0,
    "num_bessel": 6,
    "num_polynomial_cutoff": 5,
    "radial_mlp": (16, 16),
    "mlp_channels": 8,
    "avg_num_neighbors": 30.0,
}


def _import_mace():
    try:
        from mace import modules
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EngineError(
            "the MACE backend needs mace-torch and its runtime dependencies (pip install 'thermograd[mace]', "
            f"then mace-torch with --no-deps; see the docs for the e3nn constraint): {exc}"
        ) from exc
    return modules


@contextlib.contextmanager
def _default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Temporarily set torch's default dtype (mace builds buffers and graph tensors with it)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def random_mace_model(
    z_table: Sequence[int | str],
    seed: int = 0,
    *,
    dtype: torch.dtype = torch.float64,
    pair_repulsion: bool = False,
    **hparams: Any,
) -> torch.nn.Module:
    """A ``ScaleShiftMACE`` with MACE-MP-0 architecture and random weights, for tests and benchmarks.

    The architecture follows MP-0 (non-residual first interaction, residual later ones, Bessel radial basis
    with polynomial envelope, symmetric contraction, non-linear last readout); sizes default to
    :data:`SMALL_TEST_HPARAMS`; pass ``**MP0_SMALL_HPARAMS`` for MP-0-small size. Weights are drawn from
    torch's initialisers under ``seed`` without touching the global RNG state; E0 are drawn in [−5, −1] eV,
    the scale and shift are 1.3 and −0.2 eV.

    Args:
        z_table: species the model knows, atomic numbers or symbols, e.g. ``["Na", "K", "Cl"]``.
        seed: seed of the weights and E0.
        dtype: parameter dtype.
        pair_repulsion: add MACE's ZBL pair term.
        **hparams: overrides of the keys of :data:`SMALL_TEST_HPARAMS` (``channels``, ``max_ell``,
            ``hidden_l`` (1 adds ``channels x 1o`` features), ``correlation``, ``num_interactions``,
            ``r_max`` (Å), ``num_bessel``, ``num_polynomial_cutoff``, ``radial_mlp``, ``mlp_channels``,
            ``avg_num_neighbors``).

    Returns:
        the model in eval mode.
    """
    unknown = set(hparams) - set(SMALL_TEST_HPARAMS)
    if unknown:
        raise InputError(
            f"unknown MACE hyperparameter(s) {sorted(unknown)}; accepted: {sorted(SMALL_TEST_HPARAMS)}"
        )
    hp = {**SMALL_TEST_HPARAMS, **hparams}
    zs = sorted({_to_z(z) for z in z_table})
    modules = _import_mace()
    from e3nn import o3

    hidden = f"{hp['channels']}x0e" + (f"+{hp['channels']}x1o" if hp["hidden_l"] >= 1 else "")
    rng = np.random.default_rng(seed)
    atomic_energies = rng.uniform(-5.0, -1.0, size=len(zs))
    with torch.random.fork_rng(devices=[]), _default_dtype(dtype):
        torch.manual_seed(seed)
        model = modules.ScaleShiftMACE(
            r_max=float(hp["r_max"]),
            num_bessel=int(hp["num_bessel"]),
            num_polynomial_cutoff=int(hp["num_polynomial_cutoff"]),
            max_ell=int(hp["max_ell"]),
            interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
            interaction_cls_first=modules.interaction_classes["RealAgnosticInteractionBlock"],
            num_interactions=int(hp["num_interactions"]),
            num_elements=len(zs),
            hidden_irreps=o3.Irreps(hidden),
            MLP_irreps=o3.Irreps(f"{hp['mlp_channels']}x0e"),
            atomic_energies=atomic_energies,
            avg_num_neighbors=float(hp["avg_num_neighbors"]),
            atomic_numbers=zs,
            correlation=int(hp["correlation"]),
            gate=torch.nn.functional.silu,
            pair_repulsion=pair_repulsion,
            radial_MLP=[int(n) for n in hp["radial_mlp"]],
            atomic_inter_scale=1.3,
            atomic_inter_shift=-0.2,
        )
    return model.to(dtype).eval()


def _to_z(z: int | str) -> int:
    if isinstance(z, str):
        if z not in chemical_symbols[1:]:
            raise InputError(f"unknown chemical symbol {z!r}")
        return chemical_symbols.index(z)
    z = int(z)
    if not 1 <= z < len(chemical_symbols):
        raise InputError(f"atomic number {z} out of range 1..{len(chemical_symbols) - 1}")
    return z


@dataclass(frozen=True)
class PlainResults:
    """Energy, forces and stress of the unmodified model on an ordinary structure.

    Attributes:
        energy: total energy, eV.
        forces: shape (n_atoms, 3), eV/Å.
        stress: (1/V) ∂E/∂ε (ASE sign convention), shape (3, 3), eV/Å³.
    """

    energy: float
    forces: np.ndarray
    stress: np.ndarray


class MaceAlchemicalBackend:
    """Alchemical energy of a MACE model (``ScaleShiftMACE`` or ``MACE``) on an alchemical graph.

    The model's own modules are called in the model's own order; only the per-edge factor passed to the
    interaction blocks and the weighting of node energies differ from ``model.forward``.

    The model object is used in place: it is moved to ``device``/``dtype``, put in eval mode and its
    parameters are frozen (``requires_grad=False``); derivatives are taken with respect to the inputs only.

    Args:
        model: a ``mace.modules.MACE`` (or ``ScaleShiftMACE``) model object.
        head: head name for multi-head models; default the model's first head.
        dtype: convert the model to this dtype (e.g. ``torch.float64`` for tight checks); default keep it.
        device: torch device.

    Attributes:
        model: the wrapped mace model.
        head: the head whose readouts, E0 and scale/shift are used.
        device: torch device of the model and of all tensors it returns.
    """

    name = "mace"

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        head: str | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device = "cpu",
    ):
        modules = _import_mace()
        if not isinstance(model, modules.MACE):
            raise InputError(f"expected a mace MACE/ScaleShiftMACE model, got {type(model).__name__}")
        if hasattr(model, "joint_embedding"):
            raise EngineError("MACE models with joint embeddings (charges, spins, ...) are not supported")
        self.device = torch.device(device)
        self.model = model.to(device=self.device, dtype=dtype).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        heads = list(getattr(model, "heads", None) or ["Default"])
        if head is None:
            head = heads[0]
        if head not in heads:
            raise InputError(f"head {head!r} not in the model's heads {heads}")
        self.head = head
        self._head_index = heads.index(head)
        self._heads = heads
        zs = [int(z) for z in model.atomic_numbers.tolist()]
        self._z_table = tuple(zs)
        lookup = torch.full((len(chemical_symbols),), -1, dtype=torch.long)
        lookup[torch.tensor(zs, dtype=torch.long)] = torch.arange(len(zs))
        self._z_to_index = lookup.to(self.device)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        head: str | None = None,
        dtype: torch.dtype | None = None,
        device: str | torch.device = "cpu",
    ) -> MaceAlchemicalBackend:
        """Load a model saved with ``torch.save`` (e.g. a MACE-MP-0 ``.model`` file the user holds).

        The file is unpickled (``weights_only=False``): load only files you trust.

        Args:
            path: model file.
            head: head name for multi-head models.
            dtype: convert the model to this dtype.
            device: torch device.

        Raises:
            InputError: the file does not exist.
            EngineError: the file does not hold a MACE model.
        """
        _import_mace()
        path = Path(path)
        if not path.is_file():
            raise InputError(f"MACE model file {path} not found")
        try:
            model = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise EngineError(f"could not load MACE model {path}: {exc}") from None
        if not isinstance(model, _import_mace().MACE):
            raise EngineError(f"{path} holds a {type(model).__name__}, not a mace MACE/ScaleShiftMACE model")
        return cls(model, head=head, dtype=dtype, device=device)

    @classmethod
    def random(
        cls,
        z_table: Sequence[int | str],
        seed: int = 0,
        *,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
        **hparams: Any,
    ) -> MaceAlchemicalBackend:
        """Backend around :func:`random_mace_model` (no file; builds in well under a second at test size).

        Args:
            z_table: species the model knows, atomic numbers or symbols.
            seed: seed of the random weights.
            dtype: parameter dtype.
            device: torch device.
            **hparams: forwarded to :func:`random_mace_model` (``pair_repulsion`` and the size keys).
        """
        return cls(random_mace_model(z_table, seed, dtype=dtype, **hparams), device=device)

    # ------------------------------------------------------------------ properties
    @property
    def z_table(self) -> tuple[int, ...]:
        """Atomic numbers the model knows, in its one-hot order."""
        return self._z_table

    @property
    def species(self) -> tuple[str, ...]:
        """Chemical symbols the model knows, in its one-hot order."""
        return tuple(chemical_symbols[z] for z in self._z_table)

    @property
    def cutoff(self) -> float:
        """Interaction cutoff r_max, Å."""
        return float(self.model.r_max)

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model parameters."""
        return next(self.model.parameters()).dtype

    # ------------------------------------------------------------------ alchemical energy
    def supported_numbers(self) -> frozenset[int]:
        """Atomic numbers the model knows."""
        return frozenset(self._z_table)

    def check_species(self, numbers: Sequence[int] | np.ndarray | torch.Tensor) -> None:
        """Raise :class:`InputError` naming any atomic number the model does not know."""
        self.species_index(numbers)

    def species_index(self, numbers: torch.Tensor | np.ndarray | Sequence[int]) -> torch.Tensor:
        """One-hot column of each atomic number in :attr:`z_table`, shape (n,), long.

        Raises:
            InputError: a species the model does not know.
        """
        z = torch.as_tensor(np.asarray(torch.as_tensor(numbers).cpu()), dtype=torch.long).reshape(-1)
        known = (z >= 0) & (z < len(chemical_symbols))
        idx = torch.full_like(z, -1)
        idx[known] = self._z_to_index[z[known]]
        if bool((idx < 0).any()):
            check_species(
                z[idx < 0].tolist(), self._z_table, f"the MACE model (it knows {', '.join(self.species)})"
            )
        return idx

    def energy(
        self, graph: AlchemicalGraph, positions: torch.Tensor, cell: torch.Tensor, lam: torch.Tensor
    ) -> torch.Tensor:
        """Alchemical energy E(r, h, λ) = Σ_a w_a ε_a, a scalar tensor in eV.

        Arguments as in :meth:`node_energies`.

        For a batched graph this is the sum over systems; per-system energies are an ``index_add`` of
        :meth:`node_energies` over ``graph.node_system``.
        """
        return self.node_energies(graph, positions, cell, lam).sum()

    def node_energies(
        self, graph: AlchemicalGraph, positions: torch.Tensor, cell: torch.Tensor, lam: torch.Tensor
    ) -> torch.Tensor:
        """Weighted node energies w_a ε_a, differentiable in positions, cell and λ, shape (n_nodes,), eV.

        Args:
            graph: alchemical graph built for these positions and cell with this backend's cutoff.
            positions: Cartesian coordinates of the original atoms, shape (n_sites, 3), Å.
            cell: lattice vectors as rows, shape (3, 3) (or (n_systems, 3, 3) for a batched graph), Å.
            lam: group weights λ, shape (n_groups,).
        """
        dtype, device = self.dtype, self.device
        positions = positions.to(device=device, dtype=dtype)
        cell = cell.to(device=device, dtype=dtype)
        lam = torch.as_tensor(lam).to(device=device, dtype=dtype)
        w = node_weights(graph, lam)
        omega = edge_weights(graph, lam)
        # graph convention: row 0 receiver, row 1 sender, vector r_sender − r_receiver + S·h;
        # mace convention: row 0 sender, row 1 receiver, vector r_receiver − r_sender (image included)
        vectors = -edge_vectors(graph, positions, cell)
        edge_index = graph.edge_index.to(device).flip(0)
        return w * self.unweighted_node_energies(graph.node_species, edge_index, vectors, omega)

    def unweighted_node_energies(
        self,
        node_species: torch.Tensor,
        edge_index: torch.Tensor,
        vectors: torch.Tensor,
        edge_weight: torch.Tensor,
    ) -> torch.Tensor:
        """Node energies ε_a (E0, scale and shift included) with every message b→a scaled by ω_ab.

        Args:
            node_species: atomic number of each node, shape (n_nodes,).
            edge_index: mace convention, row 0 sender, row 1 receiver, shape (2, n_edges).
            vectors: r_receiver − r_sender (periodic image included), shape (n_edges, 3), Å.
            edge_weight: ω per edge, shape (n_edges,).

        Returns:
            ε, shape (n_nodes,), eV.
        """
        m = self.model
        device = vectors.device
        n_nodes = int(node_species.shape[0])
        idx = self._z_to_index[node_species.to(device)]
        if bool((idx < 0).any()):
            self.check_species(node_species)
        node_attrs = torch.nn.functional.one_hot(idx, len(self._z_table)).to(vectors.dtype)
        node_heads = torch.full((n_nodes,), self._head_index, dtype=torch.long, device=device)
        arange = torch.arange(n_nodes, device=device)
        lengths = torch.linalg.vector_norm(vectors, dim=-1, keepdim=True)

        node_e0 = m.atomic_energies_fn(node_attrs)[arange, node_heads]
        node_feats = m.node_embedding(node_attrs)
        edge_attrs = m.spherical_harmonics(vectors)
        edge_feats, cutoff = m.radial_embedding(lengths, node_attrs, edge_index, m.atomic_numbers)
        # the per-edge factor multiplies the tensor-product weights (and the edge density of density blocks)
        factor = edge_weight.unsqueeze(-1) if cutoff is None else cutoff * edge_weight.unsqueeze(-1)

        node_es = [self._pair_energy(lengths, node_attrs, edge_index, edge_weight)]
        feats = []
        for i, (interaction, product) in enumerate(zip(m.interactions, m.products, strict=True)):
            node_feats, sc = interaction(
                node_attrs=node_attrs,
                node_feats=node_feats,
                edge_attrs=edge_attrs,
                edge_feats=edge_feats,
                edge_index=edge_index,
                cutoff=factor,
                first_layer=(i == 0),
            )
            node_feats = product(node_feats=node_feats, sc=sc, node_attrs=node_attrs)
            feats.append(node_feats)
        for i, readout in enumerate(m.readouts):
            feat_idx = -1 if len(m.readouts) == 1 else i
            node_es.append(readout(feats[feat_idx], node_heads)[arange, node_heads])
        node_inter = torch.sum(torch.stack(node_es, dim=0), dim=0)
        if hasattr(m, "scale_shift"):
            node_inter = m.scale_shift(node_inter, node_heads)
        return node_e0.to(node_inter.dtype) + node_inter

    def _pair_energy(
        self,
        lengths: torch.Tensor,
        node_attrs: torch.Tensor,
        edge_index: torch.Tensor,
        edge_weight: torch.Tensor,
    ) -> torch.Tensor:
        """ZBL node energies with each edge's term weighted by ω (zeros when the model has no pair term)."""
        m = self.model
        if not hasattr(m, "pair_repulsion"):
            return torch.zeros(node_attrs.shape[0], dtype=lengths.dtype, device=lengths.device)
        # Evaluate mace's ZBL on a bipartite per-edge graph (edge e: node e → node n_edges + e) so that each
        # receiver slot holds exactly one edge's term; weight it and scatter to the real receivers.
        n_edges = edge_index.shape[1]
        sender, receiver = edge_index
        attrs = torch.cat([node_attrs[sender], node_attrs[receiver]], dim=0)
        slots = torch.arange(n_edges, device=lengths.device)
        per_edge = torch.stack([slots, n_edges + slots])
        v = m.pair_repulsion_fn(lengths, attrs, per_edge, m.atomic_numbers)[n_edges:]
        out = torch.zeros(node_attrs.shape[0], dtype=v.dtype, device=v.device)
        return out.index_add(0, receiver, edge_weight.to(v.dtype) * v)

    # ------------------------------------------------------------------ plain model
    def plain_results(self, atoms: Atoms) -> PlainResults:
        """Energy, forces and stress of the unmodified model through mace's own data pipeline and forward.

        Args:
            atoms: an ordinary structure (periodic or not) with species in :attr:`z_table`.
        """
        batch = self._plain_batch(atoms)
        periodic = bool(np.any(atoms.pbc))
        out = self.model(batch, training=False, compute_force=True, compute_stress=periodic)
        stress = out["stress"][0].detach().cpu().numpy() if periodic else np.full((3, 3), np.nan)
        return PlainResults(
            energy=float(out["energy"][0].detach()),
            forces=out["forces"].detach().cpu().numpy().astype(float),
            stress=np.asarray(stress, dtype=float),
        )

    def plain_energy(self, atoms: Atoms) -> float:
        """Energy of the unmodified model on ``atoms`` (eV), through mace's own forward."""
        batch = self._plain_batch(atoms)
        out = self.model(batch, training=False, compute_force=False)
        return float(out["energy"][0].detach())

    def _plain_batch(self, atoms: Atoms) -> dict[str, torch.Tensor]:
        """mace's standard AtomicData batch for ``atoms`` (neighbour list with cutoff r_max)."""
        from mace import data as mace_data
        from mace.tools import AtomicNumberTable, torch_geometric

        self.species_index(atoms.numbers)
        with _default_dtype(self.dtype):
            config = mace_data.config_from_atoms(atoms, head_name=self.head)
            graph = mace_data.AtomicData.from_config(
                config, z_table=AtomicNumberTable(list(self._z_table)), cutoff=self.cutoff, heads=self._heads
            )
        batch = torch_geometric.Batch.from_data_list([graph])
        return batch.to(self.device).to_dict()
