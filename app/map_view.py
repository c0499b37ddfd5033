"""The city map: district raster with the real district outlines and names, firms, universities,
government seats, and the quarter's talent flows to Beijing and Tianjin drawn as arrows at the map's
western edge. Outlines come from the committed GeoJSON of ``configs/map/`` (AMap polygons, see its
README) via :func:`sim.outputs.plots.draw_district_outlines`; the ETDZ and the Beidaihe New Area have no
polygon and are drawn dashed along their raster cells.

The raster is drawn with ``imshow`` (one image, cheap at any size; Mesa's Altair space drawer fails
above 5,000 cells). Grid convention as in the model: column ``x`` runs east, row ``y`` runs south
(row 0 = north), so the image uses ``origin="upper"`` and firms are plotted at ``(x, y)`` directly.
Like the charts, the map is two layers (:func:`app.charts.layered`): the static one (raster,
coast, names, universities, seats, legend) is drawn once per language; each step draws only firms
and flows. The page's map (``screen=True``) has larger text and leaves the legend to HTML under the
image (:func:`legend_html`), so it stays readable at projector size; the exported map keeps its legend.
"""

from __future__ import annotations

import hashlib
import html
from functools import lru_cache

import numpy as np
import pandas as pd

from app import fonts  # noqa: F401
from app.charts import DEST_COLOURS, cluster_colours, layered
from app.i18n import Lang, cluster_label, destination_label, district_label, district_short, pick, t
from sim.outputs import plots as sim_plots
from matplotlib import patheffects
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

MAP_SIZE = (5.2, 7.0)  # inches: the exported map, legend in the figure
MAP_AXES = (0.01, 0.15, 0.98, 0.81)  # figure fraction
SCREEN_SIZE = (5.2, 6.35)  # inches: the page's map (416 x 508 px at app.page.MAP_DPI); its legend is HTML
SCREEN_AXES = (0.01, 0.005, 0.98, 0.935)  # the 61 x 71 raster fills the width; room for the title above
# text sizes in points. The page draws its map at the size it is shown (app.page.screen_dpi: 80 px per inch
# times the map's scale, about 0.9 at 1280x720 and 1.7 at 1920x1080), so 16.5 pt is >= 16 px on the screen
# from a scale of 0.88 up (issue 25: 16 px for the back of the room); district names that would overlap at
# that size are moved apart (place_names); the HTML legend is 16 px. University names only in the exported
# map: on the page they would cover the crowded east.
TITLE_PT, FLOW_PT, PLACE_PT = 17.0, 17.0, 16.5
EXPORT_TITLE_PT, EXPORT_FLOW_PT, EXPORT_PLACE_PT, EXPORT_UNIVERSITY_PT, EXPORT_LEGEND_PT = 9.0, 8.0, 8.0, 6.5, 7.0
SEA = np.array([0.80, 0.89, 0.95])
OUTSIDE = np.array([1.0, 1.0, 1.0])
DISTRICT_TINTS = ["#efe9dc", "#e6ecd9", "#ece3e8", "#e3e9ee", "#eee6d6", "#e4ece4", "#ebe7dd",
                  "#e7e4ee", "#ecebd8"]
HALO = [patheffects.withStroke(linewidth=2.2, foreground="white")]  # static labels (drawn once per frame)
LABEL_BOX = dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.75)  # per-step labels
FLOW_FULL_WIDTH = 1500.0  # persons per quarter drawn with the widest arrow


def _hex(c: str) -> np.ndarray:
    return np.array([int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)])


def background(layout) -> np.ndarray:
    """RGB image of the raster: a pale tint per district, blue sea, white outside."""
    tints = np.array([_hex(c) for c in DISTRICT_TINTS])
    district = np.asarray(layout.district)
    rgb = np.empty((*district.shape, 3))
    rgb[:] = OUTSIDE
    land = district >= 0
    rgb[land] = tints[district[land] % len(tints)]
    rgb[np.asarray(layout.sea, dtype=bool)] = SEA
    return rgb


