"""The scenario in the page's address: seed, preset, lever values and their windows, language, budget
ceiling, what the A/B replicates vary (``ab_vary=posterior|seeds``, written only when it is not the
page's default), and where the page stands: the quarter (``q``), the main tab (``tab``) and the chart
(``chart``).

``/?seed=7&rd_subsidy_rate=0.2`` opens that scenario; the page rewrites its address whenever a
setting changes or a quarter is run, so a link can be shared and a reload (F5) opens the same scenario
at the same quarter and tab again (the run is recomputed from quarter 0 with the address's settings,
and the lever changes made during the run, ``was``, where they applied). Lever values are in model
units, as in ``configs/parameters.toml``; only levers that differ from the preset (or the status quo)
are written. A lever's window is ``<lever>.start=2027&<lever>.end=2030`` (whole years,
:func:`app.timing.check_window`). A lever changed during the run is recorded as
``was=<quarter>:<lever>=<value>``: the value it had up to that quarter (repeated for every change).
Unknown names and invalid values are ignored, never fatal, and reported: ``problems`` lists them and
:func:`problem_text` says on the page, in the chosen language, what each setting allows.

The address is data, never code: values are compared with fixed names or read as plain decimal
numbers (:func:`_number`), nothing is evaluated. Numbers outside their range (``ceiling=1e308``,
``inf``, ``nan``) are refused, not clamped. The notice stays small whatever the address holds: it
names at most :data:`MAX_NAMED` ignored settings ("and N more"), each name and value cut to
:data:`MAX_SHOWN` characters, so 300 unknown parameters or a 10,000-character value cannot push
the map off the page.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

import sim
from app import timing
from app.i18n import Lang, lever_label, t
from app.runs import VARY_KINDS
from app.state import CEILING_MAX, CEILING_MIN, SEED_MAX, check_ceiling, check_seed, lever_defaults, presets

MAIN_TABS = ("city", "compare", "why", "budget", "export")  # the page's main tabs, in order (app.page)
CHART_TABS = ("energy", "talent", "maturity", "chain", "spending")  # the map tab's charts, in order
# settings that take one of a few names (the UrlState field of the same name): what each allows
ONE_OF = {"preset": lambda: tuple(presets()), "lang": lambda: ("en", "zh"), "ab_vary": lambda: tuple(VARY_KINDS),
          "tab": lambda: MAIN_TABS, "chart": lambda: CHART_TABS}
MAX_NAMED = 3  # ignored settings the notice names; the rest are counted ("and N more")
MAX_SHOWN = 24  # characters of an ignored name or value the notice shows
_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,4})?", re.ASCII)


@dataclass
class UrlState:
    seed: int | None = None
    preset: str | None = None
    levers: dict = field(default_factory=dict)  # full lever set (defaults + preset + explicit values)
    lang: str | None = None
    ceiling: float | None = None  # yuan per year
    ab_vary: str | None = None  # "posterior" / "seeds" (app.runs.VARY_KINDS); None: the page's default
    windows: dict = field(default_factory=dict)  # lever -> (first year, last year), None = run's start / end
    quarter: int = 0  # the quarter the page stood at (recomputed on opening)
    tab: str | None = None  # main tab (MAIN_TABS); None: the first
    chart: str | None = None  # chart of the map tab (CHART_TABS); None: the first
    was: list = field(default_factory=list)  # (quarter, lever, value before the change after that quarter)
    problems: list = field(default_factory=list)  # "name=value" pairs that were ignored


def parse(search: str | None) -> UrlState:
    """Read a query string (with or without the leading ``?``)."""
    out = UrlState(levers=lever_defaults())
    if not search:
        return out
    pairs = parse_qsl(search.lstrip("?"), keep_blank_values=True)

    schema = sim.default_config().schema
    explicit = {}
    ends: dict[str, dict[str, str]] = {}
    for name, raw in pairs:
        try:
            lever, _, part = name.partition(".")
            if part in ("start", "end") and lever in out.levers:
                timing.check_window(lever, raw, None)  # a year of the run (the order is checked below)
                ends.setdefault(lever, {})[part] = raw
            elif name == "q":
                q = int(_number(raw))
                if not (raw.isdigit() and 0 <= q <= sim.default_config().quarters):
                    raise ValueError(raw)
                out.quarter = q
            elif name in ONE_OF:
                if raw not in ONE_OF[name]():
                    raise ValueError(raw)
                setattr(out, name, raw)
            elif name == "was":
                out.was.append(_was(raw, schema))
            elif name == "seed":
                out.seed = check_seed(raw)
            elif name == "ceiling":
                out.ceiling = check_ceiling(_number(raw))
            elif name in out.levers:
                p = schema[name]
                v = _number(raw)
                if not p.low <= v <= p.high:
                    raise ValueError(raw)
                explicit[name] = int(round(v)) if isinstance(p.default, int) else v
            else:
                raise KeyError(name)
        except (ValueError, KeyError):
            out.problems.append(f"{_clip(name).replace('=', '%3D')}={_clip(raw)}")
    for lever, given in ends.items():
        try:
            window = timing.check_window(lever, given.get("start"), given.get("end"))
        except ValueError:
            out.problems.append(f"{lever}.end={_clip(given['end'])}")
            continue
        if window != (None, None):
            out.windows[lever] = window
    out.was.sort(key=lambda w: w[0])
    if out.preset:
        out.levers.update(presets()[out.preset].levers)
    out.levers.update(explicit)
    if out.preset and explicit and any(presets()[out.preset].levers.get(k, lever_defaults()[k]) != v
                                       for k, v in explicit.items()):
        out.preset = None  # the levers no longer are the preset
    return out


def _was(raw: str, schema) -> tuple[int, str, float]:
    """``"8:rd_subsidy_rate=0.1"`` as ``(8, "rd_subsidy_rate", 0.1)``: the lever had that value up to
    quarter 8 (ValueError for a quarter outside the run, a name that is no lever or a value out of range)."""
    when, _, rest = raw.partition(":")
    lever, _, value = rest.partition("=")
    if not when.isascii() or not when.isdigit() or not 0 <= int(when) <= sim.default_config().quarters:
        raise ValueError(raw)
    if lever not in lever_defaults():
        raise ValueError(raw)
    p = schema[lever]
    v = _number(value)
    if not p.low <= v <= p.high:
        raise ValueError(raw)
    return int(when), lever, (int(round(v)) if isinstance(p.default, int) else v)


def history(state: UrlState) -> tuple[dict, list[tuple[int, dict]]]:
    """The run the address describes: its start levers and the lever changes ``(quarter, levers)``,
    each applied after that quarter (from ``was``: a lever's value up to a quarter; its next ``was``
    value, or its value in the address, after it). Windows are the address's for the whole run."""
    start = dict(state.levers)
    by_lever: dict[str, list[tuple[int, float]]] = {}
    for q, lever, value in state.was:
        by_lever.setdefault(lever, []).append((q, value))
    changes: dict[int, dict] = {}
    for lever, steps in by_lever.items():
        start[lever] = steps[0][1]
        for i, (q, _value) in enumerate(steps):
            after = steps[i + 1][1] if i + 1 < len(steps) else state.levers[lever]
            changes.setdefault(q, {})[lever] = after
    moves, levers = [], dict(start)
    for q in sorted(changes):
        levers = {**levers, **changes[q]}
        moves.append((q, dict(levers)))
    return start, moves


