"""Figures of predict / transition / tune (issue 13, item 6), checked through the figure's data, not pixels:
small quantities on a meV/atom scale relative to a stated reference, visible ±1σ bands, flagged points
marked, T_c with its error band, the tune loss history and ΔF before/after."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thermograd import plots
from thermograd.cli import main


def _bands(ax):
    """(x, lower, upper) of every fill_between band of an axis."""
    out = []
    for coll in ax.collections:
        paths = coll.get_paths()
        if not paths:
            continue
        v = paths[0].vertices
        out.append(v)
    return out


def _spans(ax):
    return [c for c in ax.collections if c.get_paths()]


def _line(ax, label):
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == label]
    return line


def test_free_energy_figure_data():
    T = np.linspace(500, 2500, 5)
    F_anh = np.array([[-0.001, -0.002, -0.004, -0.006, -0.009], [-0.002, -0.003, -0.005, -0.008, -0.012]])
    sigma = np.full_like(F_anh, 0.0005)
    flagged = np.zeros_like(F_anh, bool)
    flagged[:, -1] = True
    fig = plots.free_energy_figure(T, F_anh, sigma, ["a/long/path/one.snapcoeff", "two.snapcoeff"], flagged)
    (ax,) = fig.axes
    assert "meV/atom" in ax.get_ylabel() and "F$_h^{ref}$" in ax.get_ylabel()
    one = _line(ax, "a/long/path/one.snapcoeff")  # full file name in the legend
    np.testing.assert_allclose(one.get_ydata(), 1e3 * F_anh[0])  # meV/atom
    bands = _bands(ax)
    assert len(bands) == 2
    # band half-width is σ in meV: 0.5 meV
    v = bands[0]
    assert v[:, 1].max() - v[:, 1].min() > 0 and np.isclose((v[:, 1].max() - (1e3 * F_anh[0]).max()), 0.5)
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 2 and all(len(c.get_xdata()) == 1 and c.get_xdata()[0] == 2500 for c in crosses)
    assert plots.FLAG_LABEL in [t.get_text() for t in ax.get_legend().get_texts()]


def test_transition_figure_marks_tc_and_its_band():
    T = np.linspace(1000, 2000, 11)
    dF = (1500 - T) * 1e-5  # eV/atom, root at 1500 K
    fig = plots.transition_figure(T, dF, np.full_like(T, 2e-4), T > 1900, 1500.0, 25.0, phases=("bcc", "fcc"))
    (ax,) = fig.axes
    line = _line(ax, "ΔF = F[fcc] − F[bcc]")
    np.testing.assert_allclose(line.get_ydata(), 1e3 * dF)
    tc = [ln for ln in ax.get_lines() if ln.get_label().startswith("T$_c$ = 1500 ± 25 K")]
    assert len(tc) == 1 and tc[0].get_xdata()[0] == 1500.0
    xs = [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches if hasattr(p, "get_width")]
    xs += [(c.get_paths()[0].vertices[:, 0].min(), c.get_paths()[0].vertices[:, 0].max()) for c in _spans(ax)]
    assert any(np.isclose(lo, 1475.0) and np.isclose(hi, 1525.0) for lo, hi in xs)  # T_c ± σ band
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [2000.0]


@pytest.fixture(scope="module")
def fe_models(fe_shells, tmp_path_factory):
    out = tmp_path_factory.mktemp("plots")
    for phase in ("bcc", "fcc"):
        assert (
            main(["fit", str(fe_shells / f"{phase}.npz"), "-o", str(out / f"{phase}.h5"), "--order", "2"])
            == 0
        )
    return out, fe_shells / "X_Fe.snapcoeff"


def test_predict_plot_is_f_anh_in_mev(fe_models, tmp_path, capsys, monkeypatch):
    folder, theta = fe_models
    figures = []
    real = plots.free_energy_figure
    monkeypatch.setattr(
        plots, "free_energy_figure", lambda *a, **k: figures.append(real(*a, **k)) or figures[-1]
    )
    png = tmp_path / "F.png"
    argv = ["predict", str(folder / "bcc.h5"), "--theta", str(theta), "--T", "500:2500:9", "--json"]
    assert main([*argv, "--plot", str(png), "--allow-extrapolation"]) == 0
    res = json.loads(capsys.readouterr().out)["results"][0]
    (ax,) = figures[0].axes
    (line,) = [ln for ln in ax.get_lines() if ln.get_label() == str(theta)]
    np.testing.assert_allclose(line.get_ydata(), 1e3 * np.array(res["F_anh"]), rtol=1e-12)
    # F_anh = F − E_0 − F_h, and the σ band is visible on this scale (σ ≥ 0.1 % of the plotted range)
    np.testing.assert_allclose(
        np.array(res["F"]) - res["E0"] - np.array(res["F_h"]), res["F_anh"], rtol=0, atol=1e-12
    )
    span = np.ptp(line.get_ydata())
    assert 1e3 * min(res["sigma"]) > 1e-3 * span
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert [list(c.get_xdata()) for c in crosses] == [[t for t, f in zip(res["T"], res["flagged"]) if f]]
    assert png.stat().st_size > 1000


def test_transition_and_tune_plots(fe_models, tmp_path, capsys, monkeypatch):
    folder, theta = fe_models
    made = {}
    for name in ("transition_figure", "tune_figure"):
        real = getattr(plots, name)
        monkeypatch.setattr(plots, name, lambda *a, _r=real, _n=name, **k: made.setdefault(_n, _r(*a, **k)))
    base = [str(folder / "bcc.h5"), str(folder / "fcc.h5"), "--theta", str(theta)]
    png = tmp_path / "dF.png"
    assert main(["transition", *base, "--json", "--plot", str(png), "--allow-extrapolation"]) == 0
    res = json.loads(capsys.readouterr().out)
    (ax,) = made["transition_figure"].axes
    (line,) = [ln for ln in ax.get_lines() if ln.get_label().startswith("ΔF")]
    np.testing.assert_allclose(line.get_ydata(), 1e3 * np.array(res["dF"]), rtol=1e-12)
    assert any(
        f"T$_c$ = {res['Tc']:.0f} ± {res['Tc_error']:.0f} K" == ln.get_label() for ln in ax.get_lines()
    )
    assert png.stat().st_size > 1000

    tpng = tmp_path / "tune.png"
    argv = ["tune", *base, "--target-Tc", "1063", "-o", str(tmp_path / "t.snapcoeff"), "--json"]
    assert main([*argv, "--plot", str(tpng)]) == 0
    out = json.loads(capsys.readouterr().out)
    loss_ax, df_ax = made["tune_figure"].axes
    (loss,) = loss_ax.get_lines()
    np.testing.assert_allclose(loss.get_ydata(), out["loss_history"])
    assert loss_ax.get_yscale() == "log"
    labels = [ln.get_label() for ln in df_ax.get_lines()]
    assert "ΔF before" in labels and "ΔF after" in labels and "target T$_c$ = 1063 K" in labels
    after = _line(df_ax, "ΔF after")
    k = np.argmin(np.abs(after.get_xdata() - 1063.0))
    assert abs(after.get_ydata()[k]) < 1.0  # ΔF(T_target) ≈ 0 after tuning (meV/atom)
    assert len(_bands(df_ax)) >= 2 and tpng.stat().st_size > 1000