def _layout_key(layout) -> str:
    blob = np.ascontiguousarray(layout.district).tobytes() + np.ascontiguousarray(layout.sea).tobytes()
    return hashlib.sha1(blob + "|".join(layout.district_names).encode()).hexdigest()


def _centroids(layout) -> dict[str, tuple[float, float]]:
    out = {}
    for i, name in enumerate(layout.district_names):
        rows, cols = np.nonzero(np.asarray(layout.district) == i)
        if len(rows):
            out[name] = (float(np.median(cols)), float(np.median(rows)))
    return out


def _jitter(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stable offset inside the cell per firm id, so firms sharing a cell stay apart and do not jump."""
    h = (ids.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    jx = (h % np.uint64(1000)).astype(float) / 1000 - 0.5
    jy = ((h // np.uint64(1000)) % np.uint64(1000)).astype(float) / 1000 - 0.5
    return 0.8 * jx, 0.8 * jy


def _draw_static(fig: Figure, layout, universities, governments, lang: Lang, screen: bool):
    ax = fig.add_axes(SCREEN_AXES if screen else MAP_AXES)
    place_pt = PLACE_PT if screen else EXPORT_PLACE_PT
    h, w = layout.district.shape
    ax.imshow(background(layout), origin="upper", extent=(-0.5, w - 0.5, h - 0.5, -0.5),
              interpolation="nearest")
    sim_plots.draw_district_outlines(ax, layout, colour="#8f8774", lw=0.6, zone_colour="#a0762a")
    place_names(ax, layout, lang, place_pt, screen)
    for _en, _zh, gx, gy in governments:
        ax.scatter([gx], [gy], marker="*", s=80, c="#b30000", edgecolors="white", linewidths=0.5, zorder=4)
    for _en, _zh, ux, uy in universities:
        ax.scatter([ux], [uy], marker="^", s=70, c="#222", edgecolors="white", zorder=4)
    _frame(ax, layout)
    if not screen:
        _legend(fig, lang)
    return [ax]


def place_names(ax, layout, lang: Lang, fontsize: float, screen: bool) -> list:
    """The districts' names at their centres and the sea's; returns the Text artists. On the page's map
    (``screen``), a name that would overlap one placed before it is moved down (or up) by whole line
    heights until it overlaps none: at room size the crowded east's names would run into each other."""
    names = []
    for name, (cx, cy) in _centroids(layout).items():
        label = district_short(name, lang) if screen else district_label(name, lang)
        names.append(ax.text(cx, cy, label, fontsize=fontsize, ha="center", va="center", color="#555",
                             path_effects=HALO, zorder=2, gid="district-name"))
    if screen:
        _apart(ax, names)
    sea_rows, sea_cols = np.nonzero(layout.sea)
    if len(sea_rows):
        # above the key that the page lays over the sea's lower part (app.page: map-legend-symbols)
        names.append(ax.text(np.percentile(sea_cols, 62 if screen else 70), np.percentile(sea_rows, 30 if screen else 70),
                             t("map_sea", lang),
                             fontsize=fontsize, color="#4a7fa8", style="italic", ha="center", gid="sea-name"))
    return names


NUDGE_LINES = (1, -1, 2, -2, 3, -3)  # line heights a crowded name is moved by, tried in this order


def _apart(ax, texts: list) -> None:
    """Move each text that overlaps an earlier one by the first of :data:`NUDGE_LINES` that frees it
    (kept where it was if none does)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = ax.figure
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    ax.apply_aspect()
    placed = []
    for txt in texts:
        box = txt.get_window_extent(renderer)
        if any(box.overlaps(b) for b in placed):
            x, y = txt.get_position()
            line = box.height * 1.05  # display pixels; the map's y axis runs south (inverted)
            for k in NUDGE_LINES:
                dx, dy = ax.transData.inverted().transform((0, 0)), ax.transData.inverted().transform((0, k * line))
                txt.set_position((x, y + (dy[1] - dx[1])))
                moved = txt.get_window_extent(renderer)
                if not any(moved.overlaps(b) for b in placed):
                    box = moved
                    break
            else:
                txt.set_position((x, y))
        placed.append(box)


def name_boxes(ax, layout, lang: Lang, fontsize: float, renderer) -> list:
    """Where :func:`place_names` puts the names on ``ax`` (display boxes), measured without keeping them
    (the exported map draws them in its cached frame, the university names in the layer above)."""
    texts = place_names(ax, layout, lang, fontsize, screen=False)
    boxes = [x.get_window_extent(renderer) for x in texts]
    for x in texts:
        x.remove()
    return boxes


# Where a university's name may go, tried in this order: (dx, dy) directions times distances in points
# from its ▲; from LEADER_PT on a thin line joins name and ▲. Of the spots that overlap no district name,
# no other label or marker and stay inside the map, the one covering fewest firms wins (first in this
# order on a tie): in the crowded east that is usually over the sea.
LABEL_DIRECTIONS = ((1, 0), (-1, 0), (0, -1), (0, 1), (1, -1), (-1, -1), (1, 1), (-1, 1))
LABEL_DISTANCES_PT = (4.0, 10.0, 18.0, 28.0, 40.0, 56.0, 76.0, 100.0)
LEADER_PT = 18.0
MARKER_PAD_PT = 4.0  # half the size of a ▲ / ★ marker's box that a name must not cover


def university_names(ax, layout, universities, governments, firms: pd.DataFrame, lang: Lang,
                     fontsize: float = EXPORT_UNIVERSITY_PT) -> None:
    """Each university's name near its ▲ (exported map), drawn above the firms: at the first spot of
    :data:`LABEL_DIRECTIONS` x :data:`LABEL_DISTANCES_PT` that covers no district name, no other
    university's name, no ▲ / ★ and stays inside the map, covering as few firms as can be (a thin line
    joins a name set apart to its ▲); if no spot is free of names and markers, the one with fewest."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    fig = ax.figure
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    ax.apply_aspect()  # the equal-aspect map's final place in the figure, before measuring against it
    r = MARKER_PAD_PT * fig.dpi / 72  # pixels
    inside = ax.get_window_extent(renderer)
    taken = name_boxes(ax, layout, lang, EXPORT_PLACE_PT, renderer)
    for *_names, x, y in list(universities) + list(governments):  # the markers themselves
        cx, cy = ax.transData.transform((x, y))
        taken.append(Bbox([[cx - r, cy - r], [cx + r, cy + r]]))
    dots = ax.transData.transform(firms[["x", "y"]].to_numpy(dtype=float)) if len(firms) else np.empty((0, 2))
    for name_en, name_zh, ux, uy in sorted(universities, key=lambda u: (u[3], u[2], u[0])):
        best = None
        for dist in LABEL_DISTANCES_PT:
            for dx, dy in LABEL_DIRECTIONS:
                label = ax.annotate(
                    pick(name_en, name_zh, lang), xy=(ux, uy), xytext=(dx * dist, dy * dist),
                    textcoords="offset points", fontsize=fontsize, zorder=6, path_effects=HALO,
                    ha="left" if dx > 0 else "right" if dx < 0 else "center",
                    va="bottom" if dy > 0 else "top" if dy < 0 else "center", gid="university-name",
                    arrowprops=dict(arrowstyle="-", color="#333", lw=0.6, shrinkA=0, shrinkB=3)
                    if dist >= LEADER_PT else None)
                box = label.get_window_extent(renderer)
                fits = inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
                clashes = sum(box.overlaps(o) for o in taken) + (0 if fits else len(taken) + 1)
                covered = int(((dots[:, 0] >= box.x0 - r) & (dots[:, 0] <= box.x1 + r)
                               & (dots[:, 1] >= box.y0 - r) & (dots[:, 1] <= box.y1 + r)).sum())
                score = (clashes, covered)
                if best is None or score < best[0]:
                    if best is not None:
                        best[1].remove()
                    best = (score, label, box)
                else:
                    label.remove()
        taken.append(best[2])


