"""MD throughput of the batched torch engine against the reference ASE loop, same cells, same run.

Both sides run Langevin NVT on R replicas of BCC Fe (cubic supercell, a = 2.83 Å, ``--cell 2`` = 16 atoms or
``--cell 3`` = 54 atoms), 300 K, Δt = 1 fs, friction 0.01/fs (damping time 0.1 ps), the centre of mass held,
with the same model in the same float dtype (``--dtype``, default float32, SevenNet-0's training precision):

- ``batched`` (ours): :class:`thermograd.md.engine.BatchedLangevin` (BAOAB, float64 positions, velocities and
  engine arithmetic, one seeded generator per replica) on ``Static(MLIPPotential(backend, atoms))``, all R
  replicas in one batch. Every step it rebuilds the graph (neighbour list) of every replica, joins them into
  one batched graph, evaluates energy + forces of the whole batch by one forward and one autograd backward
  pass of :mod:`thermograd.alchemy.derivatives`, holds the centre of mass, and records U, ∂U/∂λ (zero here),
  the cell volume, the site displacements and the kinetic temperature. ``BatchedLangevin.run`` over n steps
  makes n + 1 evaluations (one at the start); that extra one is inside the timed run.
- ``reference``: the way it is done today, ``ase.md.langevin.Langevin`` (``fixcm=True``) over one ASE
  calculator per replica, the R replicas one after another. For ``--model sevennet`` the calculator is
  sevenn's own ``SevenNetCalculator`` with the plain SevenNet-0 (it rebuilds the neighbour list every step and
  returns energy, forces and stress from one forward + backward pass); for ``--model mace-random`` it is
  mace's ``MACECalculator`` on the same random-weight MACE (same seed, same hyperparameters) as ours. The
  initial forces of a run come from the calculator's cache.

Both evaluate energy + forces once per step. ``--warmup`` steps on each side (per replica for the
reference) are run first and not timed; then ``--steps`` timed steps, ``--repeat`` times, the two sides
alternating, the best time of each side kept (the machine may be shared). Reported per R: seconds, steps/s
(MD steps of one replica, i.e. of the batch), atom-steps/s (R · N · steps / s) and ``batched/ref``, the ratio
of atom-steps/s. ``--profile`` adds a breakdown of one batched step (graph build, batch_graphs, forward,
backward, the engine's own arithmetic) and of one reference step.

float64 reference with SevenNet: sevenn hard-codes ``.float()`` for its one-hot embedding and casts inputs to
float32, so the model is cast to float64 and two hooks cast its input graph and one-hot output (stated in the
header). ``--device cuda``: the engine stays on the CPU (float64, its generators); the model, its graph and the
reference calculators run on the GPU, and the batched forces come back to the CPU each step.

Run: OMP_NUM_THREADS=1 python benchmarks/md_throughput.py [--model sevennet|mace-random] [--replicas 1 4]
     [--cell 2] [--steps 20] [--warmup 3] [--repeat 2] [--threads 1] [--dtype float32] [--device cpu]
     [--profile] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from contextlib import contextmanager

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

A_FE = 2.83
T_K = 300.0
DT_FS = 1.0
FRICTION_PER_FS = 0.01
SEED = 11
MACE_SEED = 0


def fe_atoms(n_cell: int):
    from ase.build import bulk

    return bulk("Fe", "bcc", a=A_FE, cubic=True).repeat(n_cell)


# ------------------------------------------------------------------------------------------------ models
def make_backend(args, dtype):
    """Our side's backend (alchemical wrapper evaluated on the plain structure)."""
    if args.model == "sevennet":
        from thermograd.alchemy.sevennet import load_sevennet

        return load_sevennet("7net-0", dtype=dtype, device=args.device)
    from thermograd.alchemy.mace import MaceAlchemicalBackend

    return MaceAlchemicalBackend(_random_mace(args, dtype), dtype=dtype, device=args.device)


def _random_mace(args, dtype):
    from thermograd.alchemy.mace import MP0_SMALL_HPARAMS, random_mace_model

    hp = MP0_SMALL_HPARAMS if args.mace_size == "mp0-small" else {}
    return random_mace_model(["Fe"], MACE_SEED, dtype=dtype, **hp)


