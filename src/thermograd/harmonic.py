"""Harmonic reference: Hessian → normal modes, classical harmonic and Einstein free energies, and the
exact geometry of D-DOS harmonic-energy shells.

Conventions (Swinburne, Lapointe, Marinica, Nat. Commun. 17, 248 (2026), arXiv 2502.18191):

* The Hessian is the force-constant matrix ∂²U/∂x∂x in eV/Å², shape (3N, 3N), for a single-mass
  crystal. The three uniform translations are removed, leaving M = 3N − 3 modes κ_l > 0.
* κ̄ = mean κ_l, ν_l = κ_l/κ̄, ⟨ln ν⟩ = mean ln ν_l (≤ 0).
* A shell at "temperature" T_α is the surface where the harmonic energy per atom equals (3/2) k_B T_α.
  Its coordinate is α = ln r² with r² = 3 k_B T_α / κ̄ (Å²).
* Phase space is normalised by (2πħ)^{-3N} (classical, ħ-normalised).
* Shell reference entropy per atom (prefactor 3/2, i.e. the large-N per-atom form used by the D-DOS
  reference implementation):  S_0(α, T) = −(3/2) [ ln(3βħ²/m) + ⟨ln ν⟩ − 1 − α ].
* The matching classical harmonic free energy is F_h = 3 k_B T ⟨ln βħω_l⟩ (mean over the 3N − 3
  modes, times 3 per atom): convention ``"ddos"``. The finite-cell sum (k_B T/N) Σ_l ln βħω_l is
  convention ``"cell"``; the two differ by a factor (3N−3)/3N on the log term. Every absolute free energy
  reported by thermograd names its convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError, UnstableStructureError
from .units import HBAR2_PER_AMU, KB

HARMONIC_CONVENTIONS = ("ddos", "cell")


def symmetrize_hessian(hessian: np.ndarray, acoustic_sum_rule: bool = True) -> np.ndarray:
    """Symmetrise a force-constant matrix and (optionally) impose the acoustic sum rule.

    Args:
        hessian: force constants, shape (3N, 3N), eV/Å².
        acoustic_sum_rule: subtract each 3×3 block-row sum from the diagonal block so that a uniform
            translation costs exactly zero energy.

    Returns:
        The corrected matrix, shape (3N, 3N), eV/Å².
    """
    h = np.asarray(hessian, dtype=float)
    if h.ndim != 2 or h.shape[0] != h.shape[1] or h.shape[0] % 3:
        raise InputError(f"Hessian must have shape (3N, 3N), got {h.shape}")
    h = 0.5 * (h + h.T)
    if acoustic_sum_rule:
        # Project out uniform translations: h -> P h P with P = 1 - T T^T. The result is symmetric and
        # annihilates every translation exactly (subtracting row sums and re-symmetrising does not).
        n = h.shape[0] // 3
        trans = np.zeros((3 * n, 3))
        for k in range(3):
            trans[k::3, k] = 1.0 / math.sqrt(n)
        proj = np.eye(3 * n) - trans @ trans.T
        h = proj @ h @ proj
        h = 0.5 * (h + h.T)
    return h


@dataclass(frozen=True)
class Modes:
    """Normal modes of a single-mass crystal (translations removed).

    Attributes:
        kappa: stiffnesses κ_l, shape (M,), eV/Å², ascending, all > 0.
        vectors: orthonormal mode vectors e_l as columns, shape (3N, M).
        mass: atomic mass, amu.
        n_atoms: N.
    """

    kappa: np.ndarray
    vectors: np.ndarray
    mass: float
    n_atoms: int

    @property
    def n_modes(self) -> int:
        return int(self.kappa.shape[0])

    @property
    def kappa_bar(self) -> float:
        """Mean stiffness κ̄, eV/Å²."""
        return float(np.mean(self.kappa))

    @property
    def nu(self) -> np.ndarray:
        """Relative stiffnesses ν_l = κ_l/κ̄, shape (M,)."""
        return self.kappa / self.kappa_bar

    @property
    def mean_log_nu(self) -> float:
        """⟨ln ν⟩ (≤ 0 by Jensen's inequality)."""
        return float(np.mean(np.log(self.nu)))

    def harmonic_energy(self, displacement: np.ndarray) -> np.ndarray:
        """Harmonic energy ½ δxᵀ H δx of displacements, eV (whole cell).

        Args:
            displacement: shape (..., N, 3) or (..., 3N), Å.
        """
        d = np.asarray(displacement, dtype=float)
        if d.ndim >= 2 and d.shape[-2:] == (self.n_atoms, 3):
            d = d.reshape(*d.shape[:-2], 3 * self.n_atoms)
        amp = d @ self.vectors
        return 0.5 * np.sum(self.kappa * amp**2, axis=-1)


def modes_from_hessian(
    hessian: np.ndarray,
    mass: float,
    *,
    negative_tol: float = 1e-6,
    acoustic_sum_rule: bool = True,
) -> Modes:
    """Diagonalise a force-constant matrix into the 3N − 3 vibrational modes.

    The three eigenvectors with the largest overlap on uniform translations are dropped. Every
    remaining eigenvalue must exceed ``negative_tol·max(1, κ_max)``; otherwise the reference structure is
    not a stable minimum and :class:`UnstableStructureError` names the number of offending modes and the
    most negative eigenvalue.

    Args:
        hessian: force constants, shape (3N, 3N), eV/Å².
        mass: atomic mass, amu (single species).
        negative_tol: relative tolerance for zero/negative eigenvalues.
        acoustic_sum_rule: impose the acoustic sum rule before diagonalising.
    """
    if not mass > 0:
        raise InputError(f"mass must be > 0 amu, got {mass!r}")
    h = symmetrize_hessian(hessian, acoustic_sum_rule=acoustic_sum_rule)
    n = h.shape[0] // 3
    if n < 2:
        raise InputError("need at least 2 atoms for vibrational modes")
    evals, evecs = np.linalg.eigh(h)
    trans = np.zeros((3 * n, 3))
    for k in range(3):
        trans[k::3, k] = 1.0 / math.sqrt(n)
    overlap = np.sum((trans.T @ evecs) ** 2, axis=0)  # (3N,)
    drop = np.argsort(-overlap)[:3]
    keep = np.setdiff1d(np.arange(3 * n), drop)
    kappa = evals[keep]
    vectors = evecs[:, keep]
    threshold = negative_tol * max(1.0, float(np.max(np.abs(evals))))
    bad = kappa <= threshold
    if np.any(bad):
        raise UnstableStructureError(
            f"unstable reference structure: {int(bad.sum())} of {kappa.size} vibrational modes have "
            f"eigenvalue <= {threshold:.3g} eV/Å² ({'most negative' if kappa.min() < 0 else 'lowest'} "
            f"{float(kappa.min()):.6g} eV/Å²); "
            "relax the structure or change the strain/potential"
        )
    order = np.argsort(kappa)
    return Modes(kappa=kappa[order], vectors=vectors[:, order], mass=float(mass), n_atoms=n)


def _log(x):
    return x.log() if hasattr(x, "log") and not isinstance(x, np.ndarray) else np.log(x)


def shell_alpha(T_shell, kappa_bar: float):
    """Shell coordinate α = ln r², r² = 3 k_B T_α/κ̄ (Å²), for shell temperature(s) T_α in K."""
    return _log(3.0 * KB * T_shell / kappa_bar)


def shell_temperature(alpha, kappa_bar: float):
    """Inverse of :func:`shell_alpha`: T_α = κ̄ e^α / (3 k_B), K."""
    expo = alpha.exp() if hasattr(alpha, "exp") and not isinstance(alpha, np.ndarray) else np.exp(alpha)
    return kappa_bar * expo / (3.0 * KB)


def shell_entropy(alpha, T, mass: float, mean_log_nu: float):
    """Exact shell reference entropy per atom (in units of k_B).

    S_0(α, T) = −(3/2) [ ln(3βħ²/m) + ⟨ln ν⟩ − 1 − α ], β = 1/k_B T, ħ²/m in eV·Å².
    Works on floats, NumPy arrays and torch tensors (broadcasting α against T).
    """
    c = math.log(3.0 * HBAR2_PER_AMU / (mass * KB))
    return -1.5 * (c - _log(T) + mean_log_nu - 1.0 - alpha)


def harmonic_free_energy(modes: Modes, T, convention: str = "ddos"):
    """Classical harmonic free energy per atom, eV, relative to the static lattice energy.

    ``"ddos"``: F_h = 3 k_B T ⟨ln βħω_l⟩ over the 3N − 3 modes (the D-DOS shell identity).
    ``"cell"``: F_h = (k_B T / N) Σ_l ln βħω_l (finite-cell sum over the 3N − 3 modes).
    ω_l = √(κ_l/m). ``T`` may be a float or an array (K).
    """
    T = np.asarray(T, dtype=float)
    if not np.all(T > 0):
        raise InputError(f"temperature must be > 0 K, got {T}")
    log_hbar_omega = 0.5 * np.log(HBAR2_PER_AMU * modes.kappa / modes.mass)  # ln(ħω / eV)
    return harmonic_free_energy_of(
        float(np.mean(log_hbar_omega)), T, convention, modes.n_modes, modes.n_atoms
    )


def mean_log_hbar_omega(kappa_bar: float, mean_log_nu: float, mass: float) -> float:
    """⟨ln ħω_l⟩ (ħω in eV) from κ̄ (eV/Å²), ⟨ln κ_l/κ̄⟩ and the mass (amu): ½ ln(ħ²κ̄/m) + ½⟨ln ν⟩."""
    return 0.5 * math.log(HBAR2_PER_AMU * kappa_bar / mass) + 0.5 * mean_log_nu


def harmonic_free_energy_of(mean_log_hw: float, T, convention: str, n_modes: int, n_atoms: int):
    """F_h per atom, eV, from ⟨ln ħω_l⟩ of the 3N − 3 modes, in ``convention`` (see
    :func:`harmonic_free_energy`); works on floats, NumPy arrays and torch tensors of T (K)."""
    if convention not in HARMONIC_CONVENTIONS:
        raise InputError(f"unknown harmonic convention {convention!r}; use one of {HARMONIC_CONVENTIONS}")
    kT = KB * T
    mean_term = mean_log_hw - _log(kT)  # ⟨ln βħω⟩
    if convention == "ddos":
        return 3.0 * kT * mean_term
    return kT * n_modes * mean_term / n_atoms


def einstein_free_energy(spring: np.ndarray | float, mass: np.ndarray | float, T: float) -> float:
    """Classical Einstein-crystal free energy per atom, eV: (3 k_B T / N) Σ_i ln(βħω_i), ω_i = √(k_i/m_i).

    Args:
        spring: spring constants k_i, shape (N,) or scalar, eV/Å².
        mass: masses m_i, shape (N,) or scalar, amu.
        T: temperature, K.
    """
    if not T > 0:
        raise InputError(f"temperature must be > 0 K, got {T!r}")
    try:
        k, m = np.broadcast_arrays(
            np.atleast_1d(np.asarray(spring, dtype=float)), np.atleast_1d(np.asarray(mass, dtype=float))
        )
    except ValueError:
        raise InputError(
            f"spring constants {np.shape(spring)} and masses {np.shape(mass)} do not broadcast"
        ) from None
    if np.any(k <= 0) or np.any(m <= 0):
        raise InputError("spring constants and masses must be positive")
    hbar_omega = np.sqrt(HBAR2_PER_AMU * k / m)
    return float(3.0 * KB * T * np.mean(np.log(hbar_omega / (KB * T))))


def einstein_cell_free_energy(spring: np.ndarray | float, mass: np.ndarray | float, T: float) -> float:
    """Classical free energy per atom of an Einstein crystal whose centre of mass is held (the ``"cell"``
    convention of :mod:`thermograd.ti.results`: only the 3N − 3 internal degrees of freedom), eV.

    For springs k_i and masses m_i (any mix), holding the mass-weighted centre R = Σm_i x_i/M and the total
    momentum removes two Gaussian variables from the free crystal's partition function:

        N f_cell = Σ_i 3k_BT ln(βħω_i) + (3/2) k_BT ln(s² M k_BT / ħ²),   s² = Σ_i (m_i/M)² k_BT/k_i,

    s² being the variance of each component of R in the free Einstein crystal. For equal k and m this is
    f_E(1 − 1/N), the form :func:`thermograd.ti.frenkel_ladd.run_frenkel_ladd` uses.

    Args:
        spring: spring constants k_i, shape (N,), eV/Å² (all > 0).
        mass: masses m_i, shape (N,) (or a scalar for all), amu.
        T: temperature, K.
    """
    if np.ndim(spring) != 1 or np.size(spring) < 2:
        raise InputError("the held-centre Einstein free energy needs one spring constant per atom (N >= 2)")
    k, m = np.broadcast_arrays(
        np.atleast_1d(np.asarray(spring, dtype=float)), np.atleast_1d(np.asarray(mass, dtype=float))
    )
    n = k.size
    f_free = einstein_free_energy(k, m, T) * n
    kt = KB * T
    total = float(m.sum())
    s2 = float(np.sum((m / total) ** 2 * kt / k))
    return (f_free + 1.5 * kt * math.log(s2 * total * kt / HBAR2_PER_AMU)) / n
