"""The workshop page (Solara): controls on the left; map, key figures and charts on the right;
A/B compare and export in their own tabs; an English / 中文 switch for every label.

State: everything is created inside :func:`Page` (``use_memo`` / ``use_reactive``), so each browser
session (tab) owns its model and settings. Only :func:`LiveView` and :func:`RunStatus` read the
``tick`` counter, so a step redraws the map, key figures and the visible chart, not the levers.
"""

from __future__ import annotations

import html
import threading
import time

import solara
import solara.lab

import sim
from app import charts, map_view
from app.compare import ComparePanel, fmt, outcomes
from app.controls import LeverPanel, PresetButtons, RunControls
from app.export import ExportPanel
from app.i18n import LANG_NAMES, LANGUAGE_LABEL, Lang, how_items, t
from app.state import DEFAULT_SEED, Session, Snapshot, lever_defaults, presets

CHART_TABS = ("energy", "talent", "maturity", "chain", "spending")
KPIS = (("kpi_energy", 3), ("kpi_tiers", 0), ("kpi_retention", 1), ("kpi_out_bj", 0), ("kpi_out_tj", 0),
        ("kpi_spend", 1))


def map_png(snap: Snapshot, lang: Lang) -> bytes:
    return charts.to_png(map_view.map_figure(snap.layout, snap.firms, snap.universities, snap.governments,
                                             snap.city, lang))


def chart_png(snap: Snapshot, name: str, lang: Lang) -> bytes:
    func, table = charts.CHARTS[name]
    return charts.to_png(func(getattr(snap, table), lang, snap.quarters))


def quarter_text(snap: Snapshot, lang: Lang) -> str:
    return t("quarter_now", lang, q=snap.quarter, n=snap.quarters, period=snap.city["period"].iloc[-1])


@solara.component
def Kpis(snap: Snapshot, lang: Lang):
    values = outcomes(snap.city, snap.clusters, cumulative=False)
    with solara.Row(gap="8px", style={"flex-wrap": "wrap"}, classes=["kpis"]):
        for key, digits in KPIS:
            value = fmt(values[key], digits)
            if key == "kpi_tiers":
                value = f"{value} / {snap.clusters['cluster'].nunique()}"
            if key == "kpi_retention":
                value = t("no_cohort", lang) if value == "–" else f"{value} %"
            with solara.Card(margin=0, style={"min-width": "150px", "max-width": "220px", "padding": "4px 10px"},
                             classes=[f"kpi-{key}"]):
                with solara.Column(gap="0px"):
                    solara.Text(t(key, lang), style={"font-size": "0.75rem", "color": "#555"})
                    solara.Text(value, classes=["kpi-value"], style={"font-size": "1.3rem", "font-weight": "600"})


@solara.component
def LiveView(session: Session, tick: solara.Reactive[int], lang: Lang):
    """Key figures, the map and the selected chart; redrawn after every step."""
    _ = tick.value  # subscribe: re-render after each step / reset
    chart_tab = solara.use_reactive(0)
    snap = session.snapshot()
    name = CHART_TABS[chart_tab.value]
    map_bytes = solara.use_memo(lambda: map_png(snap, lang), dependencies=[session.version, lang])
    chart_bytes = solara.use_memo(lambda: chart_png(snap, name, lang),
                                  dependencies=[session.version, lang, name])
    Kpis(snap, lang)
    with solara.Columns([5, 7]):
        with solara.Column(classes=["map-view"]):
            solara.Image(map_bytes, width="100%", classes=["map-image"])
        with solara.Column(classes=["chart-view"]):
            with solara.lab.Tabs(value=chart_tab, lazy=True):
                for i, key in enumerate(CHART_TABS):
                    with solara.lab.Tab(t(f"short_{key}", lang), classes=[f"tab-{key}"]):
                        if i == chart_tab.value:
                            solara.Image(chart_bytes, width="100%", classes=[f"chart-{key}", "chart-image"])


@solara.component
def RunStatus(session: Session, tick, playing, speed, seed, on_step, on_play, on_reset, lang: Lang):
    _ = tick.value
    RunControls(quarter_text=quarter_text(session.snapshot(), lang), playing=playing.value,
                running=session.running, on_step=on_step, on_play=on_play, on_reset=on_reset,
                speed=speed, seed=seed, lang=lang)


@solara.component
def ExportTab(session: Session, tick, lang: Lang):
    _ = tick.value
    ExportPanel(session.snapshot(), lang)


