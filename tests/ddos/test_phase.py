"""The front door (:class:`thermograd.ddos.Phase`) and the one estimator protocol, on an engine-free campaign.

Two FCC cells of the toy pair potential (a = 3.6 and 3.7 Å) play phases A and B. Checked: every route returns
the same result type with its convention, flags and route; ``thermograd transition``/``predict`` on the
campaign file give exactly the facade's numbers (same estimator, same inputs: equality to round-off); the
conventions differ by F_h only; options that do not apply to a file are refused, never ignored.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from thermograd.cli import main
from thermograd.ddos import Coefficients, FreeEnergyEstimator, FreeEnergyResult, Phase
from thermograd.io.snap import SnapCoefficients, write_snapcoeff

T_GRID = np.linspace(600.0, 1400.0, 9)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    from thermograd.ddos.sampling.campaign import run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig
    from thermograd.testing.toy import ToyReferenceBuilder

    path = tmp_path_factory.mktemp("phase") / "two.h5"
    cell = {"builder": "fcc", "element": "Cu", "size": 2}
    config = CampaignConfig.model_validate(
        {
            "seed": 5,
            "output": str(path),
            "strains": [0.0],
            "potential": {"snap": "Mo_Zuo_JPCA2020"},
            "phases": [
                {"name": "a", "structure": {**cell, "a": 3.6}},
                {"name": "b", "structure": {**cell, "a": 3.7}},
            ],
            "shells": [200.0, 500.0, 800.0, 1100.0, 1400.0, 1700.0],
            "samples_per_shell": 64,
            "chunk_size": 32,
        }
    )
    run_campaign(config, "toy\n", executor="serial", progress=False, builder=ToyReferenceBuilder(config))
    return path


@pytest.fixture(scope="module")
def crossing_theta(campaign):
    """The toy's θ with ΔE_0 shifted so that ΔF(1000 K) ≈ 0 (a crossing inside the grid), as a file."""
    from ase.build import bulk

    from thermograd.testing.toy import PairDescriptorToy

    a, b = Phase.open(campaign, phase="a"), Phase.open(campaign, phase="b")
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    theta = PairDescriptorToy(atoms.positions, atoms.cell[:], rc=3.2, n_features=3).default_theta()
    dD0 = b.dataset.D_0 - a.dataset.D_0
    dF = b.free_energy(theta, [1000.0]).F[0, 0] - a.free_energy(theta, [1000.0]).F[0, 0]
    theta = theta - dF * dD0 / (dD0 @ dD0)
    path = campaign.parent / "cross.snapcoeff"
    write_snapcoeff(path, SnapCoefficients(["Cu"], {"Cu": 0.5}, {"Cu": 1.0}, {"Cu": np.r_[-0.25, theta]}))
    return path


def test_every_route_speaks_the_protocol(campaign):
    a = Phase.open(campaign, phase="a")
    c = Coefficients.of(np.ones(3) * 0.1, beta0=-0.25, labels=["x"])
    for route in ("accurate", "score"):
        est = a.estimator(route)
        assert isinstance(est, FreeEnergyEstimator)
        ddos = est.predict(c, [700.0, 900.0], convention="ddos")
        cell = est.predict(c, [700.0, 900.0], convention="cell")
        for r in (ddos, cell):
            assert isinstance(r, FreeEnergyResult) and r.phase == "a" and r.labels == ("x",)
            np.testing.assert_allclose(r.F, r.E0[:, None] + r.F_h + r.F_anh, rtol=0, atol=1e-12)
            np.testing.assert_allclose(r.E0, c.theta @ est.D_0 - 0.25, rtol=0, atol=1e-12)
            assert r.route(0, 0) and r.flag_reasons[0] == ""
        # conventions differ by F_h alone: (3/N) k_BT<ln βħω> per atom, nothing else
        np.testing.assert_allclose(ddos.F_anh, cell.F_anh, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ddos.F - cell.F, ddos.F_h - cell.F_h, rtol=0, atol=1e-12)
        assert np.all(np.abs(ddos.F_h - cell.F_h) > 1e-4)


