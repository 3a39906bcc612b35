"""``thermograd alchemy free-energy``: the run file, the numbers against a direct Python call, the tables,
bad input refused before any work, resume from checkpoints, warnings and melting, and the template.

Every run uses the Morse model of BCC Fe (``FE_MORSE``, cutoff 3.6 Å) on 16 atoms at a = 2.86 Å with tiny
step counts: the numbers are not converged, the tests check the plumbing and identities that hold at any
step count.
"""

from __future__ import annotations

import hashlib
import json
import math
from importlib import resources

import numpy as np
import pytest
import yaml
from ase.data import atomic_masses, atomic_numbers

from thermograd.alchemy.config import AlchemyRun
from thermograd.cli import main
from thermograd.config import validate_model

MD = {"n_msd_equil": 5, "n_msd": 10, "n_equil": 5, "n_switch": 20, "n_replicas": 2, "seed": 3}
FE = {"builder": "bcc", "element": "Fe", "a": 2.86, "size": 2}
#: Fe and Co with identical Morse pairs (FE_MORSE for every pair): only the masses tell them apart
FECO = {
    "pairs": {
        "Fe-Fe": [0.4174, 1.3885, 2.5847],
        "Fe-Co": [0.4174, 1.3885, 2.5847],
        "Co-Co": [0.4174, 1.3885, 2.5847],
    },
    "cutoff": 3.6,
}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """Every run in its own folder (the default checkpoint folder is relative to the working directory)."""
    monkeypatch.chdir(tmp_path)


def _write(tmp_path, name="run.yaml", **sections):
    data = {"backend": {"name": "morse", "morse": {"preset": "fe"}}, "structure": dict(FE)}
    data.update(sections)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _vacancy(tmp_path, **fe):
    return _write(
        tmp_path,
        alchemy={"vacancy": 0},
        free_energy={"kind": "vacancy", "temperatures": [100.0], "md": dict(MD), **fe},
    )


