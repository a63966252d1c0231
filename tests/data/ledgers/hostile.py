"""Hostile XLSX ledgers, made in memory (no checked-in binaries): a small real compounds
table written by openpyxl, then one edit of the sheet's XML inside the zip — the
shapes an outside tester used to exhaust the server from a 5 KB file.

Editing the XML (not openpyxl) matters: asking openpyxl itself for a whole-sheet merge
or a cell at XFD1048576 is what allocates the gigabytes.
"""

from __future__ import annotations

import io
import re
import zipfile

import openpyxl

SHEET = "xl/worksheets/sheet1.xml"
HEADER = ["小区名称", "地址", "户数", "物业类型"]
LAST_CELL = "XFD1048576"  # the last cell of an XLSX sheet


def rows(n: int = 5) -> list[list]:
    """The table's data rows (what a reader must give back)."""
    return [[f"边界测试小区{i}", f"测试路{i}号", 100 + i, "物业公司"] for i in range(n)]


def table(n: int = 5) -> bytes:
    """A plain ledger: a header and ``n`` rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows(n):
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def edit_sheet(data: bytes, edit, part: str = SHEET) -> bytes:
    """``data`` with the XML of ``part`` (the first sheet) replaced by ``edit(xml)``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == part:
                body = edit(body.decode("utf-8")).encode("utf-8")
            dst.writestr(info.filename, body)
    return out.getvalue()


def _split(ref: str) -> tuple[str, int]:
    m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    assert m, ref
    return m.group(1), int(m.group(2))


def far_cell(ref: str = LAST_CELL, *, value: bool = True) -> bytes:
    """The table plus one cell at ``ref`` (a number, or formatting only)."""
    _, row = _split(ref)
    cell = f'<c r="{ref}"><v>1</v></c>' if value else f'<c r="{ref}" s="0"/>'
    if row == 1:  # a far column on the header row: inside row 1's element
        return edit_sheet(table(), lambda x: x.replace("</row>", cell + "</row>", 1))
    return edit_sheet(
        table(), lambda x: x.replace("</sheetData>", f'<row r="{row}">{cell}</row></sheetData>')
    )


def merged(ref: str = f"A1:{LAST_CELL}") -> bytes:
    """The table with one merged range ``ref`` (default: the whole sheet)."""
    merge = f'<mergeCells count="1"><mergeCell ref="{ref}"/></mergeCells>'
    return edit_sheet(table(), lambda x: x.replace("</sheetData>", "</sheetData>" + merge))


def declared_dimension(ref: str = f"A1:{LAST_CELL}") -> bytes:
    """The table, its sheet declaring the dimension ``ref`` (5 real rows)."""

    def edit(xml: str) -> str:
        out, n = re.subn(r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{ref}"/>', xml)
        assert n == 1, "openpyxl wrote no <dimension>"
        return out

    return edit_sheet(table(), edit)


def inflating(mib: int = 60) -> bytes:
    """The table, its sheet XML padded with ``mib`` MiB of whitespace between elements
    (valid XML; the zip stays small): a zip bomb of a sheet."""
    pad = " " * (mib * 2**20)
    return edit_sheet(table(), lambda x: x.replace("</sheetData>", "</sheetData>" + pad))


def inflating_styles(mib: int = 11) -> bytes:
    """The table, its styles part padded with ``mib`` MiB of whitespace."""
    pad = " " * (mib * 2**20)
    return edit_sheet(
        table(), lambda x: x.replace("</styleSheet>", pad + "</styleSheet>"), "xl/styles.xml"
    )
