"""Controls: the run bar (step / play / reset, speed, seed), presets and every lever.

Levers sit in tabs by the paper's five remedy groups (``group`` in ``configs/parameters.toml``).
Each lever shows its label and unit, a one-line definition (:data:`app.i18n.LEVER_HELP`), a slider
with its minimum and maximum written at the ends, and a field to type the value. Values are shown in
readable units per language (million yuan in English, 万元 in Chinese, per cent for shares; see
:data:`app.i18n.UNITS`). Each lever sits in an element with the CSS class ``lever-<name>`` so tests
find it in either language.

The seed field accepts only whole numbers from 0 to 2**32 − 1 (:func:`app.state.check_seed`);
anything else is refused with a message in the chosen language and the last valid seed is kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import solara
import solara.lab

import sim
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
                disabled: bool = False, cost: str = ""):
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


@solara.component
def LeverPanel(levers: dict, on_lever: Callable[[str, float], None], lang: Lang, note: str = "",
               group_tab: solara.Reactive[int] | None = None):
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
                LeverSlider(v, levers[v.name], on_lever, lang, cost=cost_text(lever_cost(v.name, levers[v.name], levers), lang))


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


@solara.component
def RunControls(*, quarter_text: str, playing: bool, running: bool, on_step, on_play, on_reset,
                speed: solara.Reactive[int], seed: int, on_seed: Callable[[int], None], lang: Lang,
                busy: bool = False, on_drawer=None, drawer_open: bool = False):
    """The run bar: one row (wraps on narrow screens); a refused seed adds one line under it."""
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
        solara.Button(t("pause", lang) if playing else t("play", lang),
                      icon_name="mdi-pause" if playing else "mdi-play", color="primary",
                      on_click=on_play, disabled=not running and not playing, classes=["btn-play"])
        solara.Button(t("reset", lang), icon_name="mdi-restore", on_click=reset, outlined=True,
                      classes=["btn-reset"])
        with solara.Column(gap="0px", style={"min-width": "150px"}, classes=["speed-box", "sr-label"]):
            solara.Text(f"{t('speed', lang)}: {speed.value}", style={"font-size": "0.75rem"})
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
