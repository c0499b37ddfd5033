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

import contextlib
import io
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
import PIL.Image

from app import fonts  # noqa: F401  (Agg backend + CJK font before any drawing)
from app.i18n import Lang, cluster_label, destination_label, group_label, money_unit, t, tier_label
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

import sim
from sim.behaviour import energy

DPI = 100  # screen pixels per inch of the page's figures
EXPORT_DPI = 310  # downloads: a 5.2-inch chart is 1,612 px wide
SIZE = (5.2, 3.0)  # inches -> 520 x 300 px at scale 1; the page draws it at the size it is shown (app.page.Fit)
FONT = 11.0  # points: the text of the figures other modules draw with this module's style (A/B, why)
ROOM_FONT = 12.0  # points: the smallest text of the live charts (16.7 px at DPI; >= 16 px shown from a scale of 0.96 up)
MIN_FONT_PX = ROOM_FONT * DPI / 72
MATURITY_COLOURS = ["#d9e6f2", "#9ecae1", "#4292c6", "#08519c", "#08306b"]
DESTINATIONS = ("Beijing", "Tianjin", "Elsewhere")
DEST_COLOURS = {"Beijing": "#c0392b", "Tianjin": "#e67e22", "Elsewhere": "#95a5a6"}
GROUP_COLOURS = {1: "#7f8c8d", 2: "#8e44ad", 3: "#16a085", 4: "#2980b9", 5: "#d35400"}
GHOST = "#555"  # the status-quo line (same seed): dark grey, dashed, drawn over the policy's lines
GHOST_DASH = (0, (3, 2))
CHANGE = "#444"  # markers where levers changed
WINDOW, WINDOW_ALPHA = "#e8b400", 0.22  # the band over the quarters a timed lever is on (app.timing)
_TAB10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#7f7f7f", "#e377c2",
          "#bcbd22", "#17becf"]
_LOCAL = threading.local()


def current_dpi() -> float:
    return getattr(_LOCAL, "dpi", DPI)


@contextlib.contextmanager
def reused_figures():
    """Inside the block, :func:`layered` reuses this thread's data-layer figure for a frame (removing
    what its last drawing added) instead of building a figure and its axes again: ~20 ms a figure,
    and a live step draws two. Only for figures turned into pixels inside the block (:func:`to_png`),
    as the page's live view does; a figure kept after the block may be redrawn by the next one."""
    old = getattr(_LOCAL, "reuse", False)
    _LOCAL.reuse = True
    try:
        yield
    finally:
        _LOCAL.reuse = old


