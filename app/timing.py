"""Time in the page: when a lever holds (its window of years), and the page's own clock.

**Windows.** A lever can be given a first and a last year (the schedules the model already takes,
``{value, start, end}``: :class:`sim.inputs.config.Schedule`). The page offers whole years: from the
scenario's first year to the year of its last quarter (2025-2035 for the baseline's 40 quarters from
2025Q1). A window ``(2027, 2030)`` is the schedule ``{"value": v, "start": "2027Q1", "end": "2030Q4"}``;
the first year as start, or the last year as end, means "from the start" / "to the end" (``None``),
so the window stays inside the run whatever the horizon's quarter. Outside its window the lever is
at its status-quo value (the model's rule), and so is its programme cost.

Windows apply to the live run (Play / Step, the charts' shaded band). The A/B tab, the instant answer
and the "where does the effect come from?" view run each setting for the whole horizon (they take
plain lever values); the lever panel says so under every window that is set.

The page's UI strings for this module are kept here (:data:`STRINGS`, merged into
:data:`app.i18n.STRINGS` on import), in English and Chinese like every other string.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import sim
from app import i18n
from sim.inputs.config import period_after

STRINGS = {
    "window_from": ("From", "起始年"),
    "window_to": ("to", "截止年"),
    "window_label": ("In force", "实施期"),
    "window_whole": ("whole run", "全程"),
    "window_note": ("Shaded on the charts. A/B and the quick answer use this value for the whole run.",
                    "图中以阴影标出。A/B 对比与即时结果按全程实施计算。"),
    "window_bad": ("{name}: the last year {end} is before the first year {start}; choose {start} to {last}.",
                   "{name}：截止年 {end} 早于起始年 {start}；请选择 {start}–{last} 年。"),
    "legend_window": ("Lever window", "政策实施期"),
    "rate_measured": ("running at {rate:.1f}/s", "实际 {rate:.1f} 季度/秒"),
    "rate_limited": ("running at {rate:.1f}/s: each quarter takes {ms:,.0f} ms to compute and draw",
                     "实际 {rate:.1f} 季度/秒：每季度计算与绘图需 {ms:,.0f} 毫秒"),
    "restored": ("Reopened at quarter {q}: the run was recomputed from quarter 0 with the settings in the address.",
                 "已恢复到第 {q} 季度：按地址中的设置从第 0 季度重新计算。"),
}
i18n.STRINGS.update(STRINGS)


@lru_cache(maxsize=1)
def year_range() -> tuple[int, int]:
    """First and last calendar year of the baseline run (the start year, the year of its last quarter)."""
    cfg = sim.default_config()
    return cfg.start[0], int(period_after(cfg.start, cfg.quarters)[:4])


def years() -> list[int]:
    """The years a window may start or end in."""
    first, last = year_range()
    return list(range(first, last + 1))


def check_window(name: str, start: Any, end: Any) -> tuple[int | None, int | None]:
    """A lever's window as ``(first year, last year)``, ``None`` for "from the start" / "to the end".

    ``start`` / ``end``: a year (int or decimal text) or None. ValueError, one line naming the lever,
    the key and the value and what is allowed, for anything else: not a lever, not a whole year, outside
    the run's years, or an end before the start."""
    if name not in sim.default_config().names("levers"):
        raise ValueError(f"{name}: not a lever, so it takes no window")
    first, last = year_range()
    out = []
    for key, raw in (("start", start), ("end", end)):
        if raw is None or raw == "":
            out.append(None)
            continue
        text = str(raw).strip()
        if isinstance(raw, bool) or not text.isascii() or not text.isdigit() or len(text) != 4:
            raise ValueError(f"{name}.{key}={str(raw)[:24]!r} is not a year; give a whole year from {first} to {last}")
        year = int(text)
        if not first <= year <= last:
            raise ValueError(f"{name}.{key}={year} is outside the run; give a year from {first} to {last}")
        out.append(year)
    s, e = out
    if s is not None and e is not None and e < s:
        raise ValueError(f"{name}.end={e} is before {name}.start={s}; give an end from {s} to {last}")
    return (None if s == first else s), (None if e == last else e)


def schedule(value: Any, window: tuple[int | None, int | None] | None) -> Any:
    """The lever's override for :meth:`sim.Config.with_overrides`: the plain value for the whole run, or
    ``{"value", "start", "end"}`` for a window (first quarter of its first year to the last of its last)."""
    if not window or window == (None, None):
        return value
    spec: dict[str, Any] = {"value": value}
    if window[0] is not None:
        spec["start"] = f"{window[0]}Q1"
    if window[1] is not None:
        spec["end"] = f"{window[1]}Q4"
    return spec


def scheduled(levers: Mapping[str, Any], windows: Mapping[str, tuple] | None) -> dict[str, Any]:
    """``levers`` with each windowed lever as its schedule (:func:`schedule`)."""
    windows = windows or {}
    return {k: schedule(v, windows.get(k)) for k, v in levers.items()}


def window_quarters(config: sim.Config) -> list[tuple[str, int, int]]:
    """``(lever, first quarter, last quarter)`` of every scheduled lever of ``config`` whose value differs
    from the status quo (model quarter indices, 1 = the first step): what the charts shade."""
    out = []
    for name, sch in config.schedules.items():
        if config.values[name] != config.schema[name].default:
            first, last = sch.window(config.start, config.quarters)
            out.append((name, first, last))
    return out


def window_text(window: tuple[int | None, int | None] | None, lang: i18n.Lang) -> str:
    """``2027–2030`` (missing ends filled with the run's first / last year), or "whole run"."""
    if not window or window == (None, None):
        return i18n.t("window_whole", lang)
    first, last = year_range()
    return f"{window[0] or first}–{window[1] or last}"

