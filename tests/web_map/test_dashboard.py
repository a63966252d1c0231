"""The dashboard map from small hand-made figures: offline assets, layers, legend, data.

The figures are written here by hand, so every number the page carries is checked
against a known input rather than against the code that computed it.
"""

import itertools
import json
import re
from datetime import datetime, timedelta, timezone

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from geo.crs import wgs84_to_gcj02
from geo.incidents.heat import Window
from geo.store.dashboard import DashboardFigures

from web_map.assets import find_external_urls, inline_assets
from web_map.basemaps import resolve_basemap, tile_origins
from web_map.i18n import t
from web_map.pages.dashboard import build_dashboard_map
from web_map.pages.dashboard.scales import count_classes, value_breaks

BJ = timezone(timedelta(hours=8))
WINDOW = Window(datetime(2026, 10, 2, tzinfo=BJ), datetime(2026, 11, 1, tzinfo=BJ))
NAN = float("nan")


def _grids() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "unit_id": [1, 2, 3],
            "code": ["G001", "G002", "G003"],
            "name": ["一网格", "二网格 <b>", "三网格"],
            "community_code": ["C1", "C1", "C1"],
            "street_code": ["S1", "S1", "S1"],
            "worker": ["张三", "", "李四、王五"],
            "has_worker": [True, False, True],
            "incidents": [7, 0, 3],
            "previous": [2, 0, 5],
            "change": [5, 0, -2],
            "households": [700, 0, 300],
            "per_1000_households": [10.0, NAN, 10.0],
            "cells": [8, 0, 8],
            "covered_cells": [4, 0, 1],
            "coverage": [0.5, NAN, 0.125],
            "days_since_visit": [0.0, NAN, 9.0],
            "unowned": [2, 0, 5],
            "area_km2": [1.0, 1.0, 1.0],
            "unowned_per_km2": [2.0, 0.0, 5.0],
            "unowned_per_1000": [2.857, NAN, 16.667],
        },
        geometry=[
            box(113.90, 35.30, 113.91, 35.31),
            box(113.91, 35.30, 113.92, 35.31),
            box(113.90, 35.31, 113.91, 35.32),
        ],
        crs="EPSG:4326",
    )


def _figures(*, gaps=True, previous=(0, 0)) -> DashboardFigures:
    cells = gpd.GeoDataFrame(
        {
            "cell": ["89aaa", "89bbb"],
            "incidents": [4, 6],
            "previous": list(previous),
            "change": [4 - previous[0], 6 - previous[1]],
        },
        geometry=[box(113.901, 35.301, 113.903, 35.303), box(113.904, 35.311, 113.906, 35.313)],
        crs="EPSG:4326",
    )
    daily = pd.DataFrame(
        {"cell": ["89aaa", "89bbb", "89bbb"], "day": [0, 0, 29], "count": [4, 1, 5]}
    )
    gap_frame = gpd.GeoDataFrame(
        {"grid_code": ["G001", "G003"], "cell": ["8aaa", "8abb"], "days_since_visit": [12.0, NAN]},
        geometry=[box(113.905, 35.305, 113.906, 35.306), box(113.905, 35.315, 113.906, 35.316)],
        crs="EPSG:4326",
    )
    ucells = gpd.GeoDataFrame(
        {
            "cell": ["89ccc"],
            "unowned": [2],
            "households": [500],
            "area_km2": [0.1],
            "per_km2": [20.0],
            "per_1000": [4.0],
        },
        geometry=[box(113.905, 35.305, 113.907, 35.307)],
        crs="EPSG:4326",
    )
    compounds = gpd.GeoDataFrame(
        {
            "name": ["甲院", "乙院 <i>"],
            "management_type": ["unowned", "property_company"],
            "households": [40, 300],
        },
        geometry=[Point(113.905, 35.305), Point(113.9115, 35.3015)],
        crs="EPSG:4326",
    )
    places = pd.DataFrame(
        {
            "level": ["street", "community"],
            "code": ["S1", "C1"],
            "name": ["一街道", "一社区"],
            "parent_code": [None, "S1"],
        }
    )
    return DashboardFigures(
        window=WINDOW,
        res=9,
        grids=_grids(),
        cells=cells,
        daily=daily,
        gaps=gap_frame if gaps else None,
        unowned_cells=ucells,
        compounds=compounds,
        places=places,
    )


def _build(figures=None, **kw):
    kw.setdefault("district_name", "样例区")
    return build_dashboard_map(figures or _figures(), **kw)


