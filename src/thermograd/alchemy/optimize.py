"""Composition optimisation on constraint simplices: projected and exponentiated gradient steps.

Each constraint group (one simplex per independently mixed site set, or a single weight in [0, 1] such as a
vacancy) is updated separately, so λ never leaves its feasible set. The projected step removes the gradient's
mean on each simplex, takes a plain step and projects back (Euclidean projection, which is clamp-and-
renormalise in the interior); the exponentiated step is the mirror-descent update λ ← λ·exp(−ηg)/Z
(Nam et al., Nat. Commun. 16 (2025), Fig. 3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import InputError

METHODS = ("projected", "exponentiated")


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``v`` (shape (k,)) onto the probability simplex {x ≥ 0, Σx = 1}."""
    v = np.asarray(v, dtype=float)
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    rho = np.nonzero(u - css / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - css[rho] / (rho + 1.0), 0.0)


def projected_step(lam, grad, constraints: Sequence[tuple[int, ...]], lr: float) -> np.ndarray:
    """One projected-gradient step that keeps every simplex (and every single weight in [0, 1]).

    Args:
        lam: weights, shape (n_groups,).
        grad: loss gradient ∂L/∂λ, shape (n_groups,).
        constraints: group-index tuples, one per simplex.
        lr: step size.
    """
    return _per_simplex(
        lam, grad, constraints, lr, lambda lam_c, g: project_simplex(lam_c - lr * (g - g.mean()))
    )


def exponentiated_step(
    lam, grad, constraints: Sequence[tuple[int, ...]], lr: float, floor: float = 1e-12
) -> np.ndarray:
    """One exponentiated-gradient (mirror-descent) step per simplex; single weights take a clipped plain step.

    Args:
        lam: weights, shape (n_groups,).
        grad: loss gradient ∂L/∂λ, shape (n_groups,).
        constraints: group-index tuples, one per simplex.
        lr: step size η.
        floor: weights are kept above this so that a vertex start can still move.
    """

    def step(lam_c, g):
        w = np.maximum(lam_c, floor) * np.exp(-lr * (g - g.min()))  # shift for overflow safety; cancels below
        return w / w.sum()

    return _per_simplex(lam, grad, constraints, lr, step)


def _per_simplex(lam, grad, constraints: Sequence[tuple[int, ...]], lr: float, simplex_step) -> np.ndarray:
    """New weights: ``simplex_step(λ_c, ∂L/∂λ_c)`` on every simplex c of ``constraints``; a group alone in
    its constraint takes a plain gradient step clipped to [0, 1]."""
    lam, grad = np.asarray(lam, dtype=float).copy(), np.asarray(grad, dtype=float)
    for c in constraints:
        idx = list(c)
        if len(idx) == 1:
            lam[idx] = np.clip(lam[idx] - lr * grad[idx], 0.0, 1.0)
        else:
            lam[idx] = simplex_step(lam[idx], grad[idx])
    return lam


@dataclass
class OptimizationResult:
    """Outcome of :func:`optimize_composition`.

    Attributes:
        lam: final weights, shape (n_groups,).
        loss: final loss.
        n_steps: gradient steps taken.
        converged: whether ``loss < tol`` was reached.
        history: (loss, λ) per evaluation, the first at the start point.
        stop: why the optimiser stopped: ``"tol"`` (converged), ``"max_steps"`` (step budget spent with the
            loss still ≥ tol) or ``"nonfinite"`` (the loss or its gradient became NaN or infinite).
        reason: the same in words, with the numbers (loss units are those of ``loss_fn``).
    """

    lam: np.ndarray
    loss: float
    n_steps: int
    converged: bool
    history: list[tuple[float, np.ndarray]] = field(default_factory=list)
    stop: str = "tol"
    reason: str = ""


def optimize_composition(
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    lam0,
    constraints: Sequence[tuple[int, ...]],
    method: str = "projected",
    lr: float = 5e-3,
    max_steps: int = 500,
    tol: float = 5e-4,
    dtype: torch.dtype = torch.float64,
    progress: bool = False,
) -> OptimizationResult:
    """Minimise a differentiable loss of λ while keeping λ on its constraint simplices.

    Args:
        loss_fn: maps λ (tensor, shape (n_groups,), requires grad) to a scalar tensor; any differentiable
            function, e.g. a stress loss built with ``create_graph=True``.
        lam0: start weights, shape (n_groups,), on the simplices.
        constraints: group-index tuples, one per simplex.
        method: ``"projected"`` or ``"exponentiated"``.
        lr: step size.
        max_steps: maximum number of steps.
        tol: stop when the loss drops below this.
        dtype: torch dtype of λ passed to ``loss_fn``.
        progress: show a tqdm progress bar.

    Returns:
        :class:`OptimizationResult`.
    """
    if method not in METHODS:
        raise InputError(f"unknown optimisation method {method!r}; choose one of {', '.join(METHODS)}")
    if lr <= 0 or max_steps < 0:
        raise InputError(
            f"lr must be positive and max_steps non-negative, got lr={lr}, max_steps={max_steps}"
        )
    step_fn = projected_step if method == "projected" else exponentiated_step
    lam = np.asarray(lam0, dtype=float).copy()
    history: list[tuple[float, np.ndarray]] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_steps, desc="composition", unit="step")
    n_steps = 0
    stop = "tol"
    try:
        while True:
            lam_t = torch.tensor(lam, dtype=dtype, requires_grad=True)
            loss = loss_fn(lam_t)
            value = float(loss.detach())
            history.append((value, lam.copy()))
            if not np.isfinite(value):
                stop = "nonfinite"
                break
            if value < tol:
                break
            if n_steps >= max_steps:
                stop = "max_steps"
                break
            (grad,) = torch.autograd.grad(loss, lam_t)
            g = grad.detach().cpu().numpy()
            if not np.all(np.isfinite(g)):
                stop = "nonfinite"
                break
            lam = step_fn(lam, g, constraints, lr)
            n_steps += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{value:.3g}")
    finally:
        if bar is not None:
            bar.close()
    final = history[-1][0]
    if stop == "tol":
        reason = f"loss {final:.3g} < tol {tol:g} after {n_steps} steps"
    elif stop == "max_steps":
        reason = f"loss {final:.3g} is still ≥ tol {tol:g} after max_steps = {max_steps} steps"
    else:
        reason = f"the loss or its gradient became non-finite at step {n_steps} (loss {final:.3g})"
    return OptimizationResult(
        lam=lam,
        loss=final,
        n_steps=n_steps,
        converged=stop == "tol",
        history=history,
        stop=stop,
        reason=reason,
    )
