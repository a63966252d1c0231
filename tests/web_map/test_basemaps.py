"""One basemap registry for every page: each page draws the configured tiles and, on a
GCJ-02 basemap (Amap), shifts every overlay by :func:`geo.crs.wgs84_to_gcj02`; on
none/local nothing moves. Expected positions come from geo.crs, not from numbers
written here."""

from __future__ import annotations

import json
import re

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import box

from geo.crs import wgs84_to_gcj02

from tests.web_map.test_dashboard import _figures
from tests.web_map.test_overview import synthetic_levels
from web_map.basemaps import (
    Basemap,
    BasemapConfig,
    TileSpec,
    providers,
    register,
    resolve_basemap,
    settings_basemap,
    shift_geojson,
)
from web_map.pages.dashboard import build_dashboard_map
from web_map.pages.overview import build_overview_map
from web_map.pages.planner import build_planner_map

XYZ = "http://tiles.intranet/{z}/{x}/{y}.png"
BASEMAPS = {
    "amap": resolve_basemap("amap"),
    "none": resolve_basemap("none"),
    "local": resolve_basemap("local", XYZ),
    "no basemap": None,
}
_ADD = re.compile(r"geo_json_\w+_add\((\{.*\})\);$", re.M)


def _expected(x: float, y: float, basemap: Basemap | None) -> tuple[float, float]:
    if basemap is None or basemap.shift is None:
        return x, y
    assert basemap.shift == "gcj02"
    gx, gy = wgs84_to_gcj02(np.array([x]), np.array([y]))
    return float(gx[0]), float(gy[0])


def _first_vertex(geom) -> tuple[float, float]:
    x, y = shapely.get_coordinates(geom)[0]
    return float(x), float(y)


def _features(page: str) -> dict[str, dict]:
    """Every feature folium embedded in the page, by its code."""
    out = {}
    for blob in _ADD.findall(page):
        for f in json.loads(blob)["features"]:
            code = f["properties"].get("code") or f["properties"].get("type")
            out[str(code)] = f
    return out


def _check_tiles(page: str, name: str) -> None:
    if name == "amap":
        assert "webrd0{s}.is.autonavi.com" in page
    elif name == "local":
        assert XYZ in page
    else:
        assert "L.tileLayer" not in page


@pytest.mark.parametrize("name", BASEMAPS)
def test_overview_overlays_follow_the_basemap_datum(name):
    basemap = BASEMAPS[name]
    levels = synthetic_levels()
    page = build_overview_map(levels, basemap=basemap).get_root().render()
    _check_tiles(page, name)
    features = _features(page)
    for frame in levels.values():
        x, y = _first_vertex(frame.geometry.iloc[0])
        got = _first_vertex(shapely.geometry.shape(features[frame["code"].iloc[0]]["geometry"]))
        assert got == pytest.approx(_expected(x, y, basemap), abs=1e-6)
        assert (abs(got[0] - x) > 1e-3) == (name == "amap")  # a real shift, or none


def _planner_inputs():
    levels = synthetic_levels()
    grid = levels["grid"].geometry.iloc[0]
    x0, y0, x1, y1 = grid.bounds
    special = gpd.GeoDataFrame(
        {"code": ["S01"], "name": ["学校"], "kind": ["school"]},
        geometry=[box(x0 + 1e-3, y0 + 1e-3, x1 - 1e-3, y1 - 1e-3)],
        crs="EPSG:4326",
    )
    finding = shapely.geometry.mapping(box(x0, y0, (x0 + x1) / 2, (y0 + y1) / 2))
    findings = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"type": "overlap", "message": "m", "message_zh": "m"},
                "geometry": finding,
            }
        ],
    }
    return levels, special, findings


