"""Which channels carry a package's effect: ``python -m experiments explain SPEC`` / ``experiments.explain``.

Every lever acts through named channels (``configs/parameters.toml``; :mod:`sim.policy.instruments`), and a
config can switch channels off (``channels_off``: the channel then acts at its lever's status-quo
value). For each package (a preset) of the spec this runs, in the same worlds:

* the **reference** (status quo) and the **package**: the package's *effect* = package - reference;
* the package with **each channel switched off** in turn: *effect_without*; the channel's
  *contribution* = effect - effect_without (what the package loses without it);
* the package with **each channel alone** (the package's other channels off): *effect_alone*;
* the package with **all its channels off** (*effect_none*): exactly 0 for every outcome but public
  spending, since a lever's programme runs (and costs) whatever its channels do.

A package's channels are the union of the channels of the levers it changes, but for those the
spec's base already switches off (``[base] channels_off``): they are off in every run here, the
reference's too, contribute nothing by construction and are left out (the report names them); a
variant's channels off are added to the base's. Worlds are paired (common random numbers): replicate r
of every variant, and of the reference, runs with the same seed (``SeedSequence(seed, spawn_key=(r,))``,
as a ``crn = true`` sweep) and, with ``[base] uncertainties = "posterior"``, the same posterior draw
(r % posterior_draws). Each figure is the mean of the paired differences with a **Student-t 95%
interval**. Worlds that share a posterior draw share its parameters and differ in seed only, so they
are not independent: with posterior draws the differences are first averaged within each draw and the
mean and interval are over the draw means (t with draws - 1 degrees of freedom); without (each world
its own seed, fixed parameters) over the worlds (t with worlds - 1). A channel's *share* of the effect,
``(effect - effect_without) / effect``, is given where the effect's own interval excludes 0, with a
**percentile bootstrap 95% interval** (2,000 paired resamples of the same units: the draws, else the
worlds). The parts need not add up: *interaction* = effect - effect_none - sum of the contributions,
with its t interval over the same units (negative: the channels need each other; positive: they stand
in for one another).

Outputs (``DIR/explain/``): ``channels.csv`` (one row per package x channel x outcome), ``packages.csv``
(one row per package x outcome: effect, sum of the parts, interaction), ``runs.csv`` (every run),
``figures/<package>.png``, ``report.md`` (plain words; ``python -m experiments analyze DIR`` embeds it
when DIR holds a sweep too) and ``settings.json``. A rerun replaces ``DIR/explain/`` only when it holds
nothing but these files (:data:`OWN_FILES`, PNGs in ``figures/``); otherwise it refuses before any run.

The channels of a package, its variants and their configs, the per-world decomposition and the t
intervals are :mod:`sim.policy.attribution`, which the workshop page's "where does the effect come
from" view uses too; this module adds specs, runs, tables, the bootstrap and the files.

Spec: a sweep spec whose only factor is ``package`` (or none); packages, outcomes, replicates and
horizon come from an optional ``[explain]`` table, else from the sweep sections (``[levers] package``,
``[outcomes] summary``, ``[experiment] replicates`` / ``horizon``). See docs/experiments.md.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

import sim
from experiments.running import provenance, seeds
from experiments.running.runner import STATUS_OK, RunRecord, RunTask, config_fields, execute, probe_config
from experiments.running.spec import PACKAGE, Outcomes, Spec, SpecError, parse_spec
from sim.inputs.config import Channel, ConfigError, read_config_text
from sim.policy import attribution as _shared
from sim.state.records import HEADLINE_NAMES, HEADLINE_OUTCOMES
from sim.policy.attribution import (LEVEL, Variant, decompose, excludes_zero, group_means,  # noqa: F401 (re-exported)
                                    mean_ci)

BOOTSTRAP_RESAMPLES = 2000
# the headline outcomes first (sim.state.records.HEADLINE_OUTCOMES), then the paper's energy levels
DEFAULT_OUTCOMES = (*HEADLINE_NAMES, "tiers_climbed_clusters", "index_tiers_climbed", "county_clusters_final",
                    "mean_energy_index_final", "little_giants_final", "spending_total")
EXPLAIN_KEYS = ("packages", "outcomes", "replicates", "horizon", "reference")
MAX_REPLICATES = 10_000
SUBDIR = "explain"
OWN_FILES = ("channels.csv", "packages.csv", "runs.csv", "report.md", "settings.json")  # + figures/*.png
FIGURES = "figures"
CHANNEL_COLUMNS = ("package", "channel", "lever", "outcome", "effect", "effect_lo", "effect_hi",
                   "effect_without", "effect_without_lo", "effect_without_hi",
                   "effect_alone", "effect_alone_lo", "effect_alone_hi",
                   "contribution", "contribution_lo", "contribution_hi", "share", "share_lo", "share_hi", "n")
# outcome -> (label, divisor, unit) for words and figures (the CSVs keep the model's units)
DISPLAY: dict[str, tuple[str, float, str]] = {
    **{h.name: (h.en, h.scale, "pp" if h.unit_en == "%" else h.unit_en) for h in HEADLINE_OUTCOMES},
    "index_tiers_climbed": ("index tiers climbed (six clusters)", 1.0, "levels"),
    "county_clusters_final": ("clusters with MIIT county status at the end", 1.0, "clusters"),
    "value_added_final": ("value added at the end (annual rate)", 1e8, "亿 yuan/yr"),
    "revenue_final": ("revenue at the end (annual rate)", 1e8, "亿 yuan/yr"),
    "spending_total": ("public spending", 1e8, "亿 yuan"),
    "spending_talent_total": ("talent spending", 1e8, "亿 yuan"),
    "tiers_climbed_clusters": ("energy levels climbed (six clusters)", 1.0, "levels"),
    "tiers_climbed_total": ("energy levels climbed (all clusters)", 1.0, "levels"),
    "mean_energy_index_final": ("mean energy index at the end", 1.0, "index"),
    "retention_3y": ("graduates still in the city after 3 years", 0.01, "pp"),
    "graduate_retention": ("graduate retention", 0.01, "pp"),
    "little_giants_final": ("little giants at the end", 1.0, "firms"),
    "firms_final": ("firms at the end", 1.0, "firms"),
}


class ExplainError(SpecError):
    """Bad input for explain (one line naming the key, the value and what is allowed)."""


# ---------------------------------------------------------------------------- spec
@dataclass(frozen=True)
class ExplainSpec:
    """What to explain: the sweep spec (base, seed, posterior), the packages, outcomes, replicates, horizon."""

    spec: Spec
    packages: tuple[sim.Preset, ...]
    reference: sim.Preset
    outcomes: tuple[str, ...]
    replicates: int
    horizon: int
    channels: Mapping[str, tuple[Channel, ...]] = field(default_factory=dict)  # package -> channels
    off_in_base: Mapping[str, tuple[Channel, ...]] = field(default_factory=dict)  # package -> its channels off in base

    @property
    def base(self) -> sim.Config:
        return self.spec.base.with_overrides({}, quarters=self.horizon)

    def seed_of(self, replicate: int) -> int:
        """Replicate r's seed: the same for every variant (and as in a ``crn = true`` sweep of the spec)."""
        return seeds.run_seed(self.spec.seed, None, replicate)

    def draw_of(self, replicate: int) -> int | None:
        return self.spec.draw_of(replicate)

    @property
    def n_draws_used(self) -> int:
        """How many posterior draws the replicates use (0 without a posterior): the units of the intervals."""
        return len({self.draw_of(r) for r in range(self.replicates)}) if self.spec.n_draws else 0

    def describe(self) -> str:
        d = self.spec.n_draws
        worlds = (f"{self.replicates} replicates (posterior draw r % {d}, own seed each)" if d
                  else f"{self.replicates} replicates (seeds only; no posterior)")
        return f"{len(self.packages)} packages, {worlds}, {self.horizon} quarters"


