"""Sweep specs: read a TOML experiment file (XLRM shape) into a validated :class:`Spec`.

Layout (see ``docs/experiments.md`` and ``configs/experiments/*.toml``)::

    [experiment]   name, description, seed, replicates, horizon (quarters), crn
    [base]         scenario file + scenario settings; [base.levers] / [base.uncertainties] /
                   [base.facts] fixed overrides (the XLRM "constants"); package = preset key
    [design]       kind = full_factorial | lhs | sobol | morris; samples, levels, second_order
    [levers]       L: name = [values] | {min, max[, levels]} | "full"; package = [preset keys] | "all";
                   "*" = "full" sweeps every lever not listed over its whole range
    [uncertainties] X: name = [values] | {min, max} | {dist = "normal", mean, sd} | ... | "full";
                   "*" = "full" sweeps every uncertainty not listed
    [settings]     scenario settings swept as discrete values (e.g. persons_per_agent = [10, 20])
    [outcomes]     M: summary / city / clusters / districts = "all" | [names]
    [analysis]     options for ``python -m experiments analyze`` (by_year, group_by, heatmap, ...)

Everything is checked before any run starts; a problem raises :class:`SpecError` naming the file,
the section and the key. Values are validated against the parameter schema (``configs/parameters.toml``).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

import sim
from sim.config import CONFIG_DIR, ConfigError

PROJECT_DIR = CONFIG_DIR.parent
DESIGNS = ("full_factorial", "lhs", "sobol", "morris")
DISTRIBUTIONS = ("uniform", "loguniform", "triangular", "normal")
TABLES = ("city", "clusters", "districts")
SWEEPABLE_SETTINGS = ("persons_per_agent",)
PACKAGE = "package"

_SECTIONS = ("experiment", "base", "design", "levers", "uncertainties", "settings", "outcomes", "analysis")
_EXPERIMENT_KEYS = ("name", "description", "seed", "replicates", "horizon", "crn")
_BASE_KEYS = ("scenario", "package", "persons_per_agent", "start", "map", "levers", "uncertainties", "facts")
_DESIGN_KEYS = ("kind", "samples", "levels", "second_order")
_OUTCOME_KEYS = ("summary", *TABLES)
_ANALYSIS_KEYS = ("by_year", "group_by", "bins", "heatmap", "reference", "outcomes", "max_groups")
_RANGE_KEYS = ("dist", "min", "max", "levels", "mean", "sd", "mode")


class SpecError(ValueError):
    """A sweep spec is invalid. The message names the file, section and key."""


def _suggest(key: str, allowed: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), list(allowed), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Allowed: {', '.join(allowed)}."


@dataclass(frozen=True)
class Factor:
    """One swept input: a lever, an uncertainty, a scenario setting or the policy ``package``.

    Either discrete ``values`` or a distribution ``dist`` with ``params`` (min/max/mode/mean/sd).
    :meth:`from_unit` maps numbers in [0, 1] to values (inverse CDF, or an index into ``values``),
    which is how LHS, Sobol and Morris samples become inputs.
    """

    name: str
    kind: str  # "lever" | "uncertainty" | "setting" | "package"
    values: tuple[Any, ...] | None = None
    dist: str | None = None
    params: Mapping[str, float] = field(default_factory=dict)
    levels: int | None = None  # full_factorial: grid points across a range
    integer: bool = False

    @property
    def discrete(self) -> bool:
        return self.values is not None

    def grid(self) -> list[Any]:
        """Values used by a full-factorial design."""
        if self.values is not None:
            return list(self.values)
        lo, hi = self.params["min"], self.params["max"]
        return [self._cast(v) for v in np.linspace(lo, hi, self.levels)]

    def from_unit(self, u: np.ndarray) -> list[Any]:
        """Map unit-interval samples ``u`` to factor values."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if self.values is not None:
            idx = np.minimum((u * len(self.values)).astype(int), len(self.values) - 1)
            return [self.values[i] for i in idx]
        p = self.params
        lo, hi = p.get("min"), p.get("max")
        match self.dist:
            case "uniform":
                x = lo + u * (hi - lo)
            case "loguniform":
                x = np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo)))
            case "triangular":
                c = (p["mode"] - lo) / (hi - lo)
                x = stats.triang(c, loc=lo, scale=hi - lo).ppf(u)
            case "normal":  # truncated to [min, max]
                a, b = (lo - p["mean"]) / p["sd"], (hi - p["mean"]) / p["sd"]
                x = stats.truncnorm(a, b, loc=p["mean"], scale=p["sd"]).ppf(u)
            case _:  # pragma: no cover - validated on load
                raise SpecError(f"factor {self.name}: unknown distribution {self.dist!r}")
        return [self._cast(v) for v in np.clip(x, lo, hi)]

    def _cast(self, v: float) -> Any:
        return int(round(float(v))) if self.integer else float(v)

    def describe(self) -> str:
        if self.values is not None:
            return f"{len(self.values)} values {list(self.values)}"
        shown = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.dist}({shown})" + (f" x {self.levels} levels" if self.levels else "")


