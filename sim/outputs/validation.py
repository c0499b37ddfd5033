"""Validation: patterns the calibration fit never saw, measured on status-quo runs.

Checks, sources and bands live in ``configs/validation.toml``, in two kinds:

* ``[stylised.*]``  stylised facts of industrial dynamics, measured on the firm panel
  (``ScenarioResult.firms``, ``record="all+firms"``): firm growth rates Laplace-like, growth
  volatility falling with size, a heavy right tail of firm sizes that does not drift apart, exit hazard
  falling with age after the first years, persistent productivity differences, R&D participation and
  intensity.
* ``[trends.*]``    held-out trends: the status quo's first ``trend_years`` years against recent
  observed trends (above-scale value added, wages, little giants, R&D intensity). A trend the model has
  no counterpart for is a row with ``no_counterpart = "why"``: reported, never silently dropped.

Each check names one *statistic* of :data:`STATISTICS` (a function of one run's tables), its source
with an address, its band and why that band. No statistic may also be a row of
``configs/calibration.toml`` (the loader refuses it; ``tests/test_validation.py`` checks the committed
files): validation is only evidence if the fit never saw it.

A check's model value is the distribution of its statistic over runs: seeds of the baseline, or
posterior draws x seeds (``--posterior``). It **passes when the median over runs lies inside the
band**; the 5-95% interval and the share of runs inside the band are reported beside it, so a pass
carried by a few runs is visible. ``python -m sim validate`` prints the table and exits 0 only when
every check with a model counterpart passes.

This module only measures and formats; the command line is :mod:`sim.outputs.cli`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.inputs.base import CONFIG_DIR, ConfigError
from sim.inputs.config import Config, load_config

VALIDATION_FILE = CONFIG_DIR / "validation.toml"
SECTIONS = {"stylised": "stylised fact", "trends": "held-out trend"}
QUANTILES = (0.05, 0.5, 0.95)  # the interval shown beside each median
# The model's closest analogue of a narrowly defined industry (the literature's 3- or 4-digit sector):
# firms of one cluster in one chain segment. Growth and productivity are compared within it, by year.
INDUSTRY = ["cluster", "segment"]


# ------------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class Settings:
    """``[settings]`` of validation.toml: the default sample and the statistics' tuning constants."""

    seeds: int = 2            # seeds per baseline run set, or per posterior draw
    draws: int = 8            # posterior draws with --posterior
    trend_years: int = 5      # held-out trends: the status quo's first N model years
    size_bins: int = 8        # growth volatility vs size: equal-count bins of start-of-year size
    tail_share: float = 0.10  # size tail: the Hill estimator uses the largest share of firms
    min_group: int = 10       # productivity: (cluster, year) groups with fewer firms are left out
    young_age: float = 2.0    # exit hazard: ages (years) below this are a firm's first two years
    old_age: float = 7.0      # exit hazard: ages from this on are after a firm's seventh year


_SETTING_RULES: dict[str, tuple[type, float, float, str]] = {
    "seeds": (int, 1, 1000, "an integer 1-1000"),
    "draws": (int, 1, 10000, "an integer 1-10000"),
    "trend_years": (int, 1, 50, "an integer 1-50"),
    "size_bins": (int, 3, 100, "an integer 3-100"),
    "tail_share": (float, 0.01, 0.5, "a number 0.01-0.5"),
    "min_group": (int, 3, 10000, "an integer 3-10000"),
    "young_age": (float, 0.5, 10.0, "a number of years 0.5-10"),
    "old_age": (float, 1.0, 50.0, "a number of years 1-50, above young_age"),
}


# ------------------------------------------------------------------------------------------------ statistics
# Pure functions on arrays (tested on synthetic data with known answers), then one function per
# statistic that reads a run's tables.


