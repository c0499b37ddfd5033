"""The city's structure from ``configs/city.toml`` and the district raster from ``configs/map/``.

:func:`validate_city` checks the file's shape (required fields, lengths, shares summing to 1) so a
mistake is reported by name at load time. :class:`CityLayout` turns the raster into numpy arrays the
model uses (district index per cell, land mask, cell coordinates in km). :func:`district_outlines`
reads the district outlines (GeoJSON named in the raster header) for figures; the model's rules use
the raster only. Both files are built from AMap polygons by ``tools/make_map.py``
(``configs/map/README.md``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.inputs.base import CONFIG_DIR, ConfigError

_HEADER = re.compile(r"cell_km = ([\d.]+); lat ([\d.]+)-([\d.]+) N, lon ([\d.]+)-([\d.]+) E")
_OUTLINES = re.compile(r"^#\s*outlines\s*=\s*(\S+)\s*$")
SEA = "~"
OUTSIDE = "."

_REQUIRED = {
    "segments": ["keys", "label_en", "label_zh", "value_added_rate", "skilled_share", "tech_required",
                 "initial_local_supply", "initial_firm_mix", "assembly_utilisation"],
    "clusters": ["label_en", "label_zh", "revenue", "firms", "equipment", "niches", "source"],
    "districts": ["code", "label_zh", "seat", "firm_share", "coverage", "housing", "amenity", "core"],
    "universities": ["label_en", "label_zh", "district", "graduates", "fields", "degrees", "local_origin",
                     "alignment", "source"],
    "destinations": ["label_zh", "prospects", "constant"],
}
DESTINATIONS = ("Beijing", "Tianjin", "Elsewhere")


def _need(table: dict, keys: list[str], where: str) -> None:
    for k in keys:
        if k not in table:
            raise ConfigError(f"city.toml [{where}]: missing field {k!r}")


def _share(values, where: str, n: int | None = None) -> None:
    arr = np.asarray(values, dtype=float)
    if n is not None and arr.size != n:
        raise ConfigError(f"city.toml {where}: expected {n} values, got {arr.size}")
    if (arr < 0).any() or abs(arr.sum() - 1.0) > 1e-6:
        raise ConfigError(f"city.toml {where}: shares must be >= 0 and sum to 1 (sum {arr.sum():.4f})")


def validate_city(city: dict[str, Any]) -> None:
    """Raise ConfigError naming the field if ``city.toml`` is malformed."""
    for section in ["segments", "clusters", "economy", "leaders", "districts", "universities",
                    "destinations", "talent", "energy", "programmes"]:
        if section not in city:
            raise ConfigError(f"city.toml: missing section [{section}]")
    seg = city["segments"]
    _need(seg, _REQUIRED["segments"], "segments")
    n_seg = len(seg["keys"])
    for k in _REQUIRED["segments"][1:-1]:
        if len(seg[k]) != n_seg:
            raise ConfigError(f"city.toml [segments] {k}: expected {n_seg} values")
    _share(seg["initial_firm_mix"], "[segments] initial_firm_mix", n_seg)
    for name, c in city["clusters"].items():
        _need(c, _REQUIRED["clusters"], f"clusters.{name}")
        if c["revenue"] <= 0 or c["firms"] < 1 or c["niches"] < 1:
            raise ConfigError(f"city.toml [clusters.{name}]: revenue, firms and niches must be positive")
    codes = set()
    for name, d in city["districts"].items():
        _need(d, _REQUIRED["districts"], f"districts.{name}")
        if d["code"] in codes or d["code"] in (SEA, OUTSIDE) or len(d["code"]) != 1:
            raise ConfigError(f"city.toml [districts.{name}] code {d['code']!r}: must be one unique letter")
        codes.add(d["code"])
    _share([d["firm_share"] for d in city["districts"].values()], "[districts.*] firm_share")
    for name, u in city["universities"].items():
        _need(u, _REQUIRED["universities"], f"universities.{name}")
        if u["district"] not in city["districts"]:
            raise ConfigError(f"city.toml [universities.{name}] district {u['district']!r}: not a district")
        _share(u["fields"], f"[universities.{name}] fields", 3)
        _share(u["degrees"], f"[universities.{name}] degrees", 3)
    for name in DESTINATIONS:
        if name not in city["destinations"]:
            raise ConfigError(f"city.toml: missing [destinations.{name}]")
        _need(city["destinations"][name], _REQUIRED["destinations"], f"destinations.{name}")
    for i, leader in enumerate(city["leaders"]):
        if leader.get("cluster") not in city["clusters"]:
            raise ConfigError(f"city.toml [[leaders]] #{i + 1} cluster {leader.get('cluster')!r}: not a cluster")
        if leader.get("segment") not in seg["keys"]:
            raise ConfigError(f"city.toml [[leaders]] #{i + 1} segment {leader.get('segment')!r}: not a segment")
        if leader.get("district") not in city["districts"]:
            raise ConfigError(f"city.toml [[leaders]] #{i + 1} district {leader.get('district')!r}: not a district")
    energy = city["energy"]
    if len(energy["tier_labels_en"]) != 5 or len(energy["tier_labels_zh"]) != 5:
        raise ConfigError("city.toml [energy] tier_labels_en / tier_labels_zh: five labels (tiers 0-4)")


@dataclass(frozen=True)
class CityLayout:
    """The district raster as arrays. Row 0 is north; ``district[r, c]`` is -1 for sea/outside."""

    district: np.ndarray  # int (height, width)
    sea: np.ndarray  # bool (height, width)
    cell_km: float
    district_names: tuple[str, ...]
    bounds: tuple[float, float, float, float]  # lat_south, lat_north, lon_west, lon_east (degrees)
    outlines: Path | None = None  # GeoJSON of district outlines (raster header ``# outlines = file``)

    @property
    def land(self) -> np.ndarray:
        return self.district >= 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.district.shape

    def cells_of(self, d: int) -> np.ndarray:
        """Flat indices of the land cells of district ``d``."""
        return np.flatnonzero(self.district.ravel() == d)

    def cell_of(self, lat: float, lon: float, district: int | None = None) -> int:
        """Flat index of the cell at (lat, lon); with ``district``, the nearest cell of that district."""
        lat0, lat1, lon0, lon1 = self.bounds
        h, w = self.shape
        r = (lat1 - lat) / (lat1 - lat0) * h
        c = (lon - lon0) / (lon1 - lon0) * w
        if district is None:
            return int(np.clip(r, 0, h - 1)) * w + int(np.clip(c, 0, w - 1))
        cells = self.cells_of(district)
        rr, cc = np.divmod(cells, w)
        return int(cells[np.argmin((rr + 0.5 - r) ** 2 + (cc + 0.5 - c) ** 2)])

    def grid_xy(self, lat, lon) -> tuple[np.ndarray, np.ndarray]:
        """Fractional raster position of points (degrees): x = column, y = row (south-going); cell
        ``(r, c)`` has its centre at ``(c, r)`` and spans ``c - 0.5 .. c + 0.5`` (as ``imshow`` with
        ``extent=(-0.5, w - 0.5, h - 0.5, -0.5)``). Linear in lat/lon, like :meth:`cell_of`."""
        lat0, lat1, lon0, lon1 = self.bounds
        h, w = self.shape
        x = (np.asarray(lon, float) - lon0) / (lon1 - lon0) * w - 0.5
        y = (lat1 - np.asarray(lat, float)) / (lat1 - lat0) * h - 0.5
        return x, y

    def cell_edges(self, d: int) -> np.ndarray:
        """(n, 2, 2) segments ``[[x0, y0], [x1, y1]]`` of the cell edges around district ``d``, in the
        raster position of :meth:`grid_xy`: the district's outline as the raster draws it."""
        m = np.pad(self.district == d, 1)
        segs = []
        rr, cc = np.nonzero(m[1:, 1:-1] != m[:-1, 1:-1])  # horizontal edge above raster row rr
        segs += [[[c - 0.5, r - 0.5], [c + 0.5, r - 0.5]] for r, c in zip(rr, cc)]
        rr, cc = np.nonzero(m[1:-1, 1:] != m[1:-1, :-1])  # vertical edge left of raster column cc
        segs += [[[c - 0.5, r - 0.5], [c - 0.5, r + 0.5]] for r, c in zip(rr, cc)]
        return np.array(segs, dtype=float).reshape(-1, 2, 2)

    def km_coords(self) -> np.ndarray:
        """(n_cells, 2) array of cell centres in km (x east, y north), flat row-major order."""
        h, w = self.shape
        rows, cols = np.divmod(np.arange(h * w), w)
        return np.column_stack([(cols + 0.5) * self.cell_km, (h - rows - 0.5) * self.cell_km])


