"""Pb → Sn in CsPbI₃, α and δ phases: the alchemical switch against direct Frenkel–Ladd (science-alchemical.md §8.4).

Per phase: Frenkel–Ladd of CsPbI₃ and of CsSnI₃ (same cell and sites) and one switch of every B site
Pb → Sn with interpolated masses (ΔG = ΔF_switch + mass term). The cycle closure
[g_δ(Pb) − g_α(Pb)] + ΔG_δ − ΔG_α − [g_δ(Sn) − g_α(Sn)] is zero for any model, so it checks the switching
and mass terms. Prints one JSON line with cycle_closure and cycle_closure_error (meV/atom), every term, the
model, the cells and the MD steps.

Defaults: the Morse model that holds all four structures (thermograd.alchemy.perovskites.CSPBI3_MORSE), α
2×2×2 and δ 1×2×1 (40 atoms each), 300 K, fixed cells, 4 replicas: about half an hour on 2 CPU cores.
``--model sevennet`` uses SevenNet-0 (a GPU: ``--device cuda``; on CPU SevenNet-0 costs ~1 s per step and does
not hold α in small cells at 300 K); ``--paper`` the paper's 1080-atom cells at 300 K.

Run: OMP_NUM_THREADS=1 python examples/alchemy_pbsn_cycle.py [--model morse|sevennet] [--paper]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import warnings

import torch

from thermograd.alchemy.free_energy import substitution_cycle
from thermograd.alchemy.perovskites import cspbi3_alpha, cspbi3_delta, cspbi3_morse, relax_positions
from thermograd.md.frenkel_ladd import MDSettings


def run_tag(args) -> str:
    """Digest of the options that change results: a changed run gets its own checkpoint folder (a finished or
    interrupted run with the same options is resumed from it)."""
    keep = {k: v for k, v in vars(args).items() if k not in ("quiet", "threads", "checkpoint_dir")}
    return hashlib.sha256(repr(sorted(keep.items())).encode()).hexdigest()[:10]


p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--model", choices=("morse", "sevennet"), default="morse")
p.add_argument("--T", type=float, default=300.0)
p.add_argument("--replicas", type=int, default=4)
p.add_argument("--n-msd", type=int, default=1000)
p.add_argument("--n-equil", type=int, default=500)
p.add_argument("--n-switch", type=int, default=2000)
p.add_argument("--timestep", type=float, default=0.004, help="ps")
p.add_argument("--damping", type=float, default=0.2, help="ps")
p.add_argument("--dtype", choices=("float32", "float64"), default="float64")
p.add_argument("--device", default="cpu")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--checkpoint-dir", default="thermograd-checkpoints/pbsn")
p.add_argument(
    "--paper", action="store_true", help="α 6×6×6 and δ 6×3×3 (1080 atoms each), 30k-step switches"
)
p.add_argument("--quiet", action="store_true")
args = p.parse_args()
torch.set_num_threads(args.threads)
alpha_rep, delta_rep = ((6, 6, 6), (6, 3, 3)) if args.paper else ((2, 2, 2), (1, 2, 1))
if args.paper:
    args.n_msd, args.n_equil, args.n_switch = 30000, 20000, 30000

if args.model == "morse":
    backend, model = cspbi3_morse(), "Morse CsPbI3 (thermograd.alchemy.perovskites.CSPBI3_MORSE)"
else:
    from thermograd.alchemy import load_sevennet

    backend = load_sevennet(dtype=getattr(torch, args.dtype), device=args.device)
    model = f"SevenNet-0 ({args.dtype})"
phases = {
    "alpha": relax_positions(cspbi3_alpha(repeat=alpha_rep), backend),
    "delta": relax_positions(cspbi3_delta(repeat=delta_rep), backend),
}
settings = MDSettings(
    timestep=args.timestep,
    damping=args.damping,
    n_msd_equil=args.n_msd // 2,
    n_msd=args.n_msd,
    n_equil=args.n_equil,
    n_switch=args.n_switch,
    n_replicas=args.replicas,
)
t0 = time.perf_counter()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    c = substitution_cycle(
        backend,
        phases,
        "Pb",
        "Sn",
        args.T,
        settings=settings,
        checkpoint_dir=f"{args.checkpoint_dir}/{args.model}-{args.T:g}K-{run_tag(args)}",
        progress=not args.quiet,
    )
out = {
    "model": model,
    "T": args.T,
    "cycle_closure": c.closure,
    "cycle_closure_error": c.closure_error,
    "units": {"cycle_closure": "meV/atom", "free energies": "eV/atom"},
    "direct_delta_minus_alpha_Sn": c.direct,
    "via_switch_delta_minus_alpha_Sn": c.via_switch,
    "delta_G": {k: v.delta_G for k, v in c.substitution.items()},
    "delta_G_error": {k: v.delta_G_error for k, v in c.substitution.items()},
    "mass_term": {k: v.mass_term for k, v in c.substitution.items()},
    "g": {ph: {sp: r.F for sp, r in d.items()} for ph, d in c.f.items()},
    "g_error": {ph: {sp: r.F_error for sp, r in d.items()} for ph, d in c.f.items()},
    "phase_closure": c.phase_closure,
    "n_atoms": {k: len(v) for k, v in phases.items()},
    "cells": {"alpha": list(alpha_rep), "delta": list(delta_rep)},
    "replicas": args.replicas,
    "md_steps_per_replica": {
        "frenkel_ladd": settings.n_msd_equil + settings.n_msd + 2 * (settings.n_equil + settings.n_switch),
        "switch": 2 * (settings.n_equil + settings.n_switch),
    },
    "timestep_ps": args.timestep,
    "warnings": [str(w.message) for w in caught],
    "seconds": round(time.perf_counter() - t0, 1),
}
print(json.dumps(out))
