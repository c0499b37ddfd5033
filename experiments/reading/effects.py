"""Paired policy effects over an ensemble: what each package changes against the status quo, how surely.

For a sweep with ``crn = true`` and a ``package`` factor, replicate r of every package runs with the same
seed (and, with ``[base] uncertainties = "posterior"``, the same posterior draw), so the difference
``d_r = package_r - reference_r`` is the package's effect in one possible world. When the sweep has
other factors too (futures crossed with the packages, ``[design] cross``), a world is one combination
of the other factors' values and a replicate.

The same holds for whatever a design compares with common random numbers (``by``): the ``package``;
whole design points (``by = "point"``, a full factorial: each point against the *baseline point*, where
every factor is at its base-scenario value when the design has it, else at its first level; a world is a
replicate); or the levels of one factor, the others held (a world is one combination of the other
factors and a replicate; the reference level is the factor's base value or first level). A comparison
is made only when the runs of every world share their seed and posterior draw (checked on the design,
not assumed from ``crn``). Over the worlds:

* **effect**: mean of d_r, the 95% CI of that mean, and the 5-95% range of d_r (the spread of the
  effect across worlds: parameter uncertainty + seed noise when drawn from a posterior);
* **P(beats)**: the share of worlds where the package is strictly better than the reference (higher
  tiers and retention, lower Beijing outflow), with its Wilson 95% interval;
* **parameter vs stochastic share** of the variance of d_r, by one-way ANOVA over posterior draws
  (replicates sharing a draw differ only in seed): between-draw variance
  ``max((MSB - MSW) / k, 0)`` against within-draw variance ``MSW`` (k seeds per draw), with a 95%
  bootstrap interval over the draws; not split with fewer than :data:`MIN_DRAWS_TO_SPLIT` draws;
* **P(best)**: per world, which policy package (not the reference) scores highest on the primary
  outcome (ties split evenly), averaged over worlds;
* **ranking stability**: the packages ranked by the primary outcome within each posterior draw (seeds
  averaged), against the ranking of the whole ensemble: how many draws give the same order, and
  Kendall's tau.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from experiments.reading.analysis import STATUS_OK, Sweep, _fmt, mean_ci, package_labels, point_labels, proportion_ci
from experiments.running.spec import PACKAGE

# outcome -> +1 when more is better, -1 when less is better, 0 for costs (effect only, no "beats")
# (the headline outcomes first, sim.state.records.HEADLINE_OUTCOMES, then the paper's energy levels)
EFFECT_OUTCOMES: dict[str, int] = {
    "value_added_real_final": +1,
    "local_sourcing_share_final": +1,
    "employment_final": +1,
    "net_fiscal_balance_total": +1,
    "retention_3y": +1,
    "outflow_beijing_total": -1,
    "outflow_tianjin_total": -1,
    "tiers_climbed_clusters": +1,
    "spending_total": 0,
}
PRIMARY = "tiers_climbed_clusters"
POINT = "point"  # by = POINT: whole design points are compared (every factor together)
# The parameter share is split only with at least 5 posterior draws: its interval is a bootstrap over the
# draws, and g draws give C(2g - 1, g) distinct resamples: 3 for 2 draws, 35 for 4, 126 for 5 (assumption:
# an interval needs at least ~100 distinct resamples to mean anything). Below that the report says so.
MIN_DRAWS_TO_SPLIT = 5


@dataclass
class PairedEffects:
    effects: pd.DataFrame  # one row per (compared value, outcome); the compared value's column is ``by``
    best: pd.DataFrame  # one row per compared value (column ``by``): P(best) on the primary outcome
    ranking: dict  # stability of the ranking across posterior draws (empty without draws)
    reference: Any  # what the others are compared with: a package key, a design point or a factor level
    worlds: int
    draws: int
    seeds_per_draw: int
    per_future: bool = False  # draws belong to futures (posterior_per = "future"), not to replicates
    by: str = PACKAGE  # what is compared: "package", "point" (design points) or a factor's name
    labels: dict[Any, str] = field(default_factory=dict)  # compared value -> its label in the report


def _worlds(sw: Sweep, by: str = PACKAGE) -> pd.Series:
    """The world of each run (index as ``sw.runs``): one number per combination of the values of the
    factors not compared (all but ``by``; none when design points are compared), and the replicate (the
    runs an effect is paired over)."""
    compared = set(sw.factors) if by == POINT else {by}
    keys = [f for f in sw.factors if f not in compared and f in sw.runs] + ["replicate"]
    return sw.runs.groupby(keys, sort=True, dropna=False).ngroup().rename("world")


def _wide(sw: Sweep, outcome: str, by: str = PACKAGE) -> pd.DataFrame:
    """world x compared value table of one outcome (OK runs only)."""
    runs = sw.runs.assign(world=_worlds(sw, by))
    ok = runs[runs["status"] == STATUS_OK].drop_duplicates(["world", by])
    return ok.pivot(index="world", columns=by, values=outcome).astype(float)


def _draw_of_world(sw: Sweep, by: str = PACKAGE) -> pd.Series | None:
    """The posterior draw of each world (None without draws)."""
    if "draw" not in sw.runs:
        return None
    runs = sw.runs.assign(world=_worlds(sw, by))
    return runs.drop_duplicates("world").set_index("world")["draw"]


def shares_numbers(sw: Sweep, by: str = PACKAGE) -> bool:
    """Do the runs of every world share one seed (and one posterior draw)? Only then is a difference
    within a world a paired one (``crn = true`` gives it; draws per future pair packages, not points)."""
    cols = [c for c in ("seed", "draw") if c in sw.runs]
    if not cols:
        return False
    per_world = sw.runs.groupby(_worlds(sw, by).to_numpy())[cols].nunique(dropna=False)
    return bool(per_world.le(1).all().all())


def levels(sw: Sweep, factor: str) -> list[Any]:
    """A factor's values in design order (first design point first)."""
    return list(dict.fromkeys(sw.design.sort_values("point", kind="stable")[factor]))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=0.0))
    return a == b


