"""``thermograd alchemy free-energy RUN.yaml``: vacancy formation, substitution, the two-phase substitution
cycle, or Frenkel–Ladd free energies at temperature on the batched torch engine
(:mod:`thermograd.alchemy.free_energy`, :mod:`thermograd.md.frenkel_ladd`), one calculation per temperature
(and per switching time of ``n_switch_scan``).

Outputs (``output:`` and ``--plot``) are checked before any work and written atomically after the table is
printed. Every MD segment is checkpointed under ``free_energy.checkpoint_dir`` in a folder per calculation
named by its temperature, switching steps and a digest of everything that defines it, so an interrupted run
resumes where it stopped and a finished one is read back instead of rerun. A switch that dissipates more than
the stated threshold is reported as one warning line; a crystal that melts is a one-line error (exit 2) and
no result file is written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import warnings
from pathlib import Path

from ..errors import ConfigError


def checkpoint_root(cfg, run_file: str) -> Path:
    """The run's checkpoint folder: ``free_energy.checkpoint_dir``, else ``<output stem>.checkpoints`` next
    to the output, else ``thermograd-checkpoints/<run-file stem>``."""
    fe = cfg.free_energy
    if fe.checkpoint_dir:
        return Path(fe.checkpoint_dir)
    if cfg.output:
        out = Path(cfg.output)
        return out.with_name(out.stem + ".checkpoints")
    return Path("thermograd-checkpoints") / Path(run_file).stem


def job_folder(root: Path, cfg, T: float, n_switch: int) -> Path:
    """Checkpoint folder of one calculation: ``<kind>-<T>K-ns<n_switch>-<digest>``; the digest covers the
    structure(s), the alchemical change, the backend, the MD settings, the pressure and the routes, so a
    changed run file starts afresh instead of meeting a foreign checkpoint."""
    fe = cfg.free_energy
    ident = {
        "kind": fe.kind,
        "T": float(T),
        "n_switch": int(n_switch),
        "md": fe.md.model_dump(),
        "pressure": fe.pressure,
        "conventional": fe.conventional,
        "relax_defect": fe.relax_defect,
        "structure": None if cfg.structure is None else cfg.structure.model_dump(),
        "phases": None if fe.phases is None else {k: v.model_dump() for k, v in fe.phases.items()},
        "alchemy": None if cfg.alchemy is None else cfg.alchemy.model_dump(),
        "backend": cfg.backend.model_dump(),
    }
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:10]
    return root / f"{fe.kind}-{T:g}K-ns{n_switch}-{digest}"


def describe_backend(bc) -> str:
    """A short name of the run file's backend, e.g. ``Morse (preset fe)``."""
    if bc.name == "sum":
        return " + ".join(describe_backend(b) for b in bc.sum)
    if bc.name == "morse":
        m = bc.morse
        return (
            f"Morse (preset {m.preset})"
            if m.preset
            else f"Morse ({', '.join(m.pairs)}; cutoff {m.cutoff:g} Å)"
        )
    if bc.name == "mace":
        if bc.model == "random":
            return f"random MACE ({', '.join(bc.random.species)}; seed {bc.random.seed})"
        return f"MACE {bc.model}"
    return f"SevenNet {bc.model}"


def _check_species(backend, numbers, run_file) -> None:
    from ..alchemy.derivatives import check_species
    from ..errors import InputError

    try:
        check = getattr(backend, "check_species", None)
        if check is not None:
            check(numbers)
        else:
            name = getattr(backend, "name", type(backend).__name__)
            check_species(numbers, backend.supported_numbers(), f"the {name} backend")
    except InputError as exc:
        raise ConfigError(f"{run_file}: {exc}") from None


def _sites(cfg, atoms, run_file) -> list[int] | None:
    """The substituted sites (None: every 'from' site), checked against the structure."""
    al = cfg.alchemy
    symbols = atoms.get_chemical_symbols()
    if isinstance(al.sites, str):
        if al.sites not in symbols:
            raise ConfigError(
                f"{run_file}: alchemy.sites: no {al.sites} atoms in {atoms.get_chemical_formula()}"
            )
        return None
    for s in al.sites:
        if not 0 <= s < len(atoms):
            raise ConfigError(
                f"{run_file}: alchemy.sites: site {s} does not exist: the structure has {len(atoms)} atoms "
                f"(sites 0..{len(atoms) - 1})"
            )
        if symbols[s] != al.species[0]:
            raise ConfigError(f"{run_file}: alchemy.sites: site {s} holds {symbols[s]}, not {al.species[0]}")
    return list(al.sites)


