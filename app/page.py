"""The workshop page (Solara), laid out for a projector: a one-line run bar on top; below it the
levers (tabs by remedy group), the map and the key figures with one chart side by side, so the room
can watch the map while a lever moves. Main tabs: map & charts, A/B compare, why a cluster climbed
(with "where does the effect come from?": :mod:`app.explain`), budget, export. An English / 中文 switch changes every label.

Layout (CSS below): at >= 1100 px wide the levers are a column beside the map; narrower, they
become a drawer opened from the run bar, laid over the chart, so the map stays in view. Map and
chart are limited to the window's height, so run controls, map and one chart are in view without
scrolling at 1280x720, at 800x900 and at 150 % zoom.

State: everything is created inside :func:`Page` (``use_memo`` / ``use_reactive``), so each browser
session (tab) owns its model and settings; the settings are mirrored in the address
(:mod:`app.urlstate`). Only :func:`LiveView`, :func:`RunStatus` and the tabs that show the run read
the ``tick`` counter, so a step redraws the map, key figures and the visible chart, not the levers.
"""

from __future__ import annotations

import html
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable

import ipyvuetify as v
import solara
import solara.lab
import traitlets

import sim
from app import a11y, charts, map_view, runs, timing, urlstate
from app.answer import CSS as ANSWER_CSS
from app.answer import AnswerChart, AnswerJob, AnswerStrip, answer_context
from app.budget import DEFAULT_CEILING, BudgetPanel, cost_basis
from app.compare import DEFAULT_QUARTERS as AB_QUARTERS
from app.compare import DEFAULT_REPLICATES, ComparePanel, fmt, outcomes
from app.controls import LeverPanel, PresetButtons, RunControls
from app.explain import EffectSources
from app.export import ExportPanel
from app.i18n import LANG_NAMES, LANGUAGE_LABEL, Lang, how_items, money_unit, t
from app.state import DEFAULT_SEED, STEP_GATE, Session, Snapshot, lever_defaults, presets
from app.why import WhyPanel

CHART_TABS = urlstate.CHART_TABS  # ("energy", "talent", "maturity", "chain", "spending")
# The key figures (key in app.compare.outcomes, decimals shown): first the headline outcomes a statistics
# bureau could check (sim.state.records.HEADLINE_OUTCOMES, same order), then, in a row of their own, the
# energy figures (the paper's vocabulary) and this quarter's spending.
KPI_HEADLINE = (("kpi_value_added", 2), ("kpi_sourcing", 1), ("kpi_employment", 0), ("kpi_fiscal", 2),
                ("kpi_retention_3y", 1), ("kpi_out_bj", 0), ("kpi_out_tj", 0))
KPI_ENERGY = (("kpi_energy", 3), ("kpi_tiers", 0), ("kpi_spend", 0))
KPIS = KPI_HEADLINE + KPI_ENERGY
KPI_MONEY = {"kpi_value_added": "value_added", "kpi_fiscal": "total", "kpi_spend": "quarter"}  # app.i18n.MONEY
KPI_PERCENT = ("kpi_sourcing", "kpi_retention_3y")
MAIN_TABS = urlstate.MAIN_TABS  # ("city", "compare", "why", "budget", "export")
PLAY_MIN_PAUSE_S = 0.05  # after each redraw while playing: the server gets a turn to handle a press (Pause)
PLAY_MAX_CATCH_UP_S = 1.0  # quarters due for at most this long are run before the next redraw; older debt is dropped
RATE_WINDOW_S = 3.0  # the measured Play rate is over the last few seconds
RATE_FIRST_S = 0.5  # ... and shown once Play has run this long

