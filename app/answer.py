"""The instant answer: every lever or preset move recomputes the whole horizon for the new setting
against the status quo and redraws a headline figure and the headline trajectories, without Play.

**What is run.** The new setting and the status quo over :data:`QUARTERS` quarters (2025Q1 to 2035Q1),
paired: replicate r of both uses the same seed (and, when the page's replicates vary the behavioural
coefficients, the same posterior draw; :mod:`app.runs`). The replicates are the first ones of the
page's A/B comparison (:func:`app.runs.ab_replicates` with the page's seed, what it varies and
:data:`app.compare.DEFAULT_REPLICATES`), so the status-quo side is the one the server prefetches at
start and keeps in its run cache: a lever move runs only the new setting. The answer comes in
stages (:data:`STAGES`): one paired run first (shown at once), then more replicates refine it in the
background; a newer move abandons the stages of the older one (runs already started finish and
stay cached).

**Honest words.** With one paired run the page says so and shows no count: chance alone moves the
figures by amounts like these. With several it shows the mean paired difference, the range of the
differences and "better in N of M", and colours a difference only when all M runs agree on its sign
and that would happen by chance alone at most :data:`COLOUR_MAX_CHANCE` of the time (the A/B
table's rule, :meth:`app.compare.PairedStat.verdict`; M >= 6).

**Figures.** The headline numbers are the A/B table's headline outcomes (:data:`app.compare.OUTCOMES`),
B − status quo at the end of the run: real value added (annual rate) and the share of graduates
still in the city after 3 years (percentage points) big; employment, net fiscal balance, local
sourcing share and the outflows to Beijing and Tianjin small. The trajectories (chart tab "vs
status quo") draw the status quo in grey and the new setting in colour (mean, with the smallest to
largest run as a band once there are several), each axis zoomed to the data.

This module imports the model only through :mod:`app.runs` (worker processes) and the page's helpers.
"""

from __future__ import annotations

import math
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import solara

from app import a11y, charts, runs
from app.compare import (DEFAULT_QUARTERS, DEFAULT_REPLICATES, OUTCOME_BY_KEY, PairedStat, band, chance_all_agree,
                         fmt, paired_stats, run_vary, to_display, unit_text)
from app.i18n import Lang, money_unit, t
from app.state import lever_defaults
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

QUARTERS = DEFAULT_QUARTERS  # the whole horizon, as the A/B comparison's default
STAGES = (1, 4, DEFAULT_REPLICATES)  # paired runs shown in turn; the last is the A/B's (status quo prefetched)
SETTLE_S = 0.1  # a slider sends values while it is dragged: the answer starts once none came for this long
COLOUR_MAX_CHANCE = 0.05  # colour only when all M runs agreeing by chance alone is at most this likely
BIG = ("kpi_value_added", "kpi_retention_3y")
SMALL = ("kpi_employment", "kpi_fiscal", "kpi_sourcing", "kpi_out_bj", "kpi_out_tj")
POINTS = ("kpi_retention_3y", "kpi_sourcing")  # per cent: differences are percentage points
SIZE = charts.SIZE  # inches: the live charts' size (the answer is one of the chart tabs)
NEW_COLOUR = "#c55a11"
SQ_COLOUR = "#666"


def setting_key(levers: Mapping[str, float]) -> tuple:
    """A setting as a hashable, order-free key."""
    return tuple(sorted((k, float(v)) for k, v in levers.items()))


def is_status_quo(levers: Mapping[str, float]) -> bool:
    return setting_key(levers) == setting_key(lever_defaults())


