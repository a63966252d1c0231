"""Every grid edit keeps each parent exactly partitioned by its children — checked
afterwards with shapely on geometries read back by plain SQL, not through the edit code."""

from __future__ import annotations

import itertools
import threading

import geopandas as gpd
import h3
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString

from geo.errors import EditRefused, InvalidInput, StaleVersion
from geo.services import edits as grid_edits

LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"


def live(alias: str) -> str:
    return f"{alias}.valid_from IS NOT NULL AND {alias}.valid_to IS NULL"


METRIC = 4547  # CGCS2000 3-degree Gauss-Krüger, CM 114°E (the sample district)


def live_frame(conn) -> gpd.GeoDataFrame:
    rows = conn.execute(
        sa.text(
            f"SELECT v.id AS version_id, v.unit_id, v.level, v.code, v.name, p.code AS parent_code,"
            f" ST_AsBinary(v.geom) AS wkb FROM admin_unit_version v"
            f" LEFT JOIN admin_unit_version p ON p.unit_id = v.parent_unit_id"
            f" AND p.valid_from IS NOT NULL AND p.valid_to IS NULL WHERE {live('v')}"
        )
    ).mappings()
    rows = list(rows)
    return gpd.GeoDataFrame(
        [{k: r[k] for k in r if k != "wkb"} for r in rows],
        geometry=[shapely.from_wkb(bytes(r["wkb"])) for r in rows],
        crs=4326,
    ).to_crs(METRIC)


def assert_partition(conn, parent_codes) -> None:
    """Children cover their parent exactly: gap, overlap and spill-over each ≤ 1 m²."""
    live = live_frame(conn)
    for parent_code in parent_codes:
        parent = live.loc[live["code"] == parent_code].geometry.iloc[0]
        kids = live[live["parent_code"] == parent_code]
        union = shapely.union_all(list(kids.geometry))
        assert shapely.difference(parent, union).area <= 1.0, f"gap in {parent_code}"
        assert shapely.difference(union, parent).area <= 1.0, f"spill out of {parent_code}"
        for a, b in itertools.combinations(list(kids.geometry), 2):
            assert shapely.intersection(a, b).area <= 1.0, f"overlap in {parent_code}"


def neighbours(conn, min_border_m: float = 80.0, same_parent: bool = True):
    """Pairs of live grids sharing a border of at least ``min_border_m`` (PostGIS)."""
    op = "=" if same_parent else "<>"
    return conn.execute(
        sa.text(
            f"SELECT a.code, b.code FROM admin_unit_version a JOIN admin_unit_version b"
            f" ON a.level = 'grid' AND b.level = 'grid' AND a.code < b.code"
            f" AND a.parent_unit_id {op} b.parent_unit_id AND ST_Intersects(a.geom, b.geom)"
            f" WHERE {live('a')} AND {live('b')}"
            f" AND ST_Length(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom))::geography)"
            f" > :m ORDER BY a.code LIMIT 5"
        ),
        {"m": min_border_m},
    ).all()


def version_of(conn, code: str) -> int:
    return conn.execute(
        sa.text(f"SELECT id FROM admin_unit_version WHERE code = :c AND {LIVE}"), {"c": code}
    ).scalar_one()


def geometry_of(conn, code: str):
    wkb = conn.execute(
        sa.text(f"SELECT ST_AsBinary(geom) FROM admin_unit_version WHERE code = :c AND {LIVE}"),
        {"c": code},
    ).scalar_one()
    return shapely.from_wkb(bytes(wkb))


def metric(geom):
    return gpd.GeoSeries([geom], crs=4326).to_crs(METRIC).iloc[0]


def lonlat(geom_m):
    return gpd.GeoSeries([geom_m], crs=METRIC).to_crs(4326).iloc[0]


def parent_of(conn, code: str) -> str:
    return conn.execute(
        sa.text(
            f"SELECT p.code FROM admin_unit_version v JOIN admin_unit_version p"
            f" ON p.unit_id = v.parent_unit_id AND {live('p')} WHERE v.code = :c AND {live('v')}"
        ),
        {"c": code},
    ).scalar_one()


