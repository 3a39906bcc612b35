"""Importer of DescriptorDOS shell data (.npz and restricted pickles)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from thermograd.ddos.importers import load_descriptordos, restricted_load, write_descriptordos_pickle
from thermograd.errors import InputError
from thermograd.units import KB


def test_fe_npz_import(fe_shells):
    (ds,) = load_descriptordos(fe_shells / "bcc.npz")
    raw = np.load(fe_shells / "bcc.npz")
    assert ds.name == "bcc" and ds.n_atoms == 128 and ds.n_features == 55 and len(ds.shells) == 20
    assert ds.n_modes == 3 * 128 - 3
    assert ds.kappa_bar == pytest.approx(float(raw["omega_mean"]))
    assert ds.mean_log_nu == pytest.approx(float(raw["log_det"]))
    np.testing.assert_allclose(ds.T_shells, 1000.0 * raw["IsoSurface"], rtol=1e-8)
    np.testing.assert_allclose(ds.alphas, np.log(raw["IsoSurface"]) - raw["alpha_shift"], rtol=1e-12)
    # α is ln r² with r² = 3 k_B T_α / κ̄
    np.testing.assert_allclose(ds.alphas, np.log(3 * KB * ds.T_shells / ds.kappa_bar), atol=1e-7)
    s = ds.shells[3]
    np.testing.assert_array_equal(s.counts, raw["cov_counts"][3])
    np.testing.assert_array_equal(s.basis, raw["cov_evec"][3])
    assert ds.volume_per_atom == pytest.approx(9.7213, abs=1e-3)
    assert ds.E0_reference == pytest.approx(-1.6711, abs=1e-4)


def test_pickle_roundtrip_matches_npz(fe_shells, tmp_path):
    pkl = tmp_path / "bcc.pkl"
    write_descriptordos_pickle(pkl, fe_shells / "bcc.npz")
    (a,) = load_descriptordos(fe_shells / "bcc.npz")
    (b,) = load_descriptordos(pkl)
    np.testing.assert_array_equal(a.alphas, b.alphas)
    for sa, sb in zip(a.shells, b.shells):
        np.testing.assert_array_equal(sa.edges, sb.edges)
        np.testing.assert_array_equal(sa.mean, sb.mean)


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path):
    payload = pickle.dumps([{"x": _Evil()}])
    with pytest.raises(InputError, match="refusing to unpickle"):
        restricted_load(payload)
    path = tmp_path / "evil.pkl"
    path.write_bytes(payload)
    with pytest.raises(InputError, match="refusing"):
        load_descriptordos(path)


def test_restricted_unpickler_accepts_arrays_and_containers():
    obj = [{"a": np.arange(5.0), "b": (1, 2.5, "s"), "c": np.float64(3.0), "d": np.int64(2)}]
    for protocol in (2, 4, 5):
        out = restricted_load(pickle.dumps(obj, protocol=protocol))
        np.testing.assert_array_equal(out[0]["a"], obj[0]["a"])
        assert out[0]["b"] == (1, 2.5, "s") and out[0]["c"] == 3.0


def test_malformed_files(tmp_path):
    bad = tmp_path / "junk.pkl"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(InputError):
        load_descriptordos(bad)
    npz = tmp_path / "x.npz"
    np.savez(npz, foo=np.zeros(3))
    with pytest.raises(InputError, match="IsoSurface"):
        load_descriptordos(npz)
    with pytest.raises(InputError, match="not found"):
        load_descriptordos(tmp_path / "missing.npz")
