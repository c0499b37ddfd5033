"""Statistics of a finished (or partly finished) sweep: confidence intervals, probabilities, costs,
sensitivity indices. Pure table work; figures are in :mod:`experiments.reading.plots`, the report in
:mod:`experiments.report`.

Runs are grouped for comparison: by design point when there are few (a policy package, a factorial
cell), else by quantile bins of one factor (``[analysis] group_by``, default the first lever).
Confidence intervals are 95%: Student t over runs for means, Wilson for probabilities. Failed runs
are counted per group and left out of the statistics; Sobol and Morris indices drop the whole
Saltelli block / Morris trajectory a failed point belongs to and say how many were dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

import sim
from experiments.running import timing
from experiments.running.design import UNIT_PREFIX
from experiments.running.runner import STATUS_FAILED, STATUS_OK
from experiments.running.spec import PACKAGE, Spec
from experiments.running.store import PLAN_COLUMNS, POSTERIOR_PREFIX, Store, factor_columns

NATIONAL_TIER = 3
# Percentile bootstrap intervals of report claims (robustness regret, parameter share): 2,000 resamples,
# as experiments.attribution, enough for stable 2.5% / 97.5% quantiles (Efron & Tibshirani 1993, ch. 19;
# they suggest at least 1,000). A fixed stream so ``analyze`` gives the same words every time it runs.
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
DEFAULT_SENSITIVITY = ("tiers_climbed_clusters", "energy_index_final_mean", "retention_3y", "outflow_beijing_total")


@dataclass
class Sweep:
    """A results directory loaded for analysis: per-run outcomes joined with the design."""

    root: Path
    name: str
    raw: Mapping[str, Any]  # the spec as TOML
    design: pd.DataFrame  # one row per (point, replicate)
    rows: pd.DataFrame  # one row per (point, replicate): design + status + summary outcomes (+ derived)
    runs: pd.DataFrame  # ``rows`` with each run once (identical points share runs, e.g. in Morris designs)
    factors: list[str]
    provenance: Mapping[str, Any]
    clusters: list[str] = field(default_factory=list)
    options: Mapping[str, Any] = field(default_factory=dict)
    periods: tuple[str, str] | None = None  # first and last period of the runs ("2025Q1", "2035Q1")
    policy_packages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # key -> labels, levers, source

    @property
    def kind(self) -> str:
        return self.raw.get("design", {}).get("kind", "full_factorial")

    @property
    def ok(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == STATUS_OK]

    def counts(self) -> dict[str, int]:
        s = self.runs["status"]
        return {"total": len(s), "done": int((s == STATUS_OK).sum()), "failed": int((s == STATUS_FAILED).sum()),
                "pending": int(s.isna().sum())}


def load_sweep(root: str | Path) -> Sweep:
    """A results directory read for the report: a :class:`Sweep` (design, runs, stored spec, provenance),
    with derived outcomes; raises FileNotFoundError if it holds no sweep. For one tidy DataFrame of the
    runs (typed, with units) use :func:`experiments.load`; this is the report's view of the same folder."""
    store = Store(root)
    if not store.exists():
        raise FileNotFoundError(
            f"{root}: no sweep here (design.parquet missing); run `python -m experiments run SPEC` first")
    raw = store.spec_raw()
    design = store.design()
    factors = factor_columns(design)
    runs = store.runs()[["run_id", "status", "error", "wall_s"]]
    summary = store.table("summary")
    df = design.merge(runs, on="run_id", how="left").merge(summary, on="run_id", how="left")
    clusters = [c.removeprefix("energy_index_final_") for c in summary.columns if c.startswith("energy_index_final_")]
    df = _derive(df, clusters, store)
    prov = store.provenance()
    name = raw.get("experiment", {}).get("name") or prov.get("experiment") or store.root.name
    return Sweep(root=store.root, name=name, raw=raw, design=design, rows=df,
                 runs=df.drop_duplicates("run_id").reset_index(drop=True), factors=factors,
                 provenance=prov, clusters=clusters, options=raw.get("analysis", {}), periods=_periods(store),
                 policy_packages=prov.get("policy_packages") or {})


