"""The why tab in words: sentences, in English and Chinese, from the "where does the effect come from?"
decomposition (:class:`app.explain.Explanation`) and from one cluster's energy index.

Pure functions (no page state, no runs): the why tab shows their text above its tables.

**The effect view.** Per headline outcome (:data:`app.explain.HEADLINES`, in their order) one sentence
gives the full effect by the run's end period (current levers − status quo, mean over the paired runs
with its 95 % t interval) and where it comes from. The candidate parts are the levers' channels (each
channel's contribution = full effect − effect without it) and, where it shows a difference, the run
with every channel off (a programme runs and costs whatever its channels do: spending and the net
fiscal balance). The rules, all on the paired worlds (:func:`sim.policy.attribution.mean_ci`, the same
Student-t interval as the table; a figure that would display as 0 never counts, as in the table):

* the full effect is named only when its interval excludes 0; outcomes whose interval includes 0 are
  listed together as not measurable at M paired runs (and outcomes with no value within the horizon,
  e.g. 3-year retention in a short run, as not yet observable);
* the part with the largest mean in the effect's direction is the **main source** only when its own
  interval excludes 0 *and* its paired difference with every other part is above 0 beyond the noise
  (each comparison at 95 %; requiring all of them keeps the claim at that level: an
  intersection-union test). It is said to give **most** of the effect only when twice its part minus
  the full effect is above 0 beyond the noise (more than half); otherwise **the largest part**;
* if it does not beat every other part beyond the noise: **too close to call at M paired runs**,
  naming it and the parts it cannot be told from; if no part excludes 0: no single part measurable;
* parts measurably pulling the other way are named; a measurable interaction (the parts do not add
  up) is pointed to (the sentence under the table gives it).

Each part names its lever (label in the page's language). Before any run a sentence says what will be
explained (:func:`plan_sentence`).

**One cluster.** The energy index is the weighted sum of its seven components (:mod:`sim.behaviour.energy`),
so a cluster's change since the start splits exactly into the components' weighted changes of this
run (:func:`cluster_sentence`; one run: no interval, and none is claimed). At quarter 0 nothing has
moved and a sentence says what the view will show (:func:`start_sentence`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

import sim
from app.compare import fmt, unit_text
from app.explain import HEADLINES, Cell, Explanation, Headline, Plan, cell_shows_difference, display
from app.i18n import Lang, channel_short, channel_text, lever_label, t
from sim.inputs.config import period_after
from sim.policy import attribution as at

NONE = "none"  # the part "all channels off" (the programme itself), next to the channels' names
# readability on a projector: a "too close to call" sentence names at most this many parts, then "and N more"
MAX_NAMED = 3
INDEX_DIGITS = 3  # the energy index and its components, as the why tab's table shows them


# ------------------------------------------------------------------------------------ small helpers
def join(items: Sequence[str], lang: Lang) -> str:
    return ("、" if lang == "zh" else ", ").join(items)


def then(text: str, more: str, lang: Lang) -> str:
    """Two sentences one after the other (a space between them in English, none in Chinese)."""
    return text + ("" if lang == "zh" else " ") + more


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


@lru_cache(maxsize=1)
def start_period() -> tuple[int, int]:
    """The scenario's first period (configs/baseline.toml ``start``), e.g. (2025, 1)."""
    return sim.default_config().start


def end_period(quarters: int) -> str:
    """The period label of the run's last row (quarter index ``quarters``: 40 quarters from 2025Q1 -> 2035Q1)."""
    return period_after(start_period(), int(quarters))


def above_zero(d: np.ndarray) -> bool:
    """Is the mean of the paired values ``d`` above 0 beyond the noise (95 % t interval above 0)?"""
    _m, lo, _hi = at.mean_ci(d)
    return bool(math.isfinite(lo) and lo > 0)


# ------------------------------------------------------------------------------------ parts of an effect
@dataclass(frozen=True)
class Part:
    """One candidate source of an outcome's effect: a channel's contribution or the all-off run, per world."""

    key: str  # the channel's name, or NONE
    lever: str | None  # the channel's lever (None for NONE)
    values: np.ndarray

    @property
    def cell(self) -> Cell:
        return Cell(*at.mean_ci(self.values))


def parts_of(ex: Explanation, outcome: str) -> list[Part]:
    """The channels' contributions (declaration order) and, when it shows a difference, the all-off run."""
    dec = ex.decompositions[outcome]
    out = [Part(c.name, c.lever, np.asarray(dec.contribution[c.name], float)) for c in ex.plan.channels]
    h = headline(outcome)
    none = Part(NONE, None, np.asarray(dec.none, float))
    if cell_shows_difference(none.cell, h):
        out.append(none)
    return out


