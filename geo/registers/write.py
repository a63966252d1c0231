"""Writing a register out in the import layout (XLSX or CSV): the same headers, so a
file exported and imported again changes nothing; text a spreadsheet would run as a
formula is escaped with ``'``."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from geo.registers.cells import FORMULA_START
from geo.registers.fields import (
    CAMPAIGN_FIELDS,
    FIELDS,
    MANAGEMENT_LABELS,
    MODE_LABELS,
    ROLE_LABELS,
)


def safe_cell(value: Any) -> Any:
    """Escape text a spreadsheet would run as a formula (``=`` ``+`` ``-`` ``@``, tab, CR)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_table(headers: list[str], rows: list[list[Any]], fmt: str) -> bytes:
    """An XLSX or CSV (UTF-8 with BOM, which Excel opens correctly) of ``rows``.

    Every text cell goes through :func:`safe_cell`; floats keep full precision.
    """
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(headers)
        for r in rows:
            w.writerow(
                ["" if v is None else repr(v) if isinstance(v, float) else safe_cell(v) for v in r]
            )
        return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "台账"
    ws.append(headers)
    for r in rows:
        # data_type "s": openpyxl would otherwise store text starting with = as a formula.
        ws.append([safe_cell(v) for v in r])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


COMPOUND_EXPORT = (
    "key", "name", "address", "households", "buildings", "year_built", "management_type",
    "lon", "lat", "crs", "street", "community", "grid", "grid_code", "located_by",
    "match_score", *CAMPAIGN_FIELDS,
)  # fmt: skip
WORKER_EXPORT = ("key", "name", "phone", "units", "unit_codes", "role")
SPECIAL_EXPORT = (
    "key", "name", "kind", "responsible_unit", "contact_name", "contact_phone", "grid", "grid_code",
)  # fmt: skip
_LOCATED_LABEL = {"coordinates": "坐标", "address": "地址匹配", "manual": "人工落点", "map": "图层"}


def export_headers(kind: str) -> list[str]:
    """The header row exports write: the first known header of each field."""
    fields = {"compounds": COMPOUND_EXPORT, "workers": WORKER_EXPORT}.get(kind, SPECIAL_EXPORT)
    return [FIELDS[kind][f][0] for f in fields]


def compound_cells(c: dict) -> list[Any]:
    """One export row from a compound dict (register fields, ``lon``/``lat`` in
    ``crs``, ``street``/``community``/``grid``/``grid_code``, ``located_by``,
    ``match_score`` and ``governance``: the campaign record or None)."""
    unowned = c["management_type"] == "unowned"
    g = c.get("governance") or {}
    works = "；".join(
        f"{w['work']}({w['done_on']})" if w.get("done_on") else w["work"]
        for w in g.get("works") or []
    )
    struck = g.get("struck_off_on")
    campaign = [
        "、".join(g.get("issues") or []),
        MODE_LABELS[g["mode"]][0] if g.get("mode") else None,
        ("是" if g.get("committee_formed") else "否") if unowned else None,
        works or None,
        struck.isoformat() if isinstance(struck, date) else struck,
        g.get("verified_by"),
    ]
    return [
        c["key"],
        c["name"],
        c.get("address"),
        c.get("households"),
        c.get("buildings"),
        c.get("year_built"),
        MANAGEMENT_LABELS[c["management_type"]][0],
        c.get("lon"),
        c.get("lat"),
        c.get("crs"),
        c.get("street"),
        c.get("community"),
        c.get("grid"),
        c.get("grid_code"),
        _LOCATED_LABEL.get(c.get("located_by") or "", None),
        c.get("match_score"),
        *[v if v != "" else None for v in campaign],
    ]


def worker_cells(w: dict) -> list[Any]:
    """One export row from ``key, name, phone, role`` and ``units`` [(code, name)]."""
    units = w.get("units") or []
    return [
        w["key"],
        w["name"],
        w.get("phone"),
        "、".join(n for _, n in units) or None,
        "、".join(c for c, _ in units) or None,
        ROLE_LABELS[w["role"]][0],
    ]
