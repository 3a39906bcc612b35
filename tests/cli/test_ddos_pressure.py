"""``thermograd transition --pressure`` and ``predict --pressure``: T_c, G, V*, B and α at a pressure from
campaigns sampled at several strains.

An engine-free toy campaign (pair-descriptor model, fcc and bcc "Cu", five strains each, one fixed reference
θ under which the fcc minimum lies at strain 0 and the bcc one near +0.01) is the input. The checks are
plumbing and refusals, exact at any sample count: the command's ΔG equals the library's
G_bcc − G_fcc over the same estimators (no tolerance beyond round-off), the volumes fitted are the campaign's,
a multi-strain phase is refused at fixed volume unless one strain is named, a pressure whose volumes lie
outside the sampled strains is flagged, and a tilt file is held to the strain it was sampled on. The EOS fit
itself is tested against an analytic F(V, T) in ``tests/thermo/test_eos.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from thermograd.cli import main

STRAINS = [-0.03, -0.015, 0.0, 0.015, 0.03]


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    from ase.build import bulk

    from thermograd.ddos.sampling.campaign import run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig
    from thermograd.io.snap import SnapCoefficients, write_snapcoeff
    from thermograd.testing.toy import ToyDescriptorSpec, ToyReferenceBuilder

    folder = tmp_path_factory.mktemp("eos")
    theta = ToyDescriptorSpec.of(rc=3.2, n_features=3).toy(bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2))
    theta = theta.default_theta()
    config = CampaignConfig.model_validate(
        {
            "seed": 5,
            "output": str(folder / "camp.h5"),
            "strains": STRAINS,
            "potential": {"snap": "Mo_Zuo_JPCA2020"},  # unused by the toy builder
            "phases": [
                {"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}},
                {"name": "bcc", "structure": {"builder": "bcc", "element": "Cu", "a": 2.78, "size": 2}},
            ],
            "shells": [300.0, 900.0, 1500.0],
            "samples_per_shell": 30,
            "chunk_size": 30,
        }
    )
    builder = ToyReferenceBuilder(config, theta=theta)
    run_campaign(config, "toy eos\n", executor="serial", progress=False, builder=builder)
    coeffs = SnapCoefficients(
        elements=["Cu"], radius={"Cu": 0.5}, weight={"Cu": 1.0}, coeffs={"Cu": np.concatenate([[0.0], theta])}
    )
    write_snapcoeff(folder / "toy.snapcoeff", coeffs)
    return folder / "camp.h5", folder / "toy.snapcoeff"


def _run(capsys, argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_delta_G_is_the_library_value_over_all_strains(campaign, capsys):
    from thermograd.ddos.estimators.from_file import open_volume_estimators
    from thermograd.free_energy import Coefficients
    from thermograd.thermo.eos import gibbs_free_energy

    camp, snap = campaign
    argv = ["transition", camp, camp, "--phases", "fcc", "bcc", "--theta", snap, "--T", "300:1500:5"]
    rc, out, err = _run(capsys, [*argv, "--pressure", "0", "--json", "--allow-extrapolation"])
    assert rc == 0, err
    res = json.loads(out)
    assert res["P_GPa"] == 0.0 and "G_b - G_a" in res["convention"]
    fcc = open_volume_estimators(camp, phase="fcc")
    bcc = open_volume_estimators(camp, phase="bcc")
    assert [e.volume_per_atom for e in fcc] == sorted(e.volume_per_atom for e in fcc) and len(fcc) == 5
    theta = Coefficients.from_snapcoeff(snap, 3)
    T = np.linspace(300, 1500, 5)
    ga = gibbs_free_energy(fcc, None, theta, T, 0.0)
    gb = gibbs_free_energy(bcc, None, theta, T, 0.0)
    expected = gb.G[0] - ga.G[0]
    got = np.array([np.nan if x is None else x for x in res["dF"]])
    assert np.allclose(got, expected, rtol=0, atol=1e-12, equal_nan=True)
    # the fcc minimum of this θ is at strain 0 (a = 3.6 Å, 11.664 Å³/atom): V* is inside the sampled range
    assert fcc[0].volume_per_atom < ga.V[0, 0] < fcc[-1].volume_per_atom
    # the table: a ΔG header naming the pressure and the fit, one row per T with the routes of both phases
    rc, out, _ = _run(capsys, [*argv, "--pressure", "0", "--allow-extrapolation"])
    lines = out.splitlines()
    assert rc == 0 and lines[0].startswith("# ΔG = G[bcc] − G[fcc] (meV/atom) at P = 0 GPa")
    assert "birch3" in lines[0] and "5 and 5 strains" in lines[0] and "dG/meV" in lines[1]
    assert len([ln for ln in lines if ln.startswith("  ")]) == 5


def test_multi_strain_phase_needs_a_strain_at_fixed_volume(campaign, capsys):
    camp, snap = campaign
    rc, _, err = _run(capsys, ["transition", camp, camp, "--phases", "fcc", "bcc", "--theta", snap])
    assert rc == 2 and err.count("\n") == 1
    assert "sampled at 5 strains" in err and "fcc@0" in err and "--pressure" in err
    # one strain named: the fixed-volume route runs on that cell
    argv = ["transition", camp, camp, "--phases", "fcc@0", "bcc@-0.03", "--theta", snap, "--T", "300:1500:3"]
    rc, out, err = _run(capsys, [*argv, "--json", "--allow-extrapolation"])
    assert rc == 0, err
    assert json.loads(out)["phases"] == ["fcc", "bcc"]


def test_pressure_beyond_the_sampled_volumes_is_flagged(campaign, capsys):
    """50 GPa compresses the toy crystals far below the smallest sampled volume: every ΔG is flagged with the
    reason, none is an unflagged extrapolation."""
    camp, snap = campaign
    argv = ["transition", camp, camp, "--phases", "fcc", "bcc", "--theta", snap, "--T", "300:900:3"]
    rc, out, err = _run(capsys, [*argv, "--pressure", "50", "--json", "--allow-extrapolation"])
    assert rc == 0, err
    res = json.loads(out)
    assert all(res["flagged"]) and all("outside the sampled volumes" in r for r in res["flag_reason"])


def test_a_model_file_or_a_strain_label_is_refused_at_a_pressure(campaign, tmp_path, capsys):
    camp, snap = campaign
    argv = ["transition", camp, camp, "--theta", snap, "--pressure", "0"]
    rc, _, err = _run(capsys, [*argv, "--phases", "fcc@0", "bcc"])
    assert rc == 2 and "every strain of a phase is used" in err and err.count("\n") == 1
    rc, _, err = _run(capsys, [*argv, "--phases", "fcc", "hcp"])
    assert rc == 2 and "choose a phase" in err and err.count("\n") == 1


def test_a_tilt_file_serves_only_its_own_strain(campaign, tmp_path, capsys):
    """A tilt sampled on fcc strain index 3 attaches to that strain at a pressure, is refused for another strain
    (before this check, any strain of the phase took it silently), and a named strain that is not its own is a
    one-line error."""
    from thermograd.ddos.estimators.from_file import _strain_index, open_volume_estimators
    from thermograd.ddos.sampling.campaign import load_datasets
    from thermograd.ddos.sampling.tilt_campaign import TiltPlan, load_tilted, run_tilt
    from thermograd.errors import StoreError
    from thermograd.free_energy import Coefficients

    camp, snap = campaign
    theta = Coefficients.from_snapcoeff(snap, 3).theta[0]
    plan = TiltPlan(lambdas=(0.5, 1.0), n_chains=4, n_steps=6, n_burn=2, thin=2, seed=3)
    tilt = tmp_path / "tilt.h5"
    run_tilt(camp, theta, 1200.0, tilt, phase="fcc", strain_index=3, shells=[2], plan=plan, progress=False)
    fcc = [d for d in load_datasets(camp) if d.name == "fcc"]
    assert [_strain_index(d) for d in fcc] == [0, 1, 2, 3, 4]
    assert sorted(load_tilted(tilt, fcc[3])) == [2]
    with pytest.raises(StoreError, match="strain_03, not on strain_00"):
        load_tilted(tilt, fcc[0])
    ests = open_volume_estimators(camp, phase="fcc", tilted=[tilt])
    by_volume = {round(e.volume_per_atom, 9): e for e in ests}
    assert sorted(by_volume[round(fcc[3].volume_per_atom, 9)].tilted) == [2]
    assert all(not e.tilted for v, e in by_volume.items() if v != round(fcc[3].volume_per_atom, 9))
    rc, _, err = _run(
        capsys, ["transition", camp, camp, "--phases", "fcc@0", "bcc@0", "--theta", snap, "--tilted-a", tilt]
    )
    assert rc == 2 and "strain index 3" in err and err.count("\n") == 1


def test_predict_at_a_pressure_is_the_library_value(campaign, capsys):
    """G, V*, B, α at P from ``predict --pressure`` equal :func:`gibbs_free_energy` over the same estimators;
    V* lies inside the sampled volumes at P = 0 and shrinks under 1 GPa (B > 0)."""
    from thermograd.ddos.estimators.from_file import open_volume_estimators
    from thermograd.free_energy import Coefficients
    from thermograd.thermo.eos import gibbs_free_energy

    camp, snap = campaign
    argv = ["predict", camp, "--phase", "fcc", "--theta", snap, "--T", "300:900:3", "--allow-extrapolation"]
    rows = {}
    for P in (0.0, 1.0):
        rc, out, err = _run(capsys, [*argv, "--pressure", P, "--json"])
        assert rc == 0, err
        rows[P] = json.loads(out)["results"][0]
    ests = open_volume_estimators(camp, phase="fcc")
    ref = gibbs_free_energy(ests, None, Coefficients.from_snapcoeff(snap, 3), [300.0, 600.0, 900.0], 1.0)
    assert np.allclose(rows[1.0]["G"], ref.G[0], rtol=0, atol=1e-12)
    assert np.allclose(rows[1.0]["V"], ref.V[0], rtol=0, atol=1e-12)
    assert all(ests[0].volume_per_atom < v < ests[-1].volume_per_atom for v in rows[0.0]["V"])
    assert all(v1 < v0 for v0, v1 in zip(rows[0.0]["V"], rows[1.0]["V"])) and min(rows[0.0]["B_GPa"]) > 0
    rc, out, _ = _run(capsys, [*argv, "--pressure", "0"])
    lines = out.splitlines()
    assert rc == 0 and lines[0].startswith("# fcc at P = 0 GPa: G = F̂(V*) + PV*, birch3 F(V) over 5 volumes")
    assert "B/GPa" in lines[1] and len(lines) == 5


def test_predict_refusals_on_a_multi_strain_campaign(campaign, tmp_path, capsys):
    camp, snap = campaign
    base = ["predict", camp, "--theta", snap, "--T", "300", "--allow-extrapolation"]
    rc, _, err = _run(capsys, [*base, "--phase", "fcc"])
    assert rc == 2 and "sampled at 5 strains" in err and err.count("\n") == 1
    rc, out, err = _run(capsys, [*base, "--phase", "fcc@0.015", "--json"])
    assert rc == 0, err
    assert json.loads(out)["phase"] == "fcc"
    rc, _, err = _run(capsys, [*base, "--phase", "fcc", "--pressure", "0", "--plot", tmp_path / "g.png"])
    assert rc == 2 and "--plot" in err and not (tmp_path / "g.png").exists()
    rc, _, err = _run(capsys, [*base, "--phase", "fcc", "--pressure", "0", "--fit", "birch4"])
    assert rc == 0, err  # 5 strains hold the fourth-order fit