@contextlib.contextmanager
def render_dpi(dpi: float):
    """Draw figures made inside the block at ``dpi`` (exports); the frame cache keeps one per dpi."""
    old = current_dpi()
    _LOCAL.dpi = dpi
    try:
        yield
    finally:
        _LOCAL.dpi = old


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
    """PNG bytes of ``fig`` at the figure's dpi (recorded in the file); a :func:`layered` figure is
    drawn transparent and laid over its frame."""
    frame = getattr(fig, "_app_frame", None)
    buf = io.BytesIO()
    dpi = fig.dpi
    if frame is None:
        fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 1})
        return buf.getvalue()
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)  # reused figures keep theirs
    canvas.draw()
    w, h = canvas.get_width_height()
    top = PIL.Image.frombuffer("RGBA", (w, h), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    # the frame is opaque, so is the result: RGB is a quarter less to encode and to send
    PIL.Image.alpha_composite(frame.image, top).convert("RGB").save(buf, format="png", compress_level=1,
                                                                  dpi=(dpi, dpi))
    return buf.getvalue()


def grouped(value: float, _pos=None) -> str:
    """A tick label with thousands separators (``12,000``), decimals only where the tick has them
    (``0.5``): a matplotlib tick formatter for axes of persons and money."""
    text = f"{value:,.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


GROUPED = FuncFormatter(grouped)
LEGEND_WRAP = 19  # characters per line of an English legend label (remedy-group names): the legend keeps its width


def wrap_label(text: str, lang: Lang) -> str:
    """A legend label on lines of at most :data:`LEGEND_WRAP` characters (English; Chinese names are short)."""
    import textwrap

    return textwrap.fill(text, LEGEND_WRAP, break_long_words=False, break_on_hyphens=False) if lang == "en" else text


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


def _year_ticks(ax, periods: dict[int, str], lang: Lang, most: int = 6) -> None:
    q1 = [(k, p[:4]) for k, p in periods.items() if p.endswith("Q1")]
    every = max(1, math.ceil(len(q1) / most))
    q1 = q1[::every]
    ax.set_xticks([k for k, _ in q1], [y for _, y in q1])


# ---------------------------------------------------------------------------------------- layers
@dataclass(frozen=True)
class _Frame:
    pixels: np.ndarray  # RGBA, opaque
    axes: tuple  # ((bounds, xlim, ylim), ...) of each frame axes, after layout
    min_font: float = math.inf  # smallest text in the frame (points)
    texts: tuple = ()  # every visible text of the frame (titles, ticks, legend): what the tests read

    @property
    def image(self) -> PIL.Image.Image:
        return PIL.Image.fromarray(self.pixels, "RGBA")


_FRAMES: OrderedDict = OrderedDict()
_FRAMES_MAX = 64
_REUSED_MAX = 16  # data-layer figures kept per thread by reused_figures()


def _reused(key: tuple, frame: _Frame) -> Figure | None:
    """This thread's data-layer figure for ``key`` with what it last drew removed, or None."""
    cache = _LOCAL.__dict__.setdefault("figures", OrderedDict())
    hit = cache.get(key)
    if hit is None or hit[0]._app_frame is not frame:
        return None
    cache.move_to_end(key)
    fig, base = hit
    for ax in fig.axes:
        for artist in ax.get_children():
            if artist not in base[ax]:
                artist.remove()
    return fig


def _keep(key: tuple, fig: Figure) -> None:
    cache = _LOCAL.__dict__.setdefault("figures", OrderedDict())
    cache[key] = (fig, {ax: set(ax.get_children()) for ax in fig.axes})
    while len(cache) > _REUSED_MAX:
        cache.popitem(last=False)


def layered(key: tuple, size: tuple[float, float], draw_frame: Callable[[Figure], Sequence],
            draw_data: Callable[[Sequence], None]) -> Figure:
    """A figure = the cached frame for ``key`` (drawn by ``draw_frame``, which returns its axes with
    fixed limits) + fresh transparent axes over each of them, filled by ``draw_data``.

    The returned figure holds only the data layer; :func:`to_png` composites it over the frame.
    """
    dpi = current_dpi()
    key = (*key, dpi)
    frame = _FRAMES.get(key)
    if frame is None:
        fig = Figure(figsize=size, dpi=dpi)
        axes = draw_frame(fig)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        frame = _Frame(np.asarray(canvas.buffer_rgba()).copy(),
                       tuple((ax.get_position().bounds, ax.get_xlim(), ax.get_ylim()) for ax in axes),
                       _texts_min(fig), tuple(_visible_texts(fig)))
        _FRAMES[key] = frame
        while len(_FRAMES) > _FRAMES_MAX:
            _FRAMES.popitem(last=False)
    else:
        _FRAMES.move_to_end(key)
    reuse = getattr(_LOCAL, "reuse", False)
    fig = _reused(key, frame) if reuse else None
    if fig is None:
        fig = Figure(figsize=size, dpi=dpi)
        fig.patch.set_alpha(0.0)
        fig._app_frame = frame  # to_png lays the data layer over the frame's pixels
        for bounds, xlim, ylim in frame.axes:
            ax = fig.add_axes(bounds, zorder=1)
            ax.set_axis_off()
        if reuse:
            _keep(key, fig)
    for ax, (_bounds, xlim, ylim) in zip(fig.axes, frame.axes):
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
    draw_data(list(fig.axes))
    return fig


def _rects(ax, x0, x1, y0, y1, colours) -> None:
    """Many rectangles as one collection (much faster to draw than ``bar``'s one patch per bar)."""
    x0, x1, y0, y1 = (np.broadcast_to(np.asarray(a, dtype=float), np.shape(x0)) for a in (x0, x1, y0, y1))
    verts = np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y0]), np.column_stack([x1, y1]),
                      np.column_stack([x0, y1])], axis=1)
    ax.add_collection(PolyCollection(verts, facecolors=colours, edgecolors="none"), autolim=False)


def _legend(fig: Figure, handles, loc: str = "center right", **kw) -> None:
    fig.legend(handles=handles, loc=loc, fontsize=ROOM_FONT, frameon=False, handlelength=1.4, borderaxespad=0.2,
               labelspacing=0.3, **kw)