def edit_kw(conn, *codes, dry_run=False):
    return {
        "if_match": {c: version_of(conn, c) for c in codes},
        "author": "test planner",
        "reason": "test edit",
        "dry_run": dry_run,
    }


def test_reshape_grow_clips_neighbours(loaded, conn):
    a, b = neighbours(conn)[0]
    community = parent_of(conn, a)
    grown_m = metric(geometry_of(conn, a)).buffer(25, join_style="mitre")
    before_b = metric(geometry_of(conn, b)).area
    out = grid_edits.reshape(conn, a, lonlat(grown_m), mode="clip", **edit_kw(conn, a))
    assert a in out.versions and b in out.versions
    assert_partition(conn, [community])
    # The grid is exactly the drawn shape inside its community (independent shapely).
    expected = grown_m.intersection(metric(geometry_of(conn, community)))
    assert metric(geometry_of(conn, a)).symmetric_difference(expected).area < 1.0
    assert metric(geometry_of(conn, b)).area < before_b - 100


def test_reshape_shrink_gives_released_area_to_neighbours(loaded, conn):
    a, _b = neighbours(conn)[1]
    community = parent_of(conn, a)
    old_m = metric(geometry_of(conn, a))
    shrunk_m = old_m.buffer(-30, join_style="mitre")
    out = grid_edits.reshape(conn, a, lonlat(shrunk_m), mode="clip", **edit_kw(conn, a))
    assert len(out.versions) >= 2  # at least one neighbour took the ring
    assert_partition(conn, [community])
    assert abs(metric(geometry_of(conn, a)).area - shrunk_m.area) < 1.0


def test_reshape_refuse_mode_changes_nothing_and_names_findings(loaded, conn):
    a, b = neighbours(conn)[0]
    grown = lonlat(metric(geometry_of(conn, a)).buffer(25))
    versions = {c: version_of(conn, c) for c in (a, b)}
    with pytest.raises(EditRefused) as err:
        grid_edits.reshape(conn, a, grown, mode="refuse", **edit_kw(conn, a))
    findings = err.value.extra["findings"]["features"]
    assert {f["properties"]["type"] for f in findings} >= {"overlap"}
    assert {c: version_of(conn, c) for c in (a, b)} == versions


def test_move_border_both_neighbours_follow(loaded, conn):
    a, b = neighbours(conn)[2]
    community = parent_of(conn, a)
    ga, gb = metric(geometry_of(conn, a)), metric(geometry_of(conn, b))
    border = ga.boundary.intersection(gb.boundary)
    border = shapely.line_merge(border) if border.geom_type != "LineString" else border
    if border.geom_type != "LineString":
        border = max(border.geoms, key=lambda g: g.length)
    # The new border: the old one pushed 15 m into b, with ends stretched past the grids.
    moved = border.offset_curve(15 if gb.intersects(border.offset_curve(1).centroid) else -15)
    far = shapely.affinity.scale(moved, xfact=3, yfact=3, origin=moved.centroid)
    out = grid_edits.move_border(conn, a, b, lonlat(far), **edit_kw(conn, a, b))
    assert set(out.versions) == {a, b}
    assert_partition(conn, [community])
    na, nb = metric(geometry_of(conn, a)), metric(geometry_of(conn, b))
    assert abs((na.area + nb.area) - (ga.area + gb.area)) < 1.0
    assert na.area > ga.area + 100 and nb.area < gb.area - 100


def test_split_allocates_a_new_code_and_keeps_the_union(loaded, conn):
    (a, _b), *_ = neighbours(conn)
    community = parent_of(conn, a)
    g = metric(geometry_of(conn, a))
    x0, _y0, x1, _y1 = g.bounds
    cy = g.centroid.y
    line = LineString([(x0 - 50, cy), (x1 + 50, cy)])
    pieces = shapely.get_parts(shapely.ops.split(g, line))
    if len(pieces) != 2:
        pytest.fail("the test grid should be cut in two by a horizontal line")
    used = set(
        conn.execute(
            sa.text("SELECT code FROM admin_unit_version WHERE code LIKE :p"),
            {"p": community + "%"},
        ).scalars()
    )
    out = grid_edits.split(conn, a, lonlat(line), **edit_kw(conn, a))
    (new_code,) = out.created
    assert new_code.startswith(community) and new_code not in used
    assert (
        int(new_code[len(community) :])
        == max(int(c[len(community) :]) for c in used if len(c) == len(new_code)) + 1
    )
    assert_partition(conn, [community])
    na, nn = metric(geometry_of(conn, a)), metric(geometry_of(conn, new_code))
    assert na.union(nn).symmetric_difference(g).area < 1.0
    assert abs(na.area - max(p.area for p in pieces)) < 1.0


