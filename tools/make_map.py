"""Regenerate the stylised district raster ``configs/map/qinhuangdao_2km.txt``.

The raster is *data*: the model reads the text file, never this script. This script documents how
the stylised map was drawn, so a better map (e.g. from official boundaries) can replace it.

Method: a hand-drawn city outline and coastline (approximate lat/lon vertices from general
geography, MISSION.md §3), cells of ~2 km; each land cell goes to the district seat with the
smallest weighted distance (distance / weight, weights roughly proportional to district size).
Seat coordinates come from ``configs/city.toml``. Legend: district codes, ``~`` sea, ``.`` outside.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
from matplotlib.path import Path as Polygon

ROOT = Path(__file__).resolve().parents[1]
CELL_KM = 2.0
LAT0, LAT1, LON0, LON1 = 39.38, 40.64, 118.52, 119.94
KM_PER_DEG_LAT = 111.0
KM_PER_DEG_LON = 85.2  # at 40 N

# City outline, clockwise from the Luan River mouth (lat, lon); approximate.
OUTLINE = [
    (39.40, 119.27), (39.55, 119.05), (39.70, 118.92), (39.85, 118.62), (40.05, 118.55),
    (40.30, 118.56), (40.52, 118.70), (40.62, 118.95), (40.58, 119.22), (40.40, 119.36),
    (40.24, 119.52), (40.18, 119.68), (40.12, 119.86), (40.03, 119.90),
    # coastline back to the start, north-east to south-west
    (39.98, 119.76), (39.93, 119.63), (39.84, 119.52), (39.78, 119.45), (39.66, 119.35),
    (39.52, 119.30), (39.40, 119.27),
]
COAST = OUTLINE[13:]
WEIGHTS = {"Haigang": 0.9, "ETDZ": 0.5, "Shanhaiguan": 0.75, "Beidaihe": 0.45,
           "BeidaiheNewArea": 0.75, "Funing": 1.25, "Changli": 1.3, "Lulong": 1.25, "Qinglong": 2.3}


def main() -> None:
    city = tomllib.loads((ROOT / "configs/city.toml").read_text(encoding="utf-8"))
    districts = city["districts"]
    n_rows = int(round((LAT1 - LAT0) * KM_PER_DEG_LAT / CELL_KM))
    n_cols = int(round((LON1 - LON0) * KM_PER_DEG_LON / CELL_KM))
    rows = np.arange(n_rows)
    cols = np.arange(n_cols)
    lat = LAT1 - (rows + 0.5) * CELL_KM / KM_PER_DEG_LAT  # row 0 = north
    lon = LON0 + (cols + 0.5) * CELL_KM / KM_PER_DEG_LON
    lon_g, lat_g = np.meshgrid(lon, lat)
    pts = np.column_stack([lon_g.ravel(), lat_g.ravel()])
    inside = Polygon([(b, a) for a, b in OUTLINE]).contains_points(pts).reshape(lat_g.shape)
    # sea: outside the city and south-east of the coastline (below the line joining coast vertices)
    coast_lon = np.array([b for _, b in COAST])[::-1]
    coast_lat = np.array([a for a, _ in COAST])[::-1]
    coast_at = np.interp(lon_g, coast_lon, coast_lat, left=np.nan, right=np.nan)
    sea = ~inside & (lat_g < coast_at)
    names = list(districts)
    best = np.full(lat_g.shape, np.inf)
    code = np.full(lat_g.shape, ".", dtype="<U1")
    for name in names:
        s_lat, s_lon = districts[name]["seat"]
        d = np.hypot((lat_g - s_lat) * KM_PER_DEG_LAT, (lon_g - s_lon) * KM_PER_DEG_LON) / WEIGHTS[name]
        take = inside & (d < best)
        best[take] = d[take]
        code[take] = districts[name]["code"]
    code[sea] = "~"
    header = (
        "# Stylised raster of Qinhuangdao, ~2 km cells, row 0 = north. NOT official boundaries:\n"
        "# drawn by tools/make_map.py from approximate outline, coast and district seats.\n"
        f"# cell_km = {CELL_KM}; lat {LAT0}-{LAT1} N, lon {LON0}-{LON1} E\n"
        "# legend: district codes from configs/city.toml, ~ sea, . outside the city\n"
    )
    out = ROOT / "configs/map/qinhuangdao_2km.txt"
    out.write_text(header + "\n".join("".join(r) for r in code) + "\n", encoding="utf-8")
    counts = {c: int((code == c).sum()) for c in np.unique(code)}
    print(out, code.shape, counts)


if __name__ == "__main__":
    main()