@dataclass(frozen=True)
class Design:
    """How factor values are combined: ``kind`` and its size parameters."""

    kind: str
    samples: int | None = None  # lhs: points; sobol: base N (N*(D+2) or N*(2D+2) points); morris: trajectories
    levels: int = 4  # morris grid levels; default grid size of ranges in full_factorial
    second_order: bool = False  # sobol: also estimate second-order indices


@dataclass(frozen=True)
class Outcomes:
    """What each run keeps: summary keys and per-quarter table columns (``"all"`` or names)."""

    summary: str | tuple[str, ...] = "all"
    city: str | tuple[str, ...] = "all"
    clusters: str | tuple[str, ...] = "all"
    districts: str | tuple[str, ...] = "all"

    def columns(self, table: str) -> str | tuple[str, ...]:
        return getattr(self, table)


@dataclass(frozen=True, eq=False)
class Spec:
    """A validated experiment: base config, factors, design, replicates, outcomes."""

    name: str
    path: Path | None
    description: str
    seed: int
    replicates: int
    horizon: int
    crn: bool
    design: Design
    base: sim.Config
    base_package: str | None
    factors: tuple[Factor, ...]
    outcomes: Outcomes
    analysis: Mapping[str, Any]
    raw: Mapping[str, Any]
    text: str

    def factor(self, name: str) -> Factor:
        for f in self.factors:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def factor_names(self) -> list[str]:
        return [f.name for f in self.factors]


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file; the experiment name defaults to the file's stem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"spec file not found: {path}") from None
    return parse_spec(text, path=path)


def parse_spec(text: str, path: Path | None = None) -> Spec:
    """Validate spec TOML text (``path`` locates relative scenario files and names errors)."""
    where = path.name if path else "spec"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{where}: not valid TOML: {exc}") from None
    try:
        return _Parser(raw, where, path).parse(text)
    except ConfigError as exc:  # a value the parameter schema rejects
        raise SpecError(f"{where}: {exc}") from None


