"""Where the configuration files live, the error a bad input raises, and the installed version.

Imports nothing of ``sim``: :mod:`sim.inputs.config` and :mod:`sim.inputs.city` both need these, and ``city``
validation is called by ``config``.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

try:
    VERSION = importlib.metadata.version("qhd-cluster-sim")  # pyproject.toml's [project] version
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
    VERSION = "0+unknown"

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"  # sim/inputs/base.py -> the repository


class ConfigError(ValueError):
    """A configuration value or key is not allowed. The message names key, value and what is allowed."""
