"""The sample district in PostGIS: exact tiling checked by PostGIS itself, idempotent load."""

import sqlalchemy as sa

from boundaries.sample_load import load_sample

LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"


def test_counts_match_the_generated_files(loaded, conn, sample):
    counts = dict(
        conn.execute(
            sa.text(f"SELECT level, count(*) FROM admin_unit_version WHERE {LIVE} GROUP BY level")
        ).all()
    )
    assert counts == {
        "district": len(sample.district),
        "street": len(sample.streets),
        "community": len(sample.communities),
        "grid": len(sample.grids),
    }
    assert counts["grid"] == 611
    # Other tests add incidents of their own; count the sample's.
    inc = conn.execute(
        sa.text("SELECT count(*) FROM incident WHERE external_id = ANY(:ids)"),
        {"ids": sample.incidents["external_id"].astype(str).tolist()},
    ).scalar()
    assert inc == len(sample.incidents)


def test_grids_tile_the_district_exactly_in_postgis(loaded, conn):
    # Areas on the spheroid (geography), computed by PostGIS, not by our code.
    row = conn.execute(
        sa.text(
            f"""
            SELECT (SELECT sum(ST_Area(geom::geography)) FROM admin_unit_version
                    WHERE {LIVE} AND level = 'grid') AS grids,
                   (SELECT ST_Area(geom::geography) FROM admin_unit_version
                    WHERE {LIVE} AND level = 'district') AS district
            """
        )
    ).one()
    assert abs(row.grids - row.district) / row.district < 1e-6
    overlaps = conn.execute(
        sa.text(
            """
            WITH g AS (SELECT id, geom FROM admin_unit_version
                       WHERE valid_from IS NOT NULL AND valid_to IS NULL AND level = 'grid')
            SELECT count(*) FROM g a JOIN g b ON a.id < b.id AND a.geom && b.geom
            WHERE ST_Area(ST_Intersection(a.geom, b.geom)::geography) > 1.0
            """
        )
    ).scalar()
    assert overlaps == 0
    outside = conn.execute(
        sa.text(
            """
            SELECT count(*) FROM admin_unit_version c
            JOIN admin_unit_version p ON p.unit_id = c.parent_unit_id
            WHERE c.valid_from IS NOT NULL AND c.valid_to IS NULL
              AND p.valid_from IS NOT NULL AND p.valid_to IS NULL
              AND ST_Area(ST_Difference(c.geom, p.geom)::geography) > 1.0
            """
        )
    ).scalar()
    assert outside == 0


def test_every_incident_has_its_chain(loaded, conn):
    missing = conn.execute(
        sa.text(
            "SELECT count(*) FROM incident i WHERE grid_unit_id IS NULL "
            "OR NOT EXISTS (SELECT 1 FROM admin_unit_version v WHERE v.unit_id = i.grid_unit_id "
            "AND v.valid_to IS NULL AND ST_Covers(v.geom, i.geom))"
        )
    ).scalar()
    assert missing == 0


def test_loading_again_changes_nothing(loaded, db_engine, test_settings):
    def snapshot():
        with db_engine.connect() as c:
            return {
                t: c.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
                for t in (
                    "boundary_set",
                    "admin_unit_version",
                    "incident",
                    "patrol_track",
                    "patrol_visit",
                    "compound",
                    "grid_worker",
                    "grid_assignment",
                )
            }

    before = snapshot()
    again = load_sample(db_engine, test_settings, step=lambda *_: None)
    assert again.boundaries_reused
    assert again.incidents_new == 0 and again.tracks_new == 0
    assert snapshot() == before
