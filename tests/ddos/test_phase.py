"""The front door (:class:`thermograd.ddos.Phase`) and the one estimator protocol, on an engine-free campaign.

Two FCC cells of the toy pair potential (a = 3.60 Å, its minimum, and a = 3.63 Å, stretched) play phases A and
B; one θ (the toy's default for a = 3.60 Å) is the reference of both campaigns. With the campaign route's exact
reweighting shell term ΔF(T) = F_B − F_A crosses zero near 470 K (the stretched cell is softer).
Checked: every route returns the same result type with its convention, flags and route; ``thermograd
transition``, ``tune`` and ``predict`` on the campaign file give exactly the facade's numbers (same estimator,
same inputs: equality to round-off); the conventions differ by F_h only; a diverging estimate is flagged;
options that do not apply to a file are refused, never ignored.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from thermograd.cli import main
from thermograd.ddos import Coefficients, FreeEnergyEstimator, FreeEnergyResult, Phase
from thermograd.io.snap import SnapCoefficients, write_snapcoeff

T_GRID = np.linspace(300.0, 900.0, 13)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    from thermograd.ddos.sampling.campaign import run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig
    from thermograd.testing.toy import ToyReferenceBuilder

    path = tmp_path_factory.mktemp("phase") / "two.h5"
    config = CampaignConfig.model_validate(
        {
            "seed": 5,
            "output": str(path),
            "strains": [0.0],
            "potential": {"snap": "Mo_Zuo_JPCA2020"},
            "phases": [
                {"name": "a", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}},
                {"name": "b", "structure": {"builder": "fcc", "element": "Cu", "a": 3.63, "size": 2}},
            ],
            "shells": {"start": 50.0, "stop": 2000.0, "num": 12},
            "samples_per_shell": 64,
            "chunk_size": 32,
        }
    )
    builder = ToyReferenceBuilder(config, theta=_toy_theta())
    run_campaign(config, "toy\n", executor="serial", progress=False, builder=builder)
    return path


def _toy_theta():
    from ase.build import bulk

    from thermograd.testing.toy import PairDescriptorToy

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    return PairDescriptorToy(atoms.positions, atoms.cell[:], rc=3.2, n_features=3).default_theta()


@pytest.fixture(scope="module")
def crossing_theta(campaign):
    """The campaigns' reference θ as a .snapcoeff file (β_0 = −0.25 eV)."""
    path = campaign.parent / "cross.snapcoeff"
    write_snapcoeff(
        path, SnapCoefficients(["Cu"], {"Cu": 0.5}, {"Cu": 1.0}, {"Cu": np.r_[-0.25, _toy_theta()]})
    )
    return path


def test_every_route_speaks_the_protocol(campaign):
    from thermograd.ddos import ReweightingEstimator

    a = Phase.open(campaign, phase="a")
    c = Coefficients.of(np.ones(3) * 0.1, beta0=-0.25, labels=["x"])
    for est in (a.estimator("accurate"), a.estimator("score"), ReweightingEstimator(a.dataset)):
        assert isinstance(est, FreeEnergyEstimator)
        ddos = est.predict(c, [600.0, 800.0], convention="ddos")
        cell = est.predict(c, [600.0, 800.0], convention="cell")
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
    res = a.transition(b, coeffs, T_GRID, convention="cell", method="reweight")
    assert np.isfinite(res.Tc) and 350.0 < res.Tc < 600.0 and not res.flagged.any()
    argv = ["transition", str(campaign), str(campaign), "--phases", "a", "b", "--theta", str(crossing_theta)]
    argv += ["--T", "300:900:13", "--convention", "cell", "--method", "reweight", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["Tc"] == pytest.approx(res.Tc, rel=1e-9) and out["Tc_error"] == pytest.approx(
        res.Tc_error, rel=1e-6
    )
    np.testing.assert_allclose(out["dF"], res.dF, rtol=0, atol=1e-12)
    assert out["route"]["a"][0].startswith("cumulant") and "'cell'" in out["convention"]


def test_cli_predict_names_route_convention_and_beta0(campaign, crossing_theta, capsys):
    argv = ["predict", str(campaign), "--phase", "b", "--theta", str(crossing_theta), "--T", "600,1100"]
    argv += ["--method", "reweight"]
    assert main([*argv, "--json", "--convention", "cell"]) == 2  # flagged values are an error by default
    assert "results are flagged (α-integrand mass beyond the sampled shells" in capsys.readouterr().err
    assert main([*argv, "--json", "--convention", "cell", "--allow-extrapolation"]) == 0
    out = json.loads(capsys.readouterr().out)
    row = out["results"][0]
    assert out["convention"] == "cell" and row["beta0"] == -0.25
    assert row["route"] == ["cumulant (reweighting, exact α integral)"] * 2
    assert (
        row["flagged"] == [False, True]
        and row["flag_reason"][0] == ""
        and "α-integrand mass" in row["flag_reason"][1]
    )
    b = Phase.open(campaign, phase="b")
    c = Coefficients.from_snapcoeff(crossing_theta)
    ref = b.free_energy(c, [600.0, 1100.0], convention="cell", method="reweight")
    np.testing.assert_allclose(row["F"], ref.F[0], rtol=0, atol=1e-12)
    assert ref.flagged.tolist() == [[False, True]]


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


def test_cli_tune_on_the_campaign_equals_the_facade(campaign, crossing_theta, tmp_path, capsys):
    """Inverse design on the accurate route: the CLI writes the facade's θ and reaches its T_c."""
    a, b = Phase.open(campaign, phase="a"), Phase.open(campaign, phase="b")
    start = Coefficients.from_snapcoeff(crossing_theta, a.n_features)
    res = a.tune(b, start, 520.0, T_grid=T_GRID, method="reweight")
    assert res.converged and abs(res.Tc - 520.0) <= 1.0 and abs(res.dE0_change) < 1e-12
    out = tmp_path / "tuned.snapcoeff"
    argv = ["tune", str(campaign), str(campaign), "--phases", "a", "b", "--theta", str(crossing_theta)]
    argv += ["--method", "reweight", "--target-Tc", "520", "--T", "300:900:13", "-o", str(out), "--json"]
    assert main(argv) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["Tc"] == pytest.approx(res.Tc, rel=1e-9) and cli["converged"]
    tuned = Coefficients.from_snapcoeff(out)
    np.testing.assert_allclose(tuned.theta[0], res.theta, rtol=1e-12, atol=1e-15)
    assert tuned.beta0[0] == -0.25  # the constant and element block of the input file are kept


def test_a_diverging_estimate_is_flagged_not_returned_as_a_number(campaign):
    """The Gamma closure of the toy diverges on the stretched cell (heavy low-energy tail): the value is
    non-finite and must carry a flag with its reason, on every interface; reweighting stays finite."""
    from thermograd.free_energy import NON_FINITE

    b = Phase.open(campaign, phase="b")
    r = b.free_energy(_toy_theta(), [600.0])
    assert not np.isfinite(r.F[0, 0]) and r.flagged[0, 0] and r.reason(0, 0) == NON_FINITE
    rw = b.free_energy(_toy_theta(), [600.0], method="reweight")
    assert np.isfinite(rw.F[0, 0]) and not rw.flagged[0, 0]
