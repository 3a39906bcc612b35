"""Evaluate TorchSim 0.3.0 as the MD engine for issue 10: Langevin NVT throughput with SevenNet-0.

NOT run with the project venv: TorchSim lives in a separate virtualenv so that it cannot disturb
thermograd's pins. Build that venv and run this script with its python::

    python3 -m venv /tmp/ts-venv
    /tmp/ts-venv/bin/pip install torch==2.13.0            # the project's torch pin, first
    /tmp/ts-venv/bin/pip install torch-sim-atomistic==0.3.0 sevenn
    OMP_NUM_THREADS=1 /tmp/ts-venv/bin/python benchmarks/torchsim_eval.py [--steps 20] [--warmup 3]

What it measures, on BCC Fe 3x3x3 cubic (54 atoms, a = 2.83 A), 300 K, dt = 1 fs, friction 0.01/fs,
one CPU thread, SevenNet-0 (float32, weights shipped inside ``sevenn``):

- ``torchsim``: ``torch_sim.integrators.nvt_langevin`` (BAOAB) driving ``torch_sim.models.sevennet
  .SevenNetModel`` on R replicas in one batched state;
- ``own-baoab``: a ~40-line batched BAOAB of our own on the same batched force call, with float64
  unwrapped positions and momenta, per-replica kT, centre of mass held (net force and momentum
  removed per replica) and a private seeded ``torch.Generator`` -- the features issue 10 needs;
- ``model-only``: the batched SevenNet-0 force call alone (the ceiling for any integrator);
- ``ase``: the reference way, ``ase.md.langevin.Langevin`` with one ``SevenNetCalculator`` per
  replica, the R replicas run one after another.

Each run: ``--warmup`` untimed steps, then ``--steps`` timed steps, timed by wall clock and by this
process's CPU time (``time.process_time``; the rates use CPU time, so other jobs sharing the cores do
not bias the comparison -- one thread, so CPU time is the compute). Reported: steps/s (batch steps),
atom-steps/s (R * 54 * steps / s) and the ratio of atom-steps/s to ASE at the same R. Two facts are
checked and printed as well: whether TorchSim's ``seed`` makes a trajectory reproducible, and the
net momentum per replica after a TorchSim run (whether it holds the centre of mass).

TorchSim 0.3.0's SevenNet wrapper imports ``sevenn.calculator.torch_script_type``, which sevenn 0.13
removed; the wrapper only uses it in an ``isinstance`` test, so the script sets it to
``torch.jit.ScriptModule`` before importing the wrapper (printed as a note).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

N_CELL = 3
A_FE = 2.83
T_K = 300.0
SEED = 7


def _fe_atoms():
    from ase.build import bulk

    return bulk("Fe", "bcc", a=A_FE, cubic=True).repeat(N_CELL)


def _load_sevennet():
    """Return (torch-sim SevenNetModel wrapper, note) on CPU in float32."""
    import sevenn.calculator as sc

    note = ""
    if not hasattr(sc, "torch_script_type"):
        sc.torch_script_type = torch.jit.ScriptModule
        note = "shim: sevenn.calculator.torch_script_type = torch.jit.ScriptModule (missing in sevenn)"
    from sevenn.util import load_checkpoint
    from torch_sim.models.sevennet import SevenNetModel

    model = load_checkpoint("7net-0").build_model()
    return SevenNetModel(model, device="cpu", dtype=torch.float32), note


def _batched_state(n_rep: int, dtype=torch.float32):
    import torch_sim as ts

    return ts.io.atoms_to_state([_fe_atoms() for _ in range(n_rep)], torch.device("cpu"), dtype)


def _timed(step, warmup: int, steps: int) -> np.ndarray:
    """Return [wall seconds, CPU seconds of this process] for ``steps`` calls after ``warmup``."""
    for _ in range(warmup):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return np.array([time.perf_counter() - t0, time.process_time() - c0])


def run_torchsim(model, n_rep: int, warmup: int, steps: int, seed: int = SEED):
    """TorchSim's nvt_langevin on n_rep replicas; returns (seconds, final MDState)."""
    import torch_sim as ts
    from ase import units

    init_fn, update_fn = ts.integrators.nvt_langevin(
        model,
        dt=torch.tensor(1.0 * units.fs),
        kT=torch.tensor(T_K * units.kB),
        gamma=torch.tensor(0.01 / units.fs),
        seed=seed,
    )
    box = {"state": init_fn(_batched_state(n_rep))}

    def step():
        box["state"] = update_fn(box["state"])

    return _timed(step, warmup, steps), box["state"]


