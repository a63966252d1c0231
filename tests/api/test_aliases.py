"""Aliases: a name people use that is in no register finds its place; removing it
stops that. Compared against the target's own entry in the database."""

from __future__ import annotations

import sqlalchemy as sa


def test_alias_finds_its_target_and_is_audited(client, db_engine, loaded):
    with db_engine.connect() as conn:
        code, name = conn.execute(
            sa.text(
                "SELECT code, name FROM admin_unit_version WHERE level = 'community'"
                " AND valid_from IS NOT NULL AND valid_to IS NULL ORDER BY code LIMIT 1"
            )
        ).one()
    alias = "老纺织厂家属院片区"
    before = client.get("/v1/geocode/search", params={"q": alias}).json()
    assert all(c["code"] != code or c["score"] < 98 for c in before)
    r = client.post("/v1/aliases", json={"target": code, "alias": alias})
    assert r.status_code == 201, r.text
    assert r.json()["matches"] is True
    alias_id = r.json()["id"]
    # Same pair again: nothing new.
    assert (
        client.post("/v1/aliases", json={"target": code, "alias": alias}).json()["id"] == alias_id
    )
    hits = client.get("/v1/geocode/search", params={"q": alias}).json()
    assert hits and hits[0]["code"] == code and hits[0]["name"] == name
    with db_engine.connect() as conn:
        actions = (
            conn.execute(
                sa.text(
                    "SELECT action FROM audit_log WHERE entity = 'alias' AND ref = :c ORDER BY id"
                ),
                {"c": code},
            )
            .scalars()
            .all()
        )
    assert actions == ["alias.create"]
    assert client.delete(f"/v1/aliases/{alias_id}").status_code == 204
    after = client.get("/v1/geocode/search", params={"q": alias}).json()
    assert not after or after[0]["code"] != code or after[0]["score"] < hits[0]["score"]
    # A target naming nothing is stored but flagged.
    r = client.post("/v1/aliases", json={"target": "no-such-place", "alias": "某处"})
    assert r.status_code == 201 and r.json()["matches"] is False
    client.delete(f"/v1/aliases/{r.json()['id']}")