def _cluster_handles(lang: Lang) -> list:
    return [Line2D([], [], color=c, lw=2.2, label=cluster_label(k, lang)) for k, c in cluster_colours().items()]


def _extra_handles(lang: Lang, ghost: bool, changes: bool, windows: bool = False) -> list:
    out = []
    if ghost:
        out.append(Line2D([], [], color=GHOST, lw=1.3, ls=GHOST_DASH, label=t("legend_ghost", lang)))
    if changes:
        out.append(Line2D([], [], color=CHANGE, lw=1.2, ls=":", label=t("legend_changes", lang)))
    if windows:
        out.append(Patch(color=WINDOW, alpha=WINDOW_ALPHA * 2, label=t("legend_window", lang)))
    return out


def _dynamic_title(ax, text: str) -> None:
    ax.text(0.5, 1.02, text, transform=ax.transAxes, ha="center", va="bottom", fontsize=ROOM_FONT)


def _mark_changes(ax, changes: Sequence[int], windows: Sequence[tuple] = ()) -> None:
    """Dotted vertical lines after the quarters where levers changed (they apply from the next one), and
    a shaded band over the quarters in which a lever held only in a window is on (``(lever, first
    quarter, last quarter)``, :func:`app.timing.window_quarters`; several windows overlap darker)."""
    for q in changes:
        ax.axvline(q + 0.5, color=CHANGE, lw=1.2, ls=":", zorder=0.5)
    for _lever, first, last in windows:
        ax.axvspan(first - 0.5, last + 0.5, color=WINDOW, alpha=WINDOW_ALPHA, lw=0, zorder=0.2, gid="lever-window")


# ---------------------------------------------------------------------------------------- charts
def _cluster_lines(clusters: pd.DataFrame, column: str, title_key: str, lang: Lang, horizon: int,
                   with_tiers: bool, ghost: pd.DataFrame | None = None, changes: Sequence[int] = (),
                   windows: Sequence[tuple] = ()) -> Figure:
    periods = period_labels(clusters, horizon)
    has_ghost, has_changes, has_windows = ghost is not None, bool(changes), bool(windows)

    def frame(fig):
        ax = fig.add_axes((0.09, 0.10, 0.52 if lang == "zh" else 0.41, 0.80))  # the legend's room at ROOM_FONT
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 1)
        if with_tiers:
            for i, thr in enumerate(tier_thresholds(), start=2):
                ax.axhline(thr, color="#777", lw=0.8, ls="--")
                ax.text(0.99, thr + 0.005, tier_label(i, lang), transform=ax.get_yaxis_transform(),
                        fontsize=ROOM_FONT, va="bottom", ha="right", color="#444")
        ax.grid(axis="y", color="#eee", lw=0.5)
        ax.set_title(t(title_key, lang), fontsize=ROOM_FONT)
        _year_ticks(ax, periods, lang, most=5)
        ax.tick_params(labelsize=ROOM_FONT)
        _legend(fig, _cluster_handles(lang) + _extra_handles(lang, has_ghost, has_changes, has_windows))
        return [ax]

    def data(axes):
        ax = axes[0]
        colours = cluster_colours()
        for key, df in clusters.groupby("cluster", sort=False):
            ax.plot(df["quarter"].to_numpy(), df[column].to_numpy(), color=colours.get(key), lw=2.0,
                    marker="o" if len(df) == 1 else None, ms=3)
        if ghost is not None:  # over the policy's lines, so it shows where the two coincide too
            g = ghost[ghost["quarter"] <= clusters["quarter"].max()]
            for key, df in g.groupby("cluster", sort=False):
                ax.plot(df["quarter"].to_numpy(), df[column].to_numpy(), color=GHOST, lw=1.1,
                        ls=GHOST_DASH, zorder=3)
        _mark_changes(ax, changes, windows)

    return layered((title_key, lang, horizon, periods[0], has_ghost, has_changes, has_windows), SIZE, frame, data)


def energy_chart(clusters: pd.DataFrame, lang: Lang, horizon: int, ghost=None, changes=(), windows=()) -> Figure:
    """Energy index per cluster over time; dashed lines mark the named tiers (county ... world-class);
    ``ghost``: the status-quo run (same seed) as faded dashed lines; ``changes``: lever-change markers;
    ``windows``: timed levers' windows, shaded."""
    return _cluster_lines(clusters, "energy_index", "chart_energy", lang, horizon, True, ghost, changes, windows)


