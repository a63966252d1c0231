"""GET /v1/incidents/heat against an independent pandas/h3/shapely computation.

The reference reads the raw incident, compound and boundary rows with plain SQL and
bins them with h3 directly (not through geo/), so the endpoint's SQL, windowing and
aggregation are all checked.
"""

from datetime import datetime, timedelta, timezone

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

BEIJING = timezone(timedelta(hours=8))

RAW_SQL = sa.text(
    """
    SELECT ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.reported_at, i.category,
           i.grid_unit_id, s.code AS street_code, c.code AS community_code
    FROM incident i
    LEFT JOIN admin_unit_version s ON s.unit_id = i.street_unit_id
      AND s.valid_from IS NOT NULL AND s.valid_to IS NULL
    LEFT JOIN admin_unit_version c ON c.unit_id = i.community_unit_id
      AND c.valid_from IS NOT NULL AND c.valid_to IS NULL
    """
)
GRIDS_SQL = sa.text(
    """
    SELECT g.unit_id, g.code, ST_AsBinary(g.geom) AS wkb, c.code AS community_code,
           s.code AS street_code
    FROM admin_unit_version g
    JOIN admin_unit_version c ON c.unit_id = g.parent_unit_id
      AND c.valid_from IS NOT NULL AND c.valid_to IS NULL
    JOIN admin_unit_version s ON s.unit_id = c.parent_unit_id
      AND s.valid_from IS NOT NULL AND s.valid_to IS NULL
    WHERE g.level = 'grid' AND g.valid_from IS NOT NULL AND g.valid_to IS NULL
    """
)
COMPOUNDS_SQL = sa.text("SELECT households, ST_AsBinary(geom) AS wkb FROM compound")


@pytest.fixture(scope="module")
def raw(client, db_engine):
    with db_engine.connect() as conn:
        inc = pd.DataFrame(conn.execute(RAW_SQL).mappings().all())
        grids = pd.DataFrame(conn.execute(GRIDS_SQL).mappings().all())
        comp = pd.DataFrame(conn.execute(COMPOUNDS_SQL).mappings().all())
    inc["reported_at"] = pd.to_datetime(inc["reported_at"], utc=True)
    grids["geometry"] = shapely.from_wkb([bytes(b) for b in grids["wkb"]])
    comp["geometry"] = shapely.from_wkb([bytes(b) for b in comp["wkb"]])
    return inc, grids, comp


def _expected_cells(inc, start, end, res):
    prev = start - (end - start)
    cells = [h3.latlng_to_cell(y, x, res) for x, y in zip(inc["lon"], inc["lat"], strict=True)]
    frame = inc.assign(cell=cells)
    now = frame[(frame["reported_at"] >= start) & (frame["reported_at"] < end)]
    before = frame[(frame["reported_at"] >= prev) & (frame["reported_at"] < start)]
    return now["cell"].value_counts().to_dict(), before["cell"].value_counts().to_dict()


def _households(grids, comp):
    pts = shapely.point_on_surface(comp["geometry"].to_numpy())
    out = {}
    for r in grids.itertuples():
        inside = shapely.contains(r.geometry, pts)
        out[int(r.unit_id)] = int(np.nansum(comp["households"].to_numpy(dtype=float)[inside]))
    return out


def test_default_window_cells_equal_h3_binning(client, raw):
    inc, _, _ = raw
    r = client.get("/v1/incidents/heat")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    newest_day = inc["reported_at"].max().tz_convert(BEIJING).date()
    end = datetime.combine(newest_day + timedelta(days=1), datetime.min.time(), BEIJING)
    start = end - timedelta(days=30)
    assert datetime.fromisoformat(body["window"]["to"]) == end
    assert datetime.fromisoformat(body["window"]["from"]) == start
    assert datetime.fromisoformat(body["previous_window"]["to"]) == start
    assert body["res"] == 9
    now, before = _expected_cells(inc, pd.Timestamp(start), pd.Timestamp(end), 9)
    got = {c["cell"]: c["count"] for c in body["cells"] if c["count"]}
    assert got == now and sum(now.values()) == body["total"] > 0
    got_prev = {c["cell"]: c["previous"] for c in body["cells"] if c["previous"]}
    assert got_prev == before
    for c in body["cells"]:
        assert h3.is_valid_cell(c["cell"]) and isinstance(c["cell"], str)
        assert c["change"] == c["count"] - c["previous"]


