"""Tilted shell sampling: Metropolis chains on a harmonic-energy shell biased toward a model of interest.

At high temperature the shell term of D-DOS, N s_θ(α) = ln⟨exp(−t u)⟩_α with u = θ·(D − D_0) per atom and
t = N/k_BT, is dominated by rare low-u configurations that uniform shell samples barely visit: on 128-atom BCC
Mo at 2500 K the effective sample size of 640 uniform samples is 2–5 on the shells that matter, and every
closure of their cumulants is an extrapolation. Here the shell is sampled again with the density

    π_λ(z) ∝ exp(−λ t_tilt u_tilt(z))      on the unit sphere z ∈ S^{M−1} of scaled mode coordinates,

for a ladder 0 < λ_1 < … < λ_K = 1 of tilts toward one model θ_tilt at one temperature T_tilt. The uniform
shell samples of the campaign are the λ = 0 rung. MBAR over all rungs (:func:`solve_mbar`) then gives
ln⟨exp(−t u)⟩_α for *any* θ and T with the overlap of the rung nearest to it, which is what the
high-temperature estimator needs (:class:`TiltedShell.log_mgf`).

Moves: z' = (z + εξ)/|z + εξ|, ξ ~ N(0, 1_M). The proposal density depends on z·z' only, so it is symmetric
with respect to the uniform measure on the sphere and the Metropolis ratio is exp(−λ t Δu). ε is adapted
during burn-in toward a target acceptance and then frozen (the recorded chain is a valid Markov chain). Chains
of one rung start from the previous rung's recorded states resampled by their incremental weights
exp(−Δλ t u) (selection, as in population annealing), the first rung from uniform draws resampled likewise.
All chains of a step are evaluated in one descriptor call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from ...errors import InputError
from ...harmonic import Modes, shell_alpha
from ...units import KB
from .shells import _shell_r2

__all__ = ["TiltedShell", "sample_tilted_shell", "solve_mbar"]


@dataclass
class TiltedShell:
    """Samples of one shell under a ladder of tilts (plus, optionally, the uniform λ = 0 rung).

    Attributes:
        T_shell: shell temperature T_α, K. alpha: α = ln(3k_BT_α/κ̄).
        theta_tilt: the tilt model, shape (d,). T_tilt: its temperature, K. n_atoms: N.
        lambdas: tilt strengths of the rungs, shape (K,); 0 marks the uniform rung.
        descriptors: per rung, per-atom mean descriptors of the recorded samples, list of (n_k, d) arrays.
        chain_ids: per rung, the chain index of every sample (for a bootstrap over chains), list of (n_k,).
        acceptance: per rung, the Metropolis acceptance after burn-in. step: per rung, the frozen ε.
        D_0: the perfect-lattice descriptor, shape (d,).
    """

    T_shell: float
    alpha: float
    theta_tilt: np.ndarray
    T_tilt: float
    n_atoms: int
    lambdas: np.ndarray
    descriptors: list[np.ndarray]
    chain_ids: list[np.ndarray]
    acceptance: np.ndarray
    step: np.ndarray
    D_0: np.ndarray
    _fk: np.ndarray | None = field(default=None, repr=False)

    @property
    def t_tilt(self) -> float:
        """t = N/(k_B T_tilt), 1/eV per (eV/atom)."""
        return self.n_atoms / (KB * self.T_tilt)

    def with_uniform(self, uniform_descriptors: np.ndarray) -> TiltedShell:
        """This shell with the campaign's uniform samples added as the λ = 0 rung (each its own 'chain')."""
        if np.any(self.lambdas == 0):
            raise InputError("this tilted shell already has a λ = 0 rung")
        u = np.asarray(uniform_descriptors, dtype=float)
        first = max((int(c.max()) + 1 for c in self.chain_ids if c.size), default=0)
        return TiltedShell(
            self.T_shell,
            self.alpha,
            self.theta_tilt,
            self.T_tilt,
            self.n_atoms,
            np.concatenate([[0.0], self.lambdas]),
            [u, *self.descriptors],
            [first + np.arange(u.shape[0]), *self.chain_ids],
            np.concatenate([[1.0], self.acceptance]),
            np.concatenate([[0.0], self.step]),
            self.D_0,
        )

    def _pooled(self, idx=None) -> tuple[np.ndarray, np.ndarray]:
        """All samples (n, d) of all rungs (or of the resampled ``idx``, per rung) and the counts N_k."""
        parts = self.descriptors if idx is None else [d[i] for d, i in zip(self.descriptors, idx)]
        return np.concatenate(parts), np.array([p.shape[0] for p in parts])

    def pooled(self, idx=None) -> tuple[np.ndarray, np.ndarray]:
        """Pooled samples D (n, d) of all rungs and their MBAR log-denominators ln Σ_k N_k e^{f_k − b_k(x_n)}
        (n,), so that ln⟨g⟩_uniform = ln Σ_n g(x_n) e^{−log_den_n}. ``idx`` (per rung) resamples."""
        if self.lambdas[0] != 0:
            raise InputError("the uniform λ = 0 rung is missing: use TiltedShell.with_uniform(...)")
        D, counts = self._pooled(idx)
        b = self.lambdas[:, None] * self.t_tilt * ((D - self.D_0) @ self.theta_tilt)[None, :]
        fk = solve_mbar(b, counts, self._fk)
        if idx is None:
            self._fk = fk
        return D, logsumexp(fk[:, None] - b, b=counts[:, None], axis=0)

    def log_mgf(self, theta: np.ndarray, T: np.ndarray, idx=None) -> np.ndarray:
        """ln⟨exp(−t u_θ)⟩ over the *uniform* shell measure, for models θ (n_m, d) at T (n_T,) → (n_m, n_T).

        MBAR estimate from all rungs (the λ = 0 rung must be present); ``idx`` (per rung, sample indices)
        resamples for a bootstrap.
        """
        D, log_den = self.pooled(idx)
        u = (D - self.D_0) @ np.atleast_2d(theta).T  # (n, n_m)
        t = self.n_atoms / (KB * np.atleast_1d(np.asarray(T, dtype=float)))  # (n_T,)
        x = -t[None, None, :] * u[:, :, None] - log_den[:, None, None]
        return logsumexp(x, axis=0)

    def late_indices(self) -> list[np.ndarray]:
        """Per rung, the indices of the later half of the recorded samples (all of the uniform λ = 0 rung):
        an estimate from these alone differs from the full one by about the chains' residual equilibration
        bias (samples are stored in step order)."""
        return [
            np.arange(d.shape[0]) if lam == 0 else np.arange(d.shape[0] // 2, d.shape[0])
            for lam, d in zip(self.lambdas, self.descriptors)
        ]

    def bootstrap_indices(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Per rung, sample indices of a bootstrap over whole chains (chains are the independent units)."""
        out = []
        for cid in self.chain_ids:
            chains = np.unique(cid)
            pick = rng.choice(chains, chains.size)
            out.append(np.concatenate([np.flatnonzero(cid == c) for c in pick]))
        return out


def solve_mbar(
    bias: np.ndarray,
    counts: np.ndarray,
    f_init: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 10_000,
) -> np.ndarray:
    """Dimensionless free energies f_k = −ln⟨e^{−b_k}⟩_0 of K biased states from pooled samples (MBAR).

    Self-consistent iteration f_k = −ln Σ_n e^{−b_k(x_n)} / Σ_j N_j e^{f_j − b_j(x_n)}, with f_0 = 0 fixed
    (state 0 is the reference; its bias need not vanish). Converges for connected overlap, which the ladder
    provides.

    Args:
        bias: b_k(x_n), shape (K, n), over all pooled samples. counts: N_k, shape (K,).
        f_init: starting values (default: 0).

    Returns:
        f, shape (K,), with f[0] = 0.
    """
    b = np.asarray(bias, dtype=float)
    n_k = np.asarray(counts, dtype=float)
    if b.ndim != 2 or b.shape[0] != n_k.size or n_k.sum() != b.shape[1]:
        raise InputError(f"MBAR: bias must be (K, Σ N_k); got {b.shape} with counts {n_k}")
    f = np.zeros(b.shape[0]) if f_init is None else np.array(f_init, dtype=float)
    for _ in range(max_iter):
        log_den = logsumexp(f[:, None] - b, b=n_k[:, None], axis=0)
        f_new = -logsumexp(-b - log_den[None, :], axis=1)
        f_new -= f_new[0]
        if np.max(np.abs(f_new - f)) < tol:
            return f_new
        f = f_new
    return f


def sample_tilted_shell(
    modes: Modes,
    positions0: np.ndarray,
    T_shell: float,
    descriptor_fn,
    D_0: np.ndarray,
    theta: np.ndarray,
    T_tilt: float,
    lambdas=(0.25, 0.5, 0.75, 1.0),
    n_chains: int = 32,
    n_steps: int = 60,
    n_burn: int = 30,
    thin: int = 2,
    target_accept: float = 0.35,
    seed: int | np.random.SeedSequence = 0,
    progress=None,
) -> TiltedShell:
    """Metropolis chains on one harmonic shell under a ladder of tilts toward (θ, T_tilt).

    Args:
        modes, positions0: the harmonic reference (as for :func:`~thermograd.ddos.sampling.shells.sample_shell`).
        T_shell: shell temperature, K.
        descriptor_fn: positions (m, N, 3) → per-atom mean descriptors (m, d).
        D_0: perfect-lattice descriptor, (d,). theta: tilt model, (d,). T_tilt: its temperature, K.
        lambdas: increasing tilt strengths in (0, 1].
        n_chains: chains per rung (evaluated together). n_steps: recorded steps per rung after n_burn.
        thin: record every ``thin``-th state.
        target_accept: acceptance the burn-in adapts ε toward.
        seed: int or SeedSequence.
        progress: optional callable(done_evaluations, total_evaluations).

    Returns:
        :class:`TiltedShell` (add the campaign's uniform samples with :meth:`TiltedShell.with_uniform`).
    """
    lam = np.asarray(lambdas, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or np.any(lam <= 0) or np.any(np.diff(lam) <= 0):
        raise InputError(f"tilt strengths must be increasing and > 0, got {lambdas}")
    if not (T_tilt > 0 and math.isfinite(T_tilt)):
        raise InputError(f"tilt temperature must be finite and > 0 K, got {T_tilt!r}")
    rng = np.random.default_rng(seed)
    x0 = np.asarray(positions0, dtype=float)
    th = np.asarray(theta, dtype=float)
    d0 = np.asarray(D_0, dtype=float)
    N = modes.n_atoms
    scale = np.sqrt(N * _shell_r2(modes, T_shell)) / np.sqrt(modes.nu)
    t = N / (KB * T_tilt)

    vectors = np.ascontiguousarray(modes.vectors, dtype=np.float64)

    def gauss(k: int) -> np.ndarray:
        # Cartesian Gaussians projected on the modes: N(0, 1_M) in any eigenvector basis, and every
        # configuration below depends on the Hessian only, not on how the eigensolver chose its basis
        # (see thermograd.ddos.sampling.shells.shell_displacements)
        return rng.standard_normal((k, 3 * N)) @ vectors

    def evaluate(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dx = ((z * scale) @ vectors.T).reshape(z.shape[0], N, 3)
        D = np.asarray(descriptor_fn(x0 + dx), dtype=float)
        return D, (D - d0) @ th

    def unit(z: np.ndarray) -> np.ndarray:
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    total = (4 * n_chains) + lam.size * n_chains * (n_burn + n_steps)
    done = 0
    # first rung: uniform draws resampled by their weights under the first tilt
    z_pool = unit(gauss(4 * n_chains))
    D_pool, u_pool = evaluate(z_pool)
    done += z_pool.shape[0]
    logw = -lam[0] * t * u_pool
    p = np.exp(logw - logsumexp(logw))
    pick = rng.choice(z_pool.shape[0], n_chains, p=p)
    z, D, u = z_pool[pick], D_pool[pick], u_pool[pick]
    eps = 0.5 / max(1.0, lam[0] * t * float(np.std(u_pool)))
    descriptors, chain_ids, acc_rate, steps = [], [], [], []
    prev = lam[0]
    rec_z = D_rec = u_rec = None
    for lk in lam:
        if rec_z is not None:
            # start from the previous rung's recorded states resampled by exp(−(λ_k − λ_{k−1}) t u): close to
            # π_λk already, so the chains need not diffuse the whole way (selection, as in population annealing)
            logw = -(lk - prev) * t * u_rec
            pick = rng.choice(u_rec.size, n_chains, replace=False, p=np.exp(logw - logsumexp(logw)))
            z, D, u = rec_z[pick].copy(), D_rec[pick].copy(), u_rec[pick].copy()
        rec_D, rec_c, rec_zs, rec_u, n_acc, n_prop = [], [], [], [], 0, 0
        log_eps = math.log(eps * prev / lk)  # the energy scale of a move grows with λ
        prev = lk
        for step in range(n_burn + n_steps):
            z_new = unit(z + math.exp(log_eps) * gauss(n_chains))
            D_new, u_new = evaluate(z_new)
            done += n_chains
            accept = np.log(rng.random(n_chains)) < -lk * t * (u_new - u)
            z[accept], D[accept], u[accept] = z_new[accept], D_new[accept], u_new[accept]
            if step < n_burn:  # Robbins–Monro on ln ε toward the target acceptance, then frozen
                log_eps += 2.0 * (accept.mean() - target_accept) / math.sqrt(step + 1.0)
            else:
                n_acc += int(accept.sum())
                n_prop += n_chains
                if (step - n_burn) % thin == thin - 1:
                    rec_D.append(D.copy())
                    rec_c.append(np.arange(n_chains))
                    rec_zs.append(z.copy())
                    rec_u.append(u.copy())
            if progress is not None:
                progress(done, total)
        eps = math.exp(log_eps)
        rec_z, D_rec, u_rec = np.concatenate(rec_zs), np.concatenate(rec_D), np.concatenate(rec_u)
        descriptors.append(D_rec)
        chain_ids.append(np.concatenate(rec_c))
        acc_rate.append(n_acc / max(1, n_prop))
        steps.append(eps)
    # chains of different rungs share starting states, so number them per rung for the chain bootstrap
    offset = 0
    for k in range(len(chain_ids)):
        chain_ids[k] = chain_ids[k] + offset
        offset += n_chains
    return TiltedShell(
        T_shell=float(T_shell),
        alpha=float(shell_alpha(float(T_shell), modes.kappa_bar)),
        theta_tilt=th,
        T_tilt=float(T_tilt),
        n_atoms=N,
        lambdas=lam,
        descriptors=descriptors,
        chain_ids=chain_ids,
        acceptance=np.array(acc_rate),
        step=np.array(steps),
        D_0=d0,
    )
