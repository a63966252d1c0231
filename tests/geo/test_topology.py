"""Topology validation: one hand-built case per finding type, the sample, and the fixes.

Cases are drawn in metres in EPSG:4547 (Gauss-Krüger CM 114°E) and converted to
lon/lat here with pyproj, so the expected areas are the plain rectangle areas of the
drawing, independent of the validator's own measuring. The base set is a 2 × 1 km
district with two streets, one community each and two grids per community:

    x:  0 ───── 500 ───── 1000 ───── 1500 ───── 2000   (y 0 … 1000)
        │  G1   │   G2    │   G3     │   G4     │
        └─ C1 (street S1) ┴── C2 (street S2) ───┘
"""

import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from geo.errors import InvalidInput
from geo.topology import (
    ValidationOptions,
    findings_to_geojson,
    findings_to_json,
    fix_assign_gap,
    fix_make_valid,
    fix_snap_to_parent,
    fix_split_overlap,
    metric_epsg,
    validate_units,
)

from boundaries.sample import generate_sample_district

E0, N0 = 490_000.0, 3_905_000.0
_TO_LONLAT = Transformer.from_crs(4547, 4326, always_xy=True)
_TO_METRES = Transformer.from_crs(4326, 4547, always_xy=True)

D, S1, S2 = "410711", "410711001", "410711002"
C1, C2 = "410711001001", "410711002001"
G1, G2, G3, G4 = "410711001001001", "410711001001002", "410711002001001", "410711002001002"


def lonlat(geom):
    """Local metres → EPSG:4547 → lon/lat (vertex by vertex, as a surveyor's export)."""

    def xy(c):
        lon, lat = _TO_LONLAT.transform(c[:, 0] + E0, c[:, 1] + N0)
        return np.column_stack([lon, lat])

    return shapely.transform(geom, xy)


def metres(geom):
    """Lon/lat → local metres (the inverse of :func:`lonlat`)."""

    def xy(c):
        x, y = _TO_METRES.transform(c[:, 0], c[:, 1])
        return np.column_stack([np.asarray(x) - E0, np.asarray(y) - N0])

    return shapely.transform(geom, xy)


def base_rows() -> dict[str, dict]:
    return {
        D: {"level": "district", "parent": None, "geom": box(0, 0, 2000, 1000)},
        S1: {"level": "street", "parent": D, "geom": box(0, 0, 1000, 1000)},
        S2: {"level": "street", "parent": D, "geom": box(1000, 0, 2000, 1000)},
        C1: {"level": "community", "parent": S1, "geom": box(0, 0, 1000, 1000)},
        C2: {"level": "community", "parent": S2, "geom": box(1000, 0, 2000, 1000)},
        G1: {"level": "grid", "parent": C1, "geom": box(0, 0, 500, 1000)},
        G2: {"level": "grid", "parent": C1, "geom": box(500, 0, 1000, 1000)},
        G3: {"level": "grid", "parent": C2, "geom": box(1000, 0, 1500, 1000)},
        G4: {"level": "grid", "parent": C2, "geom": box(1500, 0, 2000, 1000)},
    }


def frame(rows: dict[str, dict] | list[tuple[str, dict]]) -> gpd.GeoDataFrame:
    items = list(rows.items()) if isinstance(rows, dict) else rows
    geoms = [r["geom"] for _, r in items]
    return gpd.GeoDataFrame(
        {
            "level": [r["level"] for _, r in items],
            "code": [r.get("code", code) for code, r in items],
            "name": [f"单元{i}" for i in range(len(items))],
            "parent_code": pd.Series([r["parent"] for _, r in items], dtype=object),
        },
        geometry=[None if g is None else lonlat(g) for g in geoms],
        crs=4326,
    )


def special_frame(*geoms) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [f"410711S{i + 1:04d}" for i in range(len(geoms))], "name": "学校"},
        geometry=[lonlat(g) for g in geoms],
        crs=4326,
    )


def geom_of(gdf: gpd.GeoDataFrame, code: str):
    return gdf.geometry[gdf["code"] == code].iloc[0]


def _replace(rows, code, geom_lonlat):
    gdf = frame(rows)
    gdf.loc[gdf["code"] == code, "geometry"] = geom_lonlat
    return gdf


def kinds(findings) -> set[tuple[str, tuple[str, ...]]]:
    return {(f.type, f.codes) for f in findings}


