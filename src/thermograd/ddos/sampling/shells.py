"""Exact, i.i.d. sampling of D-DOS harmonic-energy shells (no MD).

A shell at temperature T_α is the isosurface ½ δxᵀHδx = N·(3/2)k_B·T_α of the harmonic reference. In the
scaled mode coordinates y_l = √ν_l a_l the shell is a sphere of radius √(N r²), r² = 3k_BT_α/κ̄, and the
uniform measure on that sphere is exactly the microcanonical (coarea) measure of the quadratic form, so
normalised Gaussian vectors give exact, independent shell samples (Swinburne, Lapointe, Marinica,
Nat. Commun. 17, 248 (2026), §"harmonic isosurface sampling"; docs: science-ddos.md §3).

Randomness is explicit: every task derives its own :class:`numpy.random.SeedSequence` from a campaign seed
and a task key with :func:`task_seed`, which does not depend on Python's hash randomisation.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ...errors import InputError
from ...harmonic import Modes, shell_alpha
from ...units import KB

__all__ = ["ShellSamples", "sample_shell", "shell_displacements", "task_seed"]


def _key_word(part: str | int) -> int:
    """Stable 64-bit integer for one key component (type-tagged, so 3 and "3" differ)."""
    if isinstance(part, bool):
        raise InputError(f"task key components must be str or int, got bool {part!r}")
    if isinstance(part, numbers.Integral):
        text = f"int:{int(part)}"
    elif isinstance(part, str):
        text = f"str:{part}"
    else:
        raise InputError(f"task key components must be str or int, got {type(part).__name__} {part!r}")
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def task_seed(seed: int, *key: str | int) -> np.random.SeedSequence:
    """Deterministic seed sequence of one task, from a campaign seed and a task key.

    Each key component is hashed with BLAKE2b (type-tagged, so ``3`` and ``"3"`` differ) into one word of
    the ``spawn_key``; the result is the same in every process and Python session.

    Args:
        seed: campaign seed, a non-negative integer (the SeedSequence entropy).
        *key: task key components (str or int), e.g. ``("bcc", "strain=0.010", "shell", 3)``; write floats
            as formatted strings so the key is exact.

    Returns:
        ``SeedSequence(entropy=seed, spawn_key=(h(key_0), h(key_1), ...))``.

    Raises:
        InputError: negative/non-integer seed or a key component that is neither str nor int.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.SeedSequence(entropy=int(seed), spawn_key=tuple(_key_word(k) for k in key))


def _shell_r2(modes: Modes, T_shell: float) -> float:
    if not (np.isfinite(T_shell) and T_shell > 0):
        raise InputError(f"shell temperature must be a finite number > 0 K, got {T_shell!r}")
    return 3.0 * KB * float(T_shell) / modes.kappa_bar