def subbotin_shape(x: np.ndarray) -> float:
    """Shape ``b`` of the Subbotin (exponential-power, scipy's ``gennorm``) law fitted to ``x`` by maximum
    likelihood: 1 = Laplace (Bottazzi & Secchi's firm growth rates), 2 = Gaussian. NaN below 30 values."""
    from scipy import stats

    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size < 30 or np.ptp(x) == 0:
        return float("nan")
    return float(stats.gennorm.fit(x)[0])


def volatility_size_slope(log_size: np.ndarray, growth: np.ndarray, bins: int) -> float:
    """``beta`` of sd(growth) ~ size^-beta: minus the OLS slope of log sd(growth) on mean log size over
    ``bins`` equal-count size bins (Stanley et al. 1996's method). NaN with too few firms per bin."""
    s, g = np.asarray(log_size, float), np.asarray(growth, float)
    ok = np.isfinite(s) & np.isfinite(g)
    s, g = s[ok], g[ok]
    if s.size < 5 * bins:
        return float("nan")
    order = np.argsort(s, kind="stable")
    parts = np.array_split(order, bins)
    x = np.array([s[p].mean() for p in parts])
    y = np.log(np.array([g[p].std(ddof=1) for p in parts]))
    if not np.all(np.isfinite(y)) or np.ptp(x) == 0:
        return float("nan")
    return float(-np.polyfit(x, y, 1)[0])


def hill_exponent(x: np.ndarray, share: float) -> float:
    """Hill estimate of the Pareto tail exponent ``alpha`` (P(X > x) ~ x^-alpha) from the largest
    ``share`` of the positive values of ``x`` (Zipf's law: alpha = 1). NaN below 10 tail values."""
    x = np.sort(np.asarray(x, float)[np.asarray(x, float) > 0])[::-1]
    k = int(math.ceil(share * x.size))
    if k < 10 or k >= x.size:
        return float("nan")
    logs = np.log(x[:k]) - np.log(x[k])
    return float(k / logs.sum()) if logs.sum() > 0 else float("nan")