def _strip_explain(text: str, raw: Mapping[str, Any], where: str) -> str:
    """The spec text without its ``[explain]`` table (sweeps do not know that section)."""
    lines = text.splitlines(keepends=True)
    out, skipping = [], False
    for line in lines:
        if re.match(r"^\s*\[", line):
            skipping = re.match(r"^\s*\[\s*explain\s*\]\s*(#.*)?$", line) is not None
        if not skipping:
            out.append(line)
    stripped = "".join(out)
    try:
        same = tomllib.loads(stripped) == {k: v for k, v in raw.items() if k != "explain"}
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise ExplainError(f"{where}: [explain] must be one table of its own (an [explain] header followed by "
                           f"its keys: {', '.join(EXPLAIN_KEYS)})")
    return stripped


def _suggest(value: str, allowed: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(value), list(allowed), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{hint} Allowed: {', '.join(allowed)}."


def _int(t: Mapping[str, Any], key: str, where: str, low: int, high: int) -> int | None:
    if key not in t:
        return None
    v = t[key]
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ExplainError(f"{where}: [explain] {key}: {v!r} is not allowed; give an integer from {low} to {high}")
    return v


def parse_explain_spec(text: str, path: str | Path | None = None,
                       packages: Sequence[str | sim.Preset] | None = None) -> ExplainSpec:
    """Validate spec TOML text for explain; ``packages`` (preset keys, or :class:`sim.Preset` objects for
    packages that are not in configs/presets.toml) overrides the spec's."""
    where = Path(path).name if path is not None else "spec"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExplainError(f"{where}: not valid TOML: {exc}") from None
    ex = raw.get("explain", {})
    if not isinstance(ex, Mapping):
        raise ExplainError(f"{where}: [explain] must be a table")
    for key in ex:
        if key not in EXPLAIN_KEYS:
            raise ExplainError(f"{where}: [explain] unknown key {key!r}.{_suggest(key, EXPLAIN_KEYS)}")
    spec = parse_spec(_strip_explain(text, raw, where) if "explain" in raw else text, path=path)
    others = [f"{f.name} ({f.kind})" for f in spec.factors if f.name != PACKAGE]
    if others:
        raise ExplainError(f"{where}: explain compares packages in the spec's base world and sweeps nothing else; "
                           f"remove the other factors: {', '.join(others[:4])}"
                           + (f" ... ({len(others)} in all)" if len(others) > 4 else ""))
    if spec.draws is not None and spec.posterior_per != "replicate":
        raise ExplainError(f"{where}: [base] posterior_per = {spec.posterior_per!r} is not allowed for explain; "
                           "draws go with replicates (leave posterior_per out)")
    presets = sim.load_presets()
    ref_key = ex.get("reference", "status_quo")
    if not isinstance(ref_key, str) or ref_key not in presets:
        raise ExplainError(f"{where}: [explain] reference: {ref_key!r} is not a preset.{_suggest(str(ref_key), list(presets))}")
    reference = presets[ref_key]
    chosen = _packages(packages, ex, spec, presets, reference, where)
    replicates = _int(ex, "replicates", where, 1, MAX_REPLICATES) or spec.replicates
    horizon = _int(ex, "horizon", where, 1, 400) or spec.horizon
    outcomes = _outcomes(ex, spec, where)
    es = ExplainSpec(spec=spec, packages=tuple(chosen), reference=reference, outcomes=outcomes,
                     replicates=replicates, horizon=horizon)
    return ExplainSpec(**{**es.__dict__, "channels": {p.key: package_channels(es, p, where) for p in chosen},
                          "off_in_base": {p.key: _shared.channels_off_in_base(*_ref_and_package(es, p))
                                          for p in chosen}})


def load_explain_spec(path: str | Path, packages: Sequence[str | sim.Preset] | None = None) -> ExplainSpec:
    try:
        text = read_config_text(path, "spec file")
    except ConfigError as exc:
        raise ExplainError(str(exc)) from None
    return parse_explain_spec(text, path=Path(path), packages=packages)


def _packages(given: Sequence[str | sim.Preset] | None, ex: Mapping[str, Any], spec: Spec,
              presets: Mapping[str, sim.Preset], reference: sim.Preset, where: str) -> list[sim.Preset]:
    keys = list(presets)
    if given is not None:
        source, items = "--packages", list(given)
    elif "packages" in ex:
        source, items = "[explain] packages", ex["packages"]
        if items == "all":
            items = [k for k in keys if k != reference.key]
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ExplainError(f'{where}: [explain] packages: {items!r} is not allowed; give a list of preset keys or '
                               f'"all". Presets: {", ".join(keys)}')
    elif PACKAGE in spec.factor_names:
        source = "[levers] package"
        items = [v for v in spec.factor(PACKAGE).values if v != reference.key]
    else:
        items, source = [], ""
    if not items:
        raise ExplainError(f"{where}: no package to explain; give [explain] packages, a [levers] package factor or "
                           f"--packages (presets other than the reference {reference.key!r}: "
                           f"{', '.join(k for k in keys if k != reference.key)})")
    out: list[sim.Preset] = []
    for item in items:
        if isinstance(item, sim.Preset):
            preset = item
        elif not isinstance(item, str) or item not in presets:
            raise ExplainError(f"{where}: {source}: {item!r} is not a preset in configs/presets.toml."
                               f"{_suggest(str(item), [k for k in keys if k != reference.key])}")
        else:
            preset = presets[item]
        if preset.key == reference.key:
            raise ExplainError(f"{where}: {source}: {preset.key!r} is the reference; give the packages to compare with it")
        if any(p.key == preset.key for p in out):
            raise ExplainError(f"{where}: {source}: {preset.key!r} is listed twice")
        out.append(preset)
    return out


def _outcomes(ex: Mapping[str, Any], spec: Spec, where: str) -> tuple[str, ...]:
    if "outcomes" in ex:
        v = ex["outcomes"]
        if not isinstance(v, list) or not v or not all(isinstance(o, str) and o for o in v) or len(set(v)) != len(v):
            raise ExplainError(f"{where}: [explain] outcomes: {v!r} is not allowed; give a non-empty list of distinct "
                               "summary outcome names, e.g. [\"value_added_final\", \"retention_3y\"]")
        chosen = tuple(v)
    elif spec.outcomes.summary != "all":
        chosen = tuple(spec.outcomes.summary)
    else:
        chosen = DEFAULT_OUTCOMES
    known = _summary_keys(spec.base)
    for o in chosen:
        if o not in known:
            raise ExplainError(f"{where}: outcome {o!r} is not a summary outcome of the model.{_suggest(o, known)}")
    return chosen


def _summary_keys(base: sim.Config) -> list[str]:
    """The model's summary keys (numeric ones), from a one-quarter probe run (timed levers at their
    in-window value: :func:`experiments.running.runner.probe_config`, as a sweep probes)."""
    summary = sim.run_scenario(probe_config(base), 0).summary()
    return [k for k, v in summary.items() if isinstance(v, (int, float, bool, np.number, np.bool_))]


def package_channels(es: ExplainSpec, preset: sim.Preset, where: str = "spec") -> tuple[Channel, ...]:
    """The channels of the levers ``preset`` changes against the reference (in lever, then declaration order;
    :func:`sim.policy.attribution.package_channels`).

    Refused (one line) when a changed lever's reference value is not its status-quo value: a switched-off
    channel acts at the status-quo value, so the package would not split into its channels then."""
    ref, pkg = _ref_and_package(es, preset)
    try:
        return _shared.package_channels(ref, pkg)
    except _shared.AttributionError as exc:
        d = exc.detail
        if exc.problem == "unchanged":
            raise ExplainError(f"{where}: package {preset.key!r} changes no lever against the reference "
                               f"{es.reference.key!r}; nothing to explain") from None
        if exc.problem == "reference_not_status_quo":
            raise ExplainError(f"{where}: lever {d['lever']} is {d['value']!r} in the reference {es.reference.key!r}, "
                               f"not its status-quo value {d['default']!r}; a switched-off channel acts at the status "
                               "quo, so explain needs a reference at the status quo for the levers a package changes "
                               "(check [base] package / [base.levers] / [explain] reference)") from None
        why = (f"whose channels ({', '.join(d['off'])}) are all switched off in the base ([base] channels_off)"
               if d.get("off") else "which declare no channels")
        raise ExplainError(f"{where}: package {preset.key!r} changes {', '.join(d['levers'])}, {why}; "
                           "nothing to explain") from None


def _ref_and_package(es: ExplainSpec, preset: sim.Preset) -> tuple[sim.Config, sim.Config]:
    return es.base.with_overrides(dict(es.reference.levers)), es.base.with_overrides(dict(preset.levers))


# ---------------------------------------------------------------------------- variants and runs
# Variant, the variants of a package and their configs: sim.policy.attribution (shared with the workshop page)
def variants(es: ExplainSpec) -> list[Variant]:
    """The reference, then per package: the package, each channel off, each channel alone, all off."""
    out = [Variant(es.reference.key, "reference", None, dict(es.reference.levers))]
    for p in es.packages:
        out += _shared.package_variants(p.key, p.levers, es.channels[p.key], alone=True)
    return out


def variant_config(es: ExplainSpec, v: Variant, replicate: int) -> sim.Config:
    """The resolved config of ``v`` in replicate ``replicate``: base, posterior draw, levers, channels off."""
    return _shared.variant_config(es.base, v, es.spec.draw_values(es.draw_of(replicate)))


def plan(es: ExplainSpec, model_version: str) -> tuple[pd.DataFrame, dict[str, RunTask]]:
    """One row per (variant, replicate) with its run id, and the distinct runs as tasks (identical configs
    in the same world are one run: e.g. "without A" and "alone B" of a two-channel package)."""
    outcomes = Outcomes(summary=es.outcomes, city=(), clusters=(), districts=())
    rows: list[dict[str, Any]] = []
    tasks: dict[str, RunTask] = {}
    for i, v in enumerate(variants(es)):
        cached: dict[int | None, sim.Config] = {}
        for r in range(es.replicates):
            draw = es.draw_of(r)
            if draw not in cached:
                cached[draw] = variant_config(es, v, r)
            cfg = cached[draw]
            seed = es.seed_of(r)
            digest = cfg.digest()
            rid = seeds.run_id(digest, seed, model_version)
            rows.append({"variant": i, "package": v.package, "kind": v.kind, "channel": v.channel, "replicate": r,
                         "draw": draw, "seed": seed, "run_id": rid})
            if rid not in tasks:  # scenario, values, schedules (timed levers) and channels off, as a sweep's
                design = {"package": v.package, "variant": v.kind, "channel": v.channel or ""}
                if draw is not None:
                    design["draw"] = draw
                tasks[rid] = RunTask(run_id=rid, point=i, replicate=r, seed=seed, **config_fields(cfg),
                                     config_digest=digest, model_version=model_version, design=design,
                                     outcomes=outcomes)
    df = pd.DataFrame(rows)
    df["seed"] = df["seed"].astype("int64")
    return df, tasks


def run_plan(es: ExplainSpec, executor: Any = None, model: Callable | None = None, progress: bool = False,
             tasks: Mapping[str, RunTask] | None = None, model_version: str | None = None) -> pd.DataFrame:
    """Run every distinct run of the plan with ``executor`` (default serial); one row per (variant,
    replicate): the plan's columns, ``status``, ``error`` and the outcomes. The order of the rows and
    every value are the same whatever the executor (results are looked up by run id)."""
    from tqdm import tqdm

    from experiments.running.executors import SerialExecutor

    mv = model_version or (provenance.model_version() if model is None else "test-model")
    rows, all_tasks = plan(es, mv)
    todo = dict(tasks if tasks is not None else all_tasks)
    executor = executor or SerialExecutor()
    fn = execute if model is None else functools.partial(execute, model=model)
    records: dict[str, RunRecord] = {}
    bar = tqdm(total=len(todo), disable=not progress, unit="run", desc="explain", dynamic_ncols=True,
               mininterval=0.5 if sys.stderr.isatty() else 15.0, file=sys.stderr)
    try:
        with executor as ex:
            for record in ex.imap_unordered(fn, list(todo.values())):
                records[record.run_id] = RunRecord(row={k: record.row[k] for k in ("run_id", "status", "error")},
                                                   summary=record.summary)
                bar.update(1)
                if not record.ok:
                    bar.set_postfix_str(f"failed={sum(not r.ok for r in records.values())}", refresh=False)
    finally:
        bar.close()
    status, error, values = [], [], {o: [] for o in es.outcomes}
    for rid in rows["run_id"]:
        rec = records.get(rid)
        ok = rec is not None and rec.ok
        status.append(rec.row["status"] if rec is not None else "missing")
        err = (rec.row.get("error") or "") if rec is not None else ""
        error.append(err.strip().splitlines()[-1] if err.strip() else "")
        for o in es.outcomes:
            values[o].append(float(rec.summary[o]) if ok else np.nan)
    return rows.assign(status=status, error=error, **values)


# ---------------------------------------------------------------------------- statistics
# mean_ci (Student t, over worlds or over draw means) and excludes_zero: sim.policy.attribution (shared
# with the workshop page)
def share_interval(contribution: np.ndarray, effect: np.ndarray, key: Mapping[str, Any],
                   seed: int, groups: np.ndarray | None = None) -> tuple[float, float, float]:
    """``mean(contribution) / mean(effect)`` with a paired percentile-bootstrap interval (the stream is
    fixed by ``seed`` and ``key``, so reruns give the same interval). Without ``groups`` it resamples
    worlds; with ``groups`` (each world's posterior draw) it resamples draws: the worlds of a draw are
    averaged first (as :func:`mean_ci` does), so the share is that of the draw means."""
    if groups is not None:
        contribution, effect = group_means(contribution, groups), group_means(effect, groups)
    share = float(contribution.mean() / effect.mean())
    if contribution.size < 2:
        return share, math.nan, math.nan
    if np.all(contribution == contribution[0]) and np.all(effect == effect[0]):
        return share, share, share
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xE7, *seeds.point_key(key))))
    # resamples whose mean effect is 0 (an outcome the package rarely moves, e.g. county status) give an
    # undefined ratio: the interval is then NaN ("no share"), said in the report, not warned about on stderr
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        res = stats.bootstrap((contribution, effect), lambda a, b, axis=-1: a.mean(axis) / b.mean(axis),
                              paired=True, vectorized=True, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                              confidence_level=LEVEL, rng=rng)
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return share, lo, hi