@solara.component
def Header(lang: solara.Reactive[str]):
    """Title and the English / 中文 switch."""
    L = lang.value
    with solara.Row(style={"align-items": "center", "justify-content": "space-between", "flex-wrap": "wrap"}):
        with solara.Column(gap="0px"):
            solara.Text(t("title", L), classes=["page-title"], style={"font-size": "1.5rem", "font-weight": "600"})
            solara.Text(t("subtitle", L), style={"color": "#666"})
        with solara.Row(style={"align-items": "center"}):
            solara.Text(LANGUAGE_LABEL[L])
            with solara.ToggleButtonsSingle(value=lang, classes=["lang-switch"]):
                for code, label in LANG_NAMES.items():
                    solara.Button(label, value=code, classes=[f"lang-{code}"])


@solara.component
def HowToRead(lang: Lang):
    items = "".join(f"<li>{html.escape(x)}</li>" for x in how_items(lang))
    with solara.Details(summary="ⓘ " + t("how_title", lang), expand=False):
        solara.HTML(tag="ul", unsafe_innerHTML=items, classes=["how-to-read"],
                    style="font-size: 0.9rem; margin: 4px 0 8px 0")


@solara.component
def Page():
    lang = solara.use_reactive("en")
    levers = solara.use_reactive(lever_defaults())
    seed = solara.use_reactive(DEFAULT_SEED)
    speed = solara.use_reactive(2)  # quarters per second when playing
    playing = solara.use_reactive(False)
    tick = solara.use_reactive(0)
    preset = solara.use_reactive("status_quo")
    main_tab = solara.use_reactive(0)
    error = solara.use_reactive(None)
    session: Session = solara.use_memo(lambda: Session(seed.value, levers.value), dependencies=[])
    L: Lang = lang.value

    def bump():
        tick.set(tick.value + 1)

    def guarded(fn):
        def run(*args):
            try:
                fn(*args)
                error.set(None)
            except (sim.ConfigError, ValueError, RuntimeError) as exc:  # shown, not swallowed
                error.set(str(exc))
                playing.set(False)
        return run

    @guarded
    def on_step():
        session.step()
        bump()

    @guarded
    def on_reset():
        playing.set(False)
        session.reset(seed.value, levers.value)
        bump()

    def on_play():
        playing.set(not playing.value)

    def apply(new: dict):
        levers.set(new)
        live = session.set_levers(new)
        if not live and session.quarter == 0:  # nothing run yet: rebuild with the new levers
            session.reset(seed.value, new)
            bump()

    @guarded
    def on_lever(name: str, value: float):
        preset.set(None)
        apply({**levers.value, name: value})

    @guarded
    def on_preset(key: str):
        preset.set(key)
        apply({**lever_defaults(), **presets()[key].levers})

    is_playing = playing.value

    def play_loop(cancel: threading.Event):
        if not is_playing:
            return
        while not cancel.is_set():
            t0 = time.monotonic()
            try:
                stepped = session.step()
            except Exception as exc:  # noqa: BLE001 - surface any model error on the page
                error.set(str(exc))
                stepped = False
            if not stepped:
                playing.set(False)
                return
            bump()  # renders the new quarter
            cancel.wait(max(0.0, 1.0 / max(speed.value, 1) - (time.monotonic() - t0)))

    solara.use_thread(play_loop, dependencies=[is_playing], intrusive_cancel=False)

    solara.Title(t("title", L))
    with solara.Column(gap="8px", style={"padding": "8px 16px"}, classes=["workshop"]):
        Header(lang)
        HowToRead(L)
        if error.value:
            solara.Error(t("error", L, err=error.value), classes=["app-error"])
        with solara.Columns([3, 9], gutters_dense=True):
            with solara.Column(gap="10px", classes=["controls"]):
                RunStatus(session, tick, playing, speed, seed, on_step, on_play, on_reset, L)
                PresetButtons(on_preset, L, active=preset.value)
                note = t("levers_live", L) if session.live_levers else t("levers_reset", L)
                LeverPanel(levers.value, on_lever, L, note=note)
            with solara.Column(classes=["content"]):
                with solara.lab.Tabs(value=main_tab, lazy=False):
                    with solara.lab.Tab(t("tab_city", L), classes=["tab-city"]):
                        LiveView(session, tick, L)
                    with solara.lab.Tab(t("tab_compare", L), classes=["tab-compare"]):
                        ComparePanel(levers.value, seed.value, L)
                    with solara.lab.Tab(t("tab_export", L), classes=["tab-export"]):
                        if main_tab.value == 2:
                            ExportTab(session, tick, L)


page = Page