def chain_chart(clusters: pd.DataFrame, lang: Lang, horizon: int, ghost=None, changes=(), windows=()) -> Figure:
    """Chain completeness per cluster over time."""
    return _cluster_lines(clusters, "chain_completeness", "chart_chain", lang, horizon, False, ghost, changes,
                          windows)


def talent_chart(city: pd.DataFrame, lang: Lang, horizon: int, ghost=None, changes=(), windows=()) -> Figure:
    """Left: graduate retention (graduation quarters). Right: persons leaving per quarter by destination."""
    periods = period_labels(city, horizon)
    flows = city[city["quarter"] > 0]
    stacked = flows[[f"outflow_{d.lower()}" for d in DESTINATIONS]].to_numpy(dtype=float)
    g = ghost[(ghost["quarter"] > 0) & (ghost["quarter"] <= city["quarter"].max())] if ghost is not None else None
    peak = float(stacked.sum(1).max()) if len(stacked) else 1.0
    if g is not None and len(g):
        peak = max(peak, float(g[[f"outflow_{d.lower()}" for d in DESTINATIONS]].to_numpy().sum(1).max()))
    ymax = nice_ceiling(peak * 1.05)
    has_ghost, has_changes, has_windows = ghost is not None, bool(changes), bool(windows)

    def frame(fig):
        ax1 = fig.add_axes((0.11, 0.10, 0.33, 0.62))
        ax2 = fig.add_axes((0.60, 0.10, 0.37, 0.62))
        ax1.set_ylim(0, 100)
        ax2.set_ylim(0, ymax)
        for ax in (ax1, ax2):
            ax.set_xlim(-0.5, horizon + 0.5)
            _year_ticks(ax, periods, lang, most=3)
            ax.tick_params(labelsize=ROOM_FONT)
            ax.grid(axis="y", color="#eee", lw=0.5)
        ax2.yaxis.set_major_formatter(GROUPED)  # persons: 1,500
        ax1.set_title(t("chart_retention", lang), fontsize=ROOM_FONT)
        ax2.set_title(t("chart_outflow", lang), fontsize=ROOM_FONT)
        handles = [Patch(color=DEST_COLOURS[d], label=destination_label(d, lang)) for d in DESTINATIONS]
        extra = has_ghost + has_changes + has_windows
        _legend(fig, handles + _extra_handles(lang, has_ghost, has_changes, has_windows), loc="upper center",
                ncol=3 + extra if len(handles) + extra <= 4 else 3)
        return [ax1, ax2]

    def data(axes):
        ax1, ax2 = axes
        if g is not None:
            gr = g.dropna(subset=["graduate_retention"])
            ax1.plot(gr["quarter"].to_numpy(), 100 * gr["graduate_retention"].to_numpy(), ls=GHOST_DASH, color=GHOST,
                     lw=1.3, zorder=3)
            tot = g[[f"outflow_{d.lower()}" for d in DESTINATIONS]].to_numpy().sum(1)
            ax2.step(g["quarter"].to_numpy(), tot, where="mid", color=GHOST, lw=1.3, ls=GHOST_DASH, zorder=3)
        ret = city.dropna(subset=["graduate_retention"])
        ax1.plot(ret["quarter"].to_numpy(), 100 * ret["graduate_retention"].to_numpy(), "o-",
                 color="#2c7a3f", ms=4, lw=1.8)
        x = flows["quarter"].to_numpy(dtype=float)
        bottom = np.zeros(len(flows))
        for j, dest in enumerate(DESTINATIONS):
            _rects(ax2, x - 0.42, x + 0.42, bottom, bottom + stacked[:, j], DEST_COLOURS[dest])
            bottom += stacked[:, j]
        for ax in axes:
            _mark_changes(ax, changes, windows)

    return layered(("talent", lang, horizon, periods[0], ymax, has_ghost, has_changes, has_windows), SIZE, frame,
                   data)


def level3_share(clusters: pd.DataFrame) -> pd.Series:
    """City-wide share of firms (%) at digital level 3 or above, per quarter (firm-weighted over clusters;
    the A/B outcome ``kpi_maturity`` at the last quarter)."""
    firms = clusters["firms"].to_numpy(dtype=float)
    l3 = clusters[["maturity_l3", "maturity_l4", "maturity_l5"]].to_numpy(dtype=float).sum(1)
    frame = pd.DataFrame({"quarter": clusters["quarter"].to_numpy(), "w": l3 * firms, "firms": firms})
    by_q = frame.groupby("quarter")[["w", "firms"]].sum()
    return 100 * by_q["w"] / by_q["firms"].clip(lower=1.0)