def test_cli_transition_on_the_campaign_equals_the_facade(campaign, crossing_theta, capsys):
    a, b = Phase.open(campaign, phase="a"), Phase.open(campaign, phase="b")
    coeffs = Coefficients.from_snapcoeff(crossing_theta, a.n_features)
    res = a.transition(b, coeffs, T_GRID, convention="cell")
    assert np.isfinite(res.Tc) and 600.0 < res.Tc < 1400.0
    argv = ["transition", str(campaign), str(campaign), "--phases", "a", "b", "--theta", str(crossing_theta)]
    argv += ["--T", "600:1400:9", "--convention", "cell", "--json", "--allow-extrapolation"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["Tc"] == pytest.approx(res.Tc, rel=1e-9) and out["Tc_error"] == pytest.approx(
        res.Tc_error, rel=1e-6
    )
    np.testing.assert_allclose(out["dF"], res.dF, rtol=0, atol=1e-12)
    assert out["route"]["a"][0].startswith("cumulant") and "'cell'" in out["convention"]


def test_cli_predict_names_route_convention_and_beta0(campaign, crossing_theta, capsys):
    argv = ["predict", str(campaign), "--phase", "b", "--theta", str(crossing_theta), "--T", "800,1000"]
    assert main([*argv, "--json", "--convention", "cell"]) == 2  # flagged values are an error by default
    assert "results are flagged (α-integrand mass beyond the sampled shells" in capsys.readouterr().err
    assert main([*argv, "--json", "--convention", "cell", "--allow-extrapolation"]) == 0
    out = json.loads(capsys.readouterr().out)
    row = out["results"][0]
    assert out["convention"] == "cell" and row["beta0"] == -0.25
    assert row["route"] == ["cumulant (Gamma closure, exact α integral)"] * 2
    assert row["flagged"] == [True, True] and all("α-integrand mass" in r for r in row["flag_reason"])
    b = Phase.open(campaign, phase="b")
    ref = b.free_energy(Coefficients.from_snapcoeff(crossing_theta), [800.0, 1000.0], convention="cell")
    np.testing.assert_allclose(row["F"], ref.F[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--method", "fast"], "is a campaign file: its route takes --method gamma or reweight, not 'fast'"),
        (["--phase", "c"], "choose a phase with --phase (the campaign has a, b)"),
    ],
)
def test_campaign_options_that_do_not_apply_are_refused(campaign, crossing_theta, capsys, extra, message):
    argv = ["predict", str(campaign), "--theta", str(crossing_theta), "--T", "800", *extra]
    if "--phase" not in extra:
        argv += ["--phase", "a"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_model_file_refuses_tilts_and_campaign_methods(campaign, crossing_theta, tmp_path, capsys):
    model = tmp_path / "a-model.h5"
    fitted = Phase.open(campaign, phase="a").fit(save=model)
    reopened = Phase.open(model)  # a model file: the score route, same numbers as the fitted model
    assert reopened.estimator().route == "score model (fast)" and reopened.name == "a"
    c = Coefficients.from_snapcoeff(crossing_theta)
    np.testing.assert_allclose(
        reopened.free_energy(c, [900.0]).F, fitted.predict(c, [900.0]).F, rtol=0, atol=1e-12
    )
    base = ["predict", str(model), "--theta", str(crossing_theta), "--T", "800"]
    assert main([*base, "--tilted", str(campaign)]) == 2
    assert "is a model file; tilt files" in capsys.readouterr().err
    assert main([*base, "--method", "gamma"]) == 2
    assert "unknown method 'gamma' for a model file" in capsys.readouterr().err
    assert main([*base, "--phase", "b"]) == 2
    assert "is a model of phase 'a', not 'b'" in capsys.readouterr().err
