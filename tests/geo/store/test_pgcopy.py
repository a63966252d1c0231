"""Binary COPY buffers (geo/store/pgcopy.py) read back by PostgreSQL as the values we
meant: each compared with what PostgreSQL itself makes of the same value as text."""

import numpy as np
import pandas as pd
import shapely

from geo.store import pgcopy


def test_fixed_rows_with_nulls_round_trip(conn):
    conn.exec_driver_sql(
        "CREATE TEMP TABLE copy_probe (a bigint, b integer, d date, t timestamptz, g bigint)"
    )
    rng = np.random.default_rng(5)
    n = 500
    a = rng.integers(-(2**62), 2**62, n)
    b = rng.integers(-(2**31), 2**31 - 1, n)
    days = np.datetime64("1969-12-25") + rng.integers(0, 40_000, n).astype("timedelta64[D]")
    times = pd.Series(
        pd.to_datetime(rng.integers(-(10**15), 4 * 10**15, n), unit="us", utc=True)
    ).dt.tz_convert("Asia/Shanghai")
    g = rng.integers(0, 10**12, n)
    g_null = rng.random(n) < 0.3
    b_null = rng.random(n) < 0.1
    body = pgcopy.fixed_rows(
        [
            ("int8", a, None),
            ("int4", b, b_null),
            ("date", pgcopy.date(days), None),
            ("timestamptz", pgcopy.timestamptz(times), None),
            ("int8", g, g_null),
        ]
    )
    pgcopy.copy_binary(conn, "copy_probe", ("a", "b", "d", "t", "g"), body)
    got = {
        r[0]: r[1:]
        for r in conn.exec_driver_sql(
            "SELECT a, b, d::text, (extract(epoch from t) * 1000000)::bigint, g FROM copy_probe"
        )
    }
    assert len(got) == n
    epoch_us = times.dt.tz_convert("UTC").dt.as_unit("us").array.asi8
    for i in range(n):
        want = (
            None if b_null[i] else int(b[i]),
            str(days[i]),  # PostgreSQL's own text for the date
            int(epoch_us[i]),
            None if g_null[i] else int(g[i]),
        )
        assert got[int(a[i])] == want


def test_packed_rows_carry_text_and_ewkb_geometry(conn):
    conn.exec_driver_sql(
        "CREATE TEMP TABLE copy_geom (id bigint, label text, geom geometry(LineString, 4326))"
    )
    lines = [
        shapely.LineString([(113.9 + i * 1e-3, 35.3), (113.91, 35.31 + i * 1e-4), (113.92, 35.3)])
        for i in range(20)
    ]
    ewkb = shapely.to_wkb(shapely.set_srid(np.array(lines, dtype=object), 4326), include_srid=True)
    rows = [(pgcopy.int8(i), f"巡查 {i}".encode(), g) for i, g in enumerate(ewkb.tolist())]
    rows.append((pgcopy.int8(99), None, ewkb[0]))
    pgcopy.copy_binary(conn, "copy_geom", ("id", "label", "geom"), pgcopy.packed_rows(rows))
    back = conn.exec_driver_sql(
        "SELECT id, label, ST_AsText(geom), ST_SRID(geom) FROM copy_geom ORDER BY id"
    ).all()
    assert len(back) == 21
    for i, (rid, label, wkt, srid) in enumerate(back[:20]):
        assert (rid, label, srid) == (i, f"巡查 {i}", 4326)
        assert shapely.from_wkt(wkt).equals_exact(lines[i], 0)
    assert back[20][:2] == (99, None)
