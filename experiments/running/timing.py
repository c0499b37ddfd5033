"""Timed levers in sweep specs: period arithmetic and each design point's lever schedule.

A lever in ``[levers]`` may be a table of parts, each one value or a factor (a list, or a range
``{min, max[, levels]}``)::

    [levers.digital_grant_budget]
    value = [1e8, 1.5e8]                        # factor "digital_grant_budget" (as a plain lever factor)
    start = ["2026Q1", "2027Q1", "2028Q1"]      # factor "digital_grant_budget.start" (periods)
    duration_quarters = 8                       # fixed: the window is 8 quarters from its start

``lever.start`` / ``lever.end`` take periods (``"2027Q1"``; a range ``{min = "2026Q1", max =
"2029Q4"}`` is sampled over quarter numbers and mapped back), ``lever.ramp_quarters`` and
``lever.duration_quarters`` whole numbers of quarters. ``duration_quarters`` is a spec-side
shorthand for ``end`` (the window's last period is ``start`` + duration - 1); the run's config gets
a plain ``{value, start, end, ramp_quarters}`` schedule (:meth:`sim.Config.with_overrides`).

Periods are stored in design.parquet and the run tables as strings; they sort in time order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.inputs.config import parse_quarter

TIMING_PARTS = ("start", "end", "ramp_quarters", "duration_quarters")  # factor-name suffixes: lever.<part>
LEVER_TABLE_KEYS = ("value", *TIMING_PARTS)  # keys of a lever table in [levers] / [base.levers]
PERIOD_PARTS = ("start", "end")
MAX_RAMP = 400  # sim's limit on ramp_quarters


def split_name(name: str) -> tuple[str, str] | None:
    """``"digital_grant_budget.start"`` -> ``("digital_grant_budget", "start")``; None for other names."""
    lever, dot, part = str(name).partition(".")
    return (lever, part) if dot and part in TIMING_PARTS else None


def period_number(text: str, key: str = "period") -> int:
    """``"2027Q1"`` -> a quarter number (year * 4 + quarter - 1) that orders periods in time; ConfigError
    (naming ``key``) for text that is not a period."""
    y, q = parse_quarter(text, key)
    return y * 4 + q - 1


def period_label(number: int) -> str:
    """The inverse of :func:`period_number`."""
    y, q = divmod(int(number), 4)
    return f"{y}Q{q + 1}"


def is_period(value: Any) -> bool:
    try:
        period_number(value)
    except Exception:  # noqa: BLE001 - anything that is not a period
        return False
    return True


def run_periods(start: str, horizon: int) -> tuple[int, int]:
    """First and last quarter number a schedule may name: the scenario's start to start + horizon."""
    s0 = period_number(start)
    return s0, s0 + int(horizon)


class TimingProblem(ValueError):
    """A design point whose window cannot be: ``kind`` is ``"end_before_start"`` or ``"after_horizon"``;
    ``parts`` are the parts involved, ``detail`` says what the window would be."""

    def __init__(self, kind: str, parts: tuple[str, ...], detail: str = ""):
        super().__init__(kind)
        self.kind, self.parts, self.detail = kind, parts, detail


def resolve(parts: Mapping[str, Any], start: str, horizon: int) -> dict[str, Any]:
    """A lever's schedule parts with ``duration_quarters`` turned into ``end``; raises :class:`TimingProblem`.

    ``start`` and ``horizon``: the scenario's first period and its number of quarters. A window
    from the scenario's start begins in quarter 1 (as :class:`sim.inputs.config.Schedule` counts it)."""
    out = {k: parts[k] for k in ("start", "end", "ramp_quarters") if parts.get(k) is not None}
    s0, last_allowed = run_periods(start, horizon)
    n = parts.get("duration_quarters")
    if n is not None:
        first = max(1, period_number(out["start"]) - s0) if "start" in out else 1
        last = first + int(n) - 1
        if last > horizon:
            raise TimingProblem("after_horizon", ("start", "duration_quarters"),
                                f"ends {period_label(s0 + last)}, after {period_label(last_allowed)}")
        out["end"] = period_label(s0 + last)
    if "start" in out and "end" in out and period_number(out["end"]) < period_number(out["start"]):
        raise TimingProblem("end_before_start", ("start", "end"))
    return out
