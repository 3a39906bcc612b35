"""SevenNet-0 as an alchemical backend (weights ship inside the ``sevenn`` wheel, so it runs offline).

SevenNet-0 is a NequIP-style network (5 interaction layers, 5 Å cutoff) whose species enter only through
a one-hot embedding and the species-wise scale/shift of the atomic energy. The alchemical weights enter in
two places (Nam et al., Nat. Commun. 16 (2025)):

* every convolution message b → a is multiplied by ω_ab. The tensor product of each convolution is linear in
  its filter input (the spherical harmonics of the edge), so scaling that shared filter by ω_ab once scales
  the filter weights of all five convolutions (identical at ω = 1, exactly zero at ω = 0);
* the atomic energy of node a is multiplied by its weight w_a before the sum.

The model's own modules are run in order; its total-energy and force modules are replaced by
:mod:`thermograd.alchemy.derivatives`. The convolutions are evaluated with the model's own tensor product and
radial network, but without redundant work: radial functions and spherical harmonics once per original edge,
and each message once per (original edge, sender node), scattered to every receiving copy (a message does not
depend on its receiver). For an ordinary graph this is the model's own convolution.
Requires ``sevenn`` (extra ``thermograd[sevennet]``).
"""

from __future__ import annotations

import torch

from ..errors import EngineError
from .derivatives import check_species
from .graph import AlchemicalGraph, message_weights, node_weights, parent_vectors

#: modules of the sevenn sequential model replaced by this wrapper
_SKIPPED = ("onehot_idx_to_onehot", "reduce_total_enegy", "reduce_total_energy", "force_output")