def _variance_split(d: np.ndarray, draws: np.ndarray | None) -> float:
    from experiments.reading.effects import variance_split

    return math.nan if draws is None else variance_split(d, draws)


def tables(es: ExplainSpec, runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``channels`` (one row per package x channel x outcome) and ``packages`` (one row per package x outcome)
    from the runs of :func:`run_plan`. A replicate counts for a package when its reference run and every run
    of the package's variants finished; ``n`` says how many did."""
    ok = runs["status"] == STATUS_OK
    ref = runs[runs["kind"] == "reference"].set_index("replicate")
    ch_rows, pk_rows = [], []
    for p in es.packages:
        chans = es.channels[p.key]
        mine = runs[runs["package"] == p.key]
        good = ref.index[ref["status"] == STATUS_OK]
        bad = set(mine.loc[~ok.loc[mine.index], "replicate"])
        reps = [r for r in good if r not in bad]
        draws = ref.loc[reps, "draw"].to_numpy() if "draw" in ref and ref["draw"].notna().all() else None
        # worlds sharing a posterior draw are not independent: intervals over the draw means (None: per world)
        groups = draws if es.spec.n_draws else None
        ci = functools.partial(mean_ci, groups=groups)

        def values(kind: str, channel: str | None, outcome: str) -> np.ndarray:
            sel = mine[(mine["kind"] == kind) & ((mine["channel"] == channel) if channel else mine["channel"].isna())]
            return sel.set_index("replicate").loc[reps, outcome].to_numpy(float)

        for o in es.outcomes:
            dec = decompose(ref.loc[reps, o].to_numpy(float), values("package", None, o),
                            {c.name: values("without", c.name, o) for c in chans}, values("none", None, o),
                            {c.name: values("alone", c.name, o) for c in chans})
            eff, contribs = dec.effect, dec.contribution
            e, elo, ehi = ci(eff)
            measurable = excludes_zero(elo, ehi)
            for c in chans:
                contrib = contribs[c.name]
                w, wlo, whi = ci(dec.without[c.name])
                a, alo, ahi = ci(dec.alone[c.name])
                k, klo, khi = ci(contrib)
                if measurable and len(reps):
                    s, slo, shi = share_interval(contrib, eff, {"package": p.key, "channel": c.name, "outcome": o},
                                                 es.spec.seed, groups)
                else:
                    s = slo = shi = math.nan
                ch_rows.append({"package": p.key, "channel": c.name, "lever": c.lever, "outcome": o,
                                "effect": e, "effect_lo": elo, "effect_hi": ehi,
                                "effect_without": w, "effect_without_lo": wlo, "effect_without_hi": whi,
                                "effect_alone": a, "effect_alone_lo": alo, "effect_alone_hi": ahi,
                                "contribution": k, "contribution_lo": klo, "contribution_hi": khi,
                                "share": s, "share_lo": slo, "share_hi": shi, "n": len(reps)})
            row = {"package": p.key, "outcome": o, "channels": len(chans), "n": len(reps),
                   "draws": _shared.n_units(len(reps), groups) if groups is not None else 0,
                   "failed_replicates": es.replicates - len(reps)}
            for name, d in (("effect", eff), ("effect_none", dec.none), ("sum_contributions", dec.sum_contributions),
                            ("interaction", dec.interaction), ("sum_alone", dec.sum_alone)):
                m, lo, hi = ci(d)
                row |= {name: m, f"{name}_lo": lo, f"{name}_hi": hi}
            row["parameter_share"] = _variance_split(eff, draws)
            pk_rows.append(row)
    return pd.DataFrame(ch_rows, columns=list(CHANNEL_COLUMNS)), pd.DataFrame(pk_rows)


# ---------------------------------------------------------------------------- the whole job
@dataclass
class ExplainResult:
    channels: pd.DataFrame
    packages: pd.DataFrame
    runs: pd.DataFrame
    out: Path | None
    seconds: float
    distinct_runs: int
    failed_runs: int


def default_out_dir(es: ExplainSpec, results_root: str | Path = "results") -> Path:
    stem = es.spec.path.stem if es.spec.path is not None else es.spec.name
    return Path(results_root) / stem


def foreign_files(sub: Path) -> list[str]:
    """What ``sub`` (an ``explain/`` folder) holds besides explain's own outputs (:data:`OWN_FILES` and
    ``figures/*.png``), as paths relative to it; ``[]`` when a rerun may replace it whole. A folder with
    own-named files but no ``settings.json`` counts as foreign (``settings.json`` is named then)."""
    if not sub.is_dir():
        return [sub.name]
    out: list[str] = []
    for item in sorted(sub.iterdir()):
        if item.name in OWN_FILES and item.is_file() and not item.is_symlink():
            continue
        if item.name == FIGURES and item.is_dir() and not item.is_symlink():
            out += [f"{FIGURES}/{f.name}" for f in sorted(item.iterdir())
                    if not (f.suffix == ".png" and f.is_file() and not f.is_symlink())]
            continue
        out.append(item.name + ("/" if item.is_dir() else ""))
    if not out and any(sub.iterdir()) and not (sub / "settings.json").is_file():
        out.append("(no settings.json: not written by explain)")
    return out


def _refuse_foreign(out: Path) -> None:
    sub = out / SUBDIR
    if not (sub.exists() or sub.is_symlink()):
        return
    if sub.is_symlink() or not sub.is_dir():
        raise ExplainError(f"--out {out}: {sub} exists and is not a folder explain wrote; move it or give "
                           "another --out")
    foreign = foreign_files(sub)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" ... ({len(foreign)} in all)" if len(foreign) > 5 else "")
        raise ExplainError(f"--out {out}: {sub} holds files explain did not write ({shown}); a rerun replaces the "
                           "folder whole, so move them or give another --out")


