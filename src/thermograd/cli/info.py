"""Show what a thermograd file holds, without changing it.

FILE is a campaign (``thermograd sample``), a tilt file (``thermograd tilt``), a model (``thermograd fit``),
a ``.snapcoeff`` coefficient file or DescriptorDOS shell data (``.npz``). Printed: what the file is and its
format version; its size (atoms, descriptor dimension, phases and strains, shells with temperatures and sample
counts); whether it is complete, and if not which references, shells or chunks are unfinished; and its
provenance (creation time, thermograd and LAMMPS versions, config hash, seed). The file is opened read-only.
Exit status 0 for a readable file (complete or not), 2 for a missing, foreign or damaged one.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="campaign, tilt or model file (.h5), .snapcoeff, or DescriptorDOS .npz")
    p.add_argument("--json", action="store_true", help="print everything as one JSON object")
    p.add_argument(
        "--shells", action="store_true", help="campaigns: one line per shell (temperature, samples, chunks)"
    )


def run(args: argparse.Namespace) -> int:
    import json

    from ..fileinfo import describe

    info = describe(args.file)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        print(render(info, all_shells=args.shells))
    return 0


# -- text rendering ------------------------------------------------------------------------------------------
def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _counts(values: list) -> str:
    """``"40"`` for equal values, ``"12–40"`` for a range, ``"?"`` for none."""
    values = [v for v in values if v is not None]
    if not values:
        return "?"
    lo, hi = min(values), max(values)
    return f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}"


def _temps(T: list) -> str:
    T = [t for t in T if t is not None]
    if not T:
        return "no shells"
    if len(T) <= 6:
        return ", ".join(f"{t:g}" for t in T) + " K"
    return f"{min(T):g}–{max(T):g} K"


def _prov_lines(p: dict) -> list[str]:
    parts = []
    if p.get("created"):
        parts.append(f"created {p['created']}")
    vers = [
        f"{name} {p[key]}"
        for key, name in (
            ("thermograd_version", "thermograd"),
            ("lammps_version", "LAMMPS"),
            ("numpy_version", "numpy"),
            ("h5py_version", "h5py"),
            ("torch_version", "PyTorch"),
        )
        if p.get(key)
    ]
    if vers:
        parts.append(", ".join(vers))
    ids = []
    for key in ("config_hash", "campaign_config_hash"):
        if p.get(key):
            ids.append(f"{key.replace('_', ' ')} {p[key]}")
    if p.get("seed") is not None:
        ids.append(f"seed {p['seed']}")
    return ["; ".join(parts)] + (["; ".join(ids)] if ids else [])


def render(info: dict, *, all_shells: bool = False, max_lines: int = 20) -> str:
    """A terminal summary of :func:`describe`'s dict (``all_shells``: one line per shell)."""
    lines = [str(info["path"])]
    fv = f", format version {info['format_version']}" if info.get("format_version") is not None else ""
    lines.append(f"  what:       {info['description']} [{info['format']}{fv}], {_mb(info['file_bytes'])}")
    size, kind = info["size"], info["kind"]

    def add(label: str, texts: list[str]) -> None:
        for i, t in enumerate(t for t in texts if t):
            lines.append(f"  {label if i == 0 else '':<11} {t}")

    if kind == "campaign":
        pr = info["progress"]
        raw = {True: "; raw samples kept", False: "; no raw samples"}.get(size["raw_samples_kept"], "")
        add(
            "size:",
            [
                f"{len(size['phases'])} phase(s) ({', '.join(map(str, size['phases']))}) × "
                f"{len(size['strains'])} strain(s) ({', '.join(f'{s:g}' for s in size['strains'])}) = "
                f"{size['references']} reference(s); {_counts(size['atoms'])} atoms; "
                f"descriptor dimension {size['descriptor_dimension'] or '?'}",
                f"{len(size['shell_temperatures_K'])} shells ({_temps(size['shell_temperatures_K'])}), "
                f"{size['samples_per_shell']} samples per shell in chunks of {size['chunk_size']}{raw}",
            ],
        )
        state = "complete" if info["complete"] else "INCOMPLETE"
        add(
            "status:",
            [
                f"{state}: references {pr['references_done']}/{pr['references']}, shells "
                f"{pr['shells_done']}/{pr['shells']}, chunks {pr['chunks_done']}/{pr['chunks']}, samples "
                f"{pr['samples_done']}/{pr['samples']}"
            ],
        )
        for r in info["references"]:
            done = sum(s["finished"] for s in r["shells"])
            strain = f"{r['strain']:g}" if r.get("strain") is not None else "?"
            extra = f", {r['n_atoms']} atoms" if r.get("n_atoms") else ""
            if r.get("E_0_eV_per_atom") is not None:
                extra += f", E_0 {r['E_0_eV_per_atom']:.6f} eV/atom"
            add(
                "",
                [f"  {r['phase']} strain {strain}: {r['status']}, shells {done}/{len(r['shells'])}{extra}"],
            )
            if all_shells:
                for s in r["shells"]:
                    add(
                        "",
                        [
                            f"      shell {s['index']:03d} {s['T_K']:>9.6g} K  samples "
                            f"{s['samples_done']}/{s['samples']}  chunks {s['chunks_done']}/{s['chunks']}"
                            f"  {'finished' if s['finished'] else 'unfinished'}"
                        ],
                    )
    elif kind == "tilt":
        add(
            "size:",
            [
                f"phase {size['phase']} strain index {size['strain_index']}, tilted toward T = "
                f"{size['T_tilt_K']:g} K; descriptor dimension {size['descriptor_dimension']}; "
                f"ladder λ = {size['lambdas']}, {size['n_chains']} chains",
                f"shells {size['shells_done']}/{size['shells']} finished: "
                + ", ".join(
                    f"{s['index']:03d} ({s['T_K']:g} K, {sum(s['samples_per_rung'])} samples)"
                    for s in info["shells"]
                ),
            ],
        )
        add("status:", ["complete" if info["complete"] else "INCOMPLETE"])
        p = info["provenance"]
        found = "" if p["campaign_found"] else " (not found now)"
        add("campaign:", [f"{p['campaign']}{found}"])
    elif kind == "model":
        desc = info.get("descriptor") or {}
        dkind = f" ({desc.get('kind')})" if isinstance(desc, dict) and desc.get("kind") else ""
        n = size["samples_per_shell"]
        add(
            "size:",
            [
                f"phase {size['phase']}, {size['n_atoms']} atoms, strain {size['strain']:g}, descriptor "
                f"dimension {size['descriptor_dimension']}{dkind}",
                f"{size['shells']} shells ({_temps(size['shell_temperatures_K'])}), "
                + f"{_counts(n)} samples per shell"
                + f"; score order K = {size['order']} (model-error order {size['alt_order']})",
            ],
        )
        add("status:", ["complete" if info["complete"] else "DAMAGED"])
    elif kind == "snapcoeff":
        add(
            "size:",
            [
                f"elements {', '.join(size['elements'])}; {size['coefficients_per_element']} coefficients "
                f"per element (β_0 + {size['descriptor_dimension']}): {size['layout']}"
            ],
        )
    elif kind == "descriptordos":
        add(
            "size:",
            [
                f"{d['name']}: {d['n_atoms']} atoms, descriptor dimension {d['descriptor_dimension']}, strain "
                f"{d['strain']:g}, {len(d['shells'])} shells ({_temps([s['T_K'] for s in d['shells']])}), "
                f"{_counts([s['samples'] for s in d['shells']])} samples per shell"
                for d in info["data_sets"]
            ],
        )
        add("status:", ["complete" if info["complete"] else "INCOMPLETE"])
    for label, items in (
        ("unfinished:", info["unfinished"]),
        ("problems:", info["problems"]),
        ("notes:", info.get("notes", [])),
    ):
        shown = items[:max_lines]
        if len(items) > max_lines:
            shown.append(f"… and {len(items) - max_lines} more (--json lists all)")
        add(label, shown)
    p = info["provenance"]
    if kind == "model":
        source = p.get("source") or p.get("source_file")
        fitted = (
            [f"fitted from {source}" + (f" ({p['format']})" if p.get("format") else "")] if source else []
        )
        sampled = _prov_lines(p)
        written = _prov_lines(p.get("model_file") or {})[0]
        add(
            "provenance:",
            [
                *fitted,
                f"model file: {written}" if written else "",
                f"sampling data: {sampled[0]}" if sampled[0] else "",
                *sampled[1:],
            ],
        )
    elif kind in ("campaign", "tilt"):
        add("provenance:", _prov_lines(p))
        for h in p.get("grown") or []:
            add("", [f"grown on {h['replaced']}: {h['change']}"])
        if kind == "campaign" and p.get("potential"):
            pot = ", ".join(f"{k} {v}" for k, v in p["potential"].items())
            add("", [f"reference potential: {pot}"])
    elif p.get("comments"):
        add("comments:", p["comments"][:max_lines])
    elif p.get("note"):
        add("provenance:", [p["note"]])
    return "\n".join(lines)
