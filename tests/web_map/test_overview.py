"""The overview map renders offline: local assets only, localized layers and
tooltips, view fitted to the district. Also covers web_map.assets and i18n."""

from __future__ import annotations

import json
import re

import folium
import geopandas as gpd
import pytest
import shapely
from fastapi.openapi.docs import get_swagger_ui_html
from folium.map import FitBounds
from shapely.geometry import box

from web_map.assets import (
    OFFLINE_SWAGGER_UI_PARAMETERS,
    STATIC_DIR,
    VENDORED_FILES,
    asset_urls,
    find_external_urls,
    swagger_ui_urls,
    use_local_assets,
)
from web_map.basemaps import resolve_basemap
from web_map.i18n import STRINGS, t
from web_map.pages.overview import build_overview_map

# A square district near Xinxiang; splits at thirds give coordinates with more
# decimals than the map keeps, so rounding is exercised.
WEST, SOUTH, EAST, NORTH = 113.80, 35.28, 113.86, 35.33
ZH_LAYERS = ["区县", "街道(乡镇)", "社区(村)", "网格"]
EN_LAYERS = ["District", "Street", "Community", "Grid"]


def _frame(rows: list[dict]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def synthetic_levels() -> dict[str, gpd.GeoDataFrame]:
    """1 district → 2 streets (west/east) → 4 communities → 8 grids."""
    mid_x = WEST + (EAST - WEST) / 3
    mid_y = SOUTH + (NORTH - SOUTH) * 2 / 3
    district = [{"code": "410702", "name": "红旗区", "level": "district", "parent_code": None}]
    district[0]["geometry"] = box(WEST, SOUTH, EAST, NORTH)
    streets, communities, grids = [], [], []
    for s, (x0, x1) in enumerate([(WEST, mid_x), (mid_x, EAST)], start=1):
        s_code = f"410702{s:03d}"
        streets.append(
            {"code": s_code, "name": f"第{s}街道", "level": "street", "parent_code": "410702"}
            | {"geometry": box(x0, SOUTH, x1, NORTH)}
        )
        for c, (y0, y1) in enumerate([(SOUTH, mid_y), (mid_y, NORTH)], start=1):
            c_code = f"{s_code}{c:03d}"
            communities.append(
                {"code": c_code, "name": f"第{s}-{c}社区", "level": "community"}
                | {"parent_code": s_code, "geometry": box(x0, y0, x1, y1)}
            )
            cut = x0 + (x1 - x0) / 3
            for g, (gx0, gx1) in enumerate([(x0, cut), (cut, x1)], start=1):
                grids.append(
                    {"code": f"{c_code}{g:02d}", "name": f"网格{s}-{c}-{g}", "level": "grid"}
                    | {"parent_code": c_code, "geometry": box(gx0, y0, gx1, y1)}
                )
    return {
        "district": _frame(district),
        "street": _frame(streets),
        "community": _frame(communities),
        "grid": _frame(grids),
    }


@pytest.fixture(scope="module")
def levels() -> dict[str, gpd.GeoDataFrame]:
    return synthetic_levels()


@pytest.fixture(scope="module")
def zh_map(levels) -> folium.Map:
    return build_overview_map(levels)


@pytest.fixture(scope="module")
def zh_html(zh_map) -> str:
    return zh_map.get_root().render()


def _layers(m: folium.Map) -> list[folium.GeoJson]:
    return [child for child in m._children.values() if isinstance(child, folium.GeoJson)]


# --- assets -------------------------------------------------------------------


def test_every_asset_url_is_a_vendored_local_file(zh_html):
    urls = asset_urls(zh_html)
    assert urls, "the page links no assets at all"
    assert all(u.startswith("/static/vendor/") for u in urls), urls
    # Independent of the HTML parser: no absolute URL in any src/href attribute.
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", zh_html)
    assert find_external_urls(zh_html) == []
    for url in urls:
        assert (STATIC_DIR / url.removeprefix("/static/")).is_file(), url
    assert "/static/vendor/leaflet/leaflet.js" in urls
    assert "/static/vendor/leaflet/leaflet.css" in urls


def test_dropped_cdn_assets_are_gone(zh_html):
    for dropped in ("jquery", "bootstrap", "glyphicons", "fontawesome", "awesome-markers"):
        assert dropped not in zh_html.lower()


def test_vendored_files_exist_and_leaflet_css_images_resolve():
    for relative in VENDORED_FILES:
        assert (STATIC_DIR / relative).is_file(), relative
    css_path = STATIC_DIR / "vendor/leaflet/leaflet.css"
    images = re.findall(r"url\(([^)]+)\)", css_path.read_text())
    assert images
    for image in images:
        image = image.strip("'\"")
        if not image.startswith(("data:", "#")):  # "#default#VML" is an old-IE behaviour
            assert (css_path.parent / image).is_file(), image


def test_use_local_assets_is_idempotent_and_refuses_a_second_prefix(zh_map):
    before = (list(folium.Map.default_js), list(folium.Map.default_css))
    use_local_assets("/static")
    use_local_assets("/static/")
    assert (folium.Map.default_js, folium.Map.default_css) == before
    with pytest.raises(ValueError, match="already point"):
        use_local_assets("/other-static")
    assert (folium.Map.default_js, folium.Map.default_css) == before


def test_adding_a_link_to_the_shared_map_list_is_refused(zh_map):
    with pytest.raises(TypeError, match="use_local_assets"):
        folium.Map(tiles=None).add_js_link("d3", "https://assets.example.invalid/d3.js")
    with pytest.raises(TypeError, match="use_local_assets"):
        folium.Map(tiles=None).add_css_link("leaflet_css", "https://assets.example.invalid/l.css")
    assert [name for name, _ in folium.Map.default_js] == ["leaflet"]


def test_map_elements_we_use_declare_no_cdn_assets():
    from folium.map import CustomPane, LayerControl

    for cls in (
        folium.GeoJson,
        folium.GeoJsonTooltip,
        folium.FeatureGroup,
        LayerControl,
        FitBounds,
        CustomPane,
        folium.TileLayer,
    ):
        assert not getattr(cls, "default_js", []), cls
        assert not getattr(cls, "default_css", []), cls


def test_swagger_ui_page_is_offline():
    urls = swagger_ui_urls("/static")
    page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="gridmap",
        swagger_ui_parameters=OFFLINE_SWAGGER_UI_PARAMETERS,
        **urls,
    ).body.decode()
    assert find_external_urls(page) == []
    assert '"validatorUrl": null' in page
    for url in urls.values():
        assert url in page
        assert (STATIC_DIR / url.removeprefix("/static/")).is_file(), url