@pytest.mark.parametrize("name", BASEMAPS)
def test_planner_overlays_and_editor_follow_the_basemap_datum(name):
    basemap = BASEMAPS[name]
    levels, special, findings = _planner_inputs()
    finding = shapely.geometry.shape(findings["features"][0]["geometry"])
    m = build_planner_map(levels, special, findings, basemap=basemap)
    page = m.get_root().render()
    _check_tiles(page, name)
    features = _features(page)
    shifted = name == "amap"
    for code, geom, decimals in (
        ("S01", special.geometry.iloc[0], 6),
        ("overlap", finding, 6),
        (levels["grid"]["code"].iloc[0], levels["grid"].geometry.iloc[0], 5),  # display: 5
    ):
        x, y = _first_vertex(geom)
        got = _first_vertex(shapely.geometry.shape(features[code]["geometry"]))
        assert got == pytest.approx(_expected(x, y, basemap), abs=0.6 * 10**-decimals), code
        assert (abs(got[0] - x) > 1e-3) == shifted
    # Labels sit on the shifted shapes, and the editor talks to the API in the same datum.
    community = levels["community"].geometry.iloc[0]
    if shifted:
        community = shapely.transform(
            community, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1]))
        )
    label = community.point_on_surface()
    assert f'"lat": {round(label.y, 6)}, "level": "community", "lon": {round(label.x, 6)}' in page
    assert f'crs: "{"gcj02" if shifted else "wgs84"}"' in page


@pytest.mark.parametrize("name", BASEMAPS)
def test_dashboard_overlays_follow_the_basemap_datum(name):
    basemap = BASEMAPS[name]
    fig = _figures()
    page = build_dashboard_map(fig, basemap=basemap).get_root().render()
    _check_tiles(page, name)
    data = json.loads(re.search(r"var gridmapDash = (\{.*?\});\n", page).group(1))
    x, y = _first_vertex(fig.grids.geometry.iloc[0])
    got = _first_vertex(shapely.geometry.shape(data["grids"]["features"][0]["geometry"]))
    assert got == pytest.approx(_expected(x, y, basemap), abs=1e-6)
    cx, cy = _first_vertex(fig.compounds.geometry.iloc[0])
    lat, lon = data["compounds"][0][:2]
    assert (lon, lat) == pytest.approx(_expected(cx, cy, basemap), abs=1e-6)
    assert (abs(got[0] - x) > 1e-3) == (name == "amap")


def test_shift_geojson_moves_every_vertex_and_keeps_the_rest():
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"a": 1}, "geometry": None},
            {
                "type": "Feature",
                "properties": {"b": 2},
                "geometry": {"type": "Point", "coordinates": [113.9, 35.3]},
            },
        ],
    }
    assert shift_geojson(doc, None) is doc
    moved = shift_geojson(doc, "gcj02")
    assert moved["features"][0] == doc["features"][0]
    assert moved["features"][1]["properties"] == {"b": 2}
    got = moved["features"][1]["geometry"]["coordinates"]
    assert tuple(got) == pytest.approx(_expected(113.9, 35.3, BASEMAPS["amap"]), abs=1e-12)
    assert doc["features"][1]["geometry"]["coordinates"] == [113.9, 35.3]  # not mutated


def test_a_new_provider_is_one_register_call(monkeypatch):
    import web_map.basemaps as basemaps

    monkeypatch.setattr(basemaps, "_PROVIDERS", dict(basemaps._PROVIDERS))

    @register("mirror")
    def _mirror(config: BasemapConfig) -> Basemap:
        return Basemap("mirror", (TileSpec(config.url or XYZ, "镜像 Mirror"),), shift="gcj02")

    assert providers()[-1] == "mirror"
    basemap = resolve_basemap("mirror")
    assert basemap.shift == "gcj02"
    m = build_overview_map(synthetic_levels(), basemap=basemap)
    assert [c.tiles for c in m._children.values() if isinstance(c, folium.TileLayer)] == [XYZ]


def test_settings_pick_one_basemap_for_every_page(test_settings, tmp_path, caplog):
    s = test_settings.model_copy
    assert settings_basemap(s(update={"basemap": "amap"})).shift == "gcj02"
    assert settings_basemap(s(update={"basemap": "none", "tiles_url": None})).kind == "none"
    # The older tiles_url is the local basemap when no other is chosen.
    old = settings_basemap(s(update={"basemap": "none", "tiles_url": XYZ}))
    assert (old.kind, old.layers[0].url) == ("local", XYZ)
    # A misconfigured basemap is logged and left out; the page still works.
    missing = s(update={"basemap": "local", "basemap_url": str(tmp_path / "no-such-folder")})
    assert settings_basemap(missing).kind == "none"
    assert "basemap setting ignored" in caplog.text
