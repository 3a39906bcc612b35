"""DDOSModel: harmonic identity through the whole pipeline, file format, bad input, range flags."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from thermograd.ddos.estimators.model import DDOSModel
from thermograd.errors import InputError, StoreError
from thermograd.harmonic import Modes, harmonic_free_energy
from thermograd.testing.synthetic import harmonic_campaign
from thermograd.units import KB

N_ATOMS = 16
MASS = 55.85


@pytest.fixture(scope="module")
def harmonic():
    rng = np.random.default_rng(11)
    kappa = np.sort(rng.uniform(2.0, 20.0, 3 * N_ATOMS - 3))
    T_shells = np.geomspace(100.0, 4000.0, 60)
    ds = harmonic_campaign(T_shells, kappa, MASS, N_ATOMS)
    modes = Modes(kappa=kappa, vectors=np.eye(3 * N_ATOMS)[:, : 3 * N_ATOMS - 3], mass=MASS, n_atoms=N_ATOMS)
    return DDOSModel.fit(ds), modes


@pytest.mark.parametrize("method", ["fast", "exact"])
def test_harmonic_identity(harmonic, method):
    """Descriptor = harmonic energy per atom (d = 1, zero-variance shells), θ = 1 → F = 3k_BT⟨ln βħω⟩.

    Tolerance 1e-6 eV/atom: the only approximation is the cubic spline of G over α (60 shells,
    Δα ≈ 0.06, interpolation error ~ Δα⁴/384 · k_BT ≈ 1e-9 eV).
    """
    model, modes = harmonic
    assert model.fit_info["n_delta"] == model.n_shells
    T = np.array([300.0, 800.0, 1500.0])
    res = model.predict([1.0], T, method=method)
    np.testing.assert_allclose(res.F_minus_E0[0], harmonic_free_energy(modes, T, "ddos"), atol=1e-6, rtol=0)
    assert not res.flagged.any()
    # ∂F/∂θ = D* = ⟨harmonic energy⟩ = 1.5 k_B T (equipartition of the potential energy)
    np.testing.assert_allclose(res.dF_dtheta[0, :, 0], 1.5 * KB * T, rtol=1e-4)
    # the optimum sits on the shell whose temperature equals T
    np.testing.assert_allclose(res.T_star[0], T, rtol=1e-3)


def test_save_load_roundtrip(harmonic, tmp_path):
    model, _ = harmonic
    path = tmp_path / "m.h5"
    model.save(path)
    loaded = DDOSModel.load(path)
    T = [400.0, 1200.0]
    a, b = model.predict([1.3], T), loaded.predict([1.3], T)
    np.testing.assert_array_equal(a.F, b.F)
    assert loaded.name == model.name and loaded.order == model.order
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == "thermograd-ddos-model"
        assert "units" in f.attrs and "reference" in f.attrs and "provenance" in f.attrs


def test_other_format_version_is_refused(harmonic, tmp_path):
    model, _ = harmonic
    path = tmp_path / "old.h5"
    model.save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(StoreError, match="version 99"):
        DDOSModel.load(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(StoreError, match="not a thermograd"):
        DDOSModel.load(other)
    with pytest.raises(StoreError, match="not found"):
        DDOSModel.load(tmp_path / "missing.h5")


def test_bad_theta_and_temperature(harmonic):
    model, _ = harmonic
    with pytest.raises(InputError, match="shape"):
        model.predict([1.0, 2.0], [300.0])
    with pytest.raises(InputError, match="> 0 K"):
        model.predict([1.0], [300.0, 0.0])
    with pytest.raises(InputError, match="> 0 K"):
        model.predict([1.0], [-5.0])
    with pytest.raises(InputError, match="non-finite"):
        model.predict([np.nan], [300.0])
    with pytest.raises(InputError, match="method"):
        model.predict([1.0], [300.0], method="magic")


def test_optimum_outside_the_shell_range_is_flagged(harmonic):
    """A model 10× softer than the reference needs T_α ≈ 10 T: beyond the 4000 K top shell at 1000 K."""
    model, _ = harmonic
    res = model.predict([[1.0], [0.1]], [300.0, 1000.0])
    assert res.flagged.tolist() == [[False, False], [False, True]]
    assert res.T_star[1, 1] == pytest.approx(4000.0, rel=1e-9)
