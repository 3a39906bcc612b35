"""Units and physical constants (LAMMPS ``metal`` units: eV, Å, amu, K, ps).

Constants are taken from CODATA 2018 exact/recommended values, consistent with ``ase.units``
to better than 1e-9 relative. Free energies are per atom unless a name says otherwise.
"""

from __future__ import annotations

#: Boltzmann constant, eV/K.
KB = 8.617333262e-5
#: Reduced Planck constant, J·s (CODATA 2018).
HBAR_SI = 1.054571817e-34
#: Elementary charge (J per eV) and atomic mass unit (kg), CODATA 2018.
EV_SI = 1.602176634e-19
AMU_SI = 1.66053906660e-27
#: Reduced Planck constant, eV·s.
HBAR_EV_S = HBAR_SI / EV_SI
#: ħ²/(1 amu) in eV·Å² (ħ² / m_u, with m_u = 1.66053906660e-27 kg).
HBAR2_PER_AMU = HBAR_SI**2 / AMU_SI / EV_SI * 1e20
#: ħ in eV·ps.
HBAR_EV_PS = HBAR_EV_S * 1e12
#: (eV/Å²)/amu -> ps^-2: ω² = κ/m · this factor.
EV_PER_A2_AMU_TO_PS2 = EV_SI / AMU_SI * 1e20 * 1e-24
#: 1 eV/Å³ in GPa.
EV_PER_A3_TO_GPA = 160.21766208
#: The D-DOS shell energy unit U_0 = (3/2) k_B · 1000 K, eV.
U0_SHELL = 1.5 * KB * 1000.0


def beta(T: float) -> float:
    """Inverse temperature 1/(k_B T) in 1/eV; raises ValueError for T <= 0."""
    if not T > 0:
        raise ValueError(f"temperature must be > 0 K, got {T!r}")
    return 1.0 / (KB * T)