def log_range_90_10(x: np.ndarray) -> float:
    """90th minus 10th percentile of ``x`` (a log quantity: the log of the 90/10 ratio)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(np.subtract(*np.quantile(x, [0.9, 0.1]))) if x.size >= 2 else float("nan")


def ar1_slope(x0: np.ndarray, x1: np.ndarray) -> float:
    """OLS slope of ``x1`` on ``x0`` (the one-year autoregressive coefficient of a persistent quantity)."""
    x0, x1 = np.asarray(x0, float), np.asarray(x1, float)
    ok = np.isfinite(x0) & np.isfinite(x1)
    x0, x1 = x0[ok], x1[ok]
    if x0.size < 3 or np.var(x0) == 0:
        return float("nan")
    return float(np.cov(x0, x1)[0, 1] / np.var(x0, ddof=1))


def yearly_rate(start: float, end: float, years: float) -> float:
    """Compound yearly growth rate from ``start`` to ``end`` over ``years`` (NaN when not both positive)."""
    if not (start > 0 and end > 0 and years > 0):
        return float("nan")
    return float((end / start) ** (1.0 / years) - 1.0)


@dataclass(frozen=True)
class RunTables:
    """What the statistics read of one run: the firm panel, the city and cluster tables, the horizon."""

    firms: pd.DataFrame
    city: pd.DataFrame
    clusters: pd.DataFrame
    quarters: int

    @classmethod
    def of(cls, result) -> RunTables:
        """From a :class:`sim.state.records.ScenarioResult` recorded with ``record="all+firms"``."""
        return cls(firms=result.firms, city=result.city, clusters=result.clusters, quarters=int(result.config.quarters))

    def window_years(self, s: Settings) -> int:
        """Model years of the held-out trends: ``trend_years``, or fewer when the horizon is shorter."""
        return min(s.trend_years, self.quarters // 4)

    def alive(self) -> pd.DataFrame:
        """Alive firm rows at whole model years (quarters 0, 4, 8, ...)."""
        p = self.firms
        return p[p["alive"] & (p["quarter"] % 4 == 0)]


def year_pairs(run: RunTables, column: str) -> pd.DataFrame:
    """Firms alive at two consecutive model years: ``id, quarter`` (the first), the :data:`INDUSTRY`
    columns at the first, ``x0`` and ``x1`` (``column`` at both)."""
    a = run.alive()[["id", "quarter", *INDUSTRY, column]]
    nxt = a[["id", "quarter", column]].assign(quarter=a["quarter"] - 4)
    return a.merge(nxt, on=["id", "quarter"], suffixes=("_0", "_1")).rename(
        columns={f"{column}_0": "x0", f"{column}_1": "x1"})


def _growth(run: RunTables) -> pd.DataFrame:
    """Yearly log growth of sales, minus its (industry, year) mean (Bottazzi & Secchi's normalisation:
    sector-wide shocks removed), with the log of start-of-year sales."""
    d = year_pairs(run, "sales")
    d = d[(d["x0"] > 0) & (d["x1"] > 0)]
    g = np.log(d["x1"].to_numpy()) - np.log(d["x0"].to_numpy())
    d = d.assign(g=g, log_size=np.log(d["x0"].to_numpy()))
    return d.assign(g=d["g"] - d.groupby([*INDUSTRY, "quarter"])["g"].transform("mean"))


def growth_subbotin_b(run: RunTables, s: Settings) -> float:
    """Subbotin shape of firms' normalised yearly sales growth, pooled over the run's years."""
    return subbotin_shape(_growth(run)["g"].to_numpy())


def growth_volatility_size_beta(run: RunTables, s: Settings) -> float:
    """``beta`` of sd(sales growth) ~ sales^-beta over ``size_bins`` bins of start-of-year sales."""
    d = _growth(run)
    return volatility_size_slope(d["log_size"].to_numpy(), d["g"].to_numpy(), s.size_bins)


def _employees_at(run: RunTables, quarter: int) -> np.ndarray:
    a = run.alive()
    return a.loc[a["quarter"] == quarter, "employees"].to_numpy(float)


def size_tail_exponent(run: RunTables, s: Settings) -> float:
    """Hill tail exponent of firms' employment at the last whole model year (largest ``tail_share``)."""
    last = int(run.alive()["quarter"].max())
    return hill_exponent(_employees_at(run, last), s.tail_share)


def size_dispersion_drift(run: RunTables, s: Settings) -> float:
    """sd of log employment at the last whole model year / at the start (1 = the spread does not drift;
    NaN for a horizon shorter than a year)."""
    last = int(run.alive()["quarter"].max())
    if last == 0:
        return float("nan")
    sd = [np.std(np.log(x[x > 0]), ddof=1) for x in (_employees_at(run, 0), _employees_at(run, last))]
    return float(sd[1] / sd[0]) if sd[0] > 0 else float("nan")


def exit_hazards(panel: pd.DataFrame, young_age: float, old_age: float) -> tuple[float, float, float]:
    """Yearly exit hazard of firms aged below ``young_age``, from ``young_age`` to below ``old_age``, and
    ``old_age`` on: exits in a model year / firms with a row that year (alive at its end or exited in it;
    age at the row). The start state (quarter 0) has no exits and is left out."""
    p = panel[panel["quarter"] > 0]
    age, exited = p["age"].to_numpy(float), ~p["alive"].to_numpy(bool)
    out = []
    for mask in (age < young_age, (age >= young_age) & (age < old_age), age >= old_age):
        out.append(float(exited[mask].mean()) if mask.any() else float("nan"))
    return out[0], out[1], out[2]


def exit_hazard_old_over_mid(run: RunTables, s: Settings) -> float:
    """Exit hazard after a firm's seventh year / in its third to seventh years (< 1: falls with age)."""
    _, mid, old = exit_hazards(run.firms, s.young_age, s.old_age)
    return old / mid if mid > 0 else float("nan")


