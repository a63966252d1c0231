"""Incident intake over HTTP against the real PostGIS: chain, precedence, bulk, idempotency."""

import io

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geo import crs


def _inside_point(geom, rng):
    minx, miny, maxx, maxy = geom.bounds
    while True:
        p = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if geom.contains(p):
            return p


def _grid_of(sample, p):
    hits = sample.grids[sample.grids.geometry.covers(p)]
    return sorted(hits["code"])[0]


def _case(ext, p, category="road_facility", crs_name="wgs84", **kw):
    return {
        "source": "hotline_12345",
        "external_id": ext,
        "reported_at": "2026-10-20T09:30:00+08:00",
        "category": category,
        "lon": p[0],
        "lat": p[1],
        "crs": crs_name,
        **kw,
    }


def test_single_incident_gets_its_chain_and_is_idempotent(client, sample):
    rng = np.random.default_rng(7)
    p = _inside_point(sample.grids.geometry.iloc[42], rng)
    r = client.post("/v1/incidents", json=_case("T-single-1", (p.x, p.y)))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["grid"]["code"] == _grid_of(sample, p)
    parents = dict(zip(sample.grids["code"], sample.grids["parent_code"], strict=True))
    assert body["community"]["code"] == parents[body["grid"]["code"]]
    assert body["responsible"]["kind"] == "grid"
    assert body["location"]["crs"] == "wgs84"
    again = client.post("/v1/incidents", json=_case("T-single-1", (p.x, p.y)))
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert client.get(f"/v1/incidents/{body['id']}").json()["external_id"] == "T-single-1"
    # The same place reported from an Amap phone (GCJ-02) lands in the same grid.
    g = tuple(float(v) for v in crs.from_wgs84(p.x, p.y, "gcj02"))
    r2 = client.post("/v1/incidents", json=_case("T-single-2", g, crs_name="gcj02"))
    assert r2.json()["grid"]["code"] == body["grid"]["code"]
    assert r2.json()["received_crs"] == "gcj02"
    assert abs(r2.json()["location"]["lon"] - p.x) < 1e-8


def test_precedence_school_versus_pothole(client, sample):
    schools = sample.special_grids[sample.special_grids["kind"] == "school"]
    school = schools.iloc[0]
    p = _inside_point(school.geometry, np.random.default_rng(3))
    # Other special grids of a school kind covering the point, by code (the rule's order).
    covering = sample.special_grids[
        sample.special_grids.geometry.covers(p)
        & sample.special_grids["kind"].isin(["school", "campus"])
    ].sort_values("code")
    campus = client.post(
        "/v1/incidents", json=_case("T-prec-1", (p.x, p.y), "campus_safety")
    ).json()
    assert campus["responsible"]["kind"] == "special_grid"
    assert campus["responsible"]["special_grid"]["code"] == covering["code"].iloc[0]
    assert (
        campus["responsible"]["special_grid"]["responsible_unit"]
        == covering["responsible_unit"].iloc[0]
    )
    pothole = client.post(
        "/v1/incidents", json=_case("T-prec-2", (p.x, p.y), "road_facility")
    ).json()
    assert pothole["responsible"]["kind"] == "grid"
    assert pothole["responsible"]["grid"]["code"] == _grid_of(sample, p)
    assert school["code"] in {s["code"] for s in pothole["special_grids"]}


