"""Reading EMA Workbench results of :func:`experiments.running.ema.make_model`: each replication's outcomes and
the paired comparisons they allow.

A ``ReplicatorModel`` from ``make_model(replications=N)`` runs replication r of *every* experiment with
the same seed (and, with ``posterior="replications"``, the same posterior draw), like a ``crn = true``
sweep's replicate r. Its ``NAME_by_replication`` outcomes keep each replication's value, so two
policies run in the same scenario can be compared world by world, a *world* being one scenario and one
replication: ``d = policy - reference`` is the policy's effect with the randomness held fixed.

    experiments, outcomes = perform_experiments(model, scenarios=10, policies=policies)
    table = replication_table(model, experiments, outcomes)       # one row per experiment x replication
    d = paired_differences(table, "outflow_beijing_total", by="package", reference="status_quo")
    summary = paired_summary(table, by="package", reference="status_quo")

:func:`paired_summary` gives what ``experiments.reading.effects.paired_effects`` gives for a sweep (the mean
effect with its Student-t 95% interval, the 5-95% range of the per-world effects, P(beats) with its
Wilson 95% interval and P(tie)), with the same columns and the same rules: P(beats) only for outcomes
with a better direction (``experiments.reading.effects.EFFECT_OUTCOMES``, else :mod:`experiments.running.goals`;
costs, ``spending_*``, get the effect only). For the same seeds and draws the numbers equal
those of a sweep (``tests/test_ema_results.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from experiments.reading.analysis import mean_ci, proportion_ci
from experiments.running.goals import direction
from experiments.reading.effects import EFFECT_OUTCOMES
from experiments.running.ema import BY_REPLICATION, DRAW, PACKAGE
from sim.inputs.base import ConfigError
from sim.inputs.config import shown

WORLD = ("scenario", "replication")  # what a paired difference holds fixed: the scenario and the seed (+ draw)
COST_PREFIX = "spending_"  # costs: an effect, no "beats" (as spending_total in experiments.reading.effects)


def replication_table(model: Any, experiments: pd.DataFrame, outcomes: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per experiment and replication: the experiment's columns (``model`` dropped), then
    ``replication`` (0..N-1), its ``seed``, its ``posterior_draw`` (when the model has a posterior that
    is not an uncertainty of its own) and each scalar outcome of that replication.

    ``model`` is the one the results came from (its replications name the seeds and draws). A model
    without replications gives one row per experiment (replication 0, the model's seed). Raises
    :class:`sim.ConfigError` (one line) when the results do not fit the model, or a scenario name stands
    for different uncertainty values (results of two samplings put together cannot be paired).
    """
    n = len(experiments)
    constants = {c.name: c.value for c in model.constants}
    reps = [dict(r) for r in getattr(model, "replications", None) or []]
    if reps:
        per_rep = {k[: -len(BY_REPLICATION)]: np.asarray(v) for k, v in outcomes.items()
                   if k.endswith(BY_REPLICATION) and np.ndim(v) == 2}
    else:
        reps = [{"seed": constants["seed"], **({DRAW: constants[DRAW]} if DRAW in constants else {})}]
        per_rep = {k: np.asarray(v)[:, None] for k, v in outcomes.items() if np.ndim(v) == 1}
    if not per_rep:
        raise ConfigError("outcomes: no per-replication outcomes (NAME_by_replication) in these results; give the "
                          f"outcomes of model {model.name!r}, as perform_experiments returned them")
    bad = next(((k, v.shape) for k, v in per_rep.items() if v.shape != (n, len(reps))), None)
    if bad is not None:
        raise ConfigError(f"outcomes: {bad[0]!r} has shape {bad[1]}, not ({n}, {len(reps)}): {n} experiments x "
                          f"{len(reps)} replications of model {model.name!r}; give the results of this model")
    uncertainties = [p.name for p in model.uncertainties if p.name in experiments]
    varies = experiments.groupby("scenario", observed=True)[uncertainties].nunique(dropna=False).gt(1).any()
    if varies.any():
        raise ConfigError(f"experiments: scenario names stand for different values of {varies[varies].index[0]!r}; "
                          "pair only results of one perform_experiments call (the same scenarios for every policy)")
    rows = experiments.drop(columns=["model"], errors="ignore").reset_index(drop=True)
    table = rows.loc[rows.index.repeat(len(reps))].reset_index(drop=True)
    table["replication"] = np.tile(np.arange(len(reps)), n)
    for key in ("seed", DRAW):
        if key in reps[0]:
            table[key] = np.tile([r[key] for r in reps], n)
    for name, values in per_rep.items():
        table[name] = values.reshape(-1)
    return table


