"""A calibration spec (TOML): which coefficients to fit, to which targets, with what ABC-SMC budget.

    [experiment]  name, description, seed, horizon (quarters; the targets are 2025-2035 patterns)
    [base]        scenario = "configs/baseline.toml" (the status quo the targets describe)
    [fit]         population (particles per generation), generations (most generations),
                  min_eps_diff (stop when epsilon falls by less than this many tolerances in a generation),
                  seeds_per_particle (model runs averaged per evaluation: stochasticity enters each one),
                  posterior_predictive (particles re-run for the report),
                  max_minutes (a wall-time guard: pyabc stops after the generation that passes it; 0 = none)
    [parameters]  fit = [names]     uncertainties of configs/parameters.toml; priors = their ranges
    [targets]     use = [names] | "all"   rows of configs/calibration.toml [targets] (set-up checks
                                          are never fitted: they hold by construction)

Every key is checked; a bad key or value raises :class:`experiments.running.spec.SpecError` naming it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sim
from experiments.running.spec import SpecError, _suggest
from sim.outputs.calibration import load_targets

_SECTIONS = ("experiment", "base", "fit", "parameters", "targets")
_EXPERIMENT = ("name", "description", "seed", "horizon")
_FIT = ("population", "generations", "min_eps_diff", "seeds_per_particle", "posterior_predictive", "max_minutes")
MAX_POPULATION = 10_000
MAX_GENERATIONS = 100


@dataclass(frozen=True)
class Target:
    """A calibration target: value, band and the tolerance (half the band) deviations are scaled by."""

    name: str
    value: float
    low: float
    high: float
    source: str

    @property
    def tolerance(self) -> float:
        return max((self.high - self.low) / 2.0, 1e-9)


@dataclass(frozen=True)
class CalibrationSpec:
    name: str
    description: str
    seed: int
    horizon: int
    scenario: str
    population: int
    generations: int
    min_eps_diff: float
    seeds_per_particle: int
    posterior_predictive: int
    max_minutes: float
    parameters: tuple[str, ...]
    targets: tuple[Target, ...]
    path: Path | None = field(default=None, compare=False)

    def base_config(self) -> sim.Config:
        return sim.load_config(self.scenario).with_overrides({}, quarters=self.horizon)

    def priors(self) -> dict[str, tuple[float, float]]:
        """Uniform prior of each fitted parameter: its range in parameters.toml."""
        schema = sim.default_config().schema
        return {n: (float(schema[n].low), float(schema[n].high)) for n in self.parameters}

    def digest(self) -> str:
        """Hash of everything that defines the fit (a results folder holds one fit)."""
        blob = json.dumps({k: v for k, v in self.__dict__.items() if k != "path"}, default=str, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _err(where: str, msg: str) -> SpecError:
    return SpecError(f"{where}: {msg}")


def parse_calibration_spec(data: dict[str, Any], where: str = "spec") -> CalibrationSpec:
    for section in data:
        if section not in _SECTIONS:
            raise _err(where, f"unknown section [{section}].{_suggest(section, list(_SECTIONS))}")
    exp = data.get("experiment", {})
    for k in exp:
        if k not in _EXPERIMENT:
            raise _err(where, f"[experiment] unknown key {k!r}.{_suggest(k, list(_EXPERIMENT))}")
    name = exp.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise _err(where, f"[experiment] name: {name!r} must be an identifier (it names results/<name>/)")
    seed = exp.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise _err(where, f"[experiment] seed: {seed!r} must be an integer in [0, 2**63)")
    horizon = exp.get("horizon", 40)
    if isinstance(horizon, bool) or not isinstance(horizon, int) or not 8 <= horizon <= 400:
        raise _err(where, f"[experiment] horizon: {horizon!r} must be an integer number of quarters in [8, 400]")
    base = data.get("base", {})
    for k in base:
        if k != "scenario":
            raise _err(where, f"[base] unknown key {k!r}. Allowed: scenario.")
    scenario = base.get("scenario", "configs/baseline.toml")
    try:
        sim.load_config(scenario)
    except sim.ConfigError as exc:
        raise _err(where, f"[base] scenario: {exc}") from None
    fit = data.get("fit", {})
    for k in fit:
        if k not in _FIT:
            raise _err(where, f"[fit] unknown key {k!r}.{_suggest(k, list(_FIT))}")

    def integer(key, default, low, high):
        v = fit.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            raise _err(where, f"[fit] {key}: {v!r} must be an integer in [{low}, {high}]")
        return v

    population = integer("population", 200, 4, MAX_POPULATION)
    generations = integer("generations", 10, 1, MAX_GENERATIONS)
    seeds_per_particle = integer("seeds_per_particle", 2, 1, 20)
    predictive = integer("posterior_predictive", 50, 1, 2000)
    improvement = fit.get("min_eps_diff", 0.0)
    if isinstance(improvement, bool) or not isinstance(improvement, (int, float)) or not 0 <= improvement < 100:
        raise _err(where, f"[fit] min_eps_diff: {improvement!r} must be a number of tolerances in [0, 100)")
    max_minutes = fit.get("max_minutes", 0)
    if isinstance(max_minutes, bool) or not isinstance(max_minutes, (int, float)) or not 0 <= max_minutes <= 10080:
        raise _err(where, f"[fit] max_minutes: {max_minutes!r} must be minutes in [0, 10080] (0 = no guard)")
    schema = sim.default_config().schema
    names = data.get("parameters", {}).get("fit", [])
    extra = set(data.get("parameters", {})) - {"fit"}
    if extra:
        raise _err(where, f"[parameters] unknown key {sorted(extra)[0]!r}. Allowed: fit.")
    if not isinstance(names, list) or not names:
        raise _err(where, "[parameters] fit: a non-empty list of uncertainties to fit")
    uncertainties = [n for n, p in schema.items() if p.kind == "uncertainties"]
    for n in names:
        if n not in uncertainties:
            raise _err(where, f"[parameters] fit: {n!r} is not an uncertainty.{_suggest(str(n), uncertainties)}")
    if len(set(names)) != len(names):
        raise _err(where, "[parameters] fit: a parameter is listed twice")
    table = load_targets()["targets"]
    use = data.get("targets", {}).get("use", "all")
    if use == "all":
        use = list(table)
    if not isinstance(use, list) or not use:
        raise _err(where, '[targets] use: "all" or a non-empty list of calibration targets')
    for n in use:
        if n not in table:
            hint = " It is a set-up check (holds by construction), not a target." if n in load_targets().get(
                "checks", {}) else _suggest(str(n), list(table))
            raise _err(where, f"[targets] use: {n!r} is not a calibration target.{hint}")
    targets = tuple(Target(n, float(table[n]["target"]), float(table[n]["low"]), float(table[n]["high"]),
                           table[n]["source"]) for n in use)
    return CalibrationSpec(name=name, description=str(exp.get("description", "")), seed=seed, horizon=horizon,
                           scenario=scenario, population=population, generations=generations,
                           min_eps_diff=float(improvement), seeds_per_particle=seeds_per_particle,
                           posterior_predictive=predictive, max_minutes=float(max_minutes), parameters=tuple(names),
                           targets=targets)


def load_calibration_spec(path: str | Path) -> CalibrationSpec:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SpecError(f"{path}: is a directory, not a spec file") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    spec = parse_calibration_spec(data, where=str(path))
    return CalibrationSpec(**{**spec.__dict__, "path": path})