def headline(key: str) -> Headline:
    return next(h for h in HEADLINES if h.key == key)


def part_name(part: Part, ex: Explanation, lang: Lang) -> str:
    """A channel's short name and its lever's label; or the programme itself (all channels off)."""
    if part.key == NONE:
        return t("why_say_none", lang)
    chan = next(c for c in ex.plan.channels if c.name == part.key)
    return t("why_say_channel", lang, channel=channel_short(chan, lang), lever=lever_label(chan.lever, lang))


def numbers(cell: Cell, h: Headline, lang: Lang) -> tuple[str, str, str]:
    conv = lambda x: fmt(display(x, h, lang), h.digits, sign=True)  # noqa: E731
    return conv(cell.mean), conv(cell.lo), conv(cell.hi)


def part_text(part: Part, ex: Explanation, h: Headline, lang: Lang) -> str:
    mean, lo, hi = numbers(part.cell, h, lang)
    return t("why_say_part", lang, source=part_name(part, ex, lang), part=mean, lo=lo, hi=hi)


# ------------------------------------------------------------------------------------ verdicts
@dataclass(frozen=True)
class Verdict:
    """What the words say about one outcome (or, for ``kind`` "unclear" / "no_value" / "nothing", a group).

    ``kind``: "most" | "largest" (a main source, more / not clearly more than half of the effect) |
    "tie" (too close to call) | "no_part" (no part measurable) | "unclear" (effect not measurable) |
    "no_value" (no value within the horizon) | "nothing" (no outcome measurable at all).
    ``sources``: the main source, or the tied parts (largest first); ``against``: parts measurably
    pulling the other way; ``text``: the sentence."""

    outcomes: tuple[str, ...]
    kind: str
    sources: tuple[str, ...] = ()
    against: tuple[str, ...] = ()
    text: str = ""
    tip: str = ""  # the channels' full declarations (a tooltip)


def outcome_verdict(ex: Explanation, h: Headline, lang: Lang) -> Verdict:
    """The sentence of one outcome whose full effect shows a difference (see the module's rules)."""
    dec = ex.decompositions[h.key]
    full = Cell(*at.mean_ci(dec.effect))
    s = 1.0 if full.mean > 0 else -1.0  # the effect's direction
    mean, lo, hi = numbers(full, h, lang)
    text = t("why_say_effect", lang, outcome=capital(t(f"why_say_{h.label}", lang)), end=end_period(ex.quarters),
             full=mean, unit=unit_text(h.unit, lang), lo=lo, hi=hi)
    parts = parts_of(ex, h.key)
    ranked = sorted(parts, key=lambda p: -s * p.cell.mean)  # stable: declaration order among equals
    top = ranked[0] if ranked else None
    sources: tuple[str, ...] = ()
    if top is None or not (cell_shows_difference(top.cell, h) and s * top.cell.mean > 0):
        kind = "no_part"
        text = then(text, t("why_say_no_part", lang, m=ex.m), lang)
    else:
        tied = [p for p in ranked[1:] if not above_zero(s * (top.values - p.values))]
        if tied:
            kind = "tie"
            named = [top, *tied]
            sources = tuple(p.key for p in named)
            shown = [part_text(p, ex, h, lang) for p in named[:MAX_NAMED]]
            if len(named) > MAX_NAMED:
                shown.append(t("why_say_more", lang, n=len(named) - MAX_NAMED))
            text = then(text, t("why_say_tie", lang, m=ex.m, parts=join(shown, lang)), lang)
        else:
            kind = "most" if above_zero(s * (2 * top.values - dec.effect)) else "largest"
            sources = (top.key,)
            pm, plo, phi = numbers(top.cell, h, lang)
            text = then(text, t(f"why_say_{kind}", lang, source=part_name(top, ex, lang), part=pm, lo=plo, hi=phi),
                        lang)
    against = [p for p in parts if cell_shows_difference(p.cell, h) and s * p.cell.mean < 0]
    if against:
        shown = join([part_text(p, ex, h, lang) for p in against], lang)
        text = then(text, t("why_say_against", lang, parts=shown), lang)
    if cell_shows_difference(Cell(*at.mean_ci(dec.interaction)), h):
        text = then(text, t("why_say_interacts", lang), lang)
    chans = {c.name: c for c in ex.plan.channels}
    tip = "\n".join(channel_text(chans[k], lang) for k in sources if k in chans)
    return Verdict((h.key,), kind, sources, tuple(p.key for p in against), text, tip)


