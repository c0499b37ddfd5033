"""Robustness of policies across the futures of a sweep: regret and satisficing.

A *policy* is a combination of the swept levers (usually the ``package``); a *future* is a
combination of the swept uncertainties (and facts, settings). Robustness needs every policy run in
the same futures: a crossed design, e.g. an ``lhs`` over the uncertainties with ``[design] cross =
["package"]`` (``configs/experiments/futures_lhs.toml``), or a ``full_factorial``.

* **Regret** (Savage), per outcome and future: how far a policy falls short of the best policy in that
  future, ``|best - value|`` with best = max (or min, for outcomes where less is better, see
  :data:`experiments.running.goals.DIRECTIONS`); the value of a policy in a future is the mean over
  its ok replicates. Per policy: the largest regret over the futures (minimax regret), the mean,
  the 90th percentile, and the share of futures where it is the best.
* **Satisficing**: the share of runs (futures x seeds) in which a policy meets every goal, e.g.
  ``retention_3y >= 0.35`` and ``n_national_clusters >= 1`` (Wilson 95% interval), and per goal.

Every claim carries its uncertainty: the largest regret has a 95% interval under seed noise (a bootstrap
over the seeds of each future) and ``P(smallest)``; a policy is called the best, or the one meeting the
goals most often, only when its interval is clear of every other policy's. Otherwise the section says
which policies are indistinguishable at this sample size; policies with equal values are a tie.

Goals and outcomes come from the arguments, else the stored spec's ``[robustness]`` table
(``goals = [...]``, ``outcomes = [...]``, see :func:`experiments.running.goals.check_options`).

    python -m experiments robustness results/futures_lhs --goal "retention_3y >= 0.35" --goal "n_national_clusters >= 1"
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.decision import data, sections
from experiments.running.goals import DIRECTIONS, MAXIMIZE, check_options, direction, evaluate

DEFAULT_OUTCOMES = ("n_national_clusters", "tiers_climbed_clusters", "retention_3y", "outflow_beijing_total",
                    "spending_total")


class RobustnessError(ValueError):
    """The sweep cannot be judged for robustness (no levers swept, no crossed futures, no goals)."""


@dataclass
class Robustness:
    root: Path
    goals: list[str]
    outcomes: list[str]
    policies: list[str]  # labels, in design order
    futures: int  # complete futures (every policy ran in them)
    regret: pd.DataFrame  # policy x outcome: max / mean / p90 regret, best share
    satisficing: pd.DataFrame  # policy: runs, share meeting all goals (+ CI), share per goal
    notes: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    section: str = ""


def robustness(root: str | Path, goals: Sequence[str] | None = None, outcomes: Sequence[str] | None = None,
               write: bool = True) -> Robustness:
    """Regret and satisficing of each policy of the sweep in ``root``; writes ``DIR/robustness/``."""
    sw = data.read(root)
    opts = check_options(sw.section("robustness"), "spec.toml [robustness]")
    goals = list(goals) if goals else opts.get("goals")
    if not goals:
        raise RobustnessError(f"{sw.root}: no goals; give --goal \"retention_3y >= 0.35\" (repeatable) or "
                              "[robustness] goals = [...] in the spec")
    outcomes = list(outcomes) if outcomes else opts.get("outcomes") or [o for o in DEFAULT_OUTCOMES if o in sw.outcomes]
    for o in outcomes:
        if o not in sw.outcomes:
            raise RobustnessError(f"outcome {o!r} is not a summary outcome of this sweep; allowed: "
                                  f"{', '.join(sw.outcomes)}")
        if direction(o) is None:
            raise RobustnessError(f"outcome {o!r} has no known better direction for regret; allowed: "
                                  f"{', '.join(o for o in sw.outcomes if direction(o) is not None)}")
    if not sw.levers:
        raise RobustnessError(f"{sw.root}: the sweep varies no lever or package, so there are no policies to "
                              "compare; sweep [levers] package (or levers) across the futures")
    ok = sw.ok
    if ok.empty:
        raise RobustnessError(f"{sw.root}: no finished (ok) runs yet")
    for g in goals:
        evaluate(ok, g, columns=sw.outcomes, where="goal")  # names and type first: one clear line
    policy = _labels(ok, sw.levers)
    future = _keys(ok, sw.uncertainties)
    ok = ok.assign(_policy=policy.values, _future=future.values)
    order = list(dict.fromkeys(_labels(sw.runs, sw.levers)))
    regret, notes = regret_table(ok, outcomes, order)
    sat = satisficing_table(ok, goals, order)
    res = Robustness(root=sw.root, goals=list(goals), outcomes=outcomes, policies=order,
                     futures=int(notes.get("complete_futures", 0)), regret=regret, satisficing=sat, notes=notes)
    if write:
        _write(res)
    return res


def _labels(df: pd.DataFrame, levers: list[str]) -> pd.Series:
    pk = data.package_labels()
    if levers == [data.PACKAGE]:
        return df[data.PACKAGE].map(lambda v: pk.get(v, v))
    parts = [df[f].map(lambda v, f=f: pk.get(v, v) if f == data.PACKAGE else f"{f}={data.fmt(v)}") for f in levers]
    return pd.concat(parts, axis=1).agg("; ".join, axis=1)


def _keys(df: pd.DataFrame, uncs: list[str]) -> pd.Series:
    if not uncs:
        return pd.Series("base", index=df.index)
    return df[uncs].astype(str).agg("|".join, axis=1)


def regret_table(ok: pd.DataFrame, outcomes: Sequence[str], order: Sequence[str]) -> tuple[pd.DataFrame, dict]:
    """Per policy and outcome: regret across the futures in which every policy has an ok run, and how
    much of it seed noise could change: a bootstrap over the seeds of each future (the replicates of a
    future drawn with replacement, the same draw for every policy: common random numbers stay paired)
    gives a 95% interval of the largest regret and the share of resamples in which the policy has the
    smallest one (``p_least_max_regret``, ties split). The futures are taken as given. With one seed per
    future the noise is not measured: no interval (NaN)."""
    from experiments.reading.analysis import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED

    rows, notes = [], {}
    for o in outcomes:
        values = ok.assign(_v=pd.to_numeric(ok[o], errors="coerce"))
        cells = values.groupby(["_future", "_policy"])["_v"].mean()
        grid = cells.unstack("_policy").reindex(columns=list(order))
        complete = grid.dropna()
        notes[f"dropped_futures_{o}"] = int(len(grid) - len(complete))
        notes["complete_futures"] = max(notes.get("complete_futures", 0), len(complete))
        if complete.empty:
            continue
        sign = 1 if direction(o) == MAXIMIZE else -1
        tie = _tie_tolerance(complete.to_numpy(dtype=float))
        best = (complete * sign).max(axis=1) * sign
        reg = complete.rsub(best, axis=0).abs()
        cube = _seed_cube(values, list(complete.index), list(order))
        seeds = int(np.isfinite(cube).sum(axis=2).max())
        notes["seeds_per_future"] = max(notes.get("seeds_per_future", 0), seeds)
        boot = (_bootstrap_max_regret(cube, complete.to_numpy(dtype=float), sign, tie, BOOTSTRAP_RESAMPLES,
                                      np.random.default_rng(BOOTSTRAP_SEED)) if seeds >= 2 else None)
        least = _least_share(boot, tie) if boot is not None else np.full(len(order), np.nan)
        for j, p in enumerate(order):
            r = reg[p]
            lo, hi = (np.percentile(boot[:, j], [2.5, 97.5]) if boot is not None else (np.nan, np.nan))
            rows.append({"policy": p, "outcome": o, "direction": "max" if sign > 0 else "min",
                         "futures": len(r), "seeds": seeds, "max_regret": float(r.max()),
                         "max_regret_low": float(lo), "max_regret_high": float(hi),
                         "p_least_max_regret": float(least[j]), "mean_regret": float(r.mean()),
                         "p90_regret": float(r.quantile(0.9)), "best_share": float((r <= tie).mean()),
                         "mean_value": float(complete[p].mean()), "tie_tolerance": tie})
    if not rows:
        raise RobustnessError("no future has an ok run of every policy: robustness needs every policy run in the "
                              "same futures (a crossed design: an lhs with [design] cross = [\"package\"], or a "
                              "full_factorial); an LHS that samples levers and uncertainties together gives each "
                              "future one policy")
    return pd.DataFrame(rows), notes


def _tie_tolerance(values: np.ndarray) -> float:
    """Regrets below this are ties (0): float rounding of means, relative to the outcome's size (1e-9 of
    its largest value, at least 1e-12)."""
    scale = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
    return max(1e-12, 1e-9 * scale)


def _seed_cube(values: pd.DataFrame, futures: list[str], order: list[str]) -> np.ndarray:
    """(future, policy, replicate) -> the outcome of that run (NaN: no ok run)."""
    reps = sorted(values["replicate"].dropna().unique())
    index = pd.MultiIndex.from_product([futures, order, reps])
    cells = values.groupby(["_future", "_policy", "replicate"])["_v"].mean().reindex(index)
    return cells.to_numpy(dtype=float).reshape(len(futures), len(order), len(reps))


def _bootstrap_max_regret(cube: np.ndarray, means: np.ndarray, sign: int, tie: float, resamples: int,
                          rng: np.random.Generator, chunk: int = 200) -> np.ndarray:
    """(resamples, policies): the largest regret over the futures when each future's replicates are drawn
    again with replacement (the same draw for every policy of the future). A cell whose draw holds no ok
    run keeps its observed mean."""
    futures, _, reps = cube.shape
    out = []
    for start in range(0, resamples, chunk):
        n = min(chunk, resamples - start)
        pick = rng.integers(0, reps, size=(n, futures, reps))
        drawn = cube[np.arange(futures)[None, :, None], :, pick]  # (n, futures, reps, policies)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN draws: replaced just below
            m = np.nanmean(drawn, axis=2)
        m = np.where(np.isfinite(m), m, means[None])
        best = (m * sign).max(axis=2, keepdims=True) * sign
        regret = np.abs(best - m)
        out.append(np.where(regret <= tie, 0.0, regret).max(axis=1))
    return np.concatenate(out)


def _least_share(boot: np.ndarray, tie: float) -> np.ndarray:
    """Per policy: the share of resamples in which its largest regret is the smallest (ties split)."""
    top = boot <= boot.min(axis=1, keepdims=True) + tie
    return (top / top.sum(axis=1, keepdims=True)).mean(axis=0)


def satisficing_table(ok: pd.DataFrame, goals: Sequence[str], order: Sequence[str]) -> pd.DataFrame:
    """Per policy: the share of its ok runs meeting every goal (Wilson 95% CI) and each goal alone."""
    from experiments.reading.analysis import proportion_ci

    met = pd.DataFrame({g: evaluate(ok, g, where="goal") for g in goals}, index=ok.index)
    met["_all"] = met.all(axis=1)
    rows = []
    for p in order:
        m = met[ok["_policy"] == p]
        n, share, lo, hi = proportion_ci(m["_all"])
        row = {"policy": p, "runs": n, "futures": int(ok.loc[m.index, "_future"].nunique()), "satisficing": share,
               "ci_low": lo, "ci_high": hi}
        row.update({f"meets: {g}": float(m[g].mean()) if len(m) else np.nan for g in goals})
        rows.append(row)
    return pd.DataFrame(rows)


def _write(res: Robustness) -> None:
    out = res.root / "robustness"
    out.mkdir(parents=True, exist_ok=True)
    res.regret.to_csv(out / "regret.csv", index=False)
    res.satisficing.to_csv(out / "satisficing.csv", index=False)
    fig = figure(res, out / "robustness.png")
    res.files = [out / "regret.csv", out / "satisficing.csv", fig]
    res.section = section(res)
    res.files.append(sections.put(res.root, "robustness", res.section))


def figure(res: Robustness, path: Path) -> Path:
    """Satisficing share per policy (with CI) beside the largest regret per outcome (scaled per outcome)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.reading import plots

    plots.style()
    pol = res.policies
    sat = res.satisficing.set_index("policy").reindex(pol)
    grid = res.regret.pivot(index="policy", columns="outcome", values="max_regret").reindex(index=pol,
                                                                                          columns=res.outcomes)
    scale = grid.max(axis=0).replace(0, 1.0)
    fig, (a, b) = plt.subplots(1, 2, figsize=(4.2 + 1.3 * len(res.outcomes) + 3.5, 0.45 * len(pol) + 1.9),
                               gridspec_kw={"width_ratios": [1, max(1.0, 0.45 * len(res.outcomes))]})
    y = np.arange(len(pol))[::-1]
    err = np.clip(np.nan_to_num(np.vstack([sat["satisficing"] - sat["ci_low"], sat["ci_high"] - sat["satisficing"]])),
                  0, None)  # Wilson bounds can miss the share by rounding
    a.barh(y, sat["satisficing"], xerr=err, color="C2", capsize=3)
    a.set_xlim(0, 1)
    a.set_yticks(y, [plots._wrap(p, 26) for p in pol])
    a.set_xlabel("share of runs meeting every goal")
    a.set_title("Satisficing (95% CI)", fontsize=10)
    b.imshow((grid / scale).to_numpy(dtype=float), cmap="Reds", vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isfinite(v):
            b.text(j, i, data.fmt(v), ha="center", va="center", fontsize=7,
                   color="white" if v / scale.iloc[j] > 0.6 else "black")
    b.set_xticks(range(len(res.outcomes)), [plots._wrap(o, 14) for o in res.outcomes], fontsize=7)
    b.set_yticks(range(len(pol)), [""] * len(pol))
    b.grid(False)
    b.set_title(f"Largest regret over {res.futures} futures (0 = best in every future)", fontsize=10)
    goals = "; ".join(res.goals)
    fig.suptitle(f"Robustness of each policy — goals: {goals}", fontsize=10)
    fig.tight_layout()
    return plots._save(fig, path)


def _pct(v: float) -> str:
    return f"{v:.0%}"


def satisficing_words(res: Robustness, bold: bool = True) -> str:
    """Which policy meets every goal most often, said only when its Wilson 95% interval is clear of every
    other policy's; otherwise the policies that cannot be told apart, with their intervals."""
    from experiments.reading.analysis import INDISTINGUISHABLE, Estimate, contenders, leader, with_interval

    sat = res.satisficing
    est = [Estimate(r["policy"], r["satisficing"], r["ci_low"], r["ci_high"]) for _, r in sat.iterrows()]
    runs = sorted(set(sat["runs"].astype(int)))
    of = f"{runs[0]} runs each" if len(runs) == 1 else f"{runs[0]}–{runs[-1]} runs each"
    b = "**" if bold else ""
    if not (sat["satisficing"] > 0).any():
        return (f"{b}No policy meets every goal in any of its runs{b} (at most {_pct(sat['ci_high'].max())} of "
                f"runs, upper 95% bound; {of}).")
    top = leader(est)
    if top is not None:
        others = contenders([e for e in est if e.name != top.name])
        return (f"{b}{top.name}{b} meets every goal most often: in {_pct(top.value)} of its runs (95% CI "
                f"{_pct(top.low)}–{_pct(top.high)}, {of}), clear of every other policy (next: "
                f"{with_interval(others[0], _pct)}).")
    tied = contenders(est)
    below = len(est) - len(tied)
    return (f"Which policy meets every goal most often is {b}{INDISTINGUISHABLE}{b}: "
            + ", ".join(with_interval(e, _pct) for e in tied)
            + f" (share of runs meeting every goal, Wilson 95% intervals over {of}, overlap)"
            + (f"; {below} more {'is' if below == 1 else 'are'} clearly below." if below else "."))


def regret_words(res: Robustness, outcome: str) -> str | None:
    """One line on an outcome's regret: ties named as ties, the smallest worst-case regret named only when
    its seed-bootstrap interval is clear of every other policy's."""
    from experiments.reading.analysis import INDISTINGUISHABLE, Estimate, contenders, leader

    part = res.regret[res.regret["outcome"] == outcome]
    if part.empty:
        return None
    tie = float(part["tie_tolerance"].iloc[0])
    seeds = int(part["seeds"].iloc[0])
    worse = "less" if part["direction"].iloc[0] == "max" else "more"
    zero = part[part["max_regret"] <= tie]
    noise = (f"mean over {seeds} seeds per future" if seeds >= 2 else
             "one seed per future: seed noise not measured, so no ranking is claimed")
    if len(zero) == len(part):
        return (f"- `{outcome}`: a tie: all {len(part)} policies give the same value in every future (no "
                "regret), so none is better.")
    if len(zero) >= 2:
        return (f"- `{outcome}`: a tie: {_and(zero['policy'])} are each the best policy in every future (equal "
                f"values; {noise}).")
    est = [Estimate(r["policy"], r["max_regret"], r["max_regret_low"], r["max_regret_high"])
           for _, r in part.iterrows()]
    p_least = dict(zip(part["policy"], part["p_least_max_regret"], strict=True))

    def show(e: Estimate) -> str:
        ci = f" [{data.fmt(e.low)}, {data.fmt(e.high)}]" if np.isfinite(e.low) else ""
        p = f", P(smallest) {p_least[e.name]:.0%}" if np.isfinite(p_least[e.name]) else ""
        return f"{e.name} {data.fmt(e.value)}{ci}{p}"

    top = leader(est, higher_better=False)
    if top is None:
        tied = contenders(est, higher_better=False)
        if max(e.value for e in tied) - min(e.value for e in tied) <= tie:
            return (f"- `{outcome}`: a tie: {_and([e.name for e in tied])} have the same smallest worst-case "
                    f"regret, {data.fmt(tied[0].value)} {worse} than the best policy of the same future ({noise}).")
        why = ("seed-bootstrap 95% intervals overlap" if seeds >= 2 else noise)
        return (f"- `{outcome}`: the smallest worst-case regret is {INDISTINGUISHABLE} ({why}): "
                + "; ".join(show(e) for e in tied) + ".")
    row = part[part["policy"] == top.name].iloc[0]
    nxt = contenders([e for e in est if e.name != top.name], higher_better=False)[0]
    if len(zero) == 1:
        return (f"- `{outcome}`: {top.name} is the best policy in every future ({noise}; clear of seed noise: the "
                f"next smallest worst-case regret is {show(nxt)}).")
    return (f"- `{outcome}`: smallest worst-case regret — {show(top)}: at most {data.fmt(row['max_regret'])} "
            f"{worse} than the best policy of the same future (mean {data.fmt(row['mean_regret'])}; the best itself "
            f"in {row['best_share']:.0%} of futures; {noise}), clear of the next, {show(nxt)}.")


def _and(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def section(res: Robustness) -> str:
    """The report section in plain words: every ranking with its interval, ties as ties."""
    reg = res.regret
    futures = (f"{res.futures} futures (the swept uncertainties)" if res.futures != 1 else
               "one future (no uncertainty is swept: regret is the gap to the best policy in the base scenario)")
    lines = ["## Robustness across futures", "",
             f"Goals: {', '.join(f'`{g}`' for g in res.goals)}. {len(res.policies)} policies, each run in {futures}.",
             "", satisficing_words(res)]
    lines += [w for o in res.outcomes if (w := regret_words(res, o)) is not None]
    lines += ["", "| policy | runs | meets every goal [95% CI] | "
              + " | ".join(f"max regret `{o}`" for o in res.outcomes) + " |",
              "|---|---|---|" + "---|" * len(res.outcomes)]
    keyed = reg.set_index(["policy", "outcome"])
    for _, r in res.satisficing.iterrows():
        cells = []
        for o in res.outcomes:
            if (r["policy"], o) not in keyed.index:
                cells.append("–")
                continue
            g = keyed.loc[(r["policy"], o)]
            ci = (f" [{data.fmt(g['max_regret_low'])}, {data.fmt(g['max_regret_high'])}]"
                  if np.isfinite(g["max_regret_low"]) else "")
            cells.append(data.fmt(g["max_regret"]) + ci)
        lines.append(f"| {r['policy']} | {r['runs']} | {r['satisficing']:.0%} [{r['ci_low']:.0%}, "
                     f"{r['ci_high']:.0%}] | " + " | ".join(cells) + " |")
    dropped = {k.removeprefix("dropped_futures_"): v for k, v in res.notes.items() if k.startswith("dropped_") and v}
    seeds = int(res.notes.get("seeds_per_future", 0))
    lines += ["", "Regret of a policy in a future: how far its outcome (mean over seeds) falls short of the best "
              "policy's in that future; satisficing: the share of runs (futures × seeds) meeting every goal. "
              + (f"[brackets] after a largest regret: its 95% interval under seed noise (bootstrap over the {seeds} "
                 "seeds of each future, the same seeds for every policy; the futures are taken as given); "
                 "P(smallest): share of resamples in which the policy has the smallest largest regret. "
                 if seeds >= 2 else "One seed per future: the regrets carry no interval for seed noise. ")
              + f"A policy is named best only when its interval is clear of every other's; otherwise the report "
              "says they are indistinguishable at this sample size."
              + (f" Futures left out because a policy had no ok run there, per outcome: {dropped}." if dropped else ""),
              "", "![Robustness](robustness/robustness.png)", "",
              "*Left: share of runs meeting every goal (95% CI). Right: largest regret per outcome (shade scaled per "
              "outcome).*", "", "Tables: `robustness/regret.csv`, `robustness/satisficing.csv`.", ""]
    return "\n".join(lines)


__all__ = ["DIRECTIONS", "Robustness", "RobustnessError", "check_options", "regret_table", "regret_words",
           "robustness", "satisficing_table", "satisficing_words"]
