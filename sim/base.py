"""Where the configuration files live, and the error a bad input raises.

Imports nothing of ``sim``: :mod:`sim.config` and :mod:`sim.city` both need these, and ``city``
validation is called by ``config``.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


class ConfigError(ValueError):
    """A configuration value or key is not allowed. The message names key, value and what is allowed."""
