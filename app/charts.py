"""The page's charts: matplotlib figures built from the model's result tables.

Each chart is drawn in two layers so that a step redraws quickly:

* a **frame** (axes, ticks, tier lines, titles, legend) that depends only on the language, the run's
  horizon and a rounded axis limit. It is rendered once to pixels and cached;
* a **data layer** (lines, bars, the current period) drawn each step on transparent axes placed
  exactly over the frame's axes.

The x axis always spans the whole run (quarter 0 to the horizon), so the frame stays the same while
the timeline fills up. Every public function takes the tables of ``model.result()`` (plus the
language and the horizon) and returns a :class:`matplotlib.figure.Figure`; :func:`to_png` turns it
into the bytes the page shows and the export offers. Figures are made with ``Figure()`` (no pyplot):
no global figure registry, safe from several sessions' threads.
"""

from __future__ import annotations

import io
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import PIL.Image

from app import fonts  # noqa: F401  (Agg backend + CJK font before any drawing)
from app.i18n import Lang, cluster_label, destination_label, group_label, lever_label, t, tier_label
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

import sim
from sim import energy

DPI = 80
SIZE = (6.4, 3.4)  # inches -> 512 x 272 px at DPI
MATURITY_COLOURS = ["#d9e6f2", "#9ecae1", "#4292c6", "#08519c", "#08306b"]
DESTINATIONS = ("Beijing", "Tianjin", "Elsewhere")
DEST_COLOURS = {"Beijing": "#c0392b", "Tianjin": "#e67e22", "Elsewhere": "#95a5a6"}
GROUP_COLOURS = {1: "#7f8c8d", 2: "#8e44ad", 3: "#16a085", 4: "#2980b9", 5: "#d35400"}
_TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f", "#e377c2",
          "#bcbd22", "#17becf"]


# ---------------------------------------------------------------------------------------- basics
@lru_cache(maxsize=1)
def _city() -> dict:
    return sim.default_config().city


def cluster_keys() -> list[str]:
    return list(_city()["clusters"])


def cluster_colours() -> dict[str, str]:
    """A fixed colour per cluster (same on the map and in every chart)."""
    return {k: _TAB10[i % len(_TAB10)] for i, k in enumerate(cluster_keys())}


def tier_thresholds() -> list[float]:
    """Index thresholds of the provincial, national and world-class tiers (tiers 2-4; default values)."""
    return list(energy.index_thresholds(sim.default_config().values))


@lru_cache(maxsize=1)
def lever_groups() -> dict[str, int]:
    cfg = sim.default_config()
    return {n: cfg.schema[n].group for n in cfg.names("levers")}


def to_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig``; a :func:`layered` figure is drawn transparent and laid over its frame."""
    frame = getattr(fig, "_app_frame", None)
    buf = io.BytesIO()
    if frame is None:
        fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
        return buf.getvalue()
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    w, h = canvas.get_width_height()
    top = PIL.Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    PIL.Image.alpha_composite(frame.image, top).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``x`` (axis limits that change rarely)."""
    if not x > 0 or not math.isfinite(x):
        return 1.0
    k = math.floor(math.log10(x))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * 10**k >= x * (1 - 1e-9):
            return m * 10**k
    return 10.0 ** (k + 1)


def period_labels(table: pd.DataFrame, horizon: int) -> dict[int, str]:
    """``{quarter: "2025Q1", ...}`` for quarters 0..horizon, extrapolated from the table's first row."""
    first = table.iloc[0]
    year, q = int(first["period"][:4]), int(first["period"][-1])
    idx0 = year * 4 + (q - 1) - int(first["quarter"])
    return {k: f"{(idx0 + k) // 4}Q{(idx0 + k) % 4 + 1}" for k in range(horizon + 1)}


def _year_ticks(ax, periods: dict[int, str], lang: Lang) -> None:
    q1 = [(k, p[:4]) for k, p in periods.items() if p.endswith("Q1")]
    every = max(1, math.ceil(len(q1) / 10))
    q1 = q1[::every]
    ax.set_xticks([k for k, _ in q1], [y for _, y in q1])
    ax.set_xlabel(t("quarter", lang), fontsize=7)


# ---------------------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class _Frame:
    pixels: np.ndarray  # RGBA, opaque
    axes: tuple  # ((bounds, xlim, ylim), ...) of each frame axes, after layout

    @property
    def image(self) -> PIL.Image.Image:
        return PIL.Image.fromarray(self.pixels, "RGBA")


_FRAMES: OrderedDict = OrderedDict()
_FRAMES_MAX = 64


