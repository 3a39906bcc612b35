"""Campaigns give the same samples on any machine, to floating-point rounding.

Another machine differs from this one in two ways that matter: LAPACK may return the eigenvectors of
degenerate modes in another basis (and any eigenvector with another sign), and BLAS kernels round matrix
products differently. The first used to change every sample (the draw was made in mode coordinates); the
draw is now a function of the Hessian alone (thermograd.ddos.sampling.shells.shell_displacements). These tests force
both differences on one machine (eigenvectors rotated within degenerate subspaces; another
``OPENBLAS_CORETYPE`` in a subprocess) and require the samples to agree within a stated rounding tolerance.

Tolerance: descriptors are smooth functions of positions; a perturbation of the basis changes the
displacement matrix E ν^{-1/2} Eᵀ by the eigensolver's rounding (~1e-15 relative) amplified by the inverse
splitting of numerically degenerate modes, so agreement to 1e-9 relative leaves six orders of margin while a
draw that depends on the basis differs at O(1).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from thermograd.ddos.sampling.campaign import run_campaign
from thermograd.ddos.sampling.campaign_config import CampaignConfig
from thermograd.ddos.sampling.shells import shell_displacements
from thermograd.harmonic import Modes
from thermograd.testing.toy import ToyReferenceBuilder

RTOL = 1e-9

TOY = {
    "seed": 5,
    "phases": [{"name": "fcc", "structure": {"builder": "fcc", "element": "Cu", "a": 3.6, "size": 2}}],
    "potential": {"snap": "Mo_Zuo_JPCA2020"},  # unused by the toy builder
    "shells": [400.0, 1600.0],
    "samples_per_shell": 10,
    "chunk_size": 4,
}


def rotate_degenerate(modes: Modes, seed: int, rel_gap: float = 1e-9) -> tuple[Modes, int]:
    """The same modes with eigenvectors flipped in sign and rotated by random orthogonal matrices inside
    every cluster of (numerically) degenerate stiffnesses; returns the modes and the largest cluster size."""
    rng = np.random.default_rng(seed)
    kappa, vectors = modes.kappa, modes.vectors.copy()
    edges = np.flatnonzero(np.diff(kappa) > rel_gap * kappa[1:]) + 1
    largest = 1
    for block in np.split(np.arange(kappa.size), edges):
        q, r = np.linalg.qr(rng.normal(size=(block.size, block.size)))
        q *= np.sign(np.diag(r)) * rng.choice([-1.0, 1.0], block.size)
        vectors[:, block] = vectors[:, block] @ q
        largest = max(largest, block.size)
    return dataclasses.replace(modes, vectors=vectors), largest


@pytest.fixture(scope="module")
def toy_modes() -> tuple[np.ndarray, Modes]:
    config = CampaignConfig.model_validate({**TOY, "output": "unused.h5"})
    ref = ToyReferenceBuilder(config).build(config.phases[0], 0, 0.0)
    return ref.positions, ref.modes


def test_draw_does_not_depend_on_the_eigenvector_basis(toy_modes) -> None:
    _, modes = toy_modes
    rotated, largest = rotate_degenerate(modes, seed=1)
    assert largest >= 3  # the FCC cell has degenerate modes, so the rotation is a real change of basis
    assert np.max(np.abs(rotated.vectors - modes.vectors)) > 0.1
    a = shell_displacements(modes, 900.0, np.random.default_rng(7), 64)
    b = shell_displacements(rotated, 900.0, np.random.default_rng(7), 64)
    np.testing.assert_allclose(b, a, rtol=0, atol=RTOL * np.max(np.abs(a)))
    # and the draw is still exact: every sample on its shell
    np.testing.assert_allclose(rotated.harmonic_energy(b), modes.harmonic_energy(a), rtol=1e-12)


class RotatingBuilder(ToyReferenceBuilder):
    """The toy reference as another machine's LAPACK might return it (eigenvectors in another basis)."""

    def build(self, *args):
        ref = super().build(*args)
        ref.modes, _ = rotate_degenerate(ref.modes, seed=ref.strain_index + 3)
        return ref


def _chunks(path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and (name.endswith("/descriptors") or "/sketch/center" in name):
                out[name] = obj[()]

        f.visititems(visit)
    return out


def _run(path: Path, builder_cls=ToyReferenceBuilder) -> Path:
    config = CampaignConfig.model_validate({**TOY, "output": str(path)})
    run_campaign(config, "toy\n", progress=False, builder=builder_cls(config))
    return path


def _assert_close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys() and len(a) == 2 * 3 + 2  # 2 shells × 3 chunks + 2 sketch centres
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=RTOL, atol=0, err_msg=key)


def test_campaign_agrees_when_modes_come_in_another_basis(tmp_path: Path) -> None:
    a = _chunks(_run(tmp_path / "a.h5"))
    b = _chunks(_run(tmp_path / "b.h5", RotatingBuilder))
    _assert_close(a, b)


SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from test_reproducibility import _run
    _run(Path(sys.argv[1]))
    import threadpoolctl
    print(threadpoolctl.threadpool_info()[0].get("architecture"))
    """
)


def test_campaign_agrees_with_other_blas_kernels_and_threads(tmp_path: Path) -> None:
    """The same campaign in a subprocess whose OpenBLAS uses other kernels (OPENBLAS_CORETYPE) and threads."""
    a = _chunks(_run(tmp_path / "a.h5"))
    env = {**os.environ, "OPENBLAS_CORETYPE": "Prescott", "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "b.h5"), str(Path(__file__).parent)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    here = __import__("threadpoolctl").threadpool_info()[0].get("architecture")
    print(f"kernels: this process {here}, subprocess {out.stdout.strip()}")
    _assert_close(a, _chunks(tmp_path / "b.h5"))
