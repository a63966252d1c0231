"""PostgreSQL binary COPY buffers, built with numpy for fixed-width columns.

The patrol ingest writes tens of thousands of visit rows and thousands of tracks per
call; formatting them as CSV (and PostgreSQL parsing it back) was a third of the
ingest. In the binary format (PostgreSQL docs, "COPY … Binary Format") every row is
a 16-bit field count, then per field a 32-bit length (-1 for NULL) and the value in
network byte order: for integers, dates and timestamps that is a fixed-width record,
so a whole column set is one numpy structured array. Variable-width values (text,
PostGIS geometry, whose binary form is EWKB) are packed per row.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from sqlalchemy import Connection

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)

# PostgreSQL's binary dates and timestamps count from 2000-01-01 (UTC).
_PG_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
_PG_EPOCH_US = _PG_EPOCH_DAYS * 86_400 * 1_000_000

_WIDTH = {"int8": 8, "int4": 4, "date": 4, "timestamptz": 8}
_NULL = struct.pack("!i", -1)


def timestamptz(times: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """tz-aware times → PostgreSQL binary timestamptz (µs since 2000-01-01 UTC)."""
    times = pd.DatetimeIndex(times)
    if times.tz is None:
        raise ValueError("timestamptz needs tz-aware times")
    return times.tz_convert("UTC").as_unit("us").asi8 - _PG_EPOCH_US


def date(days: np.ndarray) -> np.ndarray:
    """datetime64 days → PostgreSQL binary date (days since 2000-01-01)."""
    return np.asarray(days, dtype="datetime64[D]").astype(np.int64) - _PG_EPOCH_DAYS


def fixed_rows(columns: Sequence[tuple[str, np.ndarray, np.ndarray | None]]) -> bytes:
    """Rows of fixed-width fields: ``(kind, values, null_mask or None)`` per column,
    kinds from ``int8``, ``int4``, ``date``, ``timestamptz`` (dates and times already
    converted with :func:`date` / :func:`timestamptz`). Rows sharing a pattern of
    NULLs are one structured array; COPY does not care about row order."""
    n = len(columns[0][1])
    if any(len(values) != n for _, values, _ in columns):
        raise ValueError("columns differ in length")
    masks = [
        np.zeros(n, dtype=bool) if null is None else np.asarray(null, dtype=bool)
        for _, _, null in columns
    ]
    pattern = np.zeros(n, dtype=np.int64)
    for i, mask in enumerate(masks):
        pattern |= mask.astype(np.int64) << i
    out = []
    for p in np.unique(pattern).tolist():
        rows = np.flatnonzero(pattern == p)
        fields: list[tuple[str, str]] = [("count", ">i2")]
        for i, (kind, _, _) in enumerate(columns):
            fields.append((f"len{i}", ">i4"))
            if not p >> i & 1:
                fields.append((f"val{i}", ">i8" if _WIDTH[kind] == 8 else ">i4"))
        rec = np.empty(len(rows), dtype=fields)
        rec["count"] = len(columns)
        for i, (kind, values, _) in enumerate(columns):
            if p >> i & 1:
                rec[f"len{i}"] = -1
            else:
                rec[f"len{i}"] = _WIDTH[kind]
                rec[f"val{i}"] = np.asarray(values)[rows]
        out.append(rec.tobytes())
    return b"".join(out)


def packed_rows(rows: Iterable[Sequence[bytes | None]]) -> bytes:
    """Rows whose fields are already in binary form (``None`` for NULL)."""
    out = []
    for row in rows:
        out.append(struct.pack("!h", len(row)))
        for value in row:
            if value is None:
                out.append(_NULL)
            else:
                out.append(struct.pack("!i", len(value)))
                out.append(value)
    return b"".join(out)


def int8(v: int) -> bytes:
    return struct.pack("!q", v)


def int4(v: int) -> bytes:
    return struct.pack("!i", v)


def copy_binary(conn: Connection, table: str, columns: Sequence[str], body: bytes) -> None:
    """COPY one binary buffer (rows from :func:`fixed_rows` / :func:`packed_rows`)
    into ``table``, in the caller's transaction (``conn``: a SQLAlchemy Connection)."""
    # psycopg's own connection (typed Optional by SQLAlchemy: None only once closed).
    raw: Any = conn.connection.driver_connection
    with raw.cursor() as cur:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)"
        with cur.copy(sql) as cp:
            cp.write(HEADER + body + TRAILER)
