"""The package's layers, read from the source (every import, module level or inside functions).

* no import cycle between the package's parts (sub-packages and top-level modules);
* ``ti/`` and ``alchemy/`` do not import ``ddos/`` (shared inputs live in ``thermograd.systems``);
* ``thermo/`` consumes only the free-energy protocol (``thermograd.free_energy``), not a D-DOS route;
* ``io/`` (file formats) imports no workflow; test doubles (``thermograd.testing``) are imported by no part of
  the library;
* no module over 600 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "thermograd"
WORKFLOWS = {"ddos", "ti", "alchemy", "thermo", "cli", "demo", "testing"}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> dict[str, dict[str, set[str]]]:
    """part → imported part → files."""
    graph: dict[str, dict[str, set[str]]] = {}
    for path in SRC.rglob("*.py"):
        rel = list(path.relative_to(SRC.parent).with_suffix("").parts)
        package = rel[:-1]  # the package a relative import starts from (also for an __init__)
        me = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[: len(package) - (node.level - 1)]
                if node.module:
                    targets.append(".".join([*base, node.module]))
                else:
                    targets += [".".join([*base, a.name]) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("thermograd"):
                targets.append(node.module)
            elif isinstance(node, ast.Import):
                targets += [a.name for a in node.names if a.name.startswith("thermograd")]
            for t in targets:
                a, b = _part(me), _part(t)
                if a != b:
                    graph.setdefault(a, {}).setdefault(b, set()).add(str(path.relative_to(SRC)))
    return graph


GRAPH = _imports()


def test_the_graph_is_read():
    """Guard for the reader itself: known edges are found."""
    assert "free_energy" in GRAPH["thermo"] and "ddos" in GRAPH["cli"] and "io" in GRAPH["ddos"]


def test_no_import_cycle_between_parts():
    def path_back(start, goal, seen):
        for nxt in GRAPH.get(start, {}):
            if nxt == goal:
                return [start, nxt]
            if nxt not in seen:
                seen.add(nxt)
                rest = path_back(nxt, goal, seen)
                if rest:
                    return [start, *rest]
        return None

    for a, targets in GRAPH.items():
        for b in targets:
            cycle = path_back(b, a, {b})
            assert cycle is None, f"cycle {a} -> {' -> '.join(cycle)} (from {sorted(targets[b])})"


@pytest.mark.parametrize(
    "part, forbidden",
    [
        ("ti", {"ddos", "alchemy", "thermo", "cli", "demo", "testing"}),
        ("alchemy", {"ddos", "ti", "thermo", "cli", "demo", "testing"}),
        ("thermo", {"ddos", "ti", "alchemy", "cli", "demo", "testing"}),
        ("io", WORKFLOWS),
        ("engines", WORKFLOWS),
        ("md", WORKFLOWS),
        ("free_energy", WORKFLOWS),
        ("systems", WORKFLOWS),
    ],
)
def test_layer_does_not_import(part, forbidden):
    bad = {k: sorted(v) for k, v in GRAPH.get(part, {}).items() if k in forbidden}
    assert not bad, f"{part} imports {bad}"


def test_test_doubles_are_not_imported_by_the_library():
    users = {a: sorted(t["testing"]) for a, t in GRAPH.items() if "testing" in t}
    assert not users, users


def test_no_module_over_600_lines():
    long = {
        str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 600
    }
    assert not long, long
