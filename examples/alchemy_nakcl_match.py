"""Lattice matching by composition: the Na1-xKxCl composition whose zero-stress lattice constant is 6.000 Å.

SevenNet-0, 8-atom rocksalt cell at a = 6.000 Å, Na sites carry (Na, K) copies with λ = (1 - x, x); the loss
P² (GPa²) is minimised by projected gradient with ∂P/∂λ from double backprop. Prints one JSON line.
Run: OMP_NUM_THREADS=1 python examples/alchemy_nakcl_match.py
(On a loaded machine, one torch thread per process avoids oversubscription: measured 0.3 s vs 10-20 s
per 12-atom call on 2 shared cores.)
"""

from __future__ import annotations

import json
import time

import torch
from ase.build import bulk

from thermograd.alchemy import load_sevennet, match_lattice, substitution

atoms = bulk("NaCl", "rocksalt", a=5.683, cubic=True)
na_sites = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Na"]
system = substitution(atoms, na_sites, ["Na", "K"], [0.999, 0.001])
backend = load_sevennet(dtype=torch.float64)
t0 = time.perf_counter()
result = match_lattice(
    system, backend, a=6.000, kind="hydrostatic", method="projected", lr=5e-3, max_steps=100, tol=1e-6
)
print(
    json.dumps(
        {
            "x_K": round(float(result.lam[1]), 4),
            "lam": [round(float(v), 6) for v in result.lam],
            "loss_GPa2": float(f"{result.loss:.3g}"),
            "steps": result.n_steps,
            "converged": result.converged,
            "seconds": round(time.perf_counter() - t0, 1),
        }
    )
)
