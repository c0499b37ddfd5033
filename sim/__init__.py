"""Qinhuangdao advanced-manufacturing cluster simulator (秦皇岛先进制造集群能级仿真).

Public interface:
    ClusterModel        the Mesa model (one step = one quarter)
    run_scenario        (config, seed) -> ScenarioResult with tidy tables city / clusters / districts
    load_config         read + validate a scenario TOML; raises ConfigError naming the bad key
    default_config      the status quo
    load_presets        the paper's policy packages
"""

from sim.base import ConfigError
from sim.config import Config, default_config, load_config, resolve_config
from sim.model import ClusterModel, ModelError
from sim.presets import Preset, load_presets
from sim.records import ScenarioResult
from sim.scenario import run_scenario

__all__ = [
    "ClusterModel", "Config", "ConfigError", "ModelError", "Preset", "ScenarioResult", "default_config",
    "load_config", "load_presets", "resolve_config", "run_scenario",
]
