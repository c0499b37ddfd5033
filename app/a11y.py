"""Accessible building blocks for the workshop page (checked with axe-core: tests/test_app_a11y.py).

Solara's and Vuetify 2's stock widgets fail a few axe-core rules; these replace or complete them:

* :class:`DocumentMeta`: sets ``<html lang>`` to the page's language (``en`` / ``zh-CN``, so screen
  readers pronounce and browsers pick glyphs right) and replaces Solara's viewport meta, which
  forbids zooming (``maximum-scale=1, user-scalable=no``; WCAG 1.4.4), with one that allows it. The
  Solara page template is not ours to edit, so this happens in the browser when the page mounts.
* :func:`Picture`: a PNG (map, chart) with a text alternative (``<img alt>``).
* :class:`NativeSelect`: a labelled HTML ``<select>``: Vuetify 2's ``v-select`` puts a focusable
  input inside an element with ``role="button"`` (axe: nested-interactive).
* :func:`Progress`: a progress bar with an accessible name (Vuetify's has none; Solara's own busy
  bar is named by :class:`DocumentMeta`).
* :func:`Disclosure`: a native ``<details>``/``<summary>`` (Vuetify's expansion panel sets
  ``aria-expanded`` on a plain ``div``: axe aria-allowed-attr).
* :data:`CSS`: a focus ring that can be seen on a projector, and the visually-hidden label class
  that names the sliders (a slider's ``aria-label`` is its Vuetify label).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

import ipyvuetify as v
import solara
import traitlets
from solara.alias import rv, rw

from app.i18n import Lang

HTML_LANG = {"en": "en", "zh": "zh-CN"}  # BCP 47 tags for <html lang>: English, Chinese (mainland, simplified)
VIEWPORT = "width=device-width, initial-scale=1"  # zoom allowed (no maximum-scale, no user-scalable=no)
FOCUS = "#0b57d0"  # focus-ring colour: contrast 6.4:1 on white (WCAG 2.4.7/1.4.11 need >= 3:1)

CSS = f"""
.workshop :focus-visible, .workshop .v-slider__thumb-container:focus, .native-select select:focus-visible,
.how-details summary:focus-visible {{ outline: 3px solid {FOCUS} !important; outline-offset: 2px; }}
.workshop .v-btn:focus-visible::before {{ opacity: 0.2; }}
.sr-label .v-label, .sr-only {{ position: absolute !important; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }}
.workshop legend.v-label--is-disabled {{ color: rgba(0,0,0,0.6) !important; }}
.native-select {{ display: flex; flex-direction: column; font-size: 0.75rem; color: rgba(0,0,0,0.6); }}
.native-select select {{ font-size: 1rem; color: #111; padding: 4px 24px 4px 2px; border: none;
  border-bottom: 1px solid rgba(0,0,0,0.42); background: transparent; cursor: pointer; max-width: 100%;
  appearance: auto; }}
