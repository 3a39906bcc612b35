"""Engine-free toy models for D-DOS tests that need neither LAMMPS nor MD.

:class:`PairDescriptorToy` is a potential that is linear in its descriptors, E = N θ·D(X), like SNAP: the
descriptor D_k is the per-atom mean of a radial basis function f_k(r) = (1 − r/r_c)^{k+2} summed over all
neighbours within r_c (periodic images included), so E = Σ_i Σ_{j≠i} φ(r_ij) with φ = Σ_k θ_k f_k. Forces and
the Hessian are analytic. :class:`HarmonicDescriptor` has the harmonic energy per atom as its only descriptor,
for which the D-DOS free energy must equal the classical harmonic one exactly (docs: science-ddos.md §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..ddos.sampling.campaign_config import CampaignConfig, PhaseConfig
from ..ddos.sampling.campaign_store import Reference
from ..ddos.sampling.references import _finish
from ..ddos.sampling.tasks import DescriptorFn, _jsonable, register_descriptor_kind
from ..errors import InputError
from ..harmonic import Modes, modes_from_hessian
from ..systems import StructureConfig

__all__ = ["HarmonicDescriptor", "PairDescriptorToy", "ToyDescriptorSpec", "ToyReferenceBuilder"]


class PairDescriptorToy:
    """Linear-in-features pair potential on a small periodic crystal (numpy only).

    Features f_k(r) = (1 − r/r_c)^{k+2}, k = 0 … d−1, vanish with their first derivative at r_c, so forces
    are continuous. D_k(X) = (1/N) Σ_i Σ_{j, images} f_k(|x_j + n·cell − x_i|) over ordered pairs, and
    E_θ(X) = N θ·D(X) in eV.

    Args:
        positions0: reference (perfect-lattice) positions, shape (N, 3), Å.
        cell: periodic cell vectors as rows, shape (3, 3), Å.
        rc: cutoff radius, Å.
        n_features: number of radial features d (≥ 1).
        mass: atomic mass, amu.
    """

    def __init__(
        self, positions0: np.ndarray, cell: np.ndarray, rc: float, n_features: int, mass: float = 63.546
    ):
        self.positions0 = np.array(positions0, dtype=float)
        self.cell = np.array(cell, dtype=float)
        if self.positions0.ndim != 2 or self.positions0.shape[1] != 3 or self.positions0.shape[0] < 2:
            raise InputError(f"positions0 must have shape (N >= 2, 3), got {self.positions0.shape}")
        if self.cell.shape != (3, 3) or abs(np.linalg.det(self.cell)) < 1e-12:
            raise InputError(
                f"cell must be a non-singular (3, 3) matrix of row vectors, got {self.cell.shape}"
            )
        if not rc > 0:
            raise InputError(f"cutoff rc must be > 0 Å, got {rc!r}")
        if int(n_features) != n_features or n_features < 1:
            raise InputError(f"n_features must be a positive integer, got {n_features!r}")
        if not mass > 0:
            raise InputError(f"mass must be > 0 amu, got {mass!r}")
        self.rc = float(rc)
        self.n_features = int(n_features)
        self.mass = float(mass)
        self.powers = np.arange(2, 2 + self.n_features, dtype=float)
        volume = abs(np.linalg.det(self.cell))
        widths = volume / np.linalg.norm(np.cross(self.cell[[1, 2, 0]], self.cell[[2, 0, 1]]), axis=1)
        # after wrapping fractional differences into [−½, ½], image n_k can lie within rc only if
        # |n_k| ≤ rc/w_k + ½ (w_k: perpendicular width of the cell)
        reach = np.floor(self.rc / widths + 0.5).astype(int)
        grid = np.stack(np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij"), axis=-1).reshape(
            -1, 3
        )
        self._shifts = grid.astype(float) @ self.cell  # (n_images, 3), Å
        self._inv_cell = np.linalg.inv(self.cell)

    @classmethod
    def from_atoms(cls, atoms, rc: float, n_features: int) -> PairDescriptorToy:
        """From an ASE-like ``Atoms`` (``get_positions``, ``get_cell``, ``get_masses``; single species)."""
        masses = np.asarray(atoms.get_masses(), dtype=float)
        if masses.size == 0 or not np.allclose(masses, masses[0]):
            raise InputError("PairDescriptorToy needs a single-species structure")
        return cls(atoms.get_positions(), np.asarray(atoms.get_cell()), rc, n_features, float(masses[0]))

    @classmethod
    def fcc(
        cls, a: float = 3.6, repeat: int = 2, rc: float = 3.2, n_features: int = 3, mass: float = 63.546
    ) -> PairDescriptorToy:
        """Cubic fcc supercell of 4·repeat³ atoms, lattice constant ``a`` Å (rc = 3.2 Å keeps only the first
        neighbour shell of a = 3.6 Å, for which :meth:`default_theta` is a stable minimum)."""
        basis = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
        cells = np.stack(np.meshgrid(*(np.arange(repeat),) * 3, indexing="ij"), axis=-1).reshape(-1, 1, 3)
        frac = (cells + basis).reshape(-1, 3)
        return cls(frac * a, np.eye(3) * a * repeat, rc, n_features, mass)

    @property
    def n_atoms(self) -> int:
        return int(self.positions0.shape[0])

    @property
    def D_0(self) -> np.ndarray:
        """Descriptor of the reference structure, shape (d,)."""
        return self.features(self.positions0)

    def _pairs(self, positions: np.ndarray):
        """Yield pair vectors r_ij = x_j + shift − x_i, shape (m, N, N, 3), and distances (m, N, N) per image,
        with the self pair (i = j, no shift) masked as distance inf."""
        x = np.asarray(positions, dtype=float)
        diff = x[:, None, :, :] - x[:, :, None, :]  # (m, i, j, 3): x_j − x_i
        frac = diff @ self._inv_cell
        diff = diff - np.round(frac) @ self.cell
        eye = np.eye(self.n_atoms, dtype=bool)
        for shift in self._shifts:
            vec = diff + shift
            r = np.sqrt(np.einsum("...k,...k->...", vec, vec))
            if not np.any(shift):
                r = np.where(eye, np.inf, r)
            yield vec, r

    def _as_batch(self, positions: np.ndarray) -> tuple[np.ndarray, bool]:
        x = np.asarray(positions, dtype=float)
        single = x.ndim == 2
        if single:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (self.n_atoms, 3):
            raise InputError(
                f"positions must have shape (m, {self.n_atoms}, 3) or ({self.n_atoms}, 3), got {x.shape}"
            )
        return x, single

    def features(self, positions: np.ndarray) -> np.ndarray:
        """Per-atom mean descriptors D.

        Args:
            positions: shape (m, N, 3) or (N, 3), Å (need not be wrapped into the cell).

        Returns:
            D, shape (m, d) or (d,).
        """
        x, single = self._as_batch(positions)
        out = np.zeros((x.shape[0], self.n_features))
        for _, r in self._pairs(x):
            u = np.clip(1.0 - r / self.rc, 0.0, None)  # (m, N, N), zero beyond rc
            out += np.stack([np.sum(u**p, axis=(1, 2)) for p in self.powers], axis=1)
        out /= self.n_atoms
        return out[0] if single else out

    def _check_theta(self, theta: np.ndarray) -> np.ndarray:
        t = np.asarray(theta, dtype=float)
        if t.shape != (self.n_features,):
            raise InputError(f"theta must have shape ({self.n_features},), got {t.shape}")
        return t

    def _phi_derivatives(self, theta: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """φ'(r) (eV/Å) and φ''(r) (eV/Å²), zero beyond rc."""
        u = np.clip(1.0 - r / self.rc, 0.0, None)
        d1 = np.zeros_like(r)
        d2 = np.zeros_like(r)
        for t, p in zip(theta, self.powers):
            d1 -= t * p * u ** (p - 1) / self.rc
            d2 += t * p * (p - 1) * u ** (p - 2) / self.rc**2
        inside = r < self.rc
        return np.where(inside, d1, 0.0), np.where(inside, d2, 0.0)

    def energy(self, theta: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Potential energy E = N θ·D, eV; shape (m,) for (m, N, 3) positions or a float for (N, 3)."""
        t = self._check_theta(theta)
        e = self.n_atoms * (self.features(positions) @ t)
        return float(e) if np.ndim(e) == 0 else e

    def forces(self, theta: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Analytic forces −∂E/∂x, eV/Å, shape like ``positions``: F_i = 2 Σ_{j,n} φ'(r_ijn) r̂_ijn."""
        t = self._check_theta(theta)
        x, single = self._as_batch(positions)
        f = np.zeros_like(x)
        for vec, r in self._pairs(x):
            d1, _ = self._phi_derivatives(t, r)
            scale = np.where(np.isfinite(r), d1 / np.where(np.isfinite(r) & (r > 0), r, 1.0), 0.0)
            f += 2.0 * np.einsum("mij,mijk->mik", scale, vec)
        return f[0] if single else f

    def hessian(self, theta: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """Analytic force-constant matrix ∂²E/∂x∂x, eV/Å², shape (3N, 3N), at ``positions`` (default the
        reference). Pair block K(r) = φ'' r̂r̂ᵀ + (φ'/r)(1 − r̂r̂ᵀ); the acoustic sum rule holds exactly."""
        t = self._check_theta(theta)
        x, _ = self._as_batch(self.positions0 if positions is None else positions)
        n = self.n_atoms
        ksum = np.zeros((n, n, 3, 3))
        for vec, r in self._pairs(x[:1]):
            vec, r = vec[0], r[0]
            d1, d2 = self._phi_derivatives(t, r)
            safe = np.where(np.isfinite(r) & (r > 0), r, 1.0)
            rhat = vec / safe[..., None]
            outer = rhat[..., :, None] * rhat[..., None, :]
            k = d2[..., None, None] * outer + (d1 / safe)[..., None, None] * (np.eye(3) - outer)
            ksum += np.where((r < self.rc)[..., None, None], k, 0.0)
        h = -2.0 * ksum
        h[np.arange(n), np.arange(n)] += 2.0 * ksum.sum(axis=1)
        return h.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)

    def default_theta(self, stiffness: float = 2.0) -> np.ndarray:
        """Parameters that make the reference lattice a stable minimum of a Lennard-Jones-like pair potential.

        Only θ_0 (u²) and θ_1 (u³) are non-zero: φ'(r_nn) = 0 at the nearest-neighbour distance, and the bond
        stiffness 2φ''(r_nn) equals ``stiffness`` eV/Å².
        """
        if self.n_features < 2:
            raise InputError("default_theta needs n_features >= 2 (an attractive and a repulsive term)")
        if not stiffness > 0:
            raise InputError(f"stiffness must be > 0 eV/Å², got {stiffness!r}")
        r_nn = min(float(np.min(r)) for _, r in self._pairs(self.positions0[None]))
        u = 1.0 - r_nn / self.rc
        if not u > 0:
            raise InputError(f"cutoff {self.rc} Å does not reach the nearest neighbours at {r_nn:.4g} Å")
        pa, pb = self.powers[0], self.powers[1]
        # φ = θ_a u^pa + θ_b u^pb: φ'(r_nn) = 0 ⇒ θ_a = −θ_b (pb/pa) u^(pb−pa),
        # and then φ''(r_nn) = θ_b pb (pb−pa) u^(pb−2)/rc²
        theta_b = 0.5 * stiffness * self.rc**2 / (pb * (pb - pa) * u ** (pb - 2))
        theta = np.zeros(self.n_features)
        theta[0] = -theta_b * (pb / pa) * u ** (pb - pa)
        theta[1] = theta_b
        return theta

    def modes(self, theta: np.ndarray | None = None) -> Modes:
        """Normal modes at the reference structure for ``theta`` (default :meth:`default_theta`)."""
        return modes_from_hessian(self.hessian(self.default_theta() if theta is None else theta), self.mass)


class HarmonicDescriptor:
    """One-component "descriptor" D = harmonic energy per atom, eV/atom, of the displacement from positions0.

    With θ = (1,), E_θ = N θ·D is exactly the harmonic model, so on every shell D − D_0 = (3/2)k_BT_α and the
    D-DOS free energy reproduces :func:`thermograd.harmonic.harmonic_free_energy` (convention ``"ddos"``).

    Args:
        modes: harmonic reference, N atoms.
        positions0: reference positions, shape (N, 3), Å.
    """

    n_features = 1

    def __init__(self, modes: Modes, positions0: np.ndarray):
        self.modes = modes
        self.positions0 = np.array(positions0, dtype=float)
        if self.positions0.shape != (modes.n_atoms, 3):
            raise InputError(f"positions0 must have shape ({modes.n_atoms}, 3), got {self.positions0.shape}")

    @property
    def n_atoms(self) -> int:
        return self.modes.n_atoms

    @property
    def D_0(self) -> np.ndarray:
        """Descriptor of the reference structure, shape (1,): zero."""
        return np.zeros(1)

    def features(self, positions: np.ndarray) -> np.ndarray:
        """D for positions of shape (m, N, 3) -> (m, 1), or (N, 3) -> (1,), eV/atom."""
        dx = np.asarray(positions, dtype=float) - self.positions0
        return (self.modes.harmonic_energy(dx) / self.n_atoms)[..., None]

    def energy(self, theta: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """E = N θ·D, eV."""
        return self.n_atoms * (self.features(positions) @ np.asarray(theta, dtype=float).reshape(1))


@dataclass(frozen=True)
class ToyDescriptorSpec:
    """The engine-free pair-descriptor toy (:class:`thermograd.testing.toy.PairDescriptorToy`) as a descriptor.

    Attributes:
        kwargs: keyword arguments of ``PairDescriptorToy`` other than the structure (``rc``, ``n_features``,
            ``mass``), as sorted pairs; build with ``ToyDescriptorSpec.of(rc=3.2, n_features=3)``.
    """

    kwargs: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, **kwargs) -> ToyDescriptorSpec:
        return cls(tuple(sorted(kwargs.items())))

    def toy(self, atoms):
        """The toy bound to ``atoms`` (reference positions and cell)."""

        return PairDescriptorToy(atoms.positions, atoms.cell[:], **dict(self.kwargs))

    def make_calculator(self, atoms) -> DescriptorFn:
        return self.toy(atoms).features

    def metadata(self) -> dict:
        return {"kind": "toy", **{k: _jsonable(v) for k, v in self.kwargs}}

    def cache_key(self) -> str:
        return f"toy:{self.kwargs!r}"


register_descriptor_kind(
    "toy", lambda meta: ToyDescriptorSpec.of(**{k: v for k, v in meta.items() if k != "kind"})
)


class ToyReferenceBuilder:
    """References from the engine-free pair-descriptor toy (the run file's potential is ignored).

    Structures come from ASE builders (``ase.build.bulk(element, builder, a, cubic=True)`` repeated ``size``);
    the toy's :meth:`~thermograd.testing.toy.PairDescriptorToy.default_theta` is the reference potential, unless
    ``theta`` is given.

    Args:
        config: the campaign.
        rc: toy cutoff, Å.
        n_features: toy descriptor dimension d.
        theta: reference coefficients, shape (d,), eV (default: the toy's stable LJ-like default).
    """

    def __init__(
        self, config: CampaignConfig, rc: float = 3.2, n_features: int = 3, theta: np.ndarray | None = None
    ) -> None:
        self.config = config
        self.theta = None if theta is None else np.asarray(theta, dtype=float)
        self.descriptor_spec = ToyDescriptorSpec.of(rc=float(rc), n_features=int(n_features))

    def check(self) -> None:
        for phase in self.config.phases:
            self._atoms(phase.structure, 0.0)

    def file_digests(self) -> dict[str, str]:
        """The toy has no input files; its identity is its descriptor and reference θ."""
        theta = "default" if self.theta is None else ",".join(f"{t!r}" for t in self.theta)
        return {"toy": f"{self.descriptor_spec.cache_key()} theta={theta}"}

    def _atoms(self, spec: StructureConfig, strain: float):
        from ase.build import bulk

        if spec.builder is None or spec.builder == "a15":
            raise InputError("the toy reference builds bcc/fcc/hcp lattices only")
        atoms = bulk(spec.element, spec.builder, a=spec.a, cubic=spec.builder != "hcp").repeat(spec.size3)
        atoms.set_cell(atoms.cell[:] * (1.0 + strain), scale_atoms=True)
        return atoms

    def build(self, phase: PhaseConfig, strain_index: int, strain: float) -> Reference:
        atoms = self._atoms(phase.structure, strain)
        toy = self.descriptor_spec.toy(atoms)
        theta = toy.default_theta() if self.theta is None else self.theta
        E_total = float(toy.energy(theta, atoms.positions))
        meta = {"name": "toy", "theta": theta.tolist()}
        return _finish(
            phase,
            strain_index,
            strain,
            atoms,
            toy.hessian(theta),
            E_total,
            self.descriptor_spec,
            meta,
            self.config.hessian.negative_tol,
        )
