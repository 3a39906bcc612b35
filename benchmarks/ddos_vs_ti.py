"""D-DOS estimators against λ-TI on BCC Mo (SNAP Mo_Zuo_JPCA2020, 128 atoms, 0.5 and 0.85 T_m).

Runs (or resumes) the campaign of tests/references/mo_bcc_campaign.yaml into --workdir, then prints, for the
reference θ and the 5 % perturbed θ predicted from the reference campaign, the anharmonic free energy
F − E_0 − F_h (meV/atom, F_h of each model's own Hessian) from three estimators next to the TI reference of
tests/references/mo_bcc_ti.json:
  gamma     third-cumulant (Gamma) closure along θ + exact α integral (thermograd's default high-T route)
  reweight  exact reweighting of the raw shell samples + exact α integral
  score     order-2 score model with the Laplace minimum over α (reference-like), in the 'cell' convention
            like every column
  tilted    (with --tilt) shells whose uniform ESS < 50 sampled again under a tilt ladder toward each model at
            2500 K (thermograd tilt, default plan), MBAR on those shells + gamma elsewhere, exact α integral;
            ~10 min per model on 2 cores, resumed from --workdir

    .venv/bin/python benchmarks/ddos_vs_ti.py [--workdir DIR] [--json] [--tilt]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REF = Path(__file__).resolve().parents[1] / "tests" / "references"


def main() -> None:
    from thermograd.config import load_yaml_model
    from thermograd.ddos.estimators.cumulant import CumulantEstimator
    from thermograd.ddos.estimators.model import DDOSModel
    from thermograd.ddos.sampling.campaign import load_datasets, run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig
    from thermograd.engines.potentials import find_potential_file
    from thermograd.free_energy import Coefficients

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="ddos-vs-ti")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tilt", action="store_true", help="add the tilted-shell estimator at 2500 K")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(exist_ok=True)
    cfg = load_yaml_model(CampaignConfig, REF / "mo_bcc_campaign.yaml")
    cfg.output = str((work / "campaign.h5").resolve())
    ds = load_datasets(run_campaign(cfg, executor="processes", workers=2, progress=not args.json).path)[0]
    ti = {(r["theta"], float(r["T"])): r for r in json.loads((REF / "mo_bcc_ti.json").read_text())["results"]}
    files = {
        "reference": find_potential_file("Mo_Zuo_JPCA2020.snapcoeff"),
        "perturbed": REF / "Mo_Zuo_JPCA2020_perturbed_2026.snapcoeff",
    }
    coeffs = Coefficients.from_snapcoeff(list(files.values()))
    theta = coeffs.theta
    T = [1500.0, 2500.0]
    est = CumulantEstimator(ds)
    runs = {m: est.predict(coeffs, T, convention="cell", method=m) for m in ("gamma", "reweight")}
    score = DDOSModel.fit(ds).estimator("fast").predict(coeffs, T, convention="cell")
    tilted = {}
    if args.tilt:
        from thermograd.ddos.sampling.tilt_campaign import load_tilted, run_tilt

        for i, lab in enumerate(files):
            out = work / f"tilt-{lab}-2500.h5"
            run_tilt(ds.provenance["source"], theta[i], 2500.0, out, executor="processes", workers=2,
                     progress=not args.json)  # fmt: skip
            r = CumulantEstimator(ds, tilted=load_tilted(out, ds)).predict(
                coeffs.select(i), [2500.0], convention="cell"
            )
            tilted[(lab, 2500.0)] = (r.F[0, 0], r.sigma[0, 0], r.flagged[0, 0])
    rows = []
    for i, lab in enumerate(files):
        for k, t in enumerate(T):
            x = ti[(lab, t)]
            row = {
                "model": lab,
                "T": t,
                "F_anh_ti": 1e3 * x["F_anh"],
                "F_anh_ti_error": 1e3 * x["F_anh_error"],
            }
            for m, r in runs.items():
                row[f"F_anh_{m}"] = 1e3 * (r.F[i, k] - x["E0"] - x["F_h_cell"])
                row[f"sigma_{m}"] = 1e3 * float(r.sigma[i, k])
                row[f"edge_{m}"] = bool(r.flagged[i, k])
            row["F_anh_score"] = 1e3 * (score.F[i, k] - x["E0"] - x["F_h_cell"])
            row["sigma_score"] = 1e3 * float(score.sigma[i, k])
            if (lab, t) in tilted:
                F, sig, edge = tilted[(lab, t)]
                row["F_anh_tilted"] = 1e3 * (F - x["E0"] - x["F_h_cell"])
                row["sigma_tilted"], row["edge_tilted"] = 1e3 * float(sig), bool(edge)
            rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(
        "F - E0 - F_h (meV/atom); D-DOS from the reference campaign only; "
        "'*' = alpha-integrand mass beyond the shell range > 0.01 meV"
    )
    print(
        f"{'model':<10} {'T/K':>6} {'TI':>14} {'gamma':>14} {'reweight':>14} {'score(ref-like)':>16} "
        f"{'tilted':>14}"
    )
    for r in rows:

        def cell(m: str, r: dict = r) -> str:
            return f"{r[f'F_anh_{m}']:7.2f}±{r[f'sigma_{m}']:4.2f}{'*' if r.get(f'edge_{m}') else ' '}"

        print(
            f"{r['model']:<10} {r['T']:6.0f} {r['F_anh_ti']:8.2f}±{r['F_anh_ti_error']:4.2f} "
            f"{cell('gamma'):>14} {cell('reweight'):>14} {cell('score'):>16} "
            f"{cell('tilted') if 'F_anh_tilted' in r else '':>14}"
        )


if __name__ == "__main__":
    main()
