"""0 K alchemical λ-integration of a vacancy in 54-atom BCC Fe (SevenNet-0), against the direct difference.

Atom 27 becomes one copy with weight w; ∫₀¹ ∂E/∂w dw over structures relaxed at fixed cell (a = 2.83 Å,
4-point Gauss–Legendre) must equal E(N) - E(N-1) of the relaxed perfect and defect crystals (the endpoints
of the alchemical model are the plain model exactly). Prints one JSON line (eV).
Run: OMP_NUM_THREADS=1 python examples/alchemy_vacancy_0k.py
(On a loaded machine, one torch thread per process avoids oversubscription: measured 0.3 s vs 10-20 s
per 12-atom call on 2 shared cores.)
"""

from __future__ import annotations

import json
import time

import torch
from ase.build import bulk

from thermograd.alchemy import lambda_integration_0k, load_sevennet, vacancy

atoms = bulk("Fe", "bcc", a=2.83, cubic=True).repeat(3)
system = vacancy(atoms, 27, 1.0)
backend = load_sevennet(dtype=torch.float32)
t0 = time.perf_counter()
res = lambda_integration_0k(
    system,
    [0.0],
    [1.0],
    backend,
    n_points=4,
    rule="gauss-legendre",
    relax_positions=True,
    fmax=0.01,
    steps=300,
)
n = len(atoms)
e_n, e_n1 = res.end_energies[1], res.end_energies[0]
print(
    json.dumps(
        {
            "dE_integral": round(res.integral, 5),
            "dE_direct": round(res.direct, 5),
            "difference_meV": round(1e3 * (res.integral - res.direct), 2),
            "E_v": round(e_n1 - (n - 1) / n * e_n, 4),
            "w": [round(float(t), 5) for t in res.t],
            "dE_dw": [round(float(g), 5) for g in res.dE_dt],
            "seconds": round(time.perf_counter() - t0, 1),
        }
    )
)
