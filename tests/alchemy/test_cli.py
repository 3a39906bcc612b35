"""``thermograd alchemy`` command line: run-file validation and one small run."""

from __future__ import annotations

import json

import pytest
import yaml

from thermograd.alchemy.config import AlchemyRun
from thermograd.cli import main
from thermograd.config import validate_model


def _template() -> dict:
    from importlib import resources

    return yaml.safe_load(resources.files("thermograd.templates").joinpath("alchemy.yaml").read_text())


def test_template_is_valid():
    cfg = validate_model(AlchemyRun, _template())
    assert cfg.alchemy.species == ["Na", "K"]
    assert cfg.backend.policy == "cross-group"


def test_misspelled_key_gives_hint(tmp_path, capsys):
    data = _template()
    data["optimize"]["max_step"] = data["optimize"].pop("max_steps")
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["alchemy", "optimize", str(path)]) == 2
    assert "did you mean 'max_steps'" in capsys.readouterr().err


def test_bad_alchemy_section(tmp_path, capsys):
    data = _template()
    data["alchemy"] = {"sites": "Na", "species": ["Na", "K"], "lam": [0.7, 0.7]}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["alchemy", "optimize", str(path)]) == 2
    assert "sum to 1" in capsys.readouterr().err


@pytest.mark.mlip
def test_optimize_runs(tmp_path, capsys):
    data = _template()
    data["optimize"]["max_steps"] = 1
    data.pop("lattice")
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    # one step cannot converge: exit 2 with the reason, but the numbers and the plot are kept
    assert (
        main(["alchemy", "optimize", str(path), "--json", "--quiet", "--plot", str(tmp_path / "l.png")]) == 2
    )
    captured = capsys.readouterr()
    assert "did not converge" in captured.err
    out = json.loads(captured.out.strip().splitlines()[-1])
    assert out["steps"] == 1 and abs(sum(out["lam"]) - 1) < 1e-9 and out["converged"] is False
    assert out["lam"][1] > 0.001  # the stress gradient pushes toward K at a = 6 Å
    assert (tmp_path / "l.png").stat().st_size > 0


def test_package_import_is_lazy_and_load_sevennet_comes_from_sevennet():
    import subprocess
    import sys

    code = (
        "import sys, thermograd.alchemy as a; heavy = {'torch', 'sevenn'} & set(sys.modules); "
        "f = a.load_sevennet; print(sorted(heavy), f.__module__, 'sevenn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # nothing heavy on import; the loader brings torch but not sevenn (that comes with the first model)
    assert out.split() == ["[]", "thermograd.alchemy.sevennet", "False"]
