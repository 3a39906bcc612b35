"""Inverse design of a transition temperature."""

from __future__ import annotations

import numpy as np
import pytest

from thermograd.ddos.estimators.model import DDOSModel
from thermograd.ddos.importers import load_descriptordos
from thermograd.errors import InputError
from thermograd.io.snap import read_snapcoeff
from thermograd.thermo.transition import transition_temperature
from thermograd.thermo.tune import tune_transition


@pytest.fixture(scope="module")
def fe(fe_shells):
    models = [DDOSModel.fit(load_descriptordos(fe_shells / f"{p}.npz")[0], order=2) for p in ("bcc", "fcc")]
    return models, read_snapcoeff(fe_shells / "X_Fe.snapcoeff").theta()


def test_fe_tune_to_1063(fe):
    """1950 K → 1063 ± 10 K with θ·ΔD_0 fixed to 1e-6 eV and |Δθ|/|θ| < 1 % (reference: 0.25 %)."""
    (bcc, fcc), theta = fe
    res = tune_transition(bcc, fcc, theta, 1063.0, keep=("0K-difference",))
    assert abs(res.Tc_initial - 1950.0) < 40.0
    assert abs(res.Tc - 1063.0) < 10.0
    assert abs(res.dE0_change) < 1e-6
    assert res.relative_change < 0.01
    assert res.loss_history[-1] < res.loss_history[0]
    # independent check of the tuned θ
    check = transition_temperature(bcc, fcc, res.theta, np.linspace(500.0, 2500.0, 41))
    assert check.Tc == pytest.approx(res.Tc, abs=1.0)
    assert not check.flagged_at_Tc


def test_fe_tune_keep_both_constraints(fe):
    (bcc, fcc), theta = fe
    res = tune_transition(bcc, fcc, theta, 1300.0, keep=("0K-difference", "lattice-energy"))
    assert abs(res.Tc - 1300.0) < 10.0
    assert abs((res.theta - theta) @ bcc.D_0) < 1e-6
    assert abs(res.dE0_change) < 1e-6


def test_bad_input(fe):
    (bcc, fcc), theta = fe
    with pytest.raises(InputError):
        tune_transition(bcc, fcc, theta, -5.0)
    with pytest.raises(InputError):
        tune_transition(bcc, fcc, theta[:-1], 1063.0)
    with pytest.raises(InputError, match="constraint"):
        tune_transition(bcc, fcc, theta, 1063.0, keep=("volume",))