def _prepare(cfg, run_file):
    """Structures (checked against the alchemical change) and the backend (checked against the species)."""
    from ase.data import atomic_numbers

    from ..alchemy.config import build_backend
    from ..systems import build_structure

    fe = cfg.free_energy
    if fe.kind == "cycle":
        structures = {name: build_structure(spec) for name, spec in fe.phases.items()}
    else:
        structures = {"": build_structure(cfg.structure)}
    extra: set[int] = set()
    sites = None
    if fe.kind == "vacancy":
        atoms = structures[""]
        v = cfg.alchemy.vacancy
        if not 0 <= v < len(atoms):
            raise ConfigError(
                f"{run_file}: alchemy.vacancy: site {v} does not exist: the structure has {len(atoms)} atoms "
                f"(sites 0..{len(atoms) - 1})"
            )
    if fe.kind in ("substitution", "cycle"):
        for sp in cfg.alchemy.species:
            if sp not in atomic_numbers:
                raise ConfigError(f"{run_file}: alchemy.species: unknown chemical symbol {sp!r}")
        extra.add(atomic_numbers[cfg.alchemy.species[1]])
        for name, atoms in structures.items():
            where = f" (phase {name})" if name else ""
            if cfg.alchemy.species[0] not in atoms.get_chemical_symbols():
                raise ConfigError(
                    f"{run_file}: no {cfg.alchemy.species[0]} site to substitute in "
                    f"{atoms.get_chemical_formula()}{where}"
                )
            sites = _sites(cfg, atoms, run_file)
    backend = build_backend(cfg.backend)
    for atoms in structures.values():
        _check_species(backend, sorted(set(atoms.numbers.tolist()) | extra), run_file)
    return structures, sites, backend


def _calculate(cfg, backend, structures, sites, T, settings, folder, progress):
    from ..alchemy.free_energy import substitution_cycle, substitution_free_energy, vacancy_formation
    from ..alchemy.md import MLIPPotential
    from ..md.frenkel_ladd import frenkel_ladd

    fe = cfg.free_energy
    common = {"settings": settings, "checkpoint_dir": folder, "progress": progress}
    if fe.kind == "vacancy":
        return vacancy_formation(
            backend,
            structures[""],
            cfg.alchemy.vacancy,
            T,
            pressure=fe.pressure,
            conventional=fe.conventional,
            relax_defect=fe.relax_defect,
            harmonic=fe.harmonic,
            **common,
        )
    if fe.kind == "substitution":
        a, b = cfg.alchemy.species
        return substitution_free_energy(backend, structures[""], a, b, T, sites=sites, **common)
    if fe.kind == "cycle":
        a, b = cfg.alchemy.species
        return substitution_cycle(backend, structures, a, b, T, **common)
    atoms = structures[""]
    return frenkel_ladd(MLIPPotential(backend, atoms), atoms, T, pressure=fe.pressure, **common)


