"""Controls: the run bar (step / play / reset, speed, seed), presets and every lever.

Levers sit in tabs by the paper's five remedy groups (``group`` in ``configs/parameters.toml``).
Each lever shows its label and unit, a one-line definition (:data:`app.i18n.LEVER_HELP`), a slider
with its minimum and maximum written at the ends, and a field to type the value. Values are shown in
readable units per language (million yuan in English, 万元 in Chinese, per cent for shares; see
:data:`app.i18n.UNITS`). Each lever sits in an element with the CSS class ``lever-<name>`` so tests
find it in either language.

The seed field accepts only whole numbers from 0 to 2**32 − 1 (:func:`app.state.check_seed`);
anything else is refused with a message in the chosen language and the last valid seed is kept.

Each lever can also be given a window, a first and a last year (:func:`LeverWindow`, :mod:`app.timing`).
Play / Pause is one button (:class:`PlayButton`) that tells the server which quarter the browser showed
when Pause was pressed, so the run stops there and not one quarter later.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import ipyvuetify as v
import solara
import solara.lab
import traitlets

import sim
from app import a11y, timing
from app.budget import cost_text, lever_cost
from app.i18n import UNITS, Lang, group_label, lever_channels, lever_help, lever_label, preset_label, t, unit_label
from app.state import SEED_MAX, check_seed, presets


@dataclass(frozen=True)
class LeverView:
    """How one lever is shown: model value x ``scale`` = shown value, in steps of ``step`` (per language)."""

    name: str
    group: int
    low: float
    high: float
    units: tuple  # ((scale, step) english, (scale, step) chinese)
    integer: bool

    def scale(self, lang: Lang = "en") -> float:
        return self.units[lang == "zh"][0]

    def step(self, lang: Lang = "en") -> float:
        return self.units[lang == "zh"][1]

    def shown(self, value: float, lang: Lang = "en") -> float:
        return _round_to_step(value * self.scale(lang), self.step(lang))

    def model_value(self, shown: float, lang: Lang = "en") -> float | int:
        v = min(max(shown / self.scale(lang), self.low), self.high)
        return int(round(v)) if self.integer else float(v)

    def digits(self, lang: Lang = "en") -> int:
        step = self.step(lang)
        return max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0

    def number(self, value: float, lang: Lang = "en") -> str:
        return f"{self.shown(value, lang):,.{self.digits(lang)}f}"

    def text(self, value: float, lang: Lang = "en") -> str:
        return f"{self.number(value, lang)} {unit_label(self.name, lang)}"

    def parse(self, text: str, lang: Lang = "en") -> float | int:
        """A typed value (shown units) as a model value; ValueError with the range if out of range."""
        raw = (text or "").strip().replace(",", "").replace("，", "").rstrip("%").strip()
        try:
            shown = float(raw)
        except ValueError:
            raise ValueError(t("lever_bad_number", lang, text=text)) from None
        lo, hi = self.low * self.scale(lang), self.high * self.scale(lang)
        tol = 1e-9 * max(1.0, abs(hi))
        if not math.isfinite(shown) or shown < lo - tol or shown > hi + tol:
            d = self.digits(lang)
            raise ValueError(t("lever_out_of_range", lang, lo=f"{lo:,.{d}f}", hi=f"{hi:,.{d}f}",
                               unit=unit_label(self.name, lang)))
        return self.model_value(shown, lang)


def _round_to_step(x: float, step: float) -> float:
    digits = max(0, -int(math.floor(math.log10(step)))) + 1 if step < 1 else 0
    return round(round(x / step) * step, digits)


@lru_cache(maxsize=1)
def lever_views() -> tuple[LeverView, ...]:
    """Every lever, in the file order of ``parameters.toml``."""
    cfg = sim.default_config()
    out = []
    for name in cfg.names("levers"):
        p = cfg.schema[name]
        fallback = ((p.unit, 1.0, (p.high - p.low) / 100 or 1.0),) * 2
        en, zh = UNITS.get(p.unit, fallback)
        out.append(LeverView(name=name, group=int(p.group), low=float(p.low), high=float(p.high),
                             units=((en[1], en[2]), (zh[1], zh[2])), integer=isinstance(p.default, int)))
    return tuple(out)


@solara.component
def LeverSlider(view: LeverView, value: float, on_value: Callable[[str, float], None], lang: Lang,
                disabled: bool = False, cost: str = "", window: tuple | None = None,
                on_window: Callable | None = None):
    error = solara.use_reactive(None)
    typed = solara.use_reactive(None)  # the text in the field while it is being edited

    def on_text(text: str | None) -> None:
        try:
            new = view.parse(text or "", lang)
        except ValueError as exc:
            error.set(str(exc))
            typed.set(text)
            return
        error.set(None)
        typed.set(None)
        on_value(view.name, new)

    lo, hi = view.low * view.scale(lang), view.high * view.scale(lang)
    d = view.digits(lang)
    with solara.Column(gap="0px", classes=[f"lever-{view.name}", "lever"]):
        opening, closing = ("（", "）") if lang == "zh" else (" (", ")")
        solara.Text(f"{lever_label(view.name, lang)}{opening}{unit_label(view.name, lang)}{closing}",
                    classes=["lever-label"], style={"font-size": "0.85rem", "font-weight": "600"})
        solara.Text(lever_help(view.name, lang), classes=["lever-help"],
                    style={"font-size": "0.75rem", "color": "#555", "line-height": "1.25"})
        solara.Text(lever_channels(view.name, lang), classes=["lever-channels"],
                    style={"font-size": "0.7rem", "color": "#666", "line-height": "1.2", "font-style": "italic"})
        with solara.Row(gap="4px", style={"align-items": "center"}, classes=["lever-row"]):
            solara.Text(f"{lo:,.{d}f}", classes=["lever-min"], style={"font-size": "0.75rem", "color": "#666"})
            # the slider's label is its accessible name (aria-label); it is hidden on screen, where the
            # lever's label stands above it (app.a11y.CSS: .sr-label)
            with solara.Column(style={"flex": "1 1 auto", "min-width": "80px"}, classes=["lever-slider", "sr-label"]):
                solara.SliderFloat(
                    lever_label(view.name, lang), value=view.shown(value, lang), min=lo, max=hi, step=view.step(lang), thumb_label=False,
                    disabled=disabled, on_value=lambda v: on_value(view.name, view.model_value(v, lang)),
                )
            solara.Text(f"{hi:,.{d}f}", classes=["lever-max"], style={"font-size": "0.75rem", "color": "#666"})
            solara.InputText(t("lever_type", lang), value=typed.value if typed.value is not None else view.number(value, lang),
                             on_value=on_text, error=bool(error.value), dense=True, disabled=disabled,
                             classes=["lever-input"], style={"max-width": "7.5em", "font-size": "0.8rem"})
        solara.Text(view.text(value, lang), classes=["lever-value"],
                    style={"font-size": "0.8rem", "white-space": "nowrap"})
        if cost:  # its yearly cost at this setting (app.budget.lever_cost)
            solara.Text(cost, classes=["lever-cost"], style={"font-size": "1rem", "color": "#333"})
        if error.value:
            solara.Text(error.value, classes=["lever-error"], style={"font-size": "0.75rem", "color": "#b3261e"})
        if on_window is not None:
            LeverWindow(view.name, window, on_window, lang, disabled=disabled)


@solara.component
def LeverWindow(name: str, window: tuple | None, on_window: Callable[[str, tuple], None], lang: Lang,
                disabled: bool = False):
    """When the lever holds: "In force from [year] to [year]" (the run's first and last year: the
    whole run). An end before the start is refused in one line under the choice, the window kept."""
    error = solara.use_reactive(None)
    first, last = timing.year_range()
    start, end = window or (None, None)
    years = [str(y) for y in timing.years()]

    def pick(new_start: int | None, new_end: int | None) -> None:
        try:
            chosen = timing.check_window(name, new_start, new_end)
        except ValueError:
            error.set(t("window_bad", lang, name=lever_label(name, lang), start=new_start, end=new_end, last=last))
            return
        error.set(None)
        on_window(name, chosen)

    with solara.Row(gap="8px", style={"align-items": "flex-end", "flex-wrap": "wrap"}, classes=["lever-window"]):
        solara.Text(t("window_label", lang), classes=["window-label"])
        a11y.Select(t("window_from", lang), years, str(start or first), lambda y: pick(int(y), end or last),
                    disabled=disabled, classes=["window-start"])
        a11y.Select(t("window_to", lang), years, str(end or last), lambda y: pick(start or first, int(y)),
                    disabled=disabled, classes=["window-end"])
    if error.value:
        solara.Text(error.value, classes=["window-error", "lever-error"], style={"color": "#b3261e"})
    elif window and window != (None, None):
        solara.Text(t("window_note", lang), classes=["window-note"], style={"color": "#555"})


@solara.component
def LeverPanel(levers: dict, on_lever: Callable[[str, float], None], lang: Lang, note: str = "",
               group_tab: solara.Reactive[int] | None = None, windows: dict | None = None,
               on_window: Callable[[str, tuple], None] | None = None):
    """The levers in one tab per remedy group."""
    views = lever_views()
    own_tab = solara.use_reactive(0)
    tab = group_tab if group_tab is not None else own_tab
    groups = sorted({v.group for v in views})
    solara.Text(t("levers", lang), style={"font-weight": "600"})
    if note:
        solara.Text(note, style={"font-size": "0.8rem", "color": "#666"})
    with solara.Row(gap="4px", style={"flex-wrap": "wrap"}, classes=["lever-tabs"]):
        for i, group in enumerate(groups):
            solara.Button(group_label(group, lang), small=True, text=i != tab.value, outlined=False,
                          color="primary" if i == tab.value else None, classes=[f"group-tab-{group}"],
                          on_click=lambda i=i: tab.set(i))
    # only the chosen group's levers exist: every render walks all of the page's widgets (reacton's
    # reconciliation), so hidden sliders would slow every step of the run (about half the page)
    group = groups[min(tab.value, len(groups) - 1)]
    with solara.Column(gap="12px", classes=[f"group-{group}", "lever-group"]):
        for v in views:
            if v.group == group:
                LeverSlider(v, levers[v.name], on_lever, lang, cost=cost_text(lever_cost(v.name, levers[v.name], levers), lang),
                            window=(windows or {}).get(v.name), on_window=on_window)


@solara.component
def PresetButtons(on_preset: Callable[[str], None], lang: Lang, active: str | None = None):
    solara.Text(t("presets", lang), style={"font-weight": "600"})
    with solara.Row(gap="4px", style={"flex-wrap": "wrap"}):
        for key, preset in presets().items():
            solara.Button(preset_label(preset, lang), small=True, outlined=key != active,
                          color="primary", classes=[f"preset-{key}"],
                          on_click=lambda key=key: on_preset(key))


@solara.component
def SeedInput(seed: int, on_seed: Callable[[int], None], lang: Lang, error: solara.Reactive,
              typed: solara.Reactive):
    """The seed field: refuses what is not a whole number in range and keeps the last valid seed; the
    reason goes to ``error`` (shown once, as one line under the run bar by :func:`RunControls`; the
    field itself only turns red); ``typed`` holds a refused entry (shown in the field until replaced)."""

    def on_text(text: str | None) -> None:
        try:
            new = check_seed(text if text is not None else "")
        except ValueError:
            key = "seed_invalid" if (text or "").strip() else "seed_empty"
            error.set(t(key, lang, text=text or "", max=f"{SEED_MAX:,}", seed=seed))
            typed.set(text)
            return
        error.set(None)
        typed.set(None)
        on_seed(new)

    with solara.Column(gap="0px", classes=["seed-box"]):
        solara.InputText(t("seed", lang), value=typed.value if typed.value is not None else str(seed),
                         on_value=on_text, error=bool(error.value), dense=True,
                         classes=["seed-input"], style={"max-width": "9em"})


class PlayButton(v.VuetifyTemplate):
    """Play / Pause in one button. A press sends ``request`` = ``{n, pause, quarter}``: whether the button
    showed Pause, and the quarter the browser showed at that moment (``quarter``, kept up to date by the
    server with every redraw), so Pause stops the run at the quarter the room saw."""

    template = traitlets.Unicode("""
