"""Load and validate scenario configurations.

A *scenario* file (e.g. ``configs/baseline.toml``) names a start quarter, a horizon and the values of
any levers, uncertainties or facts that differ from their defaults. The defaults, units, ranges and
sources of every parameter live in ``configs/parameters.toml``; the city's structure (clusters,
districts, universities, destinations, energy index) in ``configs/city.toml``; the map raster in
``configs/map/``. Everything is checked on load: an unknown section or key, a wrong type or a value
outside its range raises :class:`ConfigError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import numbers
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.inputs.base import CONFIG_DIR, ConfigError
from sim.inputs.city import validate_city

PARAMETERS_FILE = CONFIG_DIR / "parameters.toml"
CITY_FILE = CONFIG_DIR / "city.toml"
BASELINE_FILE = CONFIG_DIR / "baseline.toml"
KINDS = ("levers", "uncertainties", "facts")
SCENARIO_KEYS = {
    "name": str,
    "description": str,
    "start": str,
    "quarters": int,
    "persons_per_agent": int,
    "map": str,
}
SCENARIO_DEFAULTS = {
    "name": "baseline",
    "description": "",
    "start": "2025Q1",
    "quarters": 40,
    "persons_per_agent": 10,
    "map": "map/qinhuangdao_2km.txt",
}
MIN_AGENTS_PER_COHORT = 10  # graduate agents per university and year the model needs (ClusterModel._check_resolution)
LEVER_GROUPS = {
    1: ("Plan & coordinate", "统筹协调"),
    2: ("Cultivate high-level industry", "培育高能级产业"),
    3: ("Extend the chain", "延链补链"),
    4: ("Digital transformation", "智改数转"),
    5: ("Gather & share factors", "集聚共享要素"),
}
_PARAM_FIELDS = {"value", "unit", "min", "max", "source", "label_en", "label_zh", "group", "cost", "channels"}
COST_KINDS = {  # how a lever's programme cost is computed (the lever's `cost` field)
    "programme": "a running cost at full strength (an uncertainty named by `parameter`) times the lever, each quarter",
    "paid": "the money paid to agents as the mechanism works (subsidies, grants, discounts)",
    "programme+paid": "both: a running cost times the lever, plus the money paid",
    "budget": "the budget, booked in full each quarter",
    "none": "no cost of its own",
}
_CHANNEL_FIELDS = {"en", "zh", "submodel"}
_CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
SCHEDULE_KEYS = ("value", "start", "end", "ramp_quarters")
# names a Mesa 2 user passes for the random seed; Mesa 3 (and ClusterModel) take ``rng=``
SEED_NAMES = ("seed",)


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for messages: a 10,000-character string or a
    300-digit number given as a value must not make a message (or a page) 10,000 characters wide."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)).bit_length() > 4 * limit:
        return f"an integer of about {int(abs(int(value)).bit_length() * 0.30103) + 1:,} digits"  # repr may refuse
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 10]}... ({len(text):,} characters)"


def _suggest(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key), allowed, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    names = ", ".join(sorted(allowed))
    return f"{hint} Allowed: {names}."


@dataclass(frozen=True)
class Channel:
    """A named mechanism through which a lever acts (``coordination.matchmaking``): what it changes for
    the agents, in English and Chinese, and the submodel that asks for it."""

    name: str
    lever: str
    en: str
    zh: str
    submodel: str


@dataclass(frozen=True)
class Schedule:
    """When a lever holds its value: from period ``start`` to ``end`` (inclusive, ``"2027Q1"``; None =
    from the scenario's start / to its end), reaching it linearly over ``ramp_quarters`` (0 = at once).
    Outside the window the lever is at its status-quo value."""

    start: str | None = None
    end: str | None = None
    ramp_quarters: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("start", self.start), ("end", self.end), ("ramp_quarters", self.ramp_quarters))
                if v not in (None, 0)}

    def window(self, scenario_start: tuple[int, int], quarters: int) -> tuple[int, int]:
        """First and last quarter index (the model's ``quarter``: 1 = the first step) the lever is on."""
        first = 1 if self.start is None else max(1, _index(self.start, scenario_start))
        last = quarters if self.end is None else _index(self.end, scenario_start)
        return first, last

    def strength(self, quarter: int, scenario_start: tuple[int, int], quarters: int) -> float:
        """0 outside the window, rising by 1 / ramp_quarters per quarter inside it up to 1."""
        first, last = self.window(scenario_start, quarters)
        if not first <= quarter <= last:
            return 0.0
        if self.ramp_quarters <= 0:
            return 1.0
        return min(1.0, (quarter - first + 1) / self.ramp_quarters)


def period_after(start: tuple[int, int], quarters: int) -> str:
    """The period ``quarters`` after ``start`` (``(2025, 1)``, 4 -> ``"2026Q1"``): the label of the
    model's quarter index ``quarters`` (its row in the tables)."""
    q = start[1] - 1 + quarters
    return f"{start[0] + q // 4}Q{q % 4 + 1}"


def _index(period: str, scenario_start: tuple[int, int]) -> int:
    """Quarters from the scenario's start period to ``period`` (the model's quarter index)."""
    y, q = parse_quarter(period, "period")
    return (y - scenario_start[0]) * 4 + (q - scenario_start[1])


@dataclass(frozen=True)
class Parameter:
    """One model input: its default, unit, allowed range, source and bilingual label."""

    name: str
    kind: str  # "levers" | "uncertainties" | "facts"
    default: float | int | bool
    unit: str
    low: float
    high: float
    source: str
    label_en: str
    label_zh: str
    group: int | None = None
    cost: Mapping[str, str] | None = None  # levers: how the programme cost is computed (COST_KINDS)
    channels: tuple[Channel, ...] = ()  # levers: the named mechanisms through which it acts

    def check(self, value: Any, where: str) -> float | int | bool:
        """Return ``value`` coerced to the parameter's type or raise ``ConfigError``."""
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: {shown(value)} is not allowed; {self.name} must be true or false")
            return value
        # any real number type (Python, numpy scalars such as np.int64 / np.float32), never a bool
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise ConfigError(
                f"{where}: {shown(value)} is not a number; {self.name} is a number in [{self.low}, {self.high}] ({self.unit})"
            )
        if value != value or not (self.low <= value <= self.high):
            raise ConfigError(
                f"{where}: {shown(value)} is out of range; allowed [{self.low}, {self.high}] ({self.unit})"
            )
        if isinstance(self.default, int):
            if value != int(value):
                raise ConfigError(f"{where}: {shown(value)} is not a whole number; {self.name} is an integer in "
                                  f"[{self.low}, {self.high}] ({self.unit})")
            return int(value)
        return float(value)


def load_schema(path: str | Path = PARAMETERS_FILE) -> dict[str, Parameter]:
    """Read ``parameters.toml`` into ``{name: Parameter}``; names are unique across kinds."""
    path = Path(path)
    raw = _read_toml(path)
    schema: dict[str, Parameter] = {}
    for kind, table in raw.items():
        if kind not in KINDS:
            raise ConfigError(f"{path.name}: unknown section [{kind}].{_suggest(kind, list(KINDS))}")
        for name, spec in table.items():
            where = f"{path.name} [{kind}.{name}]"
            unknown = set(spec) - _PARAM_FIELDS
            if unknown:
                bad = sorted(unknown)[0]
                raise ConfigError(f"{where}: unknown field {bad!r}.{_suggest(bad, sorted(_PARAM_FIELDS))}")
            missing = {"value", "unit", "min", "max", "source", "label_en", "label_zh"} - set(spec)
            if missing:
                raise ConfigError(f"{where}: missing field(s) {sorted(missing)}")
            if kind == "levers" and spec.get("group") not in LEVER_GROUPS:
                raise ConfigError(f"{where}: group {spec.get('group')!r} is not one of {sorted(LEVER_GROUPS)}")
            if kind != "levers" and {"cost", "channels"} & set(spec):
                raise ConfigError(f"{where}: only levers declare 'cost' and 'channels'")
            cost, channels = (_read_cost(spec.get("cost"), where), _read_channels(name, spec.get("channels"), where)) \
                if kind == "levers" else (None, ())
            if name in schema:
                raise ConfigError(f"{where}: name {name!r} is already defined in [{schema[name].kind}]")
            p = Parameter(
                name=name, kind=kind, default=spec["value"], unit=spec["unit"], low=spec["min"],
                high=spec["max"], source=spec["source"], label_en=spec["label_en"],
                label_zh=spec["label_zh"], group=spec.get("group"), cost=cost, channels=channels,
            )
            if not p.low <= p.high:
                raise ConfigError(f"{where}: min {p.low} is above max {p.high}")
            p.check(p.default, f"{where} value")
            schema[name] = p
    owners: dict[str, str] = {}
    for p in schema.values():
        for c in p.channels:
            if c.name in owners:
                raise ConfigError(f"{path.name} [levers.{p.name}.channels]: {c.name!r} is already a channel of "
                                  f"{owners[c.name]}")
            owners[c.name] = p.name
    for p in schema.values():
        par = (p.cost or {}).get("parameter")
        if par is not None and (par not in schema or schema[par].kind == "levers"):
            raise ConfigError(f"{path.name} [levers.{p.name}] cost parameter {par!r} is not an uncertainty or fact")
    return schema


def _read_cost(cost: Any, where: str) -> dict[str, str]:
    """A lever's ``cost = {kind, parameter?, en}`` (see :data:`COST_KINDS`)."""
    if not isinstance(cost, Mapping) or cost.get("kind") not in COST_KINDS or not isinstance(cost.get("en"), str):
        raise ConfigError(f"{where}: cost must be a table with kind (one of {', '.join(COST_KINDS)}) and en "
                          f"(how it is computed); got {shown(cost)}")
    if ("parameter" in cost) != cost["kind"].startswith("programme"):
        raise ConfigError(f"{where}: cost of kind {cost['kind']!r} " + (
            "needs 'parameter' (the uncertainty giving its running cost)" if cost["kind"].startswith("programme")
            else "takes no 'parameter'"))
    return {k: str(v) for k, v in cost.items()}


def _read_channels(lever: str, table: Any, where: str) -> tuple[Channel, ...]:
    """A lever's ``[levers.<name>.channels]``: at least one, each ``"prefix.mechanism" = {en, zh, submodel}``."""
    if not isinstance(table, Mapping) or not table:
        raise ConfigError(f"{where}: a lever declares at least one channel ([levers.{lever}.channels])")
    out = []
    for name, spec in table.items():
        if not _CHANNEL_NAME.match(name):
            raise ConfigError(f"{where} channel {name!r}: a channel is named 'prefix.mechanism' (lower case)")
        if not isinstance(spec, Mapping) or set(spec) != _CHANNEL_FIELDS or not all(isinstance(v, str) for v in spec.values()):
            raise ConfigError(f"{where} channel {name!r}: give exactly {', '.join(sorted(_CHANNEL_FIELDS))} as text")
        out.append(Channel(name=name, lever=lever, en=spec["en"], zh=spec["zh"], submodel=spec["submodel"]))
    return tuple(out)


MAX_CONFIG_BYTES = 10 * 1024 * 1024  # a scenario/spec/data TOML larger than this is refused (10 MB)


def read_config_text(path: str | Path, what: str = "config file") -> str:
    """The text of a small UTF-8 file (a scenario, spec or data TOML), or ``ConfigError`` in one line.

    Refuses an empty path, a missing or unreadable file, a directory, anything that is not a regular
    file (``/dev/zero``, a pipe) and files over :data:`MAX_CONFIG_BYTES`; reports bytes that are not
    UTF-8 with their offset. A UTF-8 byte-order mark is dropped.
    """
    if str(path) == "":
        raise ConfigError(f"{what} path is empty (''); give the path of a TOML file")
    path = Path(path)
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise ConfigError(f"{what} {str(path)!r} is a directory; give the path of a TOML file")
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{what} {str(path)!r} is not a regular file (a device, pipe or socket); "
                              "give the path of a TOML file")
        if st.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{what} {str(path)!r} is {st.st_size:,} bytes; "
                              f"allowed at most {MAX_CONFIG_BYTES:,} bytes (10 MB)")
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except OSError as exc:  # permission denied, a broken link, an I/O error
        raise ConfigError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{what} {str(path)!r} is over {MAX_CONFIG_BYTES:,} bytes; allowed at most 10 MB")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} {str(path)!r} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save it as a UTF-8 TOML file"
        ) from None


