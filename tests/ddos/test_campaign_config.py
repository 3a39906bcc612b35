"""Tests of the campaign run-file model (thermograd.ddos.sampling.campaign_config)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from thermograd.ddos.sampling.campaign_config import CampaignConfig, load_campaign_config
from thermograd.errors import ConfigError

BASE = {
    "output": "out.h5",
    "seed": 7,
    "phases": [{"name": "bcc", "structure": {"builder": "bcc", "element": "Mo", "a": 3.16, "size": 2}}],
    "potential": {"snap": "Mo_Zuo_JPCA2020"},
    "shells": [500, 1000],
    "samples_per_shell": 10,
    "chunk_size": 4,
}


def write(tmp_path: Path, data: dict, name: str = "run.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_template_is_a_valid_small_mo_campaign(tmp_path: Path) -> None:
    text = resources.files("thermograd.templates").joinpath("ddos.yaml").read_text()
    path = tmp_path / "run.yaml"
    path.write_text(text)
    config, stored = load_campaign_config(path)
    assert stored == text
    assert config.potential.snap == "Mo_Zuo_JPCA2020"
    assert config.phases[0].structure.builder == "bcc" and config.phases[0].structure.element == "Mo"
    assert Path(config.output).parent == tmp_path  # relative to the run file
    assert config.percentile == 0.5 and config.keep_raw is True
    assert config.effective_descriptor().snapparam == "Mo_Zuo_JPCA2020"


def test_defaults_and_chunking(tmp_path: Path) -> None:
    config, _ = load_campaign_config(write(tmp_path, BASE))
    assert config.strains == [0.0]
    assert config.chunk_sizes == [4, 4, 2]
    assert config.shell_temperatures == [500.0, 1000.0]
    assert config.hessian.method == "fd"


@pytest.mark.parametrize(
    ("shells", "expected"),
    [
        ("250/1000/4", [250.0, 500.0, 750.0, 1000.0]),
        ({"start": 100, "stop": 300, "num": 3}, [100.0, 200.0, 300.0]),
        ([300, 600.5], [300.0, 600.5]),
    ],
)
def test_shell_forms(tmp_path: Path, shells, expected) -> None:
    config, _ = load_campaign_config(write(tmp_path, {**BASE, "shells": shells}))
    assert config.shell_temperatures == pytest.approx(expected, rel=0, abs=1e-12)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"sample_per_shell": 10}, "did you mean 'samples_per_shell'"),
        (
            {"phases": [{"name": "bcc", "structure": {"builder": "bcc", "elemnt": "Mo"}}]},
            "did you mean 'element'",
        ),
        ({"shells": "250/1000"}, "start/stop/num"),
        ({"shells": [500, -1]}, "> 0 K"),
        ({"potential": {"snap": "Mo_Zuo_JPCA2020", "eam": "W_zhou.eam.alloy"}}, "exactly one of 'snap'"),
        ({"potential": {"eam": "W_zhou.eam.alloy", "elements": ["W"]}}, "'descriptor' is required"),
        ({"descriptor": {"compute": "sna/atom 4.6 0.99363 6 0.5 1.0"}}, "needs 'cutoff'"),
        ({"phases": [{"name": "x", "structure": {"builder": "bcc"}}]}, "needs 'element'"),
        ({"strains": [0.0, 0.0]}, "distinct"),
    ],
)
def test_bad_run_files_are_one_line_config_errors(tmp_path: Path, patch: dict, message: str) -> None:
    data = {**BASE, **patch}
    if "sample_per_shell" in patch:
        data.pop("samples_per_shell")
    with pytest.raises(ConfigError) as err:
        load_campaign_config(write(tmp_path, data))
    text = str(err.value)
    assert message in text
    assert "\n" not in text


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_campaign_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_campaign_config(bad)


def test_config_hash_ignores_comments_order_and_output(tmp_path: Path) -> None:
    c1, _ = load_campaign_config(write(tmp_path, BASE, "a.yaml"))
    reordered = dict(reversed(list({**BASE, "output": "elsewhere.h5"}.items())))
    path = tmp_path / "b.yaml"
    path.write_text("# a comment\n" + yaml.safe_dump(reordered, sort_keys=False))
    c2, _ = load_campaign_config(path)
    assert c1.config_hash() == c2.config_hash()
    # the default descriptor is spelled out, so writing it explicitly is the same campaign
    c3 = CampaignConfig.model_validate({**BASE, "descriptor": {"snapparam": "Mo_Zuo_JPCA2020"}})
    assert c3.config_hash() == c1.config_hash()
    for change in ({"seed": 8}, {"samples_per_shell": 11}, {"percentile": 1.0}, {"shells": [500, 1001]}):
        assert CampaignConfig.model_validate({**BASE, **change}).config_hash() != c1.config_hash()
