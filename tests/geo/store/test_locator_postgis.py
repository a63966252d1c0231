"""The running service's locator against PostGIS ``ST_Covers`` + ``min(code)`` on the
same 100,000 points: every vertex and edge midpoint of 50 grids, random points in
and around the sample district, on the geometries stored in the test database."""

import sqlalchemy as sa

from tests.geo.test_locator import N_POINTS, border_and_random_points

# One statement for all points: the join is what PostGIS itself would answer.
COVERS_MIN_CODE = sa.text(
    """
    SELECT p.i, min(v.code)
      FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[])) WITH ORDINALITY AS p(x, y, i)
      LEFT JOIN admin_unit_version v
        ON v.level = 'grid' AND v.valid_from IS NOT NULL AND v.valid_to IS NULL
       AND ST_Covers(v.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))
     GROUP BY p.i ORDER BY p.i
    """
)


def test_100000_points_agree_with_postgis_st_covers(client, conn, sample):
    locator = client.app.state.service.geocoder.locator
    assert len(locator) == len(sample.grids)
    xy, n_border = border_and_random_points(sample.grids)
    assert len(xy) == N_POINTS
    # A freshly loaded test database has no statistics; without them the planner
    # tests every grid for every point (61 M ST_Covers calls, ~25 s) instead of using
    # the GiST index. Same answers either way; rolled back with the test.
    conn.execute(sa.text("ANALYZE admin_unit_version"))
    rows = conn.execute(COVERS_MIN_CODE, {"lon": xy[:, 0].tolist(), "lat": xy[:, 1].tolist()})
    want = [code for _, code in rows]
    codes = locator.grids["code"].to_numpy()
    got = [codes[r] if r >= 0 else None for r in locator.locate_many(xy[:, 0], xy[:, 1])]
    bad = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert not bad, [(i, xy[i].tolist(), got[i], want[i]) for i in bad[:10]]
    assert sum(w is None for w in want) > 1000
    # The single-point path (the one HTTP requests take) on the border points.
    assert [locator.locate(x, y) for x, y in xy[:n_border]] == list(
        locator.locate_many(xy[:n_border, 0], xy[:n_border, 1])
    )
