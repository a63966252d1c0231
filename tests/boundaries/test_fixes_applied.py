"""Fix helpers applied on request to a DRAFT set (never the live map), and --make-valid at
import. A dirty draft is made from the live sample grids (a gap, an overlap, a sliver
outside the parent); after each fix the problem area is measured again with shapely
in a metric CRS, independently of the validator."""

from __future__ import annotations

import hashlib

import geopandas as gpd
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import MultiPolygon, Polygon
from typer.testing import CliRunner

from geo.errors import Conflict, InvalidInput
from geo.services.fixes import apply_fix
from geo.store import boundaries as bstore
from geo.topology.fixes import make_valid_all

from api.cli import app
from boundaries import sets

METRIC = 4547
LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"
DEG_PER_M = 1 / 111_000  # near enough at 35°N for building test shapes


def m(geom) -> shapely.Geometry:
    return gpd.GeoSeries([geom], crs=4326).to_crs(METRIC).iloc[0]


def area(geom) -> float:
    return m(geom).area


def live_digest(conn) -> str:
    rows = conn.execute(
        sa.text(
            "SELECT id, code, name, encode(ST_AsEWKB(geom), 'hex'), valid_from, valid_to "
            "FROM admin_unit_version WHERE valid_from IS NOT NULL ORDER BY id"
        )
    ).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def draft_geoms(conn, set_id: int) -> dict[str, shapely.Geometry]:
    rows = conn.execute(
        sa.text(
            "SELECT code, ST_AsBinary(geom) FROM admin_unit_version WHERE boundary_set_id = :s"
        ),
        {"s": set_id},
    ).all()
    return {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}


def live_geom(conn, code: str):
    wkb = conn.execute(
        sa.text(f"SELECT ST_AsBinary(geom) FROM admin_unit_version WHERE {LIVE} AND code = :c"),
        {"c": code},
    ).scalar_one()
    return shapely.from_wkb(bytes(wkb))


def sibling_pairs(grids: gpd.GeoDataFrame, community: str) -> list[tuple[str, str]]:
    """Pairs of grids of one community sharing a border longer than 100 m."""
    kids = grids[grids["parent_code"] == community]
    metric = kids.to_crs(METRIC).set_index("code").geometry
    pairs = []
    codes = sorted(metric.index)
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            shared = metric[a].boundary.intersection(metric[b].boundary.buffer(0.01)).length
            if shared > 100:
                pairs.append((a, b))
    return pairs


def edge_grid(grids, community_geom, community: str, exclude: set[str]) -> str:
    """A grid of the community with a long stretch of the community's border."""
    border = m(community_geom).boundary.buffer(0.01)
    best = max(
        (r for r in grids[grids["parent_code"] == community].itertuples() if r.code not in exclude),
        key=lambda r: m(r.geometry).boundary.intersection(border).length,
    )
    return best.code


@pytest.fixture()
def dirty(loaded, conn):
    """A draft of the whole grid layer with a gap, an overlap and an outside sliver."""
    live = bstore.units_frame(conn)
    grids = live[live["level"] == "grid"][["level", "code", "name", "parent_code", "geometry"]]
    grids = grids.copy().reset_index(drop=True)
    communities = live[live["level"] == "community"].set_index("code")
    community = next(
        c
        for c in sorted(communities.index)
        if len(sibling_pairs(grids, c)) >= 3 and (grids["parent_code"] == c).sum() >= 5
    )
    pairs = sibling_pairs(grids, community)
    (g1, g2) = pairs[0]
    (g3, g4) = next(p for p in pairs if not set(p) & {g1, g2})
    g5 = edge_grid(grids, communities.loc[community, "geometry"], community, {g1, g2, g3, g4})
    geo = dict(zip(grids["code"], grids.geometry, strict=True))
    # Gap: g1 pulled back 20 m from g2. Overlap: g3 pushed 15 m into g4.
    new1 = geo[g1].difference(geo[g2].buffer(20 * DEG_PER_M))
    new3 = geo[g3].union(geo[g4].intersection(geo[g3].buffer(15 * DEG_PER_M)))
    # Outside sliver: g5 spills ~0.5 m over the community border.
    parent = communities.loc[community, "geometry"]
    new5 = geo[g5].union(geo[g5].buffer(0.5 * DEG_PER_M).difference(parent))
    for code, g in ((g1, new1), (g3, new3), (g5, new5)):
        g = shapely.make_valid(g)
        parts = [p for p in getattr(g, "geoms", [g]) if isinstance(p, Polygon)]
        grids.loc[grids["code"] == code, "geometry"] = MultiPolygon(parts)
    set_id = bstore.create_draft_set(conn, grids, name="dirty", author="test")
    return {
        "set_id": set_id,
        "community": community,
        "parent": parent,
        "codes": (g1, g2, g3, g4, g5),
        "original": geo,
        "dirty": dict(zip(grids["code"], grids.geometry, strict=True)),
    }