def _periods(store: Store) -> tuple[str, str] | None:
    for name in ("city", "clusters", "districts"):
        df = store.table(name, columns=["quarter", "period"])
        if len(df) and "period" in df:
            first = df[df["run_id"] == df["run_id"].iloc[0]].sort_values("quarter")
            return str(first["period"].iloc[0]), str(first["period"].iloc[-1])
    return None


def _derive(df: pd.DataFrame, clusters: list[str], store: Store) -> pd.DataFrame:
    """Add outcomes computed from the stored tables (means over clusters, retained graduates)."""
    df = df.copy()
    idx = [f"energy_index_final_{c}" for c in clusters if f"energy_index_final_{c}" in df]
    if idx:
        df["energy_index_final_mean"] = df[idx].mean(axis=1)
    nat = [f"reached_national_{c}" for c in clusters if f"reached_national_{c}" in df]
    if nat:
        df["clusters_national_final"] = df[nat].astype(float).sum(axis=1).where(df["status"] == STATUS_OK)
    city = store.table("city", columns=["graduates_retained", "cohort_in_city_3y", "outflow_beijing", "outflow_tianjin"])
    if "graduates_retained" in city:
        retained = city.groupby("run_id")["graduates_retained"].sum().rename("retained_graduates")
        df = df.merge(retained, on="run_id", how="left")
    if "cohort_in_city_3y" in city:  # graduates still in the city 3 years on (cohorts old enough)
        kept = city.groupby("run_id")["cohort_in_city_3y"].sum().rename("retained_3y_graduates")
        df = df.merge(kept, on="run_id", how="left")
    return df


# ---------------------------------------------------------------------------- statistics
def mean_ci(values: Sequence[float] | pd.Series, level: float = 0.95) -> tuple[int, float, float, float]:
    """``(n, mean, low, high)``: Student-t interval of the mean (NaN bounds when n < 2)."""
    x = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
    n = x.size
    if n == 0:
        return 0, float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if n < 2:
        return n, m, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n)
    return n, m, m - half, m + half


def proportion_ci(values: Sequence[bool] | pd.Series, level: float = 0.95) -> tuple[int, float, float, float]:
    """``(n, share, low, high)``: Wilson score interval of a probability."""
    x = pd.Series(values).dropna().astype(float).to_numpy()
    n = x.size
    if n == 0:
        return 0, float("nan"), float("nan"), float("nan")
    p = float(x.mean())
    z = stats.norm.ppf(0.5 + level / 2)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if p == 0 else max(0.0, centre - half)  # exact at the ends (rounding left ~1e-17 above 0)
    high = 1.0 if p == 1 else min(1.0, centre + half)
    return n, p, low, high


def _is_bool(s: pd.Series) -> bool:
    """A yes/no outcome (bool dtype, or object dtype holding only bools after a join added NaN)."""
    if s.dtype == bool:
        return True
    v = s.dropna()
    return s.dtype == object and len(v) > 0 and all(isinstance(x, (bool, np.bool_)) for x in v)


# ---------------------------------------------------------------------------- claims
INDISTINGUISHABLE = "indistinguishable at this sample size"


class Estimate(NamedTuple):
    """A named value with its 95% interval (NaN bounds: no interval, e.g. one run)."""

    name: str
    value: float
    low: float
    high: float


def ranked(estimates: Sequence[Estimate], higher_better: bool = True) -> list[Estimate]:
    """The estimates best first (stable: equal values keep their order)."""
    return sorted(estimates, key=lambda e: -e.value if higher_better else e.value)


def clear_after(ordered: Sequence[Estimate], i: int, higher_better: bool = True) -> bool:
    """True when every interval of ``ordered[: i + 1]`` lies wholly on the better side of every interval
    after it (``ordered`` as :func:`ranked` gives it). Touching intervals, equal values and missing bounds
    are not clear: a claim that one group is better is made only when no overlap allows the opposite."""
    top, rest = ordered[: i + 1], ordered[i + 1:]
    if not top or not rest:
        return False
    bounds = [b for e in ordered for b in (e.low, e.high)]
    if not np.isfinite(bounds).all():
        return False
    if higher_better:
        return min(e.low for e in top) > max(e.high for e in rest)
    return max(e.high for e in top) < min(e.low for e in rest)