def _frame(ax, layout) -> None:
    h, w = layout.district.shape
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")


def map_figure(layout, firms: pd.DataFrame, universities, governments, city: pd.DataFrame,
               lang: Lang, screen: bool = False) -> Figure:
    """The map at the latest quarter of ``city`` (flows) with the firms of ``firms``. ``screen``: the
    page's version (larger text, no legend in the figure: the page shows :func:`legend_html` under it);
    otherwise the exported one, legend included."""
    universities = [tuple(u) for u in universities]
    governments = [tuple(g) for g in governments]
    key = ("map", _layout_key(layout), tuple(universities), tuple(governments), lang, screen)
    title_pt, flow_pt = (TITLE_PT, FLOW_PT) if screen else (EXPORT_TITLE_PT, EXPORT_FLOW_PT)

    def frame(fig):
        return _draw_static(fig, layout, universities, governments, lang, screen)

    def data(axes):
        ax = axes[0]
        _firms(ax, firms)
        _flows(ax, city, lang, flow_pt)
        if not screen:  # on the page the names would cover the crowded east: ▲ is in the legend below it
            university_names(ax, layout, universities, governments, firms, lang)
        period = city["period"].iloc[-1] if len(city) else ""
        # the page's map: the period alone (a title would not fit the map's width at room size; the key
        # under the map and the picture's alt text say what it shows)
        ax.text(0.5, 1.005, period if screen else f"{t('chart_map', lang)} · {period}",
                transform=ax.transAxes, ha="center", va="bottom", fontsize=title_pt)

    return layered(key, SCREEN_SIZE if screen else MAP_SIZE, frame, data)


