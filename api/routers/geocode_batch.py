"""Batch reverse geocoding: many points → grid/community/street/district.

``POST /v1/geocode/reverse/batch`` takes JSON (≤ 100,000 points, answered as JSON) or
a CSV, Parquet or Arrow IPC stream file (≤ 10 million rows), answered in the same
format with the input columns kept and the result columns appended. Files are read
twice: a first pass checks every coordinate (so a bad row is a 422 before any output
is sent), the second answers chunk by chunk and streams the result. No DB call: the
live in-memory locator answers, with the same smallest-code border rule as
``GET /v1/geocode/reverse``. The file helpers are shared with ``gridmap geocode``.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from geo.crs import UnknownCRSError, parse_crs, to_wgs84
from geo.errors import InvalidInput
from geo.lookup.batch import RESULT_COLUMNS, reverse_frame
from geo.lookup.locator import GridLocator
from geo.vocab import LEVEL_ORDER

from api.deps import Geocoder
from api.errors import problem

router = APIRouter(prefix="/v1/geocode", tags=["geocode"])

MAX_JSON_POINTS = 100_000
MAX_FILE_ROWS = 10_000_000
CHUNK_ROWS = 200_000
IN_MEMORY_BYTES = 256 * 2**20  # larger uploads are spooled to disk
MAX_FILE_BYTES = 2 * 2**30

CSV_TYPES = ("text/csv",)
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
ARROW_TYPES = ("application/vnd.apache.arrow.stream",)
MEDIA = {"csv": "text/csv; charset=utf-8", "arrow": ARROW_TYPES[0]}


class TooLarge(Exception):
    def __init__(self, message: str, message_zh: str):
        super().__init__(message)
        self.message, self.message_zh = message, message_zh


def format_of(content_type: str) -> str | None:
    ct = content_type.split(";")[0].strip().lower()
    if ct in CSV_TYPES:
        return "csv"
    if ct in PARQUET_TYPES:
        return "parquet"
    if ct in ARROW_TYPES:
        return "arrow"
    return "json" if ct == "application/json" else None


def _crs(name: Any) -> str:
    try:
        return parse_crs(str(name)).value
    except UnknownCRSError as exc:
        raise InvalidInput(
            f"{exc}; pass crs=wgs84|gcj02|bd09|cgcs2000",
            f"未知坐标系 {name!r}；crs 可取 wgs84、gcj02、bd09、cgcs2000",
            column="crs",
        ) from None


def check_coords(lon: np.ndarray, lat: np.ndarray, offset: int, lon_col: str, lat_col: str):
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


def _numeric(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            col = pc.cast(pc.utf8_trim_whitespace(col), pa.float64())
        except pa.ArrowInvalid:
            import pandas as pd

            values = col.to_numpy(zero_copy_only=False)
            return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
    elif not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        return np.full(len(col), np.nan)
    return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)


# --- Reading tables chunk by chunk ------------------------------------------------


Opener = Callable[[], pa.NativeFile]


def _csv_header(opener: Opener) -> list[str]:
    with opener() as f:
        first = f.read(1 << 20).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    return next(csv.reader([first.rstrip("\r")]), [])


def iter_batches(
    opener: Opener, fmt: str, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of ≤ CHUNK_ROWS rows; CSV cells all as text (written back unchanged)."""
    try:
        if fmt == "csv":
            names = _csv_header(opener)
            conv = pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=False,
                include_columns=columns,
            )
            with opener() as f:
                reader = pacsv.open_csv(
                    f, read_options=pacsv.ReadOptions(block_size=8 << 20), convert_options=conv
                )
                for batch in reader:
                    yield from _slices(batch)
        elif fmt == "parquet":
            with opener() as f:
                yield from pq.ParquetFile(f).iter_batches(batch_size=CHUNK_ROWS, columns=columns)
        else:
            with opener() as f, ipc.open_stream(f) as reader:
                for batch in reader:
                    yield from _slices(batch.select(columns) if columns else batch)
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"cannot read the {fmt} file: {exc}. Check the format matches Content-Type "
            "(CSV must be UTF-8 with a header row)",
            f"无法读取 {fmt} 文件：{exc}。请确认文件格式与 Content-Type 一致"
            "（CSV 须为 UTF-8 且带表头）",
        ) from None


