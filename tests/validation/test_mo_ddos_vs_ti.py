"""D-DOS against thermodynamic integration on BCC Mo (SNAP Mo_Zuo_JPCA2020, 128 atoms, same cell).

The TI numbers (harmonic → model λ-TI, ~0.1–0.3 meV/atom statistical error) were computed once by
tests/references/make_mo_bcc_ti.py and are read from tests/references/mo_bcc_ti.json. This test runs the
D-DOS campaign of tests/references/mo_bcc_campaign.yaml (~1 min on 2 cores) and predicts both models (the
reference θ and a 5 % perturbed θ) from the reference campaign only; then it samples tilted shells toward the
reference θ at 2500 K (``thermograd tilt``, ~6 min on 2 cores) and checks the high-temperature route.

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


FILES = {
    "reference": ("lammps", "Mo_Zuo_JPCA2020.snapcoeff"),
    "perturbed": ("tests", "Mo_Zuo_JPCA2020_perturbed_2026.snapcoeff"),
}


def _coeffs():
    from thermograd.engines.potentials import find_potential_file
    from thermograd.io.snap import read_snapcoeff

    return {
        k: read_snapcoeff(find_potential_file(name) if where == "lammps" else REF / name)
        for k, (where, name) in FILES.items()
    }


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    from thermograd.config import load_yaml_model
    from thermograd.ddos.sampling.campaign import load_datasets, run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig

    work = tmp_path_factory.mktemp("mo")
    shutil.copy(REF / "mo_bcc_campaign.yaml", work / "run.yaml")
    config = load_yaml_model(CampaignConfig, work / "run.yaml")
    config.output = str(work / "campaign.h5")
    summary = run_campaign(config, executor="processes", workers=2, progress=False)
    return summary.path, load_datasets(summary.path)[0]


def _rows(res, coeffs, labels, temps):
    out = {}
    for i, label in enumerate(labels):
        for k, T in enumerate(temps):
            out[(label, T)] = {
                "F": float(res.F[i, k] + coeffs[label].constant()),
                "F_minus_E0": float(res.F_minus_E0[i, k]),
                "E0": float(res.E0[i] + coeffs[label].constant()),
                "sigma": float(res.sigma[i, k]),
                "out_of_range": bool(res.flagged[i, k]),
                "flag_reason": res.reason(i, k),
            }
    return out


@pytest.fixture(scope="module")
def predictions(campaign, ti_reference):
    from thermograd.ddos.estimators.cumulant import CumulantEstimator

    coeffs = _coeffs()
    thetas = np.stack([coeffs[k].theta() for k in FILES])
    res = CumulantEstimator(campaign[1]).predict(thetas, [1500.0, 2500.0], convention="cell")
    return _rows(res, coeffs, list(FILES), (1500.0, 2500.0))


@pytest.fixture(scope="module")
def tilted_prediction(campaign, ti_reference, tmp_path_factory):
    """Reference θ at 2500 K with the shells whose uniform ESS < 50 sampled again under a tilt ladder (16 chains
    per rung instead of the default 32, to keep this test near 6 min on 2 cores)."""
    from thermograd.ddos.estimators.cumulant import CumulantEstimator
    from thermograd.ddos.sampling.tilt_campaign import TiltPlan, load_tilted, run_tilt

    path, ds = campaign
    coeffs = _coeffs()
    theta = coeffs["reference"].theta()
    out = tmp_path_factory.mktemp("tilt") / "tilt.h5"
    run_tilt(
        path, theta, 2500.0, out, plan=TiltPlan(n_chains=16), executor="processes", workers=2, progress=False
    )
    tilted = load_tilted(out, ds)
    res = CumulantEstimator(ds, tilted=tilted).predict(theta, [2500.0], convention="cell")
    return _rows(res, coeffs, ["reference"], (2500.0,))[("reference", 2500.0)], sorted(tilted)


def _compare(pred, ti):
    """(ΔF_anh, combined σ, ΔF total) in eV/atom, both sides in the 'cell' convention."""
    F_anh_ddos = pred["F"] - ti["E0"] - ti["F_h_cell"]
    sigma = float(np.hypot(pred["sigma"], ti["F_anh_error"]))
    return F_anh_ddos - ti["F_anh"], sigma, pred["F"] - ti["F_cell"]


@pytest.mark.parametrize("model", ["reference", "perturbed"])
def test_ddos_matches_ti_at_half_melting(predictions, ti_reference, model) -> None:
    """1500 K ≈ 0.5 T_m: |ΔF| ≤ 1 meV/atom and within 3 combined σ, unflagged."""
    pred, ti = predictions[(model, 1500.0)], ti_reference[(model, 1500.0)]
    assert not pred["out_of_range"], pred["flag_reason"]
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
def test_uniform_route_does_not_claim_one_mev_at_high_temperature(predictions, model) -> None:
    """2500 K ≈ 0.85 T_m from uniform shell samples only: |ΔF| ≤ 1 meV held for one machine's draw (0.31,
    0.87 meV) and not for another's (1.88, 1.70 meV), because the route's own σ there is 2.6–3.7 meV/atom.
    The 1 meV/atom criterion near melting is the tilted route's (next test). What the uniform route must
    guarantee is an honest error bar: agreement within 3σ (test above) with a σ that does not claim the
    precision the route lacks, and a flag: the uniform samples of the shell carrying F keep an effective sample
    size of 0.3–0.8 % of their number there (below the estimator's 2 % threshold) and no tilt covers it."""
    pred = predictions[(model, 2500.0)]
    assert pred["sigma"] > 1e-3
    assert pred["out_of_range"] and "effective sample size collapsed" in pred["flag_reason"]


def test_tilted_shells_match_ti_near_melting(tilted_prediction, ti_reference) -> None:
    """2500 K ≈ 0.85 T_m with tilted shells: within 3 combined σ (σ = chain bootstrap ⊕ TI error) and within
    0.5 meV/atom, where the reference method is 6 meV/atom off and plain reweighting 1.5 meV/atom."""
    pred, shells = tilted_prediction
    # the shells whose uniform-sample ESS collapses at 2500 K: a contiguous block up to the hottest shell (which
    # block depends on the draw: shells 6-15 and 7-15 for two draws)
    assert shells and shells == list(range(shells[0], 16))
    ti = ti_reference[("reference", 2500.0)]
    d_anh, sigma, _ = _compare(pred, ti)
    assert not pred["out_of_range"]
    assert pred["sigma"] < 0.5e-3  # the tilt makes the estimate precise, not only unbiased
    assert abs(d_anh) <= 3 * sigma
    assert abs(d_anh) <= 0.5e-3
