"""``examples/ddos_fe_transition.py`` runs on the published Fe shell data and does what its docstring says:
T_c of X_Fe flagged (beyond the 2000 K shells), the tuned T_c at the 1063 K target (the tuner's own 1 K
convergence criterion) with the 0 K difference held to round-off, and the 'cell' convention named."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from thermograd.thermo.tune import TC_TOLERANCE

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ddos_fe_transition.py"


def test_fe_transition_example(fe_shells):
    spec = importlib.util.spec_from_file_location("ddos_fe_transition", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main(fe_shells)
    assert out["convention"] == "cell" and out["route"].startswith("score model")
    assert out["Tc_flagged"] and 1800.0 < out["Tc"] < 2100.0
    assert out["tuned_converged"] and abs(out["Tc_tuned"] - 1063.0) <= TC_TOLERANCE
    assert abs(out["dE0_change"]) < 1e-12 and 0 < out["relative_change"] < 0.01
    assert all(s > 0 for s in out["F_bcc_error_eV"])