def leader(estimates: Sequence[Estimate], higher_better: bool = True) -> Estimate | None:
    """The best estimate when its interval is clear of every other's; None when any overlaps (a tie at
    this sample size) or an interval is missing."""
    ordered = ranked(estimates, higher_better)
    return ordered[0] if clear_after(ordered, 0, higher_better) else None


def contenders(estimates: Sequence[Estimate], higher_better: bool = True) -> list[Estimate]:
    """The best estimate and the next ones down to the first place the ranking is clear (all of them
    when it is never clear): the group no claim can order."""
    ordered = ranked(estimates, higher_better)
    for i in range(len(ordered) - 1):
        if clear_after(ordered, i, higher_better):
            return ordered[: i + 1]
    return ordered


def ranking_words(estimates: Sequence[Estimate], show: Callable[[Estimate], str], higher_better: bool = True) -> str:
    """``A > B ≈ C``: best first; ``>`` where everything before is clear of everything after, ``≈`` where
    intervals overlap (no order can be claimed at this sample size)."""
    ordered = ranked(estimates, higher_better)
    out = show(ordered[0]) if ordered else ""
    for i in range(1, len(ordered)):
        out += (" > " if clear_after(ordered, i - 1, higher_better) else " ≈ ") + show(ordered[i])
    return out


def with_interval(e: Estimate, fmt: Callable[[float], str]) -> str:
    """``name value [low, high]`` (``name value`` when there is no interval)."""
    if not (np.isfinite(e.low) and np.isfinite(e.high)):
        return f"{e.name} {fmt(e.value)}"
    return f"{e.name} {fmt(e.value)} [{fmt(e.low)}, {fmt(e.high)}]"


# ---------------------------------------------------------------------------- groups
def package_labels(sw: Sweep | None = None) -> dict[str, str]:
    """English label of each package: the presets of configs/presets.toml, then (with ``sw``) the packages
    the sweep recorded when it ran (``provenance.json`` ``policy_packages``: a spec's own packages)."""
    recorded = sw.policy_packages if sw is not None else {}
    return {k: p.label_en for k, p in sim.load_presets().items()} | {
        k: str(d.get("label_en", k)) for k, d in recorded.items() if isinstance(d, Mapping)}


def cluster_labels(clusters: Sequence[str]) -> dict[str, str]:
    """English (and Chinese) labels of clusters from configs/city.toml."""
    table = sim.default_config().city.get("clusters", {})
    return {c: table.get(c, {}).get("label_en", c) for c in clusters}


def cluster_labels_zh(clusters: Sequence[str]) -> dict[str, str]:
    table = sim.default_config().city.get("clusters", {})
    return {c: table.get(c, {}).get("label_zh", "") for c in clusters}


def group_runs(sw: Sweep) -> tuple[pd.Series, str, list[str]]:
    """A group label per run, what the groups are ("point" or the binned factor), and the label order."""
    max_groups = int(sw.options.get("max_groups", 12))
    points = sw.runs["point"]
    if points.nunique() <= max_groups:
        labels = point_labels(sw)
        g = points.map(labels)
        return g, "policy package" if sw.factors == [PACKAGE] else "design point", list(dict.fromkeys(labels.values()))
    factor = sw.options.get("group_by") or _first_numeric(sw)
    if factor is None:
        return pd.Series("all runs", index=sw.runs.index), "all runs", ["all runs"]
    bins = int(sw.options.get("bins", 5))
    g = binned(sw.runs[factor], bins)
    g = g.cat.rename_categories([f"{factor} {c}" for c in g.cat.categories])
    return g.astype(str), factor, [str(c) for c in g.cat.categories]


def point_labels(sw: Sweep) -> dict[int, str]:
    """Each design point's label: its factor values (``name=value``; a package by its label)."""
    first = sw.runs.drop_duplicates("point").set_index("point")
    pk = package_labels(sw)
    out = {}
    for p, row in first.iterrows():
        parts = []
        for f in sw.factors:
            v = row[f]
            parts.append(pk.get(v, v) if f == PACKAGE else f"{f}={_fmt(v)}")
        out[p] = "; ".join(parts) if parts else "base"
    return out