def paired_differences(table: pd.DataFrame, outcome: str, by: str = "policy", reference: Any = None) -> pd.DataFrame:
    """``outcome`` of each value of ``by`` minus the reference's, per world (rows: scenario, replication;
    columns: the compared values but the reference). NaN where a world lacks either run.

    ``by``: ``"policy"`` (EMA's policies) or a lever column such as ``"package"``, with one experiment per
    world and value. ``reference``: default ``"status_quo"`` for ``package``, else the first value.
    """
    wide, reference = _wide(table, outcome, by, reference)
    return wide.drop(columns=[reference]).sub(wide[reference], axis=0)


def paired_summary(table: pd.DataFrame, by: str = "policy", reference: Any = None,
                   outcomes: Sequence[str] | None = None) -> pd.DataFrame:
    """The paired effect of each value of ``by`` against ``reference`` over the worlds, per outcome (default:
    every outcome of ``table``): the columns of ``experiments.reading.effects.paired_effects``' table
    (``worlds``, ``effect_mean`` with ``effect_ci_low/high`` (Student t 95%), ``effect_p05/p95``, and for
    outcomes with a better direction ``p_beats`` with ``p_beats_low/high`` (Wilson 95%) and ``p_tie``)."""
    names = list(outcomes) if outcomes is not None else _outcome_columns(table)
    rows = []
    for outcome in names:
        d_all = paired_differences(table, outcome, by, reference)
        sign = EFFECT_OUTCOMES.get(outcome, 0 if outcome.startswith(COST_PREFIX) else direction(outcome) or 0)
        for arm in d_all.columns:
            d = d_all[arm].dropna().to_numpy(float)
            n, mean, lo, hi = mean_ci(d)
            row = {by: arm, "outcome": outcome, "worlds": n, "effect_mean": mean, "effect_ci_low": lo,
                   "effect_ci_high": hi, "effect_p05": float(np.quantile(d, 0.05)) if n else np.nan,
                   "effect_p95": float(np.quantile(d, 0.95)) if n else np.nan}
            if sign:
                _, p, plo, phi = proportion_ci(sign * d > 0)
                row |= {"p_beats": p, "p_beats_low": plo, "p_beats_high": phi,
                        "p_tie": float(np.mean(d == 0)) if n else np.nan}
            rows.append(row)
    return pd.DataFrame(rows)


def _outcome_columns(table: pd.DataFrame) -> list[str]:
    """The outcome columns :func:`replication_table` added (after ``seed`` / ``posterior_draw``)."""
    cols = list(table.columns)
    last = max(cols.index(c) for c in ("replication", "seed", DRAW) if c in cols)
    return cols[last + 1:]


def _wide(table: pd.DataFrame, outcome: str, by: str, reference: Any) -> tuple[pd.DataFrame, Any]:
    """world x value-of-``by`` table of ``outcome``, after checking that the comparison is a paired one."""
    for key, name in (("by", by), ("outcome", outcome)):
        if not isinstance(name, str) or name not in table.columns:
            allowed = [c for c in table.columns if c not in WORLD]
            raise ConfigError(f"{key}: {shown(name)} is not a column of the replication table; allowed: "
                              f"{', '.join(allowed)}")
    counts = table.groupby([*WORLD, by], observed=True, sort=False).size()
    if (counts > 1).any():
        (s, r, v), k = next((key, k) for key, k in counts.items() if k > 1)
        raise ConfigError(f"by: {by!r} does not name one experiment per world: scenario {s} replication {r} has "
                          f"{k} experiments with {by} = {shown(v)}; compare by 'policy'")
    arms = list(dict.fromkeys(table[by]))
    if reference is None:
        reference = "status_quo" if by == PACKAGE and "status_quo" in arms else arms[0]
    if reference not in arms:
        raise ConfigError(f"reference: {shown(reference)} is not a value of {by!r}; allowed: "
                          f"{', '.join(map(repr, arms))}")
    is_ref = (table[by] == reference).to_numpy()
    if pd.merge(table.loc[is_ref, list(WORLD)], table.loc[~is_ref, list(WORLD)]).empty:
        raise ConfigError(f"by: no world (scenario and replication) holds both {reference!r} and another value of "
                          f"{by!r}, so nothing is paired; compare policies run in the same scenarios (EMA's default "
                          "full factorial of scenarios x policies)")
    wide = table.pivot(index=list(WORLD), columns=by, values=outcome).reindex(columns=arms).astype(float)
    return wide, reference
