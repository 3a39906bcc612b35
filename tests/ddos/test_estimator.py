"""Estimator: Gaussian identity, fast vs exact path, gradients (autograd, envelope theorem, finite
differences), calibration of σ over independent campaigns, exact shell reweighting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from thermograd.ddos.estimators.conjugate import exact_conjugate
from thermograd.ddos.estimators.core import free_energy_core
from thermograd.ddos.estimators.model import DDOSModel
from thermograd.ddos.estimators.reweighting import ReweightingEstimator
from thermograd.testing.synthetic import gaussian_campaign, gaussian_free_energy, gaussian_model

N_ATOMS = 54
MASS, KAPPA_BAR, LOG_NU = 55.85, 10.0, -0.1
D0 = np.array([1.0, 0.5, -0.2])
A1, A2 = np.array([0.1, 0.2, 0.05]), np.array([0.01, -0.02, 0.03])
B = np.array([[1.0, 0.3, 0.1], [0.3, 0.8, -0.2], [0.1, -0.2, 0.5]]) * 2e-6
THETA = np.array([0.5, 0.3, 0.9])
T_SHELLS = np.linspace(200.0, 3000.0, 40)


def mean_fn(t):
    return D0 + A1 * (t / 1000) + A2 * (t / 1000) ** 2


def cov_fn(t):
    return B * (t / 1000) ** 2 * (1 + 0.2 * t / 1000)


def closed_form(theta, T):
    return gaussian_free_energy(
        theta, T, mean_fn, cov_fn, N_ATOMS, MASS, KAPPA_BAR, LOG_NU, D0, (T_SHELLS[0], T_SHELLS[-1])
    )[0]


@pytest.fixture(scope="module")
def exact_model():
    return gaussian_model(T_SHELLS, mean_fn, cov_fn, N_ATOMS, MASS, KAPPA_BAR, LOG_NU, D0)


@pytest.fixture(scope="module")
def fitted():
    ds = gaussian_campaign(
        mean_fn,
        cov_fn,
        T_SHELLS,
        20_000,
        seed=3,
        n_atoms=N_ATOMS,
        mass=MASS,
        kappa_bar=KAPPA_BAR,
        mean_log_nu=LOG_NU,
        D_0=D0,
    )
    return ds, DDOSModel.fit(ds)


@pytest.mark.parametrize("method", ["fast", "exact"])
def test_gaussian_identity_estimator(exact_model, method):
    """Exact quadratic S per component → closed form to 1e-6 eV/atom (spline over 40 shells: ~1e-7)."""
    thetas = np.stack([THETA, 1.1 * THETA, THETA * np.array([1.0, -0.5, 1.2])])
    T = np.array([500.0, 1000.0, 1800.0])
    res = exact_model.predict(thetas, T, method=method)
    ref = np.array([[closed_form(th, t) for t in T] for th in thetas])
    np.testing.assert_allclose(res.F, ref, atol=1e-6, rtol=0)
    assert not res.flagged.any()


def test_gaussian_identity_fit_pipeline(fitted):
    """Sampled Gaussian shells (20 000 samples each) → fit → F within 4σ_stat + 1e-6 eV of the closed form."""
    _, model = fitted
    T = np.array([500.0, 1000.0, 1800.0])
    res = model.predict(THETA, T, with_model_error=True)
    ref = np.array([closed_form(THETA, t) for t in T])
    assert np.all(np.abs(res.F[0] - ref) < 4 * res.sigma_stat[0] + 1e-6), (res.F[0] - ref, res.sigma_stat[0])
    assert np.all(res.sigma_stat[0] < 1e-4)


def test_fast_path_agrees_with_exact_path(fitted):
    """Tabulated conjugates (Hermite) vs grid+Newton: within 0.01 meV/atom for many models and T."""
    _, model = fitted
    rng = np.random.default_rng(2)
    thetas = THETA * (1 + 0.3 * rng.standard_normal((20, 3)))
    T = np.linspace(300.0, 2000.0, 7)
    fast = model.predict(thetas, T, method="fast", with_grad=False)
    exact = model.predict(thetas, T, method="exact", with_grad=False)
    ok = ~(fast.flagged | exact.flagged)
    assert ok.sum() > 50
    assert np.max(np.abs(fast.F - exact.F)[ok]) < 1e-5


def test_autograd_matches_envelope_theorem(fitted):
    """∂F/∂θ (autograd, exact path) = D_0 + Σ_i w_i(α*) W_i x*_i to rounding."""
    _, model = fitted
    T = torch.tensor([700.0, 1500.0], dtype=torch.float64)
    res = model.predict(THETA, T.numpy(), method="exact", backend="torch")
    rot, spline, s0, d0 = model._static()
    conj = model.conj_fn("exact")
    out = free_energy_core(torch.tensor(THETA)[None], T, rot, s0, conj, spline, False)
    _, x_star = exact_conjugate(out["g"].detach(), model.components())
    envelope = d0 + torch.einsum("mts,sda,mtsa->mtd", out["w"].detach(), rot, x_star)
    np.testing.assert_allclose(res.dF_dtheta, envelope.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["fast", "exact"])
def test_autograd_matches_finite_differences(fitted, method):
    _, model = fitted
    rng = np.random.default_rng(4)
    T = np.array([600.0, 1400.0])
    res = model.predict(THETA, T, method=method, backend="torch")
    for _ in range(3):
        v = rng.standard_normal(3)
        h = 1e-5
        fp = model.predict(THETA + h * v, T, method=method, with_grad=False).F[0]
        fm = model.predict(THETA - h * v, T, method=method, with_grad=False).F[0]
        fd = (fp - fm) / (2 * h)
        np.testing.assert_allclose(res.dF_dtheta[0] @ v, fd, rtol=1e-6)


def test_gradient_with_respect_to_T_through_torch(fitted):
    """free_energy_torch keeps the graph in T: dF/dT = −S matches finite differences."""
    _, model = fitted
    T = torch.tensor([900.0], dtype=torch.float64, requires_grad=True)
    F = model.free_energy_torch(THETA, T)["F"][0, 0]
    (dFdT,) = torch.autograd.grad(F, T)
    h = 1e-3
    fd = (
        model.predict(THETA, [900.0 + h], with_grad=False).F
        - model.predict(THETA, [900.0 - h], with_grad=False).F
    ) / (2 * h)
    assert float(dFdT) == pytest.approx(float(fd[0, 0]), rel=1e-6)


def test_error_bars_are_calibrated_over_independent_campaigns():
    """10 campaigns with different seeds: scatter of F within a factor 2 of the mean reported σ_stat."""
    T = np.array([600.0, 1200.0])
    T_sh = np.linspace(200.0, 3000.0, 25)
    Fs, sig = [], []
    for seed in range(10):
        ds = gaussian_campaign(
            mean_fn,
            cov_fn,
            T_sh,
            2000,
            seed=100 + seed,
            n_atoms=N_ATOMS,
            mass=MASS,
            kappa_bar=KAPPA_BAR,
            mean_log_nu=LOG_NU,
            D_0=D0,
        )
        res = DDOSModel.fit(ds, order=2).predict(THETA, T, with_grad=False)
        Fs.append(res.F[0])
        sig.append(res.sigma_stat[0])
    ratio = np.std(Fs, axis=0, ddof=1) / np.mean(sig, axis=0)
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio


def test_reweighting_estimator_agrees(fitted):
    """Exact shell reweighting of the raw samples vs the closed form (weak tilt: ESS stays large)."""
    ds, _ = fitted
    T = np.array([800.0, 1600.0])
    rw = ReweightingEstimator(ds).predict(THETA, T)
    ref = np.array([closed_form(THETA, t) for t in T])
    assert np.all(rw.extra["ess_fraction"] > 0.3) and not rw.flagged.any()
    np.testing.assert_allclose(rw.F[0], ref, atol=2e-5)
    # the bootstrap σ must cover the deviation from the closed form (it is a statistical error, 3σ)
    assert np.all(np.abs(rw.F[0] - ref) <= 3 * rw.sigma[0] + 1e-12)


def test_compare_with_reweighting_warns_on_collapse(fitted):
    """Weak tilt: no warning; a 30× stronger model makes the reweighting ESS collapse → warning."""
    import warnings

    from thermograd.ddos.estimators.uncertainty import compare_with_reweighting

    ds, model = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = compare_with_reweighting(model, ds, THETA, [800.0])
    assert not out["disagree"].any() and not out["ess_collapsed"].any()
    with pytest.warns(UserWarning) as record:
        out = compare_with_reweighting(model, ds, 30 * THETA, [800.0])
    assert any("effective sample size" in str(r.message) for r in record)
    assert out["ess_collapsed"].all()


def test_bootstrap_spread_is_consistent_with_sigma():
    from thermograd.ddos.estimators.uncertainty import bootstrap_free_energy

    ds = gaussian_campaign(
        mean_fn,
        cov_fn,
        np.linspace(200.0, 3000.0, 25),
        2000,
        seed=7,
        n_atoms=N_ATOMS,
        mass=MASS,
        kappa_bar=KAPPA_BAR,
        mean_log_nu=LOG_NU,
        D_0=D0,
    )
    boot = bootstrap_free_energy(ds, THETA, [900.0], n_boot=8, seed=1, order=2)
    sig = DDOSModel.fit(ds, order=2).predict(THETA, [900.0], with_grad=False).sigma_stat
    ratio = boot["sigma_boot"] / sig
    # 8 replicas: the sample σ itself scatters by ~25 %, so a factor 3 band
    assert np.all((ratio > 1 / 3) & (ratio < 3)), ratio


def test_table_path_agrees_with_exact_for_higher_order(fe_shells):
    """Order-4 fit of the Fe BCC shells: Hermite-tabulated conjugates vs grid+Newton within 0.01 meV/atom."""
    from thermograd.ddos.importers import load_descriptordos
    from thermograd.io.snap import read_snapcoeff

    model = DDOSModel.fit(load_descriptordos(fe_shells / "bcc.npz")[0], order=4)
    theta0 = read_snapcoeff(fe_shells / "X_Fe.snapcoeff").theta()
    rng = np.random.default_rng(9)
    thetas = theta0 * (1 + 0.01 * rng.standard_normal((6, theta0.size)))
    T = np.linspace(500.0, 1500.0, 5)
    fast = model.predict(thetas, T, method="fast", with_grad=False, with_sigma=False)
    exact = model.predict(thetas, T, method="exact", with_grad=False, with_sigma=False)
    assert np.max(np.abs(fast.F - exact.F)) < 1e-5


@pytest.mark.parametrize("n_models", [1, 4, 300])
def test_compiled_path_matches_torch_path(fitted, n_models):
    """backend="auto" (compiled loop, envelope gradient) equals the torch/autograd path to rounding, for single
    calls and batches, including σ, the model-error term and out-of-range flags."""
    from thermograd.ddos.estimators.fastpath import HAVE_NUMBA

    assert HAVE_NUMBA, "numba is a dependency of thermograd"
    _, model = fitted
    rng = np.random.default_rng(12)
    thetas = THETA * (1 + 0.3 * rng.standard_normal((n_models, 3)))
    T = np.array([150.0, 400.0, 900.0, 1700.0, 3500.0])  # the ends push α* out of the sampled range
    a = model.predict(thetas, T, backend="auto", with_model_error=True)
    b = model.predict(thetas, T, backend="torch", with_model_error=True)
    for key in ("F", "E0", "sigma_stat", "sigma_model", "alpha_star", "dF_dtheta"):
        np.testing.assert_allclose(getattr(a, key), getattr(b, key), rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(a.flagged, b.flagged)
    assert a.flagged.any() and not a.flagged.all()
    F, sigma, grad, oor = model.predictor()(thetas, T)
    np.testing.assert_allclose(F, b.F, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(sigma, b.sigma_stat, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(grad, b.dF_dtheta, rtol=1e-10, atol=1e-13)
    np.testing.assert_array_equal(oor, b.flagged)


def test_predictor_rejects_bad_input(fitted):
    from thermograd.errors import InputError

    predictor = fitted[1].predictor()
    with pytest.raises(InputError, match="shape"):
        predictor(np.ones(4), 300.0)
    with pytest.raises(InputError, match="> 0 K"):
        predictor(THETA, [300.0, 0.0])
    with pytest.raises(InputError, match="non-finite"):
        predictor(np.array([0.5, np.nan, 0.9]), 300.0)


def test_piecewise_beta_path_equals_per_component_path(fitted):
    """Bucketed piecewise-quadratic shell sums (values-only batch path) = per-component closed form."""
    from thermograd.ddos.estimators.conjugate import PiecewiseBeta
    from thermograd.units import KB

    _, model = fitted
    quad = model.conj_fn("fast")
    rng = np.random.default_rng(13)
    thetas = torch.tensor(THETA * (1 + 2.0 * rng.standard_normal((30, 3))))
    thetas[0, 1] = 0.0
    rot = model._static()[0]
    theta_rot = torch.einsum("md,sda->msa", thetas, rot)
    theta_rot[1, 2, 0] = 0.0  # a vanishing rotated coefficient
    beta = 1.0 / (KB * torch.tensor([1500.0, 300.0, 800.0, 2900.0, 450.0], dtype=torch.float64))
    ref = quad(beta[None, :, None, None] * theta_rot[:, None], False)[0].sum(-1)
    np.testing.assert_allclose(PiecewiseBeta(quad)(theta_rot, beta).numpy(), ref.numpy(), rtol=0, atol=1e-12)
    T = np.linspace(300.0, 2500.0, 12)
    a = model.predict(thetas.numpy(), T, with_grad=False, with_sigma=False)  # uses PiecewiseBeta
    b = model.predict(thetas.numpy(), T, with_grad=False, with_sigma=True)  # per component
    np.testing.assert_allclose(a.F, b.F, rtol=0, atol=1e-12)