def shell_displacements(modes: Modes, T_shell: float, rng: np.random.Generator, n: int) -> np.ndarray:
    """Draw displacements exactly and uniformly on one harmonic-energy shell, independently of the basis
    in which the eigensolver returned the modes.

    A Cartesian Gaussian g ~ N(0, 1_{3N}) is projected on the modes, z = Eᵀg ~ N(0, 1_M) (E has orthonormal
    columns), and normalised onto the unit sphere S^{M−1}; the mode amplitudes are
    a_l = z_l ν_l^{−1/2} (N r²)^{1/2} with r² = 3k_BT_α/κ̄, and δx = Σ_l a_l e_l. Then
    ½ δxᵀHδx = ½κ̄ N r² = N·(3/2)k_BT_α for every sample (to rounding).

    Drawing z in Cartesian space (rather than directly in mode space) makes each sample a function of the
    Hessian alone: δx = c·E ν^{−1/2} Eᵀ g / |Eᵀg|, and both E ν^{−1/2} Eᵀ and |Eᵀg| are unchanged when the
    eigenvectors are flipped in sign or rotated within a degenerate subspace, which LAPACK does differently on
    different machines and BLAS kernels. The same seed therefore gives the same configurations everywhere, up
    to floating-point rounding.

    Args:
        modes: harmonic reference (M = 3N − 3 modes).
        T_shell: shell temperature T_α, K.
        rng: generator consumed by exactly one ``standard_normal((n, 3N))`` call, so drawing n₁ then n₂
            samples from one generator gives the same samples as drawing n₁ + n₂ at once.
        n: number of samples (≥ 0).

    Returns:
        Displacements, shape (n, N, 3), Å.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise InputError(f"number of samples must be a non-negative integer, got {n!r}")
    r2 = _shell_r2(modes, T_shell)
    vectors = np.ascontiguousarray(modes.vectors, dtype=np.float64)
    g = rng.standard_normal((int(n), 3 * modes.n_atoms))
    z = g @ vectors  # (n, M) ~ N(0, 1_M)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    amp = z * (np.sqrt(modes.n_atoms * r2) / np.sqrt(modes.nu))  # (n, M), Å
    return (amp @ vectors.T).reshape(int(n), modes.n_atoms, 3)


@dataclass
class ShellSamples:
    """Descriptors of i.i.d. samples on one shell.

    Attributes:
        T_shell: shell temperature T_α, K.
        alpha: shell coordinate α = ln(3k_BT_α/κ̄), ln Å².
        descriptors: per-atom mean descriptors D of every sample, shape (n, d).
        harmonic_energy: harmonic energy per atom of every sample, shape (n,), eV/atom
            (equal to 1.5 k_B T_α up to rounding; kept as a check).
        seed: ``(entropy, spawn_key)`` of the SeedSequence that drew the samples.
    """

    T_shell: float
    alpha: float
    descriptors: np.ndarray
    harmonic_energy: np.ndarray
    seed: tuple

    @property
    def n_samples(self) -> int:
        return int(self.descriptors.shape[0])


def sample_shell(
    modes: Modes,
    positions0: np.ndarray,
    T_shell: float,
    seed: np.random.SeedSequence | int,
    n: int,
    descriptor_fn: Callable[[np.ndarray], np.ndarray],
    batch: int | None = None,
) -> ShellSamples:
    """Sample one shell and evaluate descriptors (a pure function of its arguments).

    Positions are ``positions0 + displacements`` (not wrapped into the cell; descriptor functions must
    apply periodic images themselves). Samples are drawn from ``default_rng(seed)`` in batches; the random
    draws do not depend on ``batch`` (results agree to floating-point rounding of the mode-to-Cartesian
    matrix product, and are bit-identical for identical arguments).

    Args:
        modes: harmonic reference of the structure, N atoms.
        positions0: reference (minimum) positions, shape (N, 3), Å.
        T_shell: shell temperature T_α, K.
        seed: a SeedSequence (e.g. from :func:`task_seed`) or a non-negative int.
        n: number of samples.
        descriptor_fn: maps positions, shape (m, N, 3), Å, to per-atom mean descriptors, shape (m, d).
        batch: samples per descriptor_fn call (default: all n at once).

    Returns:
        :class:`ShellSamples` with descriptors (n, d) and harmonic energies (n,) eV/atom.
    """
    x0 = np.asarray(positions0, dtype=float)
    if x0.shape != (modes.n_atoms, 3):
        raise InputError(f"positions0 must have shape ({modes.n_atoms}, 3), got {x0.shape}")
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0:
        ss = np.random.SeedSequence(int(seed))
    else:
        raise InputError(f"seed must be a SeedSequence or a non-negative int, got {seed!r}")
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise InputError(f"number of samples must be a positive integer, got {n!r}")
    step = int(n) if batch is None else int(batch)
    if step < 1:
        raise InputError(f"batch must be a positive integer, got {batch!r}")
    rng = np.random.default_rng(ss)
    descriptors: list[np.ndarray] = []
    energies: list[np.ndarray] = []
    d_dim: int | None = None
    for start in range(0, int(n), step):
        m = min(step, int(n) - start)
        dx = shell_displacements(modes, T_shell, rng, m)
        out = np.asarray(descriptor_fn(x0 + dx), dtype=float)
        if out.ndim != 2 or out.shape[0] != m or (d_dim is not None and out.shape[1] != d_dim):
            raise InputError(
                f"descriptor_fn must return shape ({m}, d) for {m} configurations, got {out.shape}"
            )
        d_dim = out.shape[1]
        descriptors.append(out)
        energies.append(modes.harmonic_energy(dx) / modes.n_atoms)
    return ShellSamples(
        T_shell=float(T_shell),
        alpha=float(shell_alpha(float(T_shell), modes.kappa_bar)),
        descriptors=np.concatenate(descriptors, axis=0),
        harmonic_energy=np.concatenate(energies),
        seed=(ss.entropy, tuple(ss.spawn_key)),
    )
