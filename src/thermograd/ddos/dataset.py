"""In-memory form of one D-DOS sampling data set (one phase at one strain): the contract between the
campaign store (thermograd campaign files), the importers (DescriptorDOS shell data) and the model fit.

Descriptor vectors D are per-atom means (dimension d). For each shell the compressed statistics are
stored in the shell's PCA basis: x = (D − mean) @ basis, histogram edges per component in x.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError


@dataclass
class ShellData:
    """Statistics of one harmonic-energy shell.

    Attributes:
        T_shell: shell temperature T_α, K (harmonic energy per atom = 1.5 k_B T_α).
        alpha: shell coordinate α = ln(3 k_B T_α / κ̄), ln Å².
        n_samples: number of configurations drawn.
        mean: shell mean of D, shape (d,).
        covariance: shell covariance of D, shape (d, d).
        basis: PCA eigenvectors as columns, shape (d, d), ascending eigenvalue order.
        eigenvalues: PCA eigenvalues, shape (d,).
        edges: histogram edges per component in PCA coordinates, shape (d, n_bins + 1).
        counts: histogram counts per component, shape (d, n_bins).
        raw: raw descriptors of every sample, shape (n_samples, d), or None when not kept.
    """

    T_shell: float
    alpha: float
    n_samples: int
    mean: np.ndarray
    covariance: np.ndarray
    basis: np.ndarray
    eigenvalues: np.ndarray
    edges: np.ndarray
    counts: np.ndarray
    raw: np.ndarray | None = None

    @property
    def n_features(self) -> int:
        return int(self.mean.shape[0])


@dataclass
class PhaseDataset:
    """All shells of one phase at one strain, with the harmonic reference needed for S_0.

    Attributes:
        name: phase label (e.g. ``"bcc"``).
        n_atoms: atoms in the sampled cell.
        mass: atomic mass, amu.
        volume_per_atom: Å³/atom of the sampled cell.
        strain: isotropic strain applied to the reference structure.
        D_0: descriptor of the perfect lattice, shape (d,).
        kappa_bar: mean Hessian eigenvalue κ̄ over the 3N − 3 modes, eV/Å².
        mean_log_nu: ⟨ln κ_l/κ̄⟩.
        n_modes: number of vibrational modes (3N − 3).
        shells: shells sorted by T_shell.
        kappa: all mode stiffnesses, shape (n_modes,), eV/Å², when available (for F_h in any convention).
        E0_reference: θ_ref·D_0 of the campaign's reference model, eV/atom, when known.
        descriptor: description of the descriptor (compute, parameters), free-form.
        provenance: free-form provenance (source file, config, versions, seeds).
    """

    name: str
    n_atoms: int
    mass: float
    volume_per_atom: float
    strain: float
    D_0: np.ndarray
    kappa_bar: float
    mean_log_nu: float
    n_modes: int
    shells: list[ShellData]
    kappa: np.ndarray | None = None
    E0_reference: float | None = None
    descriptor: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.shells:
            raise InputError(f"phase {self.name!r}: no shells")
        d = self.D_0.shape[0]
        for s in self.shells:
            if s.n_features != d:
                raise InputError(
                    f"phase {self.name!r}: shell at {s.T_shell} K has {s.n_features} features, D_0 has {d}"
                )
        self.shells.sort(key=lambda s: s.T_shell)

    @property
    def n_features(self) -> int:
        return int(self.D_0.shape[0])

    @property
    def T_shells(self) -> np.ndarray:
        return np.array([s.T_shell for s in self.shells])

    @property
    def alphas(self) -> np.ndarray:
        return np.array([s.alpha for s in self.shells])

    @property
    def has_raw(self) -> bool:
        return all(s.raw is not None for s in self.shells)