class SevenNetBackend:
    """Alchemical SevenNet model.

    Args:
        model: a pretrained name understood by ``sevenn`` (default ``"7net-0"``, loaded from the wheel), a
            checkpoint path, or an ``AtomGraphSequential`` instance.
        dtype: ``torch.float32`` (the model's training precision) or ``torch.float64`` (tight tests).
        device: torch device.

    Attributes:
        cutoff: model cutoff, Å.
        dtype: floating-point type of positions, weights and outputs.
        type_map: atomic number → one-hot index of the model.
    """

    name = "sevennet"

    def __init__(
        self, model="7net-0", dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"
    ):
        try:
            import sevenn._keys as KEY
            from sevenn import util
            from sevenn.nn.sequential import AtomGraphSequential
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise EngineError(
                "the SevenNet backend needs the 'sevenn' package: pip install 'thermograd[sevennet]'"
            ) from exc
        self._key = KEY
        if isinstance(model, AtomGraphSequential):
            net = model
        else:
            try:
                cp = util.load_checkpoint(str(model))
            except Exception as exc:
                raise EngineError(f"could not load SevenNet model {model!r}: {exc}") from None
            net = cp.build_model()
        if net.type_map is None or not net.cutoff:
            raise EngineError("the SevenNet model has no type map or cutoff")
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        self.dtype = dtype
        self.device = torch.device(device)
        self.model = net.to(device=self.device, dtype=dtype)
        self.cutoff = float(net.cutoff)
        self.type_map = {int(z): int(i) for z, i in net.type_map.items()}
        self.n_types = len(self.type_map)
        lut = torch.full((119,), -1, dtype=torch.long)
        for z, i in self.type_map.items():
            lut[z] = i
        self._lut = lut.to(self.device)
        onehot = net._modules["onehot_idx_to_onehot"]
        self._onehot_keys = (onehot.key_output, onehot.key_save, onehot.key_additional_output)
        self._edge_module = net._modules["edge_embedding"]
        self._filter_keys = {m.key_filter for k, m in net._modules.items() if k.endswith("_convolution")}
        if self._filter_keys != {KEY.EDGE_ATTR}:
            raise EngineError(f"unexpected SevenNet convolution filter keys {self._filter_keys}")
        self._body = [
            (k.endswith("_convolution"), m)
            for k, m in net._modules.items()
            if k not in _SKIPPED and k != "edge_embedding"
        ]
        for is_conv, m in self._body:
            if is_conv and (getattr(m, "is_parallel", False) or not hasattr(m, "weight_nn")):
                raise EngineError(f"unsupported SevenNet convolution {type(m).__name__}")
        self._energy_key = net._modules["rescale_atomic_energy"].key_output

    def supported_numbers(self) -> frozenset[int]:
        """Atomic numbers the model knows."""
        return frozenset(self.type_map)

    def check_species(self, numbers) -> None:
        """Raise :class:`InputError` naming any atomic number the model does not know."""
        check_species(numbers, self.type_map, f"SevenNet ({self.n_types} elements supported)")

    def node_energies(
        self, graph: AlchemicalGraph, positions: torch.Tensor, cell: torch.Tensor, lam: torch.Tensor
    ) -> torch.Tensor:
        """Weighted atomic energies w_a ε_a, shape (n_nodes,), eV.

        Args:
            graph: alchemical graph (built with this backend's cutoff).
            positions: original positions, shape (n_sites, 3), Å.
            cell: lattice vectors as rows, shape (3, 3) (or (n_systems, 3, 3)), Å.
            lam: weights, shape (n_groups,).
        """
        KEY = self._key
        types = self._lut[graph.node_species]
        if bool((types < 0).any()):
            self.check_species(graph.node_species[types < 0].tolist())
        onehot = torch.nn.functional.one_hot(types, self.n_types).to(self.dtype)
        out_key, save_key, add_key = self._onehot_keys
        data = {out_key: onehot, KEY.EDGE_IDX: graph.edge_index}
        if save_key is not None:
            data[save_key] = types
        if add_key is not None:
            data[add_key] = onehot
        # geometry once per original edge; the filter of each distinct message scaled by its ω
        data[KEY.EDGE_VEC] = parent_vectors(graph, positions, cell)
        data = self._edge_module(data)
        embedding = data[KEY.EDGE_EMBEDDING]
        omega = message_weights(graph, lam).to(self.dtype)
        filt = data[KEY.EDGE_ATTR][graph.message_parent] * omega.unsqueeze(-1)
        receivers = graph.edge_index[0]
        for is_conv, module in self._body:
            if not is_conv:
                data = module(data)
                continue
            x = data[module.key_x]
            weight = module.weight_nn(embedding)[graph.message_parent]
            message = module.convolution(x[graph.message_sender], filt, weight)
            out = torch.zeros((x.shape[0], message.shape[1]), dtype=message.dtype, device=message.device)
            out = out.index_add(0, receivers, message[graph.edge_message])
            data[module.key_x] = out.div(module.denominator)
        eps = data[self._energy_key].reshape(-1)
        return eps * node_weights(graph, lam).to(self.dtype)

    def energy(
        self, graph: AlchemicalGraph, positions: torch.Tensor, cell: torch.Tensor, lam: torch.Tensor
    ) -> torch.Tensor:
        """Total energy E = Σ_a w_a ε_a (scalar tensor, eV); arguments as in :meth:`node_energies`."""
        return self.node_energies(graph, positions, cell, lam).sum()


_CACHE: dict[tuple, SevenNetBackend] = {}


def load_sevennet(
    model: str = "7net-0", dtype: torch.dtype | None = None, device: str = "cpu"
) -> SevenNetBackend:
    """Cached :class:`SevenNetBackend` (loading takes seconds; tests and workflows share one instance).

    ``dtype`` defaults to ``torch.float64``; ``sevenn`` is imported with the first model loaded.
    """
    dtype = torch.float64 if dtype is None else dtype
    key = (str(model), dtype, str(device))
    if key not in _CACHE:
        _CACHE[key] = SevenNetBackend(model, dtype=dtype, device=device)
    return _CACHE[key]