class OwnBAOAB:
    """Minimal batched BAOAB: float64 unwrapped positions, per-replica kT, COM held, own RNG."""

    def __init__(self, model, n_rep: int, kT: torch.Tensor, dt: float, gamma: float, seed: int):
        from ase import units

        self.model = model
        self.s32 = _batched_state(n_rep)
        self.rep = self.s32.system_idx
        self.n_rep = n_rep
        self.x = self.s32.positions.double().clone()
        self.m = (self.s32.masses.double() * 1.0).unsqueeze(-1)
        self.mtot = torch.zeros(n_rep, 1, dtype=torch.float64).index_add_(0, self.rep, self.m)
        self.kT = kT.double()[self.rep].unsqueeze(-1)
        self.dt = dt * units.fs
        self.c1 = float(np.exp(-gamma / units.fs * self.dt))
        self.gen = torch.Generator().manual_seed(seed)
        self.p = self._hold(torch.randn(self.x.shape, generator=self.gen, dtype=torch.float64))
        self.p = self._hold(self.p * torch.sqrt(self.m * self.kT))
        self.f = self.forces()

    def _hold(self, p: torch.Tensor) -> torch.Tensor:
        """Remove each replica's net momentum (or net force), mass-weighted."""
        net = torch.zeros(self.n_rep, 3, dtype=torch.float64).index_add_(0, self.rep, p)
        return p - self.m * (net / self.mtot)[self.rep]

    def forces(self) -> torch.Tensor:
        self.s32.positions = self.x.float()
        self.s32.positions = self.s32.wrap_positions
        return self._hold(self.model(self.s32)["forces"].double())

    def step(self) -> None:
        h = 0.5 * self.dt
        self.p += h * self.f
        self.x += h * self.p / self.m
        noise = torch.randn(self.x.shape, generator=self.gen, dtype=torch.float64)
        self.p = self._hold(self.c1 * self.p + np.sqrt(1 - self.c1**2) * torch.sqrt(self.m * self.kT) * noise)
        self.x += h * self.p / self.m
        self.f = self.forces()
        self.p += h * self.f


def run_own(model, n_rep: int, warmup: int, steps: int) -> float:
    from ase import units

    kT = torch.full((n_rep,), T_K * units.kB)
    integ = OwnBAOAB(model, n_rep, kT, dt=1.0, gamma=0.01, seed=SEED)
    return _timed(integ.step, warmup, steps)


def run_model_only(model, n_rep: int, warmup: int, steps: int) -> float:
    state = _batched_state(n_rep)
    return _timed(lambda: model(state), warmup, steps)


def run_ase(n_rep: int, warmup: int, steps: int) -> float:
    """Reference: one ASE Langevin + SevenNetCalculator per replica, run one after another."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from sevenn.calculator import SevenNetCalculator

    total = np.zeros(2)
    for r in range(n_rep):
        atoms = _fe_atoms()
        atoms.calc = SevenNetCalculator("7net-0", device="cpu")
        rng = np.random.default_rng(SEED + r)
        MaxwellBoltzmannDistribution(atoms, temperature_K=T_K, rng=rng)
        dyn = Langevin(atoms, 1.0 * units.fs, temperature_K=T_K, friction=0.01 / units.fs, rng=rng)
        total += _timed(lambda dyn=dyn: dyn.run(1), warmup, steps)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")

    import importlib.metadata as md

    vers = {p: md.version(p) for p in ("torch", "torch-sim-atomistic", "sevenn", "ase", "e3nn", "numpy")}
    print("versions:", ", ".join(f"{k} {v}" for k, v in vers.items()))
    model, note = _load_sevennet()
    if note:
        print("note:", note)
    n_at = len(_fe_atoms())

    rows = []
    for n_rep in args.replicas:
        ase_s = run_ase(n_rep, args.warmup, args.steps)
        ts_s, ts_state = run_torchsim(model, n_rep, args.warmup, args.steps)
        own_s = run_own(model, n_rep, args.warmup, args.steps)
        mod_s = run_model_only(model, n_rep, args.warmup, args.steps)
        for name, sec in (("ase", ase_s), ("torchsim", ts_s), ("own-baoab", own_s), ("model-only", mod_s)):
            rows.append((name, n_rep, sec[0], sec[1], ase_s[1]))
        net_p = torch.zeros(n_rep, 3).index_add_(0, ts_state.system_idx, ts_state.momenta)
        print(f"torchsim R={n_rep}: |net momentum| per replica after run (amu A/unit) =", end=" ")
        print(np.round(net_p.norm(dim=1).numpy(), 3).tolist())

    print(f"\nBCC Fe {n_at} atoms/replica, {T_K:.0f} K, SevenNet-0 float32, 1 thread, {args.steps} steps")
    print("rates from CPU seconds of this process (robust to other jobs sharing the cores)")
    print(
        f"{'engine':<11} {'R':>2} {'wall s':>7} {'CPU s':>7} {'steps/s':>8} {'atom-steps/s':>13} {'x ASE':>6}"
    )
    for name, n_rep, wall, cpu, ase_cpu in rows:
        sps = args.steps / cpu
        line = f"{name:<11} {n_rep:>2} {wall:>7.2f} {cpu:>7.2f} {sps:>8.3f} {sps * n_rep * n_at:>13.1f}"
        print(f"{line} {ase_cpu / cpu:>6.2f}")

    # Reproducibility: TorchSim's seed only seeds the initial momenta; the O-step noise uses the
    # global torch RNG, so two runs with the same seed agree only if the global RNG is reset too.
    _, s_a = run_torchsim(model, 1, 0, 2)
    _, s_b = run_torchsim(model, 1, 0, 2)
    torch.manual_seed(123)
    _, s_c = run_torchsim(model, 1, 0, 2)
    torch.manual_seed(123)
    _, s_d = run_torchsim(model, 1, 0, 2)
    same_seed = torch.equal(s_a.positions, s_b.positions)
    same_global = torch.equal(s_c.positions, s_d.positions)
    print(
        f"\ntorchsim same seed -> same trajectory: {same_seed}; with torch.manual_seed reset too: {same_global}"
    )


if __name__ == "__main__":
    main()
