"""An XLSX sheet read with bounded work: rows, columns, cells, merged ranges, the
uncompressed size of each part of the file and the time spent.

A 5 KB XLSX can make a spreadsheet library allocate gigabytes: one far-away cell
(XFD1048576), a declared dimension of the whole sheet, or one merged range over the
whole sheet. So the file's zip directory is checked first (the uncompressed size of
every part; Python's zip reader never inflates a part past the size it declares), the
sheet is then streamed row by row (openpyxl's read-only parser, the declared dimension
ignored), and its *real* used range — the last row and column holding a value — is
bounded before any table is built. Rows and cells that hold no value (formatting
only) do not count. A refusal is :class:`~geo.errors.InvalidInput` naming the bound,
what was found and what to do in the spreadsheet.
"""

from __future__ import annotations

import io
import time
import zipfile
from typing import Any

from geo.errors import InvalidInput
from geo.registers.records import RowError

MAX_ROWS = 50_000  # last row holding a value
MAX_COLUMNS = 200  # last column holding a value (GR)
MAX_CELLS = 1_000_000  # the used area, last row × last column, and the merged cells filled
MAX_MERGES = 5_000  # merged ranges in the sheet
MAX_PART_BYTES = 50 * 1024 * 1024  # uncompressed size of any part (sheet XML, shared strings)
MAX_TOTAL_BYTES = 100 * 1024 * 1024  # uncompressed size of the whole file
# Other parts (styles, workbook, themes) are read whole into objects: a few MiB at most.
MAX_OTHER_PART_BYTES = 10 * 1024 * 1024
_TABLE_PARTS = ("xl/worksheets/", "xl/sharedStrings.xml")
MAX_PARTS = 1_000
MAX_SECONDS = 20.0  # streaming the sheet


def _col_letter(col: int) -> str:
    out = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def _refuse(bound: str, limit: int | float | str, found: Any, en: str, zh: str) -> InvalidInput:
    return InvalidInput(en, zh, bound=bound, limit=limit, found=found)


def check_zip(data: bytes) -> None:
    """Refuse a file whose parts would inflate past the bounds (a zip bomb)."""
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise RowError(f"cannot read the XLSX file: {exc}", f"无法读取 XLSX 文件：{exc}") from None
    if len(infos) > MAX_PARTS:
        raise _refuse(
            "parts",
            MAX_PARTS,
            len(infos),
            f"the XLSX file holds {len(infos)} parts (at most {MAX_PARTS}); "
            "save the ledger as a plain workbook with one sheet",
            f"XLSX 文件包含 {len(infos)} 个部件（上限 {MAX_PARTS}）；"
            "请另存为只含一个工作表的普通工作簿",
        )
    total = 0
    for info in infos:
        total += info.file_size
        table_part = info.filename.startswith(_TABLE_PARTS)
        limit = MAX_PART_BYTES if table_part else MAX_OTHER_PART_BYTES
        part = info.file_size > limit
        if part or total > MAX_TOTAL_BYTES:
            mib = (limit if part else MAX_TOTAL_BYTES) // 2**20
            raise _refuse(
                "uncompressed_bytes",
                mib * 2**20,
                info.file_size if part else total,
                f"the XLSX file unpacks to more than {mib} MiB ({info.filename}); "
                "split the ledger into smaller files or delete unused sheets and rows",
                f"XLSX 文件解压后超过 {mib} MiB（{info.filename}）；"
                "请拆分台账，或删除无用的工作表和行",
            )


def too_far(row: int, col: int) -> InvalidInput:
    where = f"{_col_letter(col)}{row}"
    if row > MAX_ROWS:
        return _refuse(
            "rows",
            MAX_ROWS,
            row,
            f"the sheet has a value in cell {where}, row {row}; at most {MAX_ROWS} rows are "
            "read. Delete the rows below the table (select them, Delete rows) and save again",
            f"工作表在单元格 {where}（第 {row} 行）有内容；最多读取 {MAX_ROWS} 行。"
            "请删除表格下方的多余行（选中后“删除行”）再保存",
        )
    return _refuse(
        "columns",
        MAX_COLUMNS,
        col,
        f"the sheet has a value in cell {where}, column {col}; at most {MAX_COLUMNS} columns "
        "are read. Delete the columns right of the table (select them, Delete columns) and save "
        "again",
        f"工作表在单元格 {where}（第 {col} 列）有内容；最多读取 {MAX_COLUMNS} 列。"
        "请删除表格右侧的多余列（选中后“删除列”）再保存",
    )


def too_many_cells(found: int, area: str | None = None) -> InvalidInput:
    where, where_zh = (f"the used range {area} holds", f"使用区域 {area} 共") if area else ("", "")
    return _refuse(
        "cells",
        MAX_CELLS,
        found,
        f"{where or 'the ledger holds'} {found} cells; at most {MAX_CELLS} are read. "
        "Delete empty rows and columns after the table, or split the ledger",
        f"台账{where_zh or '共'} {found} 个单元格，上限 {MAX_CELLS}。"
        "请删除表格后的空行空列，或拆分台账",
    )