@pytest.mark.parametrize("res", [7, 11, 12])
def test_filters_and_change_vs_previous_window(client, raw, res):
    inc, grids, _ = raw
    street = sorted(grids["street_code"].unique())[1]
    cats = ["environment", "noise"]
    r = client.get(
        "/v1/incidents/heat",
        params={
            "res": res,
            "from": "2026-10-17",
            "to": "2026-10-31",
            "category": cats,
            "street": street,
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    start = pd.Timestamp(datetime(2026, 10, 17, tzinfo=BEIJING))
    end = pd.Timestamp(datetime(2026, 11, 1, tzinfo=BEIJING))
    assert body["window"]["days"] == 15
    sel = inc[inc["category"].isin(cats) & (inc["street_code"] == street)]
    now, before = _expected_cells(sel, start, end, res)
    assert sum(now.values()) > 0 and sum(before.values()) > 0
    cells = {c["cell"]: c for c in body["cells"]}
    assert set(cells) == set(now) | set(before)
    for cell, c in cells.items():
        assert c["count"] == now.get(cell, 0)
        assert c["previous"] == before.get(cell, 0)
        if c["previous"]:
            assert c["change_pct"] == pytest.approx(
                100 * (c["count"] - c["previous"]) / c["previous"], abs=1e-3
            )
        else:
            assert c["change_pct"] is None
        gain = c["count"] - c["previous"]
        assert c["rising"] == (gain >= 3 and c["count"] >= 2 * c["previous"])
    # Only the street's grids are listed.
    expected_grids = set(grids.loc[grids["street_code"] == street, "code"])
    assert {g["code"] for g in body["grids"]} == expected_grids


def test_grid_totals_and_household_rates(client, raw):
    inc, grids, comp = raw
    community = sorted(grids["community_code"].unique())[3]
    r = client.get(
        "/v1/incidents/heat",
        params={"from": "2026-10-11T00:00:00+08:00", "to": "2026-10-21T12:00:00+08:00"},
    )
    body = r.json()
    start = pd.Timestamp("2026-10-11T00:00:00+08:00")
    end = pd.Timestamp("2026-10-21T12:00:00+08:00")
    prev = start - (end - start)
    households = _households(grids, comp)
    now = inc[(inc["reported_at"] >= start) & (inc["reported_at"] < end)]
    before = inc[(inc["reported_at"] >= prev) & (inc["reported_at"] < start)]
    by_grid = {g["code"]: g for g in body["grids"]}
    assert len(by_grid) == len(grids)
    rated = 0
    for g in grids.itertuples():
        row = by_grid[g.code]
        n = int((now["grid_unit_id"] == g.unit_id).sum())
        p = int((before["grid_unit_id"] == g.unit_id).sum())
        hh = households[int(g.unit_id)]
        assert (row["count"], row["previous"], row["households"]) == (n, p, hh)
        if hh:
            rated += 1
            assert row["per_1000_households"] == pytest.approx(1000 * n / hh, abs=1e-3)
        else:
            assert row["per_1000_households"] is None
    assert rated > 500
    # A community filter lists only its grids, with the same figures.
    sub = client.get(
        "/v1/incidents/heat",
        params={"from": "2026-10-11", "to": "2026-10-21", "community": community},
    ).json()
    assert {g["code"] for g in sub["grids"]} == set(
        grids.loc[grids["community_code"] == community, "code"]
    )


def test_geojson_cells_are_the_h3_hexagons(client, raw):
    r = client.get("/v1/incidents/heat", params={"res": 10, "format": "geojson", "days": 7})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    doc = r.json()
    assert doc["type"] == "FeatureCollection" and doc["features"]
    assert doc["res"] == 10 and "grids" in doc and "window" in doc
    for f in doc["features"][:50]:
        cell = f["properties"]["cell"]
        ring = f["geometry"]["coordinates"][0]
        expected = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
        assert shapely.equals_exact(
            shapely.Polygon(ring), shapely.Polygon(expected), tolerance=1e-9
        )
    assert sum(f["properties"]["count"] for f in doc["features"]) == doc["total"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"res": 6}, 422),
        ({"res": 13}, 422),
        ({"category": "no_such_kind"}, 422),
        ({"street": "999999999"}, 404),
        ({"community": "410799001"}, 404),  # a street's code, not a community's
        ({"from": "2026-10-20", "to": "2026-10-10"}, 422),
        ({"from": "yesterday"}, 422),
        ({"from": "0001-01-01", "to": "0001-02-01"}, 422),
        ({"to": "9999-12-31"}, 422),
        ({"from": "2026-02-30"}, 422),
        ({"format": "kml"}, 422),
    ],
)
def test_bad_input_is_refused(client, params, status):
    r = client.get("/v1/incidents/heat", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["detail"]
    if status != 422 or "res" not in params:
        assert body.get("detail_zh")
