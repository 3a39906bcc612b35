"""Reference λ-TI free energies of BCC Mo with SNAP Mo_Zuo_JPCA2020 (128 atoms) for the D-DOS validation.

Command (from the repository root; ~1 CPU-hour, run once):

    nohup .venv/bin/python tests/references/make_mo_bcc_ti.py --workers 2 > /tmp/mo_bcc_ti.log 2>&1 &

Set-up: 4×4×4 conventional BCC cells (128 atoms); lattice constant from a 0 K energy minimisation of the
reference potential (Brent search on the isotropic scale; the same cell for both θ); harmonic → model λ-TI
from each model's own finite-difference Hessian (3N − 3 modes, centre of mass pinned), 5 Gauss–Legendre
points, Langevin (damping 0.1 ps), time step 2 fs, N_EQUIL + N_PROD steps per point, T = 1500 K and 2500 K.
Perturbed θ: every linear SNAP coefficient (β_1..β_30 of the .snapcoeff, not the constant β_0) scaled by
(1 + 0.05 ξ), ξ = numpy.random.default_rng(2026).standard_normal(30); the file is written next to this script.
Output: tests/references/mo_bcc_ti.json (written only when every run has finished; progress goes to
mo_bcc_ti.partial.json, removed at the end).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
N_POINTS, N_EQUIL, N_PROD = 5, 1000, 8000
TEMPERATURES = (1500.0, 2500.0)
PERTURBED_NAME = "Mo_Zuo_JPCA2020_perturbed_2026.snapcoeff"


def perturbed_potential(ref):
    from thermograd.engines.potentials import Potential
    from thermograd.io.snap import read_snapcoeff, write_snapcoeff

    coeff_path, param_path = ref.snap_files
    coeffs = read_snapcoeff(coeff_path)
    el = coeffs.elements[0]
    theta = coeffs.coeffs[el].copy()
    xi = np.random.default_rng(2026).standard_normal(theta.size - 1)
    theta[1:] *= 1.0 + 0.05 * xi
    coeffs.coeffs[el] = theta
    out = HERE / PERTURBED_NAME
    write_snapcoeff(
        out,
        coeffs,
        comment="Mo_Zuo_JPCA2020 with linear coefficients × (1 + 0.05 ξ), "
        "ξ = numpy.random.default_rng(2026).standard_normal(30)",
    )
    pot = Potential.from_lammps("snap", f"* * {out} {param_path} Mo", ["Mo"], name="Mo_Zuo_perturbed_2026")
    return pot, xi, theta


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    from thermograd.engines.potentials import Potential
    from thermograd.harmonic import modes_from_hessian
    from thermograd.parallel import make_executor
    from thermograd.structures import bcc
    from thermograd.ti import run_lambda_ti
    from thermograd.ti.lammps_md import LammpsSystem, relax_cubic_lattice

    ref = Potential.from_snap("Mo_Zuo_JPCA2020")
    atoms, scale = relax_cubic_lattice(bcc("Mo", a=3.16, size=4), ref)
    a0 = 3.16 * scale
    pert, xi, theta_p = perturbed_potential(ref)
    out = {
        "complete": False,
        "system": "BCC Mo, 4x4x4 (128 atoms)",
        "lattice_constant": a0,
        "volume_per_atom": a0**3 / 2,
        "potential": "Mo_Zuo_JPCA2020 (SNAP 2J=6, bzeroflag 0)",
        "perturbation": {
            "rule": "theta_i *= 1 + 0.05*xi_i for the 30 linear coefficients (beta_0 unchanged)",
            "xi": xi.tolist(),
            "perturbed_coefficients_file": PERTURBED_NAME,
            "perturbed_linear_theta": theta_p[1:].tolist(),
        },
        "protocol": {
            "method": "harmonic->model lambda-TI, own Hessian (fd, 1e-3 A), 3N-3 modes, COM pinned",
            "n_points": N_POINTS,
            "n_equil": N_EQUIL,
            "n_prod": N_PROD,
            "timestep_ps": 0.002,
            "damping_ps": 0.1,
            "error": "max(autocorrelation, 16 blocks) SEM per point",
        },
        "command": "nohup .venv/bin/python tests/references/make_mo_bcc_ti.py --workers 2",
        "units": "eV/atom",
        "results": [],
    }
    partial = HERE / "mo_bcc_ti.partial.json"
    with make_executor("processes", args.workers) as ex:
        for label, pot in (("reference", ref), ("perturbed", pert)):
            system = LammpsSystem(atoms, pot, timestep=0.002, damping=0.1)
            t0 = time.time()
            h = system.hessian()
            modes_from_hessian(h, system.mass)  # raises if this θ's Hessian is unstable
            print(f"{label}: Hessian in {time.time() - t0:.0f} s", flush=True)
            for i, T in enumerate(TEMPERATURES):
                t0 = time.time()
                r = run_lambda_ti(
                    system,
                    T,
                    n_points=N_POINTS,
                    n_equil=N_EQUIL,
                    n_prod=N_PROD,
                    seed=2026 + 10 * i + (0 if label == "reference" else 5),
                    convention="ddos",
                    executor=ex,
                    hessian=h,
                )
                row = {
                    "theta": label,
                    "T": T,
                    "E0": r.E0,
                    "F_h_ddos": r.F_h,
                    "F_h_cell": r.F_h_cell,
                    "F_anh": r.F_anh,
                    "F_anh_error": r.F_anh_error,
                    "F_ddos": r.F,
                    "F_cell": r.F_cell,
                    "F_error": r.F_error,
                    "points": [pt.to_dict() for pt in r.points],
                    "md_steps": r.md_steps,
                    "wall_s": time.time() - t0,
                }
                out["results"].append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "points"}), flush=True)
                partial.write_text(json.dumps(out, indent=1))
    out["complete"] = True
    (HERE / "mo_bcc_ti.json").write_text(json.dumps(out, indent=1))
    partial.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