def layered(key: tuple, size: tuple[float, float], draw_frame: Callable[[Figure], Sequence],
            draw_data: Callable[[Sequence], None]) -> Figure:
    """A figure = the cached frame for ``key`` (drawn by ``draw_frame``, which returns its axes with
    fixed limits) + fresh transparent axes over each of them, filled by ``draw_data``.

    The returned figure holds only the data layer; :func:`to_png` composites it over the frame.
    """
    frame = _FRAMES.get(key)
    if frame is None:
        fig = Figure(figsize=size, dpi=DPI)
        axes = draw_frame(fig)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        frame = _Frame(np.asarray(canvas.buffer_rgba()).copy(),
                       tuple((ax.get_position().bounds, ax.get_xlim(), ax.get_ylim()) for ax in axes))
        _FRAMES[key] = frame
        while len(_FRAMES) > _FRAMES_MAX:
            _FRAMES.popitem(last=False)
    else:
        _FRAMES.move_to_end(key)
    fig = Figure(figsize=size, dpi=DPI)
    fig.patch.set_alpha(0.0)
    fig._app_frame = frame  # to_png lays the data layer over the frame's pixels
    axes = []
    for bounds, xlim, ylim in frame.axes:
        ax = fig.add_axes(bounds, zorder=1)
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_axis_off()
        axes.append(ax)
    draw_data(axes)
    return fig


def _rects(ax, x0, x1, y0, y1, colours) -> None:
    """Many rectangles as one collection (much faster to draw than ``bar``'s one patch per bar)."""
    x0, x1, y0, y1 = (np.broadcast_to(np.asarray(a, dtype=float), np.shape(x0)) for a in (x0, x1, y0, y1))
    verts = np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y0]), np.column_stack([x1, y1]),
                      np.column_stack([x0, y1])], axis=1)
    ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="none"), autolim=False)


def _legend(fig: Figure, handles, fontsize: float = 7) -> None:
    fig.legend(handles=handles, loc="center right", fontsize=fontsize, frameon=False)


def _cluster_handles(lang: Lang) -> list:
    return [Line2D([], [], color=c, lw=1.8, label=cluster_label(k, lang)) for k, c in cluster_colours().items()]


def _dynamic_title(ax, text: str) -> None:
    ax.text(0.5, 1.02, text, transform=ax.transAxes, ha="center", va="bottom", fontsize=8)


# ---------------------------------------------------------------------------------------- charts
def _cluster_lines(clusters: pd.DataFrame, column: str, title_key: str, lang: Lang, horizon: int,
                   with_tiers: bool) -> Figure:
    periods = period_labels(clusters, horizon)

    def frame(fig):
        ax = fig.add_axes((0.07, 0.15, 0.58, 0.75))
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 1)
        if with_tiers:
            for i, thr in enumerate(tier_thresholds(), start=2):
                ax.axhline(thr, color="#777", lw=0.7, ls="--")
                ax.text(0.99, thr + 0.005, tier_label(i, lang), transform=ax.get_yaxis_transform(),
                        fontsize=6.5, va="bottom", ha="right", color="#444")
        ax.grid(axis="y", color="#eee", lw=0.5)
        ax.set_title(t(title_key, lang), fontsize=8.5)
        _year_ticks(ax, periods, lang)
        ax.tick_params(labelsize=7)
        _legend(fig, _cluster_handles(lang))
        return [ax]

    def data(axes):
        ax = axes[0]
        colours = cluster_colours()
        for key, df in clusters.groupby("cluster", sort=False):
            ax.plot(df["quarter"].to_numpy(), df[column].to_numpy(), color=colours.get(key), lw=1.7,
                    marker="o" if len(df) == 1 else None, ms=3)

    return layered((title_key, lang, horizon, periods[0]), SIZE, frame, data)


def energy_chart(clusters: pd.DataFrame, lang: Lang, horizon: int) -> Figure:
    """Energy index per cluster over time; dashed lines mark the named tiers (county ... world-class)."""
    return _cluster_lines(clusters, "energy_index", "chart_energy", lang, horizon, with_tiers=True)


def chain_chart(clusters: pd.DataFrame, lang: Lang, horizon: int) -> Figure:
    """Chain completeness per cluster over time."""
    return _cluster_lines(clusters, "chain_completeness", "chart_chain", lang, horizon, with_tiers=False)


def talent_chart(city: pd.DataFrame, lang: Lang, horizon: int) -> Figure:
    """Left: graduate retention (graduation quarters). Right: persons leaving per quarter by destination."""
    periods = period_labels(city, horizon)
    flows = city[city["quarter"] > 0]
    stacked = flows[[f"outflow_{d.lower()}" for d in DESTINATIONS]].to_numpy(dtype=float)
    ymax = nice_ceiling(float(stacked.sum(1).max()) * 1.05 if len(stacked) else 1.0)

    def frame(fig):
        ax1 = fig.add_axes((0.08, 0.15, 0.32, 0.72))
        ax2 = fig.add_axes((0.50, 0.15, 0.30, 0.72))
        ax1.set_ylim(0, 100)
        ax2.set_ylim(0, ymax)
        for ax in (ax1, ax2):
            ax.set_xlim(-0.5, horizon + 0.5)
            _year_ticks(ax, periods, lang)
            ax.tick_params(labelsize=7)
            ax.grid(axis="y", color="#eee", lw=0.5)
        ax1.set_ylabel(t("retention_pct", lang), fontsize=7)
        ax1.set_title(t("chart_retention", lang), fontsize=8)
        ax2.set_ylabel(t("persons", lang), fontsize=7)
        ax2.set_title(t("chart_outflow", lang), fontsize=8)
        _legend(fig, [Patch(color=DEST_COLOURS[d], label=destination_label(d, lang)) for d in DESTINATIONS])
        return [ax1, ax2]

    def data(axes):
        ax1, ax2 = axes
        ret = city.dropna(subset=["graduate_retention"])
        ax1.plot(ret["quarter"].to_numpy(), 100 * ret["graduate_retention"].to_numpy(), "o-",
                 color="#2c7a3f", ms=3.5, lw=1.5)
        x = flows["quarter"].to_numpy(dtype=float)
        bottom = np.zeros(len(flows))
        for j, dest in enumerate(DESTINATIONS):
            _rects(ax2, x - 0.42, x + 0.42, bottom, bottom + stacked[:, j], DEST_COLOURS[dest])
            bottom += stacked[:, j]

    return layered(("talent", lang, horizon, periods[0], ymax), SIZE, frame, data)


