"""The planner page in headless Chromium: offline, every grid drawn, and a real vertex
drag saved through the edit API — checked in the database afterwards."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from geo.settings import PROJECT_ROOT

from tests.web_map.browser import load_page, wait_until_true

pytestmark = pytest.mark.browser
LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"
METRIC = 4547


def live(conn, level):
    rows = conn.execute(
        sa.text(
            "SELECT v.id, v.code, p.code AS parent, ST_AsBinary(v.geom) AS wkb"
            " FROM admin_unit_version v LEFT JOIN admin_unit_version p"
            " ON p.unit_id = v.parent_unit_id AND p.valid_from IS NOT NULL AND p.valid_to IS NULL"
            " WHERE v.level = :l AND v.valid_from IS NOT NULL AND v.valid_to IS NULL"
        ),
        {"l": level},
    ).mappings()
    rows = list(rows)
    return gpd.GeoDataFrame(
        [{"id": r["id"], "code": r["code"], "parent": r["parent"]} for r in rows],
        geometry=[shapely.from_wkb(bytes(r["wkb"])) for r in rows],
        crs=4326,
    )


SHOTS = PROJECT_ROOT / "var" / "screenshots"  # kept after the run, as test artefacts
SPECIAL_SHOWN = (
    "Object.values(gridmapPlanner.map._layers)"
    ".filter(l => l.feature && l.options.pane === 'gridmap-special').length"
)
TOGGLE_SPECIAL = """(() => {
  const label = Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))
    .find(l => /专属网格|Special grids/.test(l.textContent));
  label.querySelector('input').click();
  return true; })()"""


@pytest.mark.parametrize(
    ("lang", "title", "legend", "grids_layer"),
    [("zh", "网格规划编辑", "图例", "网格"), ("en", "grid planner", "Legend", "Grids")],
)
def test_planner_page_is_offline_and_draws_everything(
    live_server, db_engine, lang, title, legend, grids_layer
):
    with db_engine.connect() as conn:
        n_grids = conn.execute(
            sa.text(f"SELECT count(*) FROM admin_unit_version WHERE level = 'grid' AND {LIVE}")
        ).scalar_one()
        n_labels = conn.execute(
            sa.text(
                "SELECT count(*) FROM admin_unit_version WHERE level IN ('street', 'community')"
                f" AND {LIVE}"
            )
        ).scalar_one()
        n_special = conn.execute(
            sa.text("SELECT count(*) FROM special_grid WHERE valid_to IS NULL")
        ).scalar_one()
    toggled: dict = {}

    def toggle(page):
        toggled["before"] = page.evaluate(SPECIAL_SHOWN)
        page.evaluate(TOGGLE_SPECIAL)
        toggled["after"] = page.evaluate(SPECIAL_SHOWN)

    report = load_page(
        f"{live_server}/planner?lang={lang}",
        wait_for="window.gridmapPlanner !== undefined",
        interact=toggle,
        evaluate={
            "grids": "gridmapPlanner.grids.getLayers().length",
            "labels": "document.querySelectorAll('.gm-label').length",
            "geoman": "typeof L.PM",
            # position: fixed has no offsetParent: visible = it has a size on screen.
            "legend": "(() => { const p = document.querySelector('.gridmap-panel');"
            " const r = p && p.getBoundingClientRect();"
            " return r && r.width > 0 && r.height > 0 ? p.textContent : null; })()",
            "layers": "Array.from(document.querySelectorAll("
            "'.leaflet-control-layers-overlays label')).map(l => l.textContent.trim())",
        },
        screenshot=SHOTS / f"planner-{lang}.png",
    )
    assert report.problems == []
    assert report.results["grids"] == n_grids
    assert report.results["labels"] == n_labels
    assert report.results["geoman"] == "object"
    assert title in report.title
    assert legend in report.results["legend"]  # the legend is visible, in the language
    assert grids_layer in report.results["layers"]
    assert toggled == {"before": n_special, "after": 0}  # the layer control hides a layer


def pick_vertex(conn):
    """A vertex a grid shares with a sibling, at least 60 m from its community's border."""
    grids, communities = live(conn, "grid"), live(conn, "community")
    g_m, c_m = grids.to_crs(METRIC), communities.to_crs(METRIC).set_index("code")
    for i in range(len(grids)):
        code, parent = grids["code"].iloc[i], grids["parent"].iloc[i]
        border = c_m.loc[parent].geometry.boundary
        siblings = g_m[(g_m["parent"] == parent) & (g_m["code"] != code)]
        coords_ll = shapely.get_coordinates(grids.geometry.iloc[i])
        coords_m = shapely.get_coordinates(g_m.geometry.iloc[i])
        for (lon, lat), (x, y) in zip(coords_ll, coords_m, strict=True):
            pt = shapely.Point(x, y)
            if border.distance(pt) > 60 and any(
                s.boundary.distance(pt) < 0.01 for s in siblings.geometry
            ):
                return code, parent, float(lon), float(lat)
    pytest.fail("no interior shared vertex in the sample")