def _table(kind: str, results: list[dict], head: str) -> list[str]:
    lines = [head]
    if kind == "vacancy":
        with_harmonic = any(r.get("G_v_harmonic") is not None for r in results)
        lines.append(
            f"{'T (K)':>8}  {'G_v alchemical (eV)':>22}  {'G_v conventional (eV)':>22}  {'Q switch (eV)':>13}"
            f"  {'Q FL perf/def (meV/atom)':>24}  {'MD steps alch/conv route':>24}"
            + (f"  {'G_v harmonic (eV)':>18}" if with_harmonic else "")
        )
        for r in results:
            st = r["md_steps"]
            conv = (
                "—"
                if r["G_v_conventional"] is None
                else _pm(r["G_v_conventional"], r["G_v_conventional_error"])
            )
            q_def = "—" if r["f_defect"] is None else f"{1e3 * r['f_defect']['dissipation']:.3f}"
            steps = f"{st['perfect'] + st['alchemical']} / " + (
                "—" if r["f_defect"] is None else f"{st['perfect'] + st['defect']}"
            )
            q_fl = f"{1e3 * r['f_perfect']['dissipation']:.3f} / {q_def}"
            harm = "" if not with_harmonic else f"  {r['G_v_harmonic']:>18.5f}"
            lines.append(
                f"{r['T']:8.1f}  {_pm(r['G_v_alchemical'], r['G_v_alchemical_error']):>22}  {conv:>22}  "
                f"{r['switch']['dissipation']:13.5f}  {q_fl:>24}  {steps:>24}{harm}"
            )
        lines.append(
            "G_v alchemical = ΔF_switch + f_perfect − F_E,osc + (3/2)k_BT ln(M/(M − m_v)) + PV/N; conventional = "
            "(N − 1)(f_defect − f_perfect) + PV/N; Q: dissipation ⟨(W_f + W_b)/2⟩"
            + ("; harmonic = E_v + F_h,v (+ PV/N), no anharmonicity" if with_harmonic else "")
        )
    elif kind == "substitution":
        lines.append(
            f"{'T (K)':>8}  {'ΔG (eV/atom)':>22}  {'mass term (eV/atom)':>20}  {'ΔF switch (eV/atom)':>20}"
            f"  {'Q (meV/atom)':>12}  {'MD steps':>9}"
        )
        for r in results:
            lines.append(
                f"{r['T']:8.1f}  {_pm(r['delta_G'], r['delta_G_error']):>22}  {r['mass_term']:20.6f}  "
                f"{r['switch']['delta_F']:20.6f}  {1e3 * r['switch']['dissipation']:12.4f}  "
                f"{r['switch']['md_steps']:9d}"
            )
        lines.append("ΔG = ΔF_switch + (3/2)(k_BT/N)[Σ ln(m_from/m_to) − ln(M_from/M_to)] (the mass term)")
    elif kind == "cycle":
        lines.append(
            f"{'T (K)':>8}  {'closure (meV/atom)':>20}  {'direct (eV/atom)':>22}  {'via switch (eV/atom)':>22}"
        )
        for r in results:
            lines.append(
                f"{r['T']:8.1f}  {_pm(r['closure'], r['closure_error'], 3):>20}  "
                f"{_pm(r['direct'], r['direct_error']):>22}  {_pm(r['via_switch'], r['via_switch_error']):>22}"
            )
            a, b = r["species_from"], r["species_to"]
            for name in r["phases"]:
                sub, f = r["substitution"][name], r["f"][name]
                fl = f[b]["F"] - f[a]["F"]
                fl_err = (f[b]["F_error"] ** 2 + f[a]["F_error"] ** 2) ** 0.5
                pc = r["phase_closure"][name]
                lines.append(
                    f"{'':8}    {name}: ΔG switch {_pm(sub['delta_G'], sub['delta_G_error'])} eV/atom (mass term "
                    f"{sub['mass_term']:.6f}), g({b}) − g({a}) by FL {_pm(fl, fl_err)} eV/atom, "
                    f"closure {_pm(pc['closure'], pc['closure_error'], 3)} meV/atom"
                )
        lines.append("closure = [g_b(A) − g_a(A) + ΔG_b − ΔG_a] − [g_b(B) − g_a(B)] (direct Frenkel–Ladd)")
    else:
        lines.append(
            f"{'T (K)':>8}  {'F (eV/atom)':>22}  {'G (eV/atom)':>12}  {'F_E,cell (eV/atom)':>18}"
            f"  {'Q (meV/atom)':>12}  {'V (Å³/atom)':>11}  {'MD steps':>9}"
        )
        for r in results:
            g = "—" if r["G"] is None else f"{r['G']:.6f}"
            f_e_cell = r["F_einstein"] + r["com_correction"]
            lines.append(
                f"{r['T']:8.1f}  {_pm(r['F'], r['F_error']):>22}  {g:>12}  {f_e_cell:18.6f}  "
                f"{1e3 * r['dissipation']:12.4f}  {r['volume']:11.4f}  {r['md_steps']:9d}"
            )
        lines.append('F = F_E,cell − ΔF(model → Einstein); centre of mass held ("cell" convention)')
    return lines


def _pm(value: float, error: float, digits: int = 6) -> str:
    return f"{value:.{digits}f} ± {error:.{digits}f}"


def _scan_table(kind: str, scan: list[dict]) -> list[str]:
    from ..alchemy.plots import series

    lines = ["convergence with switching time (t = n_switch × timestep, per leg)"]
    lines.append(f"{'T (K)':>8}  {'n_switch':>8}  {'t (ps)':>8}  values")
    for e in scan:
        vals = "; ".join(f"{lab} {_pm(v, err)} {unit}" for lab, v, err, unit in series(kind, e["result"]))
        lines.append(f"{e['T']:8.1f}  {e['n_switch']:8d}  {e['switching_time']:8.3f}  {vals}")
    return lines