def maturity_chart(clusters: pd.DataFrame, lang: Lang, horizon: int = 0) -> Figure:
    """Share of firms at each digital-maturity level (GB/T 39116 levels 1-5), per cluster and city-wide,
    at the latest quarter."""
    now = clusters[clusters["quarter"] == clusters["quarter"].max()]
    keys = list(now["cluster"])
    cols = [f"maturity_l{k}" for k in range(1, 6)]

    def frame(fig):
        ax = fig.add_axes((0.25, 0.13, 0.52, 0.75))
        y = np.arange(len(keys) + 1)[::-1]
        ax.set_yticks(y, [cluster_label(k, lang) for k in keys] + [t("city", lang)], fontsize=7)
        ax.set_ylim(-0.6, len(keys) + 0.6)
        ax.set_xlim(0, 100)
        ax.set_xlabel(t("share_pct", lang), fontsize=7)
        ax.tick_params(labelsize=7)
        _legend(fig, [Patch(color=MATURITY_COLOURS[k], label=t(f"maturity_{k + 1}", lang)) for k in range(5)])
        return [ax]

    def data(axes):
        ax = axes[0]
        shares = now[cols].to_numpy(dtype=float)
        weights = now["firms"].to_numpy(dtype=float)
        city = (shares * weights[:, None]).sum(0) / max(weights.sum(), 1.0)
        values = np.vstack([shares, city]) * 100
        y = np.arange(len(values))[::-1]
        left = np.zeros(len(values))
        for k in range(5):
            _rects(ax, left, left + values[:, k], y - 0.35, y + 0.35, MATURITY_COLOURS[k])
            left += values[:, k]
        period = now["period"].iloc[0] if len(now) else ""
        _dynamic_title(ax, f"{t('chart_maturity', lang)} · {period}")

    return layered(("maturity", lang, tuple(keys)), SIZE, frame, data)


def spending_chart(city: pd.DataFrame, lang: Lang, horizon: int = 0) -> Figure:
    """Cumulative government spending per lever (million yuan), coloured by remedy group."""
    groups = lever_groups()
    names = [n for n in groups if f"spending_{n}" in city.columns]
    totals = np.array([city[f"spending_{n}"].sum() for n in names], dtype=float) / 1e6
    xmax = nice_ceiling(float(totals.max()) * 1.05) if totals.any() else 1.0

    def frame(fig):
        ax = fig.add_axes((0.40, 0.12, 0.38, 0.76))
        y = np.arange(len(names))[::-1]
        ax.set_yticks(y, [lever_label(n, lang) for n in names], fontsize=6)
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.set_xlim(0, xmax)
        ax.set_xlabel(t("million_yuan", lang), fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", color="#eee", lw=0.5)
        _legend(fig, [Patch(color=GROUP_COLOURS[g], label=group_label(g, lang)) for g in GROUP_COLOURS],
                fontsize=6)
        return [ax]

    def data(axes):
        ax = axes[0]
        y = np.arange(len(names))[::-1]
        _rects(ax, np.zeros(len(names)), totals, y - 0.35, y + 0.35, [GROUP_COLOURS[groups[n]] for n in names])
        if not totals.any():
            ax.text(0.5, 0.5, t("no_spending", lang), transform=ax.transAxes, ha="center", fontsize=8)
        period = city["period"].iloc[-1] if len(city) else ""
        _dynamic_title(ax, f"{t('chart_spending', lang)} · {period}")

    return layered(("spending", lang, tuple(names), xmax), SIZE, frame, data)


CHARTS: dict[str, tuple[Callable[..., Figure], str]] = {
    # name: (function(table, lang, horizon), the result table it reads)
    "energy": (energy_chart, "clusters"),
    "talent": (talent_chart, "city"),
    "maturity": (maturity_chart, "clusters"),
    "chain": (chain_chart, "clusters"),
    "spending": (spending_chart, "city"),
}


def chart_png(name: str, table: pd.DataFrame, lang: Lang, horizon: int) -> bytes:
    func, _ = CHARTS[name]
    return to_png(func(table, lang, horizon))
