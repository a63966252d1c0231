"""Lifecycle (assign → escalate → close) and the Open311 GeoReport v2 facade."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from geo.errors import Conflict
from geo.incidents.lifecycle import DEFAULT_TIME_LIMITS_H, State, apply_action


def _report(client, sample, ext, when=None):
    p = sample.grids.geometry.iloc[99].representative_point()
    when = when or datetime.now(UTC) - timedelta(hours=1)
    r = client.post(
        "/v1/incidents",
        json={
            "source": "grid_worker",
            "external_id": ext,
            "reported_at": when.isoformat(),
            "category": "dispute",
            "lon": p.x,
            "lat": p.y,
            "crs": "wgs84",
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_escalation_walks_up_the_chain_with_history(client, sample, db_engine):
    inc = _report(client, sample, "T-life-1")
    assert inc["responsible_now"]["grid"]["code"] == inc["grid"]["code"]
    a = client.patch(
        f"/v1/incidents/{inc['id']}",
        json={"action": "assign", "actor": "网格长", "assignee": "王网格员"},
    ).json()
    assert a["status"] == "assigned" and a["assignee"] == "王网格员"
    e1 = client.patch(
        f"/v1/incidents/{inc['id']}",
        json={"action": "escalate", "actor": "王网格员", "note": "需社区协调"},
    ).json()
    assert e1["level"] == "community"
    assert e1["responsible_now"]["community"]["code"] == inc["community"]["code"]
    e2 = client.patch(
        f"/v1/incidents/{inc['id']}", json={"action": "escalate", "actor": "社区"}
    ).json()
    assert (
        e2["level"] == "street" and e2["responsible_now"]["street"]["code"] == inc["street"]["code"]
    )
    c = client.patch(
        f"/v1/incidents/{inc['id']}", json={"action": "close", "actor": "街道", "note": "已调解"}
    ).json()
    assert c["status"] == "closed" and not c["overdue"]
    assert [t["action"] for t in c["transitions"]] == ["assign", "escalate", "escalate", "close"]
    assert [t["to_level"] for t in c["transitions"]] == ["grid", "community", "street", "street"]
    with db_engine.connect() as conn:
        n = conn.execute(
            sa.text("SELECT count(*) FROM incident_transition WHERE incident_id = :i"),
            {"i": inc["id"]},
        ).scalar()
    assert n == 4
    # A closed case cannot be escalated: 409 and nothing recorded.
    bad = client.patch(f"/v1/incidents/{inc['id']}", json={"action": "escalate", "actor": "x"})
    assert bad.status_code == 409 and bad.headers["content-type"] == "application/problem+json"
    assert len(client.get(f"/v1/incidents/{inc['id']}").json()["transitions"]) == 4
    unknown = client.patch(f"/v1/incidents/{inc['id']}", json={"action": "teleport", "actor": "x"})
    assert unknown.status_code == 422


def test_overdue_follows_the_level_time_limit(client, sample):
    limit = DEFAULT_TIME_LIMITS_H["grid"]
    old = _report(client, sample, "T-life-2", datetime.now(UTC) - timedelta(hours=limit + 2))
    fresh = _report(client, sample, "T-life-3", datetime.now(UTC) - timedelta(hours=limit - 2))
    assert old["overdue"] and not fresh["overdue"]
    # Escalating restarts the clock at the next level.
    e = client.patch(f"/v1/incidents/{old['id']}", json={"action": "escalate", "actor": "x"}).json()
    assert not e["overdue"]


def test_lifecycle_rules_pure():
    s = State("open", "district", None)
    with pytest.raises(Conflict):
        apply_action(s, "escalate")
    with pytest.raises(Conflict):
        apply_action(State("open", "grid", None), "reopen")
    assert apply_action(State("closed", "grid", "a"), "reopen").status == "open"


def test_open311_post_then_get(client, sample):
    services = client.get("/open311/v2/services.json").json()
    assert {"road_facility", "campus_safety"} <= {s["service_code"] for s in services}
    p = sample.grids.geometry.iloc[200].representative_point()
    r = client.post(
        "/open311/v2/requests.json",
        data={
            "service_code": "road_facility",
            "lat": p.y,
            "long": p.x,
            "description": "路面坑洼",
            "external_id": "T-311-1",
        },
    )
    assert r.status_code == 200, r.text
    rid = r.json()[0]["service_request_id"]
    got = client.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert got["status"] == "open" and got["service_code"] == "road_facility"
    assert abs(got["lat"] - p.y) < 1e-9 and got["description"] == "路面坑洼"
    # Posting the same external id again is the same request.
    again = client.post(
        "/open311/v2/requests.json",
        data={"service_code": "road_facility", "lat": p.y, "long": p.x, "external_id": "T-311-1"},
    )
    assert again.json()[0]["service_request_id"] == rid
    client.patch(f"/v1/incidents/{rid}", json={"action": "close", "actor": "x", "note": "已修复"})
    closed = client.get("/open311/v2/requests.json", params={"service_request_id": rid}).json()
    assert closed[0]["status"] == "closed" and closed[0]["status_notes"] == "已修复"
    bad = client.post(
        "/open311/v2/requests.json", data={"service_code": "nope", "lat": p.y, "long": p.x}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "category"
    assert client.get("/open311/v2/requests/999999999.json").status_code == 404


def test_open311_list_of_a_thousand_equals_plain_sql(client, db_engine, loaded):
    """The list page (up to 1,000 requests, built in five queries) against SQL written
    here: ids in order, status, code, position, agency and the last transition."""
    import sqlalchemy as sa

    listed = client.get("/open311/v2/requests.json").json()
    with db_engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                """
                SELECT i.id, i.status, i.category, ST_X(i.geom), ST_Y(i.geom), i.level,
                       i.responsible_kind, s.responsible_unit, s.name AS special_name,
                       (SELECT note FROM incident_transition t WHERE t.incident_id = i.id
                        ORDER BY t.at DESC, t.id DESC LIMIT 1) AS last_note,
                       v.name AS level_unit_name
                FROM incident i
                LEFT JOIN special_grid s ON s.id = i.responsible_special_grid_id
                LEFT JOIN admin_unit_version v ON v.valid_from IS NOT NULL
                     AND v.valid_to IS NULL AND v.unit_id = CASE i.level
                         WHEN 'grid' THEN i.grid_unit_id WHEN 'community' THEN i.community_unit_id
                         WHEN 'street' THEN i.street_unit_id ELSE i.district_unit_id END
                ORDER BY i.reported_at DESC LIMIT 1000
                """
            )
        ).all()
    assert len(listed) == len(rows) == 1000
    by_id = {r[0]: r for r in rows}
    assert {int(r["service_request_id"]) for r in listed} == set(by_id)
    times = [r["requested_datetime"] for r in listed]
    assert times == sorted(times, reverse=True)  # newest first, as the SQL orders
    for got in listed:
        row = by_id[int(got["service_request_id"])]
        (_, status, code, lon, lat, level, kind, s_unit, s_name, note, unit_name) = row
        assert got["status"] == ("closed" if status == "closed" else "open")
        assert got["service_code"] == code
        assert abs(got["long"] - lon) < 1e-12 and abs(got["lat"] - lat) < 1e-12
        assert got["status_notes"] == note
        if kind == "special_grid" and level == "grid":
            assert got["agency_responsible"] == (s_unit or s_name)
        else:
            assert got["agency_responsible"] == unit_name