def check_out(out: str | Path) -> Path:
    """Refuse an --out that is a file, cannot be written, or whose ``explain/`` holds anything but explain's
    own outputs (:func:`foreign_files`: a rerun replaces that folder whole)."""
    from sim.outputs.cli import unwritable_folder

    out = Path(out)
    if str(out).strip() == "":
        raise ExplainError("--out '': empty path; give a results folder")
    if out.exists() and not out.is_dir():
        raise ExplainError(f"--out {out}: is an existing file, not a folder; give a results folder")
    problem = unwritable_folder(out)
    if problem:
        raise ExplainError(f"--out {out}: {problem}")
    _refuse_foreign(out)
    return out


def explain(spec: str | Path | ExplainSpec, packages: Sequence[str | sim.Preset] | None = None,
            out: str | Path | None = None, executor: Any = None, *, model: Callable | None = None,
            progress: bool = True, write: bool = True) -> ExplainResult:
    """Explain each package of ``spec`` by its channels; writes ``OUT/explain/`` (default
    ``results/<spec name>``) unless ``write=False``. ``executor``: an executor of
    :mod:`experiments.running.executors` (default serial); results do not depend on it."""
    es = spec if isinstance(spec, ExplainSpec) else load_explain_spec(spec, packages)
    if isinstance(spec, ExplainSpec) and packages is not None:
        raise ExplainError("packages: give them in the ExplainSpec (parse_explain_spec(..., packages=...))")
    target = check_out(out if out is not None else default_out_dir(es)) if write else None
    started = time.time()
    mv = provenance.model_version() if model is None else "test-model"
    rows, tasks = plan(es, mv)
    if progress:
        chans = sum(len(c) for c in es.channels.values())
        print(f"explain: {es.describe()}; {chans} channels; {len(tasks):,} distinct runs "
              f"({len(rows):,} paired cells)", file=sys.stderr)
    runs = run_plan(es, executor, model, progress, tasks=tasks, model_version=mv)
    channels, pkgs = tables(es, runs)
    seconds = time.time() - started
    failed = int(runs.drop_duplicates("run_id")["status"].ne(STATUS_OK).sum())
    result = ExplainResult(channels=channels, packages=pkgs, runs=runs, out=None, seconds=seconds,
                           distinct_runs=len(tasks), failed_runs=failed)
    if target is not None:
        result.out = write_outputs(es, result, target, executor)
    return result