def only(findings, type_):
    found = [f for f in findings if f.type == type_]
    assert len(found) == 1, findings
    return found[0]


def test_the_clean_base_has_no_findings():
    assert validate_units(frame(base_rows())) == []


@pytest.fixture(scope="module")
def sample_units():
    sample = generate_sample_district()
    units = gpd.GeoDataFrame(
        pd.concat([sample.district, sample.streets, sample.communities, sample.grids]),
        crs=4326,
    ).reset_index(drop=True)
    return units, sample.special_grids


def test_the_sample_district_has_no_errors(sample_units):
    units, special = sample_units
    findings = validate_units(units, special)
    assert [f for f in findings if f.severity == "error"] == []


def test_a_moved_sample_grid_is_seen(sample_units):
    units, _ = sample_units
    first = np.flatnonzero(units["level"].to_numpy() == "grid")[0]
    moved = units.copy()
    moved.loc[first, "geometry"] = shapely.affinity.translate(
        moved.geometry.iloc[first], xoff=0.001
    )
    assert {f.type for f in validate_units(moved)} >= {"overlap", "gap"}


def test_a_grid_missing_from_exactly_noded_data_is_a_gap(sample_units):
    # The sample's borders are shared vertex for vertex, so this takes the fast
    # path that compares areas; the hole must still be found and measured.
    units, _ = sample_units
    grid_rows = np.flatnonzero(units["level"].to_numpy() == "grid")
    gone = units.loc[grid_rows[100]]
    findings = validate_units(units.drop(index=grid_rows[100]))
    f = only(findings, "gap")
    assert f.codes == (gone["parent_code"],)
    assert f.area_m2 == pytest.approx(metres(gone.geometry).area, rel=1e-4)  # 1 mm snap
    assert kinds(findings) == {("gap", (gone["parent_code"],))}


# --- invalid geometry -------------------------------------------------------------


@pytest.mark.parametrize(
    ("geom", "reason", "where"),
    [
        # Bow-tie: the edges cross at (250, 500).
        (Polygon([(0, 0), (500, 1000), (500, 0), (0, 1000)]), "self_intersection", (250, 500)),
        # The ring touches itself at (250, 1000): an inverted hole.
        (
            Polygon(
                [
                    (0, 0),
                    (500, 0),
                    (500, 1000),
                    (250, 1000),
                    (300, 500),
                    (200, 500),
                    (250, 1000),
                    (0, 1000),
                ]
            ),
            "ring_self_intersection",
            (250, 1000),
        ),
        (
            Polygon(box(0, 0, 500, 1000).exterior, [[(600, 10), (700, 10), (700, 20)]]),
            "hole_outside_shell",
            (600, 10),
        ),
        (shapely.from_wkt("POLYGON ((0 0, 500 0, 0 0))"), "too_few_points", None),
        (Polygon(), "empty", None),
        (None, "empty", None),
        (LineString([(0, 0), (500, 1000)]), "not_polygon", None),
    ],
)
def test_invalid_geometry_names_the_reason_and_place(geom, reason, where):
    rows = base_rows()
    rows[G1]["geom"] = geom
    found = [f for f in validate_units(frame(rows)) if f.type == "invalid_geometry"]
    assert [(f.codes, f.severity, f.detail["reason"]) for f in found] == [((G1,), "error", reason)]
    if where is not None:
        x, y = metres(found[0].geometry).coords[0]
        assert math.dist((x, y), where) < 0.1  # lines straight in degrees bow by cm


def test_a_spike_is_invalid_and_repaired_without_its_spike():
    # 100 m into the grid and straight back: zero area, so after repair nothing else
    # is wrong. (In metres GEOS calls it a ring self-intersection; in degrees the
    # projection bends the two edges apart and it becomes a crossing.)
    rows = base_rows()
    rows[G1]["geom"] = Polygon(
        [(0, 0), (500, 0), (500, 500), (400, 500), (500, 500), (500, 1000), (0, 1000)]
    )
    found = validate_units(frame(rows))
    assert kinds(found) == {("invalid_geometry", (G1,))}
    assert found[0].detail["reason"] in ("self_intersection", "ring_self_intersection")


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_non_finite_coordinates_are_invalid():
    rows = base_rows()
    bad = frame(rows)
    bad.loc[bad["code"] == G1, "geometry"] = Polygon(
        [(113.9, 35.3), (np.nan, 35.3), (113.9, 35.31)]
    )
    found = only(validate_units(bad), "invalid_geometry")
    assert found.detail["reason"] == "invalid_coordinate"


