"""The storage layer (thermograd.io.store) as the campaign, tilt and model readers and writers use it: foreign,
newer and damaged files are refused with one line naming the file (and left byte-identical), a second writer
is locked out, every format records and returns its provenance, and io/ depends on nothing in ddos/."""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import thermograd
from thermograd.ddos.estimators.core import REFERENCE
from thermograd.ddos.estimators.model import DDOSModel
from thermograd.ddos.importers import load_model
from thermograd.ddos.sampling.campaign import load_datasets, run_campaign
from thermograd.ddos.sampling.campaign_config import CampaignConfig
from thermograd.ddos.sampling.campaign_store import check_campaign_file
from thermograd.ddos.sampling.tilt_campaign import TiltPlan, load_tilted, run_tilt
from thermograd.errors import StoreError
from thermograd.fileinfo import describe
from thermograd.io.store import CAMPAIGN, FORMATS, MODEL, TILT, StoreLock, create, open_file, read_provenance
from thermograd.outputs import file_kind
from thermograd.testing.toy import ToyReferenceBuilder

IO_DIR = Path(thermograd.__file__).parent / "io"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict:
    """A toy campaign (three shells, raw samples), a tilt file of one shell and a model fitted to the campaign."""
    folder = tmp_path_factory.mktemp("store")
    campaign = folder / "camp.h5"
    config = CampaignConfig.model_validate(
        {
            "output": str(campaign),
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
    ds = load_datasets(campaign)[0]
    theta = builder.descriptor_spec.toy(builder._atoms(config.phases[0].structure, 0.0)).default_theta()
    plan = TiltPlan(lambdas=(1.0,), n_chains=2, n_steps=2, n_burn=0, thin=1, seed=1)
    run_tilt(campaign, theta, 1200.0, folder / "tilt.h5", shells=[1], plan=plan, progress=False)
    DDOSModel.fit(ds, order=2).save(folder / "model.h5")
    return {"campaign": campaign, "tilt": folder / "tilt.h5", "model": folder / "model.h5", "dataset": ds}


#: each format's own reader, as the commands call it
READERS = {
    "campaign": lambda path, files: check_campaign_file(path),
    "tilt": lambda path, files: load_tilted(path, files["dataset"]),
    "model": lambda path, files: load_model(path),
}
FORMAT_OF = {"campaign": CAMPAIGN, "tilt": TILT, "model": MODEL}


def refused(files: dict, kind: str, path: Path) -> str:
    """The format's reader refuses ``path`` with one line naming it and leaves it byte-identical."""
    before = sha(path)
    with pytest.raises(StoreError) as err:
        READERS[kind](path, files)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert sha(path) == before
    return message


# ---------------------------------------------------------------------------------------------- no import cycle
def test_io_imports_nothing_of_ddos():
    """No module of thermograd.io imports thermograd.ddos, at module or function level (read from the source),
    and importing the storage layer, the model file format and the file inspector loads neither ddos nor torch."""
    offenders = []
    for path in sorted(IO_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = ("", "thermograd.io", "thermograd")[node.level]
                target = ".".join(x for x in (base, node.module) if x)
                names = [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith("thermograd.ddos")]
    assert offenders == []
    code = (
        "import sys, thermograd.io.store, thermograd.io.ddos_model, thermograd.io.snap, thermograd.outputs, "
        "thermograd.fileinfo; print(sorted(m for m in sys.modules if m.startswith('thermograd.ddos') "
        "or m == 'torch'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -------------------------------------------------------------------------------------------------- provenance
@pytest.mark.parametrize("kind", ["campaign", "tilt", "model"])
def test_each_format_round_trips_its_provenance(files, kind):
    path, fmt = files[kind], FORMAT_OF[kind]
    with open_file(path, fmt) as f:
        assert f.attrs["format"] == fmt.name and int(f.attrs["format_version"]) == fmt.version
        prov = read_provenance(f.attrs)
        reference = f.attrs.get("reference")
    assert prov["thermograd_version"] == thermograd.__version__
    assert prov["numpy_version"] == np.__version__ and prov["h5py_version"] == h5py.__version__
    assert prov["torch_version"] == importlib.metadata.version("torch")
    assert prov["lammps_version"]
    created = dt.datetime.fromisoformat(prov["created"])
    assert created.utcoffset() == dt.timedelta(0)
    if kind == "model":  # the convention statement of the estimators, given by the writer
        assert reference == REFERENCE
    info = describe(path)  # thermograd info reports what the file recorded
    shown = info["provenance"]["model_file"] if kind == "model" else info["provenance"]
    assert {k: shown[k] for k in prov} == prov
    assert info["kind"] == kind == file_kind(path) == fmt.kind and info["description"] == fmt.description


# ----------------------------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("kind", ["campaign", "tilt", "model"])
def test_foreign_hdf5_is_refused(files, kind, tmp_path):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.attrs["format"] = "someone-else"
        f["x"] = np.arange(3)
    noun = FORMAT_OF[kind].noun
    message = refused(files, kind, foreign)
    assert message.startswith(
        f"{foreign} is not a thermograd {noun} file (an HDF5 file of format 'someone-else'"
    )
    other = {"campaign": "model", "tilt": "campaign", "model": "campaign"}[kind]
    copy = shutil.copy(files[other], tmp_path / f"{other}.h5")
    message = refused(files, kind, copy)
    assert f"is not a thermograd {noun} file (a {FORMAT_OF[other].noun} file" in message
    if kind == "model":
        assert "(a campaign file; make a model with 'thermograd fit')" in message


@pytest.mark.parametrize("kind", ["campaign", "tilt", "model"])
def test_newer_version_is_refused(files, kind, tmp_path):
    path = shutil.copy(files[kind], tmp_path / "newer.h5")
    fmt = FORMAT_OF[kind]
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = fmt.version + 1
    message = refused(files, kind, path)
    assert message.startswith(
        f"{path} is a {fmt.name} file of format version {fmt.version + 1}; "
        f"this thermograd reads up to version {fmt.version}"
    )


@pytest.mark.parametrize("kind", ["campaign", "tilt", "model"])
def test_damaged_header_is_refused(files, kind, tmp_path):
    data = bytearray(files[kind].read_bytes())
    superblock = tmp_path / "superblock.h5"
    superblock.write_bytes(bytes(data[:8]) + bytes(504) + bytes(data[512:]))  # signature kept
    assert refused(files, kind, superblock).startswith(f"{superblock}: damaged HDF5 file, cannot open it (")
    signature = tmp_path / "signature.h5"
    signature.write_bytes(b"XXXXXXXX" + bytes(data[8:]))
    message = refused(files, kind, signature)
    assert message.startswith(f"{signature} is not an HDF5 file (no HDF5 signature: damaged header")
    assert f"expected a thermograd {FORMAT_OF[kind].noun} file" in message
    missing = tmp_path / "missing.h5"
    with pytest.raises(
        StoreError, match=f"^{FORMAT_OF[kind].noun} file not found: {re.escape(str(missing))}$"
    ):
        READERS[kind](missing, files)


def test_refused_output_is_left_untouched(files, tmp_path):
    """A writer refuses an existing file of another format before writing anything."""
    target = shutil.copy(files["model"], tmp_path / "tilt.h5")
    before = sha(target)
    with pytest.raises(StoreError) as err:
        run_tilt(
            files["campaign"],
            np.zeros(files["dataset"].n_features),
            1200.0,
            target,
            shells=[1],
            progress=False,
        )
    assert str(err.value) == (
        f"{target} is not a thermograd tilt file (a model file; 'thermograd tilt' writes tilt files); "
        "refusing to overwrite it"
    )
    assert sha(target) == before


# ----------------------------------------------------------------------------------------------- lock, create
def test_lock_refuses_a_second_writer(files, tmp_path):
    out = tmp_path / "tilt.h5"
    lock_file = tmp_path / ".tilt.h5.lock"
    with StoreLock(out):
        assert lock_file.is_file()
        with pytest.raises(StoreError) as err:
            StoreLock(out).acquire()
        assert str(err.value) == (
            f"another thermograd driver is writing {out} (lock {lock_file} is held); wait for it to finish"
        )
        with pytest.raises(StoreError, match="another thermograd driver is writing"):
            run_tilt(
                files["campaign"],
                np.zeros(files["dataset"].n_features),
                1200.0,
                out,
                shells=[1],
                progress=False,
            )
        assert not out.exists()
    assert not lock_file.exists()
    with StoreLock(out):  # released: a new writer gets it
        pass


def test_create_replaces_atomically(tmp_path):
    path = tmp_path / "new.h5"
    path.write_bytes(b"old contents")
    with pytest.raises(RuntimeError), create(path, CAMPAIGN, seed=3) as f:
        f["x"] = 1
        raise RuntimeError("writer failed")
    assert path.read_bytes() == b"old contents" and sorted(p.name for p in tmp_path.iterdir()) == ["new.h5"]
    with create(path, CAMPAIGN, seed=3) as f:
        f["x"] = 1
    with open_file(path, CAMPAIGN) as f:
        assert int(f.attrs["seed"]) == 3 and f["x"][()] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.h5"]


def test_registry_names_every_file_format():
    assert {f.kind for f in FORMATS.values()} == {"campaign", "tilt", "model", None}
    assert all(f.version >= 1 and f.description and "\n" not in f.description for f in FORMATS.values())