def test_assign_gap_fills_the_parent(dirty, conn):
    set_id, community, parent = dirty["set_id"], dirty["community"], dirty["parent"]
    g1, g2, *_ = dirty["codes"]
    kids_before = [g for c, g in draft_geoms(conn, set_id).items() if c.startswith(community)]
    gap_before = area(parent.difference(shapely.union_all(kids_before)))
    assert gap_before > 500  # a real gap, not noise
    live_before = live_digest(conn)

    result = apply_fix(conn, set_id, "assign_gap", [community], author="planner")
    after = draft_geoms(conn, set_id)
    kids = {c: g for c, g in after.items() if c.startswith(community)}
    union = shapely.union_all(list(kids.values()))
    assert area(parent.difference(union)) <= 1.0
    # Area preserved: the children now cover exactly what they covered plus the gap.
    assert area(union) == pytest.approx(area(shapely.union_all(kids_before)) + gap_before, abs=1.0)
    assert set(result.changed) <= {g1, g2} and result.changed
    # The gap went to a grid that borders it, and no new overlap appeared between siblings.
    for a in kids:
        for b in kids:
            if a < b:
                assert area(kids[a].intersection(kids[b])) <= 1.0 or {a, b} == set(
                    dirty["codes"][2:4]
                )
    assert result.before["by_type"].get("gap", 0) > result.after["by_type"].get("gap", 0)
    assert all(g.is_valid for g in after.values())
    assert live_digest(conn) == live_before  # the live map is untouched
    audit = conn.execute(
        sa.text("SELECT detail->>'fix' FROM audit_log WHERE action = 'boundary_set.fix'")
    ).scalars()
    assert "assign_gap" in list(audit)


def test_split_overlap_halves_it(dirty, conn):
    set_id = dirty["set_id"]
    _, _, g3, g4, _ = dirty["codes"]
    before = draft_geoms(conn, set_id)
    overlap_before = area(before[g3].intersection(before[g4]))
    assert overlap_before > 500
    union_before = area(before[g3].union(before[g4]))

    result = apply_fix(conn, set_id, "split_overlap", [g3, g4], author="planner")
    after = draft_geoms(conn, set_id)
    assert area(after[g3].intersection(after[g4])) <= 1.0
    assert area(after[g3].union(after[g4])) == pytest.approx(union_before, abs=1.0)
    assert area(after[g3]) + area(after[g4]) == pytest.approx(union_before, abs=1.0)
    # Split, not handed to one side: each gets part of the overlap.
    assert area(after[g3]) > area(dirty["original"][g3]) + 1
    assert area(after[g4]) > area(before[g4]) - overlap_before + 1
    assert sorted(result.changed) == sorted([g3, g4])
    assert result.before["by_type"]["overlap"] > result.after["by_type"].get("overlap", 0)
    untouched = {c for c in before if c not in (g3, g4)}
    assert all(before[c].equals_exact(after[c], 0) for c in untouched)


def test_snap_to_parent_cuts_the_outside_sliver(dirty, conn):
    set_id, parent = dirty["set_id"], dirty["parent"]
    g5 = dirty["codes"][4]
    before = draft_geoms(conn, set_id)[g5]
    assert area(before.difference(parent)) > 1.0
    result = apply_fix(conn, set_id, "snap_to_parent", [g5], tolerance_m=1.0, author="planner")
    after = draft_geoms(conn, set_id)[g5]
    assert area(after.difference(parent)) <= 1.0
    assert area(after) == pytest.approx(area(dirty["original"][g5]), abs=1.0)
    assert result.changed == [g5]


def test_fixes_refuse_a_published_set_and_bad_requests(dirty, conn):
    active = conn.execute(
        sa.text("SELECT id FROM boundary_set WHERE status = 'active' ORDER BY id LIMIT 1")
    ).scalar_one()
    live_before = live_digest(conn)
    _, _, g3, g4, _ = dirty["codes"]
    with pytest.raises(Conflict):
        apply_fix(conn, active, "split_overlap", [g3, g4], author="planner")
    assert live_digest(conn) == live_before
    with pytest.raises(InvalidInput):
        apply_fix(conn, dirty["set_id"], "split_overlap", [g3], author="planner")
    with pytest.raises(InvalidInput):
        apply_fix(conn, dirty["set_id"], "smooth", [g3], author="planner")
    with pytest.raises(InvalidInput):
        apply_fix(conn, dirty["set_id"], "snap_to_parent", ["000000"], author="planner")


