"""Named policy packages from ``configs/presets.toml`` (status quo, each remedy group, all five)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from sim.inputs.base import CONFIG_DIR, ConfigError
from sim.inputs.config import default_config

PRESETS_FILE = CONFIG_DIR / "presets.toml"


@dataclass(frozen=True)
class Preset:
    """A policy package: lever values that differ from the status quo."""

    key: str
    label_en: str
    label_zh: str
    levers: dict[str, float]


def load_presets(path: str | Path = PRESETS_FILE) -> dict[str, Preset]:
    """Presets in file order, each validated against the lever schema.

    A preset may ``combine`` earlier presets (their levers merged in order) instead of repeating them.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    base = default_config()
    levers_allowed = base.names("levers")
    out: dict[str, Preset] = {}
    for key, spec in raw.items():
        levers: dict[str, float] = {}
        for part in spec.get("combine", []):
            if part not in out:
                raise ConfigError(f"{path.name} [{key}] combine: {part!r} is not an earlier preset")
            levers.update(out[part].levers)
        for name, value in spec.get("levers", {}).items():
            if name not in levers_allowed:
                raise ConfigError(f"{path.name} [{key}] levers: unknown lever {name!r}; allowed {levers_allowed}")
            levers[name] = base.schema[name].check(value, f"{path.name} [{key}] {name}")
        out[key] = Preset(key=key, label_en=spec["label_en"], label_zh=spec["label_zh"], levers=levers)
    return out