def test_drag_a_vertex_and_save(edit_server, edit_db, tmp_path):
    _settings, engine = edit_db
    with engine.connect() as conn:
        code, community, lon, lat = pick_vertex(conn)
        before = conn.execute(
            sa.text(f"SELECT id FROM admin_unit_version WHERE code = :c AND {LIVE}"), {"c": code}
        ).scalar_one()
    dropped: dict = {}

    def drag(page):
        page.evaluate(
            f"""async () => {{
                const p = window.gridmapPlanner;
                p.map.setView([{lat}, {lon}], 18, {{animate: false}});
                await p.select(p.byCode({code!r}));
            }}"""
        )
        page.click("#gm-edit")
        wait_until_true(page, "document.querySelectorAll('.marker-icon').length > 0")
        box = page.locator(".folium-map").bounding_box()
        pt = page.evaluate(
            f"(() => {{ const q = gridmapPlanner.map.latLngToContainerPoint([{lat}, {lon}]);"
            " return [q.x, q.y]; })()"
        )
        x, y = box["x"] + pt[0], box["y"] + pt[1]
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 30, y + 20, steps=12)
        page.mouse.up()
        ll = page.evaluate(
            f"(() => {{ const l = gridmapPlanner.map.containerPointToLatLng([{pt[0] + 30},"
            f" {pt[1] + 20}]); return [l.lng, l.lat]; }})()"
        )
        dropped["lonlat"] = ll
        page.fill("#gm-reason", "拖动顶点 browser test")
        page.click("#gm-save")
        try:  # saving also rebuilds the server's lookup index: allow for a busy machine
            wait_until_true(page, "gridmapPlanner.saved === 1", timeout_s=90)
        except TimeoutError:
            message = page.evaluate("document.getElementById('gm-msg').textContent")
            sent = page.evaluate("JSON.stringify(gridmapPlanner.current().toGeoJSON().geometry)")
            pytest.fail(f"the save did not complete; the page says: {message!r}; shape: {sent}")

    report = load_page(
        f"{edit_server}/planner",
        wait_for="window.gridmapPlanner !== undefined",
        interact=drag,
        evaluate={"msg": "document.getElementById('gm-msg').textContent"},
        screenshot=SHOTS / "planner-after-save.png",
    )
    assert report.problems == []
    with engine.connect() as conn:
        after_id, wkb, author_reason = conn.execute(
            sa.text(
                f"SELECT id, ST_AsBinary(geom), reason FROM admin_unit_version"
                f" WHERE code = :c AND {LIVE}"
            ),
            {"c": code},
        ).one()
        assert after_id != before and author_reason == "拖动顶点 browser test"
        geom = gpd.GeoSeries([shapely.from_wkb(bytes(wkb))], crs=4326).to_crs(METRIC).iloc[0]
        old_v, new_v = (
            gpd.GeoSeries([shapely.Point(lon, lat), shapely.Point(*dropped["lonlat"])], crs=4326)
            .to_crs(METRIC)
            .tolist()
        )
        vertices = shapely.points(shapely.get_coordinates(geom))
        # The old vertex is gone; one lies where the mouse let go (a pixel is ~0.5 m).
        assert min(shapely.distance(vertices, old_v)) > 1.0
        assert min(shapely.distance(vertices, new_v)) < 2.0
        # The community is still exactly partitioned (shapely on plain SQL reads).
        kids = live(conn, "grid").to_crs(METRIC)
        kids = kids[kids["parent"] == community]
        parent = live(conn, "community").to_crs(METRIC).set_index("code").loc[community].geometry
        union = shapely.union_all(np.asarray(kids.geometry.values, dtype=object))
        assert parent.symmetric_difference(union).area <= 1.0
        for a, b in itertools.combinations(kids.geometry, 2):
            assert a.intersection(b).area <= 1.0


