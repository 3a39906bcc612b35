"""What a thermograd file holds (``thermograd info``): kind, format version, size, completeness, provenance.

:func:`describe` reads campaign, tilt and model files (HDF5, told apart by their ``format`` attribute),
``.snapcoeff`` coefficient files and DescriptorDOS shell data (``.npz``, or its pickle through the restricted
unpickler) and returns a JSON-serialisable dict (``thermograd info`` prints it as text or JSON). Files are
opened read-only (HDF5 without file locking, so a campaign that a driver is writing can be inspected) and
never modified. Only metadata and small arrays are read: a campaign's samples are counted from chunk
attributes, never loaded.

Every dict has ``path``, ``kind`` (``campaign``, ``tilt``, ``model``, ``snapcoeff``, ``descriptordos``),
``description``, ``format``, ``format_version``, ``file_bytes``, ``complete``, ``unfinished`` (what is missing,
one line each), ``problems`` (damage found, one line each), ``notes`` (a driver's lock, journal or snapshot
beside the file), ``size`` and ``provenance``; the rest depends on the kind. A missing, foreign or unreadable
file raises a one-line :class:`~thermograd.errors.InputError` or :class:`~thermograd.errors.StoreError`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .errors import InputError, StoreError, ThermogradError
from .io.ddos_model import COMPONENT_KEYS, SHELL_KEYS
from .io.store import CAMPAIGN, FORMATS, HDF5_SIGNATURE, MODEL, TILT, open_file, read_provenance

__all__ = ["describe"]

_ZIP_MAGIC = b"PK\x03\x04"


# -- small readers -------------------------------------------------------------------------------------------
def _str(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def _num(value):
    """A plain int/float/bool (or list of them) from an HDF5 attribute; NaN becomes None."""
    if value is None:
        return None
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_attr(attrs, key: str):
    text = _str(attrs.get(key))
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# -- entry points --------------------------------------------------------------------------------------------
def describe(path: str | Path) -> dict:
    """Describe one file without modifying it.

    Args:
        path: a campaign, tilt or model HDF5 file, a ``.snapcoeff`` file or DescriptorDOS shell data.

    Returns:
        A JSON-serialisable dict (see the module docstring).

    Raises:
        InputError: the file is missing, a folder, unreadable, or of a kind thermograd does not know.
        StoreError: the file is of a known kind but damaged (truncated, corrupt header, missing parts).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a file")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    if head == HDF5_SIGNATURE or suffix in (".h5", ".hdf5"):
        reader, what = _describe_hdf5, "HDF5 file"
    elif suffix == ".snapcoeff":
        reader, what = _describe_snapcoeff, ".snapcoeff file"
    elif suffix == ".npz" or head.startswith(_ZIP_MAGIC) or suffix in (".pkl", ".pickle"):
        reader, what = _describe_descriptordos, "DescriptorDOS shell data"
    else:
        raise InputError(
            f"{path}: not a file that thermograd info reads (a campaign, tilt or model HDF5 file, "
            "a .snapcoeff file or DescriptorDOS .npz shell data)"
        )
    try:
        info = reader(path)
    except ThermogradError:
        raise
    except Exception as exc:  # damaged content: one line, never a traceback
        raise StoreError(
            f"{path}: damaged or unreadable {what} ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    info["file_bytes"] = size
    info["notes"] = _companion_notes(path) if info["kind"] in ("campaign", "tilt") else []
    info["complete"] = not info["unfinished"] and not info["problems"]
    return {"path": str(path), **info}


def _companion_notes(path: Path) -> list[str]:
    """Files a driver keeps beside a campaign or tilt file while it runs (left behind when it was killed)."""
    notes = []
    lock = path.with_name(f".{path.name}.lock")
    journal = path.with_name(f".{path.name}.journal")
    snapshot = path.with_name(f".{path.name}.bak")
    if lock.exists():
        notes.append(f"lock file {lock.name} present: a driver is running, or was killed")
    if journal.is_dir():
        n = sum(1 for _ in journal.glob("*.npz"))
        notes.append(
            f"journal {journal.name} holds {n} chunk(s) of a running or killed driver; "
            "the next run of the campaign writes them into the file"
        )
    if snapshot.exists():
        notes.append(f"snapshot {snapshot.name} present (kept until the driver closes the file normally)")
    return notes


# -- HDF5 ----------------------------------------------------------------------------------------------------
def _describe_hdf5(path: Path) -> dict:
    readers = {CAMPAIGN.name: _campaign, TILT.name: _tilt, MODEL.name: _model}
    with open_file(path, (CAMPAIGN, TILT, MODEL)) as f:  # foreign, damaged or newer: one-line StoreError
        fmt = FORMATS[_str(f.attrs["format"])]
        body = readers[fmt.name](f)
        version = int(f.attrs["format_version"])
    return {
        "kind": fmt.kind,
        "description": fmt.description,
        "format": fmt.name,
        "format_version": version,
        **body,
    }


def _campaign(f) -> dict:
    cfg = {}
    if "config" in f:
        cfg = _json_attr(f["config"].attrs, "canonical_json") or {}
        if not isinstance(cfg, dict):
            cfg = {}
    planned_phases = [p.get("name") for p in cfg.get("phases", []) if isinstance(p, dict)]
    strains = [float(s) for s in cfg.get("strains", [])]
    shell_T = [float(t) for t in cfg.get("shells", [])] if isinstance(cfg.get("shells"), list) else []
    samples_per_shell = cfg.get("samples_per_shell")
    chunk_size = cfg.get("chunk_size")
    n_chunks_planned = (
        -(-int(samples_per_shell) // int(chunk_size)) if samples_per_shell and chunk_size else None
    )

    phases_group = f.get("phases")
    stored: dict[tuple[str, int], object] = {}
    if phases_group is not None:
        for phase, pg in phases_group.items():
            for sname, g in pg.items():
                if sname.startswith("strain_"):
                    stored[(phase, int(sname.split("_", 1)[1]))] = g
    keys = [(p, i) for p in planned_phases for i in range(len(strains))]
    keys += sorted(k for k in stored if k not in keys)

    refs, unfinished, problems = [], [], []
    totals = dict.fromkeys(("shells", "shells_done", "chunks", "chunks_done", "samples", "samples_done"), 0)
    for phase, si in keys:
        g = stored.get((phase, si))
        label = f"{phase} strain_{si:02d}"
        ref = {
            "phase": phase,
            "strain_index": si,
            "strain": strains[si]
            if si < len(strains)
            else (_num(g.attrs.get("strain")) if g is not None else None),
        }
        if g is None:
            ref["status"] = "not started"
            unfinished.append(f"{label}: reference not computed yet")
        else:
            done = bool(g.attrs.get("complete", False))
            ref["status"] = "finished" if done else "unfinished"
            if not done:
                unfinished.append(f"{label}: reference set-up unfinished (will be redone)")
            ref["n_atoms"] = _num(g.attrs.get("n_atoms"))
            ref["descriptor_dimension"] = int(g["D_0"].shape[0]) if "D_0" in g else None
            ref["descriptor"] = _json_attr(g.attrs, "descriptor")
            ref["potential"] = _json_attr(g.attrs, "potential")
            ref["E_0_eV_per_atom"] = _num(g.attrs.get("E_0"))
            ref["volume_per_atom_A3"] = _num(g.attrs.get("volume_per_atom"))
        shells = _campaign_shells(g, shell_T, samples_per_shell, n_chunks_planned)
        ref["shells"] = shells
        for s in shells:
            totals["shells"] += 1
            totals["shells_done"] += s["finished"]
            totals["chunks"] += s["chunks"] or 0
            totals["chunks_done"] += s["chunks_done"]
            totals["samples"] += s["samples"] or 0
            totals["samples_done"] += s["samples_done"]
            if not s["finished"] and g is not None:
                unfinished.append(
                    f"{label} shell {s['index']:03d} ({s['T_K']:g} K): {s['chunks_done']} of "
                    f"{s['chunks']} chunks, {s['samples_done']} of {s['samples']} samples"
                )
        if g is None:
            n_sh = len(shells)
            unfinished[-1] += f" ({n_sh} shells to sample)" if n_sh else ""
        refs.append(ref)
    if not cfg:
        problems.append("no run-file configuration stored (/config canonical_json): planned work unknown")
    atoms = sorted({r["n_atoms"] for r in refs if r.get("n_atoms") is not None})
    dims = sorted({r["descriptor_dimension"] for r in refs if r.get("descriptor_dimension") is not None})
    keep_raw = cfg.get("keep_raw")
    size = {
        "phases": list(dict.fromkeys([p for p, _ in keys])),
        "strains": strains,
        "references": len(keys),
        "atoms": atoms,
        "descriptor_dimension": dims[0] if len(dims) == 1 else dims or None,
        "shell_temperatures_K": shell_T,
        "samples_per_shell": samples_per_shell,
        "chunk_size": chunk_size,
        "raw_samples_kept": keep_raw,
    }
    progress = {
        "references": len(keys),
        "references_done": sum(r["status"] == "finished" for r in refs),
        **totals,
    }
    history = [
        {"replaced": _str(h.attrs.get("replaced")), "change": _str(h.attrs.get("change"))}
        for _, h in sorted((f.get("config_history") or {}).items())
    ]
    prov = {
        **read_provenance(f.attrs),
        "config_hash": _str(f.attrs.get("config_hash")),
        "seed": _num(f.attrs.get("seed")),
        "sampler": _str(f.attrs.get("sampler")) or "v1 (earlier thermograd: readable, not resumable)",
        "grown": history,
        "potential": {k: v for k, v in (cfg.get("potential") or {}).items() if v is not None},
        "descriptor": {k: v for k, v in (cfg.get("descriptor") or {}).items() if v is not None},
    }
    return {
        "size": size,
        "progress": progress,
        "references": refs,
        "unfinished": unfinished,
        "problems": problems,
        "provenance": prov,
    }


def _campaign_shells(g, shell_T: list[float], samples_per_shell, n_chunks_planned) -> list[dict]:
    """Per-shell progress of one reference group (``g`` None: nothing stored yet)."""
    groups = {}
    if g is not None and "shells" in g:
        groups = {int(k): sg for k, sg in g["shells"].items()}
    indices = sorted(set(range(len(shell_T))) | set(groups))
    out = []
    for k in indices:
        sg = groups.get(k)
        attrs = sg.attrs if sg is not None else {}
        T = _num(attrs.get("T_shell")) if sg is not None else None
        if T is None and k < len(shell_T):
            T = shell_T[k]
        n_samples = _num(attrs.get("n_samples")) if sg is not None else None
        n_chunks = _num(attrs.get("n_chunks")) if sg is not None else None
        n_samples = samples_per_shell if n_samples is None else n_samples
        n_chunks = n_chunks_planned if n_chunks is None else n_chunks
        chunks_done = samples_done = 0
        finished = raw = False
        if sg is not None:
            for c in (sg.get("chunks") or {}).values():
                if c.attrs.get("complete", False):
                    chunks_done += 1
                    samples_done += int(c.attrs.get("n", 0))
            sk = sg.get("sketch")
            if sk is not None and sk.attrs.get("complete", False):
                finished, raw = True, "raw" in sk
                samples_done = int(sk.attrs.get("n", samples_done))
                chunks_done = max(chunks_done, n_chunks or 0)
        out.append(
            {
                "index": k,
                "T_K": T,
                "samples": n_samples,
                "samples_done": samples_done,
                "chunks": n_chunks,
                "chunks_done": chunks_done,
                "finished": finished,
                "raw_samples": raw,
            }
        )
    return out


def _tilt(f) -> dict:
    plan = _json_attr(f.attrs, "plan") or {}
    theta_dim = int(f["theta"].shape[0]) if "theta" in f else None
    shells, unfinished = [], []
    for key, g in (f.get("shells") or {}).items():
        rungs = sorted((k for k in g if k.startswith("rung_")), key=lambda k: int(k.split("_")[1]))
        counts = [int(g[k]["descriptors"].shape[0]) for k in rungs if "descriptors" in g[k]]
        done = bool(g.attrs.get("complete", False))
        s = {
            "index": int(key),
            "T_K": _num(g.attrs.get("T_shell")),
            "finished": done,
            "samples_per_rung": counts,
            "acceptance": _num(g.attrs.get("acceptance")),
        }
        shells.append(s)
        if not done:
            unfinished.append(f"shell {int(key):03d}: interrupted while sampling (will be redone on rerun)")
    campaign = _str(f.attrs.get("campaign"))
    size = {
        "phase": _str(f.attrs.get("phase")),
        "strain_index": _num(f.attrs.get("strain_index")),
        "T_tilt_K": _num(f.attrs.get("T_tilt")),
        "descriptor_dimension": theta_dim,
        "lambdas": plan.get("lambdas"),
        "n_chains": plan.get("n_chains"),
        "shells": len(shells),
        "shells_done": sum(s["finished"] for s in shells),
    }
    prov = {
        **read_provenance(f.attrs),
        "campaign": campaign,
        "campaign_found": bool(campaign) and Path(campaign).is_file(),
        "campaign_config_hash": _str(f.attrs.get("campaign_config_hash")),
        "seed": plan.get("seed"),
        "plan": plan,
    }
    return {"size": size, "shells": shells, "unfinished": unfinished, "problems": [], "provenance": prov}


def _model(f) -> dict:
    import numpy as np

    a = f.attrs
    problems, missing = [], []
    for name in ["D_0"] + [f"shells/{k}" for k in SHELL_KEYS]:
        if name not in f:
            missing.append(name)
    for prefix in ("", "alt_"):
        for key in COMPONENT_KEYS:
            if f"components/{prefix}{key}" not in f:
                missing.append(f"components/{prefix}{key}")
    if missing:
        problems.append(f"missing data sets: {', '.join(missing)}")
    for grp in ("shells", "components"):
        for key, ds in (f.get(grp) or {}).items():
            if ds.dtype.kind in "fc" and not np.isfinite(ds[()]).all():
                problems.append(f"non-finite values in {grp}/{key}")
    if "D_0" in f and not np.isfinite(f["D_0"][()]).all():
        problems.append("non-finite values in D_0")
    T = f["shells/T_shells"][()].tolist() if "shells/T_shells" in f else []
    n = f["shells/n_samples"][()].tolist() if "shells/n_samples" in f else []
    fit = _json_attr(a, "fit_info") or {}
    prov = _json_attr(a, "provenance") or {}
    if not isinstance(prov, dict):
        prov = {"text": prov}
    prov = {k: v for k, v in prov.items() if k != "config"}  # the whole run file is not a summary
    written = {k: v for k, v in read_provenance(a).items() if v is not None}
    if written:  # files of earlier thermograd versions record only the sampling data's provenance
        prov["model_file"] = written
    size = {
        "phase": _str(a.get("name")),
        "n_atoms": _num(a.get("n_atoms")),
        "descriptor_dimension": int(f["D_0"].shape[0]) if "D_0" in f else None,
        "strain": _num(a.get("strain")),
        "volume_per_atom_A3": _num(a.get("volume_per_atom")),
        "shells": len(T),
        "shell_temperatures_K": T,
        "samples_per_shell": n,
        "order": _num(a.get("order")),
        "alt_order": _num(a.get("alt_order")),
        "E0_reference_eV_per_atom": _num(a.get("E0_reference")),
    }
    fit_summary = {
        k: fit[k]
        for k in (
            "rule",
            "weighting",
            "range_factor",
            "seed",
            "n_gaussian_fallback",
            "n_delta",
            "fit_seconds",
        )
        if isinstance(fit, dict) and k in fit
    }
    return {
        "size": size,
        "descriptor": _json_attr(a, "descriptor"),
        "fit": fit_summary,
        "unfinished": [],
        "problems": problems,
        "provenance": prov,
    }


# -- text files ----------------------------------------------------------------------------------------------
def _describe_snapcoeff(path: Path) -> dict:
    from .io.snap import n_bispectrum, read_snapcoeff

    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (binary content), not a .snapcoeff file") from None
    lines = [ln.split("#", 1)[0].split() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise StoreError(f"{path}: empty .snapcoeff file")
    try:
        nelem, ncoeff = int(lines[0][0]), int(lines[0][1])
    except (IndexError, ValueError):
        raise StoreError(f"{path}: first line must be 'n_elements n_coefficients', got {lines[0]}") from None
    expected = 1 + nelem * (1 + ncoeff)
    if len(lines) != expected:
        state = "truncated" if len(lines) < expected else "has extra lines"
        raise StoreError(
            f"{path}: {state}: the header announces {nelem} element(s) × {ncoeff} coefficients "
            f"({expected} data lines), the file has {len(lines)}"
        )
    coeffs = read_snapcoeff(path)
    n_lin = ncoeff - 1
    layout = None
    for twojmax in range(0, 21):
        nb = n_bispectrum(twojmax)
        if nb == n_lin:
            layout = f"linear SNAP, 2J_max = {twojmax}"
        elif nb + nb * (nb + 1) // 2 == n_lin:
            layout = f"quadratic SNAP, 2J_max = {twojmax}"
        if layout:
            break
    problems = [
        f"element {el}: non-finite coefficients"
        for el in coeffs.elements
        if not all(math.isfinite(float(v)) for v in coeffs.coeffs[el])
    ]
    header = [ln.lstrip("#").strip() for ln in text.splitlines() if ln.strip().startswith("#")]
    return {
        "kind": "snapcoeff",
        "description": "SNAP coefficients (LAMMPS .snapcoeff): a descriptor-linear model θ",
        "format": "snapcoeff",
        "format_version": None,
        "size": {
            "elements": coeffs.elements,
            "coefficients_per_element": ncoeff,
            "descriptor_dimension": n_lin,
            "layout": layout or "not a SNAP bispectrum count (generic descriptor?)",
        },
        "elements": {
            el: {
                "radius": coeffs.radius[el],
                "weight": coeffs.weight[el],
                "beta_0": float(coeffs.coeffs[el][0]),
            }
            for el in coeffs.elements
        },
        "unfinished": [],
        "problems": problems,
        "provenance": {"comments": [h for h in header if h]},
    }


def _describe_descriptordos(path: Path) -> dict:
    from .ddos.importers import load_descriptordos

    datasets = load_descriptordos(path)
    sets, unfinished, problems = [], [], []
    for d in datasets:
        shells = [
            {"index": i, "T_K": float(s.T_shell), "samples": int(s.n_samples)} for i, s in enumerate(d.shells)
        ]
        empty = [s["index"] for s in shells if s["samples"] <= 0]
        if empty:
            unfinished.append(f"{d.name}: shells {empty} hold no samples")
        for i, s in enumerate(d.shells):
            for name in ("mean", "covariance", "eigenvalues", "basis", "edges", "counts"):
                arr = getattr(s, name, None)
                if arr is not None and not all(math.isfinite(float(v)) for v in arr.ravel()):
                    problems.append(f"{d.name} shell {i}: non-finite values in {name}")
        sets.append(
            {
                "name": d.name,
                "n_atoms": int(d.n_atoms),
                "descriptor_dimension": int(d.D_0.shape[0]),
                "strain": float(d.strain),
                "volume_per_atom_A3": float(d.volume_per_atom),
                "E_0_eV_per_atom": d.E0_reference,
                "shells": shells,
            }
        )
    dims = sorted({s["descriptor_dimension"] for s in sets})
    return {
        "kind": "descriptordos",
        "description": "shell data of the DescriptorDOS reference implementation (input of thermograd fit)",
        "format": "DescriptorDOS " + ("npz" if path.suffix.lower() == ".npz" else "pickle"),
        "format_version": None,
        "size": {
            "data_sets": len(sets),
            "atoms": sorted({s["n_atoms"] for s in sets}),
            "descriptor_dimension": dims[0] if len(dims) == 1 else dims,
            "shells": sum(len(s["shells"]) for s in sets),
        },
        "data_sets": sets,
        "unfinished": unfinished,
        "problems": problems,
        "provenance": {"note": "DescriptorDOS shell data store no creation time, versions or seed"},
    }
