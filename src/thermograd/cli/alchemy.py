"""Alchemical MLIP workflows from a YAML run file (``thermograd init alchemy > run.yaml``):

thermograd alchemy lattice   RUN.yaml [--json] [--plot vegard.png]   lattice constant vs composition
thermograd alchemy optimize  RUN.yaml [--json] [--plot loss.png]     composition matched to a lattice
thermograd alchemy integrate RUN.yaml [--json] [--plot dEdl.png]     0 K λ-integration vs direct difference
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ConfigError

ACTIONS = ("lattice", "optimize", "integrate")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("action", choices=ACTIONS, help="which workflow to run")
    p.add_argument("run_file", help="YAML run file")
    p.add_argument("--json", action="store_true", help="print the results as one JSON line")
    p.add_argument("--plot", default=None, metavar="FILE", help="write a plot of the results")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _lattice(cfg, backend, system, atoms, args) -> dict:
    from ..alchemy.workflows import lattice_vs_composition, plot_vegard

    if cfg.lattice is None:
        raise ConfigError("the run file has no 'lattice' section")
    if cfg.alchemy.species is None or len(cfg.alchemy.species) != 2:
        raise ConfigError("'lattice' needs a substitution of exactly two species")
    sites = sorted(system.groups[0].sites)
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
        label="{}1-x{}x".format(*cfg.alchemy.species),
    )
    if args.plot:
        plot_vegard([scan], args.plot)
    return {
        "x": scan.x.tolist(),
        "a": scan.a.tolist(),
        "lengths": scan.lengths.tolist(),
        "vegard_deviation": scan.vegard_deviation().tolist(),
        "energy": scan.energies.tolist(),
        "converged": scan.converged.tolist(),
        "units": {"a": "Å", "energy": "eV"},
    }


def _optimize(cfg, backend, system, atoms, args) -> dict:
    from ..alchemy.workflows import match_lattice

    oc = cfg.optimize
    if oc is None:
        raise ConfigError("the run file has no 'optimize' section")
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
    if args.plot:
        _plot_xy([h[0] for h in res.history], "step", "loss (GPa²)", args.plot, logy=True)
    return {
        "lam": res.lam.tolist(),
        "loss": res.loss,
        "steps": res.n_steps,
        "converged": res.converged,
        "species": cfg.alchemy.species,
        "units": {"loss": "GPa^2"},
    }


def _integrate(cfg, backend, system, atoms, args) -> dict:
    from ..alchemy.workflows import lambda_integration_0k

    ic = cfg.integrate
    if ic is None:
        raise ConfigError("the run file has no 'integrate' section")
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
    if args.plot:
        _plot_xy(res.dE_dt, "t", "dE/dt (eV)", args.plot, x=res.t)
    return {
        "dE_integral": res.integral,
        "dE_direct": res.direct,
        "t": res.t.tolist(),
        "dE_dt": res.dE_dt.tolist(),
        "relaxed": res.relaxed,
        "units": {"energy": "eV"},
    }


def _plot_xy(y, xlabel, ylabel, path, x=None, logy=False) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.plot(range(len(y)) if x is None else x, y, "o-")
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    from ..alchemy.calculator import check_backend_species
    from ..alchemy.config import AlchemyRun, build_backend
    from ..config import load_yaml_model
    from ..errors import InputError

    cfg = load_yaml_model(AlchemyRun, args.run_file)
    atoms = cfg.structure.build()
    try:
        system = cfg.alchemy.build(atoms)
    except InputError as exc:
        raise ConfigError(f"{args.run_file}: {exc}") from None
    backend = build_backend(cfg.backend)
    check_backend_species(backend, system)
    result = {"lattice": _lattice, "optimize": _optimize, "integrate": _integrate}[args.action](
        cfg, backend, system, atoms, args
    )
    result = {"action": args.action, **result}
    if cfg.output:
        Path(cfg.output).write_text(json.dumps(result, indent=1))
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>18}: {value}", file=sys.stdout)
    return 0
