"""Where the configuration files live, and the error a bad input raises.

Imports nothing of ``sim``: :mod:`sim.inputs.config` and :mod:`sim.inputs.city` both need these, and ``city``
validation is called by ``config``.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"  # sim/inputs/base.py -> the repository


class ConfigError(ValueError):
    """A configuration value or key is not allowed. The message names key, value and what is allowed."""
