"""TI systems on LAMMPS: Langevin MD for λ-TI, Frenkel–Ladd and reversible scaling on any pair style.

Built on :class:`thermograd.engines.lammps.LammpsSession` (one fresh instance per task, so a
:class:`LammpsSystem` is a picklable value). Dynamics: ``fix nve`` + ``fix langevin ... zero yes`` with
``velocity ... mom yes``: total momentum zero and no net random force, so for a translation-invariant
potential the centre of mass stays at that of the starting lattice sites (the convention of
:mod:`thermograd.ti.results`).

* λ-TI: the pair style is wrapped as ``hybrid/scaled λ <style>`` and the harmonic part (1 − λ)U_h is a
  ``fix external`` callback (NumPy matrix-vector product with the model's Hessian, minimum-image
  displacements); ∂U/∂λ = pe/λ − E_0 − U_h every step.
* Frenkel–Ladd: ``fix ti/spring`` (Freitas et al. 2016; λ = 0 the model, λ = 1 the Einstein crystal,
  switching function 2), ∂U/∂λ = U_spring − U every step.
* Reversible scaling: ``hybrid/scaled v_lam <style>`` with λ = 1/(1 + τ(T_f/T_0 − 1)); ∂U/∂λ = pe/λ.

Every run tracks the largest displacement of any atom from its site (``compute displace/atom``); above
``max_displacement`` (default half the nearest-neighbour distance) it raises
:class:`~thermograd.errors.UnstableStructureError` and no number is returned.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EngineError, InputError, UnstableStructureError
from .system import SwitchLegs, Trace

#: Steps per ``run`` chunk; the stability check runs after each chunk.
CHUNK = 2000


def scaled_potential(potential, scale: str):
    """``potential`` wrapped as ``pair_style hybrid/scaled <scale> <style>`` (scale: number or ``v_name``)."""
    from ..engines.potentials import Potential

    if potential.pair_style.split()[0].startswith("hybrid"):
        raise EngineError(f"λ-scaling of a hybrid pair style ({potential.pair_style!r}) is not supported")
    style0 = potential.pair_style.split()[0]
    coeff = []
    for line in potential.pair_coeff:
        parts = line.split(None, 2)
        coeff.append(" ".join([parts[0], parts[1], style0, *parts[2:]]))
    return Potential(
        f"hybrid/scaled {scale} {potential.pair_style}",
        tuple(coeff),
        potential.elements,
        potential.files,
        potential.name,
    )


@dataclass
class LammpsSystem:
    """A single-species crystal with a LAMMPS pair potential (picklable; one LAMMPS instance per task);
    implements :class:`~thermograd.ti.system.TISystem` and :class:`~thermograd.ti.system.NPTSystem`.

    Args:
        atoms: reference structure (the lattice sites; relax it first), ASE ``Atoms``.
        potential: :class:`thermograd.engines.potentials.Potential`.
        timestep: MD time step, ps.
        damping: Langevin relaxation time, ps.
        max_displacement: instability threshold, Å (default half the nearest-neighbour distance).
    """

    atoms: object
    potential: object
    timestep: float = 0.002
    damping: float = 0.1
    max_displacement: float | None = None

    def __post_init__(self) -> None:
        masses = np.asarray(self.atoms.get_masses(), dtype=float)
        if masses.size < 2:
            raise InputError("need at least 2 atoms")
        if np.ptp(masses) > 1e-9 * masses[0] or len(set(self.atoms.get_chemical_symbols())) != 1:
            raise InputError("TI systems are single-species (one element, one mass)")
        if not self.timestep > 0 or not self.damping > 0:
            raise InputError("timestep and damping must be > 0 ps")
        if self.max_displacement is None:
            d = self.atoms.get_all_distances(mic=True)
            np.fill_diagonal(d, np.inf)
            self.max_displacement = 0.5 * float(d.min())

    # ------------------------------------------------------------------ properties
    @property
    def n_atoms(self) -> int:
        return len(self.atoms)

    @property
    def mass(self) -> float:
        return float(self.atoms.get_masses()[0])

    @property
    def volume(self) -> float:
        """Cell volume, Å³."""
        return float(abs(self.atoms.get_volume()))

    def fingerprint(self) -> dict[str, str]:
        """Digests of what the system's results depend on (keys of the TI task journal): the structure, the
        potential (commands and file contents, not install paths) and the MD settings."""
        from .journal import digest

        a = self.atoms
        return {
            "engine": "lammps",
            "structure": digest((a.numbers, a.positions, a.cell[:], a.pbc, a.get_masses())),
            "potential": self.potential.digest(),
            "md": digest((self.timestep, self.damping, self.max_displacement)),
        }

    def _session(self, potential=None):
        from ..engines.lammps import LammpsSession

        return LammpsSession(self.atoms, potential or self.potential)

    def energy(self) -> float:
        """Static energy of the reference structure, eV (whole cell)."""
        with self._session() as s:
            return float(s.energy(np.asarray(self.atoms.positions)))

    def hessian(self) -> np.ndarray:
        """Model Hessian at the reference structure, shape (3N, 3N), eV/Å² (acoustic sum rule imposed)."""
        with self._session() as s:
            return s.hessian(method="fd")

    # ------------------------------------------------------------------ MD plumbing
    def _setup(self, s, T: float, seed: int, before_thermostat: tuple[str, ...] = ()) -> None:
        """Velocities, integrator and thermostat; ``before_thermostat`` commands (fixes that rescale the
        total force, e.g. ``fix ti/spring``) are issued before ``fix langevin`` so that they never scale the
        thermostat's friction and noise."""
        if not T > 0:
            raise InputError(f"temperature must be > 0 K, got {T!r}")
        s.command(f"timestep {self.timestep!r}")
        s.command(f"velocity all create {T!r} {seed} mom yes rot no dist gaussian")
        s.command("fix tg_nve all nve")
        for cmd in before_thermostat:
            s.command(cmd)
        s.command(f"fix tg_lgv all langevin {T!r} {T!r} {self.damping!r} {seed + 7} zero yes")
        s.command("compute tg_dsp all displace/atom\ncompute tg_dmax all reduce max c_tg_dsp[4]")
        s.command("compute tg_msd all msd\nvariable tg_dmax equal c_tg_dmax\nvariable tg_pe equal pe")
        s.command("variable tg_step equal step\nthermo_style custom step pe c_tg_dmax\nthermo 0")
        self._first = True

    def _run(self, s, n_steps: int, T: float) -> None:
        done = 0
        while done < n_steps:
            n = min(CHUNK, n_steps - done)
            s.command(f"run {n}" + ("" if self._first else " pre no") + " post no")
            self._first = False
            done += n
            dmax = float(s.lmp.extract_compute("tg_dmax", 0, 0))
            self._check(dmax, T)

    def _check(self, dmax: float, T: float) -> None:
        if not np.isfinite(dmax) or dmax > self.max_displacement:
            raise UnstableStructureError(
                f"an atom moved {dmax:.3g} Å from its site at {T:g} K (limit {self.max_displacement:.3g} Å): "
                "the structure melted or is unstable; no free energy is returned"
            )

    def _record(self, s, n_steps: int, T: float, columns: str, folder: str, tag: str) -> np.ndarray:
        """Run n_steps printing ``columns`` (LAMMPS variables) every step; returns shape (n_steps, k)."""
        path = Path(folder) / f"{tag}.dat"
        s.command(f'fix tg_print all print 1 "{columns} ${{tg_dmax}}" file {path} screen no')
        self._first = True  # a new fix needs "run ... pre yes"
        self._run(s, n_steps, T)
        s.command("unfix tg_print")
        data = np.loadtxt(path, comments="#", ndmin=2)
        if data.shape[0] not in (n_steps, n_steps + 1):  # + 1: the setup step of "run ... pre yes"
            raise EngineError(f"expected {n_steps} recorded steps, LAMMPS printed {data.shape[0]}")
        self._check(float(data[:, -1].max()), T)
        return data[:, :-1]

    # ------------------------------------------------------------------ TISystem
    def lambda_samples(
        self,
        lam: float,
        T: float,
        hessian: np.ndarray,
        energy_offset: float,
        n_equil: int,
        n_prod: int,
        seed: int,
    ) -> Trace:
        """Equilibrium ∂U/∂λ = U − E_0 − U_h on U_λ = (1 − λ)U_h + λU, eV (cell), every step."""
        if not 0.0 < lam <= 1.0:
            raise InputError(f"λ must be in (0, 1] for a scaled pair style, got {lam}")
        n = self.n_atoms
        with (
            self._session(scaled_potential(self.potential, repr(float(lam)))) as s,
            tempfile.TemporaryDirectory(prefix="thermograd-ti-") as tmp,
        ):
            h = np.asarray(hessian, dtype=float)
            if s.rotation is not None:
                b = np.kron(np.eye(n), s.rotation)
                h = b.T @ h @ b
            order = s._order()
            xref = np.array(s.lmp.numpy.extract_atom("x")[order], dtype=float)
            boxlo, boxhi, xy, yz, xz, periodic, _ = s.lmp.extract_box()
            lcell = np.array(
                [[boxhi[0] - boxlo[0], 0, 0], [xy, boxhi[1] - boxlo[1], 0], [xz, yz, boxhi[2] - boxlo[2]]]
            )
            inv = np.linalg.inv(lcell)
            per = np.asarray(periodic, dtype=bool)
            u_h: dict[int, float] = {}

            def callback(_caller, step, nlocal, tag, x, f):
                idx = np.asarray(tag).ravel() - 1
                d = np.empty((n, 3))
                d[idx] = x[:nlocal] - xref[idx]
                frac = d @ inv
                frac[:, per] -= np.round(frac[:, per])
                d = frac @ lcell
                g = (h @ d.ravel()).reshape(n, 3)
                f[:nlocal] = -(1.0 - lam) * g[idx]
                u_h[int(step)] = 0.5 * float(np.sum(d * g))

            s.command("fix tg_hx all external pf/callback 1 1")
            s.lmp.set_fix_external_callback("tg_hx", callback)
            self._setup(s, T, seed)
            self._run(s, n_equil, T)
            data = self._record(s, n_prod, T, "${tg_step} ${tg_pe}", tmp, "lambda")
            steps = data[:, 0].astype(int)
            uh = np.array([u_h[k] for k in steps])
            du = data[:, 1] / lam - energy_offset - uh
            return Trace(np.full(du.size, lam), du, float("nan"))

    def msd(self, T: float, n_equil: int, n_steps: int, seed: int) -> float:
        """Mean squared displacement per atom from the lattice sites in NVT, Å²."""
        with self._session() as s, tempfile.TemporaryDirectory(prefix="thermograd-ti-") as tmp:
            self._setup(s, T, seed)
            self._run(s, n_equil, T)
            s.command("variable tg_msd equal c_tg_msd[4]")
            data = self._record(s, n_steps, T, "${tg_msd}", tmp, "msd")
            return float(data[:, 0].mean())

    def fl_switch(self, T: float, spring: float, n_equil: int, n_switch: int, seed: int) -> SwitchLegs:
        """Frenkel–Ladd legs with ``fix ti/spring``: forward model → Einstein, backward; ∂U/∂λ = U_E − U."""
        with self._session() as s, tempfile.TemporaryDirectory(prefix="thermograd-ti-") as tmp:
            self._setup(s, T, seed, (f"fix tg_ti all ti/spring {spring!r} {n_switch} {n_equil} function 2",))
            s.command("variable tg_lam equal f_tg_ti[1]\nvariable tg_esp equal f_tg_ti")
            legs = []
            for leg in ("forward", "backward"):
                if leg == "backward":
                    s.command("pair_modify compute no")  # λ = 1: pair forces enter with weight 0
                    self._first = True
                self._run(s, n_equil, T)
                if leg == "backward":
                    s.command("pair_modify compute yes")
                    self._first = True
                data = self._record(s, n_switch, T, "${tg_lam} ${tg_pe} ${tg_esp}", tmp, leg)
                legs.append(Trace(data[:, 0], data[:, 2] - data[:, 1], float("nan")))
            return legs[0], legs[1]

    def rs_switch(self, T: float, lam_final: float, n_equil: int, n_switch: int, seed: int) -> SwitchLegs:
        """Reversible-scaling legs of λU at T, λ: 1 → lam_final → 1 (T/λ linear in time); ∂U/∂λ = U."""
        if not lam_final > 0:
            raise InputError(f"final scaling must be > 0, got {lam_final}")
        c = 1.0 / lam_final - 1.0
        from ..engines.lammps import LammpsSession

        # hybrid/scaled needs its scale variable to exist when the pair style is created

        class _Session(LammpsSession):
            def command(self, cmd):  # define the scale variable before the pair style is created
                if cmd.startswith("pair_style") and "v_tg_lam_rs" in cmd:
                    super().command("variable tg_lam_rs equal 1.0")
                super().command(cmd)

        with (
            _Session(self.atoms, scaled_potential(self.potential, "v_tg_lam_rs")) as s,
            tempfile.TemporaryDirectory(prefix="thermograd-ti-") as tmp,
        ):
            self._setup(s, T, seed)
            legs = []
            for leg, start, expr in (
                ("forward", 1.0, "1.0/(1.0+(step-{s0})/{n}*{c!r})"),
                ("backward", lam_final, "1.0/(1.0+(1.0-(step-{s0})/{n})*{c!r})"),
            ):
                s.command(f"variable tg_lam_rs equal {start!r}")
                self._first = True  # a redefined scale variable needs "run ... pre yes"
                self._run(s, n_equil, T)
                # the schedule counts steps from the start of the leg ("elapsed" restarts every run chunk)
                expr = expr.format(s0=int(s.lmp.extract_global("ntimestep")), n=n_switch, c=c)
                s.command(f'variable tg_lam_rs equal "{expr}"')
                s.command("variable tg_lam_now equal v_tg_lam_rs")
                self._first = True
                data = self._record(s, n_switch, T, "${tg_lam_now} ${tg_pe}", tmp, leg)
                legs.append(Trace(data[:, 0], data[:, 1] / data[:, 0], float("nan")))
            return legs[0], legs[1]

    # ------------------------------------------------------------------ NPTSystem
    def at_pressure(self, T: float, pressure: float, n_steps: int, seed: int) -> LammpsSystem:
        """A copy isotropically rescaled to the mean NPT volume at (T, P); P in bar, n_steps ≥ 200."""
        return self.with_volume(self.npt_volume(T, pressure, n_steps, seed))

    def with_volume(self, volume: float) -> LammpsSystem:
        """A copy isotropically rescaled to the cell volume ``volume`` (Å³)."""
        atoms = self.atoms.copy()
        atoms.set_cell(atoms.cell[:] * (volume / self.volume) ** (1.0 / 3.0), scale_atoms=True)
        return LammpsSystem(atoms, self.potential, self.timestep, self.damping, None)

    def npt_volume(self, T: float, pressure: float, n_steps: int, seed: int) -> float:
        """Mean cell volume (Å³) of an NPT run at (T, P): half equilibration, half averaging; P in bar."""
        return float(self.npt_volume_trace(T, pressure, n_steps, seed).mean())

    def npt_volume_trace(self, T: float, pressure: float, n_steps: int, seed: int) -> np.ndarray:
        """Cell volume (Å³) at every step of the averaging half of an NPT run at (T, P) (P in bar; the first
        half equilibrates), for ⟨V⟩ with a block-averaged error."""
        if n_steps < 200:
            raise InputError(f"NPT needs at least 200 steps, got {n_steps}")
        with self._session() as s, tempfile.TemporaryDirectory(prefix="thermograd-ti-") as tmp:
            self._setup(s, T, seed)
            s.command("unfix tg_nve")
            s.command(f"fix tg_nph all nph iso {pressure!r} {pressure!r} {1000 * self.timestep!r}")
            s.command("uncompute tg_dmax\nuncompute tg_dsp\ncompute tg_dsp all displace/atom")
            s.command("compute tg_dmax all reduce max c_tg_dsp[4]\nvariable tg_vol equal vol")
            self._run(s, n_steps // 2, T)
            data = self._record(s, n_steps - n_steps // 2, T, "${tg_vol}", tmp, "npt")
            return data[:, 0].copy()


def relax_cubic_lattice(atoms, potential, rel_range: float = 0.03):
    """Isotropically rescale ``atoms`` to the 0 K energy minimum (Brent search on the scale factor).

    Atomic positions are not relaxed (perfect lattices have zero forces by symmetry).

    Args:
        atoms: ASE ``Atoms`` (a perfect lattice).
        potential: the LAMMPS potential.
        rel_range: bracket of the linear scale factor, 1 ± rel_range.

    Returns:
        (rescaled copy of ``atoms``, linear scale factor applied).
    """
    from scipy.optimize import minimize_scalar

    from ..engines.lammps import LammpsSession

    cell0, pos0 = atoms.cell[:].copy(), atoms.positions.copy()

    def energy(scale: float) -> float:
        trial = atoms.copy()
        trial.set_cell(cell0 * scale, scale_atoms=False)
        trial.positions = pos0 * scale
        with LammpsSession(trial, potential) as s:
            return s.energy(trial.positions)

    res = minimize_scalar(
        energy, bounds=(1 - rel_range, 1 + rel_range), method="bounded", options={"xatol": 1e-7}
    )
    if abs(res.x - 1) > 0.99 * rel_range:
        raise UnstableStructureError(
            f"no energy minimum within ±{rel_range:.0%} of the given lattice parameter"
        )
    out = atoms.copy()
    out.set_cell(cell0 * res.x, scale_atoms=True)
    return out, float(res.x)