def test_repeated_vertices_are_only_a_warning_and_fixable():
    rows = base_rows()
    rows[G1]["geom"] = Polygon([(0, 0), (500, 0), (500, 0), (500, 1000), (0, 1000)])
    found = validate_units(frame(rows))
    assert [(f.type, f.severity, f.codes, f.detail["reason"]) for f in found] == [
        ("invalid_geometry", "warning", (G1,), "duplicate_vertices")
    ]
    fixed = fix_make_valid(lonlat(rows[G1]["geom"]))
    assert len(fixed.geoms[0].exterior.coords) == 5
    assert validate_units(_replace(rows, G1, fixed)) == []
    assert fix_make_valid(None).is_empty and fix_make_valid(Polygon()).is_empty


def test_an_invalid_grid_is_repaired_for_the_other_checks():
    # The bow-tie keeps its two triangles; the top and bottom triangles are gaps.
    rows = base_rows()
    rows[G1]["geom"] = Polygon([(0, 0), (500, 1000), (500, 0), (0, 1000)])
    findings = validate_units(frame(rows))
    assert kinds(findings) == {("invalid_geometry", (G1,)), ("gap", (C1,))}
    gaps = [f for f in findings if f.type == "gap"]
    assert len(gaps) == 2
    for gap in gaps:
        assert gap.area_m2 == pytest.approx(0.5 * 500 * 500, rel=1e-3)


# --- hierarchy --------------------------------------------------------------------


def test_outside_parent_reports_the_area_beyond_the_parent():
    rows = base_rows()
    rows[G4]["geom"] = box(1500, 0, 2030, 1000)
    findings = validate_units(frame(rows))
    assert kinds(findings) == {("outside_parent", (G4, C2))}
    f = findings[0]
    assert f.severity == "error"
    assert f.area_m2 == pytest.approx(30 * 1000, rel=1e-3)
    assert metres(f.geometry).area == pytest.approx(30 * 1000, rel=1e-3)
    assert f.detail["share_outside"] == pytest.approx(30 / 530, rel=1e-3)


def test_sibling_overlap():
    rows = base_rows()
    rows[G1]["geom"] = box(0, 0, 520, 1000)
    findings = validate_units(frame(rows))
    assert kinds(findings) == {("overlap", (G1, G2))}
    assert findings[0].area_m2 == pytest.approx(20 * 1000, rel=1e-3)
    assert findings[0].detail["siblings"] is True


def test_cousin_overlap_is_an_overlap_and_outside_parent():
    rows = base_rows()
    rows[G2]["geom"] = box(500, 0, 1030, 1000)
    findings = validate_units(frame(rows))
    assert kinds(findings) == {("overlap", (G2, G3)), ("outside_parent", (G2, C1))}
    assert only(findings, "overlap").detail["siblings"] is False
    for f in findings:
        assert f.area_m2 == pytest.approx(30 * 1000, rel=1e-3)


def test_one_gap_finding_per_uncovered_polygon():
    rows = base_rows()
    rows[G2]["geom"] = box(500, 0, 1000, 400)
    rows["410711001001003"] = {"level": "grid", "parent": C1, "geom": box(500, 450, 1000, 950)}
    findings = validate_units(frame(rows))
    assert kinds(findings) == {("gap", (C1,))}
    assert len(findings) == 2
    assert sorted(metres(f.geometry).bounds[1] for f in findings) == pytest.approx(
        [400, 950], abs=0.01
    )
    for f in findings:
        assert f.area_m2 == pytest.approx(500 * 50, rel=1e-3)
        assert f.severity == "error"


def test_gap_suggests_the_neighbour_with_the_longest_border():
    rows = base_rows()
    rows[G2]["geom"] = box(500, 0, 1000, 960)  # gap 500 × 40 on top of G2, beside G1
    f = only(validate_units(frame(rows)), "gap")
    assert f.area_m2 == pytest.approx(500 * 40, rel=1e-3)
    assert f.detail["suggested_owner"] == G2
    assert f.detail["neighbours"] == pytest.approx({G1: 40.0, G2: 500.0}, abs=0.05)


def test_a_community_without_grids_is_one_big_gap():
    rows = base_rows()
    del rows[G3], rows[G4]
    f = only(validate_units(frame(rows)), "gap")
    assert f.codes == (C2,)
    assert f.area_m2 == pytest.approx(1000 * 1000, rel=1e-3)
    assert f.detail["no_children"] is True


