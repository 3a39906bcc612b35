"""Cost of the alchemical model relative to the plain model, same structure, same run.

Times one energy + forces + ∂E/∂λ call (alchemical graph at a pure end point) against one energy + forces call
of the plain model on the pure structure (same wrapper, ordinary graph), for SevenNet-0 and, when
``thermograd.alchemy.mace`` is present, a random-weight MACE (MP-0-small hyperparameters). Graph construction
is timed separately. "messages" counts the distinct (original edge, sender node) messages, the tensor
products actually evaluated by the SevenNet backend. Prints a table and one JSON line with the ratios.

Run: python benchmarks/alchemy_overhead.py [--repeats 5] [--dtype float32]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from ase.build import bulk

from thermograd.alchemy.derivatives import evaluate
from thermograd.alchemy.graph import build_graph
from thermograd.alchemy.system import substitution, vacancy


def cases():
    """(name, system): one substituted sublattice at its first vertex, and a single-site vacancy at w = 1."""
    ceo2 = bulk("CeO2", "fluorite", a=5.468, cubic=True).repeat(2)  # 96 atoms
    ce = [i for i, s in enumerate(ceo2.get_chemical_symbols()) if s == "Ce"]
    nacl = bulk("NaCl", "rocksalt", a=5.683, cubic=True).repeat(2)  # 64 atoms
    na = [i for i, s in enumerate(nacl.get_chemical_symbols()) if s == "Na"]
    fe = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(3)  # 54 atoms
    return [
        ("CeO2 96 at, Ce->(Ce,Zr)", substitution(ceo2, ce, ["Ce", "Zr"], [1.0, 0.0])),
        ("NaCl 64 at, Na->(Na,K)", substitution(nacl, na, ["Na", "K"], [1.0, 0.0])),
        ("Fe 54 at, one vacancy", vacancy(fe, 27, 1.0)),
    ]


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.min(times))


def bench(backend, name: str, system, repeats: int) -> dict:
    atoms = system.atoms
    pure = system.endpoint_atoms()
    pos, cell = atoms.positions, atoms.cell.array
    t_build_alch = best_time(lambda: build_graph(system, backend.cutoff), repeats)
    t_build_plain = best_time(lambda: build_graph(pure, backend.cutoff), repeats)
    g_alch = build_graph(system, backend.cutoff)
    g_plain = build_graph(pure, backend.cutoff)
    t_alch = best_time(lambda: evaluate(backend, g_alch, pos, cell, system.lam, stress=False), repeats)
    t_plain = best_time(
        lambda: evaluate(
            backend, g_plain, pure.positions, pure.cell.array, np.zeros(0), stress=False, alchemical=False
        ),
        repeats,
    )
    return {
        "backend": backend.name,
        "case": name,
        "nodes": [g_plain.n_nodes, g_alch.n_nodes],
        "edges": [g_plain.n_edges, g_alch.n_edges],
        "messages": [int(g_plain.message_parent.shape[0]), int(g_alch.message_parent.shape[0])],
        "t_plain_s": t_plain,
        "t_alch_s": t_alch,
        "ratio": t_alch / t_plain,
        "t_graph_plain_s": t_build_plain,
        "t_graph_alch_s": t_build_alch,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dtype = torch.float32 if args.dtype == "float32" else torch.float64
    backends = []
    from thermograd.alchemy.sevennet import load_sevennet

    backends.append(load_sevennet(dtype=dtype))
    try:
        from thermograd.alchemy.mace import MaceAlchemicalBackend

        backends.append(
            MaceAlchemicalBackend.random(["Ce", "Zr", "O", "Na", "K", "Cl", "Fe"], seed=0, dtype=dtype)
        )
    except ImportError as exc:  # MACE backend or mace-torch not installed
        print(f"# MACE backend skipped: {exc}")
    rows = [bench(b, name, system, args.repeats) for b in backends for name, system in cases()]
    print(
        f"{'backend':9} {'case':26} {'nodes':>11} {'edges':>13} {'messages':>13}"
        f" {'plain s':>8} {'alch s':>8} {'ratio':>6} {'graph s':>15}"
    )
    for r in rows:
        print(
            f"{r['backend']:9} {r['case']:26} {r['nodes'][0]:>5}/{r['nodes'][1]:<5} "
            f"{r['edges'][0]:>6}/{r['edges'][1]:<6} {r['messages'][0]:>6}/{r['messages'][1]:<6} "
            f"{r['t_plain_s']:8.3f} {r['t_alch_s']:8.3f} "
            f"{r['ratio']:6.2f} {r['t_graph_plain_s']:7.4f}/{r['t_graph_alch_s']:<7.4f}"
        )
    print(
        json.dumps(
            {
                "dtype": args.dtype,
                "threads": args.threads,
                "ratios": {f"{r['backend']}: {r['case']}": round(r["ratio"], 3) for r in rows},
            }
        )
    )


if __name__ == "__main__":
    main()