def _stream(parser: Any) -> tuple[dict[int, list[tuple[int, Any]]], int, int]:
    """Values by row from the parser, bounded: (rows, last row, last column)."""
    deadline = time.monotonic() + MAX_SECONDS
    rows: dict[int, list[tuple[int, Any]]] = {}
    last_row = last_col = count = 0
    for n, (idx, cells) in enumerate(parser.parse()):
        if n % 1000 == 999 and time.monotonic() > deadline:
            raise _refuse(
                "seconds",
                MAX_SECONDS,
                round(time.monotonic() - deadline + MAX_SECONDS, 1),
                f"reading the sheet took more than {MAX_SECONDS:g} s; "
                "delete empty rows and columns after the table, or split the ledger",
                f"读取工作表超过 {MAX_SECONDS:g} 秒；请删除表格后的空行空列，或拆分台账",
            )
        values = [(c["column"], c["value"]) for c in cells if c["value"] is not None]
        if not values:
            continue  # a row of formatting only
        far = max(col for col, _ in values)
        if idx > MAX_ROWS or far > MAX_COLUMNS:
            raise too_far(idx, far if far > MAX_COLUMNS else values[0][0])
        count += len(values)
        last_row, last_col = max(last_row, idx), max(last_col, far)
        rows.setdefault(idx, []).extend(values)
    if count and last_row * last_col > MAX_CELLS:
        raise too_many_cells(last_row * last_col, f"A1:{_col_letter(last_col)}{last_row}")
    return rows, last_row, last_col


def _merges(parser: Any, last_row: int, last_col: int) -> list[tuple[int, int, int, int]]:
    """Merged ranges clipped to the used area: (min_col, min_row, max_col, max_row).

    A range reaching past the row or column bound (a whole-sheet or whole-column merge)
    is refused: filling it would copy one value over the whole table."""
    from openpyxl.utils.cell import range_boundaries

    found = parser.merged_cells.mergeCell if parser.merged_cells else []
    if len(found) > MAX_MERGES:
        raise _refuse(
            "merged_ranges",
            MAX_MERGES,
            len(found),
            f"the sheet has {len(found)} merged ranges (at most {MAX_MERGES}); "
            "unmerge the cells (Merge & Center → Unmerge) and save again",
            f"工作表有 {len(found)} 个合并区域（上限 {MAX_MERGES}）；请取消合并单元格后再保存",
        )
    out, filled = [], 0
    for cr in found:
        c0, r0, c1, r1 = range_boundaries(cr.ref)
        if r1 > MAX_ROWS or c1 > MAX_COLUMNS:
            raise _refuse(
                "merged_range",
                f"{_col_letter(MAX_COLUMNS)}{MAX_ROWS}",
                cr.ref,
                f"the merged range {cr.ref} reaches past row {MAX_ROWS} or column "
                f"{_col_letter(MAX_COLUMNS)}; unmerge whole-sheet, whole-row or whole-column "
                "merges (select all, Unmerge cells) and save again",
                f"合并区域 {cr.ref} 超出第 {MAX_ROWS} 行或第 {_col_letter(MAX_COLUMNS)} 列；"
                "请取消整表、整行或整列的合并（全选后“取消合并单元格”）再保存",
            )
        c1, r1 = min(c1, last_col), min(r1, last_row)
        if r0 > r1 or c0 > c1:
            continue  # wholly outside the used area: nothing to fill
        filled += (r1 - r0 + 1) * (c1 - c0 + 1)
        if filled > MAX_CELLS:
            raise _refuse(
                "merged_cells",
                MAX_CELLS,
                filled,
                f"the merged ranges cover more than {MAX_CELLS} cells; "
                "unmerge the cells and save again",
                f"合并单元格合计超过 {MAX_CELLS} 个；请取消合并后再保存",
            )
        out.append((c0, r0, c1, r1))
    return out


def read_sheet(data: bytes, sheet: str | None = None) -> list[list[Any]]:
    """Every cell of the sheet (the first unless ``sheet``), row by row from row 1 and
    column A, merged cells filled with their top-left value; bounded as the module says.

    Raises
    ------
    InvalidInput
        A bound exceeded (``extra``: bound, limit, found).
    RowError
        Not a readable XLSX file.
    """
    check_zip(data)
    import openpyxl
    from openpyxl.worksheet._reader import WorkSheetParser

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        ws = book[sheet] if sheet else book.worksheets[0]
        if not hasattr(ws, "_get_source"):
            raise RowError("the sheet is a chart, not a table", "该工作表是图表，不是表格")
        with ws._get_source() as src:
            parser = WorkSheetParser(
                src,
                ws._shared_strings,
                data_only=True,
                epoch=book.epoch,
                date_formats=book._date_formats,
                timedelta_formats=book._timedelta_formats,
            )
            rows, last_row, last_col = _stream(parser)
            # mergeCells follows sheetData: the parser has read it once the rows are done
            merges = _merges(parser, last_row, last_col)
    finally:
        book.close()
    grid: list[list[Any]] = [[None] * last_col for _ in range(last_row)]
    for idx, values in rows.items():
        line = grid[idx - 1]
        for col, value in values:
            line[col - 1] = value
    # A merged cell holds its value in the top-left corner only; ledgers merge header
    # cells and repeated values (one 社区 over several rows), so fill them.
    for c0, r0, c1, r1 in merges:
        value = grid[r0 - 1][c0 - 1]
        for r in range(r0 - 1, r1):
            grid[r][c0 - 1 : c1] = [value] * (c1 - c0 + 1)
    return grid