def test_planner_exported_as_one_file_opens_offline(loaded, test_settings, db_engine, tmp_path):
    from api.cli.map import export_page
    from tests.web_map.test_export import open_file

    out = tmp_path / "planner.html"
    export_page("planner", out, settings=test_settings, lang="zh")
    page = out.read_text(encoding="utf-8")
    assert 'id="gm-save"' not in page  # a file cannot save: no editor
    with db_engine.connect() as conn:
        n_grids = conn.execute(
            sa.text(f"SELECT count(*) FROM admin_unit_version WHERE level = 'grid' AND {LIVE}")
        ).scalar_one()
    report = open_file(
        out,
        {"grids": "gridmapPlanner.grids.getLayers().length", "geoman": "typeof L.PM"},
        tmp_path / "planner-file.png",
    )
    assert report["others"] == [] and report["errors"] == []
    assert report["results"] == {"grids": n_grids, "geoman": "object"}


def _split_and_merge_targets(conn):
    """From the last community (the drag test works in the first ones): a grid to split
    by a west–east line that cuts it into exactly two (checked with shapely), and two
    other grids sharing more than 50 m of border, to merge."""
    grids = live(conn, "grid")
    g_m = grids.to_crs(METRIC)
    for community in sorted(set(grids["parent"]), reverse=True):
        inside = g_m[g_m["parent"] == community]
        if len(inside) < 3:
            continue
        pair = next(
            (
                (a, b)
                for a, b in itertools.combinations(inside.itertuples(), 2)
                if a.geometry.intersection(b.geometry).length > 50
            ),
            None,
        )
        if pair is None:
            continue
        a, b = pair
        for s in inside.itertuples():
            if s.code in (a.code, b.code):
                continue
            poly = grids.set_index("code").geometry[s.code]
            x0, y0, x1, y1 = poly.bounds
            for f in (0.5, 0.4, 0.6, 0.3, 0.7):
                y = y0 + f * (y1 - y0)
                line = shapely.LineString([(x0 - 1e-4, y), (x1 + 1e-4, y)])
                if len(shapely.get_parts(shapely.ops.split(poly, line))) == 2:
                    # Inside the neighbour but away from its label (drawn at the
                    # representative point, where it would take the click).
                    b_poly = grids.set_index("code").geometry[b.code]
                    label = b_poly.representative_point()
                    b_point = b_poly.buffer(-2e-4).difference(label.buffer(4e-4))
                    b_point = b_point.representative_point()
                    return community, s.code, line, a.code, b.code, b_point
    pytest.fail("no community with a grid to split and two grids to merge")


def _to_px(page, lon, lat):
    box = page.locator(".folium-map").bounding_box()
    pt = page.evaluate(
        f"(() => {{ const q = gridmapPlanner.map.latLngToContainerPoint([{lat}, {lon}]);"
        " return [q.x, q.y]; })()"
    )
    return box["x"] + pt[0], box["y"] + pt[1]


def _save(page, reason, count):
    page.fill("#gm-reason", reason)
    page.click("#gm-save")
    try:
        wait_until_true(page, f"gridmapPlanner.saved === {count}", timeout_s=90)
    except TimeoutError:
        message = page.evaluate("document.getElementById('gm-msg').textContent")
        pytest.fail(f"the save did not complete; the page says: {message!r}")