# ------------------------------------------------------------------------------------ computation
@dataclass(frozen=True, eq=False)
class Answer:
    """The new setting against the status quo over ``quarters``: ``runs_sq[r]`` and ``runs_new[r]``
    are replicate r of each (:class:`app.runs.RunTables`); ``target`` is how many replicates the
    answer will have when refined; ``seconds`` the wall time this stage's runs took."""

    levers: Mapping[str, float]
    seed: int
    vary: str
    quarters: int
    runs_sq: tuple
    runs_new: tuple
    target: int
    seconds: float = math.nan

    @property
    def m(self) -> int:
        return len(self.runs_new)

    @property
    def refined(self) -> bool:
        return self.m >= self.target

    @property
    def key(self) -> tuple:
        return setting_key(self.levers), self.seed

    @cached_property
    def stats(self) -> dict[str, PairedStat]:
        """Every A/B outcome over the paired runs (A = status quo, B = the new setting), by key."""
        return {st.outcome.key: st for st in paired_stats(self.runs_sq, self.runs_new)}

    @property
    def end_period(self) -> str:
        return str(self.runs_new[0].city["period"].iloc[-1])

    @property
    def seeds(self) -> list[int]:
        return [r.replicate.seed for r in self.runs_new]

    def coloured(self) -> bool:
        """May a difference be coloured (better / worse)? Only with enough runs (module docstring)."""
        return chance_all_agree(self.m) <= COLOUR_MAX_CHANCE


def answer_replicates(vary: str, seed: int, m: int) -> list[runs.Replicate]:
    """The first ``m`` of the page's A/B replicates (so the status quo is the prefetched one)."""
    return runs.ab_replicates(vary, seed, STAGES[-1])[:m]


def compute_answer(levers: Mapping[str, float], seed: int, vary: str, m: int, quarters: int = QUARTERS,
                   target: int = STAGES[-1], stale: Callable[[], bool] | None = None) -> Answer:
    """``m`` paired runs of ``levers`` and the status quo (cached runs are reused, the rest go to the
    app's pool: :func:`app.runs.run_pairs`; :class:`app.runs.Superseded` once ``stale()``)."""
    reps = answer_replicates(vary, seed, m)
    t0 = time.perf_counter()
    sq, new = runs.run_pairs(lever_defaults(), dict(levers), reps, quarters, stale=stale)
    return Answer(dict(levers), int(seed), vary, int(quarters), tuple(sq), tuple(new), int(target),
                  time.perf_counter() - t0)


def refine(levers: Mapping[str, float], seed: int, vary: str, on_answer: Callable[[Answer], None],
           stale: Callable[[], bool] = lambda: False, stages: Sequence[int] = STAGES,
           quarters: int = QUARTERS) -> Answer | None:
    """Compute the answer stage by stage (:data:`STAGES`), calling ``on_answer`` after each; stop as
    soon as ``stale()`` (a newer setting was chosen; its runs not yet started are cancelled, so the
    newer setting's runs are not queued behind them). Returns the last answer computed."""
    last = None
    for m in stages:
        if stale():
            break
        try:
            last = compute_answer(levers, seed, vary, m, quarters, stages[-1], stale)
        except runs.Superseded:
            break
        if stale():
            break
        on_answer(last)
    return last


# ------------------------------------------------------------------------------------------ words
def diff_text(st: PairedStat, lang: Lang, x: float | None = None) -> str:
    """A difference (raw units; default the mean) as shown: money in the A/B table's unit and precision,
    shares in percentage points, persons whole."""
    o = st.outcome
    x = st.mean_d if x is None else x
    return fmt(to_display(x, o.unit, lang), st.digits(lang), sign=True)


def unit_of(key: str, lang: Lang) -> str:
    return t("answer_points", lang) if key in POINTS else unit_text(OUTCOME_BY_KEY[key].unit, lang)


def figure_parts(ans: Answer, key: str, lang: Lang) -> dict[str, str]:
    """One headline figure: label, mean difference, unit, range and count (empty with one run), and
    the colour class (``better`` / ``worse`` / ``unclear``; ``unclear`` while too few runs)."""
    st = ans.stats[key]
    verdict = st.verdict if ans.coloured() else ("neutral" if st.verdict == "neutral" else "unclear")
    several = ans.m > 1 and st.m > 1
    return {
        "label": t(f"answer_{key}", lang), "value": diff_text(st, lang), "unit": unit_of(key, lang),
        "range": (t("answer_range", lang, lo=diff_text(st, lang, st.min_d), hi=diff_text(st, lang, st.max_d))
                  if several else ""),
        "count": (t("answer_better_n", lang, n=st.n_better(), m=st.m) if several and st.outcome.better else ""),
        "verdict": verdict,
    }


