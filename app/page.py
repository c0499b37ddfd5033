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

import ipyvuetify as v
import solara
import solara.lab
import traitlets

import sim
from app import a11y, charts, map_view, runs, urlstate
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

CHART_TABS = ("energy", "talent", "maturity", "chain", "spending")
# The key figures (key in app.compare.outcomes, decimals shown): first the headline outcomes a statistics
# bureau could check (sim.state.records.HEADLINE_OUTCOMES, same order), then, in a row of their own, the
# energy figures (the paper's vocabulary) and this quarter's spending.
KPI_HEADLINE = (("kpi_value_added", 2), ("kpi_sourcing", 1), ("kpi_employment", 0), ("kpi_fiscal", 2),
                ("kpi_retention_3y", 1), ("kpi_out_bj", 0), ("kpi_out_tj", 0))
KPI_ENERGY = (("kpi_energy", 3), ("kpi_tiers", 0), ("kpi_spend", 0))
KPIS = KPI_HEADLINE + KPI_ENERGY
KPI_MONEY = {"kpi_value_added": "value_added", "kpi_fiscal": "total", "kpi_spend": "quarter"}  # app.i18n.MONEY
KPI_PERCENT = ("kpi_sourcing", "kpi_retention_3y")
MAIN_TABS = ("city", "compare", "why", "budget", "export")
PLAY_MIN_PAUSE_S = 0.05  # between two quarters while playing, whatever the speed (see Page.play_loop)

CSS = """
.workshop { padding: 4px 12px 0 12px; }
.page-title { font-size: 1.15rem; font-weight: 600; line-height: 1.3; margin: 0; }
.page-subtitle { color: #666; font-size: 0.8rem; }
.run-bar .v-btn { margin: 0 !important; }
.run-bar .v-input { margin-top: 0; padding-top: 0; }
.main-tabs .v-tab { min-width: 0; padding: 0 12px; }
.chart-view .v-tab { min-width: 0; padding: 0 8px; font-size: 0.8rem; }
.lever-tabs .v-tab { min-width: 0; padding: 0 6px; font-size: 0.75rem; text-transform: none; }
.city-grid { display: grid; grid-template-columns: minmax(270px, 320px) minmax(0, 1fr); gap: 12px;
             align-items: start; }
.live-grid { display: grid; grid-template-columns: auto minmax(0, 1fr); gap: 12px; align-items: start; }
.workshop .live-grid > .d-flex { display: contents !important; }
.lever-drawer { max-height: calc(100vh - var(--app-top, 190px)); overflow-y: auto; padding-right: 6px; }
img.map-image { display: block; max-height: calc(100vh - var(--app-top, 190px) - var(--map-legend, 80px));
                max-width: 100%; width: auto !important; height: auto; }
.map-view { min-width: 0; }
.map-legend { display: flex; flex-wrap: wrap; gap: 0 10px; font-size: 14px; line-height: 1.3; color: #333;
              max-width: 416px; padding-top: 2px; }
.map-key { display: inline-flex; align-items: center; gap: 4px; white-space: nowrap; }
.map-key-size { color: #666; }
img.chart-image { display: block; width: 100% !important; height: auto;
                  max-height: calc(100vh - var(--app-top, 190px) - var(--chart-top, 150px)); object-fit: contain;
                  object-position: left top; }
.workshop .kpi-row { display: grid !important; grid-template-columns: repeat(auto-fill, minmax(104px, 1fr)); gap: 4px; }
.kpis .v-card { padding: 0 !important; }
.kpis .v-card__text { padding: 2px 6px !important; }
.kpi-label { font-size: 0.72rem; color: #555; line-height: 1.15; }
.kpi-value { font-size: 1.05rem; font-weight: 600; line-height: 1.35; color: #111; }
.kpi-row-energy .kpi-value { font-weight: 500; }
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
.workshop { --app-top: 190px; --chart-top: 150px; }
@media (max-width: 1099px) {
  .workshop { --app-top: 245px; --chart-top: 175px; }
  .city-grid { grid-template-columns: minmax(0, 1fr); }
  .live-grid { grid-template-columns: minmax(0, 42fr) minmax(0, 58fr); }
  .workshop .lever-drawer { display: none !important; }
  .workshop.drawer-open .lever-drawer { display: flex !important; position: fixed; right: 0; top: 0; bottom: 0; z-index: 20;
                               width: min(380px, 92vw); max-height: none; background: white; padding: 8px 12px;
                               box-shadow: -4px 0 16px rgba(0,0,0,0.25); }
  .workshop .btn-drawer { display: inline-flex !important; }
}
@media (max-height: 600px) {
  .workshop { --app-top: 150px; --chart-top: 50px; }
  .workshop .page-subtitle, .workshop .kpis, .workshop .map-legend { display: none !important; }
}
@media (max-height: 600px) and (max-width: 1099px) {
  .workshop { --app-top: 200px; --chart-top: 50px; }
}
"""