def _split_then_merge(page, split_code, line, keep, gone, gone_point, sent):
    """Split ``split_code`` by ``line`` drawn with the mouse, then merge ``gone`` into
    ``keep`` by a click on it; the request bodies the page sent land in ``sent``."""
    (lx0, ly), (lx1, _) = line.coords
    # Record what the page sends: the line as drawn (pixel-rounded by the mouse) is
    # what the stored parts must equal shapely's split by.
    page.evaluate(
        """(() => { const f = window.fetch; window._sent = [];
            window.fetch = (u, o) => { if (o && o.body) window._sent.push([u, o.body]);
                                       return f(u, o); };
            return 1; })()"""
    )
    page.evaluate(
        f"""async () => {{
            const p = window.gridmapPlanner;
            p.map.fitBounds(p.byCode({split_code!r}).getBounds(), {{animate: false}});
            await p.select(p.byCode({split_code!r}));
        }}"""
    )
    page.click("#gm-split")
    page.mouse.click(*_to_px(page, lx0, ly))
    page.mouse.dblclick(*_to_px(page, lx1, ly))
    wait_until_true(page, "document.getElementById('gm-msg').textContent === ''")
    _save(page, "画线分割 browser test", 1)
    page.evaluate(
        f"""async () => {{
            const p = window.gridmapPlanner;
            const both = p.byCode({keep!r}).getBounds().extend(p.byCode({gone!r}).getBounds());
            p.map.fitBounds(both, {{animate: false}});
            await p.select(p.byCode({keep!r}));
        }}"""
    )
    page.click("#gm-merge")
    gx, gy = _to_px(page, gone_point.x, gone_point.y)
    page.mouse.click(gx, gy)
    try:
        wait_until_true(page, f"document.getElementById('gm-msg').textContent === {gone!r}")
    except TimeoutError:
        msg = page.evaluate("document.getElementById('gm-msg').textContent")
        pytest.fail(f"clicking {gone} did not pick it to merge; the page says {msg!r}")
    _save(page, "合并 browser test", 2)
    sent["bodies"] = page.evaluate("window._sent")


def test_split_and_merge_in_chromium(edit_server, edit_db):
    """A line drawn with the mouse splits a grid; a click on a neighbour merges two —
    the stored shapes equal shapely's split and union of the shapes before."""
    import json

    import shapely.ops

    _settings, engine = edit_db
    with engine.connect() as conn:
        community, split_code, line, keep, gone, gone_point = _split_and_merge_targets(conn)
        before = live(conn, "grid").set_index("code")
    sent: dict = {}
    report = load_page(
        f"{edit_server}/planner",
        wait_for="window.gridmapPlanner !== undefined",
        interact=lambda page: _split_then_merge(
            page, split_code, line, keep, gone, gone_point, sent
        ),
        screenshot=SHOTS / "planner-after-split-merge.png",
    )
    assert report.problems == []
    with engine.connect() as conn:
        after = live(conn, "grid").to_crs(METRIC)
        parent = live(conn, "community").to_crs(METRIC).set_index("code").loc[community].geometry
    kids = after[after["parent"] == community].set_index("code")
    old = before.to_crs(METRIC).geometry
    # Split: the old code keeps one part, one new code has the other; together they are
    # shapely's split of the old shape by the same line.
    split_body = next(
        json.loads(b) for u, b in sent["bodies"] if u.endswith("/split") and "dry_run" not in u
    )
    drawn = shapely.geometry.shape(split_body["line"])
    assert drawn.hausdorff_distance(line) < 2e-5  # the mouse drew the intended line
    line_m = gpd.GeoSeries([drawn], crs=4326).to_crs(METRIC).iloc[0]
    want = shapely.get_parts(shapely.ops.split(old[split_code], line_m))
    new_codes = sorted(set(kids.index) - set(before.index))
    assert len(new_codes) == 1
    got = [kids.geometry[split_code], kids.geometry[new_codes[0]]]
    # The server cuts along the line straight in its own metre frame, this test along
    # the line straight in EPSG:4547: they part by millimetres along the cut.
    slack = max(1.0, 0.005 * line_m.intersection(old[split_code]).length)
    for g in got:
        assert min(g.symmetric_difference(w).area for w in want) <= slack
    # Merge: the kept grid is the union of the two; the other is no longer live.
    assert gone not in kids.index
    union = old[keep].union(old[gone])
    assert kids.geometry[keep].symmetric_difference(union).area <= 1.0
    # And the community is still exactly partitioned.
    assert parent.symmetric_difference(shapely.union_all(kids.geometry.values)).area <= 1.0
    for a, b in itertools.combinations(kids.geometry, 2):
        assert a.intersection(b).area <= 1.0