def test_merge_retires_the_other_grid(loaded, conn):
    a, b = neighbours(conn)[3]
    community = parent_of(conn, a)
    union = metric(geometry_of(conn, a)).union(metric(geometry_of(conn, b)))
    out = grid_edits.merge(conn, [a, b], keep=a, **edit_kw(conn, a, b))
    assert out.retired == [b]
    live_b = conn.execute(
        sa.text(f"SELECT count(*) FROM admin_unit_version WHERE code = :c AND {LIVE}"), {"c": b}
    ).scalar_one()
    assert live_b == 0
    assert metric(geometry_of(conn, a)).symmetric_difference(union).area < 1.0
    assert_partition(conn, [community])
    # Compounds follow: each one's recorded grid is the live grid covering it (PostGIS).
    wrong = conn.execute(
        sa.text(
            f"SELECT count(*) FROM compound c JOIN compound_location l ON l.compound_id = c.id"
            f" JOIN admin_unit_version v ON v.level = 'grid' AND {live('v')}"
            f" AND ST_Covers(v.geom, ST_PointOnSurface(c.geom))"
            f" WHERE l.grid_unit_id IS DISTINCT FROM v.unit_id AND v.code IN (:a, :b)"
        ),
        {"a": a, "b": b},
    ).scalar_one()
    assert wrong == 0


def test_move_grid_to_neighbouring_community(loaded, conn):
    a, b = neighbours(conn, same_parent=False)[0]
    old_c, new_c = parent_of(conn, a), parent_of(conn, b)
    streets = {parent_of(conn, old_c), parent_of(conn, new_c)}
    unit_id = conn.execute(
        sa.text(f"SELECT unit_id FROM admin_unit_version WHERE code = :c AND {LIVE}"), {"c": a}
    ).scalar_one()
    out = grid_edits.move_to_community(conn, a, new_c, **edit_kw(conn, a))
    (new_code,) = [c for c in out.versions if c.startswith(new_c) and len(c) == len(a)]
    assert (
        conn.execute(
            sa.text(f"SELECT unit_id FROM admin_unit_version WHERE code = :c AND {LIVE}"),
            {"c": new_code},
        ).scalar_one()
        == unit_id
    )  # same unit, new code; the old code stays in its history
    history = (
        conn.execute(
            sa.text("SELECT code FROM admin_unit_version WHERE unit_id = :u"), {"u": unit_id}
        )
        .scalars()
        .all()
    )
    assert a in history and new_code in history
    assert_partition(conn, [old_c, new_c, *streets])


def test_stale_if_match_gets_412_and_changes_nothing(loaded, conn):
    a, _b = neighbours(conn)[0]
    kw = edit_kw(conn, a)
    kw["if_match"] = {a: kw["if_match"][a] - 1}
    before = version_of(conn, a)
    with pytest.raises(StaleVersion):
        grid_edits.reshape(conn, a, geometry_of(conn, a), mode="clip", **kw)
    assert version_of(conn, a) == before


