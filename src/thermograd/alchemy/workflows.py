"""Alchemical workflows: lattice parameter vs composition, composition optimisation, 0 K λ-integration.

* Lattice vs composition: uniform λ = (1 − x, x) on one sublattice, cell and positions relaxed with FIRE on a
  ``FrechetCellFilter`` (interpolated masses); deviations from the chord between the end points measure
  departures from Vegard's law.
* Composition optimisation: the λ-gradient of the stress (double backprop) drives λ to the composition whose
  zero-stress lattice matches a given cell (lattice matching), or minimises any differentiable loss.
* 0 K λ-integration: ∫ ∂E/∂λ·dλ along a straight path over relaxed structures (Gauss–Legendre) equals the
  relaxed end-point energy difference; for a vacancy it is the bridge to alchemical free energies.

Nam, Peng, Gómez-Bombarelli, Nat. Commun. 16 (2025), doi:10.1038/s41467-025-59543-2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from ase import Atoms

from ..errors import InputError
from ..outputs import save_figure
from .calculator import AlchemicalCalculator, check_backend_species, default_backend
from .derivatives import evaluate, pressure
from .graph import DEFAULT_POLICY, build_graph
from .optimize import OptimizationResult, optimize_composition
from .system import AlchemicalSystem, substitution

#: 1 eV/Å³ in GPa
EV_PER_A3_IN_GPA = 160.21766208


def relax(
    system: AlchemicalSystem,
    backend=None,
    cell: bool = True,
    fmax: float = 1e-3,
    steps: int = 500,
    policy: str = DEFAULT_POLICY,
) -> tuple[Atoms, int, bool]:
    """Relax positions (and the cell) of an alchemical system at fixed λ with FIRE.

    Args:
        system: the alchemical system; its atoms are not modified (a copy is relaxed).
        backend: alchemical backend (default SevenNet-0).
        cell: also relax the cell (``FrechetCellFilter``, zero external pressure).
        fmax: force criterion, eV/Å (the filter's cell forces use the same number).
        steps: maximum FIRE steps.
        policy: edge policy.

    Returns:
        (relaxed atoms with the final energy in ``info["energy"]``, steps taken, converged).
    """
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    atoms = system.atoms.copy()
    atoms.set_masses(system.masses())
    calc = AlchemicalCalculator(
        AlchemicalSystem(atoms, system.groups, system.constraints, system.lam.copy()),
        backend=backend,
        policy=policy,
    )
    atoms.calc = calc
    target = FrechetCellFilter(atoms) if cell else atoms
    opt = FIRE(target, logfile=None)
    converged = bool(opt.run(fmax=fmax, steps=steps))
    atoms.info["energy"] = float(atoms.get_potential_energy())
    atoms.info["alchemical_grad"] = calc.get_alchemical_grad(atoms).copy()
    n = int(opt.nsteps)
    atoms.calc = None
    return atoms, n, converged


@dataclass
class LatticeScan:
    """Relaxed lattice parameters along x.

    Attributes:
        x: compositions, shape (n_x,).
        lengths: relaxed cell lengths, shape (n_x, 3), Å.
        energies: relaxed energies, shape (n_x,), eV.
        steps: FIRE steps per point, shape (n_x,).
        converged: convergence flags, shape (n_x,).
        label: e.g. ``"Ce1-xZrxO2"``.
    """

    x: np.ndarray
    lengths: np.ndarray
    energies: np.ndarray
    steps: np.ndarray
    converged: np.ndarray
    label: str = ""

    @property
    def a(self) -> np.ndarray:
        """Mean cell length per point (the lattice constant of a cubic conventional cell), shape (n_x,), Å."""
        return self.lengths.mean(axis=1)

    def vegard_deviation(self) -> np.ndarray:
        """a(x) minus the chord between the first and last points, shape (n_x,), Å (< 0: concave bowing)."""
        x, a = self.x, self.a
        chord = a[0] + (a[-1] - a[0]) * (x - x[0]) / (x[-1] - x[0])
        return a - chord


def lattice_vs_composition(
    atoms: Atoms,
    sites: Sequence[int],
    species: Sequence[str],
    xs: Sequence[float],
    backend=None,
    fmax: float = 1e-3,
    steps: int = 500,
    policy: str = DEFAULT_POLICY,
    progress: bool = False,
    label: str = "",
) -> LatticeScan:
    """Relax cell and positions at λ = (1 − x, x) on ``sites`` for each x.

    Args:
        atoms: host structure.
        sites: indices of the mixed sublattice.
        species: the two end-member species on ``sites``, e.g. ``("Ce", "Zr")``.
        xs: compositions x ∈ [0, 1] of the second species.
        backend: alchemical backend (default SevenNet-0, float64).
        fmax: FIRE criterion, eV/Å (the cell forces of the filter share it).
        steps: maximum FIRE steps per point.
        policy: edge policy.
        progress: tqdm progress bar.
        label: name for plots.

    Returns:
        :class:`LatticeScan`.
    """
    if len(species) != 2:
        raise InputError(f"lattice_vs_composition mixes two species, got {list(species)}")
    backend = backend if backend is not None else default_backend()
    xs = np.asarray(xs, dtype=float)
    if xs.size < 2 or np.any((xs < 0) | (xs > 1)):
        raise InputError(f"need at least two compositions in [0, 1], got {xs.tolist()}")
    it = xs
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(xs, desc=label or "lattice scan", unit="x")
    lengths, energies, nsteps, conv = [], [], [], []
    for x in it:
        system = substitution(atoms, sites, species, [1.0 - x, x])
        relaxed, n, ok = relax(system, backend, cell=True, fmax=fmax, steps=steps, policy=policy)
        lengths.append(relaxed.cell.lengths())
        energies.append(relaxed.info["energy"])
        nsteps.append(n)
        conv.append(ok)
    return LatticeScan(
        x=xs,
        lengths=np.array(lengths),
        energies=np.array(energies),
        steps=np.array(nsteps),
        converged=np.array(conv),
        label=label,
    )


def plot_vegard(scans: Sequence[LatticeScan], path: str | Path) -> Path:
    """Plot a(x) and its deviation from Vegard's chord for one or more scans; returns the written path."""
    fig, (ax1, ax2) = _pyplot().subplots(1, 2, figsize=(9, 3.6))
    for scan in scans:
        ax1.plot(scan.x, scan.a, "o-", label=scan.label)
        ax2.plot(scan.x, 1e3 * scan.vegard_deviation(), "o-", label=scan.label)
    ax1.set(xlabel="x", ylabel="a (Å)", title="lattice constant")
    ax2.axhline(0, color="0.6", lw=0.8)
    ax2.set(xlabel="x", ylabel="a − chord (mÅ)", title="deviation from Vegard's law")
    ax1.legend()
    return _save(fig, path)


def plot_series(y, path: str | Path, *, xlabel: str, ylabel: str, x=None, logy: bool = False) -> Path:
    """Plot one curve y(x) (x the index 0, 1, ... where not given), e.g. a loss history or dE/dt(t); returns
    the written path."""
    fig, ax = _pyplot().subplots(figsize=(4.5, 3.4))
    ax.plot(range(len(y)) if x is None else x, y, "o-")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    return _save(fig, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    """Lay out, write atomically (temporary file, then rename) and close ``fig``; returns the path."""
    fig.tight_layout()
    save_figure(fig, path, dpi=150)
    return Path(path)


def stress_loss_fn(
    system: AlchemicalSystem, backend=None, kind: str = "hydrostatic", policy: str = DEFAULT_POLICY
):
    """A differentiable stress loss of λ at the system's fixed geometry (double backprop), GPa².

    Args:
        system: alchemical system at the cell to be matched.
        backend: alchemical backend.
        kind: ``"hydrostatic"`` (P²), ``"in_plane"`` ((σ_xx + σ_yy)², e.g. epitaxy on a substrate) or
            ``"full"`` (Σ σ_ij²).
        policy: edge policy.

    Returns:
        ``loss_fn(lam) -> scalar tensor``.
    """
    kinds = ("hydrostatic", "in_plane", "full")
    if kind not in kinds:
        raise InputError(f"unknown stress loss {kind!r}; choose one of {', '.join(kinds)}")
    backend = backend if backend is not None else default_backend()
    check_backend_species(backend, system)
    graph = build_graph(system, backend.cutoff, policy)
    pos, cell = system.atoms.positions, np.asarray(system.atoms.cell.array)

    def loss_fn(lam: torch.Tensor) -> torch.Tensor:
        res = evaluate(backend, graph, pos, cell, lam, forces=False, alchemical=False, create_graph=True)
        s = res.stress * EV_PER_A3_IN_GPA
        if kind == "hydrostatic":
            return pressure(s) ** 2
        if kind == "in_plane":
            return (s[0, 0] + s[1, 1]) ** 2
        return (s**2).sum()

    return loss_fn


def match_lattice(
    system: AlchemicalSystem,
    backend=None,
    a: float | None = None,
    kind: str = "hydrostatic",
    method: str = "projected",
    lr: float = 5e-3,
    max_steps: int = 200,
    tol: float = 1e-6,
    policy: str = DEFAULT_POLICY,
    progress: bool = False,
) -> OptimizationResult:
    """Composition whose stress vanishes at a given cell (lattice matching), by gradient steps on λ.

    Positions are kept at the given (ideal) sites; this is exact for structures whose atoms sit on
    symmetry-fixed sites (rocksalt, fluorite) and a frozen-ion approximation otherwise.

    Args:
        system: alchemical system; λ is the start point.
        backend: alchemical backend (default SevenNet-0, float64).
        a: target lattice constant, Å: the cell is scaled isotropically so that its first length is ``a``
            (cubic conventional cells); ``None`` keeps the system's cell.
        kind: stress loss, see :func:`stress_loss_fn` (GPa²).
        method: ``"projected"`` or ``"exponentiated"``.
        lr: step size (per GPa² of loss).
        max_steps: maximum number of steps.
        tol: stop when the loss < tol (GPa²).
        policy: edge policy.
        progress: tqdm progress bar.

    Returns:
        :class:`OptimizationResult`.
    """
    if a is not None:
        if a <= 0:
            raise InputError(f"target lattice constant must be positive, got {a}")
        atoms = system.atoms.copy()
        atoms.set_cell(atoms.cell * (a / atoms.cell.lengths()[0]), scale_atoms=True)
        system = AlchemicalSystem(atoms, system.groups, system.constraints, system.lam.copy())
    backend = backend if backend is not None else default_backend()
    loss_fn = stress_loss_fn(system, backend, kind, policy)
    return optimize_composition(
        loss_fn,
        system.lam,
        system.constraints,
        method=method,
        lr=lr,
        max_steps=max_steps,
        tol=tol,
        dtype=backend.dtype,
        progress=progress,
    )


@dataclass
class LambdaIntegration:
    """0 K alchemical integration along λ(t) = λ_start + t (λ_end − λ_start).

    Attributes:
        t: quadrature nodes in [0, 1], shape (n,).
        weights: quadrature weights, shape (n,).
        dE_dt: ∂E/∂λ · (λ_end − λ_start) at the (relaxed) nodes, shape (n,), eV.
        integral: Σ weights · dE_dt, eV.
        direct: E(λ_end) − E(λ_start) of the (relaxed) end points, eV.
        energies: energies at the nodes, shape (n,), eV.
        relaxed: whether positions were relaxed.
        end_energies: E(λ_start), E(λ_end), eV.
        converged: whether each relaxation reached ``fmax``: the nodes, then the two end points, shape
            (n + 2,) (all True without relaxation).
    """

    t: np.ndarray
    weights: np.ndarray
    dE_dt: np.ndarray
    integral: float
    direct: float
    energies: np.ndarray
    relaxed: bool
    end_energies: tuple[float, float] = field(default=(np.nan, np.nan))
    converged: np.ndarray = field(default_factory=lambda: np.ones(0, dtype=bool))


def quadrature(n: int, rule: str = "gauss-legendre") -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [0, 1] for ``"gauss-legendre"`` or ``"trapezoid"`` with ``n`` points."""
    if n < 1 or (rule == "trapezoid" and n < 2):
        raise InputError(f"too few quadrature points: {n}")
    if rule == "gauss-legendre":
        x, w = np.polynomial.legendre.leggauss(n)
        return 0.5 * (x + 1.0), 0.5 * w
    if rule == "trapezoid":
        t = np.linspace(0.0, 1.0, n)
        w = np.full(n, 1.0 / (n - 1))
        w[[0, -1]] *= 0.5
        return t, w
    raise InputError(f"unknown quadrature {rule!r}; choose gauss-legendre or trapezoid")


def lambda_integration_0k(
    system: AlchemicalSystem,
    lam_start,
    lam_end,
    backend=None,
    n_points: int = 4,
    rule: str = "gauss-legendre",
    relax_positions: bool = True,
    fmax: float = 0.01,
    steps: int = 500,
    policy: str = DEFAULT_POLICY,
    progress: bool = False,
) -> LambdaIntegration:
    """∫₀¹ ∂E/∂λ · dλ along a straight λ path, over relaxed structures at fixed cell, against the direct
    end-point difference.

    Args:
        system: the alchemical system (geometry and groups; its λ is ignored).
        lam_start, lam_end: path end points, shape (n_groups,), both feasible.
        backend: alchemical backend (default SevenNet-0).
        n_points: quadrature points.
        rule: ``"gauss-legendre"`` or ``"trapezoid"``.
        relax_positions: relax positions (fixed cell) at every node and at the end points.
        fmax: FIRE force criterion, eV/Å.
        steps: maximum FIRE steps per relaxation.
        policy: edge policy.
        progress: tqdm progress bar.

    Returns:
        :class:`LambdaIntegration`.
    """
    backend = backend if backend is not None else default_backend()
    lam0, lam1 = np.asarray(lam_start, dtype=float), np.asarray(lam_end, dtype=float)
    t, w = quadrature(n_points, rule)
    direction = lam1 - lam0

    def at(lam: np.ndarray) -> tuple[float, np.ndarray, bool]:
        sysm = AlchemicalSystem(system.atoms, system.groups, system.constraints, lam)
        if relax_positions:
            atoms, _, ok = relax(sysm, backend, cell=False, fmax=fmax, steps=steps, policy=policy)
            return atoms.info["energy"], atoms.info["alchemical_grad"], ok
        g = build_graph(sysm, backend.cutoff, policy)
        res = evaluate(
            backend,
            g,
            sysm.atoms.positions,
            np.asarray(sysm.atoms.cell.array),
            lam,
            forces=False,
            stress=False,
        )
        return float(res.energy), res.dE_dlam.detach().cpu().numpy(), True

    points = [lam0 + ti * direction for ti in t] + [lam0, lam1]
    it = points
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(points, desc="λ-integration", unit="point")
    out = [at(p) for p in it]
    energies = np.array([e for e, _, _ in out[:-2]])
    dE_dt = np.array([float(np.dot(g, direction)) for _, g, _ in out[:-2]])
    e0, e1 = out[-2][0], out[-1][0]
    return LambdaIntegration(
        t=t,
        weights=w,
        dE_dt=dE_dt,
        integral=float(np.dot(w, dE_dt)),
        direct=e1 - e0,
        energies=energies,
        relaxed=relax_positions,
        end_energies=(e0, e1),
        converged=np.array([ok for _, _, ok in out], dtype=bool),
    )
