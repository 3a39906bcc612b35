"""D-DOS from Python: the α→γ (BCC→FCC) transition of the X_Fe SNAP model and its inverse design.

Uses the published Fe shell data (the DescriptorDOS reference campaign) from ``../shared/data/fe-ddos-shells``
(or the folder given as the first argument) and prints one JSON line:

    OMP_NUM_THREADS=1 python examples/ddos_fe_transition.py [DATA_DIR]

Every step is the front door :class:`thermograd.ddos.Phase`: fit the score model of each phase, F(θ, T) ± σ
with ∂F/∂θ in the 'cell' convention, T_c of BCC→FCC, and θ tuned so that T_c = 1063 K with the 0 K energy
difference held. The shell data stop at 2000 K, so T_c ≈ 1978 K is flagged (its BCC optimum sits on the top
shell); the tuned T_c is not.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from thermograd.ddos import Coefficients, Phase
from thermograd.ddos.inputs import load_campaign


def main(data: Path) -> dict:
    if not (data / "bcc.npz").is_file():
        sys.exit(
            f"Fe shell data not found in {data} (give the folder holding bcc.npz, fcc.npz, X_Fe.snapcoeff)"
        )
    bcc, fcc = (Phase(dataset=load_campaign(data / f"{name}.npz")[0]) for name in ("bcc", "fcc"))
    theta = Coefficients.from_snapcoeff(data / "X_Fe.snapcoeff", bcc.n_features)
    r = bcc.free_energy(theta, [1000.0, 1500.0], convention="cell", with_grad=True)
    tc = bcc.transition(fcc, theta, np.linspace(500.0, 2500.0, 81))
    tuned = bcc.tune(fcc, theta, 1063.0, T_grid=np.linspace(500.0, 1900.0, 57))
    return {
        "F_bcc_eV": r.F[0].tolist(),
        "F_bcc_error_eV": r.sigma[0].tolist(),
        "T": r.T.tolist(),
        "route": r.route(0, 0),
        "convention": r.convention,
        "grad_norm": float(np.linalg.norm(r.dF_dtheta[0, 0])),
        "Tc": tc.Tc,
        "Tc_error": tc.Tc_error,
        "Tc_flagged": tc.flagged_at_Tc,
        "Tc_tuned": tuned.Tc,
        "tuned_converged": tuned.converged,
        "relative_change": tuned.relative_change,
        "dE0_change": tuned.dE0_change,
    }


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fe-ddos-shells"
    print(json.dumps(main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)))