def _run_jobs(cfg, backend, structures, sites, root, progress):
    """Every (T, n_switch) calculation; SwitchingTooFast warnings come back as lines."""
    from ..md.protocol import SwitchingTooFast

    fe = cfg.free_energy
    main = fe.md.settings()
    scan = list(dict.fromkeys(fe.n_switch_scan or []))
    jobs = [(T, n) for T in fe.temperatures for n in dict.fromkeys([main.n_switch, *scan])]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=f"{fe.kind} free energy", unit="run")
    done: dict = {}
    notes: list[str] = []
    try:
        for T, n in jobs:
            settings = fe.md.settings(n_switch=n)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SwitchingTooFast)
                try:
                    done[(T, n)] = _calculate(
                        cfg, backend, structures, sites, T, settings, job_folder(root, cfg, T, n), progress
                    )
                finally:
                    for w in caught:
                        if issubclass(w.category, SwitchingTooFast):
                            line = f"T = {T:g} K, n_switch = {n}: {w.message}"
                            notes.append(line)
                            print(f"thermograd alchemy: warning: {line}", file=sys.stderr)
                        else:
                            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    results = [{"T": float(T), **done[(T, main.n_switch)].to_dict()} for T in fe.temperatures]
    scanned = [
        {
            "T": T,
            "n_switch": n,
            "switching_time": n * main.timestep,
            "result": {"T": float(T), **done[(T, n)].to_dict()},
        }
        for T in fe.temperatures
        for n in scan
    ]
    return main, results, scanned, notes


def run_free_energy(args: argparse.Namespace) -> int:
    from ..outputs import check_outputs, write_text

    check_outputs([(args.plot, "plot")], inputs=[args.run_file], force=args.force)

    from ..alchemy.config import AlchemyRun
    from ..config import load_yaml_model

    cfg = load_yaml_model(AlchemyRun, args.run_file)
    fe = cfg.free_energy
    if fe is None:
        raise ConfigError(f"{args.run_file}: the run file has no 'free_energy' section")
    check_outputs(
        [(cfg.output, "json"), (args.plot, "plot")],
        inputs=[args.run_file, *cfg.structure_files(), *cfg.backend.model_files()],
        force=args.force,
    )
    root = checkpoint_root(cfg, args.run_file)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{args.run_file}: checkpoint folder {root} exists and is not a folder")
    fe.md.settings()  # bad step counts: refused before the structures and the model are built
    structures, sites, backend = _prepare(cfg, args.run_file)
    main, results, scan, notes = _run_jobs(cfg, backend, structures, sites, root, not args.quiet)

    first = next(iter(structures.values()))
    result = {
        "action": "free-energy",
        "kind": fe.kind,
        "model": describe_backend(cfg.backend),
        "structures": {
            k or "structure": {"formula": a.get_chemical_formula(), "n_atoms": len(a)}
            for k, a in structures.items()
        },
        "temperatures": list(fe.temperatures),
        "pressure": fe.pressure,
        "settings": {k: v for k, v in vars(main).items()},
        "checkpoint_dir": str(root),
        "results": results,
        "scan": scan,
        "warnings": notes,
        "units": {
            "energy": "eV",
            "per_atom": "eV/atom",
            "closure": "meV/atom",
            "T": "K",
            "pressure": "bar",
            "switching_time": "ps",
            "springs": "eV/Å²",
            "volume": "Å³/atom",
        },
    }
    if args.json:
        print(json.dumps(result))
    else:
        where = "fixed cell" if fe.pressure is None else f"volume from NPT at {fe.pressure:g} bar"
        if fe.kind == "cycle":
            what = f"cycle {cfg.alchemy.species[0]} → {cfg.alchemy.species[1]} over " + ", ".join(
                f"{k} ({a.get_chemical_formula()})" for k, a in structures.items()
            )
        elif fe.kind == "vacancy":
            what = f"vacancy formation, site {cfg.alchemy.vacancy} of {first.get_chemical_formula()}"
        elif fe.kind == "substitution":
            what = f"substitution {cfg.alchemy.species[0]} → {cfg.alchemy.species[1]} in {first.get_chemical_formula()}"
        else:
            what = f"Frenkel–Ladd of {first.get_chemical_formula()}"
        head = (
            f"{what}; {describe_backend(cfg.backend)}; {where}; {main.n_replicas} replicas, n_switch "
            f"{main.n_switch} ({main.n_switch * main.timestep:g} ps per leg)"
        )
        lines = _table(fe.kind, results, head)
        if scan:
            lines += _scan_table(fe.kind, scan)
        print("\n".join(lines))
    sys.stdout.flush()
    written = []
    if cfg.output:
        write_text(cfg.output, json.dumps(result, indent=1) + "\n")
        written.append(cfg.output)
    if args.plot:
        from ..alchemy.plots import plot_free_energy

        plot_free_energy(result, args.plot)
        written.append(args.plot)
    if written and not args.json:
        print(f"written: {', '.join(map(str, written))}")
    return 0