def test_dry_run_reports_impact_and_writes_nothing(loaded, conn):
    a, b = neighbours(conn)[3]
    count = conn.execute(sa.text("SELECT count(*) FROM admin_unit_version")).scalar_one()
    out = grid_edits.merge(conn, [a, b], keep=a, **edit_kw(conn, a, b, dry_run=True))
    assert out.versions == {}
    assert conn.execute(sa.text("SELECT count(*) FROM admin_unit_version")).scalar_one() == count
    # Workload after = sum of both grids' workloads before (independent SQL count).
    compounds = conn.execute(
        sa.text(
            f"SELECT count(*) FROM compound c JOIN admin_unit_version v"
            f" ON v.code IN (:a, :b) AND {live('v')}"
            f" AND ST_Covers(v.geom, ST_PointOnSurface(c.geom))"
        ),
        {"a": a, "b": b},
    ).scalar_one()
    assert out.impact["workload_after"][a]["compounds"] == compounds
    moved = {m["id"] for m in out.impact["compounds"]}
    in_b = set(
        conn.execute(
            sa.text(
                f"SELECT c.id FROM compound c JOIN admin_unit_version v ON v.code = :b"
                f" AND {live('v')} AND ST_Covers(v.geom, ST_PointOnSurface(c.geom))"
            ),
            {"b": b},
        ).scalars()
    )
    assert moved == in_b
    # Patrol cells visited in either grid whose centre lies in b now belong to a
    # (centres from h3 itself, containment by PostGIS).
    visited = (
        conn.execute(
            sa.text(
                f"SELECT DISTINCT pv.h3_cell FROM patrol_visit pv"
                f" JOIN admin_unit_version g ON g.unit_id = pv.grid_unit_id AND {live('g')}"
                f" WHERE g.code IN (:a, :b)"
            ),
            {"a": a, "b": b},
        )
        .scalars()
        .all()
    )
    centres = [h3.cell_to_latlng(h3.int_to_str(c)) for c in visited]
    in_b_cells = {
        h3.int_to_str(c)
        for c, (lat, lon) in zip(visited, centres, strict=True)
        if conn.execute(
            sa.text(
                f"SELECT ST_Covers(v.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))"
                f" FROM admin_unit_version v WHERE v.code = :b AND {live('v')}"
            ),
            {"lon": lon, "lat": lat, "b": b},
        ).scalar_one()
    }
    assert in_b_cells, "the sample has patrol visits in both grids"
    assert {m["h3_cell"] for m in out.impact["patrol_cells"]} == in_b_cells
    assert {m["grid_after"] for m in out.impact["patrol_cells"]} == {a}


def test_edit_needs_a_reason(loaded, conn):
    a, _b = neighbours(conn)[0]
    kw = edit_kw(conn, a)
    kw["reason"] = " "
    with pytest.raises(InvalidInput):
        grid_edits.reshape(conn, a, geometry_of(conn, a), mode="clip", **kw)


def test_two_planners_saving_one_border_at_once(edit_db):
    """Two threads move the same border from the same version: one wins, one gets 412,
    and the DB holds exactly the winner's geometry and one new version."""
    _settings, engine = edit_db
    with engine.connect() as c:
        a, b = neighbours(c)[0]
        versions = {x: version_of(c, x) for x in (a, b)}
        ga = metric(geometry_of(c, a))
        count_before = c.execute(
            sa.text("SELECT count(*) FROM admin_unit_version WHERE code IN (:a, :b)"),
            {"a": a, "b": b},
        ).scalar_one()
    shapes = {
        "t1": lonlat(ga.buffer(12, join_style="mitre")),
        "t2": lonlat(ga.buffer(24, join_style="mitre")),
    }
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def save(name: str) -> None:
        with engine.begin() as c:
            barrier.wait()
            try:
                grid_edits.reshape(
                    c,
                    a,
                    shapes[name],
                    mode="clip",
                    if_match={a: versions[a]},
                    author=name,
                    reason="concurrent test",
                    dry_run=False,
                )
                results[name] = "ok"
            except StaleVersion:
                results[name] = "stale"

    threads = [threading.Thread(target=save, args=(n,)) for n in shapes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results.values()) == ["ok", "stale"]
    winner = next(n for n, r in results.items() if r == "ok")
    with engine.connect() as c:
        now_a = metric(geometry_of(c, a))
        expected = metric(shapes[winner]).intersection(metric(geometry_of(c, parent_of(c, a))))
        assert now_a.symmetric_difference(expected).area < 1.0
        author = c.execute(
            sa.text(f"SELECT author FROM admin_unit_version WHERE code = :a AND {LIVE}"), {"a": a}
        ).scalar_one()
        assert author == winner
        count_after = c.execute(
            sa.text("SELECT count(*) FROM admin_unit_version WHERE code IN (:a, :b)"),
            {"a": a, "b": b},
        ).scalar_one()
        assert count_after == count_before + 2  # one new version each of a and b
        assert_partition(c, [parent_of(c, a)])
