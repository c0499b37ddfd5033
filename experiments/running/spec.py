"""Sweep specs: read a TOML experiment file (XLRM shape) into a validated :class:`Spec`.

Layout (see ``docs/experiments.md`` and ``configs/experiments/*.toml``)::

    [experiment]   name, description, seed, replicates, horizon (quarters), crn
    [packages.NAME] a policy package of this spec: label_en, label_zh, levers = {name = value or a
                   schedule {value, start, end, ramp_quarters}}, combine = [presets / earlier packages];
                   usable wherever a preset key is (see :meth:`_Parser.packages`)
    [base]         scenario file + scenario settings; [base.levers] / [base.uncertainties] /
                   [base.facts] fixed overrides (the XLRM "constants"); package = preset or package key;
                   uncertainties = "posterior" (or a parquet path): behavioural coefficients from the
                   fitted posterior, posterior_draws draws, replicate r uses draw r % posterior_draws;
                   posterior_per = "future" (lhs): one draw per LHS row instead, shared by the
                   crossed packages, its replicates differ in seed only
    [design]       kind = full_factorial | lhs | sobol | morris; samples, levels, second_order;
                   cross = [discrete factors] (lhs only): the LHS over the other factors, crossed with
                   every combination of these (each package sees the same futures)
    [levers]       L: name = [values] | {min, max[, levels]} | "full"; package = [preset or package keys] | "all";
                   "*" = "full" sweeps every lever not listed over its whole range; a timed lever:
                   name.start / name.end = [periods] | {min = "2026Q1", max = "2029Q4"},
                   name.ramp_quarters / name.duration_quarters = [n] | {min, max}, name.value = the
                   value factor (see experiments/running/timing.py); [base.levers] name = {value, start, ...}
    [uncertainties] X: name = [values] | {min, max} | {dist = "normal", mean, sd} | ... | "full";
                   "*" = "full" sweeps every uncertainty not listed
    [settings]     scenario settings swept as discrete values (e.g. persons_per_agent = [10, 20])
    [outcomes]     M: summary / city / clusters / districts = "all" | [names]
    [analysis]     options for ``python -m experiments analyze`` (by_year, group_by, heatmap, ...)
    [robustness]   goals = [conditions], outcomes = [names]: ``analyze`` also judges robustness

Everything is checked before any run starts; a problem raises :class:`SpecError` naming the file,
the section and the key. Values are validated against the parameter schema (``configs/parameters.toml``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

import sim
from experiments.running import timing
from experiments.running.timing import LEVER_TABLE_KEYS, PERIOD_PARTS, TIMING_PARTS
from sim.inputs.base import CONFIG_DIR, ConfigError
from sim.inputs.config import SCHEDULE_KEYS, check_resolution, read_config_text

PROJECT_DIR = CONFIG_DIR.parent
DESIGNS = ("full_factorial", "lhs", "sobol", "morris")
DISTRIBUTIONS = ("uniform", "loguniform", "triangular", "normal")
TABLES = ("city", "clusters", "districts")
SWEEPABLE_SETTINGS = ("persons_per_agent",)
PACKAGE = "package"

_SECTIONS = ("experiment", "packages", "base", "design", "levers", "uncertainties", "settings", "outcomes", "analysis",
             "robustness")
_EXPERIMENT_KEYS = ("name", "description", "seed", "replicates", "horizon", "crn")
_BASE_KEYS = ("scenario", "package", "persons_per_agent", "start", "map", "levers", "uncertainties", "facts",
              "posterior_draws", "posterior_per", "channels_off")
POSTERIOR_PER = ("replicate", "future")  # [base] posterior_per: what a posterior draw belongs to
_PACKAGE_KEYS = ("label_en", "label_zh", "levers", "combine")  # [packages.NAME], as an entry of presets.toml
_DESIGN_KEYS = ("kind", "samples", "levels", "second_order", "cross")
_OUTCOME_KEYS = ("summary", *TABLES)
_ANALYSIS_KEYS = ("by_year", "group_by", "bins", "heatmap", "reference", "outcomes", "max_groups")
_RANGE_KEYS = ("dist", "min", "max", "levels", "mean", "sd", "mode")
MAX_RUNS = 1_000_000  # at most this many runs (design points x replicates) per spec
MAX_MORRIS_LEVELS = 1000  # [design] levels of a Morris grid
MAX_BINS = 100  # [analysis] bins
MAX_GROUPS = 1000  # [analysis] max_groups


# the spec section a factor of each Factor.kind is written in (error messages name it)
_SECTION_OF_KIND = {"lever": "levers", "package": "levers", "timing": "levers", "uncertainty": "uncertainties",
                    "setting": "settings"}


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
    kind: str  # "lever" | "uncertainty" | "setting" | "package" | "timing" (lever.start, lever.end, ...)
    values: tuple[Any, ...] | None = None
    dist: str | None = None
    params: Mapping[str, float] = field(default_factory=dict)
    levels: int | None = None  # full_factorial: grid points across a range
    integer: bool = False
    periods: bool = False  # values are periods ("2027Q1"); a range's min/max are quarter numbers (timing.py)

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
        if self.kind == "timing":  # whole quarters, each as likely: u in [k/n, (k+1)/n) -> min + k
            x = np.minimum(lo + np.floor(u * (hi - lo + 1)), hi)
            return [self._cast(v) for v in x]
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
        if self.periods:
            return timing.period_label(int(round(float(v))))
        return int(round(float(v))) if self.integer else float(v)

    def describe(self) -> str:
        if self.values is not None:
            return f"{len(self.values)} values {list(self.values)}"
        if self.kind == "timing":
            lo, hi = self._cast(self.params["min"]), self._cast(self.params["max"])
            return f"{'periods' if self.periods else 'quarters'} {lo} to {hi}" + (
                f" x {self.levels} levels" if self.levels else "")
        shown = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.dist}({shown})" + (f" x {self.levels} levels" if self.levels else "")


@dataclass(frozen=True)
class Design:
    """How factor values are combined: ``kind`` and its size parameters."""

    kind: str
    samples: int | None = None  # lhs: points; sobol: base N (N*(D+2) or N*(2D+2) points); morris: trajectories
    levels: int = 4  # morris grid levels; default grid size of ranges in full_factorial
    second_order: bool = False  # sobol: also estimate second-order indices
    cross: tuple[str, ...] = ()  # lhs: discrete factors crossed with the LHS rows (not sampled)


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
    posterior: Any = None  # sim.outputs.posterior.Posterior when [base] uncertainties = "posterior"
    draws: pd.DataFrame | None = None  # posterior draws (index draw; "particle" + parameter columns)
    posterior_per: str = "replicate"  # "replicate" or "future" (see draw_of)
    timing: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # timed lever -> its fixed parts
    packages: Mapping[str, sim.Preset] = field(default_factory=dict)  # presets.toml's, then the spec's [packages]
    own_packages: tuple[str, ...] = ()  # the keys of the spec's own [packages.NAME] tables

    def package_definitions(self) -> dict[str, dict[str, Any]]:
        """The packages this spec runs (``[base] package`` and the ``package`` factor's values): labels,
        resolved levers (``combine`` merged; a timed lever as its schedule) and where each is defined.
        Written to ``provenance.json`` (``policy_packages``) so ``analyze`` labels them and a re-run can
        be checked against them even after configs/presets.toml changes."""
        used = [self.base_package] if self.base_package else []
        if PACKAGE in self.factor_names:
            used += list(self.factor(PACKAGE).values)
        out: dict[str, dict[str, Any]] = {}
        for key in dict.fromkeys(used):
            p = self.packages[key]
            out[key] = {"label_en": p.label_en, "label_zh": p.label_zh,
                        "levers": {k: dict(v) if isinstance(v, Mapping) else v for k, v in p.levers.items()},
                        "source": "spec [packages]" if key in self.own_packages else "configs/presets.toml"}
        return out

    @property
    def n_draws(self) -> int:
        return 0 if self.draws is None else len(self.draws)

    def draw_of(self, replicate: int, point: int | None = None) -> int | None:
        """The posterior draw that replicate ``replicate`` of design point ``point`` runs with; None
        without a posterior.

        Per replicate (default): replicates cycle through the draws, so replicates r and r + n_draws
        share parameters and differ in seed, and every point's replicate r has the same draw (paired).
        Per future (an lhs design): the point's LHS row (its future: with ``[design] cross`` the points
        are the crossed combinations times the rows, so the row is ``point % samples``) has its own
        draw, shared by the crossed packages and by all replicates of the point.
        """
        if self.draws is None:
            return None
        if self.posterior_per == "future":
            if point is None:
                raise ValueError("draw_of: draws per future need the design point")
            return int(point) % len(self.draws)
        return int(replicate) % len(self.draws)

    def draw_values(self, draw: int | None) -> dict[str, float]:
        """The posterior parameter values of ``draw`` ({} without a posterior)."""
        if draw is None or self.draws is None:
            return {}
        row = self.draws.iloc[int(draw)]
        return {k: float(row[k]) for k in self.posterior.parameters}

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
    try:
        text = read_config_text(path, "spec file")
    except ConfigError as exc:  # empty path, missing, a directory, a device, too large, not UTF-8
        raise SpecError(str(exc)) from None
    return parse_spec(text, path=Path(path))


def parse_spec(text: str, path: str | Path | None = None) -> Spec:
    """Validate spec TOML text (``path`` locates relative scenario files and names errors)."""
    path = Path(path) if path is not None else None
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
            if section == "optimize":
                raise self.err("[optimize]: this is an optimisation spec, not a sweep; run it with "
                               "`python -m experiments optimize`")
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
        packages = {**presets, **self.packages(presets)}
        base, base_package = self.base(horizon, packages)
        self.check_packages(base, packages, presets)
        factors = self.factors(base, packages)
        self.check_package_timing(factors, packages)
        design = self.design(factors)
        posterior, draws = self.posterior(base, seed, replicates, design)
        self.check_size(design, factors, replicates)
        outcomes = self.outcomes()
        analysis = self.analysis(base, factors)
        self.robustness()
        return Spec(
            name=name, path=self.path, description=str(exp.get("description", "")), seed=seed,
            replicates=replicates, horizon=horizon, crn=crn, design=design, base=base,
            base_package=base_package, factors=tuple(factors), outcomes=outcomes, analysis=analysis,
            raw=self.raw, text=text, posterior=posterior, draws=draws, posterior_per=self._posterior_per,
            timing=self._timing, packages=packages, own_packages=tuple(k for k in packages if k not in presets),
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

    # ------------------------------------------------------------------ the spec's own packages
    def packages(self, presets: Mapping[str, sim.Preset]) -> dict[str, sim.Preset]:
        """``[packages.NAME]``: policy packages defined in the spec, in file order, usable wherever a
        preset key is (``[base] package``, ``[levers] package``, ``[analysis] reference``).

        Each is an entry like those of configs/presets.toml: ``label_en`` / ``label_zh`` (default: the
        key), ``levers = { name = value }`` checked against the lever schema, and ``combine = [keys]``
        (presets or earlier packages of the spec, their levers merged in order, then ``levers``). A lever
        may be timed: ``name = { value = .., start = "2027Q1", end = "2028Q4", ramp_quarters = 2 }``
        (:meth:`sim.Config.with_overrides`; the window is checked against the run in
        :meth:`check_packages`). A name that is already a preset is refused: a preset key means the same
        levers in every spec, results folder and the workshop app, so a spec cannot redefine one.
        """
        t = self.table("packages")
        defaults = sim.default_config()
        lever_names, schema = defaults.names("levers"), defaults.schema
        known: dict[str, sim.Preset] = dict(presets)
        out: dict[str, sim.Preset] = {}
        for key, entry in t.items():
            where = f"[packages.{key}]"
            if key in presets:
                raise self.err(f"{where}: {key!r} is a preset of configs/presets.toml ({presets[key].label_en!r}); "
                               "a spec cannot redefine a preset (its key means the same levers in every spec, "
                               f"results folder and the app): give this package another name, e.g. '{key}_2'")
            if key == "all":
                raise self.err(f'{where}: "all" is reserved ([levers] package = "all" lists every package); '
                               "give this package another name")
            if not isinstance(entry, Mapping):
                raise self.err(f"[packages] {key} = {entry!r}: give a table, e.g. [packages.{key}] with "
                               "levers = { rd_subsidy_rate = 0.2 }")
            for k in entry:
                if k not in _PACKAGE_KEYS:
                    raise self.err(f"{where} unknown key {k!r}.{_suggest(k, _PACKAGE_KEYS)}")
            levers: dict[str, Any] = {}
            combine = entry.get("combine", [])
            if not isinstance(combine, list) or not all(isinstance(c, str) for c in combine):
                raise self.err(f"{where} combine: {combine!r} is not allowed; give a list of preset or package keys")
            for part in combine:
                if part not in known:
                    raise self.err(f"{where} combine: {part!r} is not a preset or an earlier package of this spec."
                                   f"{_suggest(part, list(known))}")
                levers.update(known[part].levers)
            given = entry.get("levers", {})
            if not isinstance(given, Mapping):
                raise self.err(f"{where} levers: {given!r} is not allowed; give a table, e.g. "
                               "levers = { rd_subsidy_rate = 0.2 }")
            for name, value in given.items():
                if name not in lever_names:
                    raise self.err(f"{where} levers: unknown lever {name!r} (= {value!r})."
                                   f"{_suggest(name, lever_names)}")
                levers[name] = self.package_lever(f"{where} levers {name}", value, schema[name])
            labels = {}
            for k in ("label_en", "label_zh"):
                v = entry.get(k, labels.get("label_en", key))
                if not isinstance(v, str) or not v.strip():
                    raise self.err(f"{where} {k}: {v!r} is not allowed; give a non-empty string")
                labels[k] = v
            out[key] = known[key] = sim.Preset(key=key, levers=levers, **labels)
        return out

    def package_lever(self, where: str, value: Any, param: Any) -> Any:
        """One lever of a ``[packages.NAME]`` table: a value, or a schedule ``{value, start, end,
        ramp_quarters}`` whose keys and value are checked here (its periods and window against the run
        in :meth:`check_packages`)."""
        if not isinstance(value, Mapping):
            return param.check(value, where)
        for k in value:
            if k not in SCHEDULE_KEYS:
                hint = " (give end, the window's last period)" if k == "duration_quarters" else ""
                raise self.err(f"{where}: unknown key {k!r} in its schedule{hint}.{_suggest(k, SCHEDULE_KEYS)}")
        if "value" not in value:
            raise self.err(f"{where}: a timed lever needs value (the lever's value inside its window), e.g. "
                           f'{{ value = {param.default!r}, start = "2027Q1" }}')
        return {**value, "value": param.check(value["value"], f"{where} value")}

    def check_packages(self, base: sim.Config, packages: Mapping[str, sim.Preset],
                       presets: Mapping[str, sim.Preset]) -> None:
        """Every spec package applies to the base scenario: its schedules' periods and windows lie within
        the run (checked here, once the base's start and horizon are known)."""
        for key, p in packages.items():
            if key in presets:
                continue
            try:
                base.with_overrides(p.levers)
            except ConfigError as exc:
                raise self.err(f"[packages.{key}] levers: {exc}") from None

    def check_package_timing(self, factors: list[Factor], packages: Mapping[str, sim.Preset]) -> None:
        """A package that times a lever cannot be crossed with a swept timing of the same lever (which
        window would a run get?); a swept *value* of that lever runs inside the package's window."""
        used = next((f.values for f in factors if f.kind == "package"), ())
        for key in used:
            for lever, value in packages[key].levers.items():
                if isinstance(value, Mapping) and lever in self._timing:
                    swept = [f.name for f in factors if f.name.startswith(f"{lever}.")]
                    raise self.err(f"[packages.{key}] levers {lever}: the package times this lever and [levers] "
                                   f"sweeps its timing ({', '.join(swept) or lever}); time it in one place")

    # ------------------------------------------------------------------ base scenario
    def base(self, horizon: int, presets: Mapping[str, sim.Preset]) -> tuple[sim.Config, str | None]:
        t = self.table("base", _BASE_KEYS)
        scenario = t.pop("scenario", None)
        cfg = sim.load_config(self.scenario_path(scenario)) if scenario else sim.default_config()
        package = t.pop("package", None)
        overrides: dict[str, Any] = {}
        if package is not None:
            if package not in presets:
                raise self.err(f"[base] package: {package!r} is not a preset (configs/presets.toml) or a [packages] "
                               f"table of this spec.{_suggest(str(package), list(presets))}")
            overrides.update(presets[package].levers)
        self._posterior_source = None
        self._posterior_draws = t.pop("posterior_draws", None)
        self._posterior_per = t.pop("posterior_per", "replicate")
        timed: dict[str, Mapping[str, Any]] = {}  # [base.levers] name = {value, start, end, ...}
        for kind in ("levers", "uncertainties", "facts"):
            sub = t.pop(kind, {})
            if kind == "uncertainties" and isinstance(sub, str):  # uncertainties = "posterior" | a parquet path
                self._posterior_source, sub = sub, {}
            if not isinstance(sub, Mapping):
                raise self.err(f"[base.{kind}] must be a table")
            names = cfg.names(kind)
            for key, value in sub.items():
                if key not in names:
                    raise self.err(f"[base.{kind}] unknown key {key!r}.{_suggest(key, names)}")
                if kind == "levers" and isinstance(value, Mapping):
                    timed[key] = value
                    overrides.pop(key, None)
                    continue
                overrides[key] = cfg.schema[key].check(value, f"[base.{kind}] {key}")
                timed.pop(key, None)
        channels_off = t.pop("channels_off", None)
        settings = dict(t)  # persons_per_agent, start, map
        settings["quarters"] = horizon
        try:
            cfg = cfg.with_overrides(overrides, **settings)
        except ConfigError as exc:
            raise self.err(f"[base] {exc}") from None
        if channels_off is not None:
            try:
                cfg = cfg.with_overrides(channels_off=channels_off)
            except ConfigError as exc:
                raise self.err(f"[base] {exc}") from None
        if timed:
            tables = {key: self.base_lever_table(key, value, cfg) for key, value in timed.items()}
            try:
                cfg = cfg.with_overrides(tables)
            except ConfigError as exc:
                raise self.err(f"[base.levers] {exc}") from None
        try:
            check_resolution(cfg, "[base] persons_per_agent")  # every run would fail with ModelError otherwise
        except ConfigError as exc:
            raise self.err(str(exc)) from None
        return cfg, package

    def base_lever_table(self, key: str, value: Mapping[str, Any], cfg: sim.Config) -> dict[str, Any]:
        """``[base.levers] key = {value, start, end, ramp_quarters}`` (or ``duration_quarters`` instead of
        ``end``) as the schedule :meth:`sim.Config.with_overrides` takes."""
        where = f"[base.levers] {key}"
        for k in value:
            if k not in LEVER_TABLE_KEYS:
                raise self.err(f"{where}: unknown key {k!r}.{_suggest(k, LEVER_TABLE_KEYS)}")
        if "value" not in value:
            raise self.err(f"{where}: a timed lever needs value (the lever's value inside its window), e.g. "
                           f'{key} = {{ value = {cfg.schema[key].default!r}, start = "{cfg.scenario["start"]}" }}')
        out = dict(value)
        if "duration_quarters" in out:
            if "end" in out:
                raise self.err(f"{where}: give end or duration_quarters, not both")
            n = out.pop("duration_quarters")
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= cfg.quarters:
                raise self.err(f"{where} duration_quarters: {n!r} is not allowed; give a whole number of quarters "
                               f"1-{cfg.quarters} (the horizon)")
            start = out.get("start")
            if start is not None:
                timing.period_number(start, f"[base.levers] {key} start")
            try:
                out = {**out, **timing.resolve({**out, "duration_quarters": n}, cfg.scenario["start"], cfg.quarters)}
            except timing.TimingProblem as exc:
                raise self.err(f"{where}: start {start!r} with duration_quarters = {n} {exc.detail} (the horizon)"
                               ) from None
        return out

    def posterior(self, base: sim.Config, seed: int, replicates: int,
                  design: Design) -> tuple[Any, pd.DataFrame | None]:
        """``[base] uncertainties = "posterior"`` (configs/posterior.parquet) or a parquet path: the
        behavioural coefficients come from the fitted posterior, ``posterior_draws`` draws (default:
        one per replicate; replicates must be a multiple of it), drawn by weight from the spec seed.
        With ``posterior_per = "future"`` (lhs designs): one draw per LHS row (``[design] samples``)."""
        from sim.outputs.posterior import POSTERIOR_FILE, load_posterior

        src, n, per = self._posterior_source, self._posterior_draws, self._posterior_per
        if per not in POSTERIOR_PER:
            raise self.err(f"[base] posterior_per: {per!r} is not allowed; one of {', '.join(map(repr, POSTERIOR_PER))}")
        if src is None:
            if n is not None:
                raise self.err('[base] posterior_draws needs [base] uncertainties = "posterior"')
            if per != "replicate":
                raise self.err('[base] posterior_per needs [base] uncertainties = "posterior"')
            return None, None
        if per == "future":
            if design.kind != "lhs":
                raise self.err(f'[base] posterior_per = "future" needs [design] kind = "lhs" (a future is an LHS '
                               f"row), not {design.kind!r}")
            if n is not None and n != design.samples:
                raise self.err(f"[base] posterior_draws: {n!r} must equal [design] samples ({design.samples}) with "
                               f'posterior_per = "future" (one draw per future), or be left out')
        if src == "posterior":
            path = POSTERIOR_FILE
        else:
            path = Path(src)
            if not path.is_absolute() and self.path is not None and not path.exists():
                path = self.path.parent / path
        try:
            post = load_posterior(path, base)
        except ConfigError as exc:
            raise self.err(f"[base] uncertainties = {src!r}: {exc}") from None
        if per == "future":
            return post, post.draws(design.samples, seed)
        n = replicates if n is None else n
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= replicates or replicates % n:
            raise self.err(f"[base] posterior_draws: {n!r} must be an integer that divides [experiment] replicates "
                           f"({replicates}), e.g. {replicates // 2 if replicates % 2 == 0 else replicates}")
        return post, post.draws(n, seed)

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
        self._timing: dict[str, dict[str, Any]] = {}
        listed = self.lever_parts(levers, lever_names)
        for key, value in listed.items():
            if any(part in value for part in TIMING_PARTS):
                out.extend(self.timed_lever(key, value, base))
            else:
                out.append(self.parameter_factor("levers", key, value["value"], base, "lever"))
        if lever_star is not None:
            if lever_star != "full":
                raise self.err(f'[levers] "*": {lever_star!r} is not allowed; use "*" = "full"')
            for key in lever_names:
                if key not in listed:
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

    def lever_parts(self, levers: Mapping[str, Any], lever_names: list[str]) -> dict[str, dict[str, Any]]:
        """``[levers]`` entries as {lever: {part: value}}, part ``value`` or a timing part. A lever table
        (``[levers.NAME]``, ``NAME.start = ..``) and quoted ``"NAME.start"`` keys are merged; a plain
        entry (a list, a range, "full") is the value part."""
        out: dict[str, dict[str, Any]] = {}

        def add(lever: str, part: str, value: Any, shown: str) -> None:
            if lever not in lever_names:
                raise self.err(f"[levers] unknown lever {lever!r}.{_suggest(lever, [PACKAGE, *lever_names])}")
            parts = out.setdefault(lever, {})
            if part in parts:
                raise self.err(f"[levers] {shown}: given twice (as {lever}.{part} and in {lever}'s table)")
            parts[part] = value

        for key, value in levers.items():
            lever, dot, part = key.partition(".")
            if dot:
                if part not in LEVER_TABLE_KEYS:
                    raise self.err(f"[levers] {key!r}: unknown part {part!r} of lever {lever!r}."
                                   f"{_suggest(part, LEVER_TABLE_KEYS)}")
                add(lever, part, value, key)
            elif isinstance(value, Mapping) and any(k in LEVER_TABLE_KEYS for k in value):
                timed = next(k for k in value if k in LEVER_TABLE_KEYS)
                for part, v in value.items():
                    if part in _RANGE_KEYS:
                        raise self.err(f"[levers] {key}: {part!r} next to {timed!r}: give the value's range as "
                                       f"{key}.value = {{ min = .., max = .. }}")
                    if part not in LEVER_TABLE_KEYS:
                        raise self.err(f"[levers] {key}: unknown part {part!r}.{_suggest(part, LEVER_TABLE_KEYS)}")
                    add(key, part, v, f"{key}.{part}")
            else:
                if isinstance(value, Mapping):
                    odd = next((k for k in value if k not in _RANGE_KEYS), None)
                    if odd is not None:
                        hint = _suggest(odd, [*_RANGE_KEYS, *LEVER_TABLE_KEYS]).split(" Allowed")[0]
                        raise self.err(f"[levers] {key}: unknown key {odd!r}.{hint} Allowed in a range: "
                                       f"{', '.join(_RANGE_KEYS)}; in a timed lever: {', '.join(LEVER_TABLE_KEYS)}.")
                add(key, "value", value, key)
        return out

    def timed_lever(self, key: str, parts: Mapping[str, Any], base: sim.Config) -> list[Factor]:
        """A lever with timing parts in ``[levers]``: its factors (``key`` for the value, ``key.<part>``)
        and, in ``self._timing[key]``, the parts given as one value."""
        if "end" in parts and "duration_quarters" in parts:
            raise self.err(f"[levers] {key}: give end or duration_quarters, not both (duration_quarters sets "
                           "the end: start + duration - 1)")
        fixed: dict[str, Any] = {}
        out: list[Factor] = []
        if "value" in parts:
            v = parts["value"]
            if isinstance(v, (list, Mapping)) or v == "full":
                out.append(self.parameter_factor("levers", key, v, base, "lever"))
            else:
                fixed["value"] = base.schema[key].check(v, f"[levers] {key}.value")
        for part in TIMING_PARTS:
            if part in parts:
                got = self.timing_part(key, part, parts[part], base)
                if isinstance(got, Factor):
                    out.append(got)
                else:
                    fixed[part] = got
        if not out:
            shown = ", ".join(f"{k} = {v!r}" for k, v in parts.items())
            raise self.err(f"[levers] {key}: nothing is swept ({shown}); give a part a list or a range, or put a "
                           f"fixed timed lever in [base.levers], e.g. [base.levers.{key}]")
        self._timing[key] = fixed
        return out

    def timing_part(self, key: str, part: str, value: Any, base: sim.Config) -> Factor | Any:
        """``key.<part>``: one value (returned) or a factor (a list, a range {min, max[, levels]})."""
        name = f"{key}.{part}"
        where = f"[levers] {name}"
        lo_run, hi_run = timing.run_periods(base.scenario["start"], base.quarters)
        if part in PERIOD_PARTS:
            allowed = (f"allowed {timing.period_label(lo_run)} to {timing.period_label(hi_run)} (the run's "
                       f"{base.quarters} quarters)")
            example = (f'a period like "{timing.period_label(lo_run + 4)}", a list of periods or a range '
                       f'{{ min = "{timing.period_label(lo_run + 4)}", max = "{timing.period_label(lo_run + 8)}" }}')

            def one(v: Any, label: str = where) -> int:
                if not isinstance(v, str):
                    raise self.err(f"{label}: {v!r} is not allowed; give {example}")
                n = timing.period_number(v, label)
                if not lo_run <= n <= hi_run:
                    raise self.err(f"{label}: {v!r} is outside the run; {allowed}")
                return n
        else:
            low, high = (0, timing.MAX_RAMP) if part == "ramp_quarters" else (1, base.quarters)
            example = f"a whole number of quarters {low}-{high}, a list of them or a range {{ min = .., max = .. }}"

            def one(v: Any, label: str = where) -> int:
                if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                    raise self.err(f"{label}: {v!r} is not allowed; give {example}")
                return v

        periods = part in PERIOD_PARTS
        if isinstance(value, list):
            if not value:
                raise self.err(f"{where}: empty list; give {example}")
            nums = [one(v) for v in value]
            if len(set(nums)) != len(nums):
                raise self.err(f"{where}: a value is listed twice: {value!r}")
            vals = tuple(timing.period_label(n) if periods else n for n in sorted(nums))
            return Factor(name=name, kind="timing", values=vals, integer=True, periods=periods)
        if isinstance(value, Mapping):
            for k in value:
                if k not in ("min", "max", "levels"):
                    raise self.err(f"{where}: unknown key {k!r}.{_suggest(k, ('min', 'max', 'levels'))}")
            if "min" not in value or "max" not in value:
                raise self.err(f"{where}: a range needs min and max; give {example}")
            lo, hi = one(value["min"], f"{where} min"), one(value["max"], f"{where} max")
            if not lo < hi:
                raise self.err(f"{where}: empty range: min {value['min']!r} must be before max {value['max']!r}")
            levels = value.get("levels")
            if levels is not None and (isinstance(levels, bool) or not isinstance(levels, int) or levels < 2):
                raise self.err(f"{where}: levels = {levels!r} must be an integer >= 2")
            return Factor(name=name, kind="timing", dist="uniform", params={"min": float(lo), "max": float(hi)},
                          levels=levels, integer=True, periods=periods)
        n = one(value)
        return timing.period_label(n) if periods else n

    def package(self, value: Any, presets: Mapping[str, sim.Preset]) -> Factor:
        keys = list(presets)
        if value == "all":
            value = keys
        if not isinstance(value, list) or not value:
            raise self.err(
                f'[levers] package: give a non-empty list of preset keys or "all". Presets: {", ".join(keys)}')
        for v in value:
            if v not in presets:
                raise self.err(f"[levers] package: {v!r} is not a preset in configs/presets.toml or a [packages] "
                               f"table of this spec.{_suggest(str(v), keys)}")
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
            vals = tuple(p.check(v, where) for v in value)  # parse_spec names the file
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
        cross = self.cross(t, kind, factors)
        if kind == "full_factorial":
            if "samples" in t:
                raise self.err("[design] samples: not used by full_factorial (the grid sets the size)")
            for f in factors:
                if not f.discrete and f.dist != "uniform":
                    raise self.err(
                        f"[{_SECTION_OF_KIND[f.kind]}] {f.name}: a {f.dist} distribution cannot be gridded by "
                        "full_factorial; use kind = lhs, sobol or morris, or give a uniform range or a list of values"
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
        if kind == "morris" and levels > MAX_MORRIS_LEVELS:
            raise self.err(f"[design] levels: {levels:,} is too many for a Morris grid; allowed 2-{MAX_MORRIS_LEVELS}")
        return Design(kind=kind, samples=samples, levels=levels, second_order=second, cross=cross)

    def cross(self, t: Mapping[str, Any], kind: str, factors: list[Factor]) -> tuple[str, ...]:
        """``[design] cross``: discrete factors an LHS is crossed with (every value sees the same LHS rows)."""
        if "cross" not in t:
            return ()
        value = t["cross"]
        if kind != "lhs":
            why = ("a full factorial crosses every factor already" if kind == "full_factorial" else
                   f"{kind} indices need every factor sampled")
            raise self.err(f'[design] cross: not allowed with kind = "{kind}" ({why}); only kind = "lhs" crosses '
                           "discrete factors with its samples")
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.err(f"[design] cross: {value!r} is not allowed; give a non-empty list of discrete factor "
                           'names, e.g. cross = ["package"]')
        names = [f.name for f in factors]
        discrete = [f.name for f in factors if f.discrete]
        for v in value:
            if v not in names:
                raise self.err(f"[design] cross: {v!r} is not a factor of this design.{_suggest(v, names)}")
            f = next(f for f in factors if f.name == v)
            if not f.discrete:
                raise self.err(f"[design] cross: {v!r} is a range ({f.describe()}); only discrete factors (package or "
                               f"a list of values) can be crossed. Discrete factors: {', '.join(discrete) or 'none'}")
        if len(set(value)) != len(value):
            raise self.err(f"[design] cross: {value!r} lists a factor twice")
        if len(value) == len(factors):
            raise self.err('[design] cross lists every factor, so nothing is left to sample; use kind = '
                           '"full_factorial" (or leave a factor out of cross)')
        return tuple(value)

    def check_size(self, design: Design, factors: list[Factor], replicates: int) -> None:
        """Refuse designs over :data:`MAX_RUNS` runs before anything is sampled or allocated."""
        points, key = design_size(design, factors)
        limit = f"allowed at most {MAX_RUNS:,} runs per spec"
        if replicates > MAX_RUNS:
            raise self.err(f"[experiment] replicates: {replicates:,} is too many; {limit}")
        if points > MAX_RUNS:
            raise self.err(f"{key}: the design has {points:,} points; {limit}")
        if points * replicates > MAX_RUNS:
            raise self.err(f"{key} and [experiment] replicates: {points:,} points x {replicates:,} replicates = "
                           f"{points * replicates:,} runs; {limit}")

    # ------------------------------------------------------------------ analysis options
    def analysis(self, base: sim.Config, factors: list[Factor]) -> dict[str, Any]:
        t = self.table("analysis", _ANALYSIS_KEYS)
        try:
            return check_analysis(t, [f.name for f in factors], start_year=base.start[0])
        except SpecError as exc:
            raise self.err(str(exc)) from None

    def robustness(self) -> dict[str, Any]:
        """``[robustness]`` goals / outcomes (checked by experiments.running.goals; names against the
        outcomes when the results are read). ``analyze`` judges robustness whenever a spec has it."""
        from experiments.running.goals import ExpressionError, check_options

        t = self.table("robustness")
        try:
            opts = check_options(t, "[robustness]")
        except ExpressionError as exc:
            raise self.err(str(exc)) from None
        if t and "goals" not in opts:
            raise self.err('[robustness] goals is required: analyze judges robustness against them, e.g. '
                           'goals = ["retention_3y >= 0.35", "n_national_clusters >= 1"]')
        return opts

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


def design_size(design: Design, factors: list[Factor] | tuple[Factor, ...]) -> tuple[int, str]:
    """The number of design points (exact, without sampling) and the spec key that sets it."""
    d = len(factors)
    match design.kind:
        case "full_factorial":
            n = 1
            for f in factors:
                n *= len(f.values) if f.values is not None else (f.levels or design.levels)
            return n, "[design] levels / the factors' values"
        case "lhs":
            n = design.samples or 0
            for f in factors:
                if f.name in design.cross:
                    n *= len(f.values or ())
            return n, "[design] samples x the crossed factors' values" if design.cross else "[design] samples"
        case "sobol":
            return (design.samples or 0) * (2 * d + 2 if design.second_order else d + 2), "[design] samples"
        case "morris":
            return (design.samples or 0) * (d + 1), "[design] samples"
    raise SpecError(f"unknown design {design.kind!r}")  # pragma: no cover - validated in the parser


def check_analysis(options: Mapping[str, Any], factors: list[str] | None = None,
                   start_year: int | None = None) -> dict[str, Any]:
    """Validate ``[analysis]`` options (for ``python -m experiments analyze``); raises :class:`SpecError`.

    ``factors`` (the design's factor names) and ``start_year`` enable the checks that need them.
    """
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    out = dict(options)
    for key, v in options.items():
        where = f"[analysis] {key}"
        if key not in _ANALYSIS_KEYS:
            raise SpecError(f"[analysis] unknown key {key!r}.{_suggest(key, _ANALYSIS_KEYS)}")
        if key == "by_year":
            low = start_year if start_year is not None else 1900
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or not low <= v <= 9999:
                raise SpecError(f"{where}: {v!r} is not allowed; give a year (a number) from {low} to 9999")
        elif key == "bins":
            if not is_int(v) or not 1 <= v <= MAX_BINS:
                raise SpecError(f"{where}: {v!r} is not allowed; give an integer from 1 to {MAX_BINS}")
        elif key == "max_groups":
            if not is_int(v) or not 1 <= v <= MAX_GROUPS:
                raise SpecError(f"{where}: {v!r} is not allowed; give an integer from 1 to {MAX_GROUPS}")
        elif key == "reference":
            if not isinstance(v, str) or not v:
                raise SpecError(f"{where}: {v!r} is not allowed; give a preset key, e.g. \"status_quo\"")
        elif key in ("group_by", "heatmap"):
            names = [f for f in (factors or []) if f != PACKAGE]
            shown = ", ".join(names) if names else "(no swept lever or uncertainty in this design)"
            items = [v] if key == "group_by" else v
            if key == "heatmap" and (not isinstance(v, list) or len(v) != 2 or v[0] == v[1]):
                raise SpecError(f"{where}: {v!r} is not allowed; give two different factor names. Factors: {shown}")
            for item in items:
                if not isinstance(item, str) or (factors is not None and item not in names):
                    hint = _suggest(item, names) if isinstance(item, str) and names else f" Factors: {shown}."
                    raise SpecError(f"{where}: {item!r} is not a swept factor of this design.{hint}")
        elif key == "outcomes":
            if not isinstance(v, list) or not v or not all(isinstance(o, str) and o for o in v):
                raise SpecError(f"{where}: {v!r} is not allowed; give a non-empty list of summary outcome names")
    return out


def check_stored_analysis(root: str | Path) -> None:
    """Validate the ``[analysis]`` options and ``[robustness]`` goals of the spec stored in a results
    directory (before ``analyze`` writes anything).

    Results written before these options were checked at parse time may hold bad values, and a folder
    from someone else may hold any text: a goal outside the expression grammar is refused here, in one
    line, before a table or figure is written (it is never evaluated as code either way).
    """
    spec_file = Path(root) / "spec.toml"
    if not spec_file.is_file():
        return
    try:
        raw = tomllib.loads(read_config_text(spec_file, "spec file"))
    except ConfigError as exc:
        raise SpecError(str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{spec_file}: not valid TOML: {exc}") from None
    options = raw.get("analysis", {})
    if not isinstance(options, Mapping):
        raise SpecError(f"{spec_file}: [analysis] must be a table")
    try:
        check_analysis(options)
    except SpecError as exc:
        raise SpecError(f"{spec_file}: {exc}") from None
    robustness = raw.get("robustness", {})
    if not isinstance(robustness, Mapping):
        raise SpecError(f"{spec_file}: [robustness] must be a table")
    from experiments.running.goals import ExpressionError, check_options

    try:
        check_options(robustness, "[robustness]")
    except ExpressionError as exc:
        raise SpecError(f"{spec_file}: {exc}") from None


def _with_levels(f: Factor, levels: int) -> Factor:
    return dataclasses.replace(f, levels=levels)
