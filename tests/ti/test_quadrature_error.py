"""The Gauss–Legendre quadrature-error estimate of λ-TI and the adaptive rule (engine-free).

The estimate is checked against the rule's true error on integrands whose integral is known in closed form;
the adaptive driver runs on :class:`AnalyticIntegrand`, a TI system whose ⟨∂U/∂λ⟩(λ) is a chosen function
plus independent Gaussian noise of known size, so both the quadrature error and the statistics are known.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from thermograd.config import validate_model
from thermograd.errors import ConfigError, InputError
from thermograd.ti.config import TIRunConfig
from thermograd.ti.journal import TaskJournal
from thermograd.ti.lambda_ti import run_lambda_ti
from thermograd.ti.quadrature import gauss_legendre, gauss_legendre_error, legendre_spectrum
from thermograd.ti.system import TISystem, Trace
from thermograd.ti.workflow import run_ti_workflow

T = 500.0
CALLS: Counter = Counter()


class AnalyticIntegrand:
    """A TI system whose λ-TI integrand is ``a/(λ + d) + b·λ`` eV/atom exactly, sampled with independent
    Gaussian noise of ``noise`` eV/atom per step (the Hessian is a spring network's: F_h is real)."""

    def __init__(self, hessian, a=0.01, d=0.15, b=0.0, noise=2e-5):
        self._h, self.a, self.d, self.b, self.noise = np.asarray(hessian), a, d, b, noise

    def integrand(self, lam):
        return self.a / (lam + self.d) + self.b * lam

    def exact(self) -> float:
        """∫₀¹ of the integrand, eV/atom."""
        return self.a * math.log((1 + self.d) / self.d) + 0.5 * self.b

    n_atoms = property(lambda self: self._h.shape[0] // 3)
    mass = property(lambda self: 55.85)
    volume = property(lambda self: 7.5**3)

    def fingerprint(self):
        return {"analytic": repr((self.a, self.d, self.b, self.noise, self._h.sum()))}

    def energy(self):
        return 0.0

    def hessian(self):
        return self._h

    def lambda_samples(self, lam, T, hessian, energy_offset, n_equil, n_prod, seed):
        CALLS[float(lam)] += 1
        z = np.random.default_rng(seed).standard_normal(n_prod)
        return Trace(np.full(n_prod, lam), self.n_atoms * (self.integrand(lam) + self.noise * z), 0.0)

    def msd(self, T, n_equil, n_steps, seed):  # pragma: no cover - not used here
        raise NotImplementedError

    fl_switch = rs_switch = msd


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    yield
    CALLS.clear()


def _pole(d, sign=1.0):
    """1/(λ + d) (sign +1) or 1/(1 + d − λ) (sign −1) and its exact integral ln((1 + d)/d)."""
    if sign > 0:
        return (lambda lam: 1.0 / (lam + d)), math.log((1 + d) / d)
    return (lambda lam: 1.0 / (1 + d - lam)), math.log((1 + d) / d)


def _true_error(f, exact, n):
    lam, w = gauss_legendre(n)
    return abs(float(w @ f(lam)) - exact)


# ------------------------------------------------------------------------------------------ the estimate
@pytest.mark.parametrize("d, sign", [(0.1, 1), (0.3, 1), (1.0, 1), (0.2, -1)])
def test_estimate_is_of_the_order_of_the_true_error_for_a_pole(d, sign):
    """Real pole at distance d: the rule's error falls as ρ^−2n. Accepted: 1 ≤ estimate/true ≤ 6, since
    the pair envelope stands one index early and so is high by about the Bernstein parameter ρ (1.9–3.7
    for these poles; measured ratios 2.3–3.4 for n = 4–10): the right order and on the safe side."""
    f, exact = _pole(d, sign)
    for n in range(4, 11):
        lam, _ = gauss_legendre(n)
        ratio = gauss_legendre_error(f(lam)) / _true_error(f, exact, n)
        assert 1.0 <= ratio <= 6.0, (d, sign, n, ratio)


def test_estimate_on_a_harmonic_to_harmonic_integrand():
    """Σ_l c_l/(1 + λc_l) is the λ-TI integrand between two harmonic crystals (per mode, in k_BT/2), with
    poles at −1/c_l; ∫ = Σ ln(1 + c_l). Accepted within a factor 3 either way for n = 5–10 (measured
    0.7–1.5): several poles of different distance make the spectrum only roughly geometric."""
    cs = (-0.5, -0.3, 0.4, 0.9, 2.0)

    def f(lam):
        return sum(c / (1 + lam * c) for c in cs)

    exact = sum(math.log1p(c) for c in cs)
    for n in range(5, 11):
        lam, _ = gauss_legendre(n)
        ratio = gauss_legendre_error(f(lam)) / _true_error(f, exact, n)
        assert 1 / 3 <= ratio <= 3.0, (n, ratio)


def test_estimate_is_conservative_for_an_entire_integrand():
    """e^{5λ}: coefficients fall faster than geometrically, so the estimate is high (never low)."""
    exact = (math.exp(5.0) - 1) / 5
    for n in range(4, 9):
        lam, _ = gauss_legendre(n)
        assert gauss_legendre_error(np.exp(5 * lam)) >= _true_error(lambda x: np.exp(5 * x), exact, n)


def test_estimate_vanishes_for_low_degree_polynomials():
    """Degree ≤ n − 3: the top pair of coefficients is zero, so no quadrature error is estimated (the rule
    is exact). A symmetric integrand (odd coefficients zero) is not mistaken for a converged one."""
    rng = np.random.default_rng(0)
    for n in (5, 7, 9):
        lam, _ = gauss_legendre(n)
        coeffs = rng.normal(size=n - 2)  # degree n − 3
        v = np.polynomial.polynomial.polyval(lam, coeffs)
        assert gauss_legendre_error(v) < 1e-12 * np.max(np.abs(v)), n
        assert gauss_legendre_error(np.zeros(n)) == 0.0
        sym = 1.0 / (1 + 3 * (lam - 0.5) ** 2)  # poles at ½ ± i/√3
        assert gauss_legendre_error(sym) > 1e-3 * _true_error(
            lambda x: 1.0 / (1 + 3 * (x - 0.5) ** 2), 2 / math.sqrt(3) * math.atan(math.sqrt(3) / 2), n
        )
    assert math.isnan(gauss_legendre_error(np.ones(2)))


def test_estimate_of_a_noisy_polynomial_is_zero_within_statistics():
    """Quadratic + independent noise σ_i: the estimate exceeds the integral's statistical error in at most
    5 % of 300 draws (a pair counts as resolved above 2σ, a ~5 % event for noise; measured 0 %)."""
    rng = np.random.default_rng(1)
    for n in (5, 7):
        lam, w = gauss_legendre(n)
        v = 1 + 2 * lam - 3 * lam**2
        sig = np.full(n, 1e-3)
        sigma_f = math.sqrt(float(np.sum((w * sig) ** 2)))
        est = [gauss_legendre_error(v + sig * rng.standard_normal(n), sig) for _ in range(300)]
        assert np.mean(np.array(est) > sigma_f) <= 0.05, n


def test_spectrum_errors_propagate():
    lam, w = gauss_legendre(4)
    c, s = legendre_spectrum(lam, np.full(4, 0.1))
    assert np.allclose(c, [0.5, 0.5, 0.0, 0.0], atol=1e-14)  # λ = ½P_0 + ½P_1(2λ − 1)
    assert np.isclose(s[0], 0.1 * math.sqrt(np.sum(w**2)))  # σ of the integral
    with pytest.raises(InputError):
        legendre_spectrum(np.ones(3), np.ones(2))


# ------------------------------------------------------------------------------------- the λ-TI driver
def test_result_reports_the_quadrature_error_separately(network):
    _, h = network
    system = AnalyticIntegrand(h)
    assert isinstance(system, TISystem)
    res = run_lambda_ti(system, T, n_points=5, n_equil=0, n_prod=400, seed=3, hessian=h)
    assert res.n_points == 5 and len(res.quadrature_history) == 1 and res.settings["adaptive"] is False
    lam = np.array([p.lam for p in res.points])
    true = abs(res.F_anh - system.exact())  # statistics ≪ quadrature error here
    assert true > 10 * res.F_error
    assert 1.0 <= res.F_quadrature_error / true <= 6.0  # the pole's tolerance above
    assert res.F_quadrature_error == gauss_legendre_error(
        [p.mean for p in res.points], [p.error for p in res.points]
    )
    assert res.quadrature_converged is False and "adaptive quadrature off" in res.quadrature_flag
    d = res.to_dict()
    assert d["F_quadrature_error"] == res.F_quadrature_error and d["quadrature_flag"] == res.quadrature_flag
    assert sorted(CALLS) == sorted(lam.tolist())
    # fewer than 3 points: no estimate (JSON null), not a crash
    two = run_lambda_ti(system, T, n_points=2, n_equil=0, n_prod=100, seed=3, hessian=h)
    assert math.isnan(two.F_quadrature_error) and two.to_dict()["F_quadrature_error"] is None
    assert two.quadrature_converged is None and "needs >= 3" in two.quadrature_flag


def test_adaptive_adds_points_until_the_estimate_is_below_the_statistical_error(network):
    """a/(λ + 0.15): the 5- and 7-point rules are off by ≫ σ, the 9-point one by < σ. The loop must add
    points while the estimate exceeds σ and stop at the first rule where it does not; only λ = ½ is shared
    between the (odd) rules."""
    _, h = network
    system = AnalyticIntegrand(h)
    res = run_lambda_ti(system, T, n_points=5, n_equil=0, n_prod=400, seed=3, hessian=h, adaptive=True)
    hist = res.quadrature_history
    assert [e["n_points"] for e in hist] == list(range(5, res.n_points + 1, 2)) and len(hist) >= 2
    assert all(e["F_quadrature_error"] > e["F_anh_error"] for e in hist[:-1])
    assert hist[-1]["F_quadrature_error"] <= hist[-1]["F_anh_error"] == res.F_error
    assert res.quadrature_converged is True and res.quadrature_flag is None
    assert abs(res.F_anh - system.exact()) < 4 * res.F_error  # converged in λ and in statistics
    assert abs(hist[0]["F_anh"] - system.exact()) > 10 * hist[0]["F_anh_error"]  # the 5-point rule was not
    assert [e["points_reused"] for e in hist] == [0] + [1] * (len(hist) - 1)
    assert sum(CALLS.values()) == len(CALLS) == 5 + sum(e["n_points"] - 1 for e in hist[1:])
    assert res.md_steps == len(CALLS) * 400
    # the midpoint's samples (and seed) are the first rule's, the others' seeds are all distinct
    seeds = [p.seed for p in res.points]
    assert len(set(seeds)) == len(seeds)


def test_adaptive_stops_at_once_when_the_first_rule_is_converged(network):
    _, h = network
    system = AnalyticIntegrand(h, a=0.0, b=0.02)  # linear: the rule is exact
    fixed = run_lambda_ti(system, T, n_points=5, n_equil=0, n_prod=400, seed=3, hessian=h)
    CALLS.clear()
    res = run_lambda_ti(system, T, n_points=5, n_equil=0, n_prod=400, seed=3, hessian=h, adaptive=True)
    assert res.n_points == 5 and len(res.quadrature_history) == 1 and res.quadrature_converged is True
    assert sum(CALLS.values()) == 5
    assert res.F == fixed.F and res.points == fixed.points  # the first rule is the non-adaptive run


def test_adaptive_flags_a_rule_that_reaches_max_points(network):
    _, h = network
    system = AnalyticIntegrand(h, d=0.02, noise=1e-6)  # a pole 0.02 from λ = 0
    res = run_lambda_ti(
        system, T, n_points=3, n_equil=0, n_prod=200, seed=3, hessian=h, adaptive=True, max_points=8
    )
    assert [e["n_points"] for e in res.quadrature_history] == [3, 5, 7] and res.n_points == 7
    assert res.quadrature_converged is False
    assert "exceeds the statistical error" in res.quadrature_flag and "max_points = 8" in res.quadrature_flag
    assert res.F_quadrature_error > res.F_error


def test_adaptive_bad_settings_are_refused(network):
    _, h = network
    system = AnalyticIntegrand(h)
    for n, top in ((2, 11), (7, 5)):
        with pytest.raises(InputError, match="adaptive λ quadrature needs 3 <= n_points <= max_points"):
            run_lambda_ti(system, T, n_points=n, hessian=h, adaptive=True, max_points=top)
    assert not CALLS
    base = {
        "structure": {"builder": "bcc", "element": "Fe", "a": 2.855, "size": 2},
        "potential": {"eam": "Fe_mm.eam.fs", "elements": ["Fe"]},
        "temperatures": [T],
    }
    with pytest.raises(ConfigError, match="adaptive λ quadrature needs"):
        validate_model(TIRunConfig, {**base, "lambda_ti": {"adaptive": True, "n_points": 2}})
    cfg = validate_model(TIRunConfig, base)
    assert cfg.lambda_ti.adaptive is False and cfg.lambda_ti.max_points == 11


def test_adaptive_workflow_resumes_from_its_journal(network, tmp_path):
    """A rerun of an adaptive run file takes every rule's points from the journal and gives the same
    numbers bit for bit."""
    _, h = network
    system = AnalyticIntegrand(h)
    cfg = validate_model(
        TIRunConfig,
        {
            "structure": {"builder": "bcc", "element": "Fe", "a": 2.855, "size": 2},  # unused: system given
            "potential": {"eam": "Fe_mm.eam.fs", "elements": ["Fe"]},
            "temperatures": [T],
            "methods": ["lambda"],
            "lambda_ti": {"n_points": 5, "n_equil": 0, "n_prod": 400, "adaptive": True, "max_points": 11},
        },
    )
    path = tmp_path / "j.ti-journal.jsonl"
    first = run_ti_workflow(cfg, system=system, journal=path)
    n_tasks = sum(CALLS.values())
    assert first.complete and first.lambda_ti[T].n_points > 5 and first.tasks_computed == n_tasks
    CALLS.clear()
    again = run_ti_workflow(cfg, system=system, journal=path)
    assert sum(CALLS.values()) == 0 and again.tasks_reused == n_tasks
    assert again.to_dict()["lambda_ti"] == first.to_dict()["lambda_ti"]
    with TaskJournal.open(path, system.fingerprint()) as tj:
        assert len(tj) == n_tasks