# Room-readable (issue 25): on the map tab, every text is at least ROOM_PX CSS pixels (the projector's
# back row reads 16 px at 1280x720); the map and the chart are drawn at the size they are shown
# (:class:`Fit` measures the room for them, :func:`screen_dpi`), the map as the largest element.
ROOM_PX = 16
CSS = """
.workshop { padding: 4px 12px 0 12px; --map-share: 0.56; --map-column: auto; }
.workshop .room :is(div, span, p, label, button, select, input, li, summary, a, td, th, legend, option),
.workshop .v-tab, .workshop .room .v-btn { font-size: ROOM_PXpx !important; }
.workshop .room .page-title { font-size: 22px !important; font-weight: 600; line-height: 1.25; margin: 0; }
.workshop .room .quarter-now { font-size: 19px !important; }
.workshop .room .kpi-value { font-size: 20px !important; font-weight: 600; line-height: 1.3; color: #111; }
.page-subtitle { color: #555; }
.run-bar .v-btn { margin: 0 !important; }
.run-bar .v-input { margin-top: 0; padding-top: 0; }
.main-tabs .v-tab { min-width: 0; padding: 0 12px; }
.main-tabs .v-tabs-bar { height: 40px; }
.chart-view .v-tab { min-width: 0; padding: 0 8px; text-transform: none; }
.chart-view .v-tabs-bar { height: 36px; }
.lever-tabs .v-btn, .lever-drawer .v-btn { text-transform: none; letter-spacing: 0; }
.lever-drawer .v-btn:not(.btn-drawer-close) { height: auto !important; min-height: 30px; white-space: normal;
                                              text-align: left; padding: 2px 10px !important; }
.lever-drawer .v-btn .v-btn__content { white-space: normal; flex-shrink: 1; }
.city-grid { display: grid; grid-template-columns: minmax(260px, 300px) minmax(0, 1fr); gap: 12px;
             align-items: start; }
.live-grid { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 12px; align-items: start; }
.workshop .live-grid > .d-flex { display: contents !important; }
.lever-drawer { max-height: calc(100vh - var(--app-top, 150px)); overflow-y: auto; padding-right: 6px; }
.lever-drawer .lever-help, .lever-drawer .lever-channels { line-height: 1.3; }
.lever-window { margin-top: 2px; }
.lever-window .native-select select { padding: 0 20px 0 2px; }
img.map-image, img.chart-image { display: block; height: auto; max-width: none; }
.map-view { min-width: 0; }
.map-box { position: relative; align-self: flex-start; }
.map-legend-symbols { position: absolute; right: 3px; bottom: 3px; display: flex; flex-direction: column;
                      background: rgba(255,255,255,0.88); padding: 2px 6px; border-radius: 3px; line-height: 1.2; }
.map-legend { display: flex; flex-wrap: wrap; gap: 0 12px; line-height: 1.3; color: #333; padding-top: 2px; }
.map-key { display: inline-flex; align-items: center; gap: 5px; white-space: nowrap; }
.map-key-size { color: #555; }
.workshop .kpi-row { display: grid !important; grid-template-columns: repeat(auto-fill, minmax(118px, 1fr)); gap: 4px; }
.kpis .v-card { padding: 0 !important; }
.kpis .v-card__text { padding: 2px 6px !important; }
.kpi-label { color: #444; line-height: 1.15; }
.kpi-row-energy .kpi-value { font-weight: 500 !important; }
.ghost-line { min-height: 1.35em; color: #555; line-height: 1.3; }
.workshop .btn-drawer { display: none !important; }
.how-box { position: relative; }
.how-details summary { cursor: pointer; min-height: 40px; display: flex; align-items: center; padding: 0 12px;
                       border-radius: 4px; box-shadow: 0 1px 3px rgba(0,0,0,0.25); background: white; }
.why-grid { display: grid; grid-template-columns: minmax(0, 55fr) minmax(0, 45fr); gap: 16px; align-items: start; }
.why-grid img.why-chart { display: block; width: 100% !important; height: auto; max-height: calc(100vh - 290px);
                          object-fit: contain; object-position: left top; }
@media (max-width: 1099px) { .why-grid { grid-template-columns: minmax(0, 1fr); } }
.how-details > ul { position: absolute; right: 0; top: 100%; z-index: 30; background: white; margin: 0;
                     width: min(60em, calc(100vw - 24px)); max-height: calc(100vh - 80px); font-size: 0.9rem;
                     overflow-y: auto; box-shadow: 0 6px 18px rgba(0,0,0,0.25); border-radius: 4px;
                     padding: 8px 12px 8px 28px; }
/* notices float over the page's foot: the map and the chart keep their size when one appears */
.notices { position: fixed; left: 50%; bottom: 10px; transform: translateX(-50%); z-index: 40;
           width: min(1000px, calc(100vw - 24px)); display: flex; flex-direction: column; gap: 4px; }
.notices .v-alert { margin: 0 !important; box-shadow: 0 4px 14px rgba(0,0,0,0.3); }
/* the A/B and budget tabs use the screen's width: pictures at their own size (never stretched); on a wide
   screen the A/B table and its chart side by side (the table floats left, the rule and chart beside it) */
.wide-tab img.compare-chart, .wide-tab img.budget-chart { width: auto !important; max-width: 100%; height: auto; }
@media (min-width: 1400px) {
  .compare-tab > .d-flex { display: block !important; }
  .compare-tab > .d-flex > * { margin-bottom: 6px; }
  .compare-tab .compare-table { float: left; margin-right: 28px; }
  .compare-tab .picture, .compare-tab .compare-rule { overflow: hidden; }
}
@media (max-width: 1099px) {
  .workshop { --map-share: 0.42; --map-column: fr; }
  .city-grid { grid-template-columns: minmax(0, 1fr); }
  .live-grid { grid-template-columns: minmax(0, 42fr) minmax(0, 58fr); }
  .workshop .lever-drawer { display: none !important; }
  .workshop.drawer-open .lever-drawer { display: flex !important; position: fixed; right: 0; top: 0; bottom: 0; z-index: 20;
                               width: min(380px, 92vw); max-height: none; background: white; padding: 8px 12px;
                               box-shadow: -4px 0 16px rgba(0,0,0,0.25); }
  .workshop .btn-drawer { display: inline-flex !important; }
}
@media (max-height: 800px) {  /* 1280x720: the map and a chart of room size first */
  .workshop .page-subtitle, .workshop .kpi-row-energy { display: none !important; }
}
@media (max-height: 600px) {
  .workshop .kpis, .workshop .map-legend, .workshop .ghost-line { display: none !important; }
}
""".replace("ROOM_PX", str(ROOM_PX))