@pytest.fixture(scope="module")
def bulk_csv(sample):
    rng = np.random.default_rng(11)
    n = 100_000
    reps = sample.grids.geometry.representative_point()
    idx = rng.integers(0, len(reps), n)
    lon = np.array([reps.iloc[i].x for i in idx])
    lat = np.array([reps.iloc[i].y for i in idx])
    df = pd.DataFrame(
        {
            "source": "grid_worker",
            "external_id": [f"T-bulk-{i:06d}" for i in range(n)],
            "reported_at": "2026-10-21T10:00:00+08:00",
            "category": "environment",
            "lon": lon,
            "lat": lat,
            "crs": "wgs84",
        }
    )
    bad = {  # row index → (field, how it is broken)
        10: ("lon", "abc"),
        20: ("crs", "mars"),
        30: ("category", "nope"),
        40: ("reported_at", "yesterday"),
        50: ("source", "fax"),
        60: ("lat", "nan"),
        70: ("external_id", ""),
        80: ("lon", "200"),
        90: ("reported_at", "2026-10-21T10:00:00"),
        100: ("lon", "100.0"),  # valid number, but outside the district
    }
    df = df.astype({"lon": object, "lat": object})
    for i, (field, value) in bad.items():
        df.loc[i, field] = value
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode(), bad


def test_bulk_csv_stores_good_rows_once_and_reports_bad_ones(client, db_engine, bulk_csv):
    body, bad = bulk_csv
    r = client.post("/v1/incidents", content=body, headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    res = r.json()
    assert res["received"] == 100_000
    assert res["stored"] == 100_000 - len(bad)
    assert res["rejected"] == len(bad)
    # Line numbers: header is line 1, data row i is line i + 2.
    reported = {e["line"] - 2: e["field"] for e in res["errors"]}
    assert reported == {i: f for i, (f, _) in bad.items()}
    assert all(e["message"] and e["message_zh"] for e in res["errors"])
    with db_engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT count(*) FROM incident WHERE external_id LIKE 'T-bulk-%'")
        ).scalar()
    assert stored == 100_000 - len(bad)
    again = client.post("/v1/incidents", content=body, headers={"content-type": "text/csv"}).json()
    assert again["stored"] == 0 and again["duplicates"] == 100_000 - len(bad)
    with db_engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT count(*) FROM incident WHERE external_id LIKE 'T-bulk-%'")
            ).scalar()
            == stored
        )


def test_bulk_json_and_geojson(client, sample):
    p = sample.grids.geometry.iloc[7].representative_point()
    arr = [_case(f"T-arr-{i}", (p.x, p.y)) for i in range(3)] + [{"source": "x"}]
    res = client.post("/v1/incidents", json=arr).json()
    assert res["stored"] == 3 and res["rejected"] == 1 and res["errors"][0]["line"] == 4
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [p.x, p.y]},
                "properties": {
                    k: v for k, v in _case("T-gj-1", (0, 0)).items() if k not in ("lon", "lat")
                },
            },
        ],
    }
    res = client.post("/v1/incidents", json=fc, headers={"content-type": "application/geo+json"})
    assert res.json()["stored"] == 1


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        (b"{not json", "application/json"),
        (b"<xml/>", "application/xml"),
        (b"\xd5\xe2\xca\xc7,gbk\n", "text/csv"),
        (b"lon,lat\n1,2\n", "text/csv"),
        (b"42", "application/json"),
    ],
)
def test_bad_bodies_get_problem_json_and_store_nothing(client, db_engine, content, ctype):
    with db_engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM incident")).scalar()
    r = client.post("/v1/incidents", content=content, headers={"content-type": ctype})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] and r.json()["detail_zh"]
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM incident")).scalar() == before


def test_single_bad_incident_names_the_field(client, sample):
    p = sample.grids.geometry.iloc[1].representative_point()
    r = client.post("/v1/incidents", json=_case("T-bad-1", (p.x, p.y), crs_name="mars"))
    assert r.status_code == 422 and r.json()["field"] == "crs"
    outside = client.post("/v1/incidents", json=_case("T-bad-2", (100.0, 20.0)))
    assert outside.status_code == 422 and "outside" in outside.json()["detail"]
    assert client.get("/v1/incidents/999999999").status_code == 404
    cats = client.get("/v1/incidents/categories").json()
    assert {"code": "campus_safety", "name_zh": "校园安全", "name_en": "Campus safety"} in cats