def test_multi_parent_grid():
    rows = base_rows()
    rows[G2]["geom"] = box(500, 0, 1300, 1000)  # 300 m of its 800 m width lies in C2
    findings = validate_units(frame(rows))
    assert kinds(findings) == {
        ("multi_parent", (G2, C1, C2)),
        ("outside_parent", (G2, C1)),
        ("overlap", (G2, G3)),
    }
    f = only(findings, "multi_parent")
    assert f.area_m2 == pytest.approx(300 * 1000, rel=1e-3)
    assert f.detail["shares"] == pytest.approx({C1: 500 / 800, C2: 300 / 800}, rel=1e-3)


def test_a_small_share_in_another_community_is_not_multi_parent():
    rows = base_rows()
    rows[G2]["geom"] = box(500, 0, 1030, 1000)  # 30/530 = 6 % < 10 %
    assert "multi_parent" not in {f.type for f in validate_units(frame(rows))}
    strict = ValidationOptions(multi_parent_share=0.05)
    assert "multi_parent" in {f.type for f in validate_units(frame(rows), options=strict)}


# --- slivers ----------------------------------------------------------------------


def test_thin_gap_is_a_sliver():
    rows = base_rows()
    rows[G1]["geom"] = box(0, 0, 499.5, 1000)
    f = only(validate_units(frame(rows)), "sliver")
    assert (f.codes, f.severity, f.detail["kind"]) == ((C1,), "warning", "gap")
    assert f.area_m2 == pytest.approx(0.5 * 1000, rel=1e-3)
    assert f.detail["mean_width_m"] == pytest.approx(0.5, rel=0.01)


def test_a_thin_but_road_wide_gap_stays_a_gap():
    # 10 m × 1000 m is as thin as a sliver (4πA/P² ≈ 0.06) but as wide as a road
    # nobody was assigned: an error, not a digitising warning.
    rows = base_rows()
    rows[G1]["geom"] = box(0, 0, 490, 1000)
    f = only(validate_units(frame(rows)), "gap")
    assert (f.codes, f.severity) == ((C1,), "error")
    assert f.area_m2 == pytest.approx(10 * 1000, rel=1e-3)


def test_tiny_overlap_is_a_sliver_and_tolerance_hides_noise():
    rows = base_rows()
    rows[G1]["geom"] = box(0, 0, 500.1, 1000)  # 100 m² overlap
    f = only(validate_units(frame(rows)), "sliver")
    assert (f.codes, f.detail["kind"]) == ((G1, G2), "overlap")
    assert f.area_m2 == pytest.approx(100, rel=1e-3)
    assert validate_units(frame(rows), options=ValidationOptions(overlap_tolerance_m2=150)) == []


def test_a_leftover_strip_grid_is_a_sliver_part():
    rows = base_rows()
    rows[G2]["geom"] = box(500, 0, 1000, 996)
    rows["410711001001003"] = {"level": "grid", "parent": C1, "geom": box(500, 996, 1000, 1000)}
    f = only(validate_units(frame(rows)), "sliver")
    assert (f.codes, f.detail["kind"], f.detail["whole_unit"]) == (
        ("410711001001003",),
        "part",
        True,
    )
    assert f.area_m2 == pytest.approx(2000, rel=1e-3)


def test_a_stray_part_outside_the_parent_is_two_slivers():
    rows = base_rows()
    rows[G4]["geom"] = MultiPolygon([box(1500, 0, 2000, 1000), box(2100, 0, 2110, 10)])
    findings = validate_units(frame(rows))
    assert {(f.type, f.codes, f.detail["kind"]) for f in findings} == {
        ("sliver", (G4,), "part"),
        ("sliver", (G4, C2), "outside_parent"),
    }
    for f in findings:
        assert f.area_m2 == pytest.approx(100, rel=1e-3)
        assert f.severity == "warning"


# --- codes ------------------------------------------------------------------------


def test_duplicate_code():
    rows = list(base_rows().items())
    rows[-1] = (G3, {**rows[-1][1]})  # G4 now claims G3's code
    findings = validate_units(frame(rows))
    f = only(findings, "duplicate_code")
    assert (f.codes, f.detail["count"]) == ((G3,), 2)
    assert kinds(findings) == {("duplicate_code", (G3,))}


