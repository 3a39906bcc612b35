"""V*(T) of BCC Mo (SNAP Mo_Zuo_JPCA2020, 128 atoms) at zero pressure: D-DOS over volumes against LAMMPS NPT.

D-DOS side: the campaign of tests/references/mo_bcc_eos_campaign.yaml (six strains, one Hessian reference
each) gives F(θ_ref, V, T) by the accurate route (cumulant closure + exact α integral on the uniform shells);
thermograd.thermo.eos fits F(V) (third-order Birch–Murnaghan in V^(−2/3), weights 1/σ²) and minimises F + PV:
V*, σ_V* (propagated from every volume's σ), B and α. Flagged values (e.g. a collapsed effective sample size
near melting) are printed flagged.

NPT side: LAMMPS `fix nph iso` + `fix langevin` (damping 0.1 ps, 2 fs), the same 128-atom cell, --seeds
independent runs of --steps steps each (first half equilibration); ⟨V⟩ is the mean over runs and its error
the standard error over runs (independent seeds; no autocorrelation assumption). Runs go to a process pool.

Equal work is not the point here (a validation, not a speed race), but both costs are printed: the campaign is
shared by every θ and T, each NPT run serves one (θ, T, P).

    .venv/bin/python benchmarks/ddos_volume_vs_npt.py [--T 1500 2500] [--seeds 4] [--steps 10000] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REF = Path(__file__).resolve().parents[1] / "tests" / "references"


def _npt(args) -> float:
    """Mean volume per atom of one NPT run (Å³/atom)."""
    T, seed, steps, a, size = args
    from ase.build import bulk

    from thermograd.engines.potentials import Potential
    from thermograd.ti.lammps_md import LammpsSystem

    atoms = bulk("Mo", "bcc", a=a, cubic=True).repeat(size)
    trace = LammpsSystem(atoms, Potential.from_snap("Mo_Zuo_JPCA2020")).npt_volume_trace(T, 0.0, steps, seed)
    return float(trace.mean() / len(atoms))


def npt_volumes(temperatures, seeds: int, steps: int, a: float, size: int, workers: int) -> dict:
    """⟨V⟩ ± SEM over independent seeds per temperature, Å³/atom, and the core-seconds spent."""
    jobs = [(float(T), 1000 + 17 * k, steps, a, size) for T in temperatures for k in range(seeds)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as ex:
        vols = list(ex.map(_npt, jobs))
    wall = time.perf_counter() - t0
    out = {}
    for i, T in enumerate(temperatures):
        v = np.array(vols[i * seeds : (i + 1) * seeds])
        out[float(T)] = {
            "V": float(v.mean()),
            "V_error": float(v.std(ddof=1) / math.sqrt(v.size)),
            "runs": v.tolist(),
        }
    return {"by_T": out, "wall_s": wall}


def ddos_volumes(campaign: Path, temperatures, workers: int) -> dict:
    """V*, σ_V*, B, α and flags at P = 0 from the D-DOS campaign over volumes (run or resumed)."""
    from thermograd.config import load_yaml_model
    from thermograd.ddos.estimators.from_file import open_volume_estimators
    from thermograd.ddos.sampling.campaign import run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig
    from thermograd.engines.potentials import find_potential_file
    from thermograd.free_energy import Coefficients
    from thermograd.thermo.eos import gibbs_free_energy

    cfg = load_yaml_model(CampaignConfig, REF / "mo_bcc_eos_campaign.yaml")
    cfg.output = str(campaign.resolve())
    t0 = time.perf_counter()
    run_campaign(cfg, executor="processes", workers=workers, progress=False)
    wall = time.perf_counter() - t0
    ests = open_volume_estimators(campaign)
    theta = Coefficients.from_snapcoeff(find_potential_file("Mo_Zuo_JPCA2020.snapcoeff"), ests[0].n_features)
    t1 = time.perf_counter()
    g = gibbs_free_energy(ests, None, theta, list(temperatures), 0.0, convention="cell")
    t_eval = time.perf_counter() - t1
    out = {}
    for k, T in enumerate(temperatures):
        out[float(T)] = {
            "V": float(g.V[0, k]),
            "V_error": float(g.sigma_V[0, k]),
            "B_GPa": float(g.B[0, k]),
            "flagged": bool(g.flagged[0, k]),
            "flag_reason": g.reason(0, k),
            "route": g.route(0, k),
        }
    return {"by_T": out, "volumes": g.volumes.tolist(), "campaign_wall_s": wall, "eval_s": t_eval}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--T", type=float, nargs="+", default=[1500.0, 2500.0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--workdir", default="ddos-volume-vs-npt")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(exist_ok=True)
    dd = ddos_volumes(work / "campaign.h5", args.T, args.workers)
    md = npt_volumes(args.T, args.seeds, args.steps, 3.1692584386441633, 4, args.workers)
    rows = []
    for T in args.T:
        d, m = dd["by_T"][float(T)], md["by_T"][float(T)]
        s = math.hypot(d["V_error"], m["V_error"])
        rows.append(
            {
                "T": T,
                "V_ddos": d["V"],
                "V_ddos_error": d["V_error"],
                "V_npt": m["V"],
                "V_npt_error": m["V_error"],
                "diff_sigma": (d["V"] - m["V"]) / s,
                "flagged": d["flagged"],
                "flag_reason": d["flag_reason"],
                "route": d["route"],
                "B_GPa": d["B_GPa"],
                "npt_runs": m["runs"],
            }
        )
    summary = {
        "model": "Mo_Zuo_JPCA2020, BCC, 128 atoms, P = 0",
        "units": "Å^3/atom",
        "rows": rows,
        "volumes_sampled": dd["volumes"],
        "campaign_wall_s": dd["campaign_wall_s"],
        "ddos_eval_s": dd["eval_s"],
        "npt_wall_s": md["wall_s"],
        "npt": f"{args.seeds} seeds × {args.steps} steps (half equilibration) per T",
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(
        f"# {summary['model']}; V in Å³/atom; sampled volumes {dd['volumes'][0]:.3f}-{dd['volumes'][-1]:.3f}"
    )
    print(f"# {'T/K':>7} {'V* D-DOS':>18} {'<V> NPT':>18} {'diff/σ':>7}  route / flag")
    for r in rows:
        flag = f"  * {r['flag_reason']}" if r["flagged"] else ""
        print(
            f"  {r['T']:7.0f} {r['V_ddos']:10.4f} ± {r['V_ddos_error']:.4f} {r['V_npt']:10.4f} ± "
            f"{r['V_npt_error']:.4f} {r['diff_sigma']:+7.2f}  {r['route']}{flag}"
        )
    print(
        f"# campaign {dd['campaign_wall_s']:.0f} s (once, every θ and T), D-DOS V*(T) {dd['eval_s']:.1f} s; "
        f"NPT {md['wall_s']:.0f} s wall for {len(args.T)} T"
    )


if __name__ == "__main__":
    main()