def _firms(ax, firms: pd.DataFrame) -> None:
    """Colour = cluster, area = employees, marker = digital-maturity band (o 1-2, square 3, diamond 4-5)."""
    if not len(firms):
        return
    id_col = next((c for c in ("unique_id", "row") if c in firms), None)  # a stable firm id
    ids = firms[id_col].to_numpy() if id_col else np.arange(len(firms))
    jx, jy = _jitter(np.asarray(ids))
    x = firms["x"].to_numpy(dtype=float) + jx
    y = firms["y"].to_numpy(dtype=float) + jy
    size = np.clip(np.sqrt(firms["employees"].to_numpy(dtype=float)) * 0.9, 3, 160)
    keys, rgba = _cluster_rgba()
    idx = pd.Categorical(firms["cluster"], categories=keys).codes  # -1: a cluster without a colour
    col = rgba[idx]  # (n, 4); rgba's last row is the fallback grey
    mat = firms["maturity"].to_numpy()
    for marker, sel in (("o", mat <= 2), ("s", mat == 3), ("D", mat >= 4)):
        if sel.any():
            ax.scatter(x[sel], y[sel], s=size[sel], c=col[sel], marker=marker, alpha=0.8,
                       linewidths=0.5 if marker == "o" else 0.9,
                       edgecolors="white" if marker == "o" else "black", zorder=3)


@lru_cache(maxsize=1)
def _cluster_rgba() -> tuple[list[str], np.ndarray]:
    """Cluster keys and their colours as RGBA rows, plus a last row of grey for anything else."""
    colours = cluster_colours()
    keys = list(colours)
    return keys, np.array([to_rgba(colours[k]) for k in keys] + [to_rgba("#333")])