def _read_toml(path: Path) -> dict[str, Any]:
    text = read_config_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def parse_quarter(text: str, key: str = "[scenario] start") -> tuple[int, int]:
    """``"2025Q1"`` -> ``(2025, 1)``; raises ConfigError (naming ``key``) otherwise."""
    m = _QUARTER.match(text) if isinstance(text, str) else None
    if not m:
        raise ConfigError(f"{key}: {shown(text)} is not a quarter like '2025Q1'")
    return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class Config:
    """A validated scenario: settings, every parameter's value, and the city's structure.

    ``config["rd_subsidy_rate"]`` gives a parameter's value; ``config.schema`` its metadata;
    ``config.city`` the parsed ``city.toml``; ``config.scenario`` the [scenario] settings.
    Configs are immutable: :meth:`with_overrides` returns a new, validated one.
    """

    scenario: Mapping[str, Any]
    values: Mapping[str, Any]
    schema: Mapping[str, Parameter] = field(repr=False)
    city: Mapping[str, Any] = field(repr=False)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)  # lever -> when it holds its value
    channels_off: frozenset[str] = frozenset()  # channels switched off for analysis (their levers act as status quo)

    def __getitem__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise ConfigError(f"unknown parameter {name!r}.{_suggest(name, list(self.values))}") from None

    @property
    def quarters(self) -> int:
        return self.scenario["quarters"]

    @property
    def persons_per_agent(self) -> int:
        return self.scenario["persons_per_agent"]

    @property
    def start(self) -> tuple[int, int]:
        return parse_quarter(self.scenario["start"])

    def names(self, kind: str) -> list[str]:
        """Parameter names of one kind (``levers``, ``uncertainties``, ``facts``) in file order."""
        if kind not in KINDS:
            raise ConfigError(f"unknown parameter kind {kind!r}.{_suggest(kind, list(KINDS))}")
        return [n for n, p in self.schema.items() if p.kind == kind]

    def with_overrides(self, overrides: Mapping[str, Any] | None = None, **scenario: Any) -> Config:
        """A new config with some parameter values (flat ``{name: value}``) and/or scenario settings changed.

        A lever may be timed: ``{"digital_grant_budget": {"value": 1.5e8, "start": "2027Q1", "end":
        "2028Q4", "ramp_quarters": 2}}`` (a plain number: from the start for the whole run, replacing any
        schedule). ``channels_off`` (in ``overrides`` or as a keyword) lists channels to switch off.
        """
        values, schedules = dict(self.values), dict(self.schedules)
        channels_off = self.channels_off
        scenario = dict(scenario)
        if "channels_off" in scenario:
            channels_off = self._check_channels_off(scenario.pop("channels_off"))
        for name, value in (overrides or {}).items():
            if name == "channels_off":
                channels_off = self._check_channels_off(value)
                continue
            if name in SEED_NAMES:  # ClusterModel(seed=1), mesa.batch_run(..., {"seed": [...]}): Mesa 2's habit
                raise ConfigError(f"{name}={shown(value)}: a seed is not a model parameter; give Mesa 3's rng= instead: "
                                  "ClusterModel(rng=1), or mesa.batch_run(ClusterModel, parameters, rng=[1, 2, 3])")
            if name not in self.schema:
                raise ConfigError(f"unknown parameter {shown(name)}.{_suggest(name, [*self.schema, 'channels_off'])}")
            if isinstance(value, Mapping):
                if self.schema[name].kind != "levers":
                    raise ConfigError(f"{name}: {shown(value)} is not a number; only levers take a schedule "
                                      "({value, start, end, ramp_quarters})")
                values[name], sch = self._check_schedule(name, value)
                if sch == Schedule():  # only a value: the whole run, as a plain number
                    schedules.pop(name, None)
                else:
                    schedules[name] = sch
                continue
            values[name] = self.schema[name].check(value, name)
            schedules.pop(name, None)
        settings = _check_scenario({**self.scenario, **scenario})
        cfg = Config(scenario=settings, values=values, schema=self.schema, city=self.city,
                     schedules={k: schedules[k] for k in sorted(schedules)}, channels_off=channels_off)
        cfg._check_windows()
        return cfg

    def _check_schedule(self, name: str, spec: Mapping[str, Any]) -> tuple[Any, Schedule]:
        unknown = [k for k in spec if k not in SCHEDULE_KEYS]
        if unknown:
            raise ConfigError(f"{name}: unknown key {shown(unknown[0])} in its schedule.{_suggest(str(unknown[0]), list(SCHEDULE_KEYS))}")
        if "value" not in spec:
            raise ConfigError(f"{name}: a schedule needs 'value' (the lever's value inside the window)")
        value = self.schema[name].check(spec["value"], f"{name} value")
        for key in ("start", "end"):
            if key in spec:
                parse_quarter(spec[key], f"{name} {key}")
        ramp = spec.get("ramp_quarters", 0)
        if isinstance(ramp, bool) or not isinstance(ramp, int) or not 0 <= ramp <= 400:
            raise ConfigError(f"{name} ramp_quarters: {shown(ramp)} is not allowed; give a whole number of quarters 0-400")
        return value, Schedule(start=spec.get("start"), end=spec.get("end"), ramp_quarters=ramp)

    def _check_windows(self) -> None:
        """Every schedule lies within the run: start from the scenario's start, end by its last quarter,
        end not before start."""
        first, last = self.start, self.quarters
        start_label = self.scenario["start"]
        end_label = period_after(first, last)
        for name, sch in self.schedules.items():
            for key in ("start", "end"):
                period = getattr(sch, key)
                if period is None:
                    continue
                i = _index(period, first)
                if i < 0:
                    raise ConfigError(f"{name} {key}: {period!r} is before the scenario's start; allowed "
                                      f"{start_label} to {end_label}")
                if i > last:
                    raise ConfigError(f"{name} {key}: {period!r} is after the horizon; allowed {start_label} to "
                                      f"{end_label} ({last} quarters)")
            if sch.start is not None and sch.end is not None and _index(sch.end, first) < _index(sch.start, first):
                raise ConfigError(f"{name} end: {sch.end!r} is before its start {sch.start!r}")
            if sch.end is not None and _index(sch.end, first) < 1:
                first_label = period_after(first, 1)
                raise ConfigError(f"{name} end: {sch.end!r} is the start state, before the first simulated quarter "
                                  f"({first_label}); a window must end in {first_label} to {end_label}")

    def _check_channels_off(self, names: Any) -> frozenset[str]:
        allowed = [c.name for p in self.schema.values() for c in p.channels]
        if isinstance(names, str) or not isinstance(names, (list, tuple, set, frozenset)):
            raise ConfigError(f"channels_off: {shown(names)} is not a list; give channel names, e.g. "
                              "[\"coordination.planned_entry\"]")
        for n in names:
            if n not in allowed:
                raise ConfigError(f"channels_off: unknown channel {shown(n)}.{_suggest(str(n), allowed)}")
        return frozenset(names)

    def lever_at(self, name: str, quarter: int) -> Any:
        """A lever's value in quarter ``quarter`` (the model's index, 1 = first step) after its schedule."""
        value, sch = self.values[name], self.schedules.get(name)
        if sch is None:
            return value
        k = sch.strength(quarter, self.start, self.quarters)
        if k >= 1.0:
            return value
        default = self.schema[name].default
        return default if k <= 0.0 else default + (value - default) * k

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready resolved config (scenario settings and every value; schedules and channels switched
        off only when there are any, so a plain config's digest does not change)."""
        out: dict[str, Any] = {"scenario": dict(self.scenario), "values": dict(self.values)}
        if self.schedules:
            out["schedules"] = {k: s.to_dict() for k, s in self.schedules.items()}
        if self.channels_off:
            out["channels_off"] = sorted(self.channels_off)
        return out

    def digest(self) -> str:
        """A short stable hash of the resolved config and the city data (for run ids and caching)."""
        blob = json.dumps({**self.to_dict(), "city": self.city}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def changed(self) -> dict[str, Any]:
        """Parameters whose value differs from the default."""
        return {n: v for n, v in self.values.items() if v != self.schema[n].default}


def _check_scenario(settings: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(SCENARIO_DEFAULTS)
    for key, value in settings.items():
        if key not in SCENARIO_KEYS:
            raise ConfigError(f"[scenario] unknown key {shown(key)}.{_suggest(key, list(SCENARIO_KEYS))}")
        typ = SCENARIO_KEYS[key]
        if typ is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"[scenario] {key}: {shown(value)} is not an integer")
        if typ is str and not isinstance(value, str):
            raise ConfigError(f"[scenario] {key}: {shown(value)} is not a string")
        out[key] = value
    parse_quarter(out["start"])
    if not 1 <= out["quarters"] <= 400:
        raise ConfigError(f"[scenario] quarters: {shown(out['quarters'])} is out of range; allowed 1-400")
    if not 1 <= out["persons_per_agent"] <= 1000:
        raise ConfigError(
            f"[scenario] persons_per_agent: {shown(out['persons_per_agent'])} is out of range; allowed 1-1000"
        )
    maps = sorted(p.relative_to(CONFIG_DIR).as_posix() for p in (CONFIG_DIR / "map").glob("*.txt"))
    if out["map"] not in maps:  # a name from configs/map/, never a path of the user's choosing
        raise ConfigError(f"[scenario] map: {shown(out['map'])} is not one of the maps under {CONFIG_DIR}; "
                          f"allowed: {', '.join(maps)}")
    return out


_CACHE: dict[str, tuple[dict[str, Parameter], dict[str, Any]]] = {}


def _schema_and_city() -> tuple[dict[str, Parameter], dict[str, Any]]:
    if "default" not in _CACHE:
        city = _read_toml(CITY_FILE)
        validate_city(city)
        _CACHE["default"] = (load_schema(), city)
    schema, city = _CACHE["default"]
    return schema, copy.deepcopy(city)


def default_config() -> Config:
    """All defaults: the status quo, 2025Q1, 40 quarters."""
    schema, city = _schema_and_city()
    values = {n: p.default for n, p in schema.items()}
    return Config(scenario=dict(SCENARIO_DEFAULTS), values=values, schema=schema, city=city)


def config_from_dict(data: Mapping[str, Any], where: str = "config") -> Config:
    """Build a config from a parsed scenario mapping (the TOML layout: [scenario], [levers], ...)."""
    base = default_config()
    allowed_sections = ["scenario", *KINDS]
    overrides: dict[str, Any] = {}
    for section, table in data.items():
        if section not in allowed_sections:
            raise ConfigError(f"{where}: unknown section [{section}].{_suggest(section, allowed_sections)}")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: [{section}] must be a table")
        if section == "scenario":
            continue
        names = base.names(section)
        for key, value in table.items():
            if key not in names:
                raise ConfigError(f"{where}: [{section}] unknown key {shown(key)}.{_suggest(key, names)}")
            if section == "levers" and isinstance(value, Mapping):
                overrides[key] = dict(value)  # a timed lever: [levers.<name>] value, start, end, ramp_quarters
                continue
            overrides[key] = base.schema[key].check(value, f"{where}: [{section}] {key}")
    try:
        cfg = base.with_overrides(overrides, **dict(data.get("scenario", {})))
        check_resolution(cfg)
        return cfg
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def max_persons_per_agent(city: Mapping[str, Any]) -> tuple[int, str]:
    """The coarsest talent resolution the model accepts, and the university that sets it.

    The model's rule (``ClusterModel._check_resolution``): every university needs at least
    ``MIN_AGENTS_PER_COHORT`` graduate agents per year.
    """
    best, label = 1000, ""
    for key, u in city.get("universities", {}).items():
        limit = int(u["graduates"] // MIN_AGENTS_PER_COHORT)
        if limit < best:
            best, label = limit, u.get("label_en", key)
    return max(best, 1), label


def check_resolution(config: Config, key: str = "[scenario] persons_per_agent") -> None:
    """Raise ``ConfigError`` if ``persons_per_agent`` is too coarse for the model (see :func:`max_persons_per_agent`)."""
    limit, label = max_persons_per_agent(config.city)
    ppa = config.persons_per_agent
    if ppa > limit:
        raise ConfigError(
            f"{key}: {ppa!r} is too coarse ({label} would have fewer than "
            f"{MIN_AGENTS_PER_COHORT} graduate agents per year); allowed 1-{limit}"
        )


def load_config(path: str | Path | None = None) -> Config:
    """Load a scenario TOML file (default: ``configs/baseline.toml``) and validate it."""
    if path is not None and str(path) == "":
        raise ConfigError("config file path is empty (''); give a scenario TOML file, e.g. configs/baseline.toml")
    path = Path(path) if path is not None else BASELINE_FILE
    return config_from_dict(_read_toml(path), where=str(path))


def resolve_config(config: Config | str | Path | Mapping[str, Any] | None) -> Config:
    """Accept a Config, a path, a scenario mapping, or None (baseline) and return a Config."""
    if isinstance(config, Config):
        return config
    if config is None or isinstance(config, (str, Path)):
        return load_config(config)
    if isinstance(config, Mapping):
        return config_from_dict(config)
    raise ConfigError(f"config must be a Config, a path or a mapping, not {type(config).__name__}")