# --- layers, tooltips, bounds -------------------------------------------------


def test_one_named_layer_per_level_with_all_features(zh_map, zh_html, levels):
    layers = _layers(zh_map)
    assert [layer.layer_name for layer in layers] == ZH_LAYERS
    for layer, frame in zip(layers, levels.values(), strict=True):
        codes = [f["properties"]["code"] for f in layer.data["features"]]
        assert codes == list(frame["code"])
    # LayerControl embeds the names as JSON strings (non-ASCII escaped).
    for name in ZH_LAYERS:
        assert json.dumps(name) in zh_html
    assert "L.control.layers" in zh_html


def test_english_variant(levels):
    m = build_overview_map(levels, lang="en")
    html = m.get_root().render()
    assert [layer.layer_name for layer in _layers(m)] == EN_LAYERS
    for name in EN_LAYERS:
        assert json.dumps(name) in html
    for name in ZH_LAYERS:
        assert json.dumps(name) not in html
    assert '["Code", "Name"]' in html
    assert "Four-level grid overview" in html
    assert "<title>红旗区 four-level grid overview</title>" in html


def test_tooltips_show_code_and_name_with_localized_labels(zh_map, zh_html):
    for layer in _layers(zh_map):
        tooltips = [c for c in layer._children.values() if isinstance(c, folium.GeoJsonTooltip)]
        assert len(tooltips) == 1
        assert tooltips[0].fields == ["code", "name"]
        assert tooltips[0].aliases == ["编码", "名称"]
        for feature in layer.data["features"]:
            assert set(feature["properties"]) == {"code", "name"}
    assert zh_html.count(".bindTooltip(") == 4
    assert zh_html.count(json.dumps(["编码", "名称"])) == 4