def _data(page: str) -> dict:
    return json.loads(re.search(r"var gridmapDash = (\{.*?\});\n", page).group(1))


def _layer_names(m: folium.Map) -> list[str]:
    return [
        c.layer_name
        for c in m._children.values()
        if isinstance(c, folium.map.Layer) and getattr(c, "overlay", False)
    ]


def test_every_asset_is_local():
    page = _build().get_root().render()
    assert find_external_urls(page) == []
    srcs = re.findall(r'<script[^>]+src="([^"]+)"', page)
    hrefs = re.findall(r'<link[^>]+href="([^"]+)"', page)
    assert "/static/vendor/leaflet.markercluster/leaflet.markercluster.js" in srcs
    assert all(u.startswith("/static/vendor/") for u in srcs + hrefs)
    assert "d3" not in " ".join(srcs) and "jquery" not in page.lower()
    inlined = inline_assets(page)
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", inlined)
    assert "data:image/png;base64," in inlined  # Leaflet's CSS images


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_layer_names_legend_and_window_are_localised(lang):
    m = _build(lang=lang)
    names = _layer_names(m)
    for key in (
        "layer.incident_heat",
        "layer.coverage",
        "layer.since_visit",
        "layer.rate",
        "layer.unowned_density",
        "layer.unowned_cells",
        "layer.grid_outline",
        "layer.compounds",
    ):
        assert t(key, lang) in names
    assert f"{t('layer.no_worker', lang)} (1)" in names
    assert f"{t('layer.gaps', lang)} (2)" in names
    page = m.get_root().render()
    assert t("legend.title", lang) in page and t("dashboard.heading", lang) in page
    assert t("legend.heat_unit", lang, res=9) in page  # legends carry units
    assert "2026-10-02" in page and "2026-10-31" in page  # Beijing days of the window
    assert "2026-09-02" in page and "2026-10-01" in page  # the previous window
    assert 'class="dash-filter"' in page and 'name="street"' in page


def test_page_data_equal_the_input():
    fig = _figures(previous=(1, 2))
    data = _data(_build(fig).get_root().render())
    grids = {f["properties"]["code"]: f["properties"] for f in data["grids"]["features"]}
    assert grids["G001"] | {} == {
        "code": "G001",
        "name": "一网格",
        "worker": "张三",
        "hw": True,
        "inc": 7,
        "chg": 5,
        "r1000": 10.0,
        "cov": 0.5,
        "dsv": 0,
        "uo": 2,
        "ukm": 2.0,
        "u1000": 2.86,
    }
    assert grids["G002"]["name"] == "二网格 &lt;b&gt;"  # escaped: tooltips are HTML
    assert grids["G002"]["cov"] is None and grids["G002"]["dsv"] is None
    heat = {f["properties"]["cell"]: f["properties"] for f in data["heat"]["features"]}
    assert {c: (p["n"], p["p"]) for c, p in heat.items()} == {"89aaa": (4, 1), "89bbb": (6, 2)}
    # Rising: +3 and doubled (4 vs 1) yes; 6 vs 2 is +4 and tripled: yes too.
    assert heat["89aaa"]["up"] and heat["89bbb"]["up"]
    assert data["daily"] == {"89aaa": [0, 4], "89bbb": [0, 1, 29, 5]}
    assert data["days_labels"][0] == "2026-10-02" and len(data["days_labels"]) == 30
    gaps = {f["properties"]["cell"]: f["properties"]["dsv"] for f in data["gaps"]["features"]}
    assert gaps == {"8aaa": 12, "8abb": None}
    (uc,) = data["ucells"]["features"]
    assert uc["properties"] == {"cell": "89ccc", "n": 2, "hh": 500, "km2": 20.0, "r1000": 4.0}
    assert data["compounds"] == [
        [35.305, 113.905, 3, "甲院", 40],
        [35.3015, 113.9115, 0, "乙院 &lt;i&gt;", 300],
    ]
    # The colour scales cover the data: the busiest cell gets the darkest heat class.
    heat_scale = data["scales"]["heat"]
    assert heat_scale["uppers"] == [5, 7] and len(heat_scale["colors"]) == 2


def test_no_rising_layer_without_a_previous_window_and_hint_without_gaps():
    m = _build(_figures(gaps=False, previous=(0, 0)))
    names = _layer_names(m)
    assert not any(n.startswith(t("layer.rising")) for n in names)
    assert not any(n.startswith(t("layer.gaps")) for n in names)
    page = m.get_root().render()
    assert t("legend.gaps_hint") in page and t("legend.rising_none") in page
    assert _data(page)["gaps"]["features"] == []


