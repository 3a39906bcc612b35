"""G(θ, P, T), V*, B and α from free energies at several volumes, against an analytic model of F(θ, V, T).

The fake phase: F(θ, V, T) = θ_1 E_M(V) + 3k_BT ln(ħω(V)√θ_2 / k_BT) + θ_3 a T² (V/V_0)², with E_M the
Murnaghan equation of state (not a Birch–Murnaghan form, so the fit has a truncation error) and a Grüneisen
frequency ω(V) = ω_0 (V/V_0)^(−γ). The exact V* solves ∂F/∂V + P = 0 (brentq to 1e-14).

Tolerances (fit order): the cubic-in-V^(−2/3) fit of the exact F on the same nodes and weights (an independent
numpy fit) deviates from F by ΔF(V); to first order G − G_exact = ΔF(V*), V* − V*_exact = −ΔF'/F'' and
B − B_exact = V ΔF'' + (dB/dV) ΔV, so the bounds are twice the maxima of these over the sampled range.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from numpy.polynomial import Polynomial
from scipy.optimize import brentq

from thermograd.errors import InputError
from thermograd.free_energy import Coefficients, make_result
from thermograd.thermo.eos import OUTSIDE, gibbs_free_energy, transition_at_pressure
from thermograd.units import EV_PER_A3_TO_GPA, KB

THETA = np.array([1.0, 1.0, 1.0])
STRAINS = np.array([-0.01, 0.0, 0.01, 0.02, 0.03])
T_GRID = np.arange(300.0, 3001.0, 300.0)


class FakePhase:
    """An analytic FreeEnergyEstimator at one volume (see the module docstring); σ known, optional noise."""

    n_features = 3
    shell_range = (100.0, 4000.0)
    route = "analytic"

    def __init__(
        self,
        V,
        name="bcc",
        V0=16.0,
        B0=1.935,
        Bp=4.3,
        Ec=-8.9,
        hw=0.022,
        gamma=1.6,
        a=-1e-9,
        sigma=1e-4,
        seed=None,
        flag_k=None,
        with_volume=True,
    ):
        self.V, self.name, self.V0, self.B0, self.Bp, self.Ec = V, name, V0, B0, Bp, Ec
        self.hw, self.gamma, self.a, self.sigma, self.seed, self.flag_k = hw, gamma, a, sigma, seed, flag_k
        if with_volume:
            self.volume_per_atom = V
        self.D_0 = np.array([self.E(V), 0.0, 0.0])

    def E(self, V):
        x = (self.V0 / V) ** self.Bp
        return self.Ec + self.B0 * V / self.Bp * (x / (self.Bp - 1) + 1) - self.B0 * self.V0 / (self.Bp - 1)

    def F(self, th, V, T):
        hw = self.hw * (V / self.V0) ** (-self.gamma) * np.sqrt(th[1])
        return (
            th[0] * self.E(V)
            + 3 * KB * T * np.log(hw / (KB * T))
            + th[2] * self.a * T**2 * (V / self.V0) ** 2
        )

    def dF_dV(self, th, V, T):
        dE = self.B0 / self.Bp * (1 - (self.V0 / V) ** self.Bp)
        return th[0] * dE - 3 * KB * T * self.gamma / V + th[2] * self.a * T**2 * 2 * V / self.V0**2

    def d2F_dV2(self, th, V, T):
        d2E = self.B0 * (self.V0 / V) ** self.Bp / V
        return th[0] * d2E + 3 * KB * T * self.gamma / V**2 + th[2] * self.a * T**2 * 2 / self.V0**2

    def predict(self, coefficients, T, *, convention="ddos", with_grad=False, with_sigma=True):
        c = coefficients if isinstance(coefficients, Coefficients) else Coefficients.of(coefficients)
        T = np.atleast_1d(np.asarray(T, float))
        F = np.array([[self.F(th, self.V, t) for t in T] for th in c.theta])
        sig = np.full(F.shape, self.sigma)
        if self.seed is not None:
            F = F + sig * np.random.default_rng(self.seed).standard_normal(F.shape)
        E0 = c.theta @ self.D_0
        grad = np.stack(
            [
                np.stack(
                    [
                        np.broadcast_to(self.E(self.V), T.shape),
                        1.5 * KB * T / th[1],
                        self.a * T**2 * (self.V / self.V0) ** 2,
                    ],
                    -1,
                )
                for th in c.theta
            ]
        )
        code = np.zeros(F.shape, np.uint8)
        if self.flag_k is not None:
            code[:, self.flag_k] = 1
        return make_result(
            coefficients=c,
            T=T,
            F_anh=F - E0[:, None] - c.beta0[:, None],
            E0_theta=E0,
            F_h=np.zeros(T.size),
            sigma_stat=0.8 * sig,
            sigma_model=0.6 * sig,
            alpha_star=np.zeros(F.shape),
            T_star=np.zeros(F.shape),
            convention=convention,
            routes=("analytic",),
            flag_reasons=("", "shell edge"),
            flag_code=code,
            dF_dtheta=grad if with_grad else None,
            phase=self.name,
        )


def phases(strains=STRAINS, **kw):
    V0 = kw.get("V0", 16.0)
    return [FakePhase(V0 * (1 + e) ** 3, sigma=1e-4 * (1 + 0.5 * i), **kw) for i, e in enumerate(strains)]


def exact(ph, T, P=0.0, th=THETA):
    """Exact V*, G, B (GPa) of the analytic F."""
    p, Pe = ph[0], P / EV_PER_A3_TO_GPA
    V = brentq(lambda v: p.dF_dV(th, v, T) + Pe, 0.6 * p.V0, 1.4 * p.V0, xtol=1e-14)
    return V, p.F(th, V, T) + Pe * V, V * p.d2F_dV2(th, V, T) * EV_PER_A3_TO_GPA


def tolerances(ph, T, P=0.0):
    """Bounds on |ΔG|, |ΔV*|, |ΔB| from the cubic fit's truncation error (module docstring)."""
    p = ph[0]
    vols = np.array([q.V for q in ph])
    x = vols ** (-2 / 3)
    fit = Polynomial.fit(x, [p.F(THETA, v, T) for v in vols], 3, w=1 / np.array([q.sigma for q in ph]))
    Vf = np.linspace(vols[0], vols[-1], 2001)
    xf, x1, x2 = Vf ** (-2 / 3), -2 / 3 * Vf ** (-5 / 3), 10 / 9 * Vf ** (-8 / 3)
    d0 = np.abs(fit(xf) - p.F(THETA, Vf, T)).max()
    d1 = np.abs(fit.deriv()(xf) * x1 - p.dF_dV(THETA, Vf, T)).max()
    d2 = np.abs(fit.deriv(2)(xf) * x1**2 + fit.deriv()(xf) * x2 - p.d2F_dV2(THETA, Vf, T)).max()
    V = exact(ph, T, P)[0]
    tol_V = 2 * d1 / p.d2F_dV2(THETA, V, T)
    dB_dV = (p.d2F_dV2(THETA, V + 1e-4, T) * (V + 1e-4) - p.d2F_dV2(THETA, V - 1e-4, T) * (V - 1e-4)) / 2e-4
    tol_B = 2 * (V * d2 + abs(dB_dV) * tol_V / 2) * EV_PER_A3_TO_GPA
    return 2 * d0, tol_V, tol_B


