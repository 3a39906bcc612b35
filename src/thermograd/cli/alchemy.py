"""Alchemical MLIP workflows from a YAML run file (``thermograd init alchemy > run.yaml``):

thermograd alchemy lattice   RUN.yaml [--json] [--plot vegard.png]   lattice constant vs composition
thermograd alchemy optimize  RUN.yaml [--json] [--plot loss.png]     composition matched to a lattice
thermograd alchemy integrate RUN.yaml [--json] [--plot dEdl.png]     0 K λ-integration vs direct difference
thermograd alchemy free-energy RUN.yaml [--json] [--plot fe.png]     vacancy, substitution, cycle or
                                                                    Frenkel–Ladd free energies at T (MD)

Results are printed as a table with units (``--json``: one JSON object). The result file (``output:``) and
``--plot`` are checked before any work and written atomically after the results are printed. An optimiser
or relaxation that does not converge is reported with its reason and the exit code is 2 (its numbers are
still printed and written, marked unconverged).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial

from ..errors import ConfigError, ThermogradError
from ._common import add_force, add_quiet

ACTIONS = ("lattice", "optimize", "integrate", "free-energy")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("action", choices=ACTIONS, help="which workflow to run")
    p.add_argument("run_file", help="YAML run file")
    p.add_argument("--json", action="store_true", help="print the results as one JSON line")
    p.add_argument("--plot", default=None, metavar="FILE", help="write a plot of the results")
    add_force(p, "result or plot file")
    add_quiet(p)


def _yes(flag) -> str:
    return "yes" if flag else "NO"


def _lattice(cfg, backend, system, atoms, args):
    from ..alchemy.workflows import lattice_vs_composition

    if cfg.alchemy.species is None or len(cfg.alchemy.species) != 2:
        raise ConfigError("'lattice' needs a substitution of exactly two species")
    sites = sorted(system.groups[0].sites)
    label = "{}1-x{}x".format(*cfg.alchemy.species)
    scan = lattice_vs_composition(
        atoms,
        sites,
        cfg.alchemy.species,
        cfg.lattice.x,
        backend,
        fmax=cfg.lattice.fmax,
        steps=cfg.lattice.steps,
        policy=cfg.backend.policy,
        progress=not args.quiet,
        label=label,
    )
    result = {
        "x": scan.x.tolist(),
        "a": scan.a.tolist(),
        "lengths": scan.lengths.tolist(),
        "vegard_deviation": scan.vegard_deviation().tolist(),
        "energy": scan.energies.tolist(),
        "steps": scan.steps.tolist(),
        "converged": scan.converged.tolist(),
        "units": {"a": "Å", "lengths": "Å", "vegard_deviation": "Å", "energy": "eV"},
    }
    lines = [
        f"{label}: lattice constant vs composition (cell and positions relaxed, FIRE to "
        f"fmax {cfg.lattice.fmax:g} eV/Å, at most {cfg.lattice.steps} steps)",
        f"{'x':>6} {'a (Å)':>10} {'a − Vegard (mÅ)':>16} {'E (eV)':>14} {'steps':>6}  converged",
    ]
    for x, a, dev, e, n, ok in zip(
        scan.x, scan.a, scan.vegard_deviation(), scan.energies, scan.steps, scan.converged
    ):
        lines.append(f"{x:6.3f} {a:10.5f} {1e3 * dev:16.2f} {e:14.6f} {int(n):6d}  {_yes(ok)}")
    bad = [f"{x:g}" for x, ok in zip(scan.x, scan.converged) if not ok]
    problem = None
    if bad:
        problem = (
            f"the relaxation did not reach fmax {cfg.lattice.fmax:g} eV/Å within {cfg.lattice.steps} steps "
            f"at x = {', '.join(bad)}; raise lattice.steps (or fmax)"
        )
    plot = partial(_plot_vegard, scan) if args.plot else None
    return result, "\n".join(lines), problem, plot


def _plot_vegard(scan, path) -> None:
    from ..alchemy.workflows import plot_vegard

    plot_vegard([scan], path)


def _plot_series(y, path, **kwargs) -> None:
    from ..alchemy.workflows import plot_series

    plot_series(y, path, **kwargs)


def _optimize(cfg, backend, system, atoms, args):
    from ..alchemy.workflows import match_lattice

    oc = cfg.optimize
    res = match_lattice(
        system,
        backend,
        a=oc.a if oc.target == "lattice_constant" else None,
        kind=oc.loss,
        method=oc.method,
        lr=oc.lr,
        max_steps=oc.max_steps,
        tol=oc.tol,
        policy=cfg.backend.policy,
        progress=not args.quiet,
    )
    names = [f"{g.species} on {len(g.sites)} site{'s' * (len(g.sites) != 1)}" for g in system.groups]
    result = {
        "lam": res.lam.tolist(),
        "groups": [g.species for g in system.groups],
        "loss": res.loss,
        "steps": res.n_steps,
        "converged": res.converged,
        "stop": res.stop,
        "reason": res.reason,
        "species": cfg.alchemy.species,
        "loss_history": [h[0] for h in res.history],
        "units": {"loss": "GPa^2", "lam": "weight (sums to 1 on each simplex)"},
    }
    target = f"a = {oc.a:g} Å" if oc.target == "lattice_constant" else "the structure's own cell"
    lines = [
        f"composition matched to {target} ({oc.method} steps, {oc.loss} stress loss)",
        f"{'group':<24} {'λ start':>9} {'λ final':>9}",
    ]
    for name, l0, l1 in zip(names, res.history[0][1], res.lam):
        lines.append(f"{name:<24} {l0:9.5f} {l1:9.5f}")
    lines += [
        f"{'loss':<24} {res.history[0][0]:9.3g} → {res.loss:.3g} GPa²  (tol {oc.tol:g} GPa²)",
        f"{'steps':<24} {res.n_steps} of at most {oc.max_steps}",
        f"{'converged':<24} {_yes(res.converged)}",
    ]
    problem = None
    if not res.converged:
        hint = {
            "max_steps": "raise optimize.max_steps or lr, or check that the target lies between the end members",
            "nonfinite": "lower optimize.lr",
        }.get(res.stop, "")
        problem = f"the composition optimisation did not converge: {res.reason} (loss in GPa²); {hint}"
    loss = [h[0] for h in res.history]
    plot = partial(_plot_series, loss, xlabel="step", ylabel="loss (GPa²)", logy=True) if args.plot else None
    return result, "\n".join(lines), problem, plot


def _integrate(cfg, backend, system, atoms, args):
    import numpy as np

    from ..alchemy.workflows import lambda_integration_0k

    ic = cfg.integrate
    res = lambda_integration_0k(
        system,
        ic.lam_start,
        ic.lam_end,
        backend,
        n_points=ic.n_points,
        rule=ic.rule,
        relax_positions=ic.relax,
        fmax=ic.fmax,
        steps=ic.steps,
        policy=cfg.backend.policy,
        progress=not args.quiet,
    )
    result = {
        "dE_integral": res.integral,
        "dE_direct": res.direct,
        "t": res.t.tolist(),
        "weights": res.weights.tolist(),
        "dE_dt": res.dE_dt.tolist(),
        "energies": res.energies.tolist(),
        "end_energies": list(res.end_energies),
        "relaxed": res.relaxed,
        "converged": res.converged.tolist(),
        "units": {"energy": "eV", "dE_dt": "eV"},
    }
    how = f"positions relaxed to fmax {ic.fmax:g} eV/Å" if ic.relax else "positions fixed"
    lines = [
        f"0 K λ-integration from λ = {list(ic.lam_start)} to {list(ic.lam_end)} ({ic.rule}, "
        f"{ic.n_points} points, {how})",
        f"{'t':>8} {'weight':>8} {'dE/dt (eV)':>12} {'E (eV)':>14}  converged",
    ]
    for t, w, d, e, ok in zip(res.t, res.weights, res.dE_dt, res.energies, res.converged):
        lines.append(f"{t:8.4f} {w:8.4f} {d:12.6f} {e:14.6f}  {_yes(ok)}")
    lines += [
        f"∫ dE/dt dt           {res.integral:14.6f} eV",
        f"E(end) − E(start)    {res.direct:14.6f} eV  (direct)",
        f"difference           {1e3 * (res.integral - res.direct):14.3f} meV",
    ]
    problem = None
    if ic.relax and not bool(np.all(res.converged)):
        n_bad = int(np.sum(~res.converged))
        problem = (
            f"{n_bad} of {res.converged.size} position relaxations did not reach fmax {ic.fmax:g} eV/Å within "
            f"{ic.steps} steps; raise integrate.steps (or fmax)"
        )
    plot = partial(_plot_series, res.dE_dt, xlabel="t", ylabel="dE/dt (eV)", x=res.t) if args.plot else None
    return result, "\n".join(lines), problem, plot


def run(args: argparse.Namespace) -> int:
    if args.action == "free-energy":  # its own flow: MD per temperature, checkpoints (alchemy_free_energy.py)
        from .alchemy_free_energy import run_free_energy

        return run_free_energy(args)

    from ..outputs import check_outputs, write_text

    # the plot is checked before the (slow) torch imports, the result file as soon as the run file is read
    check_outputs([(args.plot, "plot")], inputs=[args.run_file], force=args.force)

    from ..alchemy.config import AlchemyRun, build_backend
    from ..config import load_yaml_model
    from ..errors import InputError
    from ..systems import build_structure

    cfg = load_yaml_model(AlchemyRun, args.run_file)
    if getattr(cfg, args.action) is None:  # each action reads the section of its own name
        raise ConfigError(f"{args.run_file}: the run file has no {args.action!r} section")
    for section in ("structure", "alchemy"):  # optional only for free-energy runs
        if getattr(cfg, section) is None:
            raise ConfigError(f"{args.run_file}: the run file has no {section!r} section")
    from ..alchemy.calculator import check_backend_species  # torch: after the run file is read

    # before any work: a result or plot that cannot be written, or that would replace an input, is refused
    check_outputs(
        [(cfg.output, "json"), (args.plot, "plot")],
        inputs=[args.run_file, cfg.structure.file, cfg.backend.model],
        force=args.force,
    )
    atoms = build_structure(cfg.structure)
    try:
        system = cfg.alchemy.build(atoms)
    except InputError as exc:
        raise ConfigError(f"{args.run_file}: {exc}") from None
    backend = build_backend(cfg.backend)
    check_backend_species(backend, system)
    action = {"lattice": _lattice, "optimize": _optimize, "integrate": _integrate}[args.action]
    result, table, problem, plot = action(cfg, backend, system, atoms, args)
    result = {"action": args.action, **result}
    # results first, files second
    if args.json:
        print(json.dumps(result))
    else:
        print(table)
    sys.stdout.flush()
    written = []
    if cfg.output:
        write_text(cfg.output, json.dumps(result, indent=1) + "\n")
        written.append(cfg.output)
    if plot is not None:
        plot(args.plot)
        written.append(args.plot)
    if written and not args.json:
        print(f"written: {', '.join(map(str, written))}")
    if problem:
        raise ThermogradError(problem)
    return 0
