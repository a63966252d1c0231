"""Reverse geocoding use cases: one point (live or dated), a JSON list, a whole table.

- :func:`reverse`: the single-point answer (:func:`geo.lookup.answer.reverse_answer`)
  from the live geocoder, or from the map in force at ``at=`` (built from the
  database once per distinct map: call it off the event loop then).
- :func:`answer_json`: ``{"crs", "points": [...]}`` (≤ 100,000 points) → JSON bytes.
- :func:`geocode_table`: a CSV, Parquet or Arrow table of any size: a first pass checks
  every coordinate and crs value (so a bad row is refused before any answer is
  written), then the answered batches come lazily, the input columns kept and the
  result columns appended. :func:`write_answers` / :func:`open_answer_writer` write
  them. Shared by ``POST /v1/geocode/reverse/batch`` and ``gridmap geocode``.

No HTTP here: the API maps :class:`TooLarge` to 413 and everything else through the
domain errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from geo.crs import UnknownCRSError, parse_crs, to_wgs84
from geo.errors import InvalidInput, NotFound
from geo.io.tables import (
    BatchWriter,
    Opener,
    check_utf8,
    column_names,
    iter_batches,
    neutralise_formulas,
    numeric,
    open_writer,
    write_all,
)
from geo.lookup.answer import ReverseAsk, reverse_answer
from geo.lookup.batch import RESULT_COLUMNS, reverse_frame
from geo.lookup.geocode import ReverseGeocoder
from geo.lookup.locator import GridLocator
from geo.services.state import ServiceState
from geo.vocab import LEVEL_ORDER

MAX_JSON_POINTS = 100_000


class TooLarge(Exception):
    """More points, rows or bytes than one request may bring (HTTP 413)."""

    def __init__(self, message: str, message_zh: str):
        super().__init__(message)
        self.message, self.message_zh = message, message_zh


# --- One point ----------------------------------------------------------------------


def dated_geocoder(state: ServiceState, at: datetime) -> ReverseGeocoder:
    """The geocoder over the map in force at ``at`` (reads the database)."""
    if at.tzinfo is None:
        raise InvalidInput(
            "at needs a time zone, e.g. 2026-10-01T00:00:00+08:00",
            "at 需带时区，如 2026-10-01T00:00:00+08:00",
        )
    geocoder = state.geocoder_at(at)
    if len(geocoder.locator) == 0:
        raise NotFound(
            f"no boundaries were in force at {at.isoformat()}",
            f"{at.isoformat()} 时没有生效的边界",
        )
    return geocoder


def reverse(
    state: ServiceState,
    geocoder: ReverseGeocoder,
    ask: ReverseAsk,
    want: frozenset[str] | None,
    sees_contacts: Callable[[list[int]], bool],
) -> dict[str, Any]:
    """The reverse answer for one point: from ``geocoder`` (the live one), or from the
    map in force at ``ask.at`` when given (a database read: run that off the loop)."""
    if ask.at is not None:
        geocoder = dated_geocoder(state, ask.at)
    return reverse_answer(
        geocoder,
        ask,
        want,
        special=state.special,
        rules=state.case_rules,
        sees_contacts=sees_contacts,
    )


# --- Many points: checks shared by JSON and tables ----------------------------------


def parse_crs_name(name: Any) -> str:
    """A CRS name as :func:`geo.crs.parse_crs` spells it, or InvalidInput."""
    try:
        return parse_crs(str(name)).value
    except UnknownCRSError as exc:
        raise InvalidInput(
            f"{exc}; pass crs=wgs84|gcj02|bd09|cgcs2000",
            f"未知坐标系 {name!r}；crs 可取 wgs84、gcj02、bd09、cgcs2000",
            column="crs",
        ) from None


def check_coords(lon: np.ndarray, lat: np.ndarray, offset: int, lon_col: str, lat_col: str) -> None:
    """Raise InvalidInput naming the first row (1-based) with a missing/out-of-range value."""
    for col, values, limit in ((lon_col, lon, 180.0), (lat_col, lat, 90.0)):
        bad = ~(np.abs(values) <= limit)  # NaN compares False, so it is caught too
        if bad.any():
            i = int(np.argmax(bad))
            row = offset + i + 1
            raise InvalidInput(
                f"row {row}, column {col!r}: {values[i]!r} is missing, not a number or "
                f"outside ±{limit:g}; fix that row (lon first, lat second, decimal degrees)",
                f"第 {row} 行 {col} 列的值 {values[i]!r} 缺失、不是数字或超出 ±{limit:g}；"
                "请修正该行（经度在前、纬度在后，十进制度）",
                row=row,
                column=col,
            )


# --- A JSON list of points ----------------------------------------------------------


def answer_json(locator: GridLocator, raw: bytes) -> bytes:
    """Parse, answer and serialise a JSON request (all CPU work, so run in a thread)."""
    try:
        body = json.loads(raw)
    except ValueError as exc:
        shape = '{"crs": "wgs84", "points": [{"id": 1, "lon": .., "lat": ..}]}'
        raise InvalidInput(
            f"malformed JSON: {exc}; send {shape}", f"JSON 格式错误：{exc}；请求体须为 {shape}"
        ) from None
    answer = _json_answer(locator, body)
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


def _json_points(body: Any) -> tuple[str, list[Any], np.ndarray, np.ndarray]:
    """crs, points and their checked lon/lat arrays from a JSON request body."""
    if not isinstance(body, dict) or not isinstance(body.get("points"), list):
        raise InvalidInput(
            'body must be {"crs": "wgs84", "points": [{"id": 1, "lon": .., "lat": ..}]}',
            '请求体须为 {"crs": "wgs84", "points": [{"id": 1, "lon": .., "lat": ..}]}',
        )
    crs = parse_crs_name(body.get("crs", "wgs84"))
    points = body["points"]
    if len(points) > MAX_JSON_POINTS:
        raise TooLarge(
            f"{len(points):,} points; at most {MAX_JSON_POINTS:,} per JSON request. "
            "Split them, or upload a CSV/Parquet file (up to 10 million rows)",
            f"共 {len(points):,} 个点，JSON 请求最多 {MAX_JSON_POINTS:,} 个；"
            "请分批提交，或上传 CSV/Parquet 文件（最多 1000 万行）",
        )
    lon = np.empty(len(points))
    lat = np.empty(len(points))
    for i, p in enumerate(points):
        x = p.get("lon") if isinstance(p, dict) else None
        y = p.get("lat") if isinstance(p, dict) else None
        ok = [isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)]
        if not all(ok):
            col = "lon" if not ok[0] else "lat"
            raise InvalidInput(
                f"points[{i}].{col} is missing or not a number; give lon and lat as numbers",
                f"points[{i}].{col} 缺失或不是数字；lon、lat 须为数字",
                row=i,
                column=col,
            )
        lon[i], lat[i] = x, y
    check_coords(lon, lat, -1, "lon", "lat")  # row numbers as points[] indexes
    return crs, points, lon, lat


def _json_answer(locator: GridLocator, body: Any) -> dict[str, Any]:
    crs, points, lon, lat = _json_points(body)
    frame = reverse_frame(locator, lon, lat, crs)
    levels: dict[str, list[dict[str, Any] | None]] = {}
    for lvl in LEVEL_ORDER:
        code, name = frame[f"{lvl}_code"], frame[f"{lvl}_name"]
        cc, nc = code.cat.codes.to_numpy(), name.cat.codes.to_numpy()
        cats_c, cats_n = list(code.cat.categories), list(name.cat.categories)
        cache: dict[tuple[int, int], dict[str, Any] | None] = {(-1, -1): None}
        out: list[Any] = []
        for a, b in zip(cc.tolist(), nc.tolist(), strict=True):
            ref = cache.get((a, b), 0)
            if ref == 0:
                ref = cache[(a, b)] = {"code": cats_c[a], "name": cats_n[b]}
            out.append(ref)
        levels[lvl] = out
    grids = levels["grid"]
    results = [
        {
            "id": p.get("id"),
            "found": grids[i] is not None,
            **{lvl: levels[lvl][i] for lvl in LEVEL_ORDER},
        }
        for i, p in enumerate(points)
    ]
    return {"crs_in": crs, "results": results}


# --- A table (CSV, Parquet, Arrow) --------------------------------------------------


def scan_table(opener: Opener, fmt: str, lon_col: str, lat_col: str, max_rows: int) -> int:
    """First pass: check columns and every coordinate and crs value; return the row count."""
    if fmt == "csv":
        check_utf8(opener)  # all columns, not only lon/lat: they are written back
    names = column_names(opener, fmt)
    missing = [c for c in (lon_col, lat_col) if c not in names]
    if missing:
        raise InvalidInput(
            f"column(s) {missing} not found (columns: {names}); name them lon and lat "
            "or pass lon_col/lat_col",
            f"找不到列 {missing}（现有列：{names}）；"
            "请将经纬度列命名为 lon、lat，或指定 lon_col/lat_col",
            column=missing[0],
        )
    clash = [c for c in RESULT_COLUMNS if c in names]
    if clash:
        raise InvalidInput(
            f"input already has result column(s) {clash}; rename or drop them",
            f"输入已含结果列 {clash}；请重命名或删除",
        )
    wanted = [lon_col, lat_col] + (["crs"] if "crs" in names else [])
    rows = 0
    for batch in iter_batches(opener, fmt, wanted):
        check_coords(numeric(batch[0]), numeric(batch[1]), rows, lon_col, lat_col)
        if "crs" in names:
            for name in pc.unique(batch[2].cast(pa.string())).to_pylist():
                parse_crs_name(name)
        rows += batch.num_rows
        if rows > max_rows:
            raise TooLarge(
                f"more than {max_rows:,} rows; split the file or use `gridmap geocode`",
                f"超过 {max_rows:,} 行；请拆分文件或使用命令行 `gridmap geocode`",
            )
    if rows == 0:
        raise InvalidInput("the file has no data rows", "文件中没有数据行")
    return rows


def answer_batch(
    locator: GridLocator,
    batch: pa.RecordBatch,
    lon_col: str,
    lat_col: str,
    crs: str,
    h3_res: tuple[int, ...] = (),
    as_text: bool = False,
) -> pa.RecordBatch:
    """The input batch with the result columns appended (text-only when ``as_text``)."""
    lon = numeric(batch.column(lon_col))
    lat = numeric(batch.column(lat_col))
    if "crs" in batch.schema.names:
        # Per-row CRS: convert each group to WGS-84 here, then answer all at once.
        crs_names = np.asarray(batch.column("crs").cast(pa.string()).to_pylist(), dtype=object)
        lon, lat = lon.copy(), lat.copy()  # Arrow's zero-copy arrays are read-only
        for name in set(crs_names.tolist()):
            sel = crs_names == name
            lon[sel], lat[sel] = to_wgs84(lon[sel], lat[sel], parse_crs_name(name))
        crs = "wgs84"
    frame = reverse_frame(locator, lon, lat, crs, h3_res)
    arrays = list(batch.columns)
    if as_text:  # CSV out: input cells must not become formulas in a spreadsheet
        arrays = [neutralise_formulas(a) for a in arrays]
    names = list(batch.schema.names)
    for name in frame.columns:
        arr = pa.array(frame[name].to_numpy() if name not in RESULT_COLUMNS else frame[name])
        if as_text and pa.types.is_dictionary(arr.type):
            arr = arr.cast(pa.string())
        arrays.append(arr)
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


def geocode_table(
    locator: GridLocator,
    opener: Opener,
    fmt: str,
    *,
    crs: str,
    lon_col: str,
    lat_col: str,
    h3_res: tuple[int, ...] = (),
    max_rows: int,
) -> tuple[int, Iterator[pa.RecordBatch]]:
    """Check the whole table, then answer it lazily: (row count, answered batches).

    ``crs`` is the CRS of lon/lat unless the table has a ``crs`` column (which wins);
    a CSV's answer is all text (for writing back as CSV).
    """
    crs = parse_crs_name(crs)
    total = scan_table(opener, fmt, lon_col, lat_col, max_rows)
    answered = (
        answer_batch(locator, b, lon_col, lat_col, crs, h3_res, as_text=fmt == "csv")
        for b in iter_batches(opener, fmt)
    )
    return total, answered


def open_answer_writer(fmt: str, sink: Any, schema: pa.Schema) -> BatchWriter:
    """A writer for answered batches (Parquet: the result columns dictionary-encoded)."""
    return open_writer(fmt, sink, schema, RESULT_COLUMNS)


def write_answers(
    answered: Iterable[pa.RecordBatch], fmt: str, sink: Any, on_chunk: Callable[[int], None]
) -> None:
    """Write answered batches to ``sink`` (a path or binary file) in ``fmt``."""
    write_all(answered, fmt, sink, on_chunk, RESULT_COLUMNS)
