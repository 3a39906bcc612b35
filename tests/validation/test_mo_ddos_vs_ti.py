"""D-DOS against thermodynamic integration on BCC Mo (SNAP Mo_Zuo_JPCA2020, 128 atoms, same cell).

The TI numbers (harmonic → model λ-TI, ~0.1–0.3 meV/atom statistical error) were computed once by
tests/references/make_mo_bcc_ti.py and are read from tests/references/mo_bcc_ti.json. This test runs the
D-DOS campaign of tests/references/mo_bcc_campaign.yaml (~2 min on 2 cores) and predicts both models (the
reference θ and a 5 % perturbed θ) from the reference campaign only.

Compared quantity: the anharmonic free energy F − E_0 − F_h, with F_h the exact finite-cell harmonic free
energy of each model's own Hessian (convention-free), and the total F in the 'cell' convention.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

REF = Path(__file__).resolve().parents[1] / "references"
pytestmark = [pytest.mark.slow, pytest.mark.lammps]


@pytest.fixture(scope="module")
def ti_reference() -> dict:
    path = REF / "mo_bcc_ti.json"
    if not path.is_file():
        pytest.skip(f"{path} not computed yet (run tests/references/make_mo_bcc_ti.py)")
    data = json.loads(path.read_text())
    return {(r["theta"], float(r["T"])): r for r in data["results"]}


@pytest.fixture(scope="module")
def predictions(tmp_path_factory, ti_reference):
    from thermograd.config import load_yaml_model
    from thermograd.ddos.campaign import load_datasets, run_campaign
    from thermograd.ddos.campaign_config import CampaignConfig
    from thermograd.ddos.cumulant import CumulantEstimator
    from thermograd.engines.potentials import find_potential_file
    from thermograd.io.snap import read_snapcoeff

    work = tmp_path_factory.mktemp("mo")
    shutil.copy(REF / "mo_bcc_campaign.yaml", work / "run.yaml")
    config = load_yaml_model(CampaignConfig, work / "run.yaml")
    config.output = str(work / "campaign.h5")
    summary = run_campaign(config, executor="processes", workers=2, progress=False)
    est = CumulantEstimator(load_datasets(summary.path)[0])
    files = {
        "reference": find_potential_file("Mo_Zuo_JPCA2020.snapcoeff"),
        "perturbed": REF / "Mo_Zuo_JPCA2020_perturbed_2026.snapcoeff",
    }
    coeffs = {k: read_snapcoeff(v) for k, v in files.items()}
    thetas = np.stack([coeffs[k].theta() for k in files])
    res = est.predict(thetas, [1500.0, 2500.0], convention="cell")
    out = {}
    for i, label in enumerate(files):
        for k, T in enumerate((1500.0, 2500.0)):
            out[(label, T)] = {
                "F": float(res.F[i, k] + coeffs[label].constant()),
                "F_minus_E0": float(res.F_minus_E0[i, k]),
                "E0": float(res.E0[i] + coeffs[label].constant()),
                "sigma": float(res.sigma[i, k]),
                "out_of_range": bool(res.out_of_range[i, k]),
            }
    return out


def _compare(pred, ti):
    """(ΔF_anh, combined σ, ΔF total) in eV/atom, both sides in the 'cell' convention."""
    F_anh_ddos = pred["F"] - ti["E0"] - ti["F_h_cell"]
    sigma = float(np.hypot(pred["sigma"], ti["F_anh_error"]))
    return F_anh_ddos - ti["F_anh"], sigma, pred["F"] - ti["F_cell"]


@pytest.mark.parametrize("model", ["reference", "perturbed"])
def test_ddos_matches_ti_at_half_melting(predictions, ti_reference, model) -> None:
    """1500 K ≈ 0.5 T_m: |ΔF| ≤ 1 meV/atom and within 3 combined σ."""
    pred, ti = predictions[(model, 1500.0)], ti_reference[(model, 1500.0)]
    assert pred["E0"] == pytest.approx(ti["E0"], abs=1e-6)  # same cell, same model
    d_anh, sigma, d_tot = _compare(pred, ti)
    assert abs(d_anh) <= 1e-3
    assert abs(d_anh) <= 3 * sigma
    assert abs(d_tot) <= 1e-3  # total F, 'cell' convention


@pytest.mark.parametrize("model", ["reference", "perturbed"])
def test_ddos_within_error_at_high_temperature(predictions, ti_reference, model) -> None:
    """2500 K ≈ 0.85 T_m: D-DOS agrees with TI within 3 combined σ (σ includes the estimator disagreement)."""
    pred, ti = predictions[(model, 2500.0)], ti_reference[(model, 2500.0)]
    d_anh, sigma, _ = _compare(pred, ti)
    assert abs(d_anh) <= 3 * sigma


@pytest.mark.parametrize("model", ["reference", "perturbed"])
def test_ddos_within_one_mev_at_high_temperature(predictions, ti_reference, model) -> None:
    """The issue's 1 meV/atom criterion at 0.85 T_m, met by the measured values of this seeded campaign
    (0.31 and 0.87 meV) although the estimator's own σ there is 2.6–3.7 meV: a regression check of the
    measurement, not a guarantee for other campaigns."""
    pred, ti = predictions[(model, 2500.0)], ti_reference[(model, 2500.0)]
    d_anh, _, _ = _compare(pred, ti)
    assert abs(d_anh) <= 1e-3