class UrlQuery(v.VuetifyTemplate):
    """Writes ``query`` into the browser's address (``history.replaceState``: no new history entry per
    lever move, no reload); the page reads the address once, at start (``solara.use_router().search``)."""

    template = traitlets.Unicode(a11y.hidden_vue("""
  mounted() {
    this.apply();
    // fit map and chart to the window: measure where they start (the run bar wraps differently by
    // language, width and zoom) and let CSS limit their height to the rest of the window
    const fit = () => {
      const ws = document.querySelector(".workshop");
      const grid = document.querySelector(".live-grid");
      if (!ws || !grid || !grid.offsetParent) return;
      const top = grid.getBoundingClientRect().top + window.scrollY;
      ws.style.setProperty("--app-top", Math.round(top + 8) + "px");
      const legend = grid.querySelector(".map-legend");
      if (legend) {
        const h = Math.round(legend.offsetHeight + 4) + "px";
        if (ws.style.getPropertyValue("--map-legend") !== h) {
          ws.style.setProperty("--map-legend", h);
          requestAnimationFrame(fit);  // the map's height follows; measure again once it has
        }
      }
      const chart = grid.querySelector("img.chart-image");
      if (chart) {
        const off = chart.getBoundingClientRect().top - grid.getBoundingClientRect().top;
        ws.style.setProperty("--chart-top", Math.round(off) + "px");
      }
    };
    this._fit = setInterval(fit, 300);
    window.addEventListener("resize", fit);
  },
  destroyed() { clearInterval(this._fit); },
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


MAP_DPI = 80  # the map is shown about 400 px wide: more pixels would only cost drawing time


def map_png(snap: Snapshot, lang: Lang) -> bytes:
    with charts.render_dpi(MAP_DPI), charts.reused_figures():
        return charts.to_png(map_view.map_figure(snap.layout, snap.firms, snap.universities, snap.governments,
                                                 snap.city, lang, screen=True))


def chart_png(snap: Snapshot, name: str, lang: Lang) -> bytes:
    with charts.reused_figures():
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
def LiveView(session: Session, tick: solara.Reactive[int], lang: Lang, chart_tab: solara.Reactive[int]):
    """Map, key figures and the selected chart; redrawn after every step."""
    _ = tick.value  # subscribe: re-render after each step / reset
    snap = session.snapshot()
    name = CHART_TABS[chart_tab.value] if chart_tab.value < len(CHART_TABS) else None  # None: the answer tab
    map_bytes = solara.use_memo(lambda: map_png(snap, lang), dependencies=[session.version, lang])
    chart_bytes = solara.use_memo(lambda: chart_png(snap, name, lang) if name else None,
                                  dependencies=[session.version, lang, name])
    with solara.Div(classes=["live-grid"]):
        LiveParts(snap, lang, chart_tab, map_bytes, chart_bytes)


@solara.component
def LiveParts(snap: Snapshot, lang: Lang, chart_tab, map_bytes: bytes, chart_bytes: bytes):
    with solara.Column(classes=["map-view"], gap="0px"):
        a11y.Picture(map_bytes, t("alt_chart", lang, name=t("chart_map", lang), period=snap.city["period"].iloc[-1]),
                     classes=["map-image"])
        solara.HTML(tag="div", unsafe_innerHTML=map_view.legend_html(lang), classes=["map-legend"])
    with solara.Column(classes=["chart-view"], gap="4px"):
        Kpis(snap, lang)
        if snap.ghost_city is not None:  # above the chart: the chart's height is fitted to what is left
            solara.Text(t("ghost_note", lang), classes=["ghost-note"], style={"font-size": "0.8rem", "color": "#555"})
        with solara.lab.Tabs(value=chart_tab, lazy=True):
            for i, key in enumerate(CHART_TABS):
                with solara.lab.Tab(t(f"short_{key}", lang), classes=[f"tab-{key}"]):
                    if i == chart_tab.value:
                        a11y.Picture(chart_bytes, t("alt_chart", lang, name=t(f"short_{key}", lang),
                                                    period=snap.city["period"].iloc[-1]),
                                     classes=[f"chart-{key}", "chart-image"])
            with solara.lab.Tab(t("short_answer", lang), classes=["tab-answer"]):  # app.answer: vs status quo
                if chart_tab.value == len(CHART_TABS):
                    AnswerChart(lang)


@solara.component
def RunStatus(session: Session, tick, playing, speed, seed, on_seed, on_step, on_play, on_reset, lang: Lang,
              on_drawer, drawer_open):
    _ = tick.value
    RunControls(quarter_text=quarter_text(session.snapshot(), lang), playing=playing.value,
                running=session.running, on_step=on_step, on_play=on_play, on_reset=on_reset,
                speed=speed, seed=seed, on_seed=on_seed, lang=lang, on_drawer=on_drawer, drawer_open=drawer_open)


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
                    gap="8px"):
        with solara.Column(gap="0px"):
            solara.HTML(tag="h1", unsafe_innerHTML=html.escape(t("title", L)), classes=["page-title"])
            solara.Text(t("subtitle", L), classes=["page-subtitle"])
        with solara.Row(style={"align-items": "center"}, gap="8px"):
            HowToRead(L)
            solara.Text(LANGUAGE_LABEL[L], style={"font-size": "0.8rem"})
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
    main_tab = solara.use_reactive(0)
    chart_tab = solara.use_reactive(0)
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
    session: Session = solara.use_memo(lambda: Session(seed.value, levers.value, preset.value), dependencies=[])
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

    query = urlstate.make(seed.value, preset.value if preset.value != "status_quo" else None, levers.value,
                          lang=L if L != "en" else None,
                          ceiling=ceiling.value if ceiling.value != DEFAULT_CEILING else None,
                          ab_vary=url_vary(vary.value, posterior.value))



    def bump():
        tick.set(tick.value + 1)

    def guarded(fn):
        def run(*args):
            url_notice.set([])  # the room has acted on the page: the note about the address has served
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
        session.reset(seed.value, levers.value, preset=preset.value)
        bump()

    def on_play():
        if playing.value:
            with step_lock:  # Pause: let a quarter being computed finish first, so none follows the pause
                playing.set(False)
        else:
            playing.set(True)

    @guarded
    def on_seed(new: int):
        seed.set(new)
        if session.quarter == 0 and new != session.seed:  # nothing run yet: start again with this seed
            session.reset(new, levers.value, preset=preset.value)
            bump()

    def apply(new: dict, new_preset: str | None):
        answer_job.request(new, seed.value, vary.value)  # the answer's run starts before the page redraws
        levers.set(new)
        preset.set(new_preset)
        if session.quarter == 0:  # nothing run yet: rebuild, so the live run equals A/B for these levers
            session.reset(seed.value, new, preset=new_preset)
        else:
            session.set_levers(new)
            session.preset = new_preset
        bump()

    @guarded
    def on_lever(name: str, value: float):
        apply({**levers.value, name: value}, None)

    @guarded
    def on_preset(key: str):
        apply({**lever_defaults(), **presets()[key].levers}, key)

    is_playing = playing.value
    step_lock = solara.use_memo(threading.Lock, dependencies=[])  # one quarter at a time: play vs pause

    def play_loop(cancel: threading.Event):
        if not is_playing:
            return
        while not cancel.is_set():
            t0 = time.monotonic()
            STEP_GATE.wait_turn(cancel)  # a Step clicked in any session goes first
            with step_lock:  # held for the model step only (never while rendering)
                if cancel.is_set() or not playing.value:  # paused while this thread waited
                    return
                try:
                    stepped, failure = session.step(), None
                except Exception as exc:  # noqa: BLE001 - surface any model error on the page
                    stepped, failure = False, str(exc)
            if failure is not None:
                error.set(failure)  # outside the lock: setting state renders
            if not stepped:
                playing.set(False)
                return
            bump()  # renders the new quarter
            # the rest of the quarter's time at this speed, but never less than PLAY_MIN_PAUSE_S: on
            # a busy machine a quarter can take longer than its time, and the server must still get
            # the chance to send each quarter to the browser before the next one is computed
            cancel.wait(max(PLAY_MIN_PAUSE_S, 1.0 / max(speed.value, 1) - (time.monotonic() - t0)))

    solara.use_thread(play_loop, dependencies=[is_playing], intrusive_cancel=False)

    solara.Title(t("title", L))
    solara.Style(web_font_css() + CSS + a11y.CSS + ANSWER_CSS)
    UrlQuery.element(query=query)
    a11y.DocumentMeta.element(lang=a11y.html_lang(L), busy=t("busy", L))
    with solara.Column(gap="4px", classes=["workshop"] + (["drawer-open"] if drawer_open.value else [])):
        Header(lang)
        RunStatus(session, tick, playing, speed, seed.value, on_seed, on_step, on_play, on_reset, L,
                  lambda: drawer_open.set(not drawer_open.value), drawer_open.value)
        if error.value:
            solara.Error(t("error", L, err=error.value), classes=["app-error"])
        if url_notice.value:
            solara.Warning(urlstate.problem_text(url_notice.value, L), classes=["url-problems"], dense=True,
                           style={"font-size": "0.8rem", "margin": "0"})
        AnswerStrip(levers.value, seed.value, vary.value, L, answer_job,
                    on_show_chart=lambda: (main_tab.set(0), chart_tab.set(len(CHART_TABS))))
        with solara.Column(gap="0px", classes=["main-tabs"]):
            with solara.lab.Tabs(value=main_tab, lazy=False):
                with solara.lab.Tab(t("tab_city", L), classes=["tab-city"]):
                    with solara.Div(classes=["city-grid"]):
                        with solara.Column(gap="6px", classes=["lever-drawer"]):
                            if drawer_open.value:
                                solara.Button(t("levers_hide", L), icon_name="mdi-close", text=True, small=True,
                                              on_click=lambda: drawer_open.set(False), classes=["btn-drawer-close"])
                            PresetButtons(on_preset, L, active=preset.value)
                            note = t("levers_live", L) if session.live_levers else t("levers_reset", L)
                            LeverPanel(levers.value, on_lever, L, note=note, group_tab=group_tab)
                        LiveView(session, tick, L, chart_tab)
                with solara.lab.Tab(t("tab_compare", L), classes=["tab-compare"]):
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