@pytest.mark.parametrize(
    "bad", ["4107110020010021", "41071100200100A", "41071100200100２", "410711002001000"]
)
def test_malformed_code(bad):
    rows = base_rows()
    rows[G4]["code"] = bad
    assert kinds(validate_units(frame(rows))) == {("malformed_code", (bad,))}


def test_grid_number_width_is_an_option():
    rows = base_rows()
    for g in (G1, G2, G3, G4):
        rows[g]["code"] = g[:12] + g[-2:]
    assert {f.type for f in validate_units(frame(rows))} == {"malformed_code"}
    assert validate_units(frame(rows), options=ValidationOptions(grid_number_width=2)) == []


def test_code_prefix_points_to_the_parent_its_code_names():
    rows = base_rows()
    rows[G4]["code"] = "410711001001003"  # under C1 by its code, C2 by its parent
    f = only(validate_units(frame(rows)), "code_prefix")
    assert f.codes == ("410711001001003", C2)
    assert f.detail["expected_parent_code"] == C1
    assert kinds(validate_units(frame(rows))) == {("code_prefix", ("410711001001003", C2))}


@pytest.mark.parametrize(
    ("parent", "reason"),
    [("410711002009", "not_in_set"), (None, "missing_parent_code"), (S2, "wrong_level")],
)
def test_orphan(parent, reason):
    rows = base_rows()
    rows[G4].update(parent=parent, code="410711002009001" if parent == "410711002009" else G4)
    findings = validate_units(frame(rows))
    code = rows[G4].get("code", G4)
    # With G4 gone from C2's children, its half of C2 is a gap.
    assert kinds(findings) == {("orphan", (code,)), ("gap", (C2,))}
    f = only(findings, "orphan")
    assert (f.detail["reason"], f.detail["spatial_parent"]) == (reason, C2)
    assert only(findings, "gap").area_m2 == pytest.approx(500 * 1000, rel=1e-3)


@pytest.mark.parametrize("levels", [("grid",), ("district", "street")])
def test_a_partial_set_is_checked_only_between_its_levels(levels):
    # Grids alone have no orphans; streets without communities have no gaps.
    rows = {k: v for k, v in base_rows().items() if v["level"] in levels}
    assert validate_units(frame(rows)) == []


def test_children_of_a_parent_without_geometry_are_not_outside_it():
    rows = base_rows()
    rows[C2]["geom"] = Polygon()
    # The street is left with no usable community: that is its gap, not G3/G4's fault.
    assert kinds(validate_units(frame(rows))) == {("invalid_geometry", (C2,)), ("gap", (S2,))}


def test_special_grid_outside_the_district():
    inside, straddling = box(100, 100, 300, 300), box(1900, 400, 2100, 600)
    findings = validate_units(frame(base_rows()), special_frame(inside, straddling))
    assert kinds(findings) == {("special_outside_district", ("410711S0002", D))}
    assert findings[0].area_m2 == pytest.approx(100 * 200, rel=1e-3)


def test_bad_input_is_refused():
    rows = frame(base_rows())
    with pytest.raises(InvalidInput):
        validate_units(rows.drop(columns="level"))
    rows.loc[0, "level"] = "province"
    with pytest.raises(InvalidInput):
        validate_units(rows)


def test_metric_zone_follows_longitude():
    # CM 114°E, 111°E, 117°E; 60°E is clamped to the first CGCS2000 zone (75°E).
    assert [metric_epsg(x) for x in (113.9, 112.4, 116.0, 60.0)] == [4547, 4546, 4548, 4534]


def test_input_in_a_projected_crs_is_converted():
    gk = frame(base_rows())
    gk.loc[gk["code"] == G1, "geometry"] = lonlat(box(0, 0, 520, 1000))
    f = only(validate_units(gk.to_crs(4547)), "overlap")
    assert f.area_m2 == pytest.approx(20 * 1000, rel=1e-3)


# --- output -----------------------------------------------------------------------


