"""Tilted-shell runs on a campaign (engine-free toy): storage, resume, refusal of mismatched files, the CLI, and
their use by the high-temperature estimator."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from thermograd.cli import main
from thermograd.ddos.estimators.cumulant import CumulantEstimator
from thermograd.ddos.sampling.campaign import load_datasets, run_campaign
from thermograd.ddos.sampling.campaign_config import CampaignConfig
from thermograd.ddos.sampling.tilt_campaign import TiltPlan, load_tilted, run_tilt, shell_ess
from thermograd.errors import InputError, StoreError
from thermograd.io.snap import SnapCoefficients, write_snapcoeff
from thermograd.testing.toy import ToyReferenceBuilder

PLAN = TiltPlan(lambdas=(0.5, 1.0), n_chains=6, n_steps=8, n_burn=4, thin=2, seed=3)
T_TILT = 1200.0


@pytest.fixture(scope="module")
def toy_campaign(tmp_path_factory):
    path = tmp_path_factory.mktemp("tilt") / "toy.h5"
    config = CampaignConfig.model_validate(
        {
            "output": str(path),
            "seed": 5,
            "phases": [
                {"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}
            ],
            "strains": [0.0],
            "potential": {"snap": "Mo_Zuo_JPCA2020"},  # unused by the toy builder
            "shells": [300.0, 900.0, 1500.0],
            "samples_per_shell": 40,
            "chunk_size": 20,
        }
    )
    builder = ToyReferenceBuilder(config)
    run_campaign(config, "toy\n", progress=False, builder=builder)
    ds = load_datasets(path)[0]
    atoms = builder._atoms(config.phases[0].structure, 0.0)
    theta = builder.descriptor_spec.toy(atoms).default_theta()
    return path, ds, theta


def test_run_load_and_resume(toy_campaign, tmp_path: Path):
    path, ds, theta = toy_campaign
    out = tmp_path / "tilt.h5"
    res = run_tilt(path, theta, T_TILT, out, shells=[1, 2], plan=PLAN, progress=False)
    assert res["shells"] == [1, 2] and res["skipped"] == []
    tilted = load_tilted(out, ds)
    assert sorted(tilted) == [1, 2]
    for i, ts in tilted.items():
        assert ts.lambdas.tolist() == [0.0, 0.5, 1.0]
        np.testing.assert_array_equal(ts.descriptors[0], ds.shells[i].raw)  # the uniform rung
        assert [d.shape[0] for d in ts.descriptors[1:]] == [6 * 4, 6 * 4]  # chains × steps / thin
    before = {i: [d.copy() for d in ts.descriptors] for i, ts in tilted.items()}
    again = run_tilt(path, theta, T_TILT, out, shells=[1, 2], plan=PLAN, progress=False)
    assert again["skipped"] == [1, 2]
    for i, ts in load_tilted(out, ds).items():
        for a, b in zip(ts.descriptors, before[i]):
            np.testing.assert_array_equal(a, b)
    # a file of another temperature or ladder is refused and left as it was
    stamp = out.stat().st_mtime_ns
    with pytest.raises(StoreError, match="another campaign"):
        run_tilt(path, theta, 2 * T_TILT, out, shells=[1], plan=PLAN, progress=False)
    with pytest.raises(StoreError, match="another campaign"):
        run_tilt(path, theta, T_TILT, out, shells=[1], plan=TiltPlan(lambdas=(1.0,)), progress=False)
    assert out.stat().st_mtime_ns == stamp
    # the estimator uses MBAR on the tilted shells; the result is finite and its bootstrap covers chains
    est = CumulantEstimator(ds, tilted=tilted)
    r = est.predict(theta, [T_TILT], n_boot=8)
    plain = CumulantEstimator(ds).predict(theta, [T_TILT], n_boot=8)
    assert np.isfinite(r.F).all() and np.isfinite(r.sigma).all()
    assert abs(r.F_anh[0, 0] - plain.F_anh[0, 0]) < 0.05  # same physics, different shell estimator


def test_interrupted_shell_is_redone(toy_campaign, tmp_path: Path):
    path, ds, theta = toy_campaign
    out = tmp_path / "tilt.h5"
    run_tilt(path, theta, T_TILT, out, shells=[2], plan=PLAN, progress=False)
    with h5py.File(out, "r+") as f:  # simulate a write cut short: the group exists, "complete" is not set
        f["shells/002"].attrs["complete"] = False
    assert load_tilted(out, ds) == {}
    res = run_tilt(path, theta, T_TILT, out, shells=[2], plan=PLAN, progress=False)
    assert res["skipped"] == [] and sorted(load_tilted(out, ds)) == [2]


def test_bad_input(toy_campaign, tmp_path: Path):
    path, _, theta = toy_campaign
    with pytest.raises(InputError, match="components"):
        run_tilt(path, theta[:-1], T_TILT, tmp_path / "a.h5", plan=PLAN, progress=False)
    with pytest.raises(InputError, match="> 0 K"):
        run_tilt(path, theta, 0.0, tmp_path / "a.h5", plan=PLAN, progress=False)
    with pytest.raises(InputError, match="ladder"):
        run_tilt(path, theta, T_TILT, tmp_path / "a.h5", plan=TiltPlan(lambdas=(0.5, 1.5)), progress=False)
    with pytest.raises(InputError, match="shell indices"):
        run_tilt(path, theta, T_TILT, tmp_path / "a.h5", shells=[7], plan=PLAN, progress=False)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(StoreError, match="not a thermograd tilt file"):
        run_tilt(path, theta, T_TILT, foreign, shells=[1], plan=PLAN, progress=False)
    assert not (tmp_path / "a.h5").exists()


def test_campaign_without_raw_samples_is_refused(tmp_path: Path):
    path = tmp_path / "noraw.h5"
    config = CampaignConfig.model_validate(
        {
            "output": str(path),
            "seed": 5,
            "phases": [
                {"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}
            ],
            "strains": [0.0],
            "potential": {"snap": "Mo_Zuo_JPCA2020"},
            "shells": [300.0, 900.0],
            "samples_per_shell": 10,
            "keep_raw": False,
        }
    )
    builder = ToyReferenceBuilder(config)
    run_campaign(config, "toy\n", progress=False, builder=builder)
    theta = builder.descriptor_spec.toy(builder._atoms(config.phases[0].structure, 0.0)).default_theta()
    with pytest.raises(InputError, match="raw samples"):
        run_tilt(path, theta, T_TILT, tmp_path / "t.h5", plan=PLAN, progress=False)
    assert not (tmp_path / "t.h5").exists()


def test_auto_shells_and_cli(toy_campaign, tmp_path: Path, capsys):
    path, ds, theta = toy_campaign
    ess = shell_ess(ds, theta, T_TILT)
    assert ess.shape == (3,) and np.all((ess >= 1) & (ess <= 40 + 1e-9))
    coeff = tmp_path / "toy.snapcoeff"
    write_snapcoeff(coeff, SnapCoefficients(["Cu"], {"Cu": 0.5}, {"Cu": 1.0}, {"Cu": np.r_[0.0, theta]}))
    out = tmp_path / "cli.h5"
    # an ESS threshold above the sample count selects every shell
    argv = ["tilt", str(path), "--theta", str(coeff), "--T", str(T_TILT), "-o", str(out), "--ess-min", "41"]
    argv += ["--lambdas", "0.5,1", "--chains", "4", "--steps", "4", "--burn", "2", "--thin", "2"]
    assert main([*argv, "--executor", "serial", "--no-progress"]) == 0
    assert "tilted shells [0, 1, 2]" in capsys.readouterr().out
    assert sorted(load_tilted(out, ds)) == [0, 1, 2]
    # the high-temperature route of `thermograd predict` on the campaign, with the tilted shells
    # the tiny toy campaign flags these temperatures (its shells stop short): accepted explicitly
    argv = ["predict", str(path), "--theta", str(coeff), "--T", "900,1200", "--tilted", str(out), "--json"]
    assert main([*argv, "--allow-extrapolation"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["routes"] == [
        "cumulant (Gamma closure, exact α integral)",
        "tilted shells (MBAR, exact α integral)",
    ]
    assert "MBAR over tilted rungs on shells [0, 1, 2]" in res["reference"]
    direct = CumulantEstimator(ds, tilted=load_tilted(out, ds)).predict(
        theta, [900.0, 1200.0], convention="ddos"
    )
    np.testing.assert_allclose(res["results"][0]["F"], direct.F[0], rtol=0, atol=1e-12)  # β_0 = 0 here
