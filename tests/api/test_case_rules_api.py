"""A district's case-rules file drives intake, Open311, the precedence rule and the
time limits — checked against the file and the special grids in the database."""

from __future__ import annotations

from datetime import datetime

import pytest
import shapely
import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo.errors import InvalidInput

from api.app import create_app

RULES = """
[categories]
fire_passage = ["消防通道占用", "Blocked fire passage"]
campus_safety = ["校园安全", "Campus safety"]
other = ["其他", "Other"]

[[precedence]]
categories = ["fire_passage"]
special_kinds = ["industrial_park", "enterprise"]

[time_limits_hours]
grid = 6
community = 48
street = 96
district = 200
"""


def inside(conn, kind):
    wkb, code = conn.execute(
        sa.text(
            "SELECT ST_AsBinary(ST_PointOnSurface(geom)), code FROM special_grid"
            " WHERE kind = :k AND valid_to IS NULL ORDER BY code LIMIT 1"
        ),
        {"k": kind},
    ).one()
    return shapely.from_wkb(bytes(wkb)), code


def test_rules_file_drives_intake(edit_db, tmp_path):
    settings, engine = edit_db
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    with engine.connect() as conn:
        park_pt, park = inside(conn, "industrial_park")
        school_pt, _school = inside(conn, "school")
    with TestClient(create_app(settings.model_copy(update={"case_rules_file": path}))) as c:
        cats = c.get("/v1/incidents/categories").json()
        assert [x["code"] for x in cats] == ["fire_passage", "campus_safety", "other"]
        services = c.get("/open311/v2/services.json").json()
        assert {s["service_code"] for s in services} == {"fire_passage", "campus_safety", "other"}
        # A category the district does not use is refused.
        r = c.post(
            "/v1/incidents",
            json={
                "source": "citizen",
                "external_id": "rules-0",
                "category": "noise",
                "lon": park_pt.x,
                "lat": park_pt.y,
                "crs": "wgs84",
                "reported_at": "2026-11-20T08:00:00+08:00",
            },
        )
        assert r.status_code == 422
        # The file's rule sends a fire passage in a park to the park …
        r = c.post(
            "/v1/incidents",
            json={
                "source": "citizen",
                "external_id": "rules-1",
                "category": "fire_passage",
                "lon": park_pt.x,
                "lat": park_pt.y,
                "crs": "wgs84",
                "reported_at": "2026-11-20T08:00:00+08:00",
            },
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["responsible"]["kind"] == "special_grid"
        assert body["responsible"]["special_grid"]["code"] == park
        # … its time limit at grid level is the file's 6 hours …
        due = datetime.fromisoformat(body["due_at"]) - datetime.fromisoformat(body["reported_at"])
        assert due.total_seconds() == 6 * 3600
        # … and campus safety, with no rule in this file, stays with the territorial grid.
        r = c.post(
            "/v1/incidents",
            json={
                "source": "citizen",
                "external_id": "rules-2",
                "category": "campus_safety",
                "lon": school_pt.x,
                "lat": school_pt.y,
                "crs": "wgs84",
                "reported_at": "2026-11-20T08:00:00+08:00",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["responsible"]["kind"] == "grid"


def test_a_wrong_rules_file_stops_the_service(edit_db, tmp_path):
    settings, _engine = edit_db
    path = tmp_path / "rules.toml"
    path.write_text('[[precedence]]\ncategories = ["x"]\nspecial_kinds = ["school"]\n')
    with pytest.raises(InvalidInput) as err:
        with TestClient(create_app(settings.model_copy(update={"case_rules_file": path}))):
            pass
    assert "unknown categories" in err.value.message
