"""Roles and jurisdiction: a supervisor of street A sees nothing personal of street B, a
grid worker writes only their own tracks — checked against plain SQL."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from geo.errors import InvalidInput
from geo.store import keys as keystore

LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"


def make_key(db_engine, **kw):
    args = {
        "name": "t",
        "scopes": [],
        "unit_codes": [],
        "rate_per_minute": 6000,
        "created_by": "test",
    }
    with db_engine.begin() as conn:
        return keystore.create_key(conn, **{**args, **kw})[1]


def auth(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def streets(loaded, db_engine):
    with db_engine.connect() as conn:
        return (
            conn.execute(
                sa.text(
                    "SELECT code FROM admin_unit_version WHERE level = 'street'"
                    f" AND {LIVE} ORDER BY code LIMIT 2"
                )
            )
            .scalars()
            .all()
        )


def workers_under(conn, street):
    """Workers with an open assignment to the street or a unit below it (plain SQL)."""
    return set(
        conn.execute(
            sa.text(
                f"""
                WITH RECURSIVE down AS (
                  SELECT unit_id FROM admin_unit_version WHERE code = :s AND {LIVE}
                  UNION
                  SELECT v.unit_id FROM admin_unit_version v
                  JOIN down d ON v.parent_unit_id = d.unit_id
                  WHERE v.valid_from IS NOT NULL AND v.valid_to IS NULL
                )
                SELECT DISTINCT w.worker_code FROM grid_worker w
                JOIN grid_assignment a ON a.worker_id = w.id AND a.valid_to IS NULL
                WHERE a.unit_id IN (SELECT unit_id FROM down)
                """
            ),
            {"s": street},
        ).scalars()
    )


def test_supervisor_sees_only_own_street(client, db_engine, streets):
    a, b = streets
    key_a = make_key(db_engine, name="A街道监督", role="supervisor", unit_codes=[a])
    with db_engine.connect() as conn:
        in_a, in_b = workers_under(conn, a), workers_under(conn, b)
        grid_in_a = conn.execute(
            sa.text(
                "SELECT code FROM admin_unit_version WHERE level = 'grid'"
                f" AND {LIVE} AND code LIKE :p LIMIT 1"
            ),
            {"p": a + "%"},
        ).scalar_one()
        district = conn.execute(
            sa.text(f"SELECT code FROM admin_unit_version WHERE level = 'district' AND {LIVE}")
        ).scalar_one()
    assert in_a and in_b and not (in_a & in_b)
    # Coverage (per-grid patrol data): own street and below yes, street B and the district no.
    assert client.get(f"/v1/coverage/{a}", headers=auth(key_a)).status_code == 200
    assert client.get(f"/v1/coverage/{grid_in_a}", headers=auth(key_a)).status_code == 200
    assert client.get(f"/v1/coverage/{b}", headers=auth(key_a)).status_code == 403
    assert client.get(f"/v1/coverage/{district}", headers=auth(key_a)).status_code == 403
    # Workers: the list is exactly street A's people; street B's are not found.
    listed = client.get("/v1/registers/workers", params={"limit": 1000}, headers=auth(key_a))
    assert listed.status_code == 200
    assert {w["worker_code"] for w in listed.json()} == in_a
    assert (
        client.get(f"/v1/registers/workers/{sorted(in_b)[0]}", headers=auth(key_a)).status_code
        == 404
    )
    assert (
        client.get(f"/v1/registers/workers/{sorted(in_a)[0]}", headers=auth(key_a)).status_code
        == 200
    )
    r = client.get("/v1/registers/workers", params={"unit": b}, headers=auth(key_a))
    assert r.status_code == 403
    # The export (CSV) carries only street A's people too.
    r = client.get(
        "/v1/registers/ledgers/export",
        params={"kind": "workers", "format": "csv"},
        headers=auth(key_a),
    )
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    codes = {cell for row in rows[1:] for cell in row if cell in in_a | in_b}
    assert codes and codes <= in_a


def test_grid_worker_uploads_only_own_tracks(client, db_engine, loaded):
    with db_engine.connect() as conn:
        me, other = (
            conn.execute(
                sa.text(
                    "SELECT w.worker_code FROM grid_worker w JOIN grid_assignment a"
                    " ON a.worker_id = w.id AND a.valid_to IS NULL AND a.role = 'worker'"
                    " ORDER BY w.worker_code LIMIT 2"
                )
            )
            .scalars()
            .all()
        )
        my_grid = conn.execute(
            sa.text(
                "SELECT v.code FROM grid_worker w JOIN grid_assignment a ON a.worker_id = w.id"
                " AND a.valid_to IS NULL JOIN admin_unit_version v ON v.unit_id = a.unit_id"
                " AND v.valid_from IS NOT NULL AND v.valid_to IS NULL WHERE w.worker_code = :w"
            ),
            {"w": me},
        ).scalar_one()
        tracks = conn.execute(sa.text("SELECT count(*) FROM patrol_track")).scalar_one()
    key = make_key(db_engine, name="网格员", role="grid_worker", worker_code=me)
    body = (
        "worker_id,time,lon,lat,accuracy,crs\n"
        f"{other},2026-11-01T08:00:00+08:00,113.9,35.3,5,wgs84\n"
        f"{other},2026-11-01T08:00:30+08:00,113.9001,35.3001,5,wgs84\n"
    )
    r = client.post(
        "/v1/patrol/tracks", files={"file": ("t.csv", body.encode(), "text/csv")}, headers=auth(key)
    )
    assert r.status_code == 403, r.text
    with db_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM patrol_track")).scalar_one() == tracks
    assert client.get(f"/v1/coverage/{my_grid}", headers=auth(key)).status_code == 200
    community = my_grid[:12]
    assert client.get(f"/v1/coverage/{community}", headers=auth(key)).status_code == 403


def test_role_keys_need_their_unit_or_worker(db_engine, loaded):
    with pytest.raises(InvalidInput):
        make_key(db_engine, role="supervisor")
    with pytest.raises(InvalidInput):
        make_key(db_engine, role="grid_worker")
    with pytest.raises(InvalidInput):
        make_key(db_engine, role="planner", worker_code="W0001")


def test_planner_edits_only_inside_own_units(client, db_engine, streets):
    a, b = streets
    key = make_key(db_engine, name="A街道规划", role="planner", unit_codes=[a])
    with db_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT DISTINCT ON (left(code, 9)) code, id FROM admin_unit_version"
                f" WHERE level = 'grid' AND {LIVE} AND left(code, 9) IN (:a, :b)"
                " ORDER BY left(code, 9), code"
            ),
            {"a": a, "b": b},
        ).all()
    (grid_a, tag_a), (grid_b, tag_b) = sorted(rows)
    for grid, tag, status in ((grid_a, tag_a, 200), (grid_b, tag_b, 403)):
        feature = client.get(f"/v1/grids/{grid}").json()
        r = client.post(
            f"/v1/grids/{grid}/reshape",
            params={"dry_run": "true"},
            json={"geometry": feature["geometry"], "reason": "role test"},
            headers={**auth(key), "If-Match": f'"{tag}"'},
        )
        assert r.status_code == status, r.text


def test_supervisor_cannot_see_or_change_other_streets_incidents(client, db_engine, streets):
    a, b = streets
    key_a = make_key(db_engine, name="A街道监督2", role="supervisor", unit_codes=[a])
    with db_engine.connect() as conn:
        ids = dict(
            conn.execute(
                sa.text(
                    "SELECT DISTINCT ON (s.code) s.code, i.id FROM incident i"
                    " JOIN admin_unit_version s ON s.unit_id = i.street_unit_id"
                    " AND s.valid_from IS NOT NULL AND s.valid_to IS NULL"
                    " WHERE s.code IN (:a, :b) ORDER BY s.code, i.id"
                ),
                {"a": a, "b": b},
            ).all()
        )
    assert client.get(f"/v1/incidents/{ids[a]}", headers=auth(key_a)).status_code == 200
    assert client.get(f"/v1/incidents/{ids[b]}", headers=auth(key_a)).status_code == 404
    r = client.patch(
        f"/v1/incidents/{ids[b]}",
        json={"action": "escalate", "actor": "A街道"},
        headers=auth(key_a),
    )
    assert r.status_code in (403, 404)


def test_area_views_and_open311_stay_inside_the_jurisdiction(client, db_engine, streets):
    a, b = streets
    sup = make_key(db_engine, name="A街道监督3", role="supervisor", unit_codes=[a])
    hotline = make_key(db_engine, name="A街道热线", scopes=["intake"], unit_codes=[a], role="app")
    # Heat: without a filter the supervisor gets exactly street A's view; B is refused.
    own = client.get("/v1/incidents/heat", headers=auth(sup))
    assert own.status_code == 200
    assert own.json() == client.get("/v1/incidents/heat", params={"street": a}).json()
    assert (
        client.get("/v1/incidents/heat", params={"street": b}, headers=auth(sup)).status_code == 403
    )
    # Dashboard: street B refused; the own page carries no grid of street B.
    assert client.get("/dashboard", params={"street": b}, headers=auth(sup)).status_code == 403
    page = client.get("/dashboard", headers=auth(sup))
    assert page.status_code == 200
    assert re.search(rf"{b}\d{{6}}", page.text) is None
    assert re.search(rf"{a}\d{{6}}", page.text) is not None
    # Open311: a hotline key scoped to street A lists and reads only A's requests.
    listed = client.get("/open311/v2/requests.json", headers=auth(hotline)).json()
    ids = [int(r["service_request_id"]) for r in listed]
    with db_engine.connect() as conn:
        streets_of = dict(
            conn.execute(
                sa.text(
                    "SELECT i.id, s.code FROM incident i JOIN admin_unit_version s"
                    " ON s.unit_id = i.street_unit_id AND s.valid_from IS NOT NULL"
                    " AND s.valid_to IS NULL WHERE i.id = ANY(:ids) OR s.code = :b"
                ),
                {"ids": ids, "b": b},
            ).all()
        )
    assert ids and all(streets_of[i] == a for i in ids)
    in_b = next(i for i, s in streets_of.items() if s == b)
    r = client.get(f"/open311/v2/requests/{in_b}.json", headers=auth(hotline))
    assert r.status_code == 404


def test_grid_worker_reports_incidents_only_in_own_grid(client, db_engine, loaded, sample):
    """Intake follows the jurisdiction too: a grid worker reports in the grids assigned
    today, the rest of a bulk upload is refused row by row, Open311 likewise."""
    import shapely

    with db_engine.connect() as conn:
        me, my_grid = conn.execute(
            sa.text(
                "SELECT w.worker_code, v.code FROM grid_worker w JOIN grid_assignment a"
                " ON a.worker_id = w.id AND a.valid_to IS NULL AND a.role = 'worker'"
                " JOIN admin_unit_version v ON v.unit_id = a.unit_id AND v.level = 'grid'"
                f" AND {LIVE.replace('valid_', 'v.valid_')}"
                " ORDER BY w.worker_code LIMIT 1"
            )
        ).one()
    grids = sample.grids.set_index("code").geometry
    other_grid = next(c for c in grids.index if c != my_grid and not c.startswith(my_grid[:12]))
    inside = grids[my_grid].representative_point()
    outside = grids[other_grid].representative_point()
    # Independent check of where the points are: shapely on the generator's polygons.
    assert grids[my_grid].covers(inside) and not grids[my_grid].covers(outside)
    assert shapely.Point(outside.x, outside.y).within(grids[other_grid])
    key = make_key(db_engine, name="网格员上报", role="grid_worker", worker_code=me)

    def incident(ext, p):
        return {
            "source": "grid_worker",
            "external_id": f"role-test-{ext}",
            "reported_at": "2026-11-20T09:00:00+08:00",
            "category": "environment",
            "lon": p.x,
            "lat": p.y,
            "crs": "wgs84",
        }

    def stored(ext):
        with db_engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT count(*) FROM incident WHERE external_id = :e"),
                {"e": f"role-test-{ext}"},
            ).scalar_one()

    r = client.post("/v1/incidents", json=incident("own", inside), headers=auth(key))
    assert r.status_code == 201, r.text
    assert r.json()["grid"]["code"] == my_grid
    r = client.post("/v1/incidents", json=incident("far", outside), headers=auth(key))
    assert r.status_code == 403 and r.json()["detail_zh"]
    assert stored("far") == 0
    bulk = [incident("b1", inside), incident("b2", outside), incident("b3", inside)]
    r = client.post("/v1/incidents", json=bulk, headers=auth(key))
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["stored"], out["rejected"]) == (2, 1)
    assert out["errors"][0]["line"] == 2 and "outside" in out["errors"][0]["message"]
    assert [stored(e) for e in ("b1", "b2", "b3")] == [1, 0, 1]
    form = {"service_code": "environment", "lat": str(outside.y), "long": str(outside.x)}
    assert client.post("/open311/v2/requests.json", data=form, headers=auth(key)).status_code == 403
    form.update(lat=str(inside.y), long=str(inside.x))
    assert client.post("/open311/v2/requests.json", data=form, headers=auth(key)).status_code == 200
    # A key without units (the hotline's) still reports anywhere.
    hotline = make_key(db_engine, name="12345", scopes=["intake"])
    r = client.post("/v1/incidents", json=incident("hotline", outside), headers=auth(hotline))
    assert r.status_code == 201


def test_case_history_names_the_key_not_the_claimed_actor(client, db_engine, streets):
    """A key that says it acts as 区长 is recorded as itself; the claim is a note beside."""
    a, _b = streets
    key = make_key(db_engine, name="A街道受理台", scopes=["intake", "read"], unit_codes=[a])
    with db_engine.connect() as conn:
        case = conn.execute(
            sa.text(
                "SELECT i.id FROM incident i JOIN admin_unit_version s"
                " ON s.unit_id = i.street_unit_id AND s.valid_from IS NOT NULL"
                " AND s.valid_to IS NULL WHERE s.code = :a AND i.status <> 'closed'"
                " ORDER BY i.id LIMIT 1"
            ),
            {"a": a},
        ).scalar_one()
    r = client.patch(
        f"/v1/incidents/{case}",
        json={"action": "assign", "actor": "区长", "assignee": "王网格员"},
        headers=auth(key),
    )
    assert r.status_code == 200, r.text
    with db_engine.connect() as conn:
        actor = conn.execute(
            sa.text(
                "SELECT actor FROM incident_transition WHERE incident_id = :i ORDER BY id DESC"
                " LIMIT 1"
            ),
            {"i": case},
        ).scalar_one()
    assert actor.startswith("A街道受理台")
    assert "区长" in actor and actor != "区长"