def _first_numeric(sw: Sweep) -> str | None:
    levers = list(sw.raw.get("levers", {}))
    numeric = [f for f in sw.factors if f != PACKAGE and pd.api.types.is_numeric_dtype(sw.runs[f])]
    for f in numeric:
        if f in levers:
            return f
    return numeric[0] if numeric else None


def numeric_factors(sw: Sweep, levers_first: bool = True) -> list[str]:
    levers = list(sw.raw.get("levers", {}))
    numeric = [f for f in sw.factors if f != PACKAGE and pd.api.types.is_numeric_dtype(sw.runs[f])
               and sw.runs[f].nunique() > 1]
    return sorted(numeric, key=lambda f: (f not in levers, numeric.index(f))) if levers_first else numeric


def binned(x: pd.Series, bins: int) -> pd.Series:
    """Quantile bins (or the distinct values if there are few) as an ordered categorical. Periods
    ("2027Q1", a timed lever's start or end) are ordered in time; their bins are labelled by the first
    and last period in them ("2026Q1–2027Q2")."""
    if _is_periods(x):
        return _binned_periods(x, bins)
    if x.nunique() <= bins:
        cats = [_fmt(v) for v in sorted(x.dropna().unique())]
        return pd.Series(pd.Categorical(x.map(_fmt), categories=cats, ordered=True), index=x.index)
    cut = pd.qcut(x, bins, duplicates="drop")
    cats = [f"{_fmt(i.left, 2)}–{_fmt(i.right, 2)}" for i in cut.cat.categories]
    return pd.Series(pd.Categorical.from_codes(cut.cat.codes, categories=cats, ordered=True), index=x.index)


def _is_periods(x: pd.Series) -> bool:
    v = x.dropna()
    return not pd.api.types.is_numeric_dtype(x) and len(v) > 0 and all(timing.is_period(p) for p in v.unique())


def _binned_periods(x: pd.Series, bins: int) -> pd.Series:
    num = x.map(lambda p: timing.period_number(p) if isinstance(p, str) else np.nan).astype(float)
    if num.nunique() <= bins:
        cats = [timing.period_label(int(n)) for n in sorted(num.dropna().unique())]
        return pd.Series(pd.Categorical(x, categories=cats, ordered=True), index=x.index)
    codes = pd.qcut(num, bins, labels=False, duplicates="drop")
    spans = num.groupby(codes).agg(["min", "max"]).sort_index()
    label = timing.period_label
    cats = [label(int(lo)) if lo == hi else f"{label(int(lo))}–{label(int(hi))}"
            for lo, hi in zip(spans["min"], spans["max"], strict=True)]
    dense = codes.map({c: i for i, c in enumerate(spans.index)}).fillna(-1).astype(int)  # empty bins dropped
    out = pd.Categorical.from_codes(dense, categories=cats, ordered=True)
    return pd.Series(out, index=x.index)


def _fmt(v: Any, digits: int = 3) -> str:
    """Short number: 3 significant digits, 亿 (1e8) and 万 (1e4) for yuan-sized values."""
    if isinstance(v, (float, np.floating)):
        a = abs(v)
        if a >= 1e8:
            return f"{_sig(v / 1e8, digits)}亿"
        if a >= 1e4:
            return f"{_sig(v / 1e4, digits)}万"
        return _sig(0.0 if a < 1e-12 else v, digits)
    return str(v)


def _sig(x: float, digits: int) -> str:
    """``digits`` significant digits without exponent notation for numbers >= 1."""
    return f"{x:,.0f}" if abs(x) >= 10**digits else f"{x:.{digits}g}"


