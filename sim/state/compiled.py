"""Compiled kernels: numba set-up shared by the submodels' hot loops.

A quarter is thousands of small numpy calls on arrays of a few hundred firms and tens of thousands
of talent rows; the cost is the calls, not the arithmetic. Submodels move their loops over rows into
kernels compiled with :func:`kernel` (numba ``njit``). Kernels take every random number drawn
beforehand by the model's numpy generator, in the order the numpy code drew them, so one seed gives
the same results with or without compilation; transcendental functions (log, exp) stay in numpy where
their results are recorded, because numpy's SIMD versions and the C library's may differ in the last
bit.

Compiled code is cached on disk so a fresh process loads it instead of compiling again (a few
seconds the first time on a machine, milliseconds afterwards). The cache lives in the user's cache
folder, never in the repository: ``$NUMBA_CACHE_DIR`` when set, else
``$XDG_CACHE_HOME/qhd-cluster-sim/numba`` (``~/.cache/...``).
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where compiled kernels are cached (module docstring)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "qhd-cluster-sim" / "numba"


os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir()))

import numba  # noqa: E402  (after the cache folder is set: numba reads it at import)

numba.config.CACHE_DIR = str(cache_dir())  # also when numba was imported before us


def kernel(fn):
    """Compile ``fn`` with numba: no Python objects, cached on disk, the GIL released, numpy's float
    semantics (division by zero gives inf/nan like numpy, no exception), no fast-math reordering."""
    return numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)(fn)
