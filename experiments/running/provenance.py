"""Where results came from: model version, git state, package versions, host.

Model version = ``<qhd-cluster-sim version>+<12 hex>`` where the hex hashes the source of the
``sim`` package (every ``*.py`` under it) and the map raster(s) under ``configs/map``. Parameter
values, presets and city data are not in it: they are part of each run's resolved config, whose
digest is in the run id. Editing the model's code therefore gives new run ids (old results are
kept on disk but not reused); editing a parameter only changes the runs that use it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

# Distributions whose version can change a number, a table or a figure of a result (provenance.json
# "packages"), by the job they do; a distribution that is not installed is recorded as NOT_INSTALLED.
PACKAGES = (
    "qhd-cluster-sim",
    "mesa", "numpy",  # the model: Mesa's Model / grid and numpy's generators draw every random number
    "pandas", "pyarrow",  # tables and the Parquet store
    "scipy", "SALib",  # intervals and tests; Sobol / Morris designs and indices
    "dask", "distributed",  # executors (which run goes where; results must not depend on it)
    "pyabc",  # calibration (ABC-SMC) -> the posterior runs draw from
    "ema-workbench", "scikit-learn", "statsmodels",  # EMA adapter, PRIM; CART is scikit-learn's tree
    "Platypus-Opt", "pymoo",  # optimisation (EpsNSGAII; pymoo is not used today: recorded if it appears)
    "numba",  # JIT some numeric libraries switch to when it is importable
    "matplotlib", "tqdm", "solara",  # figures, progress, the workshop app
)
NOT_INSTALLED = "not installed"


@functools.cache
def model_version() -> str:
    """``<package version>+<hash of sim/ sources and the map raster>`` (computed once per process)."""
    import sim
    from sim.inputs.base import CONFIG_DIR

    h = hashlib.sha256()
    root = Path(sim.__file__).resolve().parent
    files = sorted(root.rglob("*.py")) + sorted((CONFIG_DIR / "map").glob("*"))
    for f in files:
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    try:
        version = importlib.metadata.version("qhd-cluster-sim")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
        version = "0+unknown"
    return f"{version}+{h.hexdigest()[:12]}"


def package_versions() -> dict[str, str]:
    """``{"python": "3.12.x", <distribution>: <installed version> or "not installed"}`` for
    :data:`PACKAGES`, read from the installed distributions' metadata (not ``module.__version__``)."""
    out: dict[str, str] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = NOT_INSTALLED
    return out


RESULT_PATHS = ("sim", "experiments", "configs", "pyproject.toml")


def git_state(repo: Path, paths: tuple[str, ...] = RESULT_PATHS) -> dict[str, Any]:
    """Commit of the checkout holding the code, and whether the files that shape results (``paths``:
    model, experiment code, configs; untracked files included) differ from it. None outside git."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=all", "--", *paths)
    changed = [line[3:] for line in status.splitlines() if line.strip()] if status is not None else None
    return {
        "commit": commit.strip() if commit else None,
        "dirty": bool(changed) if changed is not None else None,
        "changed_files": changed[:50] if changed else [],
    }


def host_info() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(), "platform": platform.platform(), "cpus": os.cpu_count(),
        "python_executable": sys.executable, "pid": os.getpid(),
    }


def now() -> str:
    """UTC time, ISO 8601, seconds."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
