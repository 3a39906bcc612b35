"""Tilted-shell campaigns: run, store and resume tilted shell sampling (:mod:`.tilted`) on a D-DOS campaign.

``run_tilt(campaign.h5, θ, T, output="tilt.h5")`` picks the shells whose uniform samples have collapsed
(effective sample size of the weights exp(−N θ·(D − D_0)/k_BT) below ``ess_min``), samples each under a ladder
of tilts toward (θ, T) in an Executor (one task per shell), and writes every finished shell to its own HDF5
file beside the campaign (the campaign file is never modified). A rerun with the same arguments skips finished
shells; a file made for another campaign, θ, T or ladder is refused untouched. :func:`load_tilted` returns the
shells, with the campaign's uniform samples attached as the λ = 0 rung, for
:class:`~thermograd.ddos.estimators.cumulant.CumulantEstimator`.

File layout (``format = "thermograd-tilt"``, version 1): root attrs campaign, campaign_config_hash, phase,
strain_index, T_tilt, plan (JSON: lambdas, n_chains, n_steps, n_burn, thin, seed), created and the versions of
:func:`thermograd.io.store.provenance`; dataset ``theta``;
``shells/NNN`` groups with attrs T_shell, alpha, acceptance, step, complete (set last) and datasets
``rung_K/descriptors`` (n_K, d), ``rung_K/chain_ids`` (n_K,).
"""

from __future__ import annotations

import json
import math
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

from ...errors import InputError, StoreError
from ...io.store import TILT, StoreLock, check_finite, create, open_file
from .campaign_store import read_reference
from .shells import task_seed
from .tasks import SamplingContext, _calculator, spec_from_metadata
from .tilted import TiltedShell, sample_tilted_shell

FORMAT = TILT.name
FORMAT_VERSION = TILT.version

__all__ = ["TiltPlan", "load_tilted", "run_tilt", "shell_ess"]


