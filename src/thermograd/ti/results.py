"""Result dataclasses of the TI drivers and the centre-of-mass conventions that connect them.

All free energies are per atom in eV. Three conventions for the absolute value of a crystal's F appear:

* ``"cell"`` (internal, centre of mass held fixed): the free energy of the 3N − 3 internal degrees of
  freedom. For a harmonic crystal it is (k_BT/N) Σ_{l=1}^{3N−3} ln βħω_l. λ-TI from the model's own Hessian
  with the centre of mass pinned gives E_0 + F_h,cell + F_anh, and Frenkel–Ladd with a pinned centre of mass
  gives f_E(1 − 1/N) + ΔF_FL (the Einstein crystal's centre-of-mass mode has the same frequency √(k/m) as
  its 3N − 3 internal modes). This is the convention in which λ-TI, FL and RS are compared.
* ``"ddos"``: E_0 + 3k_BT⟨ln βħω⟩ + F_anh, the D-DOS shell convention (science-ddos.md §4); it differs
  from ``"cell"`` by F_h,ddos − F_h,cell = (3/N)·k_BT⟨ln βħω⟩.
* ``"calphy"``: what calphy 2.3 reports for a solid, f_E + ΔF − F_cm with
  F_cm = (k_BT/N) ln[V_box (βNk/2π)^{3/2}] (its ``get_einstein_crystal_fe`` is called with the *box*
  volume V), i.e. f_E + ΔF + (k_BT/N) ln[(1/V)(2πk_BT/Nk)^{3/2}]: the free energy of distinguishable atoms
  whose centre of mass moves freely in the box. It equals the ``"cell"`` value minus
  (k_BT/N) ln(V N^{3/2}/Λ³), Λ = ħ√(2π/mk_BT) (:func:`calphy_shift`), independent of the spring constant.
  The form with N/V in place of 1/V (what calphy's docstring implies, "volume per atom") is higher by
  (k_BT/N) ln N (5.1 meV/atom for N = 54 at 800 K); the 1/V form was confirmed against calphy's own
  ``report.yaml`` (benchmarks/ti_vs_calphy.py).

F_anh = F − E_0 − F_h is convention free.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..units import HBAR2_PER_AMU, KB


def thermal_wavelength(T: float, mass: float) -> float:
    """de Broglie wavelength Λ = ħ√(2π/(m k_B T)), Å (mass in amu, T in K)."""
    return math.sqrt(2.0 * math.pi * HBAR2_PER_AMU / (mass * KB * T))


def calphy_shift(T: float, n_atoms: int, volume: float, mass: float) -> float:
    """F_calphy − F_cell per atom, eV: −(k_BT/N) ln(V N^{3/2}/Λ³) (V the cell volume, Å³).

    Derivation: with U translation invariant, Z_conf = V·N^{3/2}·∫dx δ³(t)e^{−βU} (t = √N × the centre of
    mass displacement, the normalised translation coordinate), so a centre of mass moving freely in the
    box adds −k_BT ln(V N^{3/2}/Λ³) to N·F_cell, the 3 extra momenta included.
    """
    lam = thermal_wavelength(T, mass)
    return -KB * T / n_atoms * math.log(volume * n_atoms**1.5 / lam**3)


def _clean(obj):
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        return None if not math.isfinite(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


class _Serialisable:
    def to_dict(self) -> dict:
        """JSON-ready dict (NaN → null, arrays → lists)."""
        return _clean(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class LambdaPoint(_Serialisable):
    """One Gauss–Legendre λ point.

    Attributes:
        lam: λ.
        weight: quadrature weight.
        mean: ⟨∂U/∂λ⟩_λ = ⟨U − E_0 − U_h⟩_λ, eV/atom.
        error: its standard error (autocorrelation/block corrected), eV/atom.
        inefficiency: statistical inefficiency g, steps.
        n_samples: production steps.
        seed: the task's seed.
    """

    lam: float
    weight: float
    mean: float
    error: float
    inefficiency: float
    n_samples: int
    seed: int


@dataclass(frozen=True)
class LambdaTIResult(_Serialisable):
    """F = E_0 + F_h + F_anh per atom from harmonic → model λ-TI (eV/atom unless stated).

    Attributes:
        T: temperature, K.
        n_atoms: N.
        volume: volume per atom, Å³.
        convention: harmonic convention of ``F_h`` and ``F`` (``"ddos"`` or ``"cell"``).
        E0: static energy at the reference structure.
        F_h: harmonic free energy (3N − 3 modes of the model's Hessian) in ``convention``.
        F_h_cell: harmonic free energy in the ``"cell"`` convention.
        F_anh: anharmonic free energy ∫₀¹⟨U − E_0 − U_h⟩_λ dλ (convention free).
        F_anh_error: its statistical error.
        F: E_0 + F_h + F_anh.
        F_error: statistical error of F (= F_anh_error; E_0 and F_h are exact for the given Hessian).
        F_cell: the total in the ``"cell"`` convention (for comparison with Frenkel–Ladd).
        F_calphy: the total in calphy's centre-of-mass convention (see the module docstring).
        points: the λ points.
        md_steps: MD steps in total (all points, equilibration included).
        units: ``"eV/atom"``.
        reference: description of the reference system.
        settings: the run settings (seeds, steps, time step...).
        F_quadrature_error: estimated |error| of the Gauss–Legendre integral of F_anh (and so of F), eV/atom,
            from the points themselves (:func:`~thermograd.ti.quadrature.gauss_legendre_error`); separate
            from the statistical ``F_error``. NaN (JSON null) with fewer than 3 points.
        n_points: λ points of the rule that gave F (with ``adaptive``, the last rule).
        quadrature_converged: ``F_quadrature_error`` ≤ ``F_error`` (None: no estimate).
        quadrature_flag: why the quadrature is not known to be converged (None when it is).
        quadrature_history: one entry per rule tried (``n_points``, ``F_anh``, ``F_anh_error``,
            ``F_quadrature_error``, ``points_run``: λ points run for it, ``points_reused``: nodes it shared
            with an earlier rule and took from it).
    """

    T: float
    n_atoms: int
    volume: float
    convention: str
    E0: float
    F_h: float
    F_h_cell: float
    F_anh: float
    F_anh_error: float
    F: float
    F_error: float
    F_cell: float
    F_calphy: float
    points: list[LambdaPoint]
    md_steps: int
    units: str = "eV/atom"
    reference: str = "harmonic crystal from the model's Hessian (3N-3 modes), centre of mass fixed"
    settings: dict = field(default_factory=dict)
    F_quadrature_error: float = float("nan")
    n_points: int = 0
    quadrature_converged: bool | None = None
    quadrature_flag: str | None = None
    quadrature_history: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class FrenkelLaddResult(_Serialisable):
    """Frenkel–Ladd free energy per atom (eV/atom unless stated).

    Attributes:
        T: temperature, K.
        n_atoms: N.
        volume: volume per atom, Å³.
        pressure: pressure of the NPT volume equilibration, bar (None at fixed volume).
        spring: Einstein spring constant k = 3k_BT/⟨|Δr|²⟩, eV/Å².
        msd: mean squared displacement used for k, Å².
        F_einstein: classical Einstein crystal 3k_BT ln(βħω_E), 3N oscillators.
        com_correction: −F_einstein/N, the change to the Einstein crystal with its centre of mass held
            (equal springs and masses), so that F = F_einstein + com_correction + delta_F.
        delta_F: F(model) − F(Einstein), both with the centre of mass fixed, = −(W_f − W_b)/2.
        delta_F_error: standard error over the switching pairs.
        dissipation: (W_f + W_b)/2 averaged over pairs.
        dissipation_error: its standard error.
        F: total in the ``"cell"`` convention: F_einstein·(1 − 1/N) + delta_F. (The fields shared with the torch
            engine's result follow :class:`thermograd.md.frenkel_ladd.FrenkelLaddOutcome`.)
        F_error: = delta_F_error.
        F_calphy: total in calphy's convention (see the module docstring).
        G: F + PV per atom when a pressure was given (Gibbs energy, cell convention), else None.
        w_forward: forward works (model → Einstein) per pair, eV/atom.
        w_backward: backward works per pair, eV/atom.
        md_steps: MD steps in total.
        units: ``"eV/atom"``.
        convention: ``"cell"``.
        settings: run settings.
    """

    T: float
    n_atoms: int
    volume: float
    pressure: float | None
    spring: float
    msd: float
    F_einstein: float
    com_correction: float
    delta_F: float
    delta_F_error: float
    dissipation: float
    dissipation_error: float
    F: float
    F_error: float
    F_calphy: float
    G: float | None
    w_forward: list[float]
    w_backward: list[float]
    md_steps: int
    units: str = "eV/atom"
    convention: str = "cell"
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ReversibleScalingResult(_Serialisable):
    """F(T) from reversible scaling anchored at F(T0) (eV/atom, ``"cell"`` convention).

    Attributes:
        T0: anchor temperature, K.
        F0: anchor free energy (cell convention), eV/atom.
        F0_error: its error.
        temperatures: temperatures of the curve, shape (n,), K.
        F: free energies, shape (n,), eV/atom.
        error: errors (anchor scaled by T/T0 and switching SEM in quadrature), shape (n,).
        dissipation: mean dissipation of the scaling switch, eV/atom (whole path).
        md_steps: MD steps of the scaling runs.
        units: ``"eV/atom"``.
        convention: ``"cell"``.
        settings: run settings.
    """

    T0: float
    F0: float
    F0_error: float
    temperatures: list[float]
    F: list[float]
    error: list[float]
    dissipation: float
    md_steps: int
    units: str = "eV/atom"
    convention: str = "cell"
    settings: dict = field(default_factory=dict)

    def at(self, T: float) -> tuple[float, float]:
        """Linear interpolation of (F, error) at temperature T (inside the scanned range)."""
        t = np.asarray(self.temperatures)
        if not (min(t[0], t[-1]) <= T <= max(t[0], t[-1])):
            raise ValueError(f"T = {T} K is outside the scanned range {t[0]}–{t[-1]} K")
        order = np.argsort(t)
        return (
            float(np.interp(T, t[order], np.asarray(self.F)[order])),
            float(np.interp(T, t[order], np.asarray(self.error)[order])),
        )