def _cast_hooks(model, dtype):
    """Make sevenn's plain model run in ``dtype``: cast the input graph's floats and the one-hot output."""

    def cast(data):
        for k in list(data.keys()):
            v = data[k]
            if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dtype != dtype:
                data[k] = v.to(dtype)
        return data

    model.register_forward_pre_hook(lambda mod, inp: (cast(inp[0]),))
    model._modules["onehot_idx_to_onehot"].register_forward_hook(lambda mod, inp, out: cast(out))


def make_reference_calc(args, dtype):
    """One fresh ASE calculator (one per replica) with the plain model in ``dtype``."""
    if args.model == "sevennet":
        from sevenn import util
        from sevenn.calculator import SevenNetCalculator

        if dtype == torch.float32:
            return SevenNetCalculator("7net-0", device=args.device)
        net = util.load_checkpoint("7net-0").build_model().to(dtype)
        _cast_hooks(net, dtype)
        return SevenNetCalculator(net, file_type="model_instance", device=args.device)
    from mace.calculators import MACECalculator

    name = "float32" if dtype == torch.float32 else "float64"
    return MACECalculator(models=_random_mace(args, dtype), device=args.device, default_dtype=name)


# ------------------------------------------------------------------------------------------------ our side
class _OnDevice:
    """``MLIPPotential.evaluate`` with the graph moved to the model's device and the outputs back to the CPU
    (``--device cuda`` only; MLIPPotential itself leaves graph and outputs where they are)."""

    def __init__(self, backend, atoms):
        self.backend, self.atoms, self.n_atoms = backend, atoms.copy(), len(atoms)

    def evaluate(self, positions, cells, stress: bool = False):
        from thermograd.alchemy.derivatives import evaluate
        from thermograd.md.hamiltonians import DTYPE

        g = _build(self.atoms, positions, cells, self.backend.cutoff)[1].to(self.backend.device)
        r = positions.shape[0]
        cell = cells[0] if r == 1 else cells
        res = evaluate(self.backend, g, positions.reshape(-1, 3), cell, torch.zeros(0), stress=stress,
                       alchemical=False)  # fmt: skip
        s = None if res.stress is None else res.stress.reshape(r, 3, 3).to("cpu", DTYPE)
        return res.energy.reshape(r).to("cpu", DTYPE), res.forces.reshape(positions.shape).to("cpu", DTYPE), s


def _build(atoms, positions, cells, cutoff):
    """(seconds per part, graph): graphs of every replica, then joined, as MLIPPotential does."""
    from thermograd.alchemy.graph import DEFAULT_POLICY, batch_graphs, build_graph

    t0 = time.perf_counter()
    a = atoms.copy()
    graphs = []
    for x, h in zip(positions.detach().numpy(), cells.detach().numpy()):
        a.set_cell(h, scale_atoms=False)
        a.positions = x
        graphs.append(build_graph(a, cutoff, DEFAULT_POLICY, groups=[]))
    t1 = time.perf_counter()
    g = graphs[0] if len(graphs) == 1 else batch_graphs(graphs)
    return (t1 - t0, time.perf_counter() - t1), g