@pytest.mark.parametrize("P", [0.0, 5.0])
def test_minimum_against_the_exact_one(P):
    ph = phases()
    res = gibbs_free_energy(ph, None, THETA, T_GRID, P)
    assert not res.flagged.any(), [res.reason(0, k) for k in range(T_GRID.size)]
    assert res.routes == ("analytic",) * len(ph) and res.fit == "birch3"
    for k, T in enumerate(T_GRID):
        V, G, B = exact(ph, T, P)
        tG, tV, tB = tolerances(ph, T, P)
        assert tG < 5e-5 and tV < 2e-4 * V and tB < 0.02 * B  # bounds tight enough to mean something
        assert abs(res.G[0, k] - G) <= tG
        assert abs(res.V[0, k] - V) <= tV
        assert abs(res.B[0, k] - B) <= tB
    assert np.all(np.diff(res.V[0]) > 0)  # expands on heating


def test_thermal_expansion():
    """α against the exact V* differenced on the same grid (bound: the V* bounds at T_{k±1}), and the
    first-order quasi-harmonic closed form α = 3k_Bγ/(V B) at 300–600 K (the T² anharmonic term and the
    T-dependence of B enter at the few-% level there)."""
    ph = phases()
    res = gibbs_free_energy(ph, None, THETA, T_GRID)
    Vx = np.array([exact(ph, T)[0] for T in T_GRID])
    tV = np.array([tolerances(ph, T)[1] for T in T_GRID])
    ref = np.gradient(Vx, T_GRID) / Vx
    bound = (tV[2:] + tV[:-2]) / (Vx[1:-1] * (T_GRID[2:] - T_GRID[:-2]))
    assert np.all(np.abs(res.alpha[0, 1:-1] - ref[1:-1]) <= bound)
    qh = 3 * KB * 1.6 / (res.V[0, :2] * res.B[0, :2] / EV_PER_A3_TO_GPA)
    assert res.alpha[0, :2] == pytest.approx(qh, rel=0.05)