def was_items(start: dict, moves: list[tuple[int, dict]]) -> list[str]:
    """``was`` values of a run that started with ``start`` and changed levers as ``moves`` (the inverse
    of :func:`history`): for every lever a change touched, its value up to that change."""
    out, levers = [], dict(start)
    for q, new in moves:
        for k in new:
            if new[k] != levers.get(k):
                out.append(f"{q}:{k}={_num(levers[k])}")
        levers = dict(new)
    return out


def _number(raw: str) -> float:
    """A plain decimal number (``0.2``, ``-3``, ``3e8``), finite; ValueError for anything else (``inf``,
    ``nan``, ``1_0``, non-ASCII digits, over 32 characters). ``float`` alone would take all of those."""
    if len(raw) > 32 or not _DECIMAL.fullmatch(raw):
        raise ValueError(raw)
    v = float(raw)
    if not math.isfinite(v):  # 1e999
        raise ValueError(raw)
    return v


def _clip(text: str) -> str:
    """``text`` for the notice: characters that do not print (newlines, direction marks) as \ufffd, and
    at most :data:`MAX_SHOWN` characters ("…" marks a cut)."""
    text = "".join(c if c.isprintable() else "\ufffd" for c in text[:MAX_SHOWN + 1])
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "…"


def _num(v: float) -> str:
    return f"{v:.10g}"