def summary_text(ans: Answer, lang: Lang) -> str:
    """What the figures are: one paired run (and that chance alone moves such figures), or the mean of
    M paired runs; what the replicates vary; refining or not."""
    seeds = ans.seeds
    if ans.m == 1:
        text = t("answer_one", lang, seed=seeds[0], period=ans.end_period)
    else:
        text = t("answer_many", lang, m=ans.m, first=seeds[0], last=seeds[-1], period=ans.end_period)
        text += " " + (t("answer_colour", lang, m=ans.m, p=f"{100 * chance_all_agree(ans.m):.1f}") if ans.coloured()
                       else t("answer_no_colour", lang))
    if ans.vary == "posterior":
        text += " " + t("answer_posterior", lang)
    if not ans.refined:
        text += " " + t("answer_refining", lang, m=ans.target)
    return text


def headline_html(ans: Answer, lang: Lang, pending: bool) -> str:
    """The big "versus status quo" figure and the small ones, as HTML (escaped); ``data-m`` and
    ``data-setting`` say which answer it is (the tests and the benchmark read them)."""
    import html

    def cell(key: str, big: bool) -> str:  # the big figures with their range, the small ones with the count only
        p = figure_parts(ans, key, lang)
        extra = " · ".join(x for x in ((p["range"], p["count"]) if big else (p["count"],)) if x)
        return (f"<div class='answer-fig answer-{key} verdict-{p['verdict']}{' answer-big' if big else ''}'>"
                f"<span class='answer-label'>{html.escape(p['label'])}</span> "
                f"<span class='answer-value'>{html.escape(p['value'])}</span>"
                f"<span class='answer-unit'> {html.escape(p['unit'])}</span>"
                + (f"<span class='answer-extra'> ({html.escape(extra)})</span>" if extra else "") + "</div>")

    setting = zlib.crc32(repr(setting_key(ans.levers)).encode())
    head = html.escape(t("answer_title", lang, period=ans.end_period))
    return (f"<div class='answer-box{' answer-pending' if pending else ''}' data-m='{ans.m}' "
            f"data-setting='{setting}' data-seconds='{ans.seconds:.3f}'>"
            f"<div class='answer-bigs'><span class='answer-head'>{head}</span>{''.join(cell(k, True) for k in BIG)}</div>"
            f"<div class='answer-smalls'>{''.join(cell(k, False) for k in SMALL)}</div>"
            f"<div class='answer-note'>{html.escape(summary_text(ans, lang))}</div></div>")


# ------------------------------------------------------------------------------------------ chart
def _series(r) -> dict[str, np.ndarray]:
    """Per quarter of a run: value added (yuan/yr), graduates in the city 3 years on (pooled over the
    cohorts seen so far, %; NaN before the first), employment and the local sourcing share (%)."""
    c = r.city
    col = lambda name: c[name].to_numpy(dtype=float)  # noqa: E731
    size, stay = np.cumsum(col("cohort_size_3y")), np.cumsum(col("cohort_in_city_3y"))
    with np.errstate(invalid="ignore", divide="ignore"):
        retention = np.where(size > 0, 100 * stay / np.where(size > 0, size, 1), np.nan)
    return {"kpi_value_added": col("value_added"), "kpi_retention_3y": retention,
            "kpi_employment": col("employment"), "kpi_sourcing": 100 * col("local_sourcing_share")}


CHART_PANELS = ("kpi_value_added", "kpi_retention_3y", "kpi_employment", "kpi_sourcing")