def baseline(sw: Sweep) -> dict[str, Any]:
    """Each factor's reference level (the package's excepted): its value in the base scenario when the
    design has that level (``provenance.json`` design.base_values, the status quo unless ``[base]``
    changes it), else its first level."""
    recorded = (sw.provenance.get("design") or {}).get("base_values") or {}
    out: dict[str, Any] = {}
    for f in sw.factors:
        if f == PACKAGE:
            continue
        lv = levels(sw, f)
        hit = [v for v in lv if f in recorded and _same(v, recorded[f])]
        out[f] = hit[0] if hit else lv[0]
    return out


def baseline_point(sw: Sweep) -> int | None:
    """The design point with every factor at its :func:`baseline` level (None when there is none)."""
    ref = baseline(sw)
    first = sw.design.drop_duplicates("point")
    hit = np.ones(len(first), dtype=bool)
    for f, v in ref.items():
        hit &= first[f].map(lambda x, v=v: _same(x, v)).to_numpy(dtype=bool)
    return int(first["point"][hit].iloc[0]) if hit.any() else None


def arm_labels(sw: Sweep, by: str) -> dict[Any, str]:
    """Labels of the compared values: packages by their label (a spec's own packages too), design
    points by their factor values, a factor's levels as ``name = value``."""
    if by == PACKAGE:
        return package_labels(sw)
    if by == POINT:
        return point_labels(sw)
    return {v: f"{by} = {_fmt(v)}" for v in levels(sw, by)}


def variance_split(d: np.ndarray, draws: np.ndarray) -> float:
    """Share of var(d) between posterior draws (parameter uncertainty); NaN when it cannot be told
    apart from seed noise: fewer than :data:`MIN_DRAWS_TO_SPLIT` draws, or one seed per draw."""
    return float(variance_split_ci(d, draws, resamples=0)[0])