def _slices(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
    for start in range(0, batch.num_rows, CHUNK_ROWS):
        yield batch.slice(start, CHUNK_ROWS)


def scan(opener: Opener, fmt: str, lon_col: str, lat_col: str, max_rows: int) -> int:
    """First pass: check columns and every coordinate and crs value; return the row count."""
    if fmt == "csv":
        _check_utf8(opener)  # all columns, not only lon/lat: they are written back
    names = _csv_header(opener) if fmt == "csv" else _schema_names(opener, fmt)
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
        check_coords(_numeric(batch[0]), _numeric(batch[1]), rows, lon_col, lat_col)
        if "crs" in names:
            for name in pc.unique(batch[2].cast(pa.string())).to_pylist():
                _crs(name)
        rows += batch.num_rows
        if rows > max_rows:
            raise TooLarge(
                f"more than {max_rows:,} rows; split the file or use `gridmap geocode`",
                f"超过 {max_rows:,} 行；请拆分文件或使用命令行 `gridmap geocode`",
            )
    if rows == 0:
        raise InvalidInput("the file has no data rows", "文件中没有数据行")
    return rows


def _check_utf8(opener: Opener) -> None:
    """Refuse a CSV that is not UTF-8 before any answer is streamed."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with opener() as f:
        while chunk := f.read(8 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line += chunk[: exc.start].count(b"\n")
                raise InvalidInput(
                    f"the CSV is not UTF-8 (line {line}); convert it (e.g. from GBK) to UTF-8 "
                    "and send it again",
                    f"CSV 不是 UTF-8 编码（第 {line} 行）；请转换（如从 GBK）为 UTF-8 后重新提交",
                    row=line,
                ) from None
            line += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidInput(
            "the CSV ends inside a multi-byte character; send it as complete UTF-8",
            "CSV 结尾处字符不完整；请以完整的 UTF-8 提交",
        ) from None


# Cells a spreadsheet would run as a formula (OWASP "CSV injection"); numbers are kept.
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def neutralise_formulas(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Prefix text cells that start like a formula with ``'``, so they stay text."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return col
    risky = pc.and_(
        pc.match_substring_regex(col, _FORMULA_START),
        pc.invert(pc.match_substring_regex(col, _PLAIN_NUMBER)),
    )
    if not pc.any(risky).as_py():
        return col
    return pc.if_else(risky, pc.binary_join_element_wise("'", col, ""), col)


def _schema_names(opener: Opener, fmt: str) -> list[str]:
    try:
        with opener() as f:
            if fmt == "parquet":
                return pq.ParquetFile(f).schema_arrow.names
            with ipc.open_stream(f) as reader:
                return reader.schema.names
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(
            f"cannot read the {fmt} file: {exc}; check it matches Content-Type",
            f"无法读取 {fmt} 文件：{exc}；请确认文件格式与 Content-Type 一致",
        ) from None


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
    lon = _numeric(batch.column(lon_col))
    lat = _numeric(batch.column(lat_col))
    if "crs" in batch.schema.names:
        # Per-row CRS: convert each group to WGS-84 here, then answer all at once.
        names = np.asarray(batch.column("crs").cast(pa.string()).to_pylist(), dtype=object)
        lon, lat = lon.copy(), lat.copy()  # Arrow's zero-copy arrays are read-only
        for name in set(names.tolist()):
            sel = names == name
            lon[sel], lat[sel] = to_wgs84(lon[sel], lat[sel], _crs(name))
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


def open_writer(fmt: str, sink, schema: pa.Schema):
    """A writer with ``write_batch`` and ``close`` for ``fmt`` (CSV header written once)."""
    if fmt == "csv":
        return pacsv.CSVWriter(
            sink, schema, write_options=pacsv.WriteOptions(quoting_style="needed")
        )
    if fmt == "parquet":
        # Dictionary pages for the result columns only, and no min/max statistics on
        # them: both cost more than the whole lookup and buy nothing for these columns.
        plain = [n for n in schema.names if n not in RESULT_COLUMNS]
        return pq.ParquetWriter(
            sink, schema, use_dictionary=list(RESULT_COLUMNS), write_statistics=plain
        )
    return ipc.new_stream(sink, schema)


def write_all(
    batches: Iterator[pa.RecordBatch], fmt: str, sink, on_chunk: Callable[[int], None]
) -> None:
    """Write answered batches to ``sink`` (a path or binary file) in ``fmt``."""
    writer = None
    try:
        for batch in batches:
            writer = writer or open_writer(fmt, sink, batch.schema)
            writer.write_batch(batch)
            on_chunk(batch.num_rows)
    finally:
        if writer is not None:
            writer.close()


# --- The endpoint -----------------------------------------------------------------


def _json_answer(locator: GridLocator, body: Any) -> dict:
    if not isinstance(body, dict) or not isinstance(body.get("points"), list):
        raise InvalidInput(
            'body must be {"crs": "wgs84", "points": [{"id": 1, "lon": .., "lat": ..}]}',
            '请求体须为 {"crs": "wgs84", "points": [{"id": 1, "lon": .., "lat": ..}]}',
        )
    crs = _crs(body.get("crs", "wgs84"))
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
    frame = reverse_frame(locator, lon, lat, crs)
    levels = {}
    for lvl in LEVEL_ORDER:
        code, name = frame[f"{lvl}_code"], frame[f"{lvl}_name"]
        cc, nc = code.cat.codes.to_numpy(), name.cat.codes.to_numpy()
        cats_c, cats_n = list(code.cat.categories), list(name.cat.categories)
        cache: dict[tuple[int, int], dict | None] = {(-1, -1): None}
        out = []
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


def _json_bytes(locator: GridLocator, raw: bytes) -> bytes:
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


def _too_large(request: Request, exc: TooLarge) -> Response:
    return problem(413, "too-large", exc.message, exc.message_zh, request.url.path)


@router.post(
    "/reverse/batch",
    summary="Many points → grid and chain / 批量坐标 → 所属网格",
    responses={
        200: {
            "description": "JSON {crs_in, results[{id, found, grid, community, street, "
            "district}]}, or the uploaded CSV/Parquet/Arrow with result columns appended",
        },
        413: {"description": "Too many points"},
        415: {"description": "Unsupported Content-Type"},
        422: {"description": "Bad input"},
    },
)
async def reverse_batch(
    request: Request,
    geocoder: Geocoder,
    crs: Annotated[str, Query(description="CRS of a file's lon/lat (a crs column wins)")] = "wgs84",
    lon_col: Annotated[str, Query(max_length=100)] = "lon",
    lat_col: Annotated[str, Query(max_length=100)] = "lat",
    h3: Annotated[list[int] | None, Query(description="H3 resolutions to add (files)")] = None,
) -> Response:
    # async: no DB call; CPU work goes to threads so the event loop stays free.
    locator = geocoder.locator
    fmt = format_of(request.headers.get("content-type", ""))
    if fmt is None:
        return problem(
            415,
            "unsupported-media-type",
            "Content-Type must be application/json, text/csv, "
            "application/vnd.apache.parquet or application/vnd.apache.arrow.stream",
            "Content-Type 须为 application/json、text/csv、application/vnd.apache.parquet "
            "或 application/vnd.apache.arrow.stream",
            request.url.path,
        )
    if fmt == "json":
        raw = await request.body()
        try:
            content = await asyncio.to_thread(_json_bytes, locator, raw)
        except TooLarge as exc:
            return _too_large(request, exc)
        return Response(content, media_type="application/json")

    crs = _crs(crs)
    h3_res = tuple(h3 or ())
    if any(not 0 <= r <= 15 for r in h3_res):
        raise InvalidInput("h3 resolutions are 0–15", "h3 分辨率须在 0–15 之间", column="h3")
    try:
        opener, cleanup = await _receive(request)
    except TooLarge as exc:
        return _too_large(request, exc)
    try:
        await asyncio.to_thread(scan, opener, fmt, lon_col, lat_col, MAX_FILE_ROWS)
    except TooLarge as exc:
        cleanup()
        return _too_large(request, exc)
    except BaseException:
        cleanup()
        raise

    answered = (
        answer_batch(locator, b, lon_col, lat_col, crs, h3_res, as_text=fmt == "csv")
        for b in iter_batches(opener, fmt)
    )
    media = request.headers["content-type"] if fmt == "parquet" else MEDIA[fmt]
    # A sync generator: Starlette iterates it in its thread pool.
    return StreamingResponse(_stream(answered, fmt, cleanup), media_type=media)


def _stream(answered: Iterator[pa.RecordBatch], fmt: str, cleanup) -> Iterator[bytes]:
    try:
        if fmt == "parquet":
            # Parquet's footer comes last, so the file is built first, then sent.
            with tempfile.SpooledTemporaryFile(IN_MEMORY_BYTES) as out:
                write_all(answered, fmt, out, on_chunk=lambda n: None)
                out.seek(0)
                while chunk := out.read(1 << 20):
                    yield chunk
            return
        buf = io.BytesIO()
        writer = None
        for batch in answered:
            writer = writer or open_writer(fmt, buf, batch.schema)
            writer.write_batch(batch)
            yield _drain(buf)
        if writer is not None:
            writer.close()
            yield _drain(buf)
    finally:
        cleanup()


def _drain(buf: io.BytesIO) -> bytes:
    data = buf.getvalue()
    buf.seek(0)
    buf.truncate()
    return data


async def _receive(request: Request) -> tuple[Opener, Callable[[], None]]:
    """Take the body into memory, or onto disk past IN_MEMORY_BYTES; return an opener."""
    parts: list[bytes] = []
    size = 0
    spool = None
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            if spool is not None:
                spool.close()
                os.unlink(spool.name)
            raise TooLarge(
                f"upload larger than {MAX_FILE_BYTES // 2**30} GiB; split it or use "
                "`gridmap geocode`",
                f"上传文件超过 {MAX_FILE_BYTES // 2**30} GiB；请拆分或使用命令行 `gridmap geocode`",
            )
        if spool is None and size > IN_MEMORY_BYTES:
            spool = tempfile.NamedTemporaryFile(prefix="gridmap-batch-", delete=False)
            spool.write(b"".join(parts))
            parts = []
        if spool is not None:
            spool.write(chunk)
        else:
            parts.append(chunk)
    if spool is None:
        data = b"".join(parts)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]  # UTF-8 BOM, as Excel writes it
        buffer = pa.py_buffer(data)
        return (lambda: pa.BufferReader(buffer)), (lambda: None)
    spool.close()
    path = spool.name
    return (lambda: pa.memory_map(path)), (lambda: os.path.exists(path) and os.unlink(path))