class Batched:
    """Our side: BatchedLangevin + Static(MLIPPotential) on R replicas in one batch."""

    def __init__(self, args, backend, n_rep: int):
        from thermograd.alchemy.md import MLIPPotential
        from thermograd.md.engine import BatchedLangevin
        from thermograd.md.hamiltonians import Static

        atoms = fe_atoms(args.cell)
        pot = MLIPPotential(backend, atoms) if args.device == "cpu" else _OnDevice(backend, atoms)
        self.engine = BatchedLangevin(Static(pot), timestep=DT_FS * 1e-3, damping=1e-3 / FRICTION_PER_FS)
        self.state = self.engine.initial_state(
            atoms.positions, atoms.cell.array, atoms.get_masses(), T_K, [SEED + r for r in range(n_rep)]
        )
        self.atoms, self.backend = atoms, backend

    def run(self, n: int) -> float:
        if n == 0:
            return 0.0
        t0 = time.perf_counter()
        self.state, seg = self.engine.run(self.state, np.zeros(n + 1), T_K)
        dt = time.perf_counter() - t0
        self.temperature = seg.temperature
        return dt

    def profile(self, n: int) -> dict:
        """Seconds per step: graph build, batch_graphs, forward, backward (one evaluation as MLIPPotential
        makes it, repeated n times on the current state) and the engine's own work (a run's time minus the
        time inside the Hamiltonian)."""
        from thermograd.alchemy.derivatives import _energies

        b, st = self.backend, self.state
        parts = {"graph build": 0.0, "batch_graphs": 0.0, "forward": 0.0, "backward": 0.0}
        r = st.n_replicas
        for _ in range(n):
            (tb, tj), g = _build(self.atoms, st.positions, st.cells, b.cutoff)
            t0 = time.perf_counter()
            g = g.to(b.device)
            pos = st.positions.reshape(-1, 3).to(b.device, b.dtype).requires_grad_(True)
            cell = (st.cells[0] if r == 1 else st.cells).to(b.device, b.dtype)
            e = _energies(b, g, pos, cell, torch.zeros(0, dtype=b.dtype, device=b.device))
            _sync(b.device)
            t1 = time.perf_counter()
            (f,) = torch.autograd.grad(e.sum(), [pos])
            f.cpu()
            t2 = time.perf_counter()
            for k, v in zip(parts, (tb, tj, t1 - t0, t2 - t1)):
                parts[k] += v / n
        ham = self.engine.hamiltonian
        inner = ham.evaluate
        spent = [0.0]

        def timed(*a, **kw):
            t = time.perf_counter()
            out = inner(*a, **kw)
            spent[0] += time.perf_counter() - t
            return out

        ham.evaluate = timed
        try:
            total = self.run(n)
        finally:
            del ham.evaluate
        parts["engine (rest of a step)"] = (total - spent[0]) / n
        parts["evaluation, in the run"] = spent[0] / (n + 1)
        return parts


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------------------ reference
class Reference:
    """The reference way: one ASE Langevin + one calculator per replica, run one after another."""

    def __init__(self, args, dtype, n_rep: int):
        from ase import units
        from ase.md.langevin import Langevin
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

        self.dtype = dtype
        self.dyns = []
        for r in range(n_rep):
            atoms = fe_atoms(args.cell)
            atoms.calc = make_reference_calc(args, dtype)
            rng = np.random.default_rng(SEED + r)
            MaxwellBoltzmannDistribution(atoms, temperature_K=T_K, rng=rng)
            self.dyns.append(
                Langevin(
                    atoms,
                    DT_FS * units.fs,
                    temperature_K=T_K,
                    friction=FRICTION_PER_FS / units.fs,
                    fixcm=True,
                    rng=rng,
                )
            )

    def run(self, n: int) -> float:
        if n == 0:
            return 0.0
        t0 = time.perf_counter()
        with _default_dtype(self.dtype):
            for dyn in self.dyns:
                dyn.run(n)
        return time.perf_counter() - t0

    def profile(self, n: int) -> dict:
        """Seconds per step of one replica: the calculator (graph build + model) and the rest of ASE's step."""
        dyn = self.dyns[0]
        calc = dyn.atoms.calc
        inner = calc.calculate
        spent = [0.0]

        def timed(*a, **kw):
            t = time.perf_counter()
            out = inner(*a, **kw)
            spent[0] += time.perf_counter() - t
            return out

        calc.calculate = timed
        try:
            t0 = time.perf_counter()
            with _default_dtype(self.dtype):
                dyn.run(n)
            total = time.perf_counter() - t0
        finally:
            del calc.calculate
        return {
            "calculator (graph + model)": spent[0] / n,
            "ASE Langevin (rest of a step)": (total - spent[0]) / n,
        }


@contextmanager
def _default_dtype(dtype):
    prev = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(prev)


# ------------------------------------------------------------------------------------------------ main
def measure(args, backend, dtype, n_rep: int) -> dict:
    ours, ref = Batched(args, backend, n_rep), Reference(args, dtype, n_rep)
    st = ours.state
    e_ours = float(ours.engine.hamiltonian.evaluate(st.positions[:1], st.cells[:1], torch.zeros(1)).energy[0])
    with _default_dtype(dtype):
        e_ref = float(ref.dyns[0].atoms.get_potential_energy())
    ours.run(args.warmup)
    ref.run(args.warmup)
    t_ours, t_ref = [], []
    for _ in range(args.repeat):
        t_ref.append(ref.run(args.steps))
        t_ours.append(ours.run(args.steps))
    n_at = len(ours.atoms)
    row = {"replicas": n_rep, "atoms": n_at, "steps": args.steps}
    for side, ts in (("reference", t_ref), ("batched", t_ours)):
        best = min(ts)
        row[side] = {
            "seconds": best,
            "all_seconds": ts,
            "steps_per_s": args.steps / best,
            "atom_steps_per_s": n_rep * n_at * args.steps / best,
        }
    row["ratio"] = min(t_ref) / min(t_ours)
    row["start_energy_diff_meV_per_atom"] = 1e3 * abs(e_ours - e_ref) / n_at
    row["batched_mean_T_K"] = float(np.mean(ours.temperature))
    if args.profile:
        n = max(2, min(args.steps, 5))
        row["profile_batched_s"] = ours.profile(n)
        row["profile_reference_s"] = ref.profile(n)
    return row