def exit_hazard_young_over_mid(run: RunTables, s: Settings) -> float:
    """Exit hazard in a firm's first two years / in its third to seventh years (< 1: the hazard first
    rises, an inverted U)."""
    young, mid, _ = exit_hazards(run.firms, s.young_age, s.old_age)
    return young / mid if mid > 0 else float("nan")


def _log_productivity(run: RunTables) -> pd.DataFrame:
    """log(value added per employee, yuan/person/yr) of the alive firms with positive value added and staff,
    at whole model years: ``id, quarter, cluster, lp``. Value added per employee stands in for TFP: the
    model has no capital stock."""
    a = run.alive()
    a = a[(a["value_added"] > 0) & (a["employees"] > 0)]
    lp = np.log(a["value_added"].to_numpy() / a["employees"].to_numpy())
    return a[["id", "quarter", *INDUSTRY]].assign(lp=lp)


def productivity_dispersion_90_10(run: RunTables, s: Settings) -> float:
    """log of the 90/10 ratio of value added per employee within an industry (:data:`INDUSTRY`) and year,
    averaged over the (industry, year) groups of at least ``min_group`` firms weighted by their firms."""
    d = _log_productivity(run)
    spans, weights = [], []
    for _, grp in d.groupby([*INDUSTRY, "quarter"]):
        if len(grp) >= s.min_group:
            spans.append(log_range_90_10(grp["lp"].to_numpy()))
            weights.append(len(grp))
    return float(np.average(spans, weights=weights)) if spans else float("nan")


def productivity_persistence(run: RunTables, s: Settings) -> float:
    """One-year autoregressive coefficient of firms' log value added per employee, each (industry, year)
    mean removed."""
    d = _log_productivity(run)
    d = d.assign(lp=d["lp"] - d.groupby([*INDUSTRY, "quarter"])["lp"].transform("mean"))
    nxt = d[["id", "quarter", "lp"]].assign(quarter=d["quarter"] - 4)
    m = d.merge(nxt, on=["id", "quarter"], suffixes=("_0", "_1"))
    return ar1_slope(m["lp_0"].to_numpy(), m["lp_1"].to_numpy())


def _window_rows(run: RunTables, s: Settings) -> pd.DataFrame:
    """Alive firms at the end of the trend window (none for a horizon shorter than a year)."""
    a = run.alive()
    years = run.window_years(s)
    return a[a["quarter"] == 4 * years] if years > 0 else a.iloc[:0]


def rd_participation_above_scale(run: RunTables, s: Settings) -> float:
    """Share of alive above-scale firms spending on R&D at the end of the trend window."""
    a = _window_rows(run, s)
    a = a[a["above_scale"]]
    return float((a["rd_spend"] > 0).mean()) if len(a) else float("nan")


def little_giant_rd_intensity(run: RunTables, s: Settings) -> float:
    """Mean R&D / sales of the alive little giants at the end of the trend window."""
    a = _window_rows(run, s)
    a = a[a["little_giant"] & (a["sales"] > 0)]
    return float((a["rd_spend"] / a["sales"]).mean()) if len(a) else float("nan")


def above_scale_va_growth(run: RunTables, s: Settings) -> float:
    """Yearly growth of above-scale value added over the trend window, chain-linked as the statistics
    bureaus do (按可比口径): each year, the firms above scale at its end against their own value added a
    year earlier; the geometric mean of the yearly ratios, minus 1. Model money is real (2021 yuan), so
    this compares with growth at comparable prices."""
    years = run.window_years(s)
    a = run.alive()
    ratios = []
    for k in range(years):
        now = a[(a["quarter"] == 4 * (k + 1)) & a["above_scale"]][["id", "value_added"]]
        before = a[a["quarter"] == 4 * k][["id", "value_added"]]
        m = now.merge(before, on="id", suffixes=("_1", "_0"))
        den = m["value_added_0"].sum()
        ratios.append(m["value_added_1"].sum() / den if den > 0 else np.nan)
    r = np.array(ratios, float)
    return float(np.exp(np.mean(np.log(r))) - 1.0) if r.size and np.all(r > 0) else float("nan")