def interval_method(es: ExplainSpec) -> str:
    """The method sentence of the intervals (settings.json ``interval``; the report quotes it)."""
    g = es.n_draws_used
    if g:
        per = es.replicates / g
        avg = (f" ({_per_draw(per)} seeds averaged within a draw)" if per > 1 else
               " (one seed per draw)")
        if g < 2:
            return f"none: 1 posterior draw{avg} gives no interval (worlds sharing a draw are not independent)"
        return (f"Student t {LEVEL:.0%} over the {g} posterior draws{avg}, t with {_dof(g - 1)} "
                f"(worlds sharing a draw are not independent); share: percentile bootstrap {LEVEL:.0%}, "
                f"{BOOTSTRAP_RESAMPLES} resamples of the {g} draws")
    n = es.replicates
    if n < 2:
        return "none: 1 world gives no interval"
    return (f"Student t {LEVEL:.0%} over the {n} worlds (each its own seed, fixed parameters), t with "
            f"{_dof(n - 1)}; share: percentile bootstrap {LEVEL:.0%}, {BOOTSTRAP_RESAMPLES} paired resamples "
            "of the worlds")


def _dof(k: int) -> str:
    return f"{k} degree{'s' * (k != 1)} of freedom"


def _per_draw(per: float) -> str:
    return f"{per:g}" if float(per).is_integer() else f"{math.floor(per)}-{math.ceil(per)}"


