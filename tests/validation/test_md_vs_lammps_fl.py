"""The torch engine's Frenkel–Ladd against ``thermograd ti`` (LAMMPS) on the same crystal (issue 10).

BCC Fe, Mendelev EAM (Fe_mm.eam.fs), 3×3×3 cubic = 54 atoms at the model's 0 K lattice constant, 400 K:
:func:`thermograd.md.frenkel_ladd` with :class:`~thermograd.md.hamiltonians.LammpsPotential` (torch BAOAB,
forces from LAMMPS) vs :func:`thermograd.ti.run_frenkel_ladd` on :class:`~thermograd.ti.lammps_md.LammpsSystem`
(LAMMPS ``fix ti/spring``). Both hold the centre of mass, so both are in the 'cell' convention; they must agree
within 2 combined standard errors. Both numbers, their errors and the wall time of each route are printed
(``pytest -s``).
"""

from __future__ import annotations

import math
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.lammps]

T = 400.0


@pytest.fixture(scope="module")
def fe54():
    from thermograd.engines.potentials import Potential
    from thermograd.structures import bcc
    from thermograd.ti.lammps_md import relax_cubic_lattice

    pot = Potential.eam("Fe_mm.eam.fs", "Fe")
    atoms, _ = relax_cubic_lattice(bcc("Fe", a=2.855, size=3), pot)
    return atoms, pot


def test_torch_engine_frenkel_ladd_matches_lammps_ti(fe54):
    import warnings

    from thermograd.md.frenkel_ladd import MDSettings, frenkel_ladd
    from thermograd.md.hamiltonians import LammpsPotential
    from thermograd.md.protocol import SwitchingTooFast
    from thermograd.ti import run_frenkel_ladd
    from thermograd.ti.lammps_md import LammpsSystem

    atoms, pot = fe54
    t0 = time.perf_counter()
    lmp = run_frenkel_ladd(
        LammpsSystem(atoms, pot, timestep=0.002, damping=0.1),
        T,
        n_msd_equil=500,
        n_msd=2000,
        n_equil=500,
        n_switch=4000,
        n_repeats=8,
        seed=5,
    )
    t_lmp = time.perf_counter() - t0

    potential = LammpsPotential(atoms, pot)
    settings = MDSettings(
        timestep=0.002,
        damping=0.1,
        n_msd_equil=300,
        n_msd=1000,
        n_equil=300,
        n_switch=2000,
        n_replicas=8,
        seed=5,
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SwitchingTooFast)
        md = frenkel_ladd(potential, atoms, T, settings=settings)
    t_md = time.perf_counter() - t0
    potential.close()

    sigma = math.hypot(md.F_error, lmp.F_error)
    print(
        f"\nFe_mm BCC 54 atoms {T:g} K, 'cell' convention (eV/atom):\n"
        f"  torch engine FL : F = {md.F:.6f} ± {md.F_error:.6f}  dissipation {md.dissipation:.2e}  "
        f"k = {md.springs[0]:.4f} eV/Å²  {md.md_steps} steps/replica × {settings.n_replicas}  "
        f"wall {t_md:.1f} s  ({len(caught)} dissipation warnings)\n"
        f"  LAMMPS ti FL    : F = {lmp.F:.6f} ± {lmp.F_error:.6f}  dissipation {lmp.dissipation:.2e}  "
        f"k = {lmp.spring:.4f} eV/Å²  {lmp.md_steps} steps  wall {t_lmp:.1f} s\n"
        f"  difference {md.F - lmp.F:+.2e} eV = {(md.F - lmp.F) / sigma:+.2f} combined σ"
    )
    assert md.F_error > 0 and lmp.F_error > 0
    assert abs(md.F - lmp.F) < 2 * sigma
    # same physics: same static energy and spring constants within the MSD runs' noise
    assert abs(md.springs[0] / lmp.spring - 1) < 0.05
    assert md.dissipation > -3 * md.dissipation_error
