"""Malformed, partial or corrupt inputs to the D-DOS commands (issue 13): each gives ONE line naming the file
and what is wrong, exit code 2 (3 for an unconverged ``tune``), no traceback, and every file byte-identical
(sha256 before and after); no output is created. Extrapolation is an error unless ``--allow-extrapolation``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from thermograd.cli import main


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def refused(capsys, argv, fragment: str, folder: Path, code: int = 2) -> str:
    """Run ``argv``; assert exit ``code``, one error line containing ``fragment``, no traceback, no
    ``allow_pickle`` advice, and that no file under ``folder`` was created, removed or changed."""
    before = {p: sha(p) for p in folder.rglob("*") if p.is_file()}
    rc = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(f"thermograd {argv[0]}: error: ")]
    assert rc == code, (rc, err)
    assert len(errors) == 1 and (code == 3 or len(lines) == 1), err
    assert fragment in errors[0], errors[0]
    assert "Traceback" not in err and "allow_pickle" not in err
    after = {p: sha(p) for p in folder.rglob("*") if p.is_file()}
    assert after == before
    return errors[0]


@pytest.fixture(scope="module")
def fe(fe_shells, tmp_path_factory):
    """Fe BCC/FCC order-2 models and the reference θ, in a module folder."""
    out = tmp_path_factory.mktemp("fe")
    for phase in ("bcc", "fcc"):
        assert (
            main(["fit", str(fe_shells / f"{phase}.npz"), "-o", str(out / f"{phase}.h5"), "--order", "2"])
            == 0
        )
    shutil.copy(fe_shells / "X_Fe.snapcoeff", out / "X_Fe.snapcoeff")
    return out


@pytest.fixture(scope="module")
def toy_campaign(tmp_path_factory):
    """A complete engine-free campaign file (one phase, four shells, raw samples kept)."""
    from thermograd.ddos.sampling.campaign import run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig
    from thermograd.testing.toy import ToyReferenceBuilder

    path = tmp_path_factory.mktemp("toy") / "camp.h5"
    config = CampaignConfig.model_validate(
        {
            "seed": 3,
            "output": str(path),
            "strains": [0.0],
            "potential": {"snap": "Mo_Zuo_JPCA2020"},
            "phases": [
                {"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}
            ],
            "shells": [300.0, 900.0, 1500.0, 2100.0],
            "samples_per_shell": 40,
            "chunk_size": 20,
        }
    )
    run_campaign(config, "toy\n", executor="serial", progress=False, builder=ToyReferenceBuilder(config))
    return path


def _copy(src: Path, folder: Path, name: str | None = None) -> Path:
    dst = folder / (name or Path(src).name)
    shutil.copy(src, dst)
    return dst


# ---------------------------------------------------------------- shell data (.npz, pickles) to `fit`
def test_random_bytes_npz(tmp_path, capsys):
    bad = tmp_path / "random.npz"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    line = refused(capsys, ["fit", bad, "-o", tmp_path / "m.h5"], "not a .npz archive", tmp_path)
    assert str(bad) in line


def test_truncated_npz(fe_shells, tmp_path, capsys):
    data = (fe_shells / "bcc.npz").read_bytes()
    bad = tmp_path / "cut.npz"
    bad.write_bytes(data[: len(data) // 2])
    refused(capsys, ["fit", bad, "-o", tmp_path / "m.h5"], "damaged .npz archive", tmp_path)


def test_wrong_shape_npz(fe_shells, tmp_path, capsys):
    with np.load(fe_shells / "bcc.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["D_mean"] = arrays["D_mean"][:, :54]  # one descriptor component short
    bad = tmp_path / "shape.npz"
    np.savez(bad, **arrays)
    refused(
        capsys,
        ["fit", bad, "-o", tmp_path / "m.h5"],
        "D_mean of shell 0 has shape (54,), expected (55,)",
        tmp_path,
    )


def test_nan_in_npz(fe_shells, tmp_path, capsys):
    with np.load(fe_shells / "bcc.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["cov_counts"] = arrays["cov_counts"].astype(float)
    arrays["cov_counts"][4, 3, 10] = np.nan
    bad = tmp_path / "nan.npz"
    np.savez(bad, **arrays)
    refused(
        capsys, ["fit", bad, "-o", tmp_path / "m.h5"], "cov_counts of shell 4 holds 1 non-finite", tmp_path
    )


def test_object_array_npz_is_not_unpickled(tmp_path, capsys):
    bad = tmp_path / "objects.npz"
    np.savez(bad, IsoSurface=np.array([{"a": 1}], dtype=object))
    refused(capsys, ["fit", bad, "-o", tmp_path / "m.h5"], "holds Python objects", tmp_path)


def test_random_bytes_pickle(tmp_path, capsys):
    bad = tmp_path / "shells.pkl"
    bad.write_bytes(b"\x80\x04garbage" + bytes(range(256)))
    line = refused(
        capsys, ["fit", bad, "-o", tmp_path / "m.h5"], "not a readable DescriptorDOS pickle", tmp_path
    )
    assert line.split(": error: ")[1].startswith(str(bad))


# ---------------------------------------------------------------- .snapcoeff files
def test_binary_theta(fe, tmp_path, capsys):
    bad = tmp_path / "binary.snapcoeff"
    bad.write_bytes(bytes(range(256)) * 4)
    argv = ["predict", fe / "bcc.h5", "--theta", bad, "--T", "800"]
    line = refused(capsys, argv, "binary file", tmp_path)
    assert str(bad) in line
    refused(capsys, argv, "binary file", fe)  # the model folder is untouched too


def test_undecodable_theta(fe, tmp_path, capsys):
    bad = tmp_path / "latin1.snapcoeff"
    bad.write_bytes("# Fe é\n1 56\n".encode("latin-1"))
    refused(capsys, ["predict", fe / "bcc.h5", "--theta", bad, "--T", "800"], "undecodable byte", tmp_path)


def test_truncated_snapcoeff(fe, tmp_path, capsys):
    lines = (fe / "X_Fe.snapcoeff").read_text().splitlines()
    bad = tmp_path / "cut.snapcoeff"
    bad.write_text("\n".join(lines[:30]) + "\n")
    argv = ["predict", fe / "bcc.h5", "--theta", bad, "--T", "800"]
    line = refused(capsys, argv, "truncated .snapcoeff file", tmp_path)
    assert "list index" not in line and str(bad) in line


@pytest.mark.parametrize("command", ["predict", "transition", "tune"])
def test_extra_coefficient_line(fe, tmp_path, capsys, command):
    bad = tmp_path / "extra.snapcoeff"
    bad.write_text((fe / "X_Fe.snapcoeff").read_text().rstrip() + "\n0.125\n")  # header still says 56
    argv = {
        "predict": ["predict", fe / "bcc.h5", "--theta", bad, "--T", "800"],
        "transition": ["transition", fe / "bcc.h5", fe / "fcc.h5", "--theta", bad],
        "tune": [
            "tune",
            fe / "bcc.h5",
            fe / "fcc.h5",
            "--theta",
            bad,
            "--target-Tc",
            "1063",
            "-o",
            tmp_path / "t.snapcoeff",
        ],
    }[command]
    refused(capsys, argv, "1 data line(s) after the last", tmp_path)


@pytest.mark.parametrize(
    ("delta", "fragment"), [(1, "1 more than the model's 55"), (-1, "1 fewer than the model's 55")]
)
def test_coefficient_count_vs_descriptor_dimension(fe, tmp_path, capsys, delta, fragment):
    lines = (fe / "X_Fe.snapcoeff").read_text().splitlines()
    k = lines.index("1 56")
    body = lines[k + 2 :]
    body = [*body, "0.125"] if delta > 0 else body[:-1]
    bad = tmp_path / "count.snapcoeff"
    bad.write_text("\n".join([*lines[:k], f"1 {56 + delta}", lines[k + 1], *body]) + "\n")
    refused(capsys, ["predict", fe / "bcc.h5", "--theta", bad, "--T", "800"], fragment, tmp_path)


# ---------------------------------------------------------------- HDF5 campaign and model files
def test_damaged_hdf5_header(toy_campaign, tmp_path, capsys):
    bad = _copy(toy_campaign, tmp_path, "damaged.h5")
    data = bytearray(bad.read_bytes())
    data[8:200] = bytes(192)  # signature kept, superblock zeroed
    bad.write_bytes(bytes(data))
    line = refused(capsys, ["fit", bad, "-o", tmp_path / "m.h5"], "damaged HDF5 file", tmp_path)
    assert "pickle" not in line


def test_hdf5_signature_damaged(toy_campaign, fe, tmp_path, capsys):
    bad = _copy(toy_campaign, tmp_path, "nosig.h5")
    data = bytearray(bad.read_bytes())
    data[:8] = b"XXXXXXXX"
    bad.write_bytes(bytes(data))
    line = refused(capsys, ["fit", bad, "-o", tmp_path / "m.h5"], "not an HDF5 file", tmp_path)
    assert "pickle" not in line
    refused(
        capsys,
        ["predict", bad, "--theta", fe / "X_Fe.snapcoeff", "--T", "800"],
        "not an HDF5 file",
        tmp_path,
    )


def test_partial_campaign_names_unfinished_shells(toy_campaign, tmp_path, capsys):
    part = _copy(toy_campaign, tmp_path, "partial.h5")
    with h5py.File(part, "r+") as f:
        del f["phases/fcc/strain_00/shells/002/sketch"]
        f["phases/fcc/strain_00/shells/003/sketch"].attrs["complete"] = False
    line = refused(
        capsys, ["fit", part, "-o", tmp_path / "m.h5"], "unfinished campaign: shell(s) 2,3 of fcc", tmp_path
    )
    assert "thermograd sample" in line


def test_campaign_without_references(toy_campaign, tmp_path, capsys):
    part = _copy(toy_campaign, tmp_path, "noref.h5")
    with h5py.File(part, "r+") as f:
        del f["phases/fcc"]
    refused(capsys, ["fit", part, "-o", tmp_path / "m.h5"], "reference fcc (not set up)", tmp_path)


@pytest.mark.parametrize(
    "dataset", ["phases/fcc/strain_00/shells/001/sketch/mean", "phases/fcc/strain_00/modes/kappa"]
)
def test_nan_in_campaign_is_named(toy_campaign, tmp_path, capsys, dataset):
    bad = _copy(toy_campaign, tmp_path, "nan.h5")
    with h5py.File(bad, "r+") as f:
        f[dataset][0] = np.nan
    line = refused(
        capsys, ["fit", bad, "-o", tmp_path / "m.h5"], f"dataset /{dataset} holds 1 non-finite", tmp_path
    )
    assert str(bad) in line


def test_inf_in_model_is_named(fe, tmp_path, capsys):
    bad = _copy(fe / "bcc.h5", tmp_path, "bad_model.h5")
    with h5py.File(bad, "r+") as f:
        f["components/coef"][3, 7, 1] = np.inf
    argv = ["predict", bad, "--theta", fe / "X_Fe.snapcoeff", "--T", "800"]
    refused(capsys, argv, "dataset /components/coef holds 1 non-finite", tmp_path)
    argv = ["transition", fe / "fcc.h5", bad, "--theta", fe / "X_Fe.snapcoeff"]
    refused(capsys, argv, "dataset /components/coef", tmp_path)


def test_phases_of_different_descriptors(toy_campaign, fe, tmp_path, capsys):
    """A campaign is a valid phase (accurate route), but not next to a model of another descriptor."""
    argv = ["transition", toy_campaign, fe / "fcc.h5", "--theta", fe / "X_Fe.snapcoeff"]
    refused(capsys, argv, "have different descriptor lengths (3 and 55)", toy_campaign.parent)


# ---------------------------------------------------------------- extrapolation
def test_predict_far_beyond_the_shells(fe, capsys):
    argv = ["predict", fe / "bcc.h5", "--theta", fe / "X_Fe.snapcoeff", "--T", "1e6"]
    line = refused(capsys, argv, "results are flagged (optimum α* on the edge of the sampled shells", fe)
    assert "--allow-extrapolation" in line and "100-2000 K" in line
    assert main([*map(str, argv), "--allow-extrapolation", "--json"]) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out)["results"][0]
    assert res["flagged"] == [True] and np.isfinite(res["F"][0])
    assert res["flag_reason"] == [
        "optimum α* on the edge of the sampled shells (extrapolated: an upper bound)"
    ]
    assert "flagged" in captured.err
    assert main([*map(str, argv), "--allow-extrapolation"]) == 0
    row = [ln for ln in capsys.readouterr().out.splitlines() if not ln.startswith("#")]
    assert len(row) == 1 and row[0].rstrip().endswith("*")


def test_tune_target_beyond_what_the_models_serve(fe, tmp_path, capsys, monkeypatch):
    import thermograd.thermo.tune as tune_mod

    def no_tuning(*a, **k):
        raise AssertionError("the target must be refused before any tuning step")

    monkeypatch.setattr(tune_mod, "tune_transition", no_tuning)
    base = [
        "tune",
        fe / "bcc.h5",
        fe / "fcc.h5",
        "--theta",
        fe / "X_Fe.snapcoeff",
        "-o",
        tmp_path / "t.snapcoeff",
    ]
    line = refused(capsys, [*base, "--target-Tc", "50000"], "target T_c = 50000 K is outside", tmp_path)
    assert "serve 500-" in line
    # inside the grid but beyond the 2000 K top shells: the optimum of a phase sits on the edge there
    line = refused(
        capsys, [*base, "--target-Tc", "2400", "--T", "500:3000"], "beyond the sampled shells", tmp_path
    )
    assert "bcc 100-2000 K" in line


def test_unconverged_tune_exits_3_and_writes_nothing(fe, tmp_path, capsys):
    out = tmp_path / "t.snapcoeff"
    argv = ["tune", fe / "bcc.h5", fe / "fcc.h5", "--theta", fe / "X_Fe.snapcoeff", "--target-Tc", "1063"]
    line = refused(
        capsys, [*argv, "--max-steps", "0", "-o", out], "not converged: ΔF(T_target) =", tmp_path, code=3
    )
    assert "not written" in line and not out.exists()


def test_tune_help_states_exit_codes():
    from thermograd.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["tune"]
    text = " ".join(sub.format_help().split())
    assert "3 not converged" in text and "--allow-extrapolation" in text