def test_bounds_fitted_to_the_district(zh_map, levels):
    fits = [c for c in zh_map._children.values() if isinstance(c, FitBounds)]
    assert len(fits) == 1
    west, south, east, north = shapely.union_all(levels["grid"].geometry.to_numpy()).bounds
    assert fits[0].bounds == [[south, west], [north, east]]
    assert fits[0].bounds == [[SOUTH, WEST], [NORTH, EAST]]


def test_page_title_heading_and_legend(zh_html):
    assert "<title>红旗区 四级网格总览</title>" in zh_html
    assert "红旗区 · 四级网格总览" in zh_html
    assert "图例" in zh_html
    for name, count in zip(ZH_LAYERS, (1, 2, 4, 8), strict=True):
        assert re.search(
            rf"<span>{re.escape(name)}</span><span class=\"count\">{count} 个", zh_html
        )


def test_no_basemap_by_default_and_intranet_tiles_on_request(zh_map, levels):
    assert not any(isinstance(c, folium.TileLayer) for c in zh_map._children.values())
    tiles = "http://10.1.2.3/tiles/{z}/{x}/{y}.png"
    m = build_overview_map(levels, basemap=resolve_basemap("local", tiles))
    layers = [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    assert [layer.tiles for layer in layers] == [tiles]


# --- geometry payload ---------------------------------------------------------


def test_rounded_grids_still_tile_the_district_without_gaps(zh_map, levels):
    grid_layer = _layers(zh_map)[-1]
    shapes = [shapely.geometry.shape(f["geometry"]) for f in grid_layer.data["features"]]
    union = shapely.union_all(shapes)
    district = levels["district"].geometry.iloc[0]
    assert union.geom_type == "Polygon" and not union.interiors
    assert abs(union.area - district.area) / district.area < 1e-6
    # Neighbours share their border vertices exactly after rounding.
    assert sum(a.touches(b) for a in shapes for b in shapes) > 0
    assert all(shapely.intersection(a, b).area == 0 for a in shapes for b in shapes if a is not b)


def test_labels_are_html_escaped(levels):
    tricky = {k: v.copy() for k, v in levels.items()}
    tricky["grid"].loc[0, "name"] = "A&B <img src=x onerror=alert(1)>"
    layer = _layers(build_overview_map(tricky))[-1]
    assert layer.data["features"][0]["properties"]["name"] == (
        "A&amp;B &lt;img src=x onerror=alert(1)&gt;"
    )


# --- inputs -------------------------------------------------------------------


def test_projected_input_is_brought_to_wgs84(levels):
    projected = {k: v.to_crs("EPSG:4547") for k, v in levels.items()}
    fit = next(
        c for c in build_overview_map(projected)._children.values() if isinstance(c, FitBounds)
    )
    (south, west), (north, east) = fit.bounds
    assert (west, south, east, north) == pytest.approx((WEST, SOUTH, EAST, NORTH), abs=1e-7)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lv: lv | {"grid": lv["grid"].set_crs(None, allow_override=True)}, "no CRS"),
        (lambda lv: {k: v for k, v in lv.items() if k != "district"}, "district"),
        (lambda lv: lv | {"county": lv["district"]}, "unknown level"),
        (lambda lv: lv | {"street": lv["street"].drop(columns="name")}, "lacks column"),
    ],
)
def test_bad_input_is_refused(levels, change, message):
    with pytest.raises(ValueError, match=message):
        build_overview_map(change(levels))


def test_unknown_language_is_refused(levels):
    with pytest.raises(ValueError, match="language"):
        build_overview_map(levels, lang="fr")


def test_i18n_tables_have_the_same_keys():
    zh, en = (set(STRINGS[lang]) for lang in ("zh", "en"))
    assert zh == en
    assert t("level.grid") == "网格"
    assert t("overview.title", "en", district="X") == "X four-level grid overview"


def test_attribution_prefix_is_plain_text(zh_map, zh_html):
    assert f'{zh_map.get_name()}.attributionControl.setPrefix("Leaflet")' in zh_html