def real_wage_growth(run: RunTables, s: Settings) -> float:
    """Yearly growth of the average wage (wage bill / employment, real) from the first model year to the
    last year of the trend window (each year: the mean of its four quarters)."""
    years = run.window_years(s)
    c = run.city
    c = c[c["quarter"] > 0]  # quarter 0 (the start state) has no flows
    w = (c["wage_bill"] / c["employment"].where(c["employment"] > 0)).to_numpy(float)
    q = c["quarter"].to_numpy()
    first, last = w[(q >= 1) & (q <= 4)], w[(q > 4 * (years - 1)) & (q <= 4 * years)]
    if years < 2 or first.size == 0 or last.size == 0:
        return float("nan")
    return yearly_rate(float(np.mean(first)), float(np.mean(last)), years - 1)


def little_giant_count_ratio(run: RunTables, s: Settings) -> float:
    """National little giants at the end of the trend window / at the start (all clusters)."""
    years = run.window_years(s)
    by_q = run.clusters.groupby("quarter")["little_giants"].sum()
    start, end = float(by_q.get(0, np.nan)), float(by_q.get(4 * years, np.nan))
    return end / start if start > 0 and years > 0 else float("nan")


def rd_intensity_growth(run: RunTables, s: Settings) -> float:
    """Yearly relative growth of firms' R&D intensity (all alive firms' R&D / sales) over the trend window."""
    a = run.alive()
    years = run.window_years(s)

    def intensity(q: int) -> float:
        r = a[a["quarter"] == q]
        return r["rd_spend"].sum() / r["sales"].sum() if r["sales"].sum() > 0 else float("nan")

    return yearly_rate(intensity(0), intensity(4 * years), years)


@dataclass(frozen=True)
class Statistic:
    """One validation statistic: ``fn(run, settings) -> float`` and the unit it is in."""

    fn: Callable[[RunTables, Settings], float]
    unit: str

    @property
    def doc(self) -> str:
        return " ".join((self.fn.__doc__ or "").split())


STATISTICS: dict[str, Statistic] = {
    "growth_subbotin_b": Statistic(growth_subbotin_b, "Subbotin shape b"),
    "growth_volatility_size_beta": Statistic(growth_volatility_size_beta, "beta"),
    "size_tail_exponent": Statistic(size_tail_exponent, "Pareto alpha"),
    "size_dispersion_drift": Statistic(size_dispersion_drift, "ratio"),
    "exit_hazard_old_over_mid": Statistic(exit_hazard_old_over_mid, "ratio"),
    "exit_hazard_young_over_mid": Statistic(exit_hazard_young_over_mid, "ratio"),
    "productivity_dispersion_90_10": Statistic(productivity_dispersion_90_10, "log points"),
    "productivity_persistence": Statistic(productivity_persistence, "AR(1) coefficient"),
    "rd_participation_above_scale": Statistic(rd_participation_above_scale, "share"),
    "little_giant_rd_intensity": Statistic(little_giant_rd_intensity, "R&D / sales"),
    "above_scale_va_growth": Statistic(above_scale_va_growth, "per year"),
    "real_wage_growth": Statistic(real_wage_growth, "per year"),
    "little_giant_count_ratio": Statistic(little_giant_count_ratio, "ratio"),
    "rd_intensity_growth": Statistic(rd_intensity_growth, "per year"),
}


def measure(run: RunTables, names, settings: Settings) -> dict[str, float]:
    """The named statistics of one run (NaN where a statistic cannot be computed, e.g. too few firms)."""
    out = {}
    for name in names:
        try:
            value = float(STATISTICS[name].fn(run, settings))
        except (ValueError, ZeroDivisionError, FloatingPointError):
            value = float("nan")
        out[name] = value
    return out