class UrlQuery(v.VuetifyTemplate):
    """Writes ``query`` into the browser's address (``history.replaceState``: no new history entry per
    lever move or quarter, no reload); the page reads the address once, at start
    (``solara.use_router().search``)."""

    template = traitlets.Unicode(a11y.hidden_vue("""
  mounted() { this.apply(); },
  watch: { query() { this.apply(); } },
  methods: {
    apply() {
      if (this.query === null || this.query === undefined) return;
      const now = window.location.pathname + window.location.search + window.location.hash;
      const url = window.location.pathname + (this.query ? "?" + this.query : "") + window.location.hash;
      if (url !== now) window.history.replaceState(window.history.state, "", url);
    },
  },
""")).tag(sync=True)
    query = traitlets.Unicode(None, allow_none=True).tag(sync=True)


MAP_CSS_PX = tuple(round(x * 80) for x in map_view.SCREEN_SIZE)  # the map at scale 1 (MAP_DPI): 416 x 508
CHART_CSS_PX = tuple(round(x * charts.DPI) for x in charts.SIZE)  # a chart at scale 1: 520 x 300
SCALE_STEP = 0.02  # the scales Fit reports are multiples of this: a few pixels of resizing redraw nothing


class Fit(v.VuetifyTemplate):
    """Measures the room the map and the chart have in the window, every 300 ms and on resize, and
    reports ``sizes`` = ``{map, chart, dpr}``: the scale (CSS pixels shown / :data:`MAP_CSS_PX` or
    :data:`CHART_CSS_PX`) at which each fits, and the device pixel ratio. The server draws them at that
    size (:func:`screen_dpi`), so the browser shows every bitmap pixel for pixel, never stretched.

    The map takes the height left under the run bar (minus its legend), at most ``--map-share`` of the
    live area's width; the chart the width of its column and the height left under the key figures.
    Also sets ``--app-top`` (where the live area starts) for the lever column's height."""

    template = traitlets.Unicode(a11y.hidden_vue("""
  mounted() {
    const fit = () => {
      const ws = document.querySelector(".workshop");
      const grid = document.querySelector(".live-grid");
      if (!ws || !grid || !grid.offsetParent) return;
      const H = window.innerHeight;
      const top = grid.getBoundingClientRect().top + window.scrollY;
      ws.style.setProperty("--app-top", Math.round(top + 8) + "px");
      const legend = grid.querySelector(".map-legend");
      const legendH = legend && legend.offsetParent ? legend.offsetHeight + 4 : 0;
      const share = parseFloat(getComputedStyle(ws).getPropertyValue("--map-share")) || 0.5;
      const step = (x) => Math.max(0.3, Math.floor(x / this.step + 1e-6) * this.step);
      const mapScale = Math.min((H - top - 8 - legendH) / this.map_px[1], share * grid.clientWidth / this.map_px[0]);
      let chartScale = (this.sizes && this.sizes.chart) || 1;
      const box = grid.querySelector(".chart-box"), col = grid.querySelector(".chart-view");
      if (box && col) {
        const y = box.getBoundingClientRect().top + window.scrollY;
        // beside a map column as wide as the map (wide layout), the chart gets the rest of the row: from
        // the map's new size, not the column's width now (which follows the map one redraw later)
        const auto = getComputedStyle(ws).getPropertyValue("--map-column").trim() === "auto";
        const w = auto ? grid.clientWidth - step(mapScale) * this.map_px[0] - 12 : col.clientWidth;
        chartScale = Math.min(w / this.chart_px[0], (H - y - 8) / this.chart_px[1]);
      }
      const next = { map: step(mapScale), chart: step(chartScale), dpr: window.devicePixelRatio || 1 };
      ws.dataset.fitMap = next.map;  // what the pictures should be drawn at (read by the browser tests)
      ws.dataset.fitChart = next.chart;
      const old = this.sizes || {};
      if (next.map !== old.map || next.chart !== old.chart || next.dpr !== old.dpr) this.sizes = next;
    };
    this._fit = setInterval(fit, 300);
    this._onresize = fit;
    window.addEventListener("resize", fit);
  },
  destroyed() { clearInterval(this._fit); window.removeEventListener("resize", this._onresize); },
""")).tag(sync=True)
    sizes = traitlets.Dict({}).tag(sync=True)
    map_px = traitlets.List(list(MAP_CSS_PX)).tag(sync=True)
    chart_px = traitlets.List(list(CHART_CSS_PX)).tag(sync=True)
    step = traitlets.Float(SCALE_STEP).tag(sync=True)


DEFAULT_DISPLAY = {"map": 1.0, "chart": 1.0, "dpr": 1.0}
DPI_STEP = 2  # rendered dots per inch are rounded down to this: a few sizes, each with its cached frame