def test_envelope_gradient_against_finite_differences():
    ph = phases()
    th = np.array([[1.0, 1.0, 1.0], [1.02, 0.9, 0.5]])
    res = gibbs_free_energy(ph, None, th, T_GRID[::3], 2.0, with_grad=True)
    assert res.dG_dtheta.shape == (2, 4, 3)
    for j in range(3):
        h = 1e-5
        up, dn = th.copy(), th.copy()
        up[:, j] += h
        dn[:, j] -= h
        fd = (
            gibbs_free_energy(ph, None, up, T_GRID[::3], 2.0).G
            - gibbs_free_energy(ph, None, dn, T_GRID[::3], 2.0).G
        ) / (2 * h)
        np.testing.assert_allclose(res.dG_dtheta[..., j], fd, rtol=1e-6, atol=1e-9)
        fdv = (
            gibbs_free_energy(ph, None, up, T_GRID[::3], 2.0).V
            - gibbs_free_energy(ph, None, dn, T_GRID[::3], 2.0).V
        ) / (2 * h)
        np.testing.assert_allclose(res.dV_dtheta[..., j], fdv, rtol=1e-4, atol=1e-8)


def test_sigma_matches_a_parametric_bootstrap():
    """400 noisy replicas (σ_i per volume, independent) of one model: std of G and V* vs the propagated σ."""
    n = 400
    clean = gibbs_free_energy(phases(), None, THETA, [500.0, 2500.0])
    noisy_ph = [FakePhase(p.V, sigma=p.sigma, seed=11 + i) for i, p in enumerate(phases())]
    noisy = gibbs_free_energy(noisy_ph, None, np.tile(THETA, (n, 1)), [500.0, 2500.0])
    for k in range(2):
        assert 0.5 < noisy.G[:, k].std() / clean.sigma_G[0, k] < 2.0
        assert 0.5 < noisy.V[:, k].std() / clean.sigma_V[0, k] < 2.0
        assert 0.5 < noisy.B[:, k].std() / clean.sigma_B[0, k] < 2.0
    # σ_G is below the largest σ_i (the fit averages) and above the smallest / √n_V
    s = np.array([p.sigma for p in phases()])
    assert s.min() / np.sqrt(s.size) < clean.sigma_G[0, 0] < s.max()
    assert np.all(clean.sigma_G_stat == pytest.approx(0.8 * clean.sigma_G))


def test_strains_that_do_not_bracket_the_minimum_are_flagged():
    compressed = phases(strains=[-0.05, -0.04, -0.03, -0.02])
    res = gibbs_free_energy(compressed, None, THETA, T_GRID)
    assert res.flagged.all()
    assert all(OUTSIDE in res.reason(0, k) for k in range(T_GRID.size))
    assert res.warnings and OUTSIDE in res.warnings[0]
    assert all(r["flagged"] == [True] * T_GRID.size for r in res.rows())


def test_pressure_outside_the_sampled_volumes_is_flagged():
    ph = phases()
    res = gibbs_free_energy(ph, None, THETA, T_GRID, 100.0)  # V* ≈ 0.82 V0 < 0.97 V0 sampled
    assert res.flagged.all() and all(res.reason(0, k) == OUTSIDE for k in range(T_GRID.size))
    row = res.rows()[0]  # no local minimum of the fit within a span beyond the range either: NaN → None
    assert row["G"] == [None] * T_GRID.size and row["flag_reason"] == [OUTSIDE] * T_GRID.size
    json.dumps(row, allow_nan=False)
    ok = gibbs_free_energy(ph, None, THETA, T_GRID, 1.0)
    assert not ok.flagged.any()