@dataclass(frozen=True)
class TiltPlan:
    """Ladder and chain lengths of a tilted-shell run (see :func:`~.tilted.sample_tilted_shell`).

    The defaults were measured on 128-atom BCC Mo at 2500 K (acceptance 0.3–0.4 on every rung); a shell costs
    n_chains · (4 + len(lambdas) · (n_burn + n_steps)) descriptor evaluations.
    """

    lambdas: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    n_chains: int = 32
    n_steps: int = 180
    n_burn: int = 60
    thin: int = 3
    seed: int = 0

    def check(self) -> None:
        lam = np.asarray(self.lambdas, dtype=float)
        if lam.size == 0 or np.any(lam <= 0) or np.any(np.diff(lam) <= 0) or lam[-1] > 1.0 + 1e-12:
            raise InputError(f"tilt ladder must increase within (0, 1], got {self.lambdas}")
        for name in ("n_chains", "n_steps", "thin"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_burn < 0:
            raise InputError(f"n_burn must be >= 0, got {self.n_burn}")


def shell_ess(dataset, theta: np.ndarray, T: float) -> np.ndarray:
    """Effective sample size of the uniform samples of every shell under exp(−N θ·(D − D_0)/k_BT)."""
    from ...units import KB

    out = []
    for s in dataset.shells:
        if s.raw is None:
            raise InputError(f"phase {dataset.name!r}: the campaign kept no raw samples (keep_raw: true)")
        x = -dataset.n_atoms / (KB * T) * ((np.asarray(s.raw) - dataset.D_0) @ theta)
        w = np.exp(x - x.max())
        out.append(w.sum() ** 2 / (w**2).sum())
    return np.array(out)


def _tilt_task(context: SamplingContext, T_shell: float, D_0, theta, T_tilt: float, plan: TiltPlan, key):
    """One shell (picklable; the descriptor calculator is cached per worker process)."""
    return key, sample_tilted_shell(
        context.modes,
        context.positions,
        T_shell,
        _calculator(context),
        D_0,
        theta,
        T_tilt,
        lambdas=plan.lambdas,
        n_chains=plan.n_chains,
        n_steps=plan.n_steps,
        n_burn=plan.n_burn,
        thin=plan.thin,
        seed=task_seed(plan.seed, "tilt", context.phase, context.strain_index, key),
    )


def _open_output(path: Path, header: dict, theta: np.ndarray) -> h5py.File:
    """Open (resume) or create the tilt file; refuse one made with other arguments."""
    if not path.exists():
        with create(path, TILT, **header) as f:
            f["theta"] = theta
            f.create_group("shells")
    # verify read-only first: a refused file must stay byte-for-byte as it was
    with open_file(path, TILT, refusal="; refusing to overwrite it") as f:
        stored = {k: f.attrs[k] for k in header if k in f.attrs}
        same = all(
            np.array_equal(np.asarray(stored.get(k)), np.asarray(v))
            for k, v in header.items()
            if k != "campaign"
        ) and np.array_equal(f["theta"][()], theta)
    if not same:
        raise StoreError(
            f"{path} holds tilted shells of another campaign, θ, temperature or ladder; "
            "use another --output or the original arguments"
        )
    return open_file(path, TILT, mode="r+")


def _write_shell(f: h5py.File, index: int, ts: TiltedShell) -> None:
    name = f"shells/{index:03d}"
    if name in f:
        del f[name]  # an unfinished group from an interrupted write
    g = f.create_group(name)
    g.attrs["T_shell"], g.attrs["alpha"] = ts.T_shell, ts.alpha
    g.attrs["acceptance"], g.attrs["step"] = ts.acceptance, ts.step
    for k, (D, c) in enumerate(zip(ts.descriptors, ts.chain_ids)):
        g[f"rung_{k}/descriptors"] = D
        g[f"rung_{k}/chain_ids"] = c
    f.flush()
    g.attrs["complete"] = True
    f.flush()


def run_tilt(
    campaign,
    theta,
    T_tilt: float,
    output,
    *,
    phase: str | None = None,
    strain_index: int = 0,
    shells="auto",
    ess_min: float = 50.0,
    plan: TiltPlan = TiltPlan(),
    executor: str = "serial",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> dict:
    """Sample (or resume) tilted shells of one (phase, strain) of a campaign toward (θ, T_tilt).

    Args:
        campaign: campaign HDF5 file with raw samples.
        theta: tilt model, shape (d,). T_tilt: its temperature, K.
        output: tilt HDF5 file (created, or resumed when made with the same arguments).
        phase: phase label (default: the campaign's only phase). strain_index: which strain.
        shells: "auto" (shells whose uniform ESS < ``ess_min``) or a list of shell indices.
        plan: ladder and chain lengths. executor/workers/scheduler: see :func:`thermograd.parallel.make_executor`.
        progress: tqdm bar over shells.

    Returns:
        dict with "output", "shells" (indices sampled or found), "skipped" (already finished), "ess".
    """
    from ...parallel import make_executor
    from .campaign import load_datasets
    from .references import context_of

    plan.check()
    if not (math.isfinite(T_tilt) and T_tilt > 0):
        raise InputError(f"tilt temperature must be finite and > 0 K, got {T_tilt!r}")
    campaign, output = Path(campaign), Path(output)
    datasets = load_datasets(campaign, require_complete=True)
    names = sorted({d.name for d in datasets})
    if phase is None:
        if len(names) != 1:
            raise InputError(f"the campaign has phases {names}; choose one with --phase")
        phase = names[0]
    cands = [d for d in datasets if d.name == phase]
    if not cands or strain_index >= len(cands):
        raise InputError(f"phase {phase!r} strain {strain_index} is not in the campaign (phases {names})")
    ds = cands[strain_index]
    th = np.asarray(theta, dtype=float)
    if th.shape != (ds.n_features,):
        raise InputError(f"θ must have {ds.n_features} components for this campaign, got shape {th.shape}")
    ess = shell_ess(ds, th, T_tilt)
    if isinstance(shells, str):
        if shells != "auto":
            raise InputError(f"shells must be 'auto' or a list of indices, got {shells!r}")
        todo = [int(i) for i in np.flatnonzero(ess < ess_min)]
    else:
        todo = sorted({int(i) for i in shells})
        if any(i < 0 or i >= len(ds.shells) for i in todo):
            raise InputError(f"shell indices must lie in 0..{len(ds.shells) - 1}, got {todo}")
    with h5py.File(campaign, "r") as f:
        ref = read_reference(f[f"phases/{phase}/strain_{strain_index:02d}"])
        config_hash = str(f.attrs["config_hash"])
    context = context_of(ref, spec_from_metadata(ref.descriptor))
    header = {
        "campaign": str(campaign.resolve()),
        "campaign_config_hash": config_hash,
        "phase": phase,
        "strain_index": int(strain_index),
        "T_tilt": float(T_tilt),
        "plan": json.dumps(asdict(plan)),
    }
    with StoreLock(output):
        f = _open_output(output, header, th)
        try:
            done = {int(k) for k, g in f["shells"].items() if g.attrs.get("complete", False)}
            pending = [i for i in todo if i not in done]
            bar = None
            if progress and pending:
                from tqdm import tqdm

                bar = tqdm(total=len(pending), desc=f"tilted shells {phase}", unit="shell")
            with make_executor(executor, workers, scheduler) as ex:
                futures = {
                    ex.submit(_tilt_task, context, ds.shells[i].T_shell, ds.D_0, th, float(T_tilt), plan, i)
                    for i in pending
                }
                while futures:
                    finished, futures = wait(futures, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        i, ts = fut.result()
                        _write_shell(f, i, ts)
                        if bar is not None:
                            bar.update(1)
            if bar is not None:
                bar.close()
        finally:
            f.close()
    return {"output": str(output), "shells": todo, "skipped": sorted(done & set(todo)), "ess": ess}


def tilt_strain_index(path) -> int | None:
    """The campaign strain index a tilt file was sampled on (None if it does not say)."""
    with open_file(Path(path), TILT) as f:
        return int(f.attrs["strain_index"]) if "strain_index" in f.attrs else None


def load_tilted(path, dataset) -> dict[int, TiltedShell]:
    """Finished tilted shells of ``path`` for ``dataset`` (its uniform samples attached as the λ = 0 rung).

    Raises:
        StoreError: not a tilt file, or made for another campaign, phase or strain than ``dataset``.
    """
    path = Path(path)
    with open_file(path, TILT) as f:
        check_finite(f, path)
        prov = dataset.provenance or {}
        if prov.get("config_hash") and prov["config_hash"] != str(f.attrs["campaign_config_hash"]):
            raise StoreError(f"{path} was sampled on another campaign than {prov.get('source')}")
        if str(f.attrs["phase"]) != dataset.name:
            raise StoreError(f"{path} holds phase {f.attrs['phase']!r}, not {dataset.name!r}")
        group = str(prov.get("group", ""))
        if "strain_index" in f.attrs and group.rsplit("/", 1)[-1].startswith("strain_"):
            own = f"strain_{int(f.attrs['strain_index']):02d}"
            if group.rsplit("/", 1)[-1] != own:
                raise StoreError(
                    f"{path} was sampled on {dataset.name} {own}, not on {group.rsplit('/', 1)[-1]} "
                    f"(strain {dataset.strain:g})"
                )
        theta, T_tilt = f["theta"][()], float(f.attrs["T_tilt"])
        lambdas = np.asarray(json.loads(f.attrs["plan"])["lambdas"], dtype=float)
        out = {}
        for key, g in f["shells"].items():
            if not g.attrs.get("complete", False):
                continue
            i = int(key)
            n_rungs = len([k for k in g if k.startswith("rung_")])
            ts = TiltedShell(
                T_shell=float(g.attrs["T_shell"]),
                alpha=float(g.attrs["alpha"]),
                theta_tilt=theta,
                T_tilt=T_tilt,
                n_atoms=int(dataset.n_atoms),
                lambdas=lambdas,
                descriptors=[g[f"rung_{k}/descriptors"][()] for k in range(n_rungs)],
                chain_ids=[g[f"rung_{k}/chain_ids"][()] for k in range(n_rungs)],
                acceptance=np.asarray(g.attrs["acceptance"]),
                step=np.asarray(g.attrs["step"]),
                D_0=np.asarray(dataset.D_0, dtype=float),
            )
            if abs(ts.T_shell - dataset.shells[i].T_shell) > 1e-9 * ts.T_shell:
                raise StoreError(
                    f"{path}: shell {i} is at {ts.T_shell} K, the campaign's at {dataset.shells[i].T_shell} K"
                )
            out[i] = ts.with_uniform(dataset.shells[i].raw)
    return out
