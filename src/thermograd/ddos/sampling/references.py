"""Reference set-up of a campaign (run on the driver, once per phase × strain): structure, Hessian → modes,
static energy E_0 and perfect-lattice descriptor D_0 (science-ddos.md §3, §12).

A *reference builder* has ``descriptor_spec`` (a :class:`~thermograd.ddos.sampling.tasks.DescriptorSpec`),
``check()`` (cheap validation of files and descriptor before anything is written),
``file_digests()`` (role → SHA-256 of every input file's content, part of the campaign's identity) and
``build(phase, strain_index, strain) -> Reference``. :class:`LammpsReferenceBuilder` uses the run file's
reference potential in LAMMPS; :class:`ToyReferenceBuilder` uses the numpy pair-descriptor toy (tests,
benchmarks of the campaign machinery without an engine).
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError, UnstableStructureError
from ...harmonic import modes_from_hessian
from ...systems import build_structure
from .campaign_config import CampaignConfig, PhaseConfig, file_digest
from .campaign_store import Reference
from .tasks import LammpsDescriptorSpec, SamplingContext, _calculator

__all__ = ["LammpsReferenceBuilder", "build_structure", "context_of"]


def _structure_digests(config: CampaignConfig) -> dict[str, str]:
    out = {}
    for phase in config.phases:
        if phase.structure.file is not None:
            try:
                out[f"structure:{phase.name}"] = file_digest(phase.structure.file)
            except OSError as exc:
                raise InputError(
                    f"cannot read structure file {phase.structure.file}: {exc.strerror}"
                ) from None
    return out


def _single_mass(atoms, phase: str) -> float:
    masses = np.asarray(atoms.get_masses(), dtype=float)
    if not np.allclose(masses, masses[0], rtol=0, atol=1e-9):
        raise InputError(
            f"phase {phase!r}: D-DOS shells need a single-mass crystal, got masses {sorted(set(masses))}"
        )
    return float(masses[0])


def context_of(ref: Reference, descriptor_spec) -> SamplingContext:
    """The picklable sampling context of a stored or freshly built reference."""
    return SamplingContext(
        phase=ref.phase,
        strain_index=ref.strain_index,
        positions=np.asarray(ref.positions),
        cell=np.asarray(ref.cell),
        numbers=np.asarray(ref.numbers),
        pbc=tuple(bool(p) for p in ref.pbc),
        modes=ref.modes,
        descriptor=descriptor_spec,
    )


def _finish(
    phase: PhaseConfig,
    strain_index: int,
    strain: float,
    atoms,
    hessian,
    E_total,
    descriptor_spec,
    potential_meta: dict,
    negative_tol: float,
) -> Reference:
    mass = _single_mass(atoms, phase.name)
    try:
        modes = modes_from_hessian(hessian, mass, negative_tol=negative_tol)
    except UnstableStructureError as exc:
        raise UnstableStructureError(f"phase {phase.name!r}, strain {strain:+g}: {exc}") from None
    ref = Reference(
        phase=phase.name,
        strain_index=strain_index,
        strain=float(strain),
        positions=np.array(atoms.positions, dtype=float),
        cell=np.array(atoms.cell[:], dtype=float),
        numbers=np.array(atoms.numbers),
        masses=np.array(atoms.get_masses(), dtype=float),
        pbc=np.array(atoms.pbc, dtype=bool),
        hessian=np.asarray(hessian, dtype=float),
        modes=modes,
        E_0=float(E_total) / len(atoms),
        D_0=np.zeros(0),
        descriptor=descriptor_spec.metadata(),
        potential=potential_meta,
    )
    calc = _calculator(context_of(ref, descriptor_spec))
    ref.D_0 = np.asarray(calc(ref.positions[None]), dtype=float)[0]
    return ref


class LammpsReferenceBuilder:
    """References from the run file's potential and descriptor, evaluated with LAMMPS."""

    def __init__(self, config: CampaignConfig) -> None:
        self.config = config
        d = config.effective_descriptor()
        self.descriptor_spec = LammpsDescriptorSpec(snapparam=d.snapparam, compute=d.compute, cutoff=d.cutoff)
        self._potential = None

    def potential(self, elements: list[str] | None = None):
        """The reference potential (a ``Potential``; InputError if a file is missing)."""
        from ...engines.potentials import Potential

        if self._potential is None:
            p = self.config.potential
            if p.snap is not None:
                self._potential = Potential.from_snap(p.snap, p.elements)
            elif p.eam is not None:
                self._potential = Potential.eam(p.eam, p.elements)
            else:
                elems = p.elements or elements or []
                self._potential = Potential.from_lammps(
                    p.pair_style, p.pair_coeff_lines, elems, base_dir=self.config.base_dir
                )
        return self._potential

    def check(self) -> None:
        """Resolve the potential files, the descriptor and every structure before anything is written."""
        elements: list[str] = []
        for phase in self.config.phases:
            atoms = build_structure(phase.structure, self.config.strains[0])
            elements += [s for s in atoms.get_chemical_symbols() if s not in elements]
        self.potential(elements)
        self.descriptor_spec.descriptor()

    def file_digests(self) -> dict[str, str]:
        """SHA-256 of the potential (commands and file contents), the descriptor's file and structure files."""
        from ...engines.potentials import find_potential_file

        out = {"potential": self.potential().digest(), **_structure_digests(self.config)}
        spec = self.descriptor_spec
        if spec.snapparam is not None:
            name = spec.snapparam
            if not name.endswith(".snapparam"):
                name = name.removesuffix(".snap") + ".snapparam"
            out["descriptor"] = file_digest(find_potential_file(name))
        return out

    def _potential_meta(self) -> dict:
        pot = self.potential()
        meta = {
            "name": pot.name,
            "pair_style": pot.pair_style,
            "pair_coeff": list(pot.pair_coeff),
            "elements": list(pot.elements),
            "files": list(pot.files),
        }
        snap = pot.snap_files
        if snap is not None and pot.substyles == ("snap",):
            from ...io.snap import read_snapparam

            params = read_snapparam(snap[1])
            meta["snapcoeff"], meta["snapparam"] = str(snap[0]), str(snap[1])
            meta["linear_snap"] = int(params.get("quadraticflag", 0)) == 0
        return meta

    def build(self, phase: PhaseConfig, strain_index: int, strain: float) -> Reference:
        """Structure, Hessian (``hessian.method``/``step``), modes, E_0 and D_0 of one phase at one strain."""
        from ...engines.lammps import LammpsSession

        atoms = build_structure(phase.structure, strain)
        h = self.config.hessian
        kwargs = {"method": h.method} | ({"delta": h.step} if h.step is not None else {})
        with LammpsSession(
            atoms, self.potential(list(dict.fromkeys(atoms.get_chemical_symbols())))
        ) as session:
            E_total, _ = session.energy_forces(atoms.positions)
            hessian = session.hessian(**kwargs)
        return _finish(
            phase,
            strain_index,
            strain,
            atoms,
            hessian,
            E_total,
            self.descriptor_spec,
            self._potential_meta(),
            h.negative_tol,
        )