def test_findings_as_json_and_geojson():
    rows = base_rows()
    rows[G1]["geom"] = box(0, 0, 520, 1000)
    rows[G4].update(parent="410711002009", code="410711002009001")
    findings = validate_units(frame(rows))
    as_json = json.loads(json.dumps(findings_to_json(findings), ensure_ascii=False))
    assert [(d["type"], tuple(d["codes"])) for d in as_json] == [
        (f.type, f.codes) for f in findings
    ]
    orphan = next(d for d in as_json if d["type"] == "orphan")
    assert orphan["geometry"] is None and orphan["area_m2"] is None
    assert "410711002009" in orphan["message_zh"]
    fc = json.loads(json.dumps(findings_to_geojson(findings)))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == len(findings)
    overlap = next(f for f in fc["features"] if f["properties"]["type"] == "overlap")
    assert overlap["geometry"]["type"] == "Polygon"
    assert metres(shapely.geometry.shape(overlap["geometry"])).area == pytest.approx(
        20_000, rel=1e-3
    )


# --- fixes ------------------------------------------------------------------------


def test_fix_make_valid_removes_the_finding():
    rows = base_rows()
    rows[G1]["geom"] = Polygon(
        [(0, 0), (500, 0), (500, 500), (400, 500), (500, 500), (500, 1000), (0, 1000)]
    )
    fixed = fix_make_valid(lonlat(rows[G1]["geom"]))
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon"
    assert metres(fixed).area == pytest.approx(500 * 1000, rel=1e-6)
    assert validate_units(_replace(rows, G1, fixed)) == []


@pytest.mark.parametrize("edge", [2000.5, 1999.6])
def test_fix_snap_to_parent_closes_hairline_mismatches(edge):
    rows = base_rows()
    rows[G4]["geom"] = box(1500, 0, edge, 1000)
    assert validate_units(frame(rows)) != []
    gdf = frame(rows)
    fixed = fix_snap_to_parent(geom_of(gdf, G4), geom_of(gdf, C2), tolerance_m=1.0)
    assert fixed.is_valid
    assert validate_units(_replace(rows, G4, fixed)) == []


def test_fix_snap_to_parent_keeps_real_overhangs():
    rows = base_rows()
    rows[G4]["geom"] = box(1500, 0, 2030, 1000)
    gdf = frame(rows)
    fixed = fix_snap_to_parent(geom_of(gdf, G4), geom_of(gdf, C2), tolerance_m=1.0)
    f = only(validate_units(_replace(rows, G4, fixed)), "outside_parent")
    assert f.area_m2 == pytest.approx(30 * 1000, rel=1e-3)


def test_fix_assign_gap_picks_the_longest_border_and_closes_the_gap():
    rows = base_rows()
    rows[G2]["geom"] = box(500, 0, 1000, 960)
    gdf = frame(rows)
    gap = only(validate_units(gdf), "gap").geometry
    neighbours = {c: geom_of(gdf, c) for c in (G1, G2, G3)}
    assert fix_assign_gap(gap, neighbours) == G2
    merged = fix_make_valid(shapely.union_all([neighbours[G2], gap]))
    assert validate_units(_replace(rows, G2, merged)) == []
    far = {G4: geom_of(gdf, G4)}
    assert fix_assign_gap(gap, far) is None


def test_fix_split_overlap_halves_the_overlap_and_covers_the_union():
    rows = base_rows()
    rows[G1]["geom"] = box(0, 0, 520, 1000)
    gdf = frame(rows)
    a, b = geom_of(gdf, G1), geom_of(gdf, G2)
    a2, b2 = fix_split_overlap(a, b)
    assert a2.is_valid and b2.is_valid
    ma, mb = metres(a2), metres(b2)
    assert ma.intersection(mb).area < 1e-3
    # In metres: a T-junction bows by centimetres between degrees and metres.
    assert metres(a).union(metres(b)).symmetric_difference(ma.union(mb)).area < 1e-3
    # The medial cut of a 20 m strip runs down its middle: 10 m each.
    assert ma.area == pytest.approx(510 * 1000, rel=1e-3)
    assert mb.area == pytest.approx(490 * 1000, rel=1e-3)
    gdf.loc[gdf["code"] == G1, "geometry"] = a2
    gdf.loc[gdf["code"] == G2, "geometry"] = b2
    assert validate_units(gdf) == []


def test_fix_split_overlap_when_one_lies_inside_the_other():
    outer, inner = lonlat(box(0, 0, 1000, 1000)), lonlat(box(200, 200, 400, 400))
    inner2, outer2 = fix_split_overlap(inner, outer)
    assert metres(inner2).area == pytest.approx(200 * 200, rel=1e-6)
    assert metres(outer2).area == pytest.approx(1000 * 1000 - 200 * 200, rel=1e-6)
    assert metres(inner2).intersection(metres(outer2)).area < 1e-3
