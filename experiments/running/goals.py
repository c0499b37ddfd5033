"""Boolean expressions over summary outcomes (``discover --where``, robustness goals) and which way
each outcome is better.

An expression is parsed and evaluated by :mod:`experiments.running.expressions`, a small grammar of
our own (never ``eval`` or ``DataFrame.eval``: a results folder's ``[robustness]`` goals are data):
column names, numbers, ``'strings'``, ``True`` / ``False``, comparisons (``<``, ``<=``, ``==``, ``!=``,
``>=``, ``>``, also chained), ``and`` / ``or`` / ``not`` and ``&`` / ``|`` / ``~``, ``+ - * /``, ``**``
with a literal exponent from -10 to 10, and ``x in [...]`` with a list of values; at most 1,000
characters. Anything else is refused in one line. Its names are checked against the table's columns
so a typo gives one line naming the unknown column, a suggestion and what is allowed. A missing
value (e.g. ``retention_3y`` when no cohort is three years old yet) makes a comparison false.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from experiments.running.expressions import ExpressionError, check_columns, parse

MAXIMIZE, MINIMIZE = 1, -1

# Which way is better, per summary outcome of ``sim.ScenarioResult.summary()`` (and the derived
# columns of experiments.reading.analysis). Per-cluster outcomes follow their prefix (see :func:`direction`).
DIRECTIONS: dict[str, int] = {
    "n_national_clusters": MAXIMIZE, "any_national": MAXIMIZE, "tiers_climbed_clusters": MAXIMIZE,
    "tiers_climbed_total": MAXIMIZE, "mean_energy_index_final": MAXIMIZE, "energy_index_final_mean": MAXIMIZE,
    "clusters_national_final": MAXIMIZE, "graduate_retention": MAXIMIZE, "retention_1y": MAXIMIZE,
    "retention_3y": MAXIMIZE, "retention_5y": MAXIMIZE, "return_inflow_total": MAXIMIZE,
    "talent_city_final": MAXIMIZE, "mean_maturity_final": MAXIMIZE, "chain_completeness_final_mean": MAXIMIZE,
    "revenue_final": MAXIMIZE, "value_added_final": MAXIMIZE, "firms_final": MAXIMIZE,
    "little_giants_final": MAXIMIZE, "leaders_final": MAXIMIZE, "retained_graduates": MAXIMIZE,
    "retained_3y_graduates": MAXIMIZE, "net_fiscal_balance_total": MAXIMIZE,
    "outflow_beijing_total": MINIMIZE, "outflow_tianjin_total": MINIMIZE, "outflow_elsewhere_total": MINIMIZE,
    "graduates_to_beijing_share": MINIMIZE, "graduates_to_tianjin_share": MINIMIZE, "spending_total": MINIMIZE,
    "spending_talent_total": MINIMIZE, "cost_per_retained_graduate": MINIMIZE, "homogeneity_final_mean": MINIMIZE,
    "share_l1_l2_final": MINIMIZE,
}
_PREFIX_DIRECTIONS = {"energy_index_final_": MAXIMIZE, "energy_tier_final_": MAXIMIZE, "reached_national_": MAXIMIZE}


ROBUSTNESS_KEYS = ("goals", "outcomes")  # keys of a spec's [robustness] table


def direction(outcome: str) -> int | None:
    """``MAXIMIZE`` (more is better), ``MINIMIZE`` or None (no preferred direction known)."""
    if outcome in DIRECTIONS:
        return DIRECTIONS[outcome]
    for prefix, d in _PREFIX_DIRECTIONS.items():
        if outcome.startswith(prefix):
            return d
    return None


def names_in(expr: str, where: str = "expression") -> set[str]:
    """The column names an expression uses (raises :class:`ExpressionError` if it is outside the grammar)."""
    return set(parse(expr, where).names)


def check_expression(expr: str, columns: Iterable[str], where: str = "expression") -> None:
    """Raise :class:`ExpressionError` if ``expr`` is outside the grammar or names unknown columns."""
    check_columns(parse(expr, where), columns)


def evaluate(frame: pd.DataFrame, expr: str, columns: Sequence[str] | None = None,
             where: str = "expression") -> pd.Series:
    """``expr`` per row of ``frame`` as a boolean Series (missing values count as false).

    ``columns`` limits the names the expression may use (default: every column of ``frame``).
    """
    parsed = parse(expr, where)
    check_columns(parsed, frame.columns if columns is None else columns)
    if not parsed.names:
        raise ExpressionError(f"{where}: {expr!r} does not depend on any run; compare an outcome with a value, "
                              "e.g. \"any_national == 0\"")
    data = frame[sorted(parsed.names)].copy()
    for c in data.columns:  # yes/no columns that gained missing values (object dtype) -> nullable boolean
        if data[c].dtype == object and data[c].dropna().map(lambda v: isinstance(v, (bool, np.bool_))).all():
            data[c] = data[c].astype("boolean")
    out = parsed.values(data)
    if np.ndim(out) == 0 or not isinstance(out, pd.Series):
        raise ExpressionError(f"{where}: {expr!r} does not depend on any run; compare an outcome with a value, "
                              "e.g. \"any_national == 0\"")
    if not pd.api.types.is_bool_dtype(out.dtype):
        raise ExpressionError(f"{where}: {expr!r} gives numbers, not true/false per run; compare it with a "
                              "value, e.g. \"retention_3y >= 0.35\"")
    return out.fillna(False).astype(bool)


def check_options(options: Mapping[str, Any], where: str = "[robustness]") -> dict[str, Any]:
    """Validate a ``[robustness]`` table (``goals``: non-empty list of conditions; ``outcomes``: names).

    Checks the shape and that every goal is within the grammar (raises :class:`ExpressionError`, so a
    hostile goal in a shared folder's ``spec.toml`` is refused before anything runs); names are checked
    against the outcomes when the results are read. Imports nothing of ``experiments`` but the grammar, so
    ``experiments.running.spec`` can call it: ``check_options(self.table("robustness"))``.
    """
    out = {}
    for key, v in options.items():
        if key not in ROBUSTNESS_KEYS:
            raise ExpressionError(f"{where} unknown key {key!r}; allowed: {', '.join(ROBUSTNESS_KEYS)}")
        if not isinstance(v, list) or not v or not all(isinstance(g, str) and g.strip() for g in v):
            example = '["retention_3y >= 0.35", "n_national_clusters >= 1"]' if key == "goals" else \
                '["n_national_clusters", "retention_3y"]'
            raise ExpressionError(f"{where} {key}: {v!r} is not allowed; give a non-empty list of strings, "
                                  f"e.g. {key} = {example}")
        if key == "goals":
            for g in v:
                names_in(g, f"{where} goals")
        out[key] = list(v)
    return out