def test_kpi_table_rows_carry_figures_and_bounds():
    page = _build().get_root().render()
    row = re.search(r'<tr data-code="G003" data-bounds="([^"]+)"[^>]*>(.*?)</tr>', page)
    bounds = json.loads(row.group(1).replace("&quot;", '"'))
    assert bounds == [[35.31, 113.90], [35.32, 113.91]]
    values = re.findall(r'data-v="([^"]*)"', row.group(2))
    assert values == ["G003", "三网格", "3", "-2", "10.0", "0.1250", "9", "5", "5.0"]
    g2 = re.search(r'<tr data-code="G002"[^>]*class="no-worker"[^>]*>(.*?)</tr>', page)
    assert re.findall(r'data-v="([^"]*)"', g2.group(1))[5:7] == ["-1", "9999"]
    assert page.count("<tr data-code=") == 3


def test_amap_shifts_every_overlay_to_gcj02():
    fig = _figures()
    page = _build(fig, basemap=resolve_basemap("amap")).get_root().render()
    data = _data(page)
    assert "webrd0{s}.is.autonavi.com" in page
    ring = data["grids"]["features"][0]["geometry"]["coordinates"][0]
    x0, y0 = shapely.get_coordinates(fig.grids.geometry.iloc[0].exterior)[0]
    gx, gy = wgs84_to_gcj02(np.array([x0]), np.array([y0]))
    assert ring[0] == pytest.approx([float(gx[0]), float(gy[0])], abs=1e-6)
    assert abs(ring[0][0] - x0) > 1e-3  # a real shift (~0.5 km), not a no-op
    lat, lon = data["compounds"][0][:2]
    cx, cy = wgs84_to_gcj02(np.array([113.905]), np.array([35.305]))
    assert (lon, lat) == pytest.approx((float(cx[0]), float(cy[0])), abs=1e-6)
    # Without Amap nothing moves.
    plain = _data(_build(fig).get_root().render())
    assert plain["grids"]["features"][0]["geometry"]["coordinates"][0][0] == [x0, y0]


def test_basemap_settings(tmp_path):
    assert resolve_basemap("none").layers == ()
    tiles = tmp_path / "tiles"
    tiles.mkdir()
    local = resolve_basemap("local", str(tiles))
    assert local.folder == tiles and local.layers[0].url == "/basemap/{z}/{x}/{y}.png"
    xyz = resolve_basemap("local", "http://tiles.intranet/{z}/{x}/{y}.png")
    assert xyz.folder is None and xyz.layers[0].url.startswith("http://tiles.intranet/")
    tdt = resolve_basemap("tianditu", tianditu_key="KEY")
    assert len(tdt.layers) == 2 and all("tk=KEY" in spec.url for spec in tdt.layers)
    assert tdt.shift is None and resolve_basemap("amap").shift == "gcj02"
    assert tile_origins(resolve_basemap("amap")) == [
        f"https://webrd0{i}.is.autonavi.com" for i in range(1, 5)
    ]
    assert tile_origins(local) == [] and tile_origins(xyz) == ["http://tiles.intranet"]
    for args in (("local",), ("local", str(tmp_path / "missing")), ("tianditu",), ("osm",)):
        with pytest.raises(ValueError):
            resolve_basemap(*args)


def test_bad_input_is_refused():
    fig = _figures()
    with pytest.raises(ValueError, match="language"):
        _build(fig, lang="fr")
    fig.grids = fig.grids.drop(columns="coverage")
    with pytest.raises(ValueError, match="coverage"):
        _build(fig)
    fig = _figures()
    fig.grids = fig.grids.set_crs(None, allow_override=True)
    with pytest.raises(ValueError, match="CRS"):
        _build(fig)


def test_count_classes_and_value_breaks():
    assert count_classes([0, 0]) == []
    assert count_classes([1, 2, 3]) == [(1, 1), (2, 2), (3, 3)]
    classes = count_classes(range(0, 101))
    assert classes[0][0] == 1 and classes[-1][1] == 100 and len(classes) == 5
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(classes))
    assert value_breaks([0, NAN]) == []
    assert value_breaks(np.arange(1, 101)) == [20.8, 40.6, 60.4, 80.2]


def test_export_mode_has_a_summary_instead_of_the_form():
    page = _build(interactive=False, lang="en").get_root().render()
    assert 'class="dash-filter"' not in page
    assert "Category: All · Street: All · Community: All · H3 9" in page
