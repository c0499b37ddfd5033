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
folder, never in the repository: under ``$NUMBA_CACHE_DIR`` when set, else
``$XDG_CACHE_HOME/qhd-cluster-sim/numba`` (``~/.cache/...``), in a subfolder named by a hash of the
``sim`` package's source. numba checks only the timestamp of a kernel's own file, not of the kernels
it calls in other files: a cache kept across an edit of a callee would run stale machine code. A new
hash gives a fresh folder, so any change of the code recompiles (folders of other versions unused
for ``CACHE_KEEP_DAYS`` are removed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

SIM = Path(__file__).resolve().parents[1]


def source_hash() -> str:
    """Hash of every ``.py`` file of the ``sim`` package (names and contents), 12 hex digits."""
    h = hashlib.sha1()
    for path in sorted(SIM.rglob("*.py")):
        h.update(str(path.relative_to(SIM)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def cache_root() -> Path:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "qhd-cluster-sim" / "numba"


def cache_dir() -> Path:
    """Where this version's compiled kernels are cached (module docstring)."""
    return cache_root() / f"sim-{source_hash()}"


CACHE_KEEP_DAYS = 7  # other versions' folders unused this long are removed (another checkout may use them)


def _use_cache(folder: Path) -> None:
    """Point numba at ``folder`` and remove other versions' folders unused for ``CACHE_KEEP_DAYS``."""
    numba.config.CACHE_DIR = str(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.utime(folder)  # in use
        cutoff = time.time() - CACHE_KEEP_DAYS * 86400
        for old in folder.parent.glob("sim-*"):
            if old != folder and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass


CACHE_DIR = cache_dir()
os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_root()))

import numba  # noqa: E402  (after the cache folder is set: numba reads it at import)
import numpy as np  # noqa: E402

_use_cache(CACHE_DIR)  # also when numba was imported before us


KERNELS: list = []  # every compiled kernel of the package (tests check that a warm-up loads them all)


def kernel(fn):
    """Compile ``fn`` with numba: no Python objects, cached on disk, the GIL released, numpy's float
    semantics (division by zero gives inf/nan like numpy, no exception), no fast-math reordering."""
    compiled = numba.njit(cache=True, nogil=True, error_model="numpy", fastmath=False)(fn)
    KERNELS.append(compiled)
    return compiled


@kernel
def _block_sum(a, start, n):
    """numpy's pairwise sum of at most ``PAIRWISE_BLOCK`` elements (eight accumulators)."""
    if n < 8:
        res = 0.0
        for i in range(start, start + n):
            res += a[i]
        return res
    r = a[start:start + 8].copy()
    i = 8
    while i < n - (n % 8):
        for j in range(8):
            r[j] += a[start + i + j]
        i += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        res += a[start + i]
        i += 1
    return res


@kernel
def pairwise_sum(a, start, n):
    """Sum of ``a[start:start + n]`` added in exactly numpy's order (``np.sum`` of a contiguous float64
    array and ``sum(axis=-1)`` per row use pairwise summation: halves, down to blocks of
    ``PAIRWISE_BLOCK`` summed with eight accumulators), so a kernel that sums gets the very number
    numpy got. Checked against numpy in tests/test_compiled.py. (The halving runs on an explicit
    stack: numba's on-disk cache does not survive recursive functions.)"""
    if n <= PAIRWISE_BLOCK:
        return _block_sum(a, start, n)
    # tasks: (start, length) to sum, or length -1 = add the two sums on top of the value stack
    task_start = np.empty(256, np.int64)
    task_n = np.empty(256, np.int64)
    values = np.empty(128)
    t, v = 1, 0
    task_start[0], task_n[0] = start, n
    while t > 0:
        t -= 1
        s0, n0 = task_start[t], task_n[t]
        if n0 < 0:
            v -= 1
            values[v - 1] = values[v - 1] + values[v]
        elif n0 <= PAIRWISE_BLOCK:
            values[v] = _block_sum(a, s0, n0)
            v += 1
        else:
            half = n0 // 2
            half -= half % 8
            task_start[t], task_n[t] = 0, -1  # after both halves: add them
            task_start[t + 1], task_n[t + 1] = s0 + half, n0 - half
            task_start[t + 2], task_n[t + 2] = s0, half  # the left half first
            t += 3
    return values[0]


PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE
