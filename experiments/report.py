"""``python -m experiments analyze DIR``: tables (CSV), figures (PNG) and ``report.md`` for a sweep.

Writes into the results directory::

    report.md                      the report, embedding the figures (and validation.md, when `make run`'s
                                   `python -m sim validate --report` step wrote it)
    figures/*.png                  energy trajectories, outcomes by package / vs levers, P(national) heatmap,
                                   talent outflow, cost-effectiveness, sensitivity indices (sobol/morris)
    tables/*.csv                   outcomes_by_group, national_probability, cost_effectiveness,
                                   energy_trajectories, index_weight_sensitivity, sensitivity, failed_runs
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import sim
import sim.behaviour.energy
from experiments.reading import analysis, effects, plots
from experiments.running import provenance
from experiments.running.spec import PACKAGE
from experiments.running.store import VALIDATION_REPORT
from experiments.running.timing import TIMING_PARTS
from sim.state.records import HEADLINE_OUTCOMES

OUTCOME_LABELS = {
    "tiers_climbed_total": "energy levels climbed (sum over clusters)",
    "tiers_climbed_clusters": "energy levels climbed (the six clusters)",
    "retention_3y": "graduates still in the city after 3 years (share)",
    "energy_index_final_mean": "final energy index (mean of clusters)",
    "clusters_national_final": "clusters at national tier or above (end)",
    "graduate_retention": "graduate retention (share)",
    "outflow_beijing_total": "talent outflow to Beijing (persons)",
    "outflow_tianjin_total": "talent outflow to Tianjin (persons)",
    "outflow_elsewhere_total": "talent outflow elsewhere (persons)",
    "spending_total": "public spending (yuan)",
    "cost_per_retained_graduate": "cost per retained graduate (yuan)",
    "retained_graduates": "graduates retained (persons)",
}
# Sensitivity section: drivers shown per outcome, and the sum of total-order Sobol indices above which
# the estimates are not ranked. For an additive model the ST sum to 1; an interaction of k factors adds
# (k - 1) times its share of the variance. A sum above 1.5 (assumption) means interactions carry half
# the variance or more, counted that way: possible in a strongly non-additive model, but at the small
# N of a first sweep (issue 26: ST sums of 2.2 at N = 64) more likely estimation noise; either way a
# ranking by ST is then no ranking of main drivers, so it is withheld and the sum is shown instead.
SENSITIVITY_SHOWN = 5
SOBOL_SUM_ST_LIMIT = 1.5
PANEL_OUTCOMES = ("tiers_climbed_clusters", "energy_index_final_mean", "graduate_retention", "spending_total")
LEVER_OUTCOMES = ("tiers_climbed_clusters", "energy_index_final_mean", "graduate_retention")


def parameter_labels() -> dict[str, str]:
    schema = sim.default_config().schema
    extra = {PACKAGE: "policy package", "persons_per_agent": "persons per agent"}
    timed = {f"{n}.{part}": f"{p.label_en}: {part.replace('_', ' ')}" for n, p in schema.items()
             if p.kind == "levers" for part in TIMING_PARTS}  # digital_grant_budget.start: "...: start"
    return {n: p.label_en for n, p in schema.items()} | timed | extra


def analyze(root: str | Path) -> Path:
    """Analyse the sweep in ``root``; returns the path of ``report.md``."""
    plots.style()
    sw = analysis.load_sweep(root)
    root = sw.root
    figs, tabs = root / "figures", root / "tables"
    tabs.mkdir(parents=True, exist_ok=True)
    labels = parameter_labels()
    en, zh = analysis.cluster_labels(sw.clusters), analysis.cluster_labels_zh(sw.clusters)
    thresholds = list(sim.behaviour.energy.index_thresholds(sim.default_config().values))

    groups, grouping, order = analysis.group_runs(sw)
    runs = sw.runs.assign(group=groups.values)
    table = analysis.outcome_table(sw)
    table.to_csv(tabs / "outcomes_by_group.csv", index=False)
    nat, year = analysis.national_table(sw)
    reached, _ = analysis.national_by_year(sw)
    any_nat = _any_national(reached, runs, order)
    nat.to_csv(tabs / "national_probability.csv", index=False)
    traj = analysis.trajectories(sw)
    if not traj.empty:
        traj.to_csv(tabs / "energy_trajectories.csv", index=False)
    ce = analysis.cost_effectiveness(sw)
    if not ce.empty:
        ce.to_csv(tabs / "cost_effectiveness.csv", index=False)
    sens, sens_notes = analysis.sensitivity(sw)
    if not sens.empty:
        sens.to_csv(tabs / "sensitivity.csv", index=False)
    fails = analysis.failures(sw, limit=1_000_000)
    fails.to_csv(tabs / "failed_runs.csv", index=False)

    ok_runs = runs[runs["status"] == analysis.STATUS_OK]
    numeric = analysis.numeric_factors(sw)
    bins = int(sw.options.get("bins", 5))
    figures: list[tuple[Path | None, str]] = []
    figures.append((plots.energy_trajectories(traj, sw.clusters, en, zh, thresholds, figs / "energy_trajectories.png"),
                    f"Energy index of each cluster by {grouping}: line = mean over runs, band = 95% CI; dashed lines "
                    "are the index thresholds of the provincial, national and world-class tiers (default values; the county tier follows the MIIT criteria, not the index)."))
    panel = {o: OUTCOME_LABELS[o] for o in PANEL_OUTCOMES} | {"spending_total": "public spending (100 M yuan, 亿)"}
    if grouping in ("policy package", "design point"):
        figures.append((plots.outcomes_by_group(table, panel, order, figs / "outcomes_by_group.png",
                                                scales={"spending_total": 1e8}),
                        f"Key outcomes by {grouping} at the end of the horizon: mean and 95% CI over replicates."))
    if numeric:
        figures.append((plots.outcome_vs_lever(ok_runs, numeric[:4], {o: OUTCOME_LABELS[o] for o in LEVER_OUTCOMES},
                                               bins, labels, figs / "outcome_vs_lever.png"),
                        "Outcomes against each swept lever (binned; other factors vary inside a bin): mean and "
                        "95% CI band."))
    heat = sw.options.get("heatmap") or (numeric[:2] if len(numeric) >= 2 else None)
    if heat:
        a, b = heat
        figures.append((plots.national_heatmap_levers(ok_runs, reached, a, b, bins, sw.clusters, en, zh, labels, year,
                                                      figs / "national_heatmap.png"),
                        f"Probability that each cluster reaches the national tier by {year:.0f}, over "
                        f"{labels.get(a, a)} (x) and {labels.get(b, b)} (y), binned."))
    else:
        figures.append((plots.national_heatmap_groups(nat, order, sw.clusters, en, zh, year,
                                                      figs / "national_heatmap.png"),
                        f"Probability that each cluster reaches the national tier (tier 3) at least once by "
                        f"{year:.0f}, by {grouping} (share of runs)."))
    figures.append((plots.talent_outflow(table, order, figs / "talent_outflow.png"),
                    "Talent leaving Qinhuangdao over the horizon by destination, and the share of graduates who "
                    "stay: mean and 95% CI."))
    if not ce.empty:
        figures.append((plots.cost_effectiveness(ce, ok_runs, figs / "cost_effectiveness.png"),
                        "Public spending against energy levels climbed and graduates retained: mean and 95% CI "
                        "per group."))
    if not sens.empty:
        figures.append((plots.sensitivity_bars(sens, sw.kind, labels, figs / "sensitivity.png"),
                        "Sobol indices (first-order S1, total ST) with bootstrap 95% CI." if sw.kind == "sobol" else
                        "Morris screening: mu* (mean absolute elementary effect) with bootstrap 95% CI; "
                        "sigma (|) signals interactions or non-linearity."))

    effects_lines = _paired_sections(sw, figs, tabs)
    index_sens = analysis.index_weight_sensitivity(sw)
    if not index_sens.empty:
        index_sens.to_csv(tabs / "index_weight_sensitivity.csv", index=False)
    text = _markdown(sw, grouping, order, table, any_nat, year, ce, sens, sens_notes, fails, figures, labels,
                     effects_lines, index_sens)
    text = _decision_sections(sw, text)
    text = _explain_section(root, text)
    text = _validation_section(root, text)
    path = root / "report.md"
    path.write_text(text, encoding="utf-8")
    return path


def _paired_sections(sw: analysis.Sweep, figs: Path, tabs: Path) -> list[str]:
    """The paired-effects sections (:func:`experiments.reading.effects.all_paired_effects`): the packages against
    the reference (``paired_effects.csv``, ``p_best.csv``, ``paired_effects.png``), design points against
    the baseline point (``..._points``) and each factor's levels, the others held (``..._<factor>``)."""
    effect_labels = OUTCOME_LABELS | {"spending_total": "public spending (亿 yuan)"} | {
        h.name: f"{h.en} ({h.unit_en})" for h in HEADLINE_OUTCOMES}
    scales = {"spending_total": 1e8} | {h.name: h.scale for h in HEADLINE_OUTCOMES if h.scale != 1.0}
    lines: list[str] = []
    for pe in effects.all_paired_effects(sw):
        suffix = "" if pe.by == PACKAGE else "_points" if pe.by == effects.POINT else f"_{pe.by}"
        pe.effects.to_csv(tabs / f"paired_effects{suffix}.csv", index=False)
        pe.best.to_csv(tabs / f"p_best{suffix}.csv", index=False)
        title, noun, _ = effects.heading(pe)
        lines += effects.markdown(pe, effect_labels)
        fig = plots.paired_effects(pe.effects, effect_labels, pe.labels, figs / f"paired_effects{suffix}.png",
                                   scales=scales, by=pe.by, title=None if pe.by == PACKAGE else (
                                       f"{title}: mean (dot), 95% CI (thick), 5-95% of worlds (thin); P = share of "
                                       f"worlds where the {noun} is better"))
        lines += [f"![{title}]({fig.relative_to(sw.root).as_posix()})", "",
                  f"*{title}.* Dot: mean; thick bar: 95% CI of the mean; thin bar: 5-95% of the effect across worlds "
                  f"({'posterior draws x seeds' if pe.draws else 'seeds'}); P: share of worlds where the {noun} is "
                  "better.", ""]
    return lines


def _decision_sections(sw: analysis.Sweep, text: str) -> str:
    """Robustness (when the spec has ``[robustness] goals``) and the saved discovery / robustness sections."""
    from experiments.decision import sections

    rob = sw.raw.get("robustness")
    if isinstance(rob, dict) and rob.get("goals"):
        from experiments.decision.robustness import robustness

        robustness(sw.root)
    return sections.with_saved(sw.root, text)


def _explain_section(root: Path, text: str) -> str:
    """The channels section when ``python -m experiments explain`` wrote ``root/explain/`` (optional: the
    report never needs it, and a folder it cannot read is named in one line instead)."""
    folder = root / "explain"
    if not (folder / "settings.json").is_file():
        return text
    from experiments import attribution_report

    try:
        section = attribution_report.markdown(folder, link_prefix="explain/")
    except (OSError, ValueError, KeyError) as exc:
        section = f"## What carries each package's effect: its channels\n\n*{folder} could not be read ({exc}).*\n"
    return text.rstrip("\n") + "\n\n" + section


def _validation_section(root: Path, text: str) -> str:
    """The validation section when ``python -m sim validate --report root/validation.md`` wrote it (``make
    run`` does, between the sweep and this report); without the file the report is unchanged."""
    path = root / VALIDATION_REPORT
    if not path.is_file():
        return text
    try:
        section = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        section = f"## Validation: patterns the fit never saw\n\n*{path} could not be read ({exc}).*\n"
    return text.rstrip("\n") + "\n\n" + section


def _any_national(reached: pd.DataFrame, runs: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    if reached.empty:
        return pd.DataFrame(columns=["group", "n", "p", "ci_low", "ci_high"])
    per_run = reached.groupby("run_id")["reached"].any()
    g = runs.set_index("run_id")["group"]
    rows = []
    for grp in order:
        ids = g.index[g == grp]
        n, p, lo, hi = analysis.proportion_ci(per_run.reindex(ids).dropna())
        rows.append({"group": grp, "n": n, "p": p, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def _lever_value(v: Any) -> str:
    """A package's lever value as the report shows it: ``1.5亿``, or ``1.5亿 from 2027Q1 to 2028Q4`` timed."""
    if not isinstance(v, dict):
        return analysis._fmt(v)
    window = " ".join(f"{w} {v[k]}" for k, w in (("start", "from"), ("end", "to")) if v.get(k))
    ramp = f", ramp {v['ramp_quarters']} quarters" if v.get("ramp_quarters") else ""
    return f"{analysis._fmt(v.get('value'))} {window}{ramp}".strip()


def _num(v: float, digits: int = 3) -> str:
    return f"{v:,.0f}" if abs(v) >= 10 ** digits else f"{v:.{digits}g}"


def _ci(m: float, lo: float, hi: float, scale: float = 1.0, digits: int = 3) -> str:
    """``mean [low, high]`` with 3 significant digits (thousands separators for large numbers)."""
    if not np.isfinite(m):
        return "–"
    if not np.isfinite(lo):
        return _num(m / scale, digits)
    return f"{_num(m / scale, digits)} [{_num(lo / scale, digits)}, {_num(hi / scale, digits)}]"


def _ci_table(tab: pd.DataFrame, order: Sequence[str], cols: Sequence[tuple[str, str, float]],
              extra: tuple[str, dict[str, str]] | None = None) -> list[str]:
    """Markdown rows: one per group, ``mean [CI]`` of each outcome column (``value / scale``), the runs it
    rests on, and an optional extra column (name, text per group)."""
    head = ["group", "runs", *[c[1] for c in cols], *([extra[0]] if extra else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in order:
        n = int(tab.loc[(g, cols[0][0]), "n"]) if cols and (g, cols[0][0]) in tab.index else 0
        cells = [g, str(n)]
        for key, _, scale in cols:
            r = tab.loc[(g, key)] if (g, key) in tab.index else None
            cells.append(_ci(r["mean"], r["ci_low"], r["ci_high"], scale) if r is not None else "–")
        if extra:
            cells.append(extra[1].get(g, "–"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def sensitivity_lines(sw: analysis.Sweep, sens: pd.DataFrame, notes: dict[str, Any],
                      labels: dict[str, str]) -> list[str]:
    """The Sobol / Morris section: the sample size the indices rest on, then per outcome either an order of
    the drivers (``>`` only where intervals are clear, ``≈`` where they overlap) or, when the estimates
    cannot be trusted (see :func:`sensitivity_warnings`), "too few samples to rank" and why."""
    sobol = sw.kind == "sobol"
    key = "ST" if sobol else "mu_star"
    unit = "Saltelli blocks" if sobol else "Morris trajectories"
    counts = sw.counts()
    points = sw.design["point"].nunique()
    reps = sw.raw.get("experiment", {}).get("replicates", "?")
    n = notes.get("blocks")
    size = (f"N = {n} base samples (Saltelli blocks of {notes.get('block_size')} points)" if sobol else
            f"r = {n} trajectories of {notes.get('block_size')} points")
    dropped = {k.removeprefix("dropped_"): v for k, v in notes.items() if k.startswith("dropped_") and v}
    lines = ["## Sensitivity", "",
             f"Indices from SALib over {size}: {points} design points × {reps} replicates = {counts['total']} runs; "
             + (f"{unit} dropped because of failed runs, per outcome: {dropped}." if dropped
                else f"no {unit.split()[-1]} dropped for failed runs."), ""]
    for o in dict.fromkeys(sens["outcome"]):
        part = sens[sens["outcome"] == o]
        conf = part[f"{key}_conf"] if f"{key}_conf" in part else pd.Series(np.nan, index=part.index)
        est = [analysis.Estimate(labels.get(f, f), v, v - c, v + c)
               for f, v, c in zip(part["factor"], part[key], conf, strict=True)]
        warn = sensitivity_warnings(part, key, labels)
        if warn:
            used = n - int(notes.get(f"dropped_{o}", 0)) if isinstance(n, int) else n
            tag = f"{'N' if sobol else 'r'} = {used}" + (f" of {n}" if used != n else "")
            lines.append(f"- **{o}** — **too few samples to rank** ({tag}): " + "; ".join(warn) + ".")
            continue
        top = analysis.ranked(est)[:SENSITIVITY_SHOWN]
        lines.append(f"- **{o}** — {key}, largest first: "
                     + analysis.ranking_words(top, lambda e: f"{e.name} ({_pm(e)})"))
    lines += ["", f"± is SALib's 95% bootstrap confidence interval of {key}. `>`: every driver before it is clear of "
              "every driver after it; `≈`: the intervals overlap, so those drivers cannot be ranked against each "
              f"other at this sample size. An outcome is not ranked at all when its estimates are not to be trusted: "
              + ("ST above 1 (a total-order index is a share of the variance: above 1 is estimation noise), the ST of "
                 f"all factors summing to more than {SOBOL_SUM_ST_LIMIT:g}, or " if sobol else "")
              + f"an interval wider than its estimate among the {SENSITIVITY_SHOWN} largest.", "",
              "All indices: `tables/sensitivity.csv`.", ""]
    return lines


def sensitivity_warnings(part: pd.DataFrame, key: str, labels: dict[str, str]) -> list[str]:
    """Why one outcome's indices cannot be ranked (empty: they can): ST > 1, a sum of ST far above 1, or an
    interval wider than the estimate among the largest :data:`SENSITIVITY_SHOWN`."""
    conf = part[f"{key}_conf"] if f"{key}_conf" in part else pd.Series(np.nan, index=part.index)
    name = lambda f: labels.get(f, f)  # noqa: E731
    out = []
    if key == "ST":
        over = part[part["ST"] > 1.0]
        if len(over):
            out.append("ST above 1, impossible for a share of variance: "
                       + ", ".join(f"{name(f)} {v:.3g} ± {c:.2g}" for f, v, c in
                                   zip(over["factor"], over["ST"], conf[over.index], strict=True)))
        total = float(part["ST"].sum())
        if total > SOBOL_SUM_ST_LIMIT:
            out.append(f"the ST sum to {total:.2g} (S1 sum to {float(part['S1'].sum()):.2g}): interactions or "
                       "estimation noise carry more than the main effects can explain")
    top = part.assign(_c=conf).sort_values(key, ascending=False).head(SENSITIVITY_SHOWN)
    wide = top[~(top["_c"] < top[key].abs())]  # NaN intervals count as wide: nothing to rank on
    if len(wide):
        out.append("intervals wider than the estimate: "
                   + ", ".join(f"{name(f)} {v:.3g} ± {c:.2g}" for f, v, c in zip(wide["factor"], wide[key], wide["_c"],
                                                                                 strict=True)))
    return out


def _pm(e: analysis.Estimate) -> str:
    half = (e.high - e.low) / 2
    return f"{e.value:.3g} ± {half:.2g}" if np.isfinite(half) else f"{e.value:.3g}"


def _markdown(sw: analysis.Sweep, grouping: str, order: Sequence[str], table: pd.DataFrame, any_nat: pd.DataFrame,
              year: float, ce: pd.DataFrame, sens: pd.DataFrame, sens_notes: dict[str, Any], fails: pd.DataFrame,
              figures: list[tuple[Path | None, str]], labels: dict[str, str],
              effects_lines: Sequence[str] = (), index_sens: pd.DataFrame | None = None) -> str:
    index_sens = pd.DataFrame() if index_sens is None else index_sens
    exp = sw.raw.get("experiment", {})
    counts = sw.counts()
    prov = sw.provenance
    git = prov.get("git", {}) or {}
    lines = [f"# {sw.name}: policy experiment report", ""]
    if exp.get("description"):
        lines += [f"> {exp['description']}", ""]
    lines += [f"Generated {provenance.now()} by `python -m experiments analyze {sw.root}`.", ""]
    if counts["pending"] or counts["failed"]:
        lines += [f"**Partial results:** {counts['pending']} runs pending, {counts['failed']} failed "
                  "(see *Failed runs*); statistics use the finished runs only.", ""]

    lines += ["## Design", ""]
    d = prov.get("design", {})
    lines.append(f"- Design: **{sw.kind}**, {sw.design['point'].nunique()} design points × "
                 f"{exp.get('replicates', '?')} replicates = {counts['total']} runs; experiment seed {exp.get('seed')}"
                 f"{' (common random numbers)' if exp.get('crn') else ''}.")
    horizon = exp.get("horizon", 40)
    periods = sw.periods
    span = f" ({periods[0]} to {periods[1]}, quarter 0 = initial state)" if periods else ""
    lines.append(f"- Horizon: {horizon} quarters{span}.")
    factors = d.get("factors") or {}
    if len(factors) <= 6:
        for name, desc in factors.items():
            lines.append(f"- Factor `{name}` ({labels.get(name, name)}): {desc}")
    else:
        lines.append(f"- {len(factors)} factors, listed in the appendix.")
    for key, pkg in sw.policy_packages.items():
        if pkg.get("source") == "spec [packages]":
            lines.append(f"- Package `{key}` ({pkg.get('label_en', key)}), defined in the spec's [packages]: "
                         + (", ".join(f"`{k}` = {_lever_value(v)}" for k, v in (pkg.get("levers") or {}).items())
                            or "no lever changed") + ".")
    for lever, parts in (d.get("timing_fixed") or {}).items():
        lines.append(f"- Timed lever `{lever}`, in every run: " + ", ".join(f"{k} = {v}" for k, v in parts.items()))
    for lever, parts in (d.get("base_schedules") or {}).items():
        lines.append(f"- Timed in the base scenario: `{lever}` " + ", ".join(f"{k} = {v}" for k, v in parts.items()))
    if d.get("channels_off"):
        lines.append(f"- Channels switched off in every run: {', '.join(d['channels_off'])}.")
    lines.append(f"- Runs: {counts['done']} done, {counts['failed']} failed, {counts['pending']} pending.")
    lines.append(f"- Model version `{prov.get('model_version')}`; git commit `{git.get('commit')}`"
                 f"{' (uncommitted changes)' if git.get('dirty') else ''}.")
    lines.append(f"- Groups compared: {grouping} ({len(order)} groups).")
    lines.append("")

    lines += ["## Headline outcomes", "",
              "What a statistics bureau could check, mean [95% CI] over runs at the end of the horizon (money in "
              "real 2021 yuan; the net fiscal balance is local tax minus programme spending over the run, so its "
              "difference between two groups is extra tax minus extra spending).", ""]
    tab = table.set_index(["group", "outcome"])
    headline = [(h.name, f"{h.en} ({h.unit_en})", h.scale) for h in HEADLINE_OUTCOMES]
    lines += _ci_table(tab, order, [c for c in headline if c[0] in set(table["outcome"])])
    lines += ["", "## Energy levels (the paper's vocabulary)", "",
              f"Mean [95% CI] over runs. The MIIT county tier and the index tiers are shown apart so no pattern "
              f"comes from their cancellation. *P(national)*: probability that at least one cluster reaches the "
              f"national tier by {year:.0f}.", ""]
    cols = [("tiers_climbed_clusters", "levels climbed (6 clusters)", 1.0),
            ("index_tiers_climbed", "index tiers climbed (6 clusters)", 1.0),
            ("county_clusters_final", "clusters with county status (end)", 1.0),
            ("energy_index_final_mean", "final energy index", 1.0),
            ("graduate_retention", "retention at graduation", 1.0), ("spending_total", "spending (亿 yuan)", 1e8)]
    cols = [c for c in cols if c[0] in set(table["outcome"])]
    nat = any_nat.set_index("group") if not any_nat.empty else pd.DataFrame()
    extra = {g: _ci(nat.loc[g, "p"], nat.loc[g, "ci_low"], nat.loc[g, "ci_high"], digits=2) if g in nat.index else "–"
             for g in order}
    lines += _ci_table(tab, order, cols, ("P(national)", extra))
    if not index_sens.empty:
        lines += ["", f"**The index's sensitivity** (no official formula exists, MISSION §4): each group's gain in the "
                  f"six clusters' mean energy index over {index_sens['reference'].iloc[0]}, at the model's weights and "
                  f"under 200 random weightings of the seven components (Dirichlet(2)); 5–95% range over weightings "
                  "and the share of weightings that keep the sign. A gain whose sign flips under many weightings is "
                  "a statement about the index, not about the clusters.", "",
                  "| group | index gain | 5–95% over weightings | same sign |", "|---|---|---|---|"]
        for _, r in index_sens.iterrows():
            lines.append(f"| {r['group']} | {r['gain']:+.3f} | {r['gain_p05']:+.3f} … {r['gain_p95']:+.3f} | "
                         f"{r['same_sign']:.0%} |")
    lines += ["", "Full table (every summary outcome): `tables/outcomes_by_group.csv`; per cluster: "
              "`tables/national_probability.csv`.", ""]
    lines += list(effects_lines)

    lines += ["## Figures", ""]
    for i, (path, caption) in enumerate(figures, 1):
        if path is None:
            continue
        rel = path.relative_to(sw.root).as_posix()
        lines += [f"![Figure {i}]({rel})", "", f"*Figure {i}.* {caption}", ""]

    if not ce.empty:
        gaps = {c: g for c in ("extra_tax", "net_cost", "extra_retained_graduates", "extra_retained_3y_graduates",
                               "yuan_per_extra_graduate_3y", "extra_tiers_climbed_clusters", "yuan_per_extra_level")
                if (g := analysis.cost_gap(sw, c))}
        lines += ["## Cost-effectiveness", "",
                  "Relative to the reference group (marked *): extra public spending, the extra local tax the "
                  "package brings back and the net cost (extra spending minus extra tax) over the horizon; extra "
                  "spending divided by "
                  "extra graduates still in the city three years after graduating (cohorts old enough by the end), "
                  "and by extra energy levels climbed by the six clusters (– when the group does not do better "
                  "than the reference). Graduates kept at graduation are shown too: talent policy is judged on "
                  "who is still here later, not at graduation. Ratios of small differences are noisy: read them "
                  "with the confidence intervals of the key outcomes.", ""]
        said = {"not recorded": "*not recorded*: this sweep did not keep the column the cell is computed from (its "
                                "spec's `[outcomes]`; `python -m experiments plan SPEC` warns before a run)",
                "not measured": f"*not measured*: the horizon ({sw.raw.get('experiment', {}).get('horizon', 40)} "
                                f"quarters) is too short for it (graduates kept 3 years need {analysis.QUARTERS_3Y})"}
        if gaps:
            lines += ["; ".join(said[g] for g in dict.fromkeys(sorted(gaps.values())))
                      + ". This says nothing about the groups.", ""]
        lines += ["| group | spending (亿) | extra spending (亿) | extra local tax (亿) | net cost (亿) | "
                  "extra kept at graduation | extra kept 3 years | yuan per extra graduate kept 3 years | "
                  "extra levels | 亿 yuan per extra level |", "|---|---|---|---|---|---|---|---|---|---|"]
        for _, r in ce.iterrows():
            def num(key: str, scale: float = 1.0, fmt: str = "{:,.0f}", row: pd.Series = r) -> str:
                if key in gaps:
                    return gaps[key]
                v = row.get(key, np.nan)
                return fmt.format(v / scale) if pd.notna(v) and np.isfinite(v) else "–"
            lines.append(f"| {r['group']}{' *' if r['reference'] else ''} | {num('spending_total', 1e8, '{:.2f}')} | "
                         f"{num('extra_spending', 1e8, '{:.2f}')} | {num('extra_tax', 1e8, '{:.2f}')} | "
                         f"{num('net_cost', 1e8, '{:.2f}')} | {num('extra_retained_graduates', 1, '{:,.0f}')} | "
                         f"{num('extra_retained_3y_graduates', 1, '{:,.0f}')} | "
                         f"{num('yuan_per_extra_graduate_3y')} | "
                         f"{num('extra_tiers_climbed_clusters', 1, '{:.2f}')} | "
                         f"{num('yuan_per_extra_level', 1e8, '{:,.1f}')} |")
        lines.append("")

    if not sens.empty:
        lines += sensitivity_lines(sw, sens, sens_notes, labels)

    lines += ["## Failed runs", ""]
    if fails.empty:
        lines += ["None.", ""]
    else:
        lines += [f"{len(fails)} runs failed; they are left out of every statistic. Retry them with "
                  "`python -m experiments run SPEC --retry-failed`. First ones:", "",
                  "| run | point | replicate | error |", "|---|---|---|---|"]
        for _, r in fails.head(10).iterrows():
            lines.append(f"| `{r['run_id']}` | {r['point']} | {r['replicate']} | {str(r['error'])[:120]} |")
        lines += ["", "All: `tables/failed_runs.csv`; tracebacks: the `error` column of `runs/`.", ""]

    if len(factors) > 6:
        lines += ["## Appendix: factors", "", "| factor | label | values / distribution |", "|---|---|---|"]
        lines += [f"| `{n}` | {labels.get(n, n)} | {desc} |" for n, desc in factors.items()]
        lines.append("")

    lines += ["## Method", "",
              "- Each run's seed comes from `numpy.random.SeedSequence(experiment seed, point key, replicate)`; "
              "the run id hashes the resolved config, the seed and the model version (`provenance.json`).",
              "- Means use Student-t 95% intervals over runs; probabilities use Wilson 95% intervals.",
              "- Energy tiers: 0 emerging, 1 county, 2 provincial, 3 national, 4 world-class (configs/city.toml "
              "`[energy]`).", ""]
    return "\n".join(lines)
