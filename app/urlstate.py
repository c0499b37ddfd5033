"""The scenario in the page's address: seed, preset, lever values, language, budget ceiling and what
the A/B replicates vary (``ab_vary=posterior|seeds``, written only when it is not the page's default).

``/?seed=7&rd_subsidy_rate=0.2`` opens that scenario; the page rewrites its address whenever a
setting changes, so a link can be shared and a reload (F5) opens the same scenario again (at
quarter 0: the run itself is recomputed by pressing Play). Lever values are in model units, as in
``configs/parameters.toml``; only levers that differ from the preset (or the status quo) are written.
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

from app.i18n import Lang, lever_label, t
from app.runs import VARY_KINDS
from app.state import CEILING_MAX, CEILING_MIN, SEED_MAX, check_ceiling, check_seed, lever_defaults, presets

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
    problems: list = field(default_factory=list)  # "name=value" pairs that were ignored


def parse(search: str | None) -> UrlState:
    """Read a query string (with or without the leading ``?``)."""
    out = UrlState(levers=lever_defaults())
    if not search:
        return out
    pairs = parse_qsl(search.lstrip("?"), keep_blank_values=True)
    import sim

    schema = sim.default_config().schema
    explicit = {}
    for name, raw in pairs:
        try:
            if name == "seed":
                out.seed = check_seed(raw)
            elif name == "preset":
                if raw not in presets():
                    raise ValueError(raw)
                out.preset = raw
            elif name == "lang":
                if raw not in ("en", "zh"):
                    raise ValueError(raw)
                out.lang = raw
            elif name == "ab_vary":
                if raw not in VARY_KINDS:
                    raise ValueError(raw)
                out.ab_vary = raw
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
    if out.preset:
        out.levers.update(presets()[out.preset].levers)
    out.levers.update(explicit)
    if out.preset and explicit and any(presets()[out.preset].levers.get(k, lever_defaults()[k]) != v
                                       for k, v in explicit.items()):
        out.preset = None  # the levers no longer are the preset
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
         ceiling: float | None = None, ab_vary: str | None = None) -> str:
    """The query string (without ``?``) for these settings."""
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
    return urlencode(items)


def allowed(name: str, lang: Lang) -> str:
    """What the address may say for ``name`` (for the page's notice about ignored values)."""
    import sim

    if name == "seed":
        return t("url_allowed_seed", lang, max=f"{SEED_MAX:,}")
    if name == "preset":
        return t("url_allowed_one_of", lang, values=", ".join(presets()))
    if name == "lang":
        return t("url_allowed_one_of", lang, values="en, zh")
    if name == "ab_vary":
        return t("url_allowed_one_of", lang, values=", ".join(VARY_KINDS))
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
    settings = {"seed", "preset", "lang", "ab_vary", "ceiling", *lever_defaults()}
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