def screen_dpi(base: float, scale: float, dpr: float) -> int:
    """Dots per inch to draw a figure made for ``base`` dpi at ``scale`` x its size on a screen of
    ``dpr`` device pixels per CSS pixel (rounded down to :data:`DPI_STEP`, at least 20)."""
    dpi = base * max(0.3, min(float(scale), 6.0)) * max(0.5, min(float(dpr), 4.0))
    return max(20, int(dpi // DPI_STEP) * DPI_STEP)


def png_width(data: bytes) -> int:
    """The width in pixels of a PNG (its IHDR header)."""
    return int.from_bytes(data[16:20], "big")


def web_font_css() -> str:
    """@font-face for the CJK font file that ``python -m app`` serves (see app.__main__.font_env)."""
    import os

    name = os.environ.get("APP_WEB_FONT")
    if not name:
        return ""
    return ("@font-face { font-family: 'App CJK'; font-display: swap; src: url('/static/assets/%s'); "
            "unicode-range: U+2E80-9FFF, U+3000-303F, U+FF00-FFEF; }\n"
            ".v-application, .v-application .text-h1, .v-application .text-h5, .v-application .title "
            "{ font-family: Roboto, 'App CJK', sans-serif !important; }\n" % name)


MAP_DPI = 80  # the map's dots per inch at scale 1 (416 px wide); the page draws it at its shown size (screen_dpi)


def map_png(snap: Snapshot, lang: Lang, dpi: int = MAP_DPI) -> bytes:
    with charts.render_dpi(dpi), charts.reused_figures():
        return charts.to_png(map_view.map_figure(snap.layout, snap.firms, snap.universities, snap.governments,
                                                 snap.city, lang, screen=True))


def chart_png(snap: Snapshot, name: str, lang: Lang, dpi: int = charts.DPI) -> bytes:
    with charts.render_dpi(dpi), charts.reused_figures():
        return charts.to_png(charts.chart_figure(snap, name, lang))


def quarter_text(snap: Snapshot, lang: Lang) -> str:
    return t("quarter_now", lang, q=snap.quarter, n=snap.quarters, period=snap.city["period"].iloc[-1])


def kpi_label(key: str, lang: Lang) -> str:
    if key in KPI_MONEY:
        return t(key, lang, unit=money_unit(KPI_MONEY[key], lang)[0])
    return t(key, lang)


def kpi_cards(values: dict[str, float], n_clusters: int, lang: Lang) -> list[tuple[str, str, str, bool]]:
    """``(key, label, value text, fallback)`` of every key figure, in :data:`KPIS` order, from
    :func:`app.compare.outcomes` of the run so far. Retention after 3 years pools the cohorts three
    years on so far; until one is, the card shows the latest cohort's retention at graduation and its
    label says so (``fallback``)."""
    cards = []
    for key, digits in KPIS:
        raw, label, fallback = values[key], kpi_label(key, lang), False
        if key == "kpi_retention_3y" and math.isnan(raw):
            raw, label, fallback = values["kpi_retention_latest"], t("kpi_retention_latest", lang), True
        if key in KPI_MONEY:
            raw = raw / money_unit(KPI_MONEY[key], lang)[1]
        value = fmt(raw, digits)
        if key == "kpi_tiers":
            value = f"{value} / {n_clusters}"
        if key in KPI_PERCENT:
            value = t("no_cohort", lang) if value == "–" and fallback else f"{value} %"
        cards.append((key, label, value, fallback))
    return cards


@solara.component
def Kpis(snap: Snapshot, lang: Lang):
    """The key figures: the headline outcomes in one grid, the energy figures and spending in the next
    (each grid wraps to as many columns as fit; rows never mix the two)."""
    cards = kpi_cards(outcomes(snap.city, snap.clusters), snap.clusters["cluster"].nunique(), lang)
    n = len(KPI_HEADLINE)
    with solara.Column(gap="4px", classes=["kpis"]):
        for row, part in (("headline", cards[:n]), ("energy", cards[n:])):
            with solara.Row(gap="4px", classes=["kpi-row", f"kpi-row-{row}"]):
                for key, label, value, fallback in part:
                    classes = [f"kpi-{key}"] + (["kpi-fallback"] if fallback else [])
                    with solara.Card(margin=0, elevation=1, classes=classes):
                        with solara.Column(gap="0px"):
                            solara.Text(label, classes=["kpi-label"])
                            solara.Text(value, classes=["kpi-value"])


@solara.component
def LiveView(session: Session, tick: solara.Reactive[int], lang: Lang, chart_tab: solara.Reactive[int],
             display: dict | None = None):
    """Map, key figures and the selected chart; redrawn after every step, at the size ``display``
    (:class:`Fit`'s report) says each is shown."""
    _ = tick.value  # subscribe: re-render after each step / reset
    snap = session.snapshot()
    name = CHART_TABS[chart_tab.value] if chart_tab.value < len(CHART_TABS) else None  # None: the answer tab
    d = {**DEFAULT_DISPLAY, **(display or {})}
    map_dpi, chart_dpi = screen_dpi(MAP_DPI, d["map"], d["dpr"]), screen_dpi(charts.DPI, d["chart"], d["dpr"])
    map_bytes = solara.use_memo(lambda: map_png(snap, lang, map_dpi), dependencies=[session.version, lang, map_dpi])
    chart_bytes = solara.use_memo(lambda: chart_png(snap, name, lang, chart_dpi) if name else None,
                                  dependencies=[session.version, lang, name, chart_dpi])
    with solara.Div(classes=["live-grid"]):
        LiveParts(snap, lang, chart_tab, map_bytes, chart_bytes, float(d["dpr"]))


@solara.component
def LiveParts(snap: Snapshot, lang: Lang, chart_tab, map_bytes: bytes, chart_bytes: bytes, dpr: float = 1.0):
    """Each picture is given the CSS width of its pixels / ``dpr``: shown pixel for pixel."""
    def css_width(png: bytes) -> str:
        return f"{png_width(png) / dpr:.2f}px"

    with solara.Column(classes=["map-view"], gap="0px", style={"width": css_width(map_bytes)}):
        with solara.Div(classes=["map-box"]):  # the symbols' key lies over the sea, bottom right
            a11y.Picture(map_bytes, t("alt_chart", lang, name=t("chart_map", lang),
                                      period=snap.city["period"].iloc[-1]),
                         classes=["map-image"], width=css_width(map_bytes))
            solara.HTML(tag="div", unsafe_innerHTML=map_view.legend_html(lang, "symbols"),
                        classes=["map-legend-symbols"])
        solara.HTML(tag="div", unsafe_innerHTML=map_view.legend_html(lang, "clusters"), classes=["map-legend"])
    with solara.Column(classes=["chart-view"], gap="4px"):
        Kpis(snap, lang)
        # always one line, empty without a ghost: the chart keeps its size when the note appears
        solara.Text(t("ghost_note", lang) if snap.ghost_city is not None else "",
                    classes=["ghost-line"] + (["ghost-note"] if snap.ghost_city is not None else []))
        with solara.lab.Tabs(value=chart_tab, lazy=True):
            for i, key in enumerate(CHART_TABS):
                with solara.lab.Tab(t(f"short_{key}", lang), classes=[f"tab-{key}"]):
                    if i == chart_tab.value:
                        with solara.Div(classes=["chart-box"]):
                            a11y.Picture(chart_bytes, t("alt_chart", lang, name=t(f"short_{key}", lang),
                                                        period=snap.city["period"].iloc[-1]),
                                         classes=[f"chart-{key}", "chart-image"], width=css_width(chart_bytes))
            with solara.lab.Tab(t("short_answer", lang), classes=["tab-answer"]):  # app.answer: vs status quo
                if chart_tab.value == len(CHART_TABS):
                    AnswerChart(lang)


@solara.component
def RunStatus(session: Session, tick, playing, speed, seed, on_seed, on_step, on_play, on_reset, lang: Lang,
              on_drawer, drawer_open, clock: dict | None = None):
    _ = tick.value
    snap = session.snapshot()
    RunControls(quarter_text=quarter_text(snap, lang), playing=playing.value,
                running=session.running, on_step=on_step, on_play=on_play, on_reset=on_reset,
                speed=speed, seed=seed, on_seed=on_seed, lang=lang, on_drawer=on_drawer, drawer_open=drawer_open,
                quarter=snap.quarter, rate_text=rate_text(clock or {}, speed.value, lang) if playing.value else "")


def rate_text(clock: dict, speed: int, lang: Lang) -> str:
    """What Play really does (quarters per second over the last :data:`RATE_WINDOW_S`), and, when that
    is under 90 % of the speed asked for, how long a quarter takes to compute and draw (what limits it)."""
    rate = clock.get("rate")
    if rate is None:
        return ""
    if rate < 0.9 * speed and clock.get("ms"):
        return t("rate_limited", lang, rate=rate, ms=clock["ms"])
    return t("rate_measured", lang, rate=rate)


@solara.component
def AddressBar(session: Session, tick, query: Callable[[int, list[str]], str]):
    """The address, with the quarter now and the lever changes made during the run (re-rendered after
    every step, so a reload or a shared link opens the same quarter)."""
    _ = tick.value
    was = urlstate.was_items(session.start_levers, [(q, levers) for q, levers, _w in session.moves])
    UrlQuery.element(query=query(session.quarter, was))


@solara.component
def SnapTab(session: Session, tick, body):
    """Re-render ``body(snapshot)`` after every step (for the why / budget / export tabs)."""
    _ = tick.value
    body(session.snapshot())


@solara.component
def Header(lang: solara.Reactive[str]):
    """Title, "how to read" and the English / 中文 switch."""
    L = lang.value
    with solara.Row(style={"align-items": "center", "justify-content": "space-between", "flex-wrap": "wrap"},
                    gap="8px", classes=["room", "page-head"]):
        with solara.Column(gap="0px"):
            solara.HTML(tag="h1", unsafe_innerHTML=html.escape(t("title", L)), classes=["page-title"])
            solara.Text(t("subtitle", L), classes=["page-subtitle"])
        with solara.Row(style={"align-items": "center"}, gap="8px"):
            HowToRead(L)
            solara.Text(LANGUAGE_LABEL[L])
            with solara.ToggleButtonsSingle(value=lang, classes=["lang-switch"]):
                for code, label in LANG_NAMES.items():
                    solara.Button(label, value=code, classes=[f"lang-{code}"], small=True)


@solara.component
def HowToRead(lang: Lang):
    items = "".join(f"<li>{html.escape(x)}</li>" for x in how_items(lang))
    with solara.Column(classes=["how-box"], gap="0px"):
        a11y.Disclosure(t("how_title", lang), f"<ul class='how-to-read'>{items}</ul>")


def _start_settings(search: str | None) -> urlstate.UrlState:
    state = urlstate.parse(search)
    if state.seed is None:
        state.seed = DEFAULT_SEED
    if state.preset is None and state.levers == lever_defaults():
        state.preset = "status_quo"
    return state


def start_vary(asked: str | None, status: runs.PosteriorStatus | None) -> str | None:
    """What the A/B replicates vary at start: the address's choice if it can be honoured, else the
    default (posterior draws when the committed posterior loads and is current, seeds otherwise).
    While the posterior is still being checked (``status`` None) the address's choice, or None: not
    decided yet (:func:`settled_vary` decides when the status arrives)."""
    if status is None:
        return asked
    if asked == "seeds" or (asked == "posterior" and status.usable):
        return asked
    return status.default_vary


def settled_vary(current: str | None, status: runs.PosteriorStatus) -> str:
    """The choice once the posterior's status is known: the default if nothing was chosen yet (by the
    address or the user), seeds if posterior draws were asked for but cannot be used, else unchanged."""
    if current is None:
        return status.default_vary
    if current == "posterior" and not status.usable:
        return "seeds"
    return current


def url_vary(vary: str | None, status: runs.PosteriorStatus | None) -> str | None:
    """``ab_vary`` for the address: only a choice that differs from the default; while the default is
    undecided (posterior still being checked) an explicit choice is kept and nothing else written."""
    if vary is None or (status is not None and vary == status.default_vary):
        return None
    return vary


def prefetch_status_quo(seed: int, vary: str) -> int:
    """Start the status-quo runs of the page's default comparison (status quo as A, M and horizon at
    their defaults) with exactly the replicates the comparison will use, so it finds them cached."""
    return runs.prefetch(lever_defaults(), runs.ab_replicates(vary, seed, DEFAULT_REPLICATES), AB_QUARTERS)


@solara.component
def Page():
    router = solara.use_router()
    start = solara.use_memo(lambda: _start_settings(router.search), dependencies=[])
    lang = solara.use_reactive(start.lang or "en")
    levers = solara.use_reactive(start.levers)
    seed = solara.use_reactive(start.seed)
    speed = solara.use_reactive(2)  # quarters per second when playing
    playing = solara.use_reactive(False)
    tick = solara.use_reactive(0)
    preset = solara.use_reactive(start.preset)
    windows = solara.use_reactive(dict(start.windows))  # lever -> (first year, last year): app.timing
    main_tab = solara.use_reactive(MAIN_TABS.index(start.tab) if start.tab else 0)
    chart_tab = solara.use_reactive(CHART_TABS.index(start.chart) if start.chart else 0)
    display = solara.use_reactive(dict(DEFAULT_DISPLAY))  # where the map and chart are shown (Fit)
    restored = solara.use_reactive(None)  # the note after reopening at a quarter (app.timing "restored")
    group_tab = solara.use_reactive(0)
    drawer_open = solara.use_reactive(False)
    ceiling = solara.use_reactive(start.ceiling or DEFAULT_CEILING)
    comparison = solara.use_reactive(None)
    # the posterior's status: None until the warm-up thread has checked it (never during a render)
    posterior = solara.use_reactive(solara.use_memo(runs.posterior_status_if_known, dependencies=[]))
    vary = solara.use_reactive(solara.use_memo(lambda: start_vary(start.ab_vary, posterior.value),
                                               dependencies=[]))  # what the A/B replicates vary; None: undecided
    error = solara.use_reactive(None)
    url_notice = solara.use_reactive(list(start.problems))  # ignored address values: shown until a change
    # the run the address describes starts with the levers before its changes (was=); they and the
    # quarter are replayed once the page is up (restore, below)
    start_levers, start_moves = solara.use_memo(lambda: urlstate.history(start), dependencies=[])
    session: Session = solara.use_memo(lambda: Session(seed.value, start_levers, preset.value, windows.value),
                                       dependencies=[])
    clock = solara.use_memo(dict, dependencies=[])  # Play's measured rate (play_loop), read by RunStatus
    answer_state = solara.use_reactive(None)  # app.answer.AnswerState: this setting vs the status quo
    answer_context.provide(answer_state)
    answer_job = solara.use_memo(lambda: AnswerJob(answer_state), dependencies=[])
    L: Lang = lang.value

    def warm():  # workers start and the posterior is checked, then the status quo of this seed's comparison
        s, kind = seed.value, vary.value

        def go():
            runs.warm_up()  # starts the posterior check too
            status = runs.posterior_status()  # waits for that check (here, not in a render)
            if posterior.value is not status:
                posterior.set(status)
            now = vary.value  # the address's or the user's choice, None if neither chose yet
            settled = settled_vary(now, status)
            if settled != now:
                vary.set(settled)  # this effect runs again with the settled choice and prefetches
            elif now == kind:
                prefetch_status_quo(s, kind)
        threading.Thread(target=go, daemon=True, name="pool-warm-up").start()

    solara.use_effect(warm, dependencies=[seed.value, vary.value])

    def query(quarter: int, was: list[str]) -> str:
        return urlstate.make(seed.value, preset.value if preset.value != "status_quo" else None, levers.value,
                             lang=L if L != "en" else None,
                             ceiling=ceiling.value if ceiling.value != DEFAULT_CEILING else None,
                             ab_vary=url_vary(vary.value, posterior.value), windows=windows.value,
                             quarter=quarter, tab=MAIN_TABS[main_tab.value],
                             chart=CHART_TABS[chart_tab.value] if chart_tab.value < len(CHART_TABS) else None,
                             was=was)

    def bump():
        tick.set(tick.value + 1)

    def guarded(fn):
        def run(*args):
            url_notice.set([])  # the room has acted on the page: the note about the address has served
            restored.set(None)
            try:
                fn(*args)
                error.set(None)
            except (sim.ConfigError, ValueError, RuntimeError) as exc:  # shown, not swallowed
                error.set(str(exc))
                playing.set(False)
        return run

    @guarded
    def on_step():
        with STEP_GATE.interactive():  # other sessions' Play waits for this step and its redraw (app.state)
            session.step()
            bump()

    @guarded
    def on_reset():
        playing.set(False)
        with step_lock:
            session.reset(seed.value, levers.value, preset=preset.value, windows=windows.value)
        bump()

    def on_play(shown: int | None = None):
        """Play (``shown`` None), or Pause at ``shown``, the quarter the browser showed when Pause was
        pressed: a quarter computed after it is undone (Session.rewind), so the run stops where the room
        saw it, even if the press is handled after the run has gone on (or reached its end)."""
        if shown is None and not playing.value:
            url_notice.set([])
            restored.set(None)
            playing.set(True)
            return
        playing.set(False)  # at once: the play loop checks this before every step
        with step_lock:  # a step under way finishes first
            if shown is not None and session.rewind(shown):
                if session.levers != levers.value or session.windows != windows.value:
                    session.set_levers(levers.value, windows.value)  # moved while the run was ahead
        bump()

    @guarded
    def on_seed(new: int):
        seed.set(new)
        if session.quarter == 0 and new != session.seed:  # nothing run yet: start again with this seed
            session.reset(new, levers.value, preset=preset.value, windows=windows.value)
            bump()

    def apply(new: dict, new_preset: str | None, new_windows: dict | None = None):
        answer_job.request(new, seed.value, vary.value)  # the answer's run starts before the page redraws
        new_windows = windows.value if new_windows is None else new_windows
        levers.set(new)
        preset.set(new_preset)
        windows.set(new_windows)
        with step_lock:
            if session.quarter == 0:  # nothing run yet: rebuild, so the live run equals A/B for these levers
                session.reset(seed.value, new, preset=new_preset, windows=new_windows)
            else:
                session.set_levers(new, new_windows)
                session.preset = new_preset
        bump()

    @guarded
    def on_lever(name: str, value: float):
        apply({**levers.value, name: value}, None)

    @guarded
    def on_window(name: str, window: tuple):
        rest = {k: w for k, w in windows.value.items() if k != name}
        apply(levers.value, preset.value if window == (None, None) and not rest else None,
              {**rest, name: window} if window != (None, None) else rest)

    @guarded
    def on_preset(key: str):  # a preset is a package for the whole run: windows go
        apply({**lever_defaults(), **presets()[key].levers}, key, {})

    is_playing = playing.value
    step_lock = solara.use_memo(threading.RLock, dependencies=[])  # one change of the run at a time

    def play_loop(cancel: threading.Event):
        """Steps at ``speed`` quarters per second by the clock, and redraws the latest quarter after each
        batch: when drawing a quarter takes longer than 1 / speed, the quarters due meanwhile are run
        before the next redraw (the picture skips them; the charts show every quarter), so Play keeps
        its speed as long as computing a quarter is faster than that. Debt older than
        :data:`PLAY_MAX_CATCH_UP_S` is dropped. The measured rate goes to ``clock`` (shown by RunStatus)."""
        if not is_playing:
            return
        rate_now = speed.value
        t0, done = time.monotonic(), 0
        seen: deque = deque([(t0, session.quarter)])
        compute = 0.0
        while not cancel.is_set():
            if speed.value != rate_now:  # a new speed: counted from now
                rate_now, t0, done = speed.value, time.monotonic(), 0
            rate = max(rate_now, 1)
            due = int((time.monotonic() - t0) * rate) + 1 - done
            if due <= 0:
                cancel.wait(t0 + done / rate - time.monotonic())
                continue
            if due > rate * PLAY_MAX_CATCH_UP_S:  # a long stall (a busy machine): start counting again
                t0, done, due = time.monotonic(), 0, 1
            failure, stepped = None, True
            STEP_GATE.wait_turn(cancel)  # a Step clicked in any session goes first
            with step_lock:  # held for the model steps only (never while rendering)
                if cancel.is_set() or not playing.value:  # paused while this thread waited
                    return
                c0 = time.monotonic()
                try:
                    for _ in range(due):
                        stepped = session.step()
                        if not stepped:
                            break
                        done += 1
                except Exception as exc:  # noqa: BLE001 - surface any model error on the page
                    stepped, failure = False, str(exc)
                compute = (time.monotonic() - c0) / max(due, 1)
            if failure is not None:
                error.set(failure)  # outside the lock: setting state renders
            now = time.monotonic()
            seen.append((now, session.quarter))
            while len(seen) > 2 and now - seen[1][0] >= RATE_WINDOW_S:
                seen.popleft()
            if now - seen[0][0] >= RATE_FIRST_S:
                clock["rate"] = (seen[-1][1] - seen[0][1]) / (now - seen[0][0])
                # what one quarter costs when the speed is not reached: computing it plus its share of the
                # redraws (their time between batches)
                clock["ms"] = 1000.0 * max(compute, (now - seen[0][0]) / max(seen[-1][1] - seen[0][1], 1))
            if not stepped:
                playing.set(False)
                return
            bump()  # renders the latest quarter
            cancel.wait(PLAY_MIN_PAUSE_S)

    solara.use_thread(play_loop, dependencies=[is_playing], intrusive_cancel=False)

    def restore():
        """Reopen at the address's quarter: replay the run from quarter 0 with its lever changes."""
        if not start.quarter and not start_moves:
            return

        def go():
            with step_lock:
                for at, moved in start_moves:
                    if at > start.quarter:
                        break
                    session.advance_to(at)
                    session.set_levers(moved)
                session.advance_to(start.quarter)
                if session.levers != levers.value:  # a change after the quarter: it applies from now
                    session.set_levers(levers.value)
            restored.set(t("restored", lang.value, q=session.quarter) if session.quarter else None)
            bump()
        threading.Thread(target=go, daemon=True, name="restore-quarter").start()

    solara.use_effect(restore, dependencies=[])

    solara.Title(t("title", L))
    solara.Style(web_font_css() + CSS + a11y.CSS + ANSWER_CSS)
    AddressBar(session, tick, query)
    Fit.element(on_sizes=lambda new: display.set({**DEFAULT_DISPLAY, **new}))
    a11y.DocumentMeta.element(lang=a11y.html_lang(L), busy=t("busy", L))
    with solara.Column(gap="4px", classes=["workshop"] + (["drawer-open"] if drawer_open.value else [])):
        Header(lang)
        with solara.Div(classes=["room"]):
            RunStatus(session, tick, playing, speed, seed.value, on_seed, on_step, on_play, on_reset, L,
                      lambda: drawer_open.set(not drawer_open.value), drawer_open.value, clock)
        with solara.Column(gap="4px", classes=["notices"]):
            if error.value:
                solara.Error(t("error", L, err=error.value), classes=["app-error"])
            if url_notice.value:
                solara.Warning(urlstate.problem_text(url_notice.value, L), classes=["url-problems"], dense=True,
                               style={"margin": "0"})
            if restored.value:
                solara.Info(restored.value, classes=["restored-note"], dense=True, style={"margin": "0"})
        # the instant answer floats over the page's corner like the notices, so its changing height never
        # takes room from the map and the chart (sized to the window)
        with solara.Div(classes=["answer-float"]):
            AnswerStrip(levers.value, seed.value, vary.value, L, answer_job,
                        on_show_chart=lambda: (main_tab.set(0), chart_tab.set(len(CHART_TABS))))
        with solara.Column(gap="0px", classes=["main-tabs"]):
            with solara.lab.Tabs(value=main_tab, lazy=False):
                with solara.lab.Tab(t("tab_city", L), classes=["tab-city"]):
                    with solara.Div(classes=["city-grid", "room"]):
                        with solara.Column(gap="6px", classes=["lever-drawer"]):
                            if drawer_open.value:
                                solara.Button(t("levers_hide", L), icon_name="mdi-close", text=True, small=True,
                                              on_click=lambda: drawer_open.set(False), classes=["btn-drawer-close"])
                            PresetButtons(on_preset, L, active=preset.value)
                            note = t("levers_live", L) if session.live_levers else t("levers_reset", L)
                            LeverPanel(levers.value, on_lever, L, note=note, group_tab=group_tab,
                                       windows=windows.value, on_window=on_window)
                        LiveView(session, tick, L, chart_tab, display.value)
                with solara.lab.Tab(t("tab_compare", L), classes=["tab-compare"]):
                    with solara.Div(classes=["wide-tab", "compare-tab"]):
                        ComparePanel(levers.value, seed.value, L, result=comparison, vary=vary,
                                     status=posterior.value)  # kept: its task and choices
                with solara.lab.Tab(t("tab_why", L), classes=["tab-why"]):
                    # kept (as the A/B panel): its task runs on while another tab is open; not tied to the
                    # tick, so a step does not redraw it
                    EffectSources(levers.value, seed.value, L, vary=vary.value, status=posterior.value)
                    if main_tab.value == 2:
                        SnapTab(session, tick, lambda snap: WhyPanel(snap, L, comparison.value))
                with solara.lab.Tab(t("tab_budget", L), classes=["tab-budget"]):
                    if main_tab.value == 3:
                        with solara.Div(classes=["wide-tab", "budget-tab"]):
                            SnapTab(session, tick, lambda snap: BudgetPanel(snap, ceiling.value, ceiling.set, L))
                with solara.lab.Tab(t("tab_export", L), classes=["tab-export"]):
                    if main_tab.value == 4:
                        SnapTab(session, tick, lambda snap: ExportPanel(snap, L, comparison.value, ceiling.value,
                                                                        vary=vary.value))


page = Page

def warm_server() -> threading.Thread:
    """At server start-up, in the background: check the posterior, start the run pool's workers and
    start the status-quo runs of the default comparison (default seed, default replicates), so the
    first page finds the posterior known, the workers warm and the usual first A/B (status quo vs a
    policy) part done. A page that opens with another seed or kind prefetches its own (Page.warm).
    Then, in this process, what a first page would otherwise pay for (issue 25: first load): the
    model's compiled kernels (``sim.warm_up``), the status quo's uptake for the levers' cost figures
    (:func:`app.budget.cost_basis`) and the quarter-0 map and energy chart in both languages (their
    frames and fonts are cached per process)."""
    def go():
        runs.warm_up()
        prefetch_status_quo(DEFAULT_SEED, runs.posterior_status().default_vary)
        sim.warm_up()
        cost_basis()
        snap = Session().snapshot()
        for lang in ("en", "zh"):
            map_png(snap, lang)
            chart_png(snap, CHART_TABS[0], lang)

    th = threading.Thread(target=go, daemon=True, name="server-warm-up")
    th.start()
    return th


if os.environ.get("SOLARA_APP", "").split(":")[0] == __name__:  # imported by the server at start-up
    warm_server()
