"""The left-hand panel: run controls (step / play / reset, speed, seed), presets and every lever.

Levers are grouped by the paper's five remedy groups (``group`` in ``configs/parameters.toml``) and
labelled with their unit. Sliders show values in readable units (million yuan, per cent); see
:data:`app.i18n.UNITS` for the conversion. Each lever sits in an element with the CSS class
``lever-<name>`` so browser tests can find it in either language.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import solara

import sim
from app.i18n import UNITS, Lang, group_label, lever_label, preset_label, t, unit_label
from app.state import presets


@dataclass(frozen=True)
class LeverView:
    """How one lever is shown: model value x ``scale`` = slider value, in steps of ``step``."""

    name: str
    group: int
    low: float
    high: float
    scale: float
    step: float
    integer: bool

    def shown(self, value: float) -> float:
        return _round_to_step(value * self.scale, self.step)

    def model_value(self, shown: float) -> float | int:
        v = min(max(shown / self.scale, self.low), self.high)
        return int(round(v)) if self.integer else float(v)

    def text(self, value: float, lang: Lang) -> str:
        shown = self.shown(value)
        digits = max(0, -int(math.floor(math.log10(self.step)))) if self.step < 1 else 0
        return f"{shown:,.{digits}f} {unit_label(self.name, lang)}"


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
        _en, _zh, scale, step = UNITS.get(p.unit, (p.unit, p.unit, 1.0, (p.high - p.low) / 100 or 1.0))
        out.append(LeverView(name=name, group=int(p.group), low=float(p.low), high=float(p.high),
                             scale=scale, step=step, integer=isinstance(p.default, int)))
    return tuple(out)


@solara.component
def LeverSlider(view: LeverView, value: float, on_value: Callable[[str, float], None], lang: Lang,
                disabled: bool = False):
    with solara.Column(gap="0px", classes=[f"lever-{view.name}", "lever"]):
        opening, closing = ("（", "）") if lang == "zh" else (" (", ")")
        solara.Text(f"{lever_label(view.name, lang)}{opening}{unit_label(view.name, lang)}{closing}",
                    style={"font-size": "0.85rem", "font-weight": "500"})
        with solara.Row(gap="6px", style={"align-items": "center"}):
            solara.SliderFloat(
                "", value=view.shown(value), min=view.low * view.scale, max=view.high * view.scale,
                step=view.step, thumb_label=False, disabled=disabled,
                on_value=lambda v: on_value(view.name, view.model_value(v)),
            )
            solara.Text(view.text(value, lang), classes=["lever-value"],
                        style={"font-size": "0.8rem", "white-space": "nowrap", "min-width": "7em"})


@solara.component
def LeverPanel(levers: dict, on_lever: Callable[[str, float], None], lang: Lang, note: str = ""):
    """Cards of sliders, one card per remedy group."""
    views = lever_views()
    solara.Text(t("levers", lang), style={"font-weight": "600"})
    if note:
        solara.Text(note, style={"font-size": "0.8rem", "color": "#666"})
    for group in sorted({v.group for v in views}):
        with solara.Card(group_label(group, lang), margin=0, classes=[f"group-{group}"]):
            for v in views:
                if v.group == group:
                    LeverSlider(v, levers[v.name], on_lever, lang)


@solara.component
def PresetButtons(on_preset: Callable[[str], None], lang: Lang, active: str | None = None):
    solara.Text(t("presets", lang), style={"font-weight": "600"})
    with solara.Row(gap="4px", style={"flex-wrap": "wrap"}):
        for key, preset in presets().items():
            solara.Button(preset_label(preset, lang), small=True, outlined=key != active,
                          color="primary", classes=[f"preset-{key}"],
                          on_click=lambda key=key: on_preset(key))


@solara.component
def RunControls(*, quarter_text: str, playing: bool, running: bool, on_step, on_play, on_reset,
                speed: solara.Reactive[int], seed: solara.Reactive[int], lang: Lang, busy: bool = False):
    solara.Text(t("run", lang), style={"font-weight": "600"})
    solara.Text(quarter_text, classes=["quarter-now"], style={"font-size": "1.1rem"})
    with solara.Row(gap="6px"):
        solara.Button(t("step", lang), icon_name="mdi-step-forward", color="primary",
                      on_click=on_step, disabled=playing or not running or busy, classes=["btn-step"])
        solara.Button(t("pause", lang) if playing else t("play", lang),
                      icon_name="mdi-pause" if playing else "mdi-play", color="primary",
                      on_click=on_play, disabled=not running and not playing, classes=["btn-play"])
        solara.Button(t("reset", lang), icon_name="mdi-restore", on_click=on_reset, outlined=True,
                      classes=["btn-reset"])
    if not running:
        solara.Text(t("finished", lang), style={"color": "#b35c00", "font-size": "0.85rem"})
    solara.Text(f"{t('speed', lang)}: {speed.value}", style={"font-size": "0.85rem"})
    solara.SliderInt("", value=speed, min=1, max=10, thumb_label=False)
    with solara.Row(gap="6px", style={"align-items": "center"}):
        solara.InputInt(t("seed", lang), value=seed, classes=["seed-input"])
    solara.Text(t("reset_hint", lang), style={"font-size": "0.75rem", "color": "#666"})