def make(seed: int, preset: str | None, levers: dict, lang: str | None = None,
         ceiling: float | None = None, ab_vary: str | None = None, windows: dict | None = None,
         quarter: int = 0, tab: str | None = None, chart: str | None = None,
         was: list[str] | None = None) -> str:
    """The query string (without ``?``) for these settings (``tab`` / ``chart`` omitted when the first,
    ``quarter`` when 0; ``was`` from :func:`was_items`)."""
    base = lever_defaults()
    if preset:
        base.update(presets()[preset].levers)
    items: list[tuple[str, str]] = [("seed", str(int(seed)))]
    if preset:
        items.append(("preset", preset))
    items += [(k, _num(v)) for k, v in levers.items() if k in base and v != base[k]]
    if lang:
        items.append(("lang", lang))
    if ceiling:
        items.append(("ceiling", _num(ceiling)))
    if ab_vary:
        items.append(("ab_vary", ab_vary))
    for lever, (first, last) in sorted((windows or {}).items()):
        items += [(f"{lever}.{k}", str(y)) for k, y in (("start", first), ("end", last)) if y is not None]
    items += [("was", w) for w in was or ()]
    if quarter:
        items.append(("q", str(int(quarter))))
    if tab and tab != MAIN_TABS[0]:
        items.append(("tab", tab))
    if chart and chart != CHART_TABS[0]:
        items.append(("chart", chart))
    return urlencode(items, safe=":=")


def allowed(name: str, lang: Lang) -> str:
    """What the address may say for ``name`` (for the page's notice about ignored values)."""
    lever, _, part = name.partition(".")
    if part in ("start", "end") and lever in lever_defaults():
        first, last = timing.year_range()
        return t("url_allowed_range", lang, low=str(first), high=str(last))
    if name == "q":
        return t("url_allowed_range", lang, low="0", high=str(sim.default_config().quarters))
    if name in ONE_OF:
        return t("url_allowed_one_of", lang, values=", ".join(ONE_OF[name]()))
    if name == "was":
        return t("url_allowed_one_of", lang, values="<quarter>:<lever>=<value>")
    if name == "seed":
        return t("url_allowed_seed", lang, max=f"{SEED_MAX:,}")
    if name == "ceiling":
        return t("url_allowed_ceiling", lang, low=f"{CEILING_MIN:,.0f}", high=f"{CEILING_MAX:,.0f}")
    if name in lever_defaults():
        p = sim.default_config().schema[name]
        return t("url_allowed_range", lang, low=_num(p.low), high=_num(p.high))
    return t("url_allowed_unknown", lang)


def problem_text(problems: list[str], lang: Lang) -> str:
    """One short line naming :data:`MAX_NAMED` ignored ``name=value`` and what each setting allows
    (settings the page has before unknown names, so ``ceiling=1e308`` is named even after 300 unknown
    parameters), then how many more were ignored."""
    settings = {"seed", "preset", "lang", "ab_vary", "ceiling", "q", "tab", "chart", "was", *lever_defaults()}
    settings |= {f"{k}.{part}" for k in lever_defaults() for part in ("start", "end")}
    named = sorted(problems, key=lambda item: item.split("=", 1)[0] not in settings)[:MAX_NAMED]  # stable
    parts = []
    for item in named:
        name = item.split("=", 1)[0]
        label = lever_label(name, lang) if name in lever_defaults() else t("seed", lang) if name == "seed" else None
        what = t("url_problem_lever", lang, label=label, item=item) if label else item
        parts.append(t("url_problem_item", lang, item=what, allowed=allowed(name, lang)))
    if len(problems) > MAX_NAMED:
        parts.append(t("url_problems_more", lang, n=f"{len(problems) - MAX_NAMED:,}"))
    return t("url_problems", lang, items=("; " if lang == "en" else "；").join(parts))
