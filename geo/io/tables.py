"""CSV, Parquet and Arrow IPC stream tables, read and written in record batches.

Files may be far larger than memory (the batch geocoder takes up to 10 million rows),
so a table is read as batches of at most :data:`CHUNK_ROWS` rows through an
``opener`` (a callable returning a fresh Arrow file each time: a file can be read
twice, once to check it and once to answer). CSV cells are all read as text, so they
are written back exactly as they came; a CSV must be UTF-8, and text cells that a
spreadsheet would run as formulas are neutralised on the way out.

Pure IO: no database, no HTTP; bad files raise :class:`geo.errors.InvalidInput`.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from geo.errors import InvalidInput

CHUNK_ROWS = 200_000
FORMATS = ("csv", "parquet", "arrow")

Opener = Callable[[], pa.NativeFile]


class BatchWriter(Protocol):
    """What :func:`open_writer` returns: Arrow's CSV, Parquet or IPC stream writer."""

    def write_batch(self, batch: pa.RecordBatch) -> None: ...
    def close(self) -> None: ...


def csv_header(opener: Opener) -> list[str]:
    """The column names on a CSV's first line (a UTF-8 BOM is skipped)."""
    with opener() as f:
        first = f.read(1 << 20).split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    return next(csv.reader([first.rstrip("\r")]), [])


def column_names(opener: Opener, fmt: str) -> list[str]:
    """The table's column names, without reading its rows."""
    if fmt == "csv":
        return csv_header(opener)
    try:
        with opener() as f:
            if fmt == "parquet":
                return list(pq.ParquetFile(f).schema_arrow.names)
            with ipc.open_stream(f) as reader:
                return list(reader.schema.names)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(
            f"cannot read the {fmt} file: {exc}; check it matches Content-Type",
            f"无法读取 {fmt} 文件：{exc}；请确认文件格式与 Content-Type 一致",
        ) from None


def iter_batches(
    opener: Opener, fmt: str, columns: list[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Record batches of ≤ CHUNK_ROWS rows; CSV cells all as text (written back unchanged)."""
    try:
        if fmt == "csv":
            names = csv_header(opener)
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


def check_utf8(opener: Opener) -> None:
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


def numeric(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A column as float64 numbers: text is parsed, what is not a number is NaN."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        try:
            col = pc.cast(pc.utf8_trim_whitespace(col), pa.float64())
        except pa.ArrowInvalid:
            values = col.to_numpy(zero_copy_only=False)
            return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(np.float64)
    elif not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        return np.full(len(col), np.nan)
    out: np.ndarray = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    return out


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


def open_writer(
    fmt: str, sink: Any, schema: pa.Schema, dictionary_columns: Sequence[str] = ()
) -> BatchWriter:
    """A writer with ``write_batch`` and ``close`` for ``fmt`` (CSV header written once).

    ``dictionary_columns`` (Parquet): the only columns dictionary-encoded, and the only
    ones written without min/max statistics (for repetitive text columns, both cost
    more than they buy).
    """
    if fmt == "csv":
        writer: BatchWriter = pacsv.CSVWriter(
            sink, schema, write_options=pacsv.WriteOptions(quoting_style="needed")
        )
        return writer
    if fmt == "parquet":
        plain = [n for n in schema.names if n not in dictionary_columns]
        writer = pq.ParquetWriter(
            sink, schema, use_dictionary=list(dictionary_columns), write_statistics=plain
        )
        return writer
    writer = ipc.new_stream(sink, schema)
    return writer


def write_all(
    batches: Iterable[pa.RecordBatch],
    fmt: str,
    sink: Any,
    on_chunk: Callable[[int], None],
    dictionary_columns: Sequence[str] = (),
) -> None:
    """Write batches to ``sink`` (a path or binary file) in ``fmt``."""
    writer = None
    try:
        for batch in batches:
            writer = writer or open_writer(fmt, sink, batch.schema, dictionary_columns)
            writer.write_batch(batch)
            on_chunk(batch.num_rows)
    finally:
        if writer is not None:
            writer.close()
