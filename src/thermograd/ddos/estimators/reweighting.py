"""Exact shell reweighting of raw samples with the Laplace minimum over α (the score model's α treatment).

s_θ(α_i) = (1/N) ln⟨exp(−βNθ·(D − D_0))⟩_{α_i} on every shell i from its raw samples; G(α) = −s_θ(α) − S_0(α, T)
is interpolated by the same not-a-knot α spline as the score estimator (:class:`~.core.AlphaSpline`) and
F = E_0 + k_BT min_α G(α). Exact for any θ where the samples overlap the tilted distribution; the effective
sample size (ESS) at the shell nearest α* measures that overlap, and a value whose ESS falls below
``ess_min`` of the shell's samples is flagged. σ is a bootstrap over every shell's samples.
Reference: docs/science-ddos.md §8.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ...errors import InputError
from ...free_energy import FreeEnergyResult, as_coefficients, check_convention, make_result
from ...units import KB
from .core import REFERENCE, REFERENCE_CELL, AlphaSpline, as_temperatures, make_s0_fn

__all__ = ["ReweightingEstimator"]


class ReweightingEstimator:
    """Shell reweighting of a :class:`~thermograd.ddos.dataset.PhaseDataset` with raw samples on every shell.

    Args:
        dataset: the data set (``keep_raw: true`` campaigns).
        ess_min: flag a value when the effective sample size at the shell nearest α* is below this fraction of
            that shell's samples (default 0.02).
        n_boot: bootstrap replicas for σ_stat.
    """

    route = "shell reweighting"

    def __init__(self, dataset, ess_min: float = 0.02, n_boot: int = 32):
        if not dataset.has_raw:
            raise InputError(f"phase {dataset.name!r}: raw samples were not kept; reweighting needs them")
        self.dataset = dataset
        self.name = dataset.name
        self.n_features = int(dataset.n_features)
        self.D_0 = np.asarray(dataset.D_0, dtype=float)
        self.volume_per_atom = float(dataset.volume_per_atom)  # Å³/atom of the sampled cell
        self.shell_range = (float(min(dataset.T_shells)), float(max(dataset.T_shells)))
        self.ess_min = float(ess_min)
        self.n_boot = int(n_boot)
        self._raw = [torch.tensor(np.asarray(s.raw, dtype=float)) for s in dataset.shells]
        self._spline = AlphaSpline(dataset.alphas)
        self._s0 = make_s0_fn(dataset.alphas, dataset.mass, dataset.mean_log_nu)

    def _values(self, th: torch.Tensor, Ts: torch.Tensor, idx=None):
        """F − E_0 (n_m, n_T), α*, out-of-range, ESS per shell (n_m, n_T, n_s)."""
        N = self.dataset.n_atoms
        d0 = torch.as_tensor(self.D_0)
        ys, ess = [], []
        for i, raw in enumerate(self._raw):
            r = raw if idx is None else raw[idx[i]]
            e = (r - d0) @ th.T  # (n, n_m)
            x = -(N / (KB * Ts))[None, None, :] * e[:, :, None]  # (n, n_m, n_T)
            ys.append(-(torch.logsumexp(x, dim=0) - math.log(r.shape[0])) / N)
            ess.append(1.0 / (torch.softmax(x, dim=0) ** 2).sum(0))
        y = torch.stack(ys, -1) - self._s0(Ts)[None]
        j, tau, oor = self._spline.argmin(y)
        F_rel = KB * Ts[None, :] * (self._spline.weights(j, tau) * y).sum(-1)
        return F_rel, self._spline.alphas[j] + tau, oor, torch.stack(ess, -1)

    def predict(
        self, coefficients, T, *, convention: str = "ddos", with_grad: bool = False, with_sigma: bool = True
    ) -> FreeEnergyResult:
        """F(θ, T) by reweighting; ``extra`` holds ``ess`` and ``ess_fraction`` at the shell nearest α*."""
        check_convention(convention)
        coeffs = as_coefficients(coefficients, self.n_features)
        th = torch.as_tensor(coeffs.theta).clone().requires_grad_(with_grad)
        Ts = as_temperatures(T).detach()
        F_rel, a_star, oor, ess_all = self._values(th, Ts)
        grad = None
        if with_grad:
            grads = [
                torch.autograd.grad(F_rel[:, k].sum(), th, retain_graph=k < Ts.numel() - 1)[0]
                for k in range(Ts.numel())
            ]
            grad = (torch.stack(grads, 1) + torch.as_tensor(self.D_0)).numpy()
        F_rel = F_rel.detach().numpy()
        a_star = a_star.detach()
        nearest = (a_star[..., None] - self._spline.alphas).abs().argmin(-1)
        ess = torch.gather(ess_all.detach(), -1, nearest[..., None])[..., 0].numpy()
        n_samp = np.array([float(r.shape[0]) for r in self._raw])[nearest.numpy()]
        sigma_stat = np.zeros_like(F_rel)
        if with_sigma and self.n_boot >= 2:
            rng = np.random.default_rng(0)
            with torch.no_grad():
                boots = [
                    self._values(
                        th.detach(),
                        Ts,
                        [torch.as_tensor(rng.integers(0, r.shape[0], r.shape[0])) for r in self._raw],
                    )[0].numpy()
                    for _ in range(self.n_boot)
                ]
            sigma_stat = np.std(boots, axis=0, ddof=1)
        code = np.where(oor.numpy(), 1, np.where(ess / n_samp < self.ess_min, 2, 0))
        ds = self.dataset
        from ...harmonic import harmonic_free_energy_of, mean_log_hbar_omega

        log_hw = mean_log_hbar_omega(ds.kappa_bar, ds.mean_log_nu, ds.mass)
        Fh_ddos = harmonic_free_energy_of(log_hw, Ts.numpy(), "ddos", ds.n_modes, ds.n_atoms)
        Fh = harmonic_free_energy_of(log_hw, Ts.numpy(), convention, ds.n_modes, ds.n_atoms)
        a_np = a_star.numpy()
        return make_result(
            coefficients=coeffs,
            T=Ts.numpy(),
            F_anh=F_rel - Fh_ddos,
            E0_theta=coeffs.theta @ self.D_0,
            F_h=Fh,
            sigma_stat=sigma_stat,
            sigma_model=np.zeros_like(F_rel),
            alpha_star=a_np,
            T_star=ds.kappa_bar * np.exp(a_np) / (3.0 * KB),
            convention=convention,
            routes=("shell reweighting (Laplace α minimum)",),
            flag_reasons=(
                "",
                "optimum α* on the edge of the sampled shells (extrapolated: an upper bound)",
                f"effective sample size below {self.ess_min:.0%} of the shell's samples (poor overlap)",
            ),
            flag_code=code,
            dF_dtheta=grad,
            phase=self.name,
            reference=REFERENCE if convention == "ddos" else REFERENCE_CELL,
            extra={"ess": ess, "ess_fraction": ess / n_samp},
        )