def answer_figure(ans: Answer, lang: Lang) -> Figure:
    """Four panels over the horizon: the status quo (grey) and the new setting (colour), mean lines
    with the smallest-to-largest band of the paired runs; each y axis zoomed to its data."""
    fs = charts.FONT
    fig = Figure(figsize=SIZE, dpi=charts.current_dpi())
    axes = fig.subplots(2, 2, sharex=True)
    fig.subplots_adjust(left=0.11, right=0.99, top=0.80, bottom=0.11, hspace=0.55, wspace=0.30)
    money_div = money_unit("value_added", lang)[1]
    sq = [_series(r) for r in ans.runs_sq]
    new = [_series(r) for r in ans.runs_new]
    periods = charts.period_labels(ans.runs_new[0].city, ans.quarters)
    for ax, key in zip(axes.ravel(), CHART_PANELS):
        div = money_div if key == "kpi_value_added" else 1.0
        for ss, colour, style, width in ((sq, SQ_COLOUR, "--", 1.6), (new, NEW_COLOUR, "-", 2.0)):
            x, low, mean, high = band([s[key] / div for s in ss])
            if len(ss) > 1:
                ax.fill_between(x, low, high, color=colour, alpha=0.18, lw=0)
            ax.plot(x, mean, style, color=colour, lw=width)
        ax.set_title(t(f"answer_panel_{key}", lang, unit=unit_text(OUTCOME_BY_KEY[key].unit, lang)), fontsize=fs)
        ax.tick_params(labelsize=fs)
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.yaxis.set_major_formatter(charts.GROUPED)
        ax.margins(x=0.01, y=0.08)  # zoomed to the data (no zero baseline)
        charts._year_ticks(ax, periods, lang, most=3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=SQ_COLOUR, ls="--", lw=1.6), Line2D([], [], color=NEW_COLOUR, lw=2.0)]
    fig.legend(handles, [t("answer_sq", lang), t("answer_new", lang, m=ans.m)], loc="upper center",
               ncol=2, fontsize=fs, frameon=False, bbox_to_anchor=(0.5, 1.0))
    return fig


# ------------------------------------------------------------------------------------------- page
@dataclass(frozen=True)
class AnswerState:
    """What the page shows: the setting being answered (``key``), the latest answer computed (for it,
    or the previous setting's while the new one is computed), whether more is coming, an error."""

    key: tuple
    answer: Answer | None = None
    pending: bool = False
    error: str | None = None

    @property
    def current(self) -> bool:
        """Is the answer shown the one of the setting being answered?"""
        return self.answer is not None and self.answer.key == self.key


answer_context = solara.create_context(None)  # the page's solara.Reactive[AnswerState | None]

CSS = """
.answer-strip { min-height: 2.4rem; font-size: 1rem; }
.answer-float { position: fixed; right: 12px; bottom: 12px; z-index: 6; max-width: min(660px, 52vw);
  background: #fff; border: 1px solid #bbb; border-radius: 6px; padding: 6px 10px;
  box-shadow: 0 2px 8px rgba(0, 0, 0, 0.18); }
.answer-box { line-height: 1.25; }
.answer-box.answer-pending { opacity: 0.55; }
.answer-head { font-weight: 600; color: #333; }
.answer-bigs, .answer-smalls { display: flex; flex-wrap: wrap; gap: 0 16px; align-items: baseline; }
.answer-big .answer-value { font-size: 1.75rem; font-weight: 700; line-height: 1.1; }
.answer-smalls .answer-value { font-weight: 600; }
.answer-extra { color: #555; }
.answer-fig.verdict-better .answer-value { color: #1b7f3b; }
.answer-fig.verdict-worse .answer-value { color: #b3261e; }
.answer-note { color: #555; }
"""