def variance_split_ci(d: np.ndarray, draws: np.ndarray, resamples: int | None = None,
                      seed: int | None = None) -> tuple[float, float, float]:
    """``(share, low, high)``: :func:`variance_split` and its 95% percentile-bootstrap interval over the
    draws (whole draws resampled with replacement, their seeds kept together). The share is
    ``max((MSB - MSW) / k, 0) / (that + MSW)``: a between-draw variance estimated below 0 is set to 0,
    so 0% reads "the draws differ no more than seed noise predicts". NaN (all three) below
    :data:`MIN_DRAWS_TO_SPLIT` draws or with one seed per draw; NaN bounds with ``resamples = 0``."""
    from experiments.reading.analysis import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

    nan = (float("nan"),) * 3
    ok = np.isfinite(d)
    d, draws = np.asarray(d, float)[ok], np.asarray(draws)[ok]
    labels, group = np.unique(draws, return_inverse=True)
    n = np.bincount(group).astype(float)
    if len(labels) < MIN_DRAWS_TO_SPLIT or n.min() < 2:
        return nan
    sums = np.bincount(group, weights=d)
    ss = np.bincount(group, weights=d * d) - sums**2 / n  # within-draw sums of squares
    share = _split(n[None], sums[None], ss[None])[0]
    resamples = BOOTSTRAP_RESAMPLES if resamples is None else resamples
    if resamples <= 0:
        return float(share), float("nan"), float("nan")
    rng = np.random.default_rng(BOOTSTRAP_SEED if seed is None else seed)
    pick = rng.integers(0, len(labels), size=(resamples, len(labels)))
    boot = _split(n[pick], sums[pick], ss[pick])
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanpercentile(boot, [2.5, 97.5]) if np.isfinite(boot).any() else (np.nan, np.nan)
    return float(share), float(lo), float(hi)


def _split(n: np.ndarray, sums: np.ndarray, ss: np.ndarray) -> np.ndarray:
    """The between-draw share per row of (resample, draw) arrays of counts, sums and within sums of squares."""
    g = n.shape[1]
    total = n.sum(axis=1)
    grand = sums.sum(axis=1) / total
    msb = (n * (sums / n - grand[:, None]) ** 2).sum(axis=1) / (g - 1)
    msw = ss.sum(axis=1) / (total - g)
    between = np.maximum((msb - msw) / n.min(axis=1), 0.0)
    var = between + msw
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 0, between / var, np.nan)