def _bowtie_grid_file(conn, tmp_path):
    live = bstore.units_frame(conn)
    grids = live[live["level"] == "grid"][["code", "name", "parent_code", "geometry"]].copy()
    grids = grids.reset_index(drop=True)
    x0, y0, x1, y1 = grids.geometry.iloc[0].bounds
    bowtie = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    grids.loc[0, "geometry"] = MultiPolygon([bowtie])
    path = tmp_path / "grids.geojson"
    grids.to_file(path, driver="GeoJSON", engine="pyogrio")
    return path, grids["code"].iloc[0], bowtie


def test_make_valid_at_import_is_opt_in_and_reported(loaded, conn, tmp_path):
    path, code, bowtie = _bowtie_grid_file(conn, tmp_path)
    with pytest.raises(InvalidInput, match=code):
        sets.import_file(conn, path, level="grid", author="test")
    result, repaired = sets.import_file_made_valid(conn, path, level="grid", author="test")
    assert repaired == [code]
    stored = draft_geoms(conn, result.boundary_set_id)
    assert len(stored) == 611 and stored[code].is_valid
    expected = shapely.make_valid(bowtie, method="structure")
    assert area(stored[code]) == pytest.approx(area(expected), rel=1e-9)
    # Every other grid is stored exactly as it is live.
    other = next(c for c in stored if c != code)
    assert stored[other].equals_exact(live_geom(conn, other), 0)


def test_make_valid_all_is_pure_and_leaves_valid_shapes_alone():
    good = Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])
    bad = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    frame = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[good, bad], crs=4326)
    fixed, repaired = make_valid_all(frame)
    assert repaired == [1]
    assert fixed.geometry.iloc[0] is good  # untouched, same object
    assert fixed.geometry.iloc[1].is_valid and fixed.geometry.iloc[1].area == pytest.approx(0.5)
    assert not frame.geometry.iloc[1].is_valid  # the input frame is not modified


def test_cli_fix_on_a_draft(edit_db, tmp_path, monkeypatch):
    settings, engine = edit_db
    monkeypatch.setenv("GRIDMAP_PG_DATABASE", settings.pg_database)
    monkeypatch.setenv("GRIDMAP_PG_PORT", str(settings.local_pg_port()))
    monkeypatch.delenv("GRIDMAP_DATABASE_URL", raising=False)
    with engine.begin() as conn:
        live = bstore.units_frame(conn)
        grids = live[live["level"] == "grid"][["level", "code", "name", "parent_code", "geometry"]]
        grids = grids.copy().reset_index(drop=True)
        pairs = []
        for c in sorted(set(grids["parent_code"])):
            pairs = sibling_pairs(grids, c)
            if pairs:
                break
        a, b = pairs[0]
        ga, gb = (grids.loc[grids["code"] == x, "geometry"].iloc[0] for x in (a, b))
        grown = ga.union(gb.intersection(ga.buffer(15 * DEG_PER_M)))
        grids.loc[grids["code"] == a, "geometry"] = MultiPolygon(
            [p for p in getattr(grown, "geoms", [grown]) if isinstance(p, Polygon)]
        )
        set_id = bstore.create_draft_set(conn, grids, name="cli dirty", author="test")
        active = conn.execute(
            sa.text("SELECT id FROM boundary_set WHERE status = 'active' ORDER BY id LIMIT 1")
        ).scalar_one()
        union_before = area(shapely.union_all([grown, gb]))
    r = CliRunner().invoke(app, ["fix", str(set_id), "overlap", a, b])
    assert r.exit_code == 0, r.output
    with engine.connect() as conn:
        after = draft_geoms(conn, set_id)
    assert area(after[a].intersection(after[b])) <= 1.0
    assert area(after[a].union(after[b])) == pytest.approx(union_before, abs=1.0)
    r = CliRunner().invoke(app, ["fix", str(active), "overlap", a, b])
    assert r.exit_code != 0 and "draft" in r.output
    r = CliRunner().invoke(app, ["fix", str(set_id), "smooth", a])
    assert r.exit_code != 0 and "smooth" in r.output