def maturity_chart(clusters: pd.DataFrame, lang: Lang, horizon: int = 0, ghost=None, changes=(), windows=()) -> Figure:
    """Top: share of firms at each digital-maturity level (GB/T 39116 levels 1-5), per cluster and
    city-wide, at the latest quarter; with ``ghost`` one more row: the city under the status quo (same
    seed). Bottom: the city's share at level 3 or above (%) over time, with the status quo (dashed) and
    the lever-change markers, like every other live chart."""
    now = clusters[clusters["quarter"] == clusters["quarter"].max()]
    keys = list(now["cluster"])
    cols = [f"maturity_l{k}" for k in range(1, 6)]
    gnow = ghost[ghost["quarter"] == now["quarter"].max()] if ghost is not None else None
    labels = [cluster_label(k, lang) for k in keys] + [t("city", lang)]
    if gnow is not None:
        labels.append(t("city_status_quo", lang))
    horizon = max(int(horizon), int(clusters["quarter"].max()), 1)
    periods = period_labels(clusters, horizon)
    share = level3_share(clusters)
    g_share = level3_share(ghost[ghost["quarter"] <= now["quarter"].max()]) if ghost is not None else None
    peak = max(float(share.max()), float(g_share.max()) if g_share is not None and len(g_share) else 0.0)
    ymax = nice_ceiling(peak * 1.1) if peak > 0 else 1.0
    has_ghost, has_changes, has_windows = ghost is not None, bool(changes), bool(windows)
    left, width = (0.36, 0.38) if lang == "zh" else (0.40, 0.29)

    def frame(fig):
        ax = fig.add_axes((left, 0.42, width, 0.50))
        y = np.arange(len(labels))[::-1]
        ax.set_yticks(y, labels, fontsize=ROOM_FONT)
        ax.set_ylim(-0.6, len(labels) - 0.4)
        ax.set_xlim(0, 100)
        ax.set_xticks([0, 50, 100], ["0", "50", "100 %"])  # share of firms
        ax.tick_params(labelsize=ROOM_FONT, pad=1)
        strip = fig.add_axes((0.09, 0.09, left + width - 0.09, 0.17))
        strip.set_xlim(0, horizon)
        strip.set_ylim(0, ymax)
        strip.set_yticks([0, ymax])
        _year_ticks(strip, periods, lang, most=5)
        strip.tick_params(labelsize=ROOM_FONT, pad=1)
        strip.grid(axis="y", color="#eee", lw=0.5)
        strip.text(0.0, 1.04, t("chart_maturity_l3", lang), transform=strip.transAxes, fontsize=ROOM_FONT,
                   ha="left", va="bottom")
        handles = [Patch(color=MATURITY_COLOURS[k], label=t(f"maturity_{k + 1}", lang)) for k in range(5)]
        _legend(fig, handles, loc="upper right", bbox_to_anchor=(1.0, 0.93))
        if has_ghost or has_changes or has_windows:
            _legend(fig, _extra_handles(lang, has_ghost, has_changes, has_windows), loc="lower right",
                    bbox_to_anchor=(1.0, 0.0))  # under the time strip's title
        return [ax, strip]

    def city_row(df):
        shares = df[cols].to_numpy(dtype=float)
        weights = df["firms"].to_numpy(dtype=float)
        return (shares * weights[:, None]).sum(0) / max(weights.sum(), 1.0), shares

    def data(axes):
        ax, strip = axes
        city, shares = city_row(now)
        rows = [shares, city[None, :]]
        if gnow is not None and len(gnow):
            rows.append(city_row(gnow)[0][None, :])
        values = np.vstack(rows) * 100
        y = np.arange(len(values))[::-1]
        left_edge = np.zeros(len(values))
        for k in range(5):
            _rects(ax, left_edge, left_edge + values[:, k], y - 0.35, y + 0.35, MATURITY_COLOURS[k])
            left_edge += values[:, k]
        period = now["period"].iloc[0] if len(now) else ""
        _dynamic_title(ax, f"{t('chart_maturity', lang)} · {period}")
        if g_share is not None and len(g_share):
            strip.plot(g_share.index.to_numpy(), g_share.to_numpy(), ls=GHOST_DASH, color=GHOST, lw=1.3, zorder=3)
        strip.plot(share.index.to_numpy(), share.to_numpy(), color=MATURITY_COLOURS[3], lw=2.0,
                   marker="o" if len(share) == 1 else None, ms=3)
        _mark_changes(strip, changes, windows)

    return layered(("maturity", lang, tuple(labels), horizon, periods[0], ymax, has_ghost, has_changes, has_windows),
                   SIZE, frame, data)


