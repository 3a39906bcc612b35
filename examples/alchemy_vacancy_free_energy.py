"""Vacancy formation free energy of BCC Fe at temperature, by two routes side by side (science-alchemical.md §8.3).

* alchemical: Frenkel–Ladd of the perfect crystal + one switch that decouples an atom while tethering it
  (G_v = ΔF_alch + f_perf − F_E,osc + centre-of-mass term);
* conventional: Frenkel–Ladd of the perfect and of the defect crystal, G_v = (N − 1)(f_def − f_perf).

Both at the perfect crystal's cell, replicas in one batch on thermograd's torch engine. Prints one JSON line
with G_v_alchemical, G_v_alchemical_error, G_v_conventional, G_v_conventional_error (eV), the model, the cell
and the MD steps of each route, and the noise-free harmonic reference G_v_harmonic = E_v + F_h,v at the same
cell (the T → 0 limit of both routes; at low T it shows which route a short switch has biased). The
defaults (SevenNet-0, 16 atoms, 100 K, 2 replicas, short switches) run in well under an hour on 2 CPU cores;
``--paper`` selects the paper's set-up (250 atoms, 50–200 K, 4 repeats, 30k-step switches, NPT at 1 atm:
for a GPU, ``--device cuda``). ``--model morse`` runs the same workflow on the pair model of the tests in a
minute or two.

Run: OMP_NUM_THREADS=1 python examples/alchemy_vacancy_free_energy.py [--model sevennet|morse] [--paper]
Interrupted runs resume from --checkpoint-dir (finished runs are kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import warnings

import torch
from ase.build import bulk

from thermograd.alchemy.free_energy import vacancy_formation
from thermograd.md.frenkel_ladd import MDSettings


def run_tag(args) -> str:
    """Digest of the options that change results: a changed run gets its own checkpoint folder (a finished or
    interrupted run with the same options is resumed from it)."""
    keep = {
        k: v for k, v in vars(args).items() if k not in ("quiet", "threads", "checkpoint_dir", "no_harmonic")
    }
    return hashlib.sha256(repr(sorted(keep.items())).encode()).hexdigest()[:10]


p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("--model", choices=("sevennet", "morse"), default="sevennet")
p.add_argument("--repeat", type=int, default=2, help="cubic BCC supercell n×n×n (2n³ atoms)")
p.add_argument(
    "--a", type=float, default=None, help="lattice constant, Å (default 2.83 SevenNet, 2.86 Morse)"
)
p.add_argument("--T", type=float, nargs="+", default=[100.0], help="temperatures, K")
p.add_argument("--replicas", type=int, default=2)
p.add_argument("--n-msd", type=int, default=300)
p.add_argument("--n-equil", type=int, default=100)
p.add_argument("--n-switch", type=int, default=400)
p.add_argument("--timestep", type=float, default=0.002, help="ps")
p.add_argument("--pressure", type=float, default=None, help="bar (adds the NPT volume step)")
p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
p.add_argument("--device", default="cpu")
p.add_argument(
    "--threads",
    type=int,
    default=1,
    help="torch threads (one per process: two oversubscribe a loaded machine)",
)
p.add_argument("--checkpoint-dir", default="thermograd-checkpoints/vacancy")
p.add_argument("--paper", action="store_true", help="250 atoms, 50-200 K, 4 repeats, 20k+30k steps, 1 atm")
p.add_argument(
    "--no-harmonic",
    action="store_true",
    help="skip the harmonic reference (two Hessians; 6N force calls each)",
)
p.add_argument("--quiet", action="store_true")
args = p.parse_args()
if args.paper:
    args.repeat, args.T, args.replicas, args.pressure = 5, [50.0, 100.0, 150.0, 200.0], 4, 1.01325
    args.n_msd, args.n_equil, args.n_switch = 30000, 20000, 30000
torch.set_num_threads(args.threads)

if args.model == "sevennet":
    from thermograd.alchemy import load_sevennet

    backend = load_sevennet(dtype=getattr(torch, args.dtype), device=args.device)
    a = args.a or 2.83
    model = f"SevenNet-0 ({args.dtype})"
else:
    from thermograd.alchemy.pair import FE_MORSE, MorseBackend

    backend = MorseBackend(FE_MORSE, cutoff=3.6)
    a = args.a or 2.86
    model = "Morse Fe (thermograd.alchemy.pair.FE_MORSE)"
atoms = bulk("Fe", "bcc", a=a, cubic=True).repeat(args.repeat)
settings = MDSettings(
    timestep=args.timestep,
    n_npt=20000 if args.paper else 2000,
    n_msd_equil=args.n_msd // 2,
    n_msd=args.n_msd,
    n_equil=args.n_equil,
    n_switch=args.n_switch,
    n_replicas=args.replicas,
)
site = len(atoms) // 2
rows = []
for T in args.T:
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = vacancy_formation(
            backend,
            atoms,
            site,
            T,
            settings=settings,
            pressure=args.pressure,
            harmonic=not args.no_harmonic,
            checkpoint_dir=f"{args.checkpoint_dir}/{args.model}-{len(atoms)}-{T:g}K-{run_tag(args)}",
            progress=not args.quiet,
        )
    rows.append(
        {
            "T": T,
            "G_v_alchemical": r.G_v_alchemical,
            "G_v_alchemical_error": r.G_v_alchemical_error,
            "G_v_conventional": r.G_v_conventional,
            "G_v_conventional_error": r.G_v_conventional_error,
            "G_v_harmonic": r.G_v_harmonic,
            "S_v_harmonic_kB": None if r.harmonic is None else r.harmonic.S_v[0],
            "dissipation_alchemical_eV": r.switch.dissipation,
            "com_term_eV": r.com_term,
            "md_steps_per_replica": r.md_steps,
            "warnings": [str(w.message) for w in caught],
            "seconds": round(time.perf_counter() - t0, 1),
        }
    )
out = {
    "model": model,
    "n_atoms": len(atoms),
    "a": a,
    "site": site,
    "replicas": args.replicas,
    "timestep_ps": args.timestep,
    "n_switch": args.n_switch,
    "n_equil": args.n_equil,
    "n_msd": args.n_msd,
    "pressure_bar": args.pressure,
    "units": "eV",
    **(rows[0] if len(rows) == 1 else {"rows": rows}),
}
print(json.dumps(out))