def load_layout(city: dict[str, Any], map_file: str) -> CityLayout:
    """Read the raster file named in ``[scenario] map`` (relative to ``configs/``)."""
    path = Path(CONFIG_DIR) / map_file
    lines = [ln.rstrip("\n") for ln in path.read_text(encoding="utf-8").splitlines()]
    cell_km, bounds, outlines = None, None, None
    rows = []
    for ln in lines:
        if ln.startswith("#"):
            m = _HEADER.search(ln)
            if m:
                cell_km = float(m.group(1))
                bounds = tuple(float(m.group(i)) for i in range(2, 6))
            o = _OUTLINES.match(ln)
            if o:
                outlines = path.parent / o.group(1)
                if not outlines.is_file():
                    raise ConfigError(f"{path}: header names outlines {o.group(1)!r}, not found beside it")
            continue
        if ln:
            rows.append(ln)
    if cell_km is None:
        raise ConfigError(f"{path}: header line '# cell_km = K; lat A-B N, lon C-D E' is missing")
    if len({len(r) for r in rows}) != 1:
        raise ConfigError(f"{path}: raster rows have different lengths")
    names = tuple(city["districts"])
    code_to_idx = {city["districts"][n]["code"]: i for i, n in enumerate(names)}
    grid = np.array([list(r) for r in rows])
    unknown = set(np.unique(grid)) - set(code_to_idx) - {SEA, OUTSIDE}
    if unknown:
        raise ConfigError(f"{path}: unknown cell codes {sorted(unknown)}; allowed {sorted(code_to_idx)} ~ .")
    district = np.full(grid.shape, -1, dtype=np.int16)
    for code, i in code_to_idx.items():
        district[grid == code] = i
    missing = [n for n, i in zip(names, range(len(names))) if not (district == i).any()]
    if missing:
        raise ConfigError(f"{path}: districts without cells: {missing}")
    return CityLayout(district=district, sea=grid == SEA, cell_km=cell_km, district_names=names, bounds=bounds,
                      outlines=outlines)


