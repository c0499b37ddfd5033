"""Boolean expressions over summary outcomes (``discover --where``, robustness goals) and which way
each outcome is better.

An expression is evaluated with :meth:`pandas.DataFrame.eval` on the per-run table of a sweep
(:func:`experiments.load`): comparisons (``<``, ``<=``, ``==``, ``!=``, ``>=``, ``>``), arithmetic,
``&`` / ``|`` / ``~`` and ``and`` / ``or`` / ``not``. Before that, its names are checked against the
table's columns so a typo gives one line naming the unknown column, a suggestion and what is
allowed. A missing value (e.g. ``retention_3y`` when no cohort is three years old yet) makes a
comparison false.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

MAXIMIZE, MINIMIZE = 1, -1

# Which way is better, per summary outcome of ``sim.ScenarioResult.summary()`` (and the derived
# columns of experiments.analysis). Per-cluster outcomes follow their prefix (see :func:`direction`).
DIRECTIONS: dict[str, int] = {
    "n_national_clusters": MAXIMIZE, "any_national": MAXIMIZE, "tiers_climbed_clusters": MAXIMIZE,
    "tiers_climbed_total": MAXIMIZE, "mean_energy_index_final": MAXIMIZE, "energy_index_final_mean": MAXIMIZE,
    "clusters_national_final": MAXIMIZE, "graduate_retention": MAXIMIZE, "retention_1y": MAXIMIZE,
    "retention_3y": MAXIMIZE, "retention_5y": MAXIMIZE, "return_inflow_total": MAXIMIZE,
    "talent_city_final": MAXIMIZE, "mean_maturity_final": MAXIMIZE, "chain_completeness_final_mean": MAXIMIZE,
    "revenue_final": MAXIMIZE, "value_added_final": MAXIMIZE, "firms_final": MAXIMIZE,
    "little_giants_final": MAXIMIZE, "leaders_final": MAXIMIZE, "retained_graduates": MAXIMIZE,
    "retained_3y_graduates": MAXIMIZE,
    "outflow_beijing_total": MINIMIZE, "outflow_tianjin_total": MINIMIZE, "outflow_elsewhere_total": MINIMIZE,
    "graduates_to_beijing_share": MINIMIZE, "graduates_to_tianjin_share": MINIMIZE, "spending_total": MINIMIZE,
    "spending_talent_total": MINIMIZE, "cost_per_retained_graduate": MINIMIZE, "homogeneity_final_mean": MINIMIZE,
    "share_l1_l2_final": MINIMIZE,
}
_PREFIX_DIRECTIONS = {"energy_index_final_": MAXIMIZE, "energy_tier_final_": MAXIMIZE, "reached_national_": MAXIMIZE}


ROBUSTNESS_KEYS = ("goals", "outcomes")  # keys of a spec's [robustness] table


class ExpressionError(ValueError):
    """An expression names unknown columns, does not parse, or does not give true/false per run."""


def direction(outcome: str) -> int | None:
    """``MAXIMIZE`` (more is better), ``MINIMIZE`` or None (no preferred direction known)."""
    if outcome in DIRECTIONS:
        return DIRECTIONS[outcome]
    for prefix, d in _PREFIX_DIRECTIONS.items():
        if outcome.startswith(prefix):
            return d
    return None


def names_in(expr: str, where: str = "expression") -> set[str]:
    """The column names an expression uses (raises :class:`ExpressionError` if it does not parse)."""
    if not isinstance(expr, str) or not expr.strip():
        raise ExpressionError(f"{where}: {expr!r} is empty; give a condition such as \"any_national == 0\"")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{where}: {expr!r} is not a valid expression ({exc.msg}); "
                              "give a condition such as \"any_national == 0\"") from None
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def check_expression(expr: str, columns: Iterable[str], where: str = "expression") -> None:
    """Raise :class:`ExpressionError` naming every unknown column of ``expr`` (with suggestions)."""
    allowed = [str(c) for c in columns]
    unknown = sorted(names_in(expr, where) - set(allowed))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, allowed, n=2, cutoff=0.6)
            hints.append(f"{name!r}" + (f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""))
        raise ExpressionError(f"{where}: {expr!r} uses unknown column(s) {', '.join(hints)}. "
                              f"Allowed: {', '.join(allowed)}.")


def evaluate(frame: pd.DataFrame, expr: str, columns: Sequence[str] | None = None,
             where: str = "expression") -> pd.Series:
    """``expr`` per row of ``frame`` as a boolean Series (missing values count as false).

    ``columns`` limits the names the expression may use (default: every column of ``frame``).
    """
    check_expression(expr, frame.columns if columns is None else columns, where)
    data = frame.copy()
    for c in data.columns:  # yes/no columns that gained missing values (object dtype) -> nullable boolean
        if data[c].dtype == object and data[c].dropna().map(lambda v: isinstance(v, (bool, np.bool_))).all():
            data[c] = data[c].astype("boolean")
    try:
        out = data.eval(expr.strip(), engine="python")
    except Exception as exc:  # noqa: BLE001 - pandas raises many kinds; one line for the user
        raise ExpressionError(f"{where}: {expr!r} cannot be evaluated: {type(exc).__name__}: {exc}") from None
    if np.ndim(out) == 0 or not isinstance(out, pd.Series):
        raise ExpressionError(f"{where}: {expr!r} does not depend on any run; compare an outcome with a value, "
                              "e.g. \"any_national == 0\"")
    if not pd.api.types.is_bool_dtype(out.dtype):
        raise ExpressionError(f"{where}: {expr!r} gives numbers, not true/false per run; compare it with a "
                              "value, e.g. \"retention_3y >= 0.35\"")
    return out.fillna(False).astype(bool)


def check_options(options: Mapping[str, Any], where: str = "[robustness]") -> dict[str, Any]:
    """Validate a ``[robustness]`` table (``goals``: non-empty list of conditions; ``outcomes``: names).

    Checks the shape and that every goal parses (raises :class:`ExpressionError`); names are checked
    against the outcomes when the results are read. Imports nothing of ``experiments``, so
    ``experiments.spec`` can call it: ``check_options(self.table("robustness"))``.
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