def effect_verdicts(ex: Explanation, lang: Lang) -> list[Verdict]:
    """The words of a finished decomposition: one sentence per outcome with a measurable effect (in
    :data:`HEADLINES` order), then one naming the outcomes without a measurable difference, then one
    naming those without a value within the horizon; a single sentence when nothing is measurable."""
    out: list[Verdict] = []
    unclear, no_value = [], []
    for h in HEADLINES:
        full = Cell(*at.mean_ci(ex.decompositions[h.key].effect))
        if math.isnan(full.mean):
            no_value.append(h)
        elif not cell_shows_difference(full, h):
            unclear.append(h)
        else:
            out.append(outcome_verdict(ex, h, lang))
    end = end_period(ex.quarters)
    names = lambda hs: join([t(f"why_say_{h.label}", lang) for h in hs], lang)  # noqa: E731
    if not out:
        out.append(Verdict(tuple(h.key for h in unclear + no_value), "nothing",
                           text=t("why_say_nothing", lang, m=ex.m, end=end)))
    elif unclear:
        out.append(Verdict(tuple(h.key for h in unclear), "unclear",
                           text=t("why_say_unclear", lang, m=ex.m, outcomes=names(unclear))))
    if no_value:
        out.append(Verdict(tuple(h.key for h in no_value), "no_value",
                           text=t("why_say_no_value", lang, q=ex.quarters, outcomes=names(no_value))))
    return out


def effect_html(ex: Explanation, lang: Lang) -> str:
    """The sentences as a list (each with its channels' declarations as a tooltip), for the top of the tab."""
    items = "".join(f"<li class='why-say-{v.kind}' title='{html.escape(v.tip, quote=True)}'>{html.escape(v.text)}</li>"
                    for v in effect_verdicts(ex, lang))
    style = ("<style>.why-words{margin:0;padding-left:1.2em;font-size:1rem;line-height:1.45;max-width:75em}"
             ".why-words li{margin-bottom:2px}</style>")
    return f"{style}<ul class='why-words'>{items}</ul>"


def plan_sentence(plan: Plan, quarters: int, lang: Lang) -> str:
    """Before any run: what the button will explain (the changed levers with their channels' count)."""
    levers = []
    for lever in plan.levers_changed:
        k = sum(c.lever == lever for c in plan.channels)
        levers.append(t("why_say_plan_lever_one" if k == 1 else "why_say_plan_lever", lang,
                        lever=lever_label(lever, lang), k=k))
    return t("why_say_plan", lang, button=t("why_effect_button", lang), end=end_period(quarters),
             levers=join(levers, lang))


# ------------------------------------------------------------------------------------ one cluster
def start_sentence(period: str, cluster_name: str, lang: Lang) -> str:
    """At quarter 0: what the view will show once the run has moved."""
    return t("why_say_start", lang, period=period, cluster=cluster_name)


def cluster_sentence(clusters: pd.DataFrame, cluster: str, cluster_name: str, weights: Sequence[float],
                     components: Sequence[str], lang: Lang) -> str:
    """How one cluster's energy index moved in this run since its first row, and which weighted component
    moved it most ("most" only when that component's weighted change is more than half of the index's
    change, with the same sign; exact, since the index is the weighted sum of its components)."""
    df = clusters[clusters["cluster"] == cluster]
    first, last = df.iloc[0], df.iloc[-1]
    a, b = float(first["energy_index"]), float(last["energy_index"])
    d = b - a
    kw = dict(cluster=cluster_name, start=first["period"], now=last["period"], a=f"{a:.{INDEX_DIGITS}f}",
              b=f"{b:.{INDEX_DIGITS}f}")
    if round(d, INDEX_DIGITS) == 0:
        return t("why_say_cluster_flat", lang, **kw)
    moves = [(w * (float(last[f"idx_{c}"]) - float(first[f"idx_{c}"])), c) for c, w in zip(components, weights)]
    x, comp = max(moves, key=lambda m: math.copysign(1.0, d) * m[0])
    text = t("why_say_cluster", lang, d=f"{d:+.{INDEX_DIGITS}f}", **kw)
    if round(x, INDEX_DIGITS) == 0 or x * d <= 0:
        return text
    kind = "most" if abs(x) > abs(d) / 2 else "largest"
    name = t(f"comp_{comp}", lang)
    comp_name = name if lang == "zh" else name[:1].lower() + name[1:]
    return then(text, t(f"why_say_cluster_{kind}", lang, comp=comp_name, x=f"{x:+.{INDEX_DIGITS}f}"), lang)