def paired_effects(sw: Sweep, reference: Any = None, outcomes: dict[str, int] | None = None,
                   by: str = PACKAGE) -> PairedEffects | None:
    """The paired effects of each value of ``by`` (``"package"``, ``"point"`` or a factor) against
    ``reference`` (packages: default ``[analysis] reference`` or ``status_quo``; points:
    :func:`baseline_point`; a factor: its :func:`baseline` level). None when the sweep does not have
    ``by``, has no common random numbers (``crn``, and one seed and draw per world) or no reference."""
    if (by != POINT and by not in sw.factors) or not sw.raw.get("experiment", {}).get("crn", False) \
            or not shares_numbers(sw, by):
        return None
    if reference is None:
        reference = (sw.options.get("reference", "status_quo") if by == PACKAGE else
                     baseline_point(sw) if by == POINT else baseline(sw)[by])
    arms = sorted(set(sw.design["point"])) if by == POINT else levels(sw, by)
    if reference not in arms:
        return None
    outcomes = outcomes or {o: s for o, s in EFFECT_OUTCOMES.items()
                            if o in sw.runs and pd.to_numeric(sw.runs[o], errors="coerce").notna().any()}
    draw_of = _draw_of_world(sw, by)
    rows = []
    for outcome, sign in outcomes.items():
        wide = _wide(sw, outcome, by)
        for pkg in arms:
            if pkg == reference:
                continue
            pair = wide.reindex(columns=[pkg, reference]).dropna()
            d = (pair[pkg] - pair[reference]).to_numpy(float)
            n, mean, lo, hi = mean_ci(d)
            row = {by: pkg, "outcome": outcome, "worlds": n, "effect_mean": mean, "effect_ci_low": lo,
                   "effect_ci_high": hi, "effect_p05": float(np.quantile(d, 0.05)) if n else np.nan,
                   "effect_p95": float(np.quantile(d, 0.95)) if n else np.nan}
            if sign:
                better = sign * d > 0
                _, p, plo, phi = proportion_ci(better)
                row |= {"p_beats": p, "p_beats_low": plo, "p_beats_high": phi, "p_tie": float(np.mean(d == 0))}
            if draw_of is not None:
                share, slo, shi = variance_split_ci(d, draw_of.reindex(pair.index).to_numpy())
                row |= {"parameter_share": share, "parameter_share_low": slo, "parameter_share_high": shi}
            rows.append(row)
    effects = pd.DataFrame(rows)
    best, ranking = _best_and_ranking(sw, [p for p in arms if p != reference], draw_of, by)
    n_draws = int(draw_of.nunique()) if draw_of is not None else 0
    k = int(draw_of.value_counts().min()) if draw_of is not None else 0
    worlds = int(effects["worlds"].max()) if len(effects) else 0
    per_future = sw.raw.get("base", {}).get("posterior_per", "replicate") == "future"
    return PairedEffects(effects=effects, best=best, ranking=ranking, reference=reference, worlds=worlds,
                         draws=n_draws, seeds_per_draw=k, per_future=per_future, by=by, labels=arm_labels(sw, by))


def all_paired_effects(sw: Sweep) -> list[PairedEffects]:
    """Every paired comparison the design allows, each with common random numbers: the packages against
    the reference (a ``package`` factor); without one, each design point of a full factorial of at most
    ``[analysis] max_groups`` points against the baseline point; and with two or more factors, the
    levels of each grid factor (a full factorial's, an lhs's ``[design] cross``) against its baseline
    level, the others held (2 to max_groups levels)."""
    out = [paired_effects(sw)] if PACKAGE in sw.factors else []
    grid = sw.kind == "full_factorial"
    most = int(sw.options.get("max_groups", 12))
    if PACKAGE not in sw.factors and grid and 2 <= sw.design["point"].nunique() <= most:
        out.append(paired_effects(sw, by=POINT))
    if len(sw.factors) >= 2:
        crossed = sw.raw.get("design", {}).get("cross", [])
        out += [paired_effects(sw, by=f) for f in sw.factors
                if f != PACKAGE and (grid or f in crossed) and 2 <= len(levels(sw, f)) <= most]
    return [pe for pe in out if pe is not None and pe.worlds > 0]


def _best_and_ranking(sw: Sweep, packages: Sequence[Any], draw_of: pd.Series | None,
                      by: str = PACKAGE) -> tuple[pd.DataFrame, dict]:
    if PRIMARY not in sw.runs:
        return pd.DataFrame(), {}
    wide = _wide(sw, PRIMARY, by).reindex(columns=list(packages)).dropna()
    x = wide.to_numpy(float)
    top = x == x.max(axis=1, keepdims=True)
    per_world = top / top.sum(axis=1, keepdims=True) if len(x) else np.zeros((0, len(packages)))
    # the share of worlds each is best in (ties shared), with its Wilson interval over the worlds
    ci = [proportion_ci(per_world[:, j]) for j in range(len(packages))]
    best = pd.DataFrame({by: list(packages), "p_best": [c[1] for c in ci], "p_best_low": [c[2] for c in ci],
                         "p_best_high": [c[3] for c in ci], "worlds": len(x)})
    if draw_of is None or len(x) == 0:
        return best, {}
    per_draw = wide.groupby(draw_of.reindex(wide.index).to_numpy()).mean()
    overall = wide.mean().rank(ascending=False, method="average")
    taus, same = [], 0
    for _, r in per_draw.iterrows():
        ranks = r.rank(ascending=False, method="average")
        tau = stats.kendalltau(overall.to_numpy(), ranks.to_numpy()).statistic
        taus.append(tau)
        same += bool((ranks == overall).all())
    rank_range = {p: (int(per_draw.rank(axis=1, ascending=False, method="min")[p].min()),
                      int(per_draw.rank(axis=1, ascending=False, method="min")[p].max())) for p in packages}
    return best, {"draws": len(per_draw), "same_order": same, "kendall_tau_mean": float(np.nanmean(taus)),
                  "kendall_tau_min": float(np.nanmin(taus)), "overall_rank": overall.to_dict(),
                  "rank_range": rank_range}