# ---------------------------------------------------------------------------- tables
def outcome_table(sw: Sweep, outcomes: Sequence[str] | None = None) -> pd.DataFrame:
    """Long table: group x outcome -> n, mean, 95% CI low/high, failed runs of the group."""
    groups, _, order = group_runs(sw)
    df = sw.runs.assign(group=groups.values)
    if outcomes is None:
        skip = set(PLAN_COLUMNS) | set(sw.factors) | {"status", "error", "wall_s", "run_id", "group"}
        outcomes = [c for c in df.columns if c not in skip and not c.startswith((UNIT_PREFIX, POSTERIOR_PREFIX))
                    and (pd.api.types.is_numeric_dtype(df[c]) or _is_bool(df[c]))]
    rows = []
    for g in order:
        part = df[df["group"] == g]
        ok = part[part["status"] == STATUS_OK]
        failed = int((part["status"] == STATUS_FAILED).sum())
        for o in outcomes:
            if o not in ok:
                continue
            is_bool = _is_bool(ok[o])
            n, m, lo, hi = proportion_ci(ok[o]) if is_bool else mean_ci(ok[o])
            rows.append({"group": g, "outcome": o, "n": n, "mean": m, "ci_low": lo, "ci_high": hi,
                         "failed": failed, "kind": "probability" if is_bool else "mean"})
    return pd.DataFrame(rows)


def national_by_year(sw: Sweep, store: Store | None = None) -> tuple[pd.DataFrame, float]:
    """Per run and cluster: reached national tier (>= 3) at any quarter up to ``[analysis] by_year``.

    Returns (frame with run_id, cluster, reached) and the year actually used (the horizon's end if earlier).
    """
    by_year = float(sw.options.get("by_year", 2035))
    store = store or Store(sw.root)
    cl = store.table("clusters", columns=["year", "cluster", "energy_tier"])
    if len(cl) and "energy_tier" in cl:
        used = min(by_year, float(cl["year"].max()))
        sub = cl[cl["year"] <= by_year + 1e-9]
        reached = (sub.assign(nat=sub["energy_tier"] >= NATIONAL_TIER)
                   .groupby(["run_id", "cluster"], sort=False)["nat"].any().rename("reached").reset_index())
        return reached, used
    cols = {c: f"reached_national_{c}" for c in sw.clusters if f"reached_national_{c}" in sw.runs}
    long = sw.ok.melt(id_vars=["run_id"], value_vars=list(cols.values()), var_name="cluster", value_name="reached")
    long["cluster"] = long["cluster"].str.removeprefix("reached_national_")
    return long, float("nan")