def settings(es: ExplainSpec, result: ExplainResult, executor: Any) -> dict[str, Any]:
    ex = executor.describe() if executor is not None and hasattr(executor, "describe") else {"executor": "serial"}
    return {
        "spec": es.spec.name, "spec_file": str(es.spec.path) if es.spec.path else None, "seed": es.spec.seed,
        "reference": es.reference.key, "packages": [p.key for p in es.packages],
        "package_labels": {p.key: p.label_en for p in es.packages} | {es.reference.key: es.reference.label_en},
        "package_levers": {p.key: dict(p.levers) for p in es.packages},
        "outcomes": list(es.outcomes), "replicates": es.replicates, "horizon": es.horizon,
        "start": es.base.scenario["start"], "posterior_draws": es.spec.n_draws,
        "posterior": str(es.spec.posterior.path) if es.spec.posterior is not None and
        hasattr(es.spec.posterior, "path") else None,
        "interval": interval_method(es), "interval_units": "draws" if es.n_draws_used else "worlds",
        "interval_df": (es.n_draws_used or es.replicates) - 1,
        "base_channels_off": sorted(es.base.channels_off),
        "channels_off_in_base": {k: [c.name for c in v] for k, v in es.off_in_base.items() if v},
        "distinct_runs": result.distinct_runs, "failed_runs": result.failed_runs,
        "wall_s": round(result.seconds, 1), "executor": ex, "model_version": provenance.model_version(),
        "written": provenance.now(),
    }