def _json(capsys) -> dict:
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1  # --json: one line
    return json.loads(lines[0])


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.filterwarnings("ignore::UserWarning")  # the direct call's SwitchingTooFast
def test_vacancy_json_equals_a_direct_call_and_warnings_are_one_line(tmp_path, capsys, monkeypatch):
    from thermograd.alchemy.free_energy import vacancy_formation
    from thermograd.alchemy.pair import FE_MORSE, MorseBackend
    from thermograd.md.frenkel_ladd import MDSettings
    from thermograd.structures import bcc

    monkeypatch.chdir(tmp_path)
    run = _vacancy(tmp_path)
    assert main(["alchemy", "free-energy", str(run), "--json", "--quiet"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    res = out["results"][0]
    for key in ("G_v_alchemical", "G_v_alchemical_error", "G_v_conventional", "G_v_conventional_error"):
        assert math.isfinite(res[key])
    # the same calculation in Python (no checkpoints: the engine's resume is bit-identical)
    direct = vacancy_formation(
        MorseBackend(FE_MORSE, 3.6), bcc("Fe", a=2.86, size=(2, 2, 2)), 0, 100.0, settings=MDSettings(**MD)
    ).to_dict()
    for key in (
        "G_v_alchemical",
        "G_v_alchemical_error",
        "G_v_conventional",
        "G_v_conventional_error",
        "com_term",
        "F_E_oscillator",
    ):
        assert abs(res[key] - direct[key]) < 1e-12, key
    assert res["md_steps"] == direct["md_steps"] == {"perfect": 65, "defect": 65, "alchemical": 50}
    assert out["settings"]["n_switch"] == 20 and out["model"] == "Morse (preset fe)"
    # 20 switching steps dissipate far more than k_BT: each SwitchingTooFast is one line, no traceback
    err = [line for line in captured.err.splitlines() if line.strip()]
    assert err and all(
        line.startswith("thermograd alchemy: warning: T = 100 K, n_switch = 20: ") for line in err
    )
    assert "k_BT" in err[0] and out["warnings"] == [line.split("warning: ", 1)[1] for line in err]
    # the checkpoints went to the default folder
    assert (tmp_path / "thermograd-checkpoints" / "run").is_dir()


def test_vacancy_table_has_units_and_both_routes(tmp_path, capsys):
    run = _vacancy(
        tmp_path, temperatures=[100.0, 150.0], checkpoint_dir=str(tmp_path / "ck"), n_switch_scan=[10, 20]
    )
    plot = tmp_path / "fe.png"
    assert main(["alchemy", "free-energy", str(run), "--quiet", "--plot", str(plot)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("vacancy formation, site 0 of Fe16; Morse (preset fe); fixed cell; 2 replicas")
    assert (
        "G_v alchemical (eV)" in lines[1]
        and "G_v conventional (eV)" in lines[1]
        and "Q switch (eV)" in lines[1]
    )
    assert lines[2].split()[0] == "100.0" and lines[2].split()[2] == "±" and lines[3].split()[0] == "150.0"
    assert lines[2].split()[-3:] == ["115", "/", "130"]  # MD steps of the alchemical and conventional routes
    assert "convergence with switching time" in "\n".join(lines)
    scan_rows = [
        line.split() for line in lines if line.split()[:1] in (["100.0"], ["150.0"]) and "eV;" in line
    ]
    assert [(r[0], r[1], r[2]) for r in scan_rows] == [
        ("100.0", "10", "0.020"),
        ("100.0", "20", "0.040"),
        ("150.0", "10", "0.020"),
        ("150.0", "20", "0.040"),
    ]
    assert plot.read_bytes()[:4] == b"\x89PNG" and lines[-1] == f"written: {plot}"
    # one folder per (T, n_switch): the scan's n_switch = 20 is the main run, not run twice
    assert len(list((tmp_path / "ck").iterdir())) == 4


def test_vacancy_harmonic_reference_column_and_json(tmp_path, capsys):
    """``harmonic: true`` adds the noise-free reference E_v + F_h,v: a table column with its definition,
    and in the JSON the same number as a direct call on ASE's BCC cell (no sampling; the two relaxations of the
    defect stop at |F| < 1e-4 eV/Å from different atom orders, which moves E_v by ~|F|²/k < 1e-8 eV)."""
    from thermograd.alchemy.harmonic_reference import harmonic_vacancy_formation
    from thermograd.alchemy.pair import FE_MORSE, MorseBackend

    run = _vacancy(tmp_path, harmonic=True, conventional=False)
    assert main(["alchemy", "free-energy", str(run), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "G_v harmonic (eV)" in lines[1] and "harmonic = E_v + F_h,v" in lines[3]
    assert main(["alchemy", "free-energy", str(run), "--quiet", "--json"]) == 0
    res = _json(capsys)["results"][0]
    from ase.build import bulk

    direct = harmonic_vacancy_formation(
        MorseBackend(FE_MORSE, cutoff=3.6), bulk("Fe", "bcc", a=2.86, cubic=True).repeat(2), 0, 100.0
    )
    assert res["G_v_harmonic"] == pytest.approx(direct.G_v[0], abs=1e-6)
    assert float(lines[2].split()[-1]) == pytest.approx(direct.G_v[0], abs=1e-5)
    assert res["harmonic"]["S_v"] == pytest.approx(direct.S_v, abs=1e-4)


def test_substitution_with_identical_pairs_is_the_mass_term(tmp_path, capsys):
    # Fe and Co with the same Morse pairs: E(x) does not depend on the species label at any λ, so the
    # switch does no work (∂U/∂s = 0 exactly) and ΔG is the kinetic (mass) free energy alone
    sites = [0, 5, 9]
    run = _write(
        tmp_path,
        backend={"name": "morse", "morse": FECO},
        alchemy={"sites": sites, "species": ["Fe", "Co"]},
        free_energy={"kind": "substitution", "temperatures": [300.0], "md": dict(MD)},
    )
    assert main(["alchemy", "free-energy", str(run), "--json", "--quiet"]) == 0
    res = _json(capsys)["results"][0]
    m_fe, m_co = atomic_masses[atomic_numbers["Fe"]], atomic_masses[atomic_numbers["Co"]]
    m0 = np.full(16, m_fe)
    m1 = m0.copy()
    m1[sites] = m_co
    kt = 8.617333262e-5 * 300.0
    expected = 1.5 * kt * (np.log(m0 / m1).sum() - np.log(m0.sum() / m1.sum())) / 16
    assert res["mass_term"] == pytest.approx(expected, rel=1e-6)
    assert abs(res["switch"]["delta_F"]) < 1e-12 and abs(res["delta_G"] - res["mass_term"]) < 1e-12
    assert res["sites"] == sites and res["species_to"] == "Co"


def test_cycle_table_and_closure(tmp_path, capsys):
    # identical Fe/Co pairs again: on both "phases" (two BCC cells) the switch gives the mass term and the
    # direct Frenkel–Ladd difference g(Co) − g(Fe) is a mass term too, so the closure is zero within its error
    run = _write(
        tmp_path,
        backend={"name": "morse", "morse": FECO},
        alchemy={"sites": "Fe", "species": ["Fe", "Co"]},
        free_energy={
            "kind": "cycle",
            "temperatures": [200.0],
            "md": {**MD, "n_replicas": 3},
            "phases": {"small": dict(FE), "large": {**FE, "a": 2.88}},
        },
    )
    data = yaml.safe_load(run.read_text())
    data.pop("structure")
    run.write_text(yaml.safe_dump(data, sort_keys=False))
    assert main(["alchemy", "free-energy", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cycle Fe → Co over small (Fe16), large (Fe16); Morse")
    assert "closure (meV/atom)" in out and "small: ΔG switch" in out and "large: ΔG switch" in out
    assert main(["alchemy", "free-energy", str(run), "--quiet", "--json"]) == 0  # read back from checkpoints
    res = _json(capsys)["results"][0]
    assert abs(res["closure"]) < 3 * res["closure_error"] + 1e-6


def test_frenkel_ladd_on_a_sum_of_morse_and_random_mace(tmp_path, capsys):
    run = _write(
        tmp_path,
        backend={
            "name": "sum",
            "sum": [
                {"name": "morse", "morse": {"preset": "fe"}},
                {"name": "mace", "model": "random", "random": {"species": ["Fe"]}},
            ],
        },
        free_energy={"kind": "frenkel-ladd", "temperatures": [100.0], "md": dict(MD)},
    )
    assert main(["alchemy", "free-energy", str(run), "--json", "--quiet"]) == 0
    out = _json(capsys)
    res = out["results"][0]
    assert out["model"] == "Morse (preset fe) + random MACE (Fe; seed 0)"
    assert math.isfinite(res["F"]) and res["G"] is None and res["n_atoms"] == 16
    assert res["F"] == pytest.approx(res["F_einstein"] + res["com_correction"] + res["delta_F"], abs=1e-12)


def _refused(capsys, argv, tmp_path, message):
    before = {p.name: _sha(p) for p in tmp_path.iterdir() if p.is_file()}
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("thermograd alchemy: error: ") and message in err[0], err
    assert captured.out == ""
    assert {p.name: _sha(p) for p in tmp_path.iterdir()} == before  # nothing written, no checkpoint folder


@pytest.mark.parametrize(
    "case, message",
    [
        ("species", "species Co unknown to the Morse model (Fe)"),
        ("site", "alchemy.vacancy: site 16 does not exist: the structure has 16 atoms (sites 0..15)"),
        ("key", "unknown key 'free_energy.md.n_swich'; did you mean 'n_switch'?"),
        ("phases", "kind cycle needs 'phases' with exactly two structures, got 3"),
        ("pressure", "'pressure' is for kind vacancy or frenkel-ladd, not substitution"),
        ("steps", "free_energy.md.n_replicas: Input should be greater than or equal to 1"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(tmp_path, capsys, monkeypatch, case, message):
    monkeypatch.chdir(tmp_path)
    fe = {"kind": "vacancy", "temperatures": [100.0], "md": dict(MD)}
    alchemy = {"vacancy": 0}
    extra = {}
    if case == "species":
        fe["kind"], alchemy = "substitution", {"sites": "Fe", "species": ["Fe", "Co"]}
    elif case == "site":
        alchemy = {"vacancy": 16}
    elif case == "key":
        fe["md"]["n_swich"] = 100
    elif case == "phases":
        fe["kind"], alchemy = "cycle", {"sites": "Fe", "species": ["Fe", "Co"]}
        fe["phases"] = {k: dict(FE) for k in ("a", "b", "c")}
    elif case == "pressure":
        fe["kind"], fe["pressure"] = "substitution", 0.0
        alchemy = {"sites": "Fe", "species": ["Fe", "Co"]}
    elif case == "steps":
        fe["md"]["n_replicas"] = 0
    run = _write(tmp_path, alchemy=alchemy, free_energy=fe, output="out.json", **extra)
    _refused(capsys, ["alchemy", "free-energy", str(run), "--quiet", "--plot", "p.png"], tmp_path, message)


def test_a_crystal_that_melts_is_an_error_and_writes_no_result(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = _vacancy(tmp_path, md={**MD, "max_displacement": 0.02})  # 100 K moves atoms ~0.05 Å
    data = yaml.safe_load(run.read_text())
    data["output"] = "out.json"
    run.write_text(yaml.safe_dump(data))
    assert main(["alchemy", "free-energy", str(run), "--quiet"]) == 2
    captured = capsys.readouterr()
    err = [line for line in captured.err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("thermograd alchemy: error: replica ")
    assert "the structure melted or is unstable" in err[0] and captured.out == ""
    assert not (tmp_path / "out.json").exists()


def test_second_run_reads_the_checkpoints_back(tmp_path, capsys, monkeypatch):
    from thermograd.alchemy.pair import MorseBackend

    calls = []  # MD evaluations: the batched graphs of the 2 replicas (a static one or a relaxation has 1)
    original = MorseBackend.node_energies

    def counted(self, graph, *args, **kwargs):
        if graph.n_systems > 1:
            calls.append(1)
        return original(self, graph, *args, **kwargs)

    monkeypatch.setattr(MorseBackend, "node_energies", counted)
    monkeypatch.chdir(tmp_path)
    run = _vacancy(tmp_path)
    data = yaml.safe_load(run.read_text())
    data["output"] = "vac.json"
    run.write_text(yaml.safe_dump(data))
    assert main(["alchemy", "free-energy", str(run), "--quiet"]) == 0
    first_calls = len(calls)
    first = json.loads((tmp_path / "vac.json").read_text())
    ck = tmp_path / "vac.checkpoints"
    files = {p: p.stat().st_mtime_ns for p in ck.rglob("*.pt")}
    assert len(files) >= 10 and first["checkpoint_dir"] == "vac.checkpoints"
    capsys.readouterr()
    # the result file exists: refused without --force, before any work
    assert main(["alchemy", "free-energy", str(run), "--quiet"]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and len(calls) == first_calls
    calls.clear()
    assert main(["alchemy", "free-energy", str(run), "--quiet", "--force"]) == 0
    second = json.loads((tmp_path / "vac.json").read_text())
    assert second["results"] == first["results"]
    # every segment was read back: the same checkpoint files, untouched, and no MD step evaluated again
    assert {p: p.stat().st_mtime_ns for p in ck.rglob("*.pt")} == files
    assert first_calls >= 2 * 65 + 50 and calls == []


def test_template_parses_and_init_prints_it(capsys):
    text = resources.files("thermograd.templates").joinpath("alchemy-free-energy.yaml").read_text()
    cfg = validate_model(AlchemyRun, yaml.safe_load(text))
    fe = cfg.free_energy
    assert fe.kind == "vacancy" and fe.temperatures == [100.0] and cfg.alchemy.vacancy == 0
    assert cfg.backend.name == "sevennet" and cfg.structure.a == 2.83 and cfg.structure.size == 2
    assert "resume" in text and "morse" in text and "model: random" in text
    settings = fe.md.settings()
    assert settings.n_switch == 2000 and settings.n_replicas == 4
    assert main(["init", "alchemy-free-energy"]) == 0
    assert capsys.readouterr().out == text


def test_backend_sections_are_checked():
    from thermograd.errors import ConfigError

    base = {"structure": dict(FE), "alchemy": {"vacancy": 0}}
    for backend, message in [
        ({"name": "morse"}, "backend 'morse' needs a 'morse' section"),
        ({"name": "morse", "morse": {"preset": "fe", "cutoff": 4.0}}, "a preset fixes its cutoff"),
        ({"name": "morse", "morse": {"pairs": {"Fe-Fe": [1, 1, 2.5]}}}, "'pairs' needs 'cutoff'"),
        ({"name": "mace", "model": "random"}, "needs a 'random' section"),
        ({"name": "sum", "sum": [{"name": "morse", "morse": {"preset": "fe"}}]}, "at least 2 items"),
    ]:
        with pytest.raises(ConfigError, match=message):
            validate_model(AlchemyRun, {**base, "backend": backend})
