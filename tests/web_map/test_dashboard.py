"""The dashboard map from small hand-made figures: offline assets, layers, legend, tooltips."""

import itertools
import json
import re
from datetime import UTC, datetime

import folium
import geopandas as gpd
import pytest
from folium.features import GeoJsonTooltip
from shapely.geometry import Point, box

from web_map.assets import find_external_urls
from web_map.dashboard import build_dashboard_map, count_classes
from web_map.i18n import t

START = datetime(2026, 10, 1, 16, tzinfo=UTC)
END = datetime(2026, 10, 31, 16, tzinfo=UTC)


@pytest.fixture()
def figures():
    grids = gpd.GeoDataFrame(
        {
            "code": ["G001", "G002", "G003"],
            "name": ["一网格", "二网格 <b>", "三网格"],
            "incidents": [7, 0, 3],
            "coverage": [0.5, float("nan"), 0.125],
            "unowned": [2, 0, 5],
            "has_worker": [True, False, True],
        },
        geometry=[
            box(113.90, 35.30, 113.91, 35.31),
            box(113.91, 35.30, 113.92, 35.31),
            box(113.90, 35.31, 113.91, 35.32),
        ],
        crs="EPSG:4326",
    )
    cells = gpd.GeoDataFrame(
        {"cell": ["89aaa", "89bbb"], "incidents": [4, 6]},
        geometry=[box(113.901, 35.301, 113.903, 35.303), box(113.904, 35.311, 113.906, 35.313)],
        crs="EPSG:4326",
    )
    compounds = gpd.GeoDataFrame(
        {"name": ["甲院", "乙院"], "management_type": ["unowned", "property_company"]},
        geometry=[Point(113.905, 35.305), box(113.911, 35.301, 113.912, 35.302)],
        crs="EPSG:4326",
    )
    return grids, cells, compounds


def _build(figures, lang="zh"):
    grids, cells, compounds = figures
    return build_dashboard_map(
        grids, cells, compounds, start=START, end=END, days=30, district_name="样例区", lang=lang
    )


def _geojson_layers(m: folium.Map) -> dict[str, folium.GeoJson]:
    return {c.layer_name: c for c in m._children.values() if isinstance(c, folium.GeoJson)}


def test_every_asset_is_local(figures):
    page = _build(figures).get_root().render()
    assert find_external_urls(page) == []
    srcs = re.findall(r'<script[^>]+src="([^"]+)"', page)
    hrefs = re.findall(r'<link[^>]+href="([^"]+)"', page)
    assert srcs and hrefs
    assert all(u.startswith("/static/vendor/") for u in srcs + hrefs)
    assert "d3" not in " ".join(srcs) and "jquery" not in page.lower()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_layer_names_and_legend_are_localised(figures, lang):
    m = _build(figures, lang)
    names = set(_geojson_layers(m))
    for key in ("layer.incident_heat", "layer.coverage", "layer.unowned", "layer.compounds"):
        assert t(key, lang) in names
    assert f"{t('layer.no_worker', lang)} (1)" in names
    page = m.get_root().render()
    assert 'class="dash-legend"' in page
    assert t("legend.title", lang) in page
    assert t("dashboard.heading", lang) in page
    assert "2026-10-02" in page and "2026-11-01" in page  # Beijing dates of the window


def test_tooltip_figures_equal_the_input(figures):
    grids, _, _ = figures
    layers = _geojson_layers(_build(figures))
    feats = {
        f["properties"]["code"]: f["properties"] for f in layers["巡防覆盖率"].data["features"]
    }
    for r in grids.itertuples():
        p = feats[r.code]
        assert p["incidents"] == r.incidents
        assert p["unowned"] == r.unowned
    assert feats["G001"]["coverage"] == "50.0%"
    assert feats["G003"]["coverage"] == "12.5%"
    assert feats["G002"]["coverage"] == "—"
    assert feats["G002"]["name"] == "二网格 &lt;b&gt;"  # escaped for the tooltip's innerHTML
    heat = layers[t("layer.incident_heat")].data["features"]
    assert {f["properties"]["cell"]: f["properties"]["incidents"] for f in heat} == {
        "89aaa": 4,
        "89bbb": 6,
    }
    no_worker = layers[f"{t('layer.no_worker')} (1)"].data["features"]
    assert [f["properties"]["code"] for f in no_worker] == ["G002"]
    tips = [c for c in layers["巡防覆盖率"]._children.values() if isinstance(c, GeoJsonTooltip)]
    (tip,) = tips
    assert tip.fields == ["code", "name", "incidents", "coverage", "unowned", "worker"]


def test_kpi_table_rows_carry_figures_and_bounds(figures):
    page = _build(figures).get_root().render()
    row = re.search(r'<tr data-code="G003" data-bounds="([^"]+)"[^>]*>(.*?)</tr>', page)
    assert row is not None
    bounds = json.loads(row.group(1).replace("&quot;", '"'))
    assert bounds == [[35.31, 113.90], [35.32, 113.91]]
    values = re.findall(r'data-v="([^"]*)"', row.group(2))
    assert values == ["G003", "三网格", "3", "0.1250", "5", "有"]
    assert page.count("<tr data-code=") == 3


def test_bad_input_is_refused(figures):
    grids, cells, compounds = figures
    with pytest.raises(ValueError, match="language"):
        _build(figures, lang="fr")
    with pytest.raises(ValueError, match="coverage"):
        build_dashboard_map(
            grids.drop(columns="coverage"), cells, compounds, start=START, end=END, days=30
        )
    with pytest.raises(ValueError, match="CRS"):
        build_dashboard_map(
            grids.set_crs(None, allow_override=True),
            cells,
            compounds,
            start=START,
            end=END,
            days=30,
        )


def test_count_classes():
    assert count_classes([0, 0]) == []
    assert count_classes([1, 2, 3]) == [(1, 1), (2, 2), (3, 3)]
    classes = count_classes(range(0, 101))
    assert classes[0][0] == 1 and classes[-1][1] == 100 and len(classes) == 5
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(classes))


def test_no_incidents_compounds_or_unstaffed_grids_still_render(figures):
    grids, cells, compounds = figures
    m = build_dashboard_map(
        grids.assign(has_worker=True),
        cells.iloc[:0],
        compounds.iloc[:0],
        start=START,
        end=END,
        days=30,
    )
    assert f"{t('layer.no_worker')} (0)" in _geojson_layers(m)
    page = m.get_root().render()
    assert page.count("<tr data-code=") == 3
