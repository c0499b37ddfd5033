"""Qinhuangdao advanced-manufacturing cluster simulator (秦皇岛先进制造集群能级仿真).

Public interface:
    ClusterModel        the Mesa model (one step = one quarter)
    run_scenario        (config, seed) -> ScenarioResult with tidy tables city / clusters / districts
    warm_up             load the compiled kernels in this process (workers call it when they start)
    load_config         read + validate a scenario TOML; raises ConfigError naming the bad key
    default_config      the status quo
    load_presets        the paper's policy packages
    __version__         the installed version (``python -m sim --version``)

Rooms (each ``__init__.py`` says what lives there and what it may import):
    sim/inputs/     configuration, the city's data, the parameter table (imported by all)
    sim/state/      the city's state: agent tables, Mesa agent views, records, start state, constants
    sim/policy/     the levers as instruments (channels, costs, schedules), attribution, the packages
    sim/behaviour/  the submodels a quarter runs (market, innovation, digital, finance, entry, labour, ...)
    sim/model.py    ClusterModel: the schedule of a quarter
    sim/scenario.py run_scenario: one run, start to end
    sim/outputs/    figures, the calibration table, the posterior, the command line (``python -m sim``)
Imports point down only (a room may import any room below it):
    outputs -> model/scenario -> behaviour -> state -> inputs; model -> policy -> inputs.
"""

import importlib

from sim.inputs.base import VERSION, ConfigError
from sim.inputs.config import Config, default_config, load_config, resolve_config
from sim.policy.presets import Preset, load_presets

__version__ = VERSION

# The model (Mesa, pandas, the compiled kernels) is imported on first use, not by ``import sim``: a
# command that only reads a config or prints the version starts in a fraction of a second.
_ON_FIRST_USE = {"ClusterModel": "sim.model", "ModelError": "sim.model", "run_scenario": "sim.scenario",
                 "warm_up": "sim.scenario", "ScenarioResult": "sim.state.records"}


def __getattr__(name: str):
    if name in _ON_FIRST_USE:
        value = getattr(importlib.import_module(_ON_FIRST_USE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_ON_FIRST_USE))

__all__ = [
    "__version__", "ClusterModel", "Config", "ConfigError", "ModelError", "Preset", "ScenarioResult", "default_config",
    "load_config", "load_presets", "resolve_config", "run_scenario", "warm_up",
]
