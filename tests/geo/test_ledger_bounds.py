"""Ledgers are read with bounded work (geo.registers.sheet): a far-away cell, a
whole-sheet merge or an inflating sheet is refused at once with a message naming the
bound; a declared dimension of the whole sheet, formatting far away, or merges inside
the table change nothing. The files are made in memory (tests/data/ledgers/hostile.py)
and what is read back is compared with the rows written."""

from __future__ import annotations

import importlib.util
import io
import time
from pathlib import Path

import openpyxl
import pytest

from geo.errors import InvalidInput
from geo.registers import read_table
from geo.registers import sheet as bounds

HERE = Path(__file__).resolve().parents[1] / "data" / "ledgers" / "hostile.py"
_spec = importlib.util.spec_from_file_location("hostile", HERE)
assert _spec and _spec.loader
hostile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hostile)

FAST_S = 10.0  # generous: each answer here takes well under a second


def read(data: bytes, name: str = "ledger.xlsx"):
    t0 = time.monotonic()
    try:
        return read_table(data, name, "compounds")
    finally:
        assert time.monotonic() - t0 < FAST_S


def as_written(table) -> list[list]:
    return [[r["name"], r["address"], r["households"], r["management_type"]] for r in table.rows]


@pytest.mark.parametrize(
    ("data", "bound", "found"),
    [
        (lambda: hostile.far_cell(hostile.LAST_CELL), "rows", 1048576),
        (lambda: hostile.far_cell("A1048576"), "rows", 1048576),
        (lambda: hostile.far_cell("XFD1"), "columns", 16384),
        (lambda: hostile.far_cell(f"A{bounds.MAX_ROWS + 1}"), "rows", bounds.MAX_ROWS + 1),
        (lambda: hostile.merged(), "merged_range", f"A1:{hostile.LAST_CELL}"),
        (lambda: hostile.merged("A1:A1048576"), "merged_range", "A1:A1048576"),
        (lambda: hostile.inflating(60), "uncompressed_bytes", None),
        (lambda: hostile.inflating_styles(11), "uncompressed_bytes", None),
    ],
    ids=[
        "XFD1048576",
        "A1048576",
        "XFD1",
        "row past bound",
        "whole sheet merge",
        "whole column merge",
        "zip bomb",
        "inflating styles",
    ],
)
def test_hostile_sheets_are_refused_fast_naming_the_bound(data, bound, found):
    with pytest.raises(InvalidInput) as caught:
        read(data())
    err = caught.value
    assert err.extra["bound"] == bound
    if found is not None:
        assert err.extra["found"] == found
    # Both languages say what to do in the spreadsheet.
    assert any(w in err.message for w in ("Delete", "unmerge", "split"))
    assert any(w in err.message_zh for w in ("删除", "取消", "拆分"))


def test_the_row_bound_itself_is_read():
    data = hostile.far_cell(f"A{bounds.MAX_ROWS}")
    table = read(data)
    assert as_written(table)[:5] == hostile.rows()
    assert table.row_numbers[-1] == bounds.MAX_ROWS


@pytest.mark.parametrize(
    "data",
    [
        lambda: hostile.declared_dimension(),
        lambda: hostile.far_cell(hostile.LAST_CELL, value=False),
        lambda: hostile.table(),
    ],
    ids=["declared dimension A1:XFD1048576", "formatting only at XFD1048576", "plain"],
)
def test_what_is_not_data_does_not_count(data):
    table = read(data())
    assert as_written(table) == hostile.rows()
    assert table.row_numbers == [2, 3, 4, 5, 6]


def test_merges_inside_the_table_are_filled_and_clipped():
    # 物业类型 merged down the five rows and far below: the value fills the table's rows.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(hostile.HEADER)
    for r in hostile.rows():
        ws.append([*r[:3], None])
    ws["D2"] = "单位管理"
    out = io.BytesIO()
    wb.save(out)
    data = hostile.edit_sheet(
        out.getvalue(),
        lambda x: x.replace(
            "</sheetData>",
            '</sheetData><mergeCells count="1"><mergeCell ref="D2:D900"/></mergeCells>',
        ),
    )
    table = read(data)
    assert [r["management_type"] for r in table.rows] == ["单位管理"] * 5
    assert len(table.rows) == 5


def test_csv_is_bounded_too():
    head = ",".join(hostile.HEADER) + "\n"
    body = "".join(",".join(map(str, r)) + "\n" for r in hostile.rows())
    ok = read((head + body + "\n" * 200_000).encode(), "ledger.csv")  # trailing blank lines
    assert as_written(ok) == [[*r[:2], str(r[2]), r[3]] for r in hostile.rows()]
    far = head + body + "\n" * bounds.MAX_ROWS + "x\n"
    with pytest.raises(InvalidInput) as caught:
        read(far.encode(), "ledger.csv")
    assert caught.value.extra["bound"] == "rows"
    wide = head + body + "," * 5000 + "x\n"
    with pytest.raises(InvalidInput) as caught:
        read(wide.encode(), "ledger.csv")
    assert caught.value.extra["bound"] == "columns"


def test_a_damaged_file_is_a_row_error_not_a_crash():
    from geo.registers import RowError

    with pytest.raises(RowError):
        read(b"PK\x03\x04 not really a zip")