def group_spending(city: pd.DataFrame) -> pd.DataFrame:
    """Spending per quarter (yuan) by remedy group: index quarter (1..), columns groups 1-5."""
    groups = lever_groups()
    flows = city[city["quarter"] > 0].set_index("quarter")
    out = pd.DataFrame(index=flows.index)
    for g in sorted(set(groups.values())):
        cols = [f"spending_{n}" for n, gg in groups.items() if gg == g and f"spending_{n}" in flows]
        out[g] = flows[cols].sum(axis=1) if cols else 0.0
    return out


def spending_chart(city: pd.DataFrame, lang: Lang, horizon: int = 0, ghost=None, changes=(),
                   ceiling: float | None = None, size: tuple[float, float] | None = None, windows=()) -> Figure:
    """Government spending per quarter, stacked by remedy group, in 万元 (zh) / million yuan (en);
    ``ceiling`` (yuan per year) drawn as a line at a quarter of it; ``ghost``: status-quo total."""
    label, div = money_unit("quarter", lang)
    per_q = group_spending(city) / div
    periods = period_labels(city, horizon)
    g = ghost[(ghost["quarter"] > 0) & (ghost["quarter"] <= city["quarter"].max())] if ghost is not None else None
    peak = float(per_q.sum(axis=1).max()) if len(per_q) else 0.0
    if g is not None and len(g):
        peak = max(peak, float(g["spending_total"].max()) / div)
    if ceiling:
        peak = max(peak, ceiling / 4 / div)
    ymax = nice_ceiling(peak * 1.08) if peak > 0 else 1.0
    has_ghost, has_changes, has_windows = ghost is not None, bool(changes), bool(windows)
    size = size or SIZE

    def frame(fig):
        # a wider figure (the budget tab's) gives its extra width to the plot, the legend keeps its own
        ax = fig.add_axes((0.14, 0.10, (0.52 if lang == "zh" else 0.48) + 0.8 * (size[0] - SIZE[0]) / size[0], 0.80))
        ax.set_xlim(0.5, horizon + 0.5)
        ax.set_ylim(0, ymax)
        _year_ticks(ax, periods, lang, most=5)
        ax.tick_params(labelsize=ROOM_FONT)
        ax.grid(axis="y", color="#eee", lw=0.5)
        ax.yaxis.set_major_formatter(GROUPED)  # 万元: 12,000
        ax.set_title(t("chart_spending", lang, unit=label), fontsize=ROOM_FONT)
        handles = [Patch(color=GROUP_COLOURS[k], label=wrap_label(group_label(k, lang), lang)) for k in GROUP_COLOURS]
        if ceiling:
            handles.append(Line2D([], [], color="#b3261e", lw=1.6, label=t("legend_ceiling", lang)))
        _legend(fig, handles + _extra_handles(lang, has_ghost, has_changes, has_windows))
        return [ax]

    def data(axes):
        ax = axes[0]
        x = per_q.index.to_numpy(dtype=float)
        bottom = np.zeros(len(per_q))
        for grp in per_q.columns:
            vals = per_q[grp].to_numpy(dtype=float)
            _rects(ax, x - 0.42, x + 0.42, bottom, bottom + vals, GROUP_COLOURS.get(int(grp), "#999"))
            bottom += vals
        if g is not None and len(g):
            ax.step(g["quarter"].to_numpy(), g["spending_total"].to_numpy() / div, where="mid", color=GHOST,
                    lw=1.5, ls=GHOST_DASH, zorder=3)
        if ceiling:
            ax.axhline(ceiling / 4 / div, color="#b3261e", lw=1.6, zorder=4)
        if not len(per_q):
            ax.text(0.5, 0.5, t("no_spending", lang), transform=ax.transAxes, ha="center", fontsize=ROOM_FONT)
        _mark_changes(ax, changes, windows)

    return layered(("spending", lang, horizon, periods[0], ymax, bool(ceiling), ceiling and round(ceiling / 4 / div, 6),
                    has_ghost, has_changes, has_windows, size), size, frame, data)