<template>
  <v-btn color="primary" class="btn-play" :disabled="disabled" @click="press">
    <v-icon left>{{ playing ? "mdi-pause" : "mdi-play" }}</v-icon>{{ playing ? pause_label : play_label }}
  </v-btn>
</template>
<script>
module.exports = {
  methods: {
    press() {
      const n = (this.request && this.request.n) || 0;
      this.request = { n: n + 1, pause: this.playing, quarter: this.quarter };
    },
  },
};
</script>""").tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    quarter = traitlets.Int(0).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    play_label = traitlets.Unicode("Play").tag(sync=True)
    pause_label = traitlets.Unicode("Pause").tag(sync=True)
    request = traitlets.Dict({}).tag(sync=True)


@solara.component
def RunControls(*, quarter_text: str, playing: bool, running: bool, on_step, on_play, on_reset,
                speed: solara.Reactive[int], seed: int, on_seed: Callable[[int], None], lang: Lang,
                busy: bool = False, on_drawer=None, drawer_open: bool = False, quarter: int = 0,
                rate_text: str = ""):
    """The run bar: one row (wraps on narrow screens); a refused seed adds one line under it.
    ``on_play(shown)``: Play (``shown`` None) or Pause at the quarter the browser showed; ``rate_text``:
    the measured rate while playing, next to the speed."""
    seed_error = solara.use_reactive(None)
    seed_typed = solara.use_reactive(None)

    def reset():  # Reset also clears a refused seed entry (the run uses the last valid seed)
        seed_error.set(None)
        seed_typed.set(None)
        on_reset()

    with solara.Row(gap="8px", style={"align-items": "center", "flex-wrap": "wrap"}, classes=["run-bar"]):
        solara.Text(quarter_text, classes=["quarter-now"], style={"font-size": "1.05rem", "font-weight": "600",
                                                                   "min-width": "12em"})
        solara.Button(t("step", lang), icon_name="mdi-step-forward", color="primary",
                      on_click=on_step, disabled=playing or not running or busy, classes=["btn-step"])
        PlayButton.element(playing=playing, quarter=quarter, disabled=not running and not playing,
                           play_label=t("play", lang), pause_label=t("pause", lang),
                           on_request=lambda req: on_play(int(req["quarter"]) if req.get("pause") else None))
        solara.Button(t("reset", lang), icon_name="mdi-restore", on_click=reset, outlined=True,
                      classes=["btn-reset"])
        with solara.Column(gap="0px", style={"min-width": "150px"}, classes=["speed-box", "sr-label"]):
            solara.Text(f"{t('speed', lang)}: {speed.value}" + (f" · {rate_text}" if rate_text else ""),
                        classes=["speed-label"], style={"font-size": "0.75rem"})
            solara.SliderInt(t("speed", lang), value=speed, min=1, max=10, thumb_label=False)
        SeedInput(seed, on_seed, lang, seed_error, seed_typed)
        if on_drawer is not None:
            solara.Button(t("levers_hide", lang) if drawer_open else t("levers_show", lang),
                          icon_name="mdi-tune", outlined=not drawer_open, color="primary",
                          on_click=on_drawer, classes=["btn-drawer"])
        if not running:
            solara.Text(t("finished", lang), style={"color": "#b35c00", "font-size": "0.85rem"})
        if seed_error.value:
            solara.Text(seed_error.value, classes=["seed-error"],
                        style={"font-size": "0.8rem", "color": "#b3261e", "flex-basis": "100%", "line-height": "1.2"})
