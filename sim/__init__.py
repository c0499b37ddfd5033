"""Qinhuangdao advanced-manufacturing cluster simulator (秦皇岛先进制造集群能级仿真).

Public interface:
    ClusterModel        the Mesa model (one step = one quarter)
    run_scenario        (config, seed) -> ScenarioResult with tidy tables city / clusters / districts
    load_config         read + validate a scenario TOML; raises ConfigError naming the bad key
    default_config      the status quo
    load_presets        the paper's policy packages
"""

from sim.config import Config, ConfigError, default_config, load_config, resolve_config
from sim.presets import Preset, load_presets

__all__ = [
    "Config", "ConfigError", "default_config", "load_config", "resolve_config", "Preset", "load_presets",
]

try:  # the model modules are imported lazily so config tools work without them
    from sim.model import ClusterModel, ModelError
    from sim.scenario import ScenarioResult, run_scenario

    __all__ += ["ClusterModel", "ModelError", "ScenarioResult", "run_scenario"]
except ModuleNotFoundError as _exc:  # pragma: no cover - only while the model is being written
    if _exc.name not in ("sim.model", "sim.scenario"):
        raise
