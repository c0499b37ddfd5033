"""Robustness of policies across the futures of a sweep: regret and satisficing.

A *policy* is a combination of the swept levers (usually the ``package``); a *future* is a
combination of the swept uncertainties (and facts, settings). Robustness needs every policy run in
the same futures: a crossed design, e.g. an ``lhs`` over the uncertainties with ``[design] cross =
["package"]`` (``configs/experiments/futures_lhs.toml``), or a ``full_factorial``.

* **Regret** (Savage), per outcome and future: how far a policy falls short of the best policy in that
  future, ``|best - value|`` with best = max (or min, for outcomes where less is better, see
  :data:`experiments.decision.goals.DIRECTIONS`); the value of a policy in a future is the mean over
  its ok replicates. Per policy: the largest regret over the futures (minimax regret), the mean,
  the 90th percentile, and the share of futures where it is the best.
* **Satisficing**: the share of runs (futures x seeds) in which a policy meets every goal, e.g.
  ``retention_3y >= 0.35`` and ``n_national_clusters >= 1`` (Wilson 95% interval), and per goal.

Goals and outcomes come from the arguments, else the stored spec's ``[robustness]`` table
(``goals = [...]``, ``outcomes = [...]``, see :func:`experiments.decision.goals.check_options`).

    python -m experiments robustness results/futures_lhs --goal "retention_3y >= 0.35" --goal "n_national_clusters >= 1"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments.decision import data, sections
from experiments.decision.goals import DIRECTIONS, MAXIMIZE, check_options, direction, evaluate

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
    """Per policy and outcome: regret across the futures in which every policy has an ok run."""
    rows, notes = [], {}
    for o in outcomes:
        cells = ok.assign(_v=pd.to_numeric(ok[o], errors="coerce")).groupby(["_future", "_policy"])["_v"].mean()
        grid = cells.unstack("_policy").reindex(columns=list(order))
        complete = grid.dropna()
        notes[f"dropped_futures_{o}"] = int(len(grid) - len(complete))
        notes["complete_futures"] = max(notes.get("complete_futures", 0), len(complete))
        if complete.empty:
            continue
        sign = 1 if direction(o) == MAXIMIZE else -1
        best = (complete * sign).max(axis=1) * sign
        reg = complete.rsub(best, axis=0).abs()
        for p in order:
            r = reg[p]
            rows.append({"policy": p, "outcome": o, "direction": "max" if sign > 0 else "min",
                         "futures": len(r), "max_regret": float(r.max()), "mean_regret": float(r.mean()),
                         "p90_regret": float(r.quantile(0.9)), "best_share": float((r <= 1e-12).mean()),
                         "mean_value": float(complete[p].mean())})
    if not rows:
        raise RobustnessError("no future has an ok run of every policy: robustness needs every policy run in the "
                              "same futures (a crossed design: an lhs with [design] cross = [\"package\"], or a "
                              "full_factorial); an LHS that samples levers and uncertainties together gives each "
                              "future one policy")
    return pd.DataFrame(rows), notes


def satisficing_table(ok: pd.DataFrame, goals: Sequence[str], order: Sequence[str]) -> pd.DataFrame:
    """Per policy: the share of its ok runs meeting every goal (Wilson 95% CI) and each goal alone."""
    from experiments.analysis import proportion_ci

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

    from experiments import plots

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


def section(res: Robustness) -> str:
    """The report section in plain words."""
    sat = res.satisficing.sort_values("satisficing", ascending=False, kind="stable")
    top = sat.iloc[0]
    reg = res.regret
    futures = (f"{res.futures} futures (the swept uncertainties)" if res.futures != 1 else
               "one future (no uncertainty is swept: regret is the gap to the best policy in the base scenario)")
    lines = ["## Robustness across futures", "",
             f"Goals: {', '.join(f'`{g}`' for g in res.goals)}. {len(res.policies)} policies, each run in {futures}.",
             ""]
    if top["satisficing"] > 0:
        lines.append(f"**{top['policy']}** meets every goal most often: in {top['satisficing']:.0%} of its runs "
                     f"(95% CI {top['ci_low']:.0%}–{top['ci_high']:.0%})"
                     + (f"; the next is {sat.iloc[1]['policy']} with {sat.iloc[1]['satisficing']:.0%}."
                        if len(sat) > 1 else "."))
    else:
        lines.append(f"**No policy meets every goal in any of its runs** (at most {top['ci_high']:.0%} of runs, "
                     "upper 95% bound); the goals alone, per policy, are in `robustness/satisficing.csv`.")
    for o in res.outcomes:
        part = reg[reg["outcome"] == o]
        if part.empty:
            continue
        best = part.sort_values(["max_regret", "mean_regret"], kind="stable").iloc[0]
        worse = "less" if best["direction"] == "max" else "more"
        if best["max_regret"] <= 1e-12:
            lines.append(f"- `{o}`: {best['policy']} is the best policy in every future.")
            continue
        lines.append(f"- `{o}`: smallest worst-case regret — {best['policy']}: at most "
                     f"{data.fmt(best['max_regret'])} {worse} than the best policy of the same future (mean "
                     f"{data.fmt(best['mean_regret'])}; the best itself in {best['best_share']:.0%} of futures).")
    lines += ["", "| policy | runs | meets every goal [95% CI] | "
              + " | ".join(f"max regret `{o}`" for o in res.outcomes) + " |",
              "|---|---|---|" + "---|" * len(res.outcomes)]
    grid = reg.pivot(index="policy", columns="outcome", values="max_regret")
    for _, r in res.satisficing.iterrows():
        cells = [data.fmt(grid.at[r["policy"], o]) if o in grid and r["policy"] in grid.index else "–"
                 for o in res.outcomes]
        lines.append(f"| {r['policy']} | {r['runs']} | {r['satisficing']:.0%} [{r['ci_low']:.0%}, "
                     f"{r['ci_high']:.0%}] | " + " | ".join(cells) + " |")
    dropped = {k.removeprefix("dropped_futures_"): v for k, v in res.notes.items() if k.startswith("dropped_") and v}
    lines += ["", "Regret of a policy in a future: how far its outcome (mean over seeds) falls short of the best "
              "policy's in that future; satisficing: the share of runs (futures × seeds) meeting every goal."
              + (f" Futures left out because a policy had no ok run there, per outcome: {dropped}." if dropped else ""),
              "", "![Robustness](robustness/robustness.png)", "",
              "*Left: share of runs meeting every goal (95% CI). Right: largest regret per outcome (shade scaled per "
              "outcome).*", "", "Tables: `robustness/regret.csv`, `robustness/satisficing.csv`.", ""]
    return "\n".join(lines)


__all__ = ["DIRECTIONS", "Robustness", "RobustnessError", "check_options", "regret_table", "robustness",
           "satisficing_table"]
