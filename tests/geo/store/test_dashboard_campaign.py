"""The dashboard's unowned-compound density reads the campaign: a compound struck off
(销号) no longer counts as unowned. Checked against plain SQL."""

from __future__ import annotations

import sqlalchemy as sa

from geo.store import dashboard

COUNT = """
SELECT count(*) FROM compound c
JOIN admin_unit_version v ON v.level = 'grid' AND v.valid_from IS NOT NULL
  AND v.valid_to IS NULL AND ST_Contains(v.geom, ST_PointOnSurface(c.geom))
LEFT JOIN compound_governance g ON g.compound_id = c.id
WHERE c.management_type = 'unowned' AND g.struck_off_on IS NULL AND v.unit_id = :u
"""


def test_struck_off_compound_leaves_the_unowned_count(loaded, conn):
    cid, unit = conn.execute(
        sa.text(
            "SELECT c.id, v.unit_id FROM compound c JOIN admin_unit_version v ON v.level = 'grid'"
            " AND v.valid_from IS NOT NULL AND v.valid_to IS NULL"
            " AND ST_Contains(v.geom, ST_PointOnSurface(c.geom))"
            " WHERE c.management_type = 'unowned' ORDER BY c.id LIMIT 1"
        )
    ).one()
    before = dashboard.unowned_by_grid(conn)[unit]
    assert before == conn.execute(sa.text(COUNT), {"u": unit}).scalar_one()
    conn.execute(
        sa.text(
            "INSERT INTO compound_governance (compound_id, mode, struck_off_on, verified_by,"
            " updated_by) VALUES (:c, 'professional', DATE '2026-11-01', '街道验收组', 'test')"
        ),
        {"c": cid},
    )
    after = dashboard.unowned_by_grid(conn).get(unit, 0)
    assert after == before - 1 == conn.execute(sa.text(COUNT), {"u": unit}).scalar_one()
    assert dashboard.struck_off_modes(conn)[cid] == "property_company"
