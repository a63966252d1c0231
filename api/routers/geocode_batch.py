"""Batch reverse geocoding: many points → grid/community/street/district.

``POST /v1/geocode/reverse/batch`` takes JSON (≤ 100,000 points, answered as JSON) or
a CSV, Parquet or Arrow IPC stream file (≤ 10 million rows), answered in the same
format with the input columns kept and the result columns appended. Files are read
twice: a first pass checks every coordinate (so a bad row is a 422 before any output
is sent), the second answers chunk by chunk and streams the result. No DB call: the
live in-memory locator answers, with the same smallest-code border rule as
``GET /v1/geocode/reverse``. The work is :mod:`geo.services.geocode`'s (shared with
``gridmap geocode``); this router receives the upload and streams the answer.
"""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from geo.errors import InvalidInput
from geo.io.tables import Opener
from geo.services import geocode as service
from geo.services.geocode import TooLarge

from api.auth import require_scope
from api.deps import Geocoder
from api.errors import problem

router = APIRouter(prefix="/v1/geocode", tags=["geocode"])

MAX_FILE_ROWS = 10_000_000
IN_MEMORY_BYTES = 256 * 2**20  # larger uploads are spooled to disk
MAX_FILE_BYTES = 2 * 2**30

CSV_TYPES = ("text/csv",)
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
ARROW_TYPES = ("application/vnd.apache.arrow.stream",)
MEDIA = {"csv": "text/csv; charset=utf-8", "arrow": ARROW_TYPES[0]}


class UnitCodeName(BaseModel):
    code: str
    name: str


class BatchResult(BaseModel):
    id: Any = None  # echoed as sent
    found: bool
    grid: UnitCodeName | None
    community: UnitCodeName | None
    street: UnitCodeName | None
    district: UnitCodeName | None


class BatchReverseResponse(BaseModel):
    """The JSON answer (a file upload is answered with the same file, columns added)."""

    crs_in: str
    results: list[BatchResult]


def format_of(content_type: str) -> str | None:
    ct = content_type.split(";")[0].strip().lower()
    if ct in CSV_TYPES:
        return "csv"
    if ct in PARQUET_TYPES:
        return "parquet"
    if ct in ARROW_TYPES:
        return "arrow"
    return "json" if ct == "application/json" else None


def _too_large(request: Request, exc: TooLarge) -> Response:
    return problem(413, "too-large", exc.message, exc.message_zh, request.url.path)


def _unsupported(request: Request) -> Response:
    return problem(
        415,
        "unsupported-media-type",
        "Content-Type must be application/json, text/csv, "
        "application/vnd.apache.parquet or application/vnd.apache.arrow.stream",
        "Content-Type 须为 application/json、text/csv、application/vnd.apache.parquet "
        "或 application/vnd.apache.arrow.stream",
        request.url.path,
    )


_FILE_CONTENT: dict[str, dict[str, Any]] = {
    t: {} for t in (*CSV_TYPES, *PARQUET_TYPES[:1], *ARROW_TYPES)
}


@router.post(
    "/reverse/batch",
    # Keys required: the geocode scope, as the single reverse lookup (was open to all).
    dependencies=[require_scope("geocode")],
    response_model=BatchReverseResponse,
    summary="Many points → grid and chain / 批量坐标 → 所属网格",
    responses={
        200: {
            "description": "JSON {crs_in, results[{id, found, grid, community, street, "
            "district}]}, or the uploaded CSV/Parquet/Arrow with result columns appended",
            "content": _FILE_CONTENT,
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
        return _unsupported(request)
    if fmt == "json":
        raw = await request.body()
        try:
            content = await asyncio.to_thread(service.answer_json, locator, raw)
        except TooLarge as exc:
            return _too_large(request, exc)
        return Response(content, media_type="application/json")

    crs = service.parse_crs_name(crs)
    h3_res = tuple(h3 or ())
    if any(not 0 <= r <= 15 for r in h3_res):
        raise InvalidInput("h3 resolutions are 0–15", "h3 分辨率须在 0–15 之间", column="h3")
    try:
        opener, cleanup = await _receive(request)
    except TooLarge as exc:
        return _too_large(request, exc)
    try:
        _, answered = await asyncio.to_thread(
            service.geocode_table,
            locator,
            opener,
            fmt,
            crs=crs,
            lon_col=lon_col,
            lat_col=lat_col,
            h3_res=h3_res,
            max_rows=MAX_FILE_ROWS,
        )
    except TooLarge as exc:
        cleanup()
        return _too_large(request, exc)
    except BaseException:
        cleanup()
        raise
    media = request.headers["content-type"] if fmt == "parquet" else MEDIA[fmt]
    # A sync generator: Starlette iterates it in its thread pool.
    return StreamingResponse(_stream(answered, fmt, cleanup), media_type=media)


def _stream(
    answered: Iterator[pa.RecordBatch], fmt: str, cleanup: Callable[[], None]
) -> Iterator[bytes]:
    try:
        if fmt == "parquet":
            # Parquet's footer comes last, so the file is built first, then sent.
            with tempfile.SpooledTemporaryFile(IN_MEMORY_BYTES) as out:
                service.write_answers(answered, fmt, out, on_chunk=lambda n: None)
                out.seek(0)
                while chunk := out.read(1 << 20):
                    yield chunk
            return
        buf = io.BytesIO()
        writer = None
        for batch in answered:
            writer = writer or service.open_answer_writer(fmt, buf, batch.schema)
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

    def remove() -> None:
        if os.path.exists(path):
            os.unlink(path)

    return (lambda: pa.memory_map(path)), remove