.native-select select:disabled {{ color: rgba(0,0,0,0.38); cursor: default; }}
"""


def hidden_vue(script: str) -> str:
    """A Vue template that shows nothing and runs ``script`` (the body of its ``module.exports``)."""
    return ('<template><span style="display: none"></span></template>\n<script>\nmodule.exports = {\n'
            + script.strip("\n") + "\n};\n</script>")


class DocumentMeta(v.VuetifyTemplate):
    """Writes ``lang`` to ``<html lang>`` and a zoomable viewport meta, on mount and on every change;
    keeps every picture's ``<img alt>`` equal to its wrapper's ``data-alt`` (:func:`Picture`) and
    names Solara's busy bar (a progress bar at the top of the page, without a name) ``busy``."""

    template = traitlets.Unicode(hidden_vue("""
  mounted() {
    this.apply();
    let queued = false;
    this._alt = new MutationObserver(() => {
      if (!queued) { queued = true; requestAnimationFrame(() => { queued = false; this.sync(); }); }
    });
    this._alt.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["data-alt"]});
    this.sync();
  },
  destroyed() { if (this._alt) this._alt.disconnect(); },
  watch: { lang() { this.apply(); }, viewport() { this.apply(); }, busy() { this.sync(); } },
  methods: {
    apply() {
      if (this.lang) document.documentElement.setAttribute("lang", this.lang);
      let meta = document.querySelector('meta[name="viewport"]');
      if (!meta) {
        meta = document.createElement("meta");
        meta.setAttribute("name", "viewport");
        document.head.appendChild(meta);
      }
      meta.setAttribute("content", this.viewport);
    },
    sync() {
      document.querySelectorAll("[data-alt]").forEach((box) => {
        const img = box.querySelector("img");
        if (img && img.getAttribute("alt") !== box.dataset.alt) img.setAttribute("alt", box.dataset.alt);
      });
      // Solara's own busy bar (top of the page, shown while the server works) has no name: give it one
      document.querySelectorAll('.v-application--wrap > [role="progressbar"]').forEach((bar) => {
        if (bar.hasAttribute("aria-label") && !bar.hasAttribute("data-busy-name")) return;
        bar.setAttribute("data-busy-name", "");
        if (bar.getAttribute("aria-label") !== this.busy) bar.setAttribute("aria-label", this.busy);
      });
    },
  },
""")).tag(sync=True)
    lang = traitlets.Unicode("en").tag(sync=True)
    busy = traitlets.Unicode("").tag(sync=True)  # the name of Solara's busy bar
    viewport = traitlets.Unicode(VIEWPORT).tag(sync=True)


@solara.component
def Picture(data: bytes, alt: str, classes: Sequence[str] = (), width: str | None = None):
    """A PNG shown as solara.Image does (binary over the websocket, no base64) with ``alt`` as its
    text alternative. ipywidgets' Image has no ``alt`` (and its ``tooltip`` breaks the view: it reads
    a ``description`` the Image lacks), so the text rides on a wrapper's ``data-alt`` and
    :class:`DocumentMeta` copies it to the ``<img alt>``."""
    layout = {"width": width} if width else {}
    image = rw.Image(value=data, format="png", _dom_classes=["solara-image", *classes], layout=layout)
    return rv.Html(tag="div", attributes={"data-alt": alt}, class_="picture", children=[image])


class NativeSelect(v.VuetifyTemplate):
    """A labelled ``<select>`` of ``items``; ``index`` is the chosen item's position (synced both ways)."""

    template = traitlets.Unicode("""
<template>
  <label class="native-select">
    <span class="native-select-label">{{ label }}</span>
    <select v-model.number="index" :disabled="disabled">
      <option v-for="(item, i) in items" :key="i" :value="i">{{ item }}</option>
    </select>
  </label>
</template>""").tag(sync=True)
    label = traitlets.Unicode("").tag(sync=True)
    items = traitlets.List(traitlets.Unicode()).tag(sync=True)
    index = traitlets.Int(0).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)


@solara.component
def Select(label: str, items: Sequence[str], value: str, on_value: Callable[[str], None],
           disabled: bool = False, classes: Sequence[str] = (), style: dict | None = None):
    """:class:`NativeSelect` with solara.Select's interface: ``value`` one of ``items`` (the first if
    not), ``on_value`` called with the chosen item."""
    items = list(items)
    index = items.index(value) if value in items else 0

    def pick(i: int) -> None:
        if 0 <= i < len(items) and items[i] != value:
            on_value(items[i])

    with solara.Column(gap="0px", classes=list(classes), style=style):
        NativeSelect.element(label=label, items=items, index=index, disabled=disabled, on_index=pick)


@solara.component
def Progress(percent: float, label: str, classes: Sequence[str] = ()):
    """A determinate progress bar (0-100 %) named ``label`` for screen readers."""
    return rv.ProgressLinear(value=max(0.0, min(100.0, float(percent))), color="primary",
                             attributes={"aria-label": label}, class_=" ".join(classes))


@solara.component
def Disclosure(summary: str, body_html: str, classes: Sequence[str] = ()):
    """A native ``<details>`` whose ``<summary>`` opens ``body_html`` (already escaped HTML)."""
    solara.HTML(tag="details", unsafe_innerHTML=f"<summary>{html.escape(summary)}</summary>{body_html}",
                classes=["how-details", *classes])


def html_lang(lang: Lang) -> str:
    return HTML_LANG[lang]
