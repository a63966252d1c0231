"""Reading a ledger: XLSX or CSV bytes (UTF-8 or GBK) → a :class:`LedgerTable`.

Clerks' files carry title rows above a header that may span two rows through merged
cells, blank rows and footnotes; the header is found among the first rows by the
number of known headers it names, and a column map (``name=楼院``) names the rest.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from geo.errors import InvalidInput
from geo.gazetteer.text import normalise
from geo.registers.cells import FORMULA_START, clean_text
from geo.registers.fields import FIELDS
from geo.registers.records import LedgerTable, RowError
from geo.registers.sheet import (
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    read_sheet,
    too_far,
    too_many_cells,
)

_HEADER_SCAN = 20
_BRACKETS = re.compile(r"[（(\[【].*?[)）\]】]")


def header_key(value: Any) -> str:
    """A header as fields are looked up by: cleaned, brackets and a trailing * dropped."""
    return normalise(_BRACKETS.sub("", clean_text(value)).rstrip("*"))


def _decode_csv(data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        return data.decode(encoding), encoding
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # GB18030 decodes everything GBK does and the rare characters GBK lacks.
    return data.decode("gb18030"), "GBK"


def _csv_cells(text: str) -> list[list[Any]]:
    """The rows of a CSV text, bounded as an XLSX sheet is (:mod:`geo.registers.sheet`):
    trailing blank lines are dropped before they are counted."""
    out: list[list[Any]] = []
    blank = cells = 0
    reader = csv.reader(io.StringIO(text))
    for n, row in enumerate(reader, start=1):
        width = max((i for i, v in enumerate(row, 1) if v.strip()), default=0)
        if not width:
            blank += 1
            continue
        if n > MAX_ROWS or width > MAX_COLUMNS:
            raise too_far(n, width)
        row = row[: max(width, MAX_COLUMNS)]  # empty fields past the bound dropped
        cells += len(row)
        if cells > MAX_CELLS:
            raise too_many_cells(cells)
        out.extend([] for _ in range(blank))
        blank = 0
        out.append(row)
    return out


def _unescape(value: Any) -> Any:
    """Undo the export's formula escape (``'=x`` → ``=x``)."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'":
        # LF too: XLSX readers turn an escaped bare CR into LF.
        if value[1] in FORMULA_START or value[1] == "\n":
            return value[1:]
    return value


def _find_header(cells: list[list[Any]], aliases: dict[str, str]) -> tuple[int, list[str | None]]:
    """Index of the header row and the field of each column.

    The header is the row among the first few naming the most known headers. When the
    next row names fields in columns the header row does not (经度/纬度 under a merged
    坐标 cell), the two rows are read as one header.
    """

    def fields(row) -> list[str | None]:
        return [aliases.get(header_key(v)) if v is not None else None for v in row]

    scored = [
        (sum(f is not None for f in fields(r)), i) for i, r in enumerate(cells[:_HEADER_SCAN])
    ]
    best, h = max(scored, key=lambda t: (t[0], -t[1]), default=(0, 0))
    if best == 0:
        raise RowError(
            "no header row found: expected columns such as 小区名称, 地址 or 网格员",
            "未找到表头：应包含 小区名称、地址 或 网格员 等列",
        )
    top = fields(cells[h])
    if h + 1 < len(cells):
        below = fields(cells[h + 1])
        if any(b is not None and t is None for t, b in zip(top, below, strict=False)):
            merged = [b if b is not None else t for t, b in zip(top, below, strict=False)]
            return h + 1, merged + top[len(merged) :]
    return h, top


def _cells(
    data: bytes, filename: str, encoding: str | None, sheet: str | None
) -> tuple[list[list[Any]], str | None]:
    """Every cell of the file, row by row, and the CSV encoding used (None for XLSX)."""
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        try:
            return read_sheet(data, sheet), None
        except (InvalidInput, RowError):
            raise
        except Exception as exc:  # openpyxl raises many kinds on a damaged file
            raise RowError(
                f"cannot read the XLSX file: {exc}", f"无法读取 XLSX 文件：{exc}"
            ) from None
    try:
        text, used_encoding = _decode_csv(data, encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise RowError(
            f"cannot decode the CSV file ({exc}); give its encoding, e.g. GBK",
            f"无法解码 CSV 文件（{exc}）；请指定编码，如 GBK",
        ) from None
    try:
        return _csv_cells(text), used_encoding
    except csv.Error as exc:
        raise RowError(f"cannot read the CSV file: {exc}", f"无法读取 CSV 文件：{exc}") from None


def read_table(
    data: bytes,
    filename: str,
    kind: str,
    *,
    column_map: dict[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> LedgerTable:
    """Read an XLSX or CSV ledger of ``kind`` ("compounds", "workers", "special_grids").

    Parameters
    ----------
    data, filename
        The file's bytes and name (the suffix decides XLSX or CSV; XLSX is also
        recognised by its zip signature).
    column_map
        Field → header for headers the auto-detection does not know, e.g.
        ``{"name": "楼院"}``; fields are those of ``COMPOUND_FIELDS``/``WORKER_FIELDS``.
    encoding
        CSV text encoding; detected (UTF-8, else GBK/GB18030) when None.

    Raises
    ------
    RowError
        No header row, a mapped header missing, or an unreadable file.
    """
    known = FIELDS[kind]
    aliases = {normalise(a): f for f, names in known.items() for a in names}
    for f, header in (column_map or {}).items():
        if f not in known:
            raise RowError(
                f"unknown field {f!r} in the column map; use {', '.join(known)}",
                f"列映射中的字段 {f!r} 未知；可用 {', '.join(known)}",
            )
        aliases[header_key(header)] = f
    cells, used_encoding = _cells(data, filename, encoding, sheet)
    h, fields = _find_header(cells, aliases)
    for f, header in (column_map or {}).items():
        if f not in fields:
            raise RowError(f"column {header!r} not found", f"未找到列 {header!r}")
    columns: dict[str, str] = {}
    ignored: list[str] = []
    header_cells = cells[h]
    for i, field in enumerate(fields):
        label = clean_text(header_cells[i]) if i < len(header_cells) else ""
        if field is None or field in columns:
            if label and field is None:
                ignored.append(label)
            continue
        columns[field] = label
    rows, numbers = [], []
    for n, raw in enumerate(cells[h + 1 :], start=h + 2):
        row = {}
        for i, field in enumerate(fields):
            if field is not None and field not in row and i < len(raw):
                row[field] = _unescape(raw[i])
        if all(clean_text(v) == "" for v in row.values()):
            continue  # blank row
        rows.append(row)
        numbers.append(n)
    return LedgerTable(rows, numbers, columns, ignored, used_encoding, h + 1)
