"""Workflows: quadrature, 0 K λ-integration (two routes to one number), lattice matching, Vegard plot."""

from __future__ import annotations

import numpy as np
import pytest

from thermograd.alchemy.system import substitution
from thermograd.alchemy.workflows import (
    LatticeScan,
    lambda_integration_0k,
    match_lattice,
    plot_series,
    plot_vegard,
    quadrature,
)


@pytest.mark.parametrize(("n", "rule", "degree"), [(4, "gauss-legendre", 7), (3, "trapezoid", 1)])
def test_quadrature_exact_for_polynomials(n, rule, degree):
    t, w = quadrature(n, rule)
    for k in range(degree + 1):
        assert np.dot(w, t**k) == pytest.approx(1.0 / (k + 1))


def test_vegard_deviation_and_plot(tmp_path):
    x = np.linspace(0, 0.5, 6)
    a = 5.467 - 0.31 * x - 0.01 * x * (0.5 - x)  # concave bowing
    scan = LatticeScan(
        x, np.repeat(a[:, None], 3, axis=1), np.zeros(6), np.zeros(6), np.ones(6, bool), "test"
    )
    dev = scan.vegard_deviation()
    assert dev[0] == pytest.approx(0) and dev[-1] == pytest.approx(0) and dev[2] < 0
    assert plot_vegard([scan], tmp_path / "v.png").stat().st_size > 0


def test_plot_series_writes_the_file_and_closes_its_figure(tmp_path):
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    path = plot_series([3.0, 1.0, 0.2], tmp_path / "loss.svg", xlabel="step", ylabel="loss (GPa²)", logy=True)
    text = path.read_text()
    assert text.lstrip().startswith("<?xml") and "loss (GPa²)" in text  # format from the suffix, labels kept
    assert plt.get_fignums() == open_before  # no figure left open
    assert plot_series([1.0, 2.0], tmp_path / "d.png", xlabel="t", ylabel="dE/dt", x=[0.1, 0.9]).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.png", "loss.svg"]  # no temporary file left


def _nacl_system(atoms, lam=(1.0, 0.0)):
    na = [i for i, s in enumerate(atoms.get_chemical_symbols()) if s == "Na"]
    return substitution(atoms, na, ["Na", "K"], lam)


@pytest.mark.mlip
def test_unrelaxed_integration_matches_direct_difference(sevennet64, nacl8):
    """∫ ∂E/∂λ·dλ from NaCl to KCl (fixed geometry) equals E(KCl) − E(NaCl)."""
    res = lambda_integration_0k(
        _nacl_system(nacl8), [1.0, 0.0], [0.0, 1.0], sevennet64, n_points=4, relax_positions=False
    )
    assert res.integral == pytest.approx(res.direct, abs=5e-3)
    assert abs(res.direct) > 1.0


@pytest.mark.mlip
@pytest.mark.slow
def test_lattice_matching_nakcl(sevennet32, nacl8):
    """Na1-xKxCl matched to a = 6.000 Å: x ≈ 0.355 (spec §8.2, measured on SevenNet-0)."""
    res = match_lattice(
        _nacl_system(nacl8, (0.999, 0.001)), sevennet32, a=6.0, lr=5e-3, max_steps=60, tol=1e-4
    )
    assert res.converged
    assert res.lam[1] == pytest.approx(0.355, abs=0.005)