def test_flagged_inputs_are_flagged_with_their_reason_and_no_volumes_read_from_attributes():
    ph = phases()
    ph[2] = FakePhase(ph[2].V, sigma=ph[2].sigma, flag_k=3)
    res = gibbs_free_energy(ph, [p.V for p in ph], THETA, T_GRID)
    assert res.flagged[0].tolist() == [k == 3 for k in range(T_GRID.size)]
    assert "shell edge" in res.reason(0, 3) and f"V = {ph[2].V:.4g}" in res.reason(0, 3)
    attr = gibbs_free_energy(ph, None, THETA, T_GRID)
    np.testing.assert_array_equal(attr.G, res.G)


def test_bad_input_is_one_line():
    ph = phases()
    with pytest.raises(InputError, match="at least 4 volumes, got 3") as e:
        gibbs_free_energy(ph[:3], None, THETA, T_GRID)
    assert "\n" not in str(e.value)
    assert (
        gibbs_free_energy(ph[:3], None, THETA, T_GRID, fit="birch2").dof == 0
    )  # three volumes: second order
    bare = [FakePhase(p.V, with_volume=False) for p in ph]
    for args, msg in [
        ((bare, None), "carry no volume_per_atom"),
        ((ph, [16.0] * 5), "the same volume appears twice"),
        ((ph, [16.0, 17.0]), "2 volumes for 5 estimators"),
    ]:
        with pytest.raises(InputError, match=msg) as e:
            gibbs_free_energy(*args, THETA, T_GRID)
        assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="unknown F\\(V\\) fit"):
        gibbs_free_energy(ph, None, THETA, T_GRID, fit="spline")


def test_transition_at_pressure_against_the_exact_crossing():
    """Phase b: 20 meV/atom higher, softer (ħω 10 % lower), larger; T_c within (tol_G,a + tol_G,b)/|slope|."""
    a = phases()
    b = phases(name="fcc", V0=16.3, B0=1.8, Bp=4.5, Ec=-8.88, hw=0.020)
    for P in (0.0, 5.0):

        def dG(T, P=P):
            return exact(b, T, P)[1] - exact(a, T, P)[1]

        tc = brentq(dG, 300.0, 3000.0, xtol=1e-10)
        slope = (dG(tc + 0.5) - dG(tc - 0.5)) / 1.0
        bound = (tolerances(a, tc, P)[0] + tolerances(b, tc, P)[0]) / abs(slope)
        res = transition_at_pressure(a, None, b, None, THETA, T_GRID, P)
        assert res.Tc == pytest.approx(tc, abs=bound) and not res.flagged_at_Tc
        assert res.slope == pytest.approx(slope, rel=1e-2)
        assert res.dV == pytest.approx(exact(b, tc, P)[0] - exact(a, tc, P)[0], abs=0.01)
        assert 0 < res.Tc_error_stat < res.Tc_error
        d = res.to_dict()
        assert d["P_GPa"] == P and d["route"]["fcc"] == ["analytic"] * T_GRID.size
        json.dumps(d, allow_nan=False)
    none = transition_at_pressure(a, None, b, None, THETA, [300.0, 400.0])
    assert np.isnan(none.Tc) and "does not change sign" in none.warnings[0]
    json.dumps(none.to_dict(), allow_nan=False)


def test_weights_follow_one_over_sigma_squared():
    """G − PV* = Σ c_i F_i with Σ c_i = 1 (a constant is reproduced); a volume with a 1000× larger σ has
    a weight < 1e-3 × its equal-σ weight (1/σ²: 1e-6 × a factor of the remaining design), and σ_G is that of
    the other five volumes alone."""
    ph = phases(strains=[-0.01, 0.0, 0.01, 0.02, 0.03, 0.04])
    res = gibbs_free_energy(ph, None, THETA, T_GRID)
    np.testing.assert_allclose(res.weights.sum(-1), 1.0, atol=1e-10)
    ph[0] = FakePhase(ph[0].V, sigma=1e3 * ph[0].sigma)
    noisy = gibbs_free_energy(ph, None, THETA, T_GRID)
    rest = gibbs_free_energy(ph[1:], None, THETA, T_GRID)
    assert np.all(np.abs(noisy.weights[..., 0]) < 1e-3 * np.abs(res.weights[..., 0]).max())
    np.testing.assert_allclose(noisy.sigma_G, rest.sigma_G, rtol=1e-4)