def _flows(ax, city: pd.DataFrame, lang: Lang, fontsize: float) -> None:
    """Arrows leaving the map's western edge toward Beijing (W) and Tianjin (SW), width ~ persons."""
    if not len(city):
        return
    last = city.iloc[-1]
    # heights (axes fraction) where the raster's west edge is outside the city for ~a quarter of the
    # width, so arrow and label cover no district: Beijing (due west) and Tianjin (south-west)
    for dest, yfrac in (("Beijing", 0.53), ("Tianjin", 0.12)):
        n = float(last.get(f"outflow_{dest.lower()}", 0.0) or 0.0)
        width = 1.5 + 10 * min(n / FLOW_FULL_WIDTH, 1.0)
        ax.annotate("", xy=(0.0, yfrac), xytext=(0.20, yfrac), xycoords="axes fraction",
                    arrowprops=dict(arrowstyle="-|>", lw=width, color=DEST_COLOURS[dest],
                                    mutation_scale=12 + width), zorder=5)
        # a pale box instead of a halo: the halo (a stroke path effect) turns the text into paths,
        # a third of a step's map drawing; the box keeps it as readable over the map
        ax.text(0.01, yfrac + 0.02, t("map_flow_short", lang, dest=destination_label(dest, lang), n=n),
                transform=ax.transAxes, fontsize=fontsize, va="bottom", linespacing=1.0, color=DEST_COLOURS[dest], fontweight="bold", zorder=5,
                bbox=LABEL_BOX)


def legend_items(lang: Lang) -> list[tuple[str, str, str]]:
    """(symbol, colour, label) of the map's legend: clusters, digital levels, universities, seats."""
    items = [("circle", c, cluster_label(k, lang)) for k, c in cluster_colours().items()]
    items += [("circle", "#999", t("map_maturity_12", lang)), ("square", "#999", t("map_maturity_3", lang)),
              ("diamond", "#999", t("map_maturity_45", lang)), ("triangle", "#222", t("map_university", lang)),
              ("star", "#b30000", t("map_government", lang))]
    return items


_SYMBOL_CSS = {
    "circle": "width:10px;height:10px;border-radius:50%;background:{c};",
    "square": "width:9px;height:9px;background:{c};border:1.5px solid #000;",
    "diamond": "width:8px;height:8px;background:{c};border:1.5px solid #000;transform:rotate(45deg);",
}
_SYMBOL_CHAR = {"triangle": "▲", "star": "★"}


def legend_html(lang: Lang, part: str = "all") -> str:
    """The page's map legend (HTML, text at the page's size, wraps to the map's width): ``part`` "all",
    "clusters" (the cluster colours: under the map) or "symbols" (digital levels, universities, seats,
    size: over the sea, app.page)."""
    out = []
    items = legend_items(lang)
    n = len(cluster_colours())
    for symbol, colour, label in {"all": items, "clusters": items[:n], "symbols": items[n:]}[part]:
        if symbol in _SYMBOL_CHAR:
            mark = f"<span style='color:{colour}'>{_SYMBOL_CHAR[symbol]}</span>"
        else:
            mark = f"<span style='display:inline-block;{_SYMBOL_CSS[symbol].format(c=colour)}'></span>"
        out.append(f"<span class='map-key'>{mark}<span>{html.escape(label)}</span></span>")
    if part != "clusters":
        out.append(f"<span class='map-key map-key-size'>{html.escape(t('map_size', lang))}</span>")
    return "".join(out)


def _legend(fig: Figure, lang: Lang) -> None:
    handles = [Line2D([], [], marker="o", ls="", color=c, ms=6, label=cluster_label(k, lang))
               for k, c in cluster_colours().items()]
    handles += [
        Line2D([], [], marker="o", ls="", mfc="#999", mec="white", ms=6, label=t("map_maturity_12", lang)),
        Line2D([], [], marker="s", ls="", mfc="#999", mec="black", ms=6, label=t("map_maturity_3", lang)),
        Line2D([], [], marker="D", ls="", mfc="#999", mec="black", ms=6, label=t("map_maturity_45", lang)),
        Line2D([], [], marker="^", ls="", color="#222", ms=7, label=t("map_university", lang)),
        Line2D([], [], marker="*", ls="", color="#b30000", ms=9, label=t("map_government", lang)),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=EXPORT_LEGEND_PT, frameon=False,
               title=t("map_size", lang), title_fontsize=EXPORT_LEGEND_PT)