def _signed(v: float) -> str:
    """+1,234 / +0.0124 / -3.2: three significant digits, thousands separators, never e-notation."""
    return f"{v:+,.0f}" if abs(v) >= 100 else f"{v:+.3g}"


def heading(pe: PairedEffects) -> tuple[str, str, str]:
    """The section's title, the word for what is compared, and who is compared with what in which worlds."""
    ref = pe.labels.get(pe.reference, str(pe.reference))
    if pe.by == PACKAGE:
        return ("Policy effects against the status quo (paired)", "package",
                f"Each package against **{ref}** in the same {pe.worlds} worlds")
    if pe.by == POINT:
        return ("Paired effects of each design point against the baseline point", "design point",
                f"Each design point against the **baseline point** ({ref}: every factor at its base-scenario value "
                f"when the design has it, else at its first level) in the same {pe.worlds} worlds (replicates)")
    return (f"Paired effects of `{pe.by}`, the other factors held", "level",
            f"Each level of `{pe.by}` against **{ref}** (its base-scenario value when the design has it, else its "
            f"first level) in the same {pe.worlds} worlds, a world being one combination of the other factors' "
            "values and a replicate")


def markdown(pe: PairedEffects, labels: dict[str, str] | None = None) -> list[str]:
    """The report section: effects table, P(best), ranking stability, and what the intervals contain."""
    pk = pe.labels or package_labels()
    name = lambda p: pk.get(p, p)  # noqa: E731
    labels = labels or {}
    title, noun, who = heading(pe)
    src = (f"{pe.draws} futures, each with its own posterior draw, x {pe.seeds_per_draw} seeds" if pe.per_future
           else f"{pe.draws} posterior draws x {pe.seeds_per_draw} seeds" if pe.draws else
           "seeds only (no posterior: parameter uncertainty is not in these intervals)")
    lines = [f"## {title}", "",
             f"{who} ({src}; common random "
             + (f"numbers: every {noun} runs in the same futures, with their posterior draws, and the same seeds"
                if pe.per_future else f"numbers: replicate r of every {noun} has the same seed"
                + (" and posterior draw" if pe.draws else "")) + "). *effect* = mean paired difference [95% CI of "
             "the mean]; *range* = 5-95% of the paired differences across worlds; *P(beats)* = share of worlds "
             f"where the {noun} is strictly better (higher tiers and retention, lower Beijing outflow) "
             "[Wilson 95%]; ties count as not better.", ""]
    unit = "futures" if pe.per_future else "posterior draws"
    split = bool(pe.draws) and pe.draws >= MIN_DRAWS_TO_SPLIT and pe.seeds_per_draw >= 2
    bracket = (f"[95% bootstrap interval over the {pe.draws} {unit}]; 0% means the {unit} differ no more than seed "
               "noise predicts (the between-variance estimate is truncated at 0).")
    if split and pe.per_future:
        lines += ["*future share* = part of the variance of the effect that comes from the futures (their "
                  "scenario drivers and posterior draw together), the rest being seed noise; one-way ANOVA over "
                  f"futures {bracket}", ""]
    elif split:
        lines += ["*parameter share* = part of the variance of the effect that comes from the posterior draws "
                  "(what we do not know about behaviour), the rest being seed noise (chance within one world); "
                  f"one-way ANOVA over draws {bracket}", ""]
    elif pe.draws:
        why = (f"too few {unit} ({pe.draws}) to split" if pe.draws < MIN_DRAWS_TO_SPLIT else
               f"with one seed per {'future' if pe.per_future else 'draw'} there is no seed noise to split off from")
        lines += [f"*{'Future' if pe.per_future else 'Parameter'} share* not given: {why} the spread of the effects "
                  f"({'futures' if pe.per_future else 'parameter uncertainty'} against seed noise; at least "
                  f"{MIN_DRAWS_TO_SPLIT} {unit} with two or more seeds each are needed).", ""]
    share = " future share [95%] |" if pe.per_future else " parameter share [95%] |"
    cols = f"| {noun} | outcome | effect [95% CI] | range 5-95% | P(beats) |" + (share if split else "")
    lines += [cols, "|---|---|---|---|---|" + ("---|" if split else "")]
    for _, r in pe.effects.iterrows():
        scale = 1e8 if r["outcome"] in ("spending_total", "value_added_real_final", "net_fiscal_balance_total") else (
            0.01 if r["outcome"] in ("local_sourcing_share_final", "retention_3y") else 1.0)
        f = lambda v: _signed(v / scale) if np.isfinite(v) else "–"  # noqa: E731
        beats = (f"{r['p_beats']:.2f} [{r['p_beats_low']:.2f}, {r['p_beats_high']:.2f}]"
                 if "p_beats" in r and np.isfinite(r.get("p_beats", np.nan)) else "(cost)")
        line = (f"| {name(r[pe.by])} | {labels.get(r['outcome'], r['outcome'])} | {f(r['effect_mean'])} "
                f"[{f(r['effect_ci_low'])}, {f(r['effect_ci_high'])}] | {f(r['effect_p05'])} … {f(r['effect_p95'])} "
                f"| {beats} |")
        if split:
            ps, lo, hi = (r.get(f"parameter_share{k}", np.nan) for k in ("", "_low", "_high"))
            line += (f" {ps:.0%} [{lo:.0%}, {hi:.0%}] |" if np.isfinite(lo) else f" {ps:.0%} |") if np.isfinite(ps) \
                else " – |"
        lines.append(line)
    if len(pe.best) >= 2:  # with one contender P(best) is 1 by construction, and says nothing
        lines += ["", f"**P(best)** on {labels.get(PRIMARY, PRIMARY)}: per world, the {noun} that climbs most "
                  "(ties shared), with its 95% interval over the worlds.", "", f"| {noun} | P(best) [95% CI] |",
                  "|---|---|"]
        lines += [f"| {name(r[pe.by])} | {r['p_best']:.2f} [{r['p_best_low']:.2f}, {r['p_best_high']:.2f}] |"
                  for _, r in pe.best.iterrows()]
    if pe.ranking:
        rk = pe.ranking
        unit = "future" if pe.per_future else "draw"
        lines += ["", f"**Ranking across {'futures' if pe.per_future else 'posterior draws'}** "
                  f"({labels.get(PRIMARY, PRIMARY)}, seeds averaged within a {unit}): the order of the whole ensemble "
                  f"holds in {rk['same_order']} of {rk['draws']} {unit}s; "
                  f"Kendall's tau against it {rk['kendall_tau_mean']:.2f} on average (lowest {rk['kendall_tau_min']:.2f}).",
                  "", f"| {noun} | rank in the ensemble | rank range over {unit}s |", "|---|---|---|"]
        for p, (lo, hi) in rk["rank_range"].items():
            lines.append(f"| {name(p)} | {rk['overall_rank'][p]:g} | {lo}–{hi} |")
    lines.append("")
    return lines