def write_outputs(es: ExplainSpec, result: ExplainResult, out: Path, executor: Any = None) -> Path:
    """Write ``out/explain/`` whole: into a temporary folder first, then swapped in (an old one removed)."""
    from experiments import attribution_report

    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{SUBDIR}-", dir=out))
    try:
        result.channels.to_csv(tmp / "channels.csv", index=False)
        result.packages.to_csv(tmp / "packages.csv", index=False)
        result.runs.to_csv(tmp / "runs.csv", index=False)
        meta = settings(es, result, executor)
        channel_info = {c.name: {"en": c.en, "zh": c.zh, "lever": c.lever, "submodel": c.submodel}
                        for chans in es.channels.values() for c in chans}
        meta["channel_info"] = channel_info
        (tmp / "settings.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n",
                                           encoding="utf-8")
        attribution_report.figures(result.channels, result.packages, meta, tmp / "figures")
        (tmp / "report.md").write_text(attribution_report.markdown(tmp, link_prefix=""), encoding="utf-8")
        final = out / SUBDIR
        _refuse_foreign(out)  # again: files may have been put there while the runs went on
        aside = None
        if final.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{SUBDIR}-old-", dir=out))
            os.rmdir(aside)
            os.rename(final, aside)
        os.rename(tmp, final)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def parse_packages_arg(text: str | None) -> list[str] | None:
    """``--packages a,b`` -> ["a", "b"] (None when not given); refuses an empty list."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",")]
    if not any(items) or any(not t for t in items):
        raise ExplainError(f"--packages {text!r}: give preset keys separated by commas, e.g. coordinate,digital")
    return items