def read_outlines(path: Path | str) -> list[dict[str, Any]]:
    """Features of an outlines GeoJSON: ``{"properties": {...}, "polygons": [[ring, hole, ...], ...]}``,
    each ring an (n, 2) lon/lat array (degrees; AMap GCJ-02, see ``configs/map/README.md``), closed
    (last point = first). Raises ConfigError naming the file if it is not a FeatureCollection of
    Polygon / MultiPolygon features."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        out = []
        for f in doc["features"]:
            geom = f["geometry"]
            if geom["type"] not in ("Polygon", "MultiPolygon"):
                raise ValueError(f"geometry type {geom['type']!r}")
            polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
            out.append({"properties": dict(f.get("properties") or {}),
                        "polygons": [[np.asarray(r, dtype=float).reshape(-1, 2) for r in p] for p in polys]})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a GeoJSON FeatureCollection of (Multi)Polygons: {exc}") from None
    return out


def district_outlines(layout: CityLayout) -> dict[str, list[np.ndarray]]:
    """District name -> rings ((n, 2) arrays of raster x, y as :meth:`CityLayout.grid_xy`) of the
    real outlines in ``layout.outlines`` (features with ``kind = "district"`` whose ``name`` is a
    district of the layout). Districts without a polygon (the ETDZ and the Beidaihe New Area, carved
    from their hosts) are absent: draw them with :meth:`CityLayout.cell_edges`. Empty if the raster
    names no outlines file."""
    if layout.outlines is None:
        return {}
    out: dict[str, list[np.ndarray]] = {}
    for f in read_outlines(layout.outlines):
        name = f["properties"].get("name")
        if f["properties"].get("kind", "district") != "district" or name not in layout.district_names:
            continue
        for poly in f["polygons"]:
            for ring in poly:
                x, y = layout.grid_xy(ring[:, 1], ring[:, 0])
                out.setdefault(name, []).append(np.column_stack([x, y]))
    return out