def components_figure(clusters: pd.DataFrame, cluster: str, lang: Lang, weights: Sequence[float],
                      compare: pd.DataFrame | None = None) -> Figure:
    """Why a cluster's index moved: each component's weighted contribution at the start (light) and now
    (dark); with ``compare`` (a second clusters table, e.g. setting A), its end state as a third bar."""
    from sim.behaviour.energy import COMPONENTS

    df = clusters[clusters["cluster"] == cluster]
    first, last = df.iloc[0], df.iloc[-1]
    w = np.asarray(weights, float)
    cols = [f"idx_{c}" for c in COMPONENTS]
    start = first[cols].to_numpy(dtype=float) * w
    now = last[cols].to_numpy(dtype=float) * w
    fig = Figure(figsize=(6.4, 3.8), dpi=current_dpi())
    ax = fig.add_axes((0.30, 0.13, 0.66, 0.74))
    y = np.arange(len(COMPONENTS))[::-1]
    colour = cluster_colours().get(cluster, "#1f77b4")
    bars = [(start, "#c9c9c9", t("why_start", lang, period=first["period"]))]
    if compare is not None:
        c = compare[compare["cluster"] == cluster]
        if len(c):
            bars.append((c.iloc[-1][cols].to_numpy(dtype=float) * w, "#f2b27a", t("why_setting_a", lang)))
    bars.append((now, colour, t("why_now", lang, period=last["period"])))
    h = 0.8 / len(bars)
    for i, (vals, col, label) in enumerate(bars):
        ax.barh(y + 0.4 - h * (i + 0.5), vals, height=h * 0.92, color=col, label=label)
    ax.set_yticks(y, [t(f"comp_{c}", lang) for c in COMPONENTS], fontsize=FONT)
    ax.tick_params(labelsize=FONT)
    ax.set_xlabel(t("why_contribution", lang), fontsize=FONT)
    ax.grid(axis="x", color="#eee", lw=0.5)
    ax.legend(fontsize=FONT, frameon=False, loc="lower right")
    ax.set_title(t("why_title", lang, cluster=cluster_label(cluster, lang), start=f"{first['energy_index']:.3f}",
                   now=f"{last['energy_index']:.3f}"), fontsize=FONT)
    return fig


CHARTS: dict[str, tuple[Callable[..., Figure], str]] = {
    # name: (function(table, lang, horizon, ghost=, changes=), the result table it reads)
    "energy": (energy_chart, "clusters"),
    "talent": (talent_chart, "city"),
    "maturity": (maturity_chart, "clusters"),
    "chain": (chain_chart, "clusters"),
    "spending": (spending_chart, "city"),
}


def chart_figure(snap, name: str, lang: Lang, **extra) -> Figure:
    """Chart ``name`` of a :class:`app.state.Snapshot`, with its status-quo ghost, lever-change markers
    and timed levers' windows."""
    func, table = CHARTS[name]
    ghost = getattr(snap, f"ghost_{table}", None)
    return func(getattr(snap, table), lang, snap.quarters, ghost=ghost, changes=snap.changes,
                windows=getattr(snap, "windows", ()), **extra)


def chart_png(name: str, table: pd.DataFrame, lang: Lang, horizon: int) -> bytes:
    func, _ = CHARTS[name]
    return to_png(func(table, lang, horizon))


def _visible(fig: Figure) -> list:
    from matplotlib.text import Text

    return [txt for txt in fig.findobj(Text) if txt.get_visible() and txt.get_text().strip()]


def _visible_texts(fig: Figure) -> list[str]:
    return [txt.get_text() for txt in _visible(fig)]


def _texts_min(fig: Figure) -> float:
    sizes = [txt.get_fontsize() for txt in _visible(fig)]
    return min(sizes) if sizes else math.inf


def figure_texts(fig: Figure) -> list[str]:
    """Every visible text of ``fig`` and of its cached frame (titles, tick labels, legend entries)."""
    frame = getattr(fig, "_app_frame", None)
    return list(frame.texts if frame is not None else ()) + _visible_texts(fig)


def min_font_points(fig: Figure) -> float:
    """The smallest font size (points) of any visible text in ``fig`` and in its cached frame
    (the tests hold every live chart to :data:`ROOM_FONT`)."""
    frame = getattr(fig, "_app_frame", None)
    return min(_texts_min(fig), frame.min_font if frame is not None else math.inf)