def national_table(sw: Sweep) -> tuple[pd.DataFrame, float]:
    """P(cluster reaches national tier by the year) per group and cluster, with Wilson CIs."""
    reached, year = national_by_year(sw)
    groups, _, order = group_runs(sw)
    g = pd.Series(groups.values, index=sw.runs["run_id"].values)
    reached = reached.assign(group=reached["run_id"].map(g))
    rows = []
    for grp in order:
        for c in sw.clusters:
            x = reached.loc[(reached["group"] == grp) & (reached["cluster"] == c), "reached"]
            n, p, lo, hi = proportion_ci(x)
            rows.append({"group": grp, "cluster": c, "n": n, "p": p, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows), year


def trajectories(sw: Sweep, column: str = "energy_index") -> pd.DataFrame:
    """Mean and 95% CI of a cluster column by group, cluster and year."""
    store = Store(sw.root)
    cl = store.table("clusters", columns=["year", "cluster", column])
    if not len(cl) or column not in cl:
        return pd.DataFrame()
    groups, _, order = group_runs(sw)
    cl["group"] = cl["run_id"].map(pd.Series(groups.values, index=sw.runs["run_id"].values))
    agg = cl.groupby(["group", "cluster", "year"], sort=False)[column].agg(["count", "mean", "std"]).reset_index()
    t = stats.t.ppf(0.975, np.maximum(agg["count"] - 1, 1))
    half = np.where(agg["count"] > 1, t * agg["std"] / np.sqrt(agg["count"]), np.nan)
    agg["ci_low"], agg["ci_high"] = agg["mean"] - half, agg["mean"] + half
    agg["group"] = pd.Categorical(agg["group"], categories=order, ordered=True)
    return agg.sort_values(["group", "cluster", "year"]).reset_index(drop=True)


@dataclass(frozen=True)
class Need:
    """A column a report section reads: where it is recorded (``[outcomes]`` table), what it gives, the
    horizon it needs (quarters), and the cost-table columns computed from it."""

    section: str
    table: str  # "summary", "city" or "clusters"
    column: str
    gives: str
    min_quarters: int = 0
    cost_columns: tuple[str, ...] = ()


QUARTERS_3Y = 14  # the first cohort graduates in quarter 2 (July 2025), so it is 3 years on in quarter 14
COST_SECTION = "Cost-effectiveness"


def report_needs() -> tuple[Need, ...]:
    """Every column the report (``analyze``) reads beyond the design, by section."""
    from sim.behaviour.energy import COMPONENTS
    from sim.state.records import HEADLINE_OUTCOMES

    return (
        *(Need("Headline outcomes", "summary", h.name, h.en) for h in HEADLINE_OUTCOMES),
        Need(COST_SECTION, "summary", "spending_total", "the whole section", cost_columns=("spending_total",
                                                                                             "extra_spending")),
        Need(COST_SECTION, "summary", "tax_total", "extra local tax, net cost", cost_columns=("extra_tax", "net_cost")),
        Need(COST_SECTION, "city", "graduates_retained", "extra kept at graduation",
             cost_columns=("extra_retained_graduates",)),
        Need(COST_SECTION, "city", "cohort_in_city_3y", "extra kept 3 years, yuan per extra graduate kept 3 years",
             QUARTERS_3Y, cost_columns=("extra_retained_3y_graduates", "yuan_per_extra_graduate_3y")),
        Need(COST_SECTION, "summary", "tiers_climbed_clusters", "extra levels, 亿 yuan per extra level",
             cost_columns=("extra_tiers_climbed_clusters", "yuan_per_extra_level")),
        Need("Figures", "clusters", "energy_index", "the energy trajectories figure"),
        Need("Energy levels", "clusters", "energy_tier", "P(national) by the [analysis] by_year (without it: by the "
             "end of the run)"),
        *(Need("The index's sensitivity", "clusters", f"idx_{c}", "the index-weight sensitivity table")
          for c in COMPONENTS),
    )


def _kept(selection: str | Sequence[str], column: str) -> bool:
    return selection == "all" or column in selection


def report_gaps(spec: Spec) -> list[str]:
    """One line per report section (and ``[outcomes]`` table) that will lack columns with this spec's
    ``[outcomes]`` and horizon (``python -m experiments plan`` prints them before anything runs)."""
    missing: dict[tuple[str, str], list[Need]] = {}
    out = []
    for need in report_needs():
        if not _kept(spec.outcomes.columns(need.table), need.column):
            missing.setdefault((need.section, need.table), []).append(need)
        elif spec.horizon < need.min_quarters:
            out.append(f"{need.section}: `{need.column}` needs a horizon of at least {need.min_quarters} quarters "
                       f"(this spec: {spec.horizon}), so {need.gives} will show 'not measured'")
    for (section, table), needs in missing.items():
        cols = ", ".join(f"`{n.column}`" for n in needs)
        gives = "; ".join(dict.fromkeys(n.gives for n in needs))
        effect = "show 'not recorded'" if section == COST_SECTION else "be left out"
        out.append(f"{section}: [outcomes] {table} does not keep {cols}, so {gives} will {effect}; add "
                   f"{'it' if len(needs) == 1 else 'them'} to [outcomes] {table}")
    if spec.design.kind in ("sobol", "morris"):
        for o in spec.analysis.get("outcomes") or DEFAULT_SENSITIVITY:
            if not _kept(spec.outcomes.summary, o):
                out.append(f"Sensitivity: [outcomes] summary does not keep `{o}`, so it gets no indices; add it or "
                           "choose [analysis] outcomes")
    return out


def cost_gap(sw: Sweep, column: str) -> str | None:
    """Why a cost-table column has no values although nothing is wrong with the group: 'not recorded' (the
    sweep did not keep the column it is computed from) or 'not measured' (the horizon is too short); None
    when it was recorded (then a missing value means the group does not do better than the reference)."""
    horizon = int(sw.raw.get("experiment", {}).get("horizon", 40))
    for need in report_needs():
        if column in need.cost_columns:
            if not _recorded(sw, need):
                return "not recorded"
            if horizon < need.min_quarters:
                return "not measured"
    return None


def _recorded(sw: Sweep, need: Need) -> bool:
    """The column the need reads is in the results (as a summary outcome or a derived per-run column)."""
    derived = {"graduates_retained": "retained_graduates", "cohort_in_city_3y": "retained_3y_graduates"}
    return derived.get(need.column, need.column) in sw.runs


def cost_effectiveness(sw: Sweep) -> pd.DataFrame:
    """Per group: spending, local tax, retained graduates, tiers climbed; extra spending, extra tax and the
    net cost (extra spending minus extra tax), and yuan per extra retained graduate and per extra level
    climbed relative to the reference group (``[analysis] reference``, default the status
    quo package, else the group that spends least)."""
    groups, _, order = group_runs(sw)
    df = sw.runs.assign(group=groups.values)
    ok = df[df["status"] == STATUS_OK]
    cols = [c for c in ("spending_total", "tax_total", "spending_talent_total", "retained_graduates",
                        "retained_3y_graduates", "tiers_climbed_clusters", "cost_per_retained_graduate",
                        "graduate_retention") if c in ok]
    if "spending_total" not in cols:
        return pd.DataFrame()
    means = ok.groupby("group")[cols].mean().reindex(order)
    ref_label = _reference_label(sw, order)
    if ref_label not in means.index:
        ref_label = means["spending_total"].idxmin()
    base = means.loc[ref_label]
    out = means.copy()
    d_spend = means["spending_total"] - base["spending_total"]
    for col, name in (("retained_graduates", "yuan_per_extra_retained_graduate"),
                      ("retained_3y_graduates", "yuan_per_extra_graduate_3y"),
                      ("tiers_climbed_clusters", "yuan_per_extra_level")):
        if col in means:
            d = means[col] - base[col]
            out[f"extra_{col}"] = d
            out[name] = np.where((d > 0) & (d_spend > 0), d_spend / d.where(d > 0), np.nan)
    out["extra_spending"] = d_spend
    if "tax_total" in means:  # cost-effectiveness counts the extra local tax the package brings back
        out["extra_tax"] = means["tax_total"] - base["tax_total"]
        out["net_cost"] = d_spend - out["extra_tax"]
    out["reference"] = out.index == ref_label
    return out.reset_index().rename(columns={"index": "group"})


def _reference_label(sw: Sweep, order: Sequence[str]) -> str | None:
    """The group others are compared with: ``[analysis] reference`` (default the status quo package)."""
    ref = sw.options.get("reference")
    pk = package_labels(sw)
    label = pk.get(ref, ref) if ref else pk.get("status_quo")
    return label if label in order else None


def index_weight_sensitivity(sw: Sweep, weightings: int = 200, seed: int = 0) -> pd.DataFrame:
    """How much each group's energy-index gain over the reference depends on the index's weights
    (MISSION §4: no official formula). The six clusters' mean index at the end of each run is
    recomputed from its recorded components (``energy.reweighted_index``) under ``weightings`` random
    weightings (Dirichlet(2) over the seven components); per group: the gain at the model's weights,
    its 5-95% range over weightings and the share of weightings that keep its sign. Empty without a
    reference group or the component columns."""
    from sim.behaviour.energy import COMPONENTS, reweighted_index, weights

    groups, _, order = group_runs(sw)
    ref = _reference_label(sw, order)
    cols = [f"idx_{c}" for c in COMPONENTS]
    cl = Store(sw.root).table("clusters", columns=["run_id", "quarter", "cluster", *cols])
    if ref is None or cl.empty or any(c not in cl for c in cols):
        return pd.DataFrame()
    cl = cl[(cl["cluster"] != "other")]
    cl = cl[cl["quarter"] == cl.groupby("run_id")["quarter"].transform("max")]
    group_of = dict(zip(sw.runs["run_id"], groups))
    ok = set(sw.runs.loc[sw.runs["status"] == STATUS_OK, "run_id"])
    cl = cl[cl["run_id"].isin(ok)]
    rng = np.random.default_rng(seed)
    model_w = dict(zip(COMPONENTS, weights(sim.default_config().values)))
    draws = [model_w] + [dict(zip(COMPONENTS, rng.dirichlet(np.full(len(COMPONENTS), 2.0)))) for _ in range(weightings)]
    means = np.array([cl.assign(v=reweighted_index(cl, w)).groupby("run_id")["v"].mean()
                      .groupby(lambda r: group_of.get(r)).mean().reindex(order).to_numpy() for w in draws])
    gains = means - means[:, [order.index(ref)]]  # (weightings + 1, groups)
    rows = []
    for j, g in enumerate(order):
        if g == ref:
            continue
        base, spread = gains[0, j], gains[1:, j]
        rows.append({"group": g, "gain": base, "gain_p05": np.percentile(spread, 5), "gain_p95": np.percentile(spread, 95),
                     "same_sign": float((np.sign(spread) == np.sign(base)).mean()), "reference": ref})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------- sensitivity
def sensitivity(sw: Sweep, outcomes: Sequence[str] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Sobol (S1, ST) or Morris (mu*, sigma) indices per outcome; empty for other designs.

    Y of a design point = mean over its ok replicates. A point with no ok replicate invalidates its
    Saltelli block (N rows of size D+2 or 2D+2) or Morris trajectory (D+1 rows); those are dropped
    and counted in the returned notes.
    """
    if sw.kind not in ("sobol", "morris"):
        return pd.DataFrame(), {}
    from SALib.analyze import morris as morris_analyze
    from SALib.analyze import sobol as sobol_analyze

    outcomes = [o for o in (outcomes or sw.options.get("outcomes") or DEFAULT_SENSITIVITY) if o in sw.runs]
    names = sw.factors
    d = len(names)
    problem = {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}
    ok_rows = sw.rows[sw.rows["status"] == STATUS_OK]
    per_point = ok_rows.groupby("point")[outcomes].mean(numeric_only=True) if outcomes else pd.DataFrame()
    points = sw.design.drop_duplicates("point").set_index("point").sort_index()
    n_points = len(points)
    second = bool(sw.raw.get("design", {}).get("second_order", False))
    size = (2 * d + 2 if second else d + 2) if sw.kind == "sobol" else d + 1
    blocks = n_points // size
    rows, notes = [], {"block_size": size, "blocks": blocks}
    for o in outcomes:
        y = per_point[o].reindex(points.index).to_numpy(dtype=float)
        good = ~np.isnan(y.reshape(blocks, size)).any(axis=1)
        notes[f"dropped_{o}"] = int((~good).sum())
        if good.sum() < 2:
            continue
        keep = np.repeat(good, size)
        if sw.kind == "sobol":
            res = sobol_analyze.analyze(problem, y[keep], calc_second_order=second, seed=1)
            for j, f in enumerate(names):
                rows.append({"outcome": o, "factor": f, "S1": res["S1"][j], "S1_conf": res["S1_conf"][j],
                             "ST": res["ST"][j], "ST_conf": res["ST_conf"][j]})
        else:
            x = points[[UNIT_PREFIX + f for f in names]].to_numpy(dtype=float)[keep]
            levels = int(sw.raw.get("design", {}).get("levels", 4))
            res = morris_analyze.analyze(problem, x, y[keep], num_levels=levels, seed=1)
            for j, f in enumerate(names):
                rows.append({"outcome": o, "factor": f, "mu_star": res["mu_star"][j],
                             "mu_star_conf": res["mu_star_conf"][j], "sigma": res["sigma"][j], "mu": res["mu"][j]})
    return pd.DataFrame(rows), notes


def failures(sw: Sweep, limit: int = 10) -> pd.DataFrame:
    """Failed runs: id, point, replicate, factor values and the last line of the error."""
    f = sw.runs[sw.runs["status"] == STATUS_FAILED]
    last = f["error"].fillna("").map(lambda e: e.strip().splitlines()[-1] if e.strip() else "")
    return f[["run_id", "point", "replicate", *sw.factors]].assign(error=last.values).head(limit)