class AnswerJob:
    """One page's answers. :meth:`request` starts computing a setting (levers, seed, what the replicates
    vary) in a thread of its own (the runs go to the app's pool), unless it is the setting already
    under way; a newer request makes the older one stale (its later stages are not run, its results not
    shown). The page calls it from the lever and preset handlers, before the page redraws for the new
    levers, so the run starts at once; :func:`AnswerStrip` calls it too (first load, seed changes)."""

    def __init__(self, state: solara.Reactive, stages: Sequence[int] = STAGES, quarters: int = QUARTERS):
        self.state = state  # solara.Reactive[AnswerState | None], read by AnswerStrip and AnswerChart
        self.stages, self.quarters = tuple(stages), int(quarters)
        self._lock = threading.Lock()
        self._generation = 0
        self._current: tuple | None = None

    def request(self, levers: Mapping[str, float], seed: int, vary: str | None) -> bool:
        """Answer this setting (no-op, False, if it is the one under way or shown)."""
        key = (setting_key(levers), int(seed), vary)
        with self._lock:
            if key == self._current:
                return False
            self._generation += 1
            mine, self._current = self._generation, key
        shown_key = key[:2]
        old = self.state.value.answer if self.state.value is not None else None
        if is_status_quo(levers):
            self.state.set(AnswerState(shown_key))
            return True
        self.state.set(AnswerState(shown_key, old, pending=True))

        def stale() -> bool:
            return self._generation != mine

        def show(a: Answer) -> None:
            if not stale():
                self.state.set(AnswerState(shown_key, a, not a.refined))

        def go() -> None:
            time.sleep(SETTLE_S)  # a slider still moving sends another value: this one is then stale
            if stale():
                return
            try:
                kind = run_vary(vary, runs.posterior_status())  # known by now: checked at server start
                refine(dict(levers), int(seed), kind, show, stale, self.stages, self.quarters)
            except Exception as exc:  # noqa: BLE001 - shown on the page, as the A/B panel does
                if not stale():
                    self.state.set(AnswerState(shown_key, None, False, f"{type(exc).__name__}: {exc}"))

        threading.Thread(target=go, daemon=True, name="instant-answer").start()
        return True

    def stop(self) -> None:
        """The page closed: what is under way stops after its current stage."""
        with self._lock:
            self._generation += 1
            self._current = None


@solara.component
def AnswerStrip(levers: Mapping[str, float], seed: int, vary: str | None, lang: Lang, job: AnswerJob,
                on_show_chart: Callable[[], None] | None = None):
    """The headline figures of ``job``'s latest answer; asks ``job`` for the current setting's answer
    after each render (a no-op when the lever handler already did)."""
    def ask() -> None:  # returns nothing: an effect's return value is its cleanup
        job.request(levers, seed, vary)

    solara.use_effect(ask, dependencies=[setting_key(levers), int(seed), vary])
    solara.use_effect(lambda: job.stop, dependencies=[])  # cleanup when the page closes
    state = job.state
    s: AnswerState | None = state.value
    with solara.Column(gap="0px", classes=["answer-strip"]):
        if s is None or (s.answer is None and not s.pending and s.error is None):
            solara.Text(t("answer_status_quo", lang), classes=["answer-idle"], style={"font-size": "1rem", "color": "#555"})
        elif s.error:
            solara.Error(t("answer_error", lang, err=s.error), classes=["answer-error"], dense=True)
        elif s.answer is None:
            solara.Text(t("answer_computing", lang), classes=["answer-computing"], style={"font-size": "1rem"})
        else:
            with solara.Row(gap="8px", style={"align-items": "baseline", "flex-wrap": "wrap"}):
                solara.HTML(tag="div", unsafe_innerHTML=headline_html(s.answer, lang, not s.current),
                            classes=["answer-headline"], style={"flex": "1 1 auto"})
                if on_show_chart is not None:
                    solara.Button(t("answer_show_chart", lang), icon_name="mdi-chart-line", text=True, small=True,
                                  on_click=on_show_chart, classes=["btn-answer-chart"])


@solara.component
def AnswerChart(lang: Lang):
    """The trajectories of the latest answer (chart tab "vs status quo"); a line of text before any."""
    state = solara.use_context(answer_context)
    s: AnswerState | None = state.value if state is not None else None
    ans = s.answer if s is not None else None
    png = solara.use_memo(lambda: charts.to_png(answer_figure(ans, lang)) if ans is not None else None,
                          dependencies=[id(ans), lang])
    if ans is None:
        solara.Text(t("answer_chart_none", lang), classes=["answer-chart-none"], style={"color": "#555"})
        return
    a11y.Picture(png, t("alt_answer", lang, m=ans.m, period=ans.end_period), classes=["chart-answer", "chart-image"])