# ------------------------------------------------------------------------------------------------ the spec


_CHECK_KEYS = {"label": str, "statistic": str, "low": (int, float), "high": (int, float), "source": str,
               "band_reason": str, "observed": (int, float), "unit": str, "no_counterpart": str, "input": str}
_MODEL_CHECK = ("label", "statistic", "low", "high", "source", "band_reason")
_NO_COUNTERPART = ("label", "source", "no_counterpart")


def calibration_statistics() -> set[str]:
    """Every row name of ``configs/calibration.toml`` (set-up checks and targets): what the fit saw."""
    from sim.outputs.calibration import load_targets

    spec = load_targets()
    return set(spec.get("checks", {})) | set(spec.get("targets", {}))


def load_spec(path: str | Path | None = None) -> dict[str, Any]:
    """Read and check a validation TOML (default ``configs/validation.toml``).

    Returns ``{"settings": Settings, "checks": {(section, name): dict}}``. Raises :class:`ConfigError`
    (one line: file, the check, the key, the value and what is allowed) on an unknown section or key, a
    missing or mistyped key, a band with low >= high, a statistic that is not in :data:`STATISTICS` or
    is a calibration row, a source without an address (http... or doi), or a ``no_counterpart`` row that
    names a statistic or band.
    """
    path = Path(path) if path is not None else VALIDATION_FILE
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no validation file here") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML file ({' '.join(str(exc).split())})") from None
    where = str(path)
    unknown = sorted(set(raw) - {"settings", *SECTIONS})
    if unknown:
        raise ConfigError(f"{where}: unknown section [{unknown[0]}]; allowed: [settings], "
                          + ", ".join(f"[{s}.<name>]" for s in SECTIONS))
    settings = _settings(raw.get("settings", {}), where)
    seen = calibration_statistics()
    checks: dict[tuple[str, str], dict] = {}
    used: dict[str, str] = {}
    for section in SECTIONS:
        table = raw.get(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [{section}] must hold tables [{section}.<name>], got {type(table).__name__}")
        for name, row in table.items():
            at = f"{where}: [{section}.{name}]"
            if not isinstance(row, dict):
                raise ConfigError(f"{at} must be a table of keys, got {type(row).__name__} {row!r}")
            checks[(section, name)] = _check_row(row, at, seen)
            stat = row.get("statistic")
            if stat is not None:
                if stat in used:
                    raise ConfigError(f"{at} statistic {stat!r} is already checked by [{used[stat]}]; one row per statistic")
                used[stat] = f"{section}.{name}"
    if not checks:
        raise ConfigError(f"{where}: holds no checks; add [stylised.<name>] or [trends.<name>] tables")
    return {"settings": settings, "checks": checks, "path": path}


def _settings(table: Any, where: str) -> Settings:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [settings] must be a table, got {type(table).__name__}")
    values = {}
    for key, value in table.items():
        rule = _SETTING_RULES.get(key)
        if rule is None:
            raise ConfigError(f"{where}: [settings] unknown key {key!r}; allowed: {', '.join(_SETTING_RULES)}")
        kind, low, high, shown = rule
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (kind is float or isinstance(value, int))
        if not ok or not low <= value <= high:
            raise ConfigError(f"{where}: [settings] {key} = {value!r}; allowed: {shown}")
        values[key] = kind(value)
    s = Settings(**values)
    if s.old_age <= s.young_age:
        raise ConfigError(f"{where}: [settings] old_age = {s.old_age} must be above young_age = {s.young_age}")
    return s


def _check_row(row: dict, at: str, calibration: set[str]) -> dict:
    for key, value in row.items():
        kind = _CHECK_KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{at} unknown key {key!r}; allowed: {', '.join(_CHECK_KEYS)}")
        if isinstance(value, bool) or not isinstance(value, kind):
            shown = "a number" if kind == (int, float) else "a text"
            raise ConfigError(f"{at} {key} = {value!r}; allowed: {shown}")
    need = _NO_COUNTERPART if "no_counterpart" in row else _MODEL_CHECK
    if missing := [k for k in need if k not in row]:
        raise ConfigError(f"{at} lacks {', '.join(missing)}; a check needs {', '.join(need)}")
    if not any(tag in row["source"] for tag in ("http://", "https://", "doi.org/")):
        raise ConfigError(f"{at} source {row['source'][:60]!r}... names no address; give the figure's "
                          "http(s) address or DOI")
    if "no_counterpart" in row:
        if extra := [k for k in ("statistic", "low", "high") if k in row]:
            raise ConfigError(f"{at} is marked no_counterpart but names {', '.join(extra)}; a row either "
                              "has a model statistic and band, or says why the model has none")
        return dict(row)
    stat = row["statistic"]
    if stat not in STATISTICS:
        raise ConfigError(f"{at} statistic = {stat!r} is not a validation statistic; allowed: {', '.join(STATISTICS)}")
    if stat in calibration:
        raise ConfigError(f"{at} statistic = {stat!r} is a row of configs/calibration.toml: validation may only "
                          "use statistics the fit never saw")
    if not row["low"] < row["high"]:
        raise ConfigError(f"{at} band low = {row['low']} must be below high = {row['high']}")
    return dict(row)


# ------------------------------------------------------------------------------------------------ runs


def validation_runs(spec: dict, config: Config | None = None, post=None, draws: int | None = None,
                    seeds: int | None = None, quarters: int | None = None,
                    progress: Callable[[], None] | None = None) -> pd.DataFrame:
    """One row per status-quo run (``draw``, ``particle``, ``seed`` and every statistic the spec checks).

    Without ``post``: ``seeds`` runs of ``config`` (seeds 1..K). With a
    :class:`sim.outputs.posterior.Posterior`: ``draws`` draws (systematic resampling, seed 1) x ``seeds``
    fresh seeds each (:func:`sim.outputs.calibration.draw_seed`), so the interval holds parameter and
    stochastic uncertainty.
    """
    from sim.outputs.calibration import draw_seed
    from sim.scenario import run_scenario

    s: Settings = spec["settings"]
    base = config or load_config()
    names = [c["statistic"] for c in spec["checks"].values() if "statistic" in c]
    k = seeds or s.seeds
    jobs: list[tuple[int, int, dict, int]] = []
    if post is None:
        jobs = [(-1, -1, {}, seed) for seed in range(1, k + 1)]
    else:
        table = post.draws(draws or s.draws, seed=1)
        for i, row in table.iterrows():
            params = {p: float(row[p]) for p in post.parameters}
            jobs += [(int(i), int(row["particle"]), params, draw_seed(rep, int(i))) for rep in range(1, k + 1)]
    rows = []
    for draw, particle, params, seed in jobs:
        cfg = base.with_overrides(params) if params else base
        result = run_scenario(cfg, seed=seed, quarters=quarters, record="all+firms")
        rows.append({"draw": draw, "particle": particle, "seed": seed,
                     **measure(RunTables.of(result), names, s)})
        if progress:
            progress()
    return pd.DataFrame(rows)


def validation_table(spec: dict, runs: pd.DataFrame) -> pd.DataFrame:
    """Per check: band, the model's median and 5-95% interval over ``runs``, the share of runs in the band,
    and ``pass`` (the median lies in the band; None for a no-counterpart row)."""
    rows = []
    for (section, name), c in spec["checks"].items():
        row = {"kind": SECTIONS[section], "check": name, "label": c["label"], "statistic": c.get("statistic", ""),
               "unit": c.get("unit", STATISTICS[c["statistic"]].unit if "statistic" in c else ""),
               "observed": c.get("observed", np.nan), "low": c.get("low", np.nan), "high": c.get("high", np.nan),
               "p05": np.nan, "median": np.nan, "p95": np.nan, "in_band": np.nan, "n_runs": 0, "pass": None,
               "source": c["source"], "band_reason": c.get("band_reason", ""), "no_counterpart": c.get("no_counterpart", ""),
               "input": c.get("input", "")}
        if "statistic" in c:
            x = runs[c["statistic"]].to_numpy(float) if c["statistic"] in runs else np.array([])
            x = x[np.isfinite(x)]
            if x.size:
                row["p05"], row["median"], row["p95"] = (float(v) for v in np.quantile(x, QUANTILES))
                row["in_band"] = float(np.mean((x >= c["low"]) & (x <= c["high"])))
            row["n_runs"] = int(x.size)
            row["pass"] = bool(x.size and c["low"] <= row["median"] <= c["high"])
        rows.append(row)
    return pd.DataFrame(rows)


def all_pass(table: pd.DataFrame) -> bool:
    """Every check with a model counterpart passes (no-counterpart rows are reported, not counted)."""
    model = table[table["statistic"] != ""]
    return bool(len(model) and model["pass"].all())


# ------------------------------------------------------------------------------------------------ report


def _num(v: float) -> str:
    if not np.isfinite(v):
        return "n/a"
    return f"{v:.3g}" if abs(v) >= 0.01 or v == 0 else f"{v:.2e}"


def markdown(table: pd.DataFrame, sample: str) -> str:
    """The validation section of a report: one row per check (model median and 5-95% interval, band, the
    share of runs in the band, pass), the sources with addresses, the no-counterpart rows, and ``sample``
    (what was run)."""
    model = table[table["statistic"] != ""]
    n_pass = int(model["pass"].sum())
    lines = ["## Validation: patterns the fit never saw (验证：拟合未使用的规律)", "",
             f"{sample}. A check passes when the median over runs lies inside its band; the interval is the "
             f"5-95% range over runs. **{n_pass} of {len(model)} checks pass**"
             + ("." if n_pass == len(model) else f"; {len(model) - n_pass} fail (reported, bands not moved)."),
             "None of these statistics is a calibration target or set-up check (`configs/validation.toml`, "
             "checked by `tests/test_validation.py`).", "",
             "| kind | check | observed | model median [5-95%] | band | runs in band | pass |",
             "|---|---|---|---|---|---|---|"]
    for _, r in model.iterrows():
        mark = " †" if r["input"] else ""
        lines.append(f"| {r['kind']} | {r['label']}{mark} | {_num(r['observed'])} | {_num(r['median'])} [{_num(r['p05'])}, {_num(r['p95'])}] | "
                     f"[{_num(r['low'])}, {_num(r['high'])}] | {_num(100 * r['in_band'])}% | "
                     f"{'pass' if r['pass'] else '**FAIL**'} |")
    inputs = model[model["input"] != ""]
    if len(inputs):
        lines += ["", "† Partly set by an input, so weaker evidence than the others: "
                  + "; ".join(f"*{r['label']}*: {r['input']}" for _, r in inputs.iterrows()) + "."]
    lines += ["", "Sources and why each band:", ""]
    for _, r in model.iterrows():
        lines.append(f"- *{r['label']}* (`{r['statistic']}`): {r['source']} Band: {r['band_reason']}")
    rest = table[table["statistic"] == ""]
    if len(rest):
        lines += ["", "Observed trends the model has no counterpart for (reported, not checked):", ""]
        for _, r in rest.iterrows():
            obs = f" (observed {_num(r['observed'])})" if np.isfinite(r["observed"]) else ""
            lines.append(f"- *{r['label']}*{obs}: {r['no_counterpart']} Source: {r['source']}")
    return "\n".join(lines) + "\n"