def header(args) -> str:
    model = "SevenNet-0 (7net-0)" if args.model == "sevennet" else f"random MACE ({args.mace_size}, seed 0)"
    ref_calc = "sevenn SevenNetCalculator" if args.model == "sevennet" else "mace MACECalculator"
    cast = ""
    if args.model == "sevennet" and args.dtype == "float64":
        cast = " (model cast to float64, its input graph and one-hot cast by hooks)"
    n_at = len(fe_atoms(args.cell))
    return "\n".join(
        [
            f"# BCC Fe {args.cell}x{args.cell}x{args.cell} = {n_at} atoms per replica, {T_K:g} K, dt {DT_FS:g} fs,"
            f" friction {FRICTION_PER_FS:g}/fs, COM held; model {model}; device {args.device};"
            f" {args.threads} torch thread(s)",
            f"# batched: BatchedLangevin (BAOAB, float64 engine) + Static(MLIPPotential), model {args.dtype};"
            " one batch of R; per step: graphs rebuilt + batched, energy+forces by one forward/backward,"
            " COM held, U and dU/dlam recorded",
            f"# reference: ase.md.langevin.Langevin (fixcm) + one {ref_calc} per replica, model {args.dtype}"
            f"{cast}; replicas one after another; per step: neighbour list + energy+forces(+stress)",
            f"# {args.warmup} warm-up steps untimed; {args.steps} timed steps, best of {args.repeat};"
            " batched/ref = ratio of atom-steps/s",
        ]
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["sevennet", "mace-random"], default="sevennet")
    p.add_argument("--mace-size", choices=["mp0-small", "tiny"], default="mp0-small",
                   help="hyperparameters of the random MACE (tiny: the unit tests' model)")  # fmt: skip
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 4])
    p.add_argument(
        "--cell", type=int, choices=[2, 3], default=2, help="cubic supercell repeat (2: 16, 3: 54 atoms)"
    )
    p.add_argument("--steps", type=int, default=20, help="timed MD steps")
    p.add_argument("--warmup", type=int, default=3, help="untimed MD steps first")
    p.add_argument("--repeat", type=int, default=1, help="timed runs per side; the best is kept")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--profile", action="store_true", help="add a per-step time breakdown of both sides")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of the table")
    args = p.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.repeat < 1 or min(args.replicas) < 1:
        p.error("--steps, --repeat and --replicas must be >= 1 and --warmup >= 0")
    if args.device != "cpu" and not torch.cuda.is_available():
        p.error(f"--device {args.device}: no CUDA device visible to torch")
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    dtype = torch.float32 if args.dtype == "float32" else torch.float64
    backend = make_backend(args, dtype)
    rows = [measure(args, backend, dtype, r) for r in args.replicas]
    if args.json:
        print(json.dumps({"args": vars(args), "header": header(args), "rows": rows}, indent=1))
        return
    print(header(args))
    print(f"{'R':>2} {'side':<9} {'wall s':>8} {'steps/s':>8} {'atom-steps/s':>13} {'batched/ref':>11}")
    for row in rows:
        for side in ("reference", "batched"):
            s = row[side]
            ratio = f"{row['ratio']:11.2f}" if side == "batched" else f"{'':11}"
            print(
                f"{row['replicas']:>2} {side:<9} {s['seconds']:8.2f} {s['steps_per_s']:8.2f}"
                f" {s['atom_steps_per_s']:13.1f} {ratio}"
            )
    diffs = ", ".join(f"{r['start_energy_diff_meV_per_atom']:.2g}" for r in rows)
    print(f"# same model: |E_batched - E_reference| at the start (perfect lattice) = {diffs} meV/atom")
    if args.profile:
        for row in rows:
            print(f"# profile R={row['replicas']}, seconds per step:")
            for side in ("batched", "reference"):
                parts = ", ".join(f"{k} {v:.4f}" for k, v in row[f"profile_{side}_s"].items())
                print(f"#   {side}: {parts}")


if __name__ == "__main__":
    main()
