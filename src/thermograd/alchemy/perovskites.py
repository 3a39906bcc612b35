"""CsPbI₃ / CsSnI₃ in the α (cubic perovskite) and δ (orthorhombic, edge-sharing) phases, and the cheapest
model that holds both: the structures of the Pb → Sn substitution cycle (science-alchemical.md §8.4).

* :func:`cspbi3_alpha`: cubic Pm-3m perovskite, 5 atoms per cell, B at the body centre, X at the face centres,
  A at the corner.
* :func:`cspbi3_delta`: the yellow δ phase, Pnma (No. 62), NH₄CdCl₃ type, 20 atoms per cell (double chains
  of edge-sharing BI₆ octahedra along b). Every site is a 4c position (x, ¼, z). Lattice parameters and
  positions: Materials Project mp-540839 (PBE relaxation, the reference the MPtrj-trained SevenNet-0 sees),
  as stored in ``WMD-group/SMACT`` ``smact/tests/files/mp-540839_CsPbI3_oxi.json``, converted to the
  standard Pnma setting (a = 10.6504, b = 4.8471, c = 18.0312 Å). The experimental room-temperature cell
  (Trots & Myagkota, J. Phys. Chem. Solids 69, 2520 (2008)) is ≈ 2 % smaller; pass ``cell`` to use it.
* :func:`b_sites`: the indices of the Pb/Sn sites (the substituted sublattice).

The Sn end members are built on the *same* geometry as the Pb ones (``b_site="Sn"`` only changes the
species), so that the end points of an alchemical Pb → Sn path over :func:`b_sites` are exactly these
structures (the cycle closure is then an identity for any model, §8.4).

:data:`CSPBI3_MORSE` (with :data:`CSPBI3_MORSE_CUTOFF`) is a Morse pair model for Cs, Pb, Sn, I that holds
all four structures as crystals at 300 K at fixed cell (its provenance is given with it); it is the model of
the CPU cycle check, where SevenNet-0 costs too much per step.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.spacegroup import crystal

from ..errors import InputError
from .md import relax_positions  # noqa: F401  (re-exported: the cycle's structures are relaxed with it)

#: B-site species accepted by the builders
B_SPECIES = ("Pb", "Sn")

#: δ-CsPbI₃, Pnma, mp-540839 (PBE), standard setting: lattice parameters (a, b, c), Å
DELTA_CELL = (10.65044663, 4.84714164, 18.03119927)

#: δ-CsPbI₃ asymmetric unit, all 4c (x, ¼, z) in Pnma, mp-540839 (species, (x, y, z) fractional)
DELTA_BASIS = (
    ("Cs", (0.08127558, 0.75, 0.32788027)),
    ("B", (0.16184885, 0.25, 0.06078324)),
    ("I", (0.02927197, 0.25, 0.88769176)),
    ("I", (0.16278884, 0.25, 0.49795545)),
    ("I", (0.20368336, 0.75, 0.71269448)),
)


def _check_b(b_site: str) -> str:
    if b_site not in B_SPECIES:
        raise InputError(f"b_site must be one of {B_SPECIES}, got {b_site!r}")
    return b_site


def _check_repeat(repeat) -> tuple[int, int, int]:
    rep = tuple(int(r) for r in np.broadcast_to(np.asarray(repeat, dtype=int), (3,)))
    if any(r < 1 for r in rep):
        raise InputError(f"repeat must be three integers >= 1, got {repeat}")
    return rep


def _sorted_species(atoms: Atoms) -> Atoms:
    """Atoms ordered Cs, B, I (stable within each species), so every builder has the same species order."""
    rank = {"Cs": 0, "Pb": 1, "Sn": 1, "I": 2}
    order = np.argsort([rank[s] for s in atoms.get_chemical_symbols()], kind="stable")
    return atoms[order]


def cspbi3_alpha(a: float = 6.38, repeat=(1, 1, 1), b_site: str = "Pb") -> Atoms:
    """Cubic (Pm-3m) α-CsBI₃: Cs at (0, 0, 0), B at (½, ½, ½), I at the face centres.

    Args:
        a: cubic lattice parameter, Å (6.38 Å by default; MP PBE gives 6.275 Å, experiment ≈ 6.30 Å at
            634 K).
        repeat: supercell repetitions along a, b, c.
        b_site: ``"Pb"`` or ``"Sn"``.

    Returns:
        5·n_cells atoms in the order Cs, B, I.
    """
    b = _check_b(b_site)
    if not a > 0:
        raise InputError(f"lattice parameter must be > 0 Å, got {a}")
    atoms = Atoms(
        ["Cs", b, "I", "I", "I"],
        scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
        cell=np.eye(3) * float(a),
        pbc=True,
    )
    return _sorted_species(atoms.repeat(_check_repeat(repeat)))


def cspbi3_delta(
    repeat=(1, 1, 1), b_site: str = "Pb", cell: tuple[float, float, float] | None = None
) -> Atoms:
    """Orthorhombic (Pnma, NH₄CdCl₃-type) δ-CsBI₃, 20 atoms per cell (module docstring for the source).

    Args:
        repeat: supercell repetitions along a, b, c (a ≈ 10.65, b ≈ 4.85, c ≈ 18.03 Å; ``(1, 2, 1)`` makes
            the cell roughly cubic in shape).
        b_site: ``"Pb"`` or ``"Sn"`` (same geometry for both).
        cell: lattice parameters (a, b, c), Å; default :data:`DELTA_CELL` (mp-540839).

    Returns:
        20·n_cells atoms in the order Cs, B, I.
    """
    b = _check_b(b_site)
    abc = DELTA_CELL if cell is None else tuple(float(x) for x in cell)
    if len(abc) != 3 or not all(x > 0 for x in abc):
        raise InputError(f"cell must be three lattice parameters > 0 Å, got {cell}")
    symbols = [b if s == "B" else s for s, _ in DELTA_BASIS]
    atoms = crystal(
        symbols,
        basis=[p for _, p in DELTA_BASIS],
        spacegroup=62,
        cellpar=[*abc, 90, 90, 90],
        primitive_cell=False,
    )
    if len(atoms) != 20:  # pragma: no cover - guards the basis above
        raise InputError(f"δ-CsPbI3 basis gave {len(atoms)} atoms, expected 20")
    return _sorted_species(atoms.repeat(_check_repeat(repeat)))


def b_sites(atoms: Atoms) -> list[int]:
    """Indices of the B sites (Pb or Sn) of ``atoms``, ascending."""
    return [i for i, s in enumerate(atoms.get_chemical_symbols()) if s in B_SPECIES]


#: Morse pairs (D eV, a 1/Å, r0 Å) for Cs, Pb, Sn, I, with :data:`CSPBI3_MORSE_CUTOFF` (taper 0.5 Å).
#: How found: force matching to SevenNet-0 (float32) on 28 configurations (α 2×2×2 at a = 6.38 Å and δ
#: 1×1×1 of mp-540839, Pb and Sn, ideal and with 0.12 Å Gaussian displacements), plus the energies per atom
#: within each composition (α − δ ordering), Adam on (ln D, ln a, r0); force rms error 0.12 eV/Å against an
#: rms SevenNet-0 force of 0.29 eV/Å. Every D was then doubled (the relaxed structures are unchanged, the
#: thermal amplitude at 300 K drops by √2), and Pb–Sn (absent from the end members) was set by hand between
#: Pb–Pb and Sn–Sn. With it, E(α) − E(δ) = +103 meV/atom (Pb) and +65 (Sn) after relaxation at fixed cell
#: (SevenNet-0 at the ideal sites: +52 and +28, i.e. the same order). Stability checked (BatchedLangevin,
#: Δt = 4 fs, 1/γ = 0.2 ps, 300 K, fixed cell, positions relaxed first; 2 replicas × 3000 steps): max
#: displacement from the site
#: α-CsPbI3 2×2×2 0.81 Å, δ-CsPbI3 1×2×1 0.61 Å, α-CsSnI3 0.68 Å, δ-CsSnI3 0.62 Å; rms 0.30, 0.22, 0.27,
#: 0.22 Å; δ keeps Pnma after relaxation (largest shift from mp-540839: 0.22 Å, Pb–I 3.17–3.38 Å).
#: SevenNet-0 itself (float32, same engine) does not hold α-CsPbI3 2×2×2 at 300 K at fixed cell (an atom
#: 1.44 Å from its site within 200 steps: octahedral tilting), while δ 1×1×1 stays (0.84 Å in 300 steps).
CSPBI3_MORSE = {
    ("Cs", "Cs"): (0.2054, 0.7852, 4.847),
    ("Cs", "Pb"): (0.0196, 0.5738, 6.8672),
    ("Cs", "Sn"): (0.0050, 1.5975, 5.7504),
    ("Cs", "I"): (0.6476, 1.1242, 3.7568),
    ("Pb", "Pb"): (0.2056, 0.4377, 5.9763),
    ("Pb", "Sn"): (0.16, 0.6, 5.75),
    ("Pb", "I"): (0.354, 1.7984, 3.1639),
    ("Sn", "Sn"): (0.118, 0.7991, 5.4983),
    ("Sn", "I"): (0.483, 1.8816, 3.0043),
    ("I", "I"): (0.023, 1.5273, 4.81),
}

#: cutoff of :data:`CSPBI3_MORSE`, Å (cosine taper over the last 0.5 Å)
CSPBI3_MORSE_CUTOFF = 5.5


def cspbi3_morse():
    """:class:`~thermograd.alchemy.pair.MorseBackend` with :data:`CSPBI3_MORSE` (float64)."""
    from .pair import MorseBackend

    return MorseBackend(CSPBI3_MORSE, CSPBI3_MORSE_CUTOFF, taper=0.5)