class _Parser:
    def __init__(self, raw: dict[str, Any], where: str, path: Path | None):
        self.raw, self.where, self.path = raw, where, path

    def err(self, msg: str) -> SpecError:
        return SpecError(f"{self.where}: {msg}")

    def table(self, name: str, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        t = self.raw.get(name, {})
        if not isinstance(t, Mapping):
            raise self.err(f"[{name}] must be a table")
        if allowed is not None:
            for key in t:
                if key not in allowed:
                    raise self.err(f"[{name}] unknown key {key!r}.{_suggest(key, allowed)}")
        return dict(t)

    def parse(self, text: str) -> Spec:
        for section in self.raw:
            if section not in _SECTIONS:
                raise self.err(f"unknown section [{section}].{_suggest(section, _SECTIONS)}")
        exp = self.table("experiment", _EXPERIMENT_KEYS)
        seed = self.integer(exp, "experiment", "seed", required=True, low=0)
        replicates = self.integer(exp, "experiment", "replicates", required=True, low=1)
        horizon = self.integer(exp, "experiment", "horizon", default=40, low=1, high=400)
        crn = exp.get("crn", False)
        if not isinstance(crn, bool):
            raise self.err(f"[experiment] crn: {crn!r} must be true or false")
        name = exp.get("name", self.path.stem if self.path else "experiment")
        if not isinstance(name, str) or not name:
            raise self.err(f"[experiment] name: {name!r} must be a non-empty string")

        presets = sim.load_presets()
        base, base_package = self.base(horizon, presets)
        factors = self.factors(base, presets)
        design = self.design(factors)
        outcomes = self.outcomes()
        analysis = self.table("analysis", _ANALYSIS_KEYS)
        return Spec(
            name=name, path=self.path, description=str(exp.get("description", "")), seed=seed,
            replicates=replicates, horizon=horizon, crn=crn, design=design, base=base,
            base_package=base_package, factors=tuple(factors), outcomes=outcomes, analysis=analysis,
            raw=self.raw, text=text,
        )

    def integer(self, t: Mapping, section: str, key: str, *, required: bool = False, default: int | None = None,
                low: int | None = None, high: int | None = None) -> int:
        if key not in t:
            if required:
                raise self.err(f"[{section}] {key} is required")
            return default  # type: ignore[return-value]
        v = t[key]
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.err(f"[{section}] {key}: {v!r} is not an integer")
        if low is not None and v < low:
            raise self.err(f"[{section}] {key}: {v} must be >= {low}")
        if high is not None and v > high:
            raise self.err(f"[{section}] {key}: {v} must be <= {high}")
        return v

    # ------------------------------------------------------------------ base scenario
    def base(self, horizon: int, presets: Mapping[str, sim.Preset]) -> tuple[sim.Config, str | None]:
        t = self.table("base", _BASE_KEYS)
        scenario = t.pop("scenario", None)
        cfg = sim.load_config(self.scenario_path(scenario)) if scenario else sim.default_config()
        package = t.pop("package", None)
        overrides: dict[str, Any] = {}
        if package is not None:
            if package not in presets:
                raise self.err(f"[base] package: {package!r} is not a preset.{_suggest(package, list(presets))}")
            overrides.update(presets[package].levers)
        for kind in ("levers", "uncertainties", "facts"):
            sub = t.pop(kind, {})
            if not isinstance(sub, Mapping):
                raise self.err(f"[base.{kind}] must be a table")
            names = cfg.names(kind)
            for key, value in sub.items():
                if key not in names:
                    raise self.err(f"[base.{kind}] unknown key {key!r}.{_suggest(key, names)}")
                overrides[key] = cfg.schema[key].check(value, f"[base.{kind}] {key}")
        settings = dict(t)  # persons_per_agent, start, map
        settings["quarters"] = horizon
        try:
            return cfg.with_overrides(overrides, **settings), package
        except ConfigError as exc:
            raise self.err(f"[base] {exc}") from None

    def scenario_path(self, scenario: Any) -> Path:
        if not isinstance(scenario, str):
            raise self.err(f"[base] scenario: {scenario!r} must be a path string")
        p = Path(scenario)
        candidates = [p] if p.is_absolute() else [
            *([self.path.parent / p] if self.path else []), Path.cwd() / p, PROJECT_DIR / p,
        ]
        for c in candidates:
            if c.is_file():
                return c
        raise self.err(f"[base] scenario: file {scenario!r} not found (looked in {', '.join(map(str, candidates))})")

    # ------------------------------------------------------------------ factors
    def factors(self, base: sim.Config, presets: Mapping[str, sim.Preset]) -> list[Factor]:
        out: list[Factor] = []
        levers = self.table("levers")
        if PACKAGE in levers:
            out.append(self.package(levers.pop(PACKAGE), presets))
        lever_names = base.names("levers")
        lever_star = levers.pop("*", None)
        for key, value in levers.items():
            if key not in lever_names:
                raise self.err(f"[levers] unknown lever {key!r}.{_suggest(key, [PACKAGE, *lever_names])}")
            out.append(self.parameter_factor("levers", key, value, base, "lever"))
        if lever_star is not None:
            if lever_star != "full":
                raise self.err(f'[levers] "*": {lever_star!r} is not allowed; use "*" = "full"')
            for key in lever_names:
                if key not in levers:
                    out.append(self.parameter_factor("levers", key, "full", base, "lever"))
        unc = self.table("uncertainties")
        allowed = base.names("uncertainties") + base.names("facts")
        star = unc.pop("*", None)
        for key, value in unc.items():
            if key not in allowed:
                raise self.err(f"[uncertainties] unknown uncertainty or fact {key!r}.{_suggest(key, allowed)}")
            out.append(self.parameter_factor("uncertainties", key, value, base, "uncertainty"))
        if star is not None:
            if star != "full":
                raise self.err(f'[uncertainties] "*": {star!r} is not allowed; use "*" = "full"')
            for key in base.names("uncertainties"):
                if key not in unc:
                    out.append(self.parameter_factor("uncertainties", key, "full", base, "uncertainty"))
        for key, value in self.table("settings").items():
            if key not in SWEEPABLE_SETTINGS:
                raise self.err(f"[settings] {key!r} cannot be swept.{_suggest(key, SWEEPABLE_SETTINGS)}")
            if not isinstance(value, list) or not value:
                raise self.err(f"[settings] {key}: give a non-empty list of values, e.g. {key} = [10, 20]")
            for v in value:
                try:
                    base.with_overrides({}, **{key: v})
                except ConfigError as exc:
                    raise self.err(f"[settings] {key}: {exc}") from None
            out.append(Factor(name=key, kind="setting", values=tuple(value), integer=True))
        return out

    def package(self, value: Any, presets: Mapping[str, sim.Preset]) -> Factor:
        keys = list(presets)
        if value == "all":
            value = keys
        if not isinstance(value, list) or not value:
            raise self.err(
                f'[levers] package: give a non-empty list of preset keys or "all". Presets: {", ".join(keys)}')
        for v in value:
            if v not in presets:
                raise self.err(f"[levers] package: {v!r} is not a preset in configs/presets.toml.{_suggest(v, keys)}")
        if len(set(value)) != len(value):
            raise self.err("[levers] package: a preset is listed twice")
        return Factor(name=PACKAGE, kind="package", values=tuple(value))

    def parameter_factor(self, section: str, key: str, value: Any, base: sim.Config, kind: str) -> Factor:
        p = base.schema[key]
        where = f"[{section}] {key}"
        integer = isinstance(p.default, int) and not isinstance(p.default, bool)
        if value == "full":
            value = {"min": p.low, "max": p.high}
        if isinstance(value, list):
            if not value:
                raise self.err(f"{where}: empty list of values")
            vals = tuple(p.check(v, f"{self.where}: {where}") for v in value)
            if len(set(vals)) != len(vals):
                raise self.err(f"{where}: a value is listed twice")
            return Factor(name=key, kind=kind, values=vals, integer=integer)
        if not isinstance(value, Mapping):
            raise self.err(
                f'{where}: {value!r} is not allowed; give a list of values, a table {{min = .., max = ..}} or "full"'
            )
        for k in value:
            if k not in _RANGE_KEYS:
                raise self.err(f"{where}: unknown key {k!r}.{_suggest(k, _RANGE_KEYS)}")
        dist = value.get("dist", "uniform")
        if dist not in DISTRIBUTIONS:
            raise self.err(f"{where}: dist {dist!r} is not supported.{_suggest(dist, DISTRIBUTIONS)}")
        if kind == "lever" and dist != "uniform":
            raise self.err(f"{where}: levers are chosen, not drawn: give a range or values, not dist = {dist!r}")
        params: dict[str, float] = {}
        for k in ("min", "max", "mode", "mean", "sd"):
            if k in value:
                v = value[k]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    raise self.err(f"{where}: {k} = {v!r} is not a number")
                params[k] = float(v)
        params.setdefault("min", float(p.low))
        params.setdefault("max", float(p.high))
        lo, hi = params["min"], params["max"]
        if not lo < hi:
            raise self.err(f"{where}: empty range: min {lo:g} must be below max {hi:g}")
        p.check(lo, f"{where} min")
        p.check(hi, f"{where} max")
        need = {"uniform": (), "loguniform": (), "triangular": ("mode",), "normal": ("mean", "sd")}[dist]
        for k in need:
            if k not in params:
                raise self.err(f"{where}: dist = {dist!r} needs {k}")
        extra = {"mode", "mean", "sd"} - set(need)
        for k in extra & set(params):
            raise self.err(f"{where}: {k} is not used by dist = {dist!r}")
        if dist == "loguniform" and lo <= 0:
            raise self.err(f"{where}: loguniform needs min > 0")
        if dist == "triangular" and not lo <= params["mode"] <= hi:
            raise self.err(f"{where}: mode {params['mode']:g} is outside [{lo:g}, {hi:g}]")
        if dist == "normal" and params["sd"] <= 0:
            raise self.err(f"{where}: sd must be > 0")
        levels = value.get("levels")
        if levels is not None and (isinstance(levels, bool) or not isinstance(levels, int) or levels < 2):
            raise self.err(f"{where}: levels = {levels!r} must be an integer >= 2")
        return Factor(name=key, kind=kind, dist=dist, params=params, levels=levels, integer=integer)

    # ------------------------------------------------------------------ design
    def design(self, factors: list[Factor]) -> Design:
        t = self.table("design", _DESIGN_KEYS)
        kind = t.get("kind")
        if kind is None:
            raise self.err(f"[design] kind is required; one of {', '.join(DESIGNS)}")
        if kind not in DESIGNS:
            raise self.err(f"[design] kind: {kind!r} is not a design.{_suggest(kind, DESIGNS)}")
        levels = self.integer(t, "design", "levels", default=4, low=2)
        second = t.get("second_order", False)
        if not isinstance(second, bool):
            raise self.err(f"[design] second_order: {second!r} must be true or false")
        if kind == "full_factorial":
            if "samples" in t:
                raise self.err("[design] samples: not used by full_factorial (the grid sets the size)")
            for f in factors:
                if not f.discrete and f.dist != "uniform":
                    raise self.err(
                        f"[{f.kind}s] {f.name}: a {f.dist} distribution cannot be gridded; use lhs/sobol/morris"
                    )
            factors[:] = [f if f.discrete or f.levels else _with_levels(f, levels) for f in factors]
            return Design(kind=kind, levels=levels)
        samples = self.integer(t, "design", "samples", required=True, low=1)
        if not factors:
            raise self.err(f"[design] kind = {kind!r} needs at least one factor in [levers] or [uncertainties]")
        if kind == "sobol" and samples < 2:
            raise self.err("[design] samples: sobol needs samples >= 2 (a power of 2 is best)")
        if kind == "morris" and not any(not f.discrete for f in factors):
            raise self.err("[design] morris needs at least one continuous factor (a range)")
        return Design(kind=kind, samples=samples, levels=levels, second_order=second)

    # ------------------------------------------------------------------ outcomes
    def outcomes(self) -> Outcomes:
        t = self.table("outcomes", _OUTCOME_KEYS)
        out: dict[str, Any] = {}
        for key, value in t.items():
            if value == "all":
                out[key] = "all"
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                out[key] = tuple(value)
            else:
                raise self.err(f'[outcomes] {key}: {value!r} must be "all" or a list of names')
        if out.get("summary", "all") == ():
            raise self.err("[outcomes] summary: keep at least one summary outcome (or \"all\")")
        return Outcomes(**out)


def _with_levels(f: Factor, levels: int) -> Factor:
    return Factor(name=f.name, kind=f.kind, dist=f.dist, params=f.params, levels=levels, integer=f.integer)
