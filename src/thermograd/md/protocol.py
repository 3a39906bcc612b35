"""Nonequilibrium switching pairs on the batched engine: equilibrate at λ₀, switch λ₀ → λ₁ along the Freitas
function, equilibrate at λ₁, switch back — for every replica of the batch at once.

Shared by Frenkel–Ladd (:mod:`thermograd.md.frenkel_ladd`) and the alchemical switches
(:mod:`thermograd.alchemy.free_energy`). Each of the four segments is checkpointed on its own when a
checkpoint folder is given, so an interrupted protocol resumes inside the segment it was in and never reruns
a finished one.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..units import KB
from .engine import BatchedLangevin, MDState, Segment
from .switching import SwitchingEstimate, combine_switches, freitas_schedule

#: whole-cell dissipation (W_f + W_b)/2 above this many k_BT draws a warning: the switch is too fast for the
#: linear-response estimate (W_f − W_b)/2 to be trusted at the stated error
MAX_DISSIPATION_KT = 1.0


@dataclass
class SwitchPair:
    """Forward and backward legs of one batch of switching pairs.

    Attributes:
        forward, backward: the leg records (:class:`~thermograd.md.engine.Segment`), works of the whole cell.
        estimate: ΔF(λ₀ → λ₁) per unit of ``scale`` from :func:`~thermograd.md.switching.combine_switches`.
        state: the state after the backward leg.
    """

    forward: Segment
    backward: Segment
    estimate: SwitchingEstimate
    state: MDState

    def profile(self, points: int = 201) -> dict:
        """Replica-mean ∂U/∂λ along λ, forward and backward (eV, whole cell), at ≤ ``points`` values of λ."""
        lam = self.forward.lam[0]
        idx = np.unique(np.linspace(0, lam.size - 1, min(points, lam.size)).round().astype(int))
        return {
            "lam": lam[idx].tolist(),
            "forward": self.forward.dU_dlam.mean(axis=0)[idx].tolist(),
            "backward": self.backward.dU_dlam.mean(axis=0)[::-1][idx].tolist(),
        }


class SwitchingTooFast(UserWarning):
    """The dissipation of a switch is above the stated threshold."""


def _ckpt(folder, name: str):
    return None if folder is None else Path(folder) / f"{name}.pt"


def equilibrate(
    engine: BatchedLangevin,
    state: MDState,
    T,
    lam: float,
    n_steps: int,
    *,
    checkpoint_dir: str | os.PathLike | None = None,
    tag: str = "equilibrate",
    progress: bool = False,
) -> tuple[MDState, Segment | None]:
    """``n_steps`` at fixed λ (none: the state is returned unchanged with no record)."""
    if n_steps < 0:
        raise InputError(f"equilibration steps must be >= 0, got {n_steps}")
    if n_steps == 0:
        return state, None
    sched = np.full(int(n_steps) + 1, float(lam))
    return engine.run(state, sched, T, checkpoint=_ckpt(checkpoint_dir, tag), progress=progress, desc=tag)


def switch_pair(
    engine: BatchedLangevin,
    state: MDState,
    T,
    *,
    n_equil: int,
    n_switch: int,
    lam0: float = 0.0,
    lam1: float = 1.0,
    scale: float = 1.0,
    checkpoint_dir: str | os.PathLike | None = None,
    tag: str = "switch",
    progress: bool = False,
    max_dissipation_kT: float = MAX_DISSIPATION_KT,
) -> SwitchPair:
    """Equilibrate at λ₀, switch to λ₁ in ``n_switch`` steps, equilibrate at λ₁, switch back.

    Args:
        engine: the engine whose Hamiltonian is switched.
        state: start state of every replica.
        T: temperature, scalar or per replica, K.
        n_equil: steps at each end before its leg.
        n_switch: steps of each leg (Freitas function).
        lam0, lam1: the ends of the switch.
        scale: the works are divided by this (e.g. N for per-atom values).
        checkpoint_dir: folder for the segments' checkpoints (resume).
        tag: name prefix of the checkpoints and progress bars.
        progress: tqdm bars.
        max_dissipation_kT: warn (:class:`SwitchingTooFast`) when the mean whole-cell dissipation exceeds this
            many k_BT.

    Returns:
        :class:`SwitchPair`; ``estimate.delta_F`` is ΔF(λ₀ → λ₁)/scale.
    """
    if n_switch < 1:
        raise InputError(f"a switch needs at least one step, got {n_switch}")
    fwd = lam0 + (lam1 - lam0) * freitas_schedule(int(n_switch))
    st, _ = equilibrate(
        engine, state, T, lam0, n_equil, checkpoint_dir=checkpoint_dir, tag=f"{tag}-equil0", progress=progress
    )
    st, seg_f = engine.run(
        st,
        fwd,
        T,
        checkpoint=_ckpt(checkpoint_dir, f"{tag}-forward"),
        progress=progress,
        desc=f"{tag} forward",
    )
    st, _ = equilibrate(
        engine, st, T, lam1, n_equil, checkpoint_dir=checkpoint_dir, tag=f"{tag}-equil1", progress=progress
    )
    st, seg_b = engine.run(
        st,
        fwd[::-1].copy(),
        T,
        checkpoint=_ckpt(checkpoint_dir, f"{tag}-backward"),
        progress=progress,
        desc=f"{tag} backward",
    )
    est = combine_switches(seg_f.work / scale, seg_b.work / scale)
    kt = KB * float(np.max(np.atleast_1d(T)))
    q_cell = est.dissipation * scale
    if q_cell > max_dissipation_kT * kt:
        warnings.warn(
            f"{tag}: dissipation (W_f + W_b)/2 = {q_cell:.4g} eV for the cell is above {max_dissipation_kT:g} "
            f"k_BT = {max_dissipation_kT * kt:.4g} eV: the switch is too fast for the linear-response "
            "estimate; lengthen the switching time",
            SwitchingTooFast,
            stacklevel=2,
        )
    return SwitchPair(seg_f, seg_b, est, st)
