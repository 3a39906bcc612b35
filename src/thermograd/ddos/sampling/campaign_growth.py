"""Which changes of a run file an existing campaign file can absorb, and which it must refuse.

A campaign's samples are determined by its *identity*: the seed, the reference potential and descriptor (by
file content, not path), the Hessian settings, the chunk size and each phase's structure. Its *extent* (which
phases, strains and shells, how many samples per shell) may grow: every chunk is seeded by the values of its
key (phase, strain, shell temperature, chunk index), not by positions in the run file, so a chunk sampled
for a 4-shell campaign is the same chunk in an 8-shell one and is reused. The sketch settings (percentile,
bins, raw samples kept) are recomputed from the stored chunks without new sampling.

:func:`compare` takes two canonical descriptions (:meth:`CampaignConfig.canonical`) and returns a
:class:`CampaignChange`; a refused change names every key that differs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

__all__ = ["CampaignChange", "compare"]

IDENTITY_KEYS = ("seed", "potential", "descriptor", "hessian", "chunk_size", "files")
SKETCH_KEYS = ("percentile", "n_bins", "keep_raw")
EXTENT_KEYS = ("phases", "strains", "shells", "samples_per_shell")


@dataclass
class CampaignChange:
    """What a new run file changes in an existing campaign.

    Attributes:
        refused: one entry per key that cannot change (``"seed: 1 → 2"``) or shrinks (``"shells: 300.0 K
            removed"``); empty when the file can be resumed.
        grown: what the run file adds (phases, strains, shells, samples).
        resketch: the sketch settings changed: every shell's sketch is recomputed from its chunks.
    """

    refused: list[str] = field(default_factory=list)
    grown: list[str] = field(default_factory=list)
    resketch: bool = False

    @property
    def unchanged(self) -> bool:
        return not (self.refused or self.grown or self.resketch)


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "…"


def _diff(a, b, prefix: str) -> list[str]:
    """Dotted keys where two JSON values differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in a:
                out.append(f"{name}: (unset) → {_short(b[key])}")
            elif key not in b:
                out.append(f"{name}: {_short(a[key])} → (unset)")
            else:
                out += _diff(a[key], b[key], name)
        return out
    return [] if a == b else [f"{prefix}: {_short(a)} → {_short(b)}"]


def _numbers(values) -> str:
    return ", ".join(f"{v:g}" for v in values)


def compare(stored: dict, new: dict) -> CampaignChange:
    """Compare the canonical description of a stored campaign with that of a run file."""
    change = CampaignChange()
    for key in IDENTITY_KEYS:
        change.refused += _diff(stored.get(key), new.get(key), key)
    old_phases = {p["name"]: p for p in stored.get("phases", [])}
    new_phases = {p["name"]: p for p in new.get("phases", [])}
    for name, phase in old_phases.items():
        if name not in new_phases:
            change.refused.append(f"phases: phase {name!r} removed")
        else:
            change.refused += _diff(phase, new_phases[name], f"phases[{name}]")
    added = [n for n in new_phases if n not in old_phases]
    if added:
        change.grown.append(f"phases {', '.join(added)} added")
    for key, unit in (("strains", ""), ("shells", " K")):
        old, cur = set(stored.get(key, [])), set(new.get(key, []))
        if old - cur:
            change.refused.append(f"{key}: {_numbers(sorted(old - cur))}{unit} removed")
        if cur - old:
            change.grown.append(f"{key} {_numbers(sorted(cur - old))}{unit} added")
    n_old, n_new = stored.get("samples_per_shell"), new.get("samples_per_shell")
    if n_old != n_new:
        if n_old is not None and n_new is not None and n_new > n_old:
            change.grown.append(f"samples_per_shell {n_old} → {n_new}")
        else:
            change.refused.append(f"samples_per_shell: {n_old} → {n_new} (a campaign can only grow)")
    for key in SKETCH_KEYS:
        if stored.get(key) != new.get(key):
            change.resketch = True
    known = set(IDENTITY_KEYS) | set(SKETCH_KEYS) | set(EXTENT_KEYS)
    for key in sorted((set(stored) | set(new)) - known):
        change.refused += _diff(stored.get(key), new.get(key), key)
    return change
