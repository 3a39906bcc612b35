"""Batched Langevin dynamics for torch Hamiltonians H(λ(t)): many replicas in one batch, per-replica T and λ.

BAOAB splitting (Leimkuhler & Matthews, Appl. Math. Res. Express 2013, 34) on R replicas of one N-atom
structure, all tensors float64:

    B: v += ½Δt F/m    A: x += ½Δt v    O: v ← c₁v + √((1 − c₁²)k_BT/m) ξ    A    (λ_k → λ_{k+1})    B

* **Per replica**: temperature T_r, the λ schedule λ_r(t), the masses m_ri (which may follow λ, e.g. a
  Pb → Sn switch; velocities are kept when masses change, the thermostat re-equilibrates them) and the
  random stream: replica r draws its noise from its own generator seeded with ``seeds[r]``, so a replica's
  trajectory does not depend on which other replicas share its batch.
* **Centre of mass held**: after every thermostat kick the mass-weighted total momentum is removed and the
  mass-weighted centre of mass is put back on that of the reference sites, so exactly the 3N − 3 internal
  degrees of freedom are sampled (the convention of :mod:`thermograd.ti`; translations cost no work for a
  translation-invariant U).
* **Work in float64**: ∂U/∂λ is recorded at every step (from the same evaluation as the forces) and the work
  W_r = ∫ ∂U/∂λ dλ is integrated with the trapezoid rule of :func:`thermograd.md.switching.switching_work`.
* **Seeded and resumable**: :meth:`BatchedLangevin.run` writes its state (positions, velocities, cells,
  generator states, the record so far) to a checkpoint file every ``checkpoint_every`` steps, atomically;
  called again with the same arguments it resumes from that file, and the result is bit-identical to an
  uninterrupted run. A finished run's checkpoint holds its result, so it is not run again.
* **Stability**: an atom farther than ``max_displacement`` from its site raises
  :class:`~thermograd.errors.UnstableStructureError` (a melted or unstable crystal gives no number).
* **NPT** (:meth:`BatchedLangevin.npt`): isotropic stochastic cell rescaling (Bernetti & Bussi, J. Chem.
  Phys. 153, 114107 (2020)) after each BAOAB step, for the volume step of Frenkel–Ladd.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError, StoreError, UnstableStructureError
from ..units import EV_PER_A2_AMU_TO_PS2, KB
from .hamiltonians import DTYPE, Hamiltonian, as_tensor

#: 1 bar in eV/Å³
BAR_TO_EV_PER_A3 = 1e5 / 1.602176634e-19 / 1e30


@dataclass
class MDState:
    """The dynamical state of R replicas.

    Attributes:
        positions: shape (R, N, 3), Å.
        velocities: shape (R, N, 3), Å/ps.
        cells: shape (R, 3, 3), Å (rows are lattice vectors).
        sites: reference sites, shape (R, N, 3), Å (they scale with the cell in NPT).
        masses: shape (R, N), amu.
        seeds: the replicas' seeds, shape (R,).
        generators: one torch generator per replica.
        step: MD steps taken since the state was made.
    """

    positions: torch.Tensor
    velocities: torch.Tensor
    cells: torch.Tensor
    sites: torch.Tensor
    masses: torch.Tensor
    seeds: list[int]
    generators: list[torch.Generator]
    step: int = 0

    @property
    def n_replicas(self) -> int:
        return int(self.positions.shape[0])

    def to_dict(self) -> dict:
        """Everything needed to resume, as plain tensors (for ``torch.save``)."""
        return {
            "positions": self.positions,
            "velocities": self.velocities,
            "cells": self.cells,
            "sites": self.sites,
            "masses": self.masses,
            "seeds": list(self.seeds),
            "generators": [g.get_state() for g in self.generators],
            "step": self.step,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MDState:
        gens = []
        for s in d["generators"]:
            g = torch.Generator()
            g.set_state(s)
            gens.append(g)
        return cls(
            d["positions"],
            d["velocities"],
            d["cells"],
            d["sites"],
            d["masses"],
            list(d["seeds"]),
            gens,
            int(d["step"]),
        )

    def copy(self) -> MDState:
        """An independent copy (tensors and generator states copied)."""
        d = self.to_dict()
        return MDState.from_dict({k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in d.items()})

    def select(self, replicas) -> MDState:
        """The state of a subset of replicas (generators are shared, not copied)."""
        idx = list(replicas)
        return MDState(
            self.positions[idx],
            self.velocities[idx],
            self.cells[idx],
            self.sites[idx],
            self.masses[idx],
            [self.seeds[i] for i in idx],
            [self.generators[i] for i in idx],
            self.step,
        )


@dataclass
class Segment:
    """The record of one :meth:`BatchedLangevin.run`.

    Attributes:
        lam: λ at each time point, shape (R, n + 1).
        dU_dlam: ∂U/∂λ at each time point, shape (R, n + 1), eV (whole cell).
        energy: U_λ at each time point, shape (R, n + 1), eV (whole cell).
        work: W = ∫ ∂U/∂λ dλ (trapezoid), shape (R,), eV (whole cell).
        msd_sites: ⟨|x_i − x_i⁰|²⟩ per atom over the steps 1..n, shape (R, N), Å².
        max_displacement: the largest |x_i − x_i⁰| seen, shape (R,), Å.
        temperature: mean kinetic temperature over steps 1..n (3N − 3 degrees of freedom), shape (R,), K.
        volume: cell volume at each time point, shape (R, n + 1), Å³.
    """

    lam: np.ndarray
    dU_dlam: np.ndarray
    energy: np.ndarray
    work: np.ndarray
    msd_sites: np.ndarray
    max_displacement: np.ndarray
    temperature: np.ndarray
    volume: np.ndarray
    extra: dict = field(default_factory=dict)


def _trapezoid_work(lam: np.ndarray, du: np.ndarray) -> np.ndarray:
    return np.sum(0.5 * (du[:, 1:] + du[:, :-1]) * np.diff(lam, axis=1), axis=1)


class BatchedLangevin:
    """BAOAB Langevin engine for a :class:`~thermograd.md.hamiltonians.Hamiltonian` (module docstring).

    Args:
        hamiltonian: H(λ), batched.
        timestep: Δt, ps.
        damping: Langevin relaxation time 1/γ, ps.
        fix_com: hold the centre of mass (default; the free energies of :mod:`thermograd.md` assume it).
        max_displacement: an atom farther than this from its site (Å) stops the run with
            :class:`~thermograd.errors.UnstableStructureError`.
    """

    def __init__(
        self,
        hamiltonian: Hamiltonian,
        *,
        timestep: float = 0.002,
        damping: float = 0.1,
        fix_com: bool = True,
        max_displacement: float = 1.5,
    ):
        if not (timestep > 0 and damping > 0 and max_displacement > 0):
            raise InputError("timestep, damping and max_displacement must be > 0")
        self.hamiltonian = hamiltonian
        self.timestep = float(timestep)
        self.damping = float(damping)
        self.fix_com = bool(fix_com)
        self.max_displacement = float(max_displacement)

    # ------------------------------------------------------------------ state
    def initial_state(self, positions, cells, masses, T, seeds) -> MDState:
        """Replicas at ``positions`` (also the reference sites) with Maxwell–Boltzmann velocities at T.

        Args:
            positions: shape (N, 3) or (R, N, 3), Å.
            cells: shape (3, 3) or (R, 3, 3), Å.
            masses: shape (N,) or (R, N), amu.
            T: temperature per replica, scalar or shape (R,), K.
            seeds: one int per replica (its random stream).
        """
        seeds = [int(s) for s in seeds]
        r = len(seeds)
        if r < 1:
            raise InputError("need at least one replica (one seed)")
        n = self.hamiltonian.n_atoms
        x = as_tensor(positions)
        x = x.expand(r, n, 3).clone() if x.ndim == 2 else x.clone()
        if tuple(x.shape) != (r, n, 3):
            raise InputError(f"positions must have shape ({n}, 3) or ({r}, {n}, 3), got {tuple(x.shape)}")
        h = as_tensor(cells)
        h = h.expand(r, 3, 3).clone() if h.ndim == 2 else h.clone()
        m = as_tensor(masses)
        m = m.expand(r, n).clone() if m.ndim == 1 else m.clone()
        if tuple(m.shape) != (r, n) or bool((m <= 0).any()):
            raise InputError(f"masses must be > 0 with shape ({n},) or ({r}, {n})")
        gens = []
        for s in seeds:
            g = torch.Generator()
            g.manual_seed(s)
            gens.append(g)
        temps = self._temperatures(T, r)
        state = MDState(x, torch.zeros_like(x), h, x.clone(), m, seeds, gens)
        sd = torch.sqrt(KB * temps[:, None] * EV_PER_A2_AMU_TO_PS2 / m)
        noise = torch.stack([torch.randn((n, 3), generator=g, dtype=DTYPE) for g in gens])
        state.velocities = sd[..., None] * noise
        self._hold_com(state)
        return state

    @staticmethod
    def _temperatures(T, r: int) -> torch.Tensor:
        t = torch.as_tensor(np.broadcast_to(np.asarray(T, dtype=float), (r,)).copy(), dtype=DTYPE)
        if not bool((t > 0).all()):
            raise InputError(f"temperatures must be > 0 K, got {t.tolist()}")
        return t

    def _hold_com(self, state: MDState) -> None:
        if not self.fix_com:
            return
        m = state.masses[..., None]
        mt = m.sum(1, keepdim=True)
        state.velocities -= (m * state.velocities).sum(1, keepdim=True) / mt
        com = (m * state.positions).sum(1, keepdim=True) / mt
        com0 = (m * state.sites).sum(1, keepdim=True) / mt
        state.positions -= com - com0

    def _noise(self, state: MDState) -> torch.Tensor:
        n = state.positions.shape[1]
        return torch.stack([torch.randn((n, 3), generator=g, dtype=DTYPE) for g in state.generators])

    # ------------------------------------------------------------------ dynamics
    def run(
        self,
        state: MDState,
        lam,
        T,
        *,
        checkpoint: str | os.PathLike | None = None,
        checkpoint_every: int = 500,
        progress: bool = False,
        desc: str = "MD",
        pressure: float | None = None,
        compressibility: float = 1.0 / 100.0,
        barostat_time: float = 0.5,
    ) -> tuple[MDState, Segment]:
        """Run len(λ) − 1 steps with λ_k = ``lam[..., k]``; returns the advanced state and the record.

        Args:
            state: from :meth:`initial_state` or a previous run (it is not modified).
            lam: λ schedule, shape (n + 1,) or (R, n + 1).
            T: temperature per replica, scalar or shape (R,), K.
            checkpoint: file to save the running state to (and to resume from when it exists).
            checkpoint_every: steps between checkpoints.
            progress: tqdm bar over steps.
            desc: bar label.
            pressure: if given (bar), isotropic NPT by stochastic cell rescaling (needs a Hamiltonian with
                stress).
            compressibility: β_T of the barostat, 1/GPa (sets the coupling only, not the ensemble).
            barostat_time: τ_p, ps.

        Raises:
            UnstableStructureError: an atom left its site by more than ``max_displacement``.
            StoreError: the checkpoint belongs to a different run.
        """
        r, n = state.n_replicas, state.positions.shape[1]
        lam = np.asarray(lam, dtype=float)
        lam = np.broadcast_to(lam, (r, lam.shape[-1])).copy() if lam.ndim == 1 else lam.copy()
        if lam.shape[0] != r or lam.shape[1] < 2:
            raise InputError(f"λ schedule must have shape (n + 1,) or ({r}, n + 1) with n >= 1")
        temps = self._temperatures(T, r)
        n_steps = lam.shape[1] - 1
        key = {
            "n_steps": n_steps,
            "lam": lam.tobytes(),
            "T": temps.numpy().tobytes(),
            "seeds": list(state.seeds),
            "start_step": state.step,
            "pressure": pressure,
        }
        resumed = _load_checkpoint(checkpoint, key)
        if resumed is not None and resumed.get("done"):
            return MDState.from_dict(resumed["state"]), resumed["segment"]
        rec = {
            "du": np.full((r, n_steps + 1), np.nan),
            "e": np.full((r, n_steps + 1), np.nan),
            "vol": np.full((r, n_steps + 1), np.nan),
            "msd": np.zeros((r, n)),
            "maxd": np.zeros(r),
            "temp": np.zeros(r),
        }
        if resumed is not None:
            st = MDState.from_dict(resumed["state"])
            rec = resumed["record"]
            k0 = int(resumed["k"])
        else:
            st = state.copy()
            k0 = 0
        dt, c1 = self.timestep, float(np.exp(-self.timestep / self.damping))
        conv = EV_PER_A2_AMU_TO_PS2
        kt = KB * temps
        npt = pressure is not None
        p0 = float(pressure) * BAR_TO_EV_PER_A3 if npt else 0.0
        beta_t = compressibility * 160.21766208  # 1/GPa → Å³/eV
        lam_t = torch.as_tensor(lam, dtype=DTYPE)
        self._apply_masses(st, lam_t[:, k0])
        ev = self.hamiltonian.evaluate(st.positions, st.cells, lam_t[:, k0], stress=npt)
        if k0 == 0:
            self._record(rec, 0, ev, st)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=n_steps, initial=k0, desc=desc, unit="step", leave=False)
        dof = 3 * n - (3 if self.fix_com else 0)
        for k in range(k0, n_steps):
            m = st.masses[..., None]
            st.velocities += 0.5 * dt * conv * ev.forces / m
            st.positions += 0.5 * dt * st.velocities
            sd = torch.sqrt((1 - c1 * c1) * kt[:, None, None] * conv / m)
            st.velocities = c1 * st.velocities + sd * self._noise(st)
            st.positions += 0.5 * dt * st.velocities
            self._apply_masses(st, lam_t[:, k + 1])
            self._hold_com(st)
            if npt:
                self._rescale_cell(st, ev.stress, p0, kt, beta_t, barostat_time)
            ev = self.hamiltonian.evaluate(st.positions, st.cells, lam_t[:, k + 1], stress=npt)
            st.velocities += 0.5 * dt * conv * ev.forces / st.masses[..., None]
            st.step += 1
            d2 = ((st.positions - st.sites) ** 2).sum(-1)
            rec["msd"] += d2.numpy()
            rec["maxd"] = np.maximum(rec["maxd"], np.sqrt(d2.max(1).values.numpy()))
            ke2 = (st.masses[..., None] * st.velocities**2).sum((1, 2)) / conv
            rec["temp"] += (ke2 / (dof * KB)).numpy()
            self._record(rec, k + 1, ev, st)
            worst = float(np.max(rec["maxd"]))
            if not np.isfinite(worst) or worst > self.max_displacement:
                bad = int(np.nanargmax(np.where(np.isfinite(rec["maxd"]), rec["maxd"], np.inf)))
                raise UnstableStructureError(
                    f"replica {bad} (seed {st.seeds[bad]}): an atom moved {rec['maxd'][bad]:.3g} Å from its "
                    f"site at {float(temps[bad]):g} K (limit {self.max_displacement:g} Å) at step "
                    f"{st.step}: the structure melted or is unstable; no free energy is returned"
                )
            if bar is not None:
                bar.update(1)
            if checkpoint is not None and (k + 1) % checkpoint_every == 0 and k + 1 < n_steps:
                _save_checkpoint(checkpoint, key, {"state": st.to_dict(), "record": rec, "k": k + 1})
        if bar is not None:
            bar.close()
        seg = Segment(
            lam=lam,
            dU_dlam=rec["du"],
            energy=rec["e"],
            work=_trapezoid_work(lam, rec["du"]),
            msd_sites=rec["msd"] / n_steps,
            max_displacement=rec["maxd"],
            temperature=rec["temp"] / n_steps,
            volume=rec["vol"],
        )
        if checkpoint is not None:
            _save_checkpoint(checkpoint, key, {"state": st.to_dict(), "segment": seg, "done": True})
        return st, seg

    def _apply_masses(self, st: MDState, lam: torch.Tensor) -> None:
        m = self.hamiltonian.masses(lam)
        if m is not None:
            st.masses = m.to(DTYPE).expand_as(st.masses).clone()

    @staticmethod
    def _record(rec: dict, k: int, ev, st: MDState) -> None:
        rec["du"][:, k] = ev.dU_dlam.detach().numpy()
        rec["e"][:, k] = ev.energy.detach().numpy()
        rec["vol"][:, k] = torch.linalg.det(st.cells).abs().numpy()

    def _rescale_cell(self, st, stress, p0, kt, beta_t, tau) -> None:
        """One isotropic stochastic-cell-rescaling step (Bernetti & Bussi 2020, Euler–Maruyama)."""
        if stress is None:
            raise InputError("NPT needs a Hamiltonian that gives the stress")
        vol = torch.linalg.det(st.cells).abs()
        ke2 = (st.masses[..., None] * st.velocities**2).sum((1, 2)) / EV_PER_A2_AMU_TO_PS2
        p_inst = ke2 / (3.0 * vol) - torch.diagonal(stress, dim1=-2, dim2=-1).sum(-1) / 3.0
        dt = self.timestep
        noise = torch.stack([torch.randn((), generator=g, dtype=DTYPE) for g in st.generators])
        drift = -beta_t / tau * (p0 - p_inst - kt / vol) * dt
        deps = drift + torch.sqrt(2 * kt * beta_t * dt / (vol * tau)) * noise
        s = torch.exp(deps / 3.0)[:, None, None]
        st.positions *= s
        st.sites *= s
        st.cells *= s
        st.velocities /= s

    def npt(
        self,
        state: MDState,
        T,
        pressure: float,
        n_steps: int,
        *,
        lam: float = 0.0,
        compressibility: float = 1.0 / 100.0,
        barostat_time: float = 0.5,
        progress: bool = False,
    ) -> tuple[MDState, np.ndarray]:
        """Isotropic NPT at (T, P) for ``n_steps`` at fixed λ; returns the final state and the mean cell volume
        per replica over the second half, Å³ (shape (R,)).

        Args:
            pressure: bar.
            compressibility: β_T of the barostat, 1/GPa.
            barostat_time: τ_p, ps.
        """
        if n_steps < 2:
            raise InputError(f"an NPT run needs at least 2 steps, got {n_steps}")
        sched = np.full(int(n_steps) + 1, float(lam))
        st, seg = self.run(
            state,
            sched,
            T,
            pressure=pressure,
            compressibility=compressibility,
            barostat_time=barostat_time,
            progress=progress,
            desc="NPT",
        )
        return st, seg.volume[:, n_steps // 2 + 1 :].mean(axis=1)


def _key_digest(key: dict) -> str:
    import hashlib

    h = hashlib.sha256()
    for k in sorted(key):
        h.update(k.encode())
        v = key[k]
        h.update(v if isinstance(v, bytes) else repr(v).encode())
    return h.hexdigest()


def _to_tensors(obj):
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    if isinstance(obj, dict):
        return {k: _to_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_tensors(v) for v in obj]
    return obj


def _to_arrays(obj):
    if isinstance(obj, torch.Tensor) and obj.dtype != torch.uint8:
        return obj.numpy()
    if isinstance(obj, dict):
        return {k: _to_arrays(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_arrays(v) for v in obj]
    return obj


def _load_checkpoint(path, key: dict) -> dict | None:
    """The saved payload of the run ``key``, or None when there is no checkpoint file."""
    if path is None or not Path(path).exists():
        return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise StoreError(
            f"checkpoint {path} is unreadable ({exc}); remove it to start this run again"
        ) from None
    if not isinstance(data, dict) or data.get("key") != _key_digest(key):
        raise StoreError(
            f"checkpoint {path} belongs to a different run (other schedule, temperatures, seeds or start); "
            "remove it or choose another checkpoint folder"
        )
    state = data["state"]
    out = {"state": state, "done": bool(data.get("done", False)), "k": int(data.get("k", 0))}
    if "record" in data:
        out["record"] = {k: v.numpy() for k, v in data["record"].items()}
    if "segment" in data:
        seg = {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in data["segment"].items()}
        out["segment"] = Segment(**seg)
    return out


def _save_checkpoint(path, key: dict, payload: dict) -> None:
    """Write ``payload`` (state dict, record or segment) atomically: plain tensors only (loadable with
    ``weights_only=True``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {"key": _key_digest(key), "state": payload["state"], "done": bool(payload.get("done", False))}
    if "k" in payload:
        out["k"] = int(payload["k"])
    if "record" in payload:
        out["record"] = _to_tensors(dict(payload["record"]))
    if "segment" in payload:
        seg = payload["segment"]
        out["segment"] = {k: _to_tensors(v) for k, v in seg.__dict__.items() if k != "extra"}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(out, tmp)
    os.replace(tmp, path)
