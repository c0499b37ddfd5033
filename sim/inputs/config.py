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
_PARAM_FIELDS = {"value", "unit", "min", "max", "source", "label_en", "label_zh", "group"}


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
            if name in schema:
                raise ConfigError(f"{where}: name {name!r} is already defined in [{schema[name].kind}]")
            p = Parameter(
                name=name, kind=kind, default=spec["value"], unit=spec["unit"], low=spec["min"],
                high=spec["max"], source=spec["source"], label_en=spec["label_en"],
                label_zh=spec["label_zh"], group=spec.get("group"),
            )
            if not p.low <= p.high:
                raise ConfigError(f"{where}: min {p.low} is above max {p.high}")
            p.check(p.default, f"{where} value")
            schema[name] = p
    return schema


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


def parse_quarter(text: str) -> tuple[int, int]:
    """``"2025Q1"`` -> ``(2025, 1)``; raises ConfigError otherwise."""
    m = _QUARTER.match(text) if isinstance(text, str) else None
    if not m:
        raise ConfigError(f"[scenario] start: {text!r} is not a quarter like '2025Q1'")
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
        """A new config with some parameter values (flat ``{name: value}``) and/or scenario settings changed."""
        values = dict(self.values)
        for name, value in (overrides or {}).items():
            if name not in self.schema:
                raise ConfigError(f"unknown parameter {name!r}.{_suggest(name, list(self.schema))}")
            values[name] = self.schema[name].check(value, name)
        settings = _check_scenario({**self.scenario, **scenario})
        return Config(scenario=settings, values=values, schema=self.schema, city=self.city)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready resolved config (scenario settings and every value)."""
        return {"scenario": dict(self.scenario), "values": dict(self.values)}

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
