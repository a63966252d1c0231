"""Special grids (专属网格: schools, hospitals, markets …) from a ledger: the
responsible unit and contact of each live special grid, named by code or name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from geo.gazetteer.text import normalise
from geo.registers.cells import clean_text, phone_cell
from geo.registers.records import LedgerTable, RowError, RowReport, SpecialRecord

if TYPE_CHECKING:
    import pandas as pd


def parse_special_grids(
    table: LedgerTable, special: pd.DataFrame | Mapping[str, Sequence[str]]
) -> tuple[list[SpecialRecord], list[RowReport]]:
    """Responsible units of special grids (schools, hospitals, markets …).

    ``special`` is the frame of live special grids (``code, name``); a row names its
    special grid by code, else by name. Shapes are not in ledgers: only the
    responsible unit and the contact change.
    """
    codes = {str(c) for c in special["code"]}
    by_name: dict[str, list[str]] = {}
    for code, name in zip(special["code"], special["name"], strict=True):
        by_name.setdefault(normalise(name), []).append(str(code))
    records: dict[str, SpecialRecord] = {}
    reports: list[RowReport] = []
    for raw, n in zip(table.rows, table.row_numbers, strict=True):
        name = clean_text(raw.get("name"))
        code = clean_text(raw.get("key"))
        try:
            if code and code not in codes:
                raise RowError(f"no special grid with code {code!r}", f"专属网格编码“{code}”不存在")
            if not code:
                found = by_name.get(normalise(name), []) if name else []
                if len(found) != 1:
                    what = "matches no special grid" if not found else "names several special grids"
                    zh = "未匹配到专属网格" if not found else "对应多个专属网格"
                    raise RowError(f"{name!r} {what}", f"“{name}”{zh}")
                code = found[0]
            unit = clean_text(raw.get("responsible_unit"))
            if not unit:
                raise RowError("responsible unit missing", "缺少责任单位")
            rec = SpecialRecord(
                n,
                code,
                name,
                unit,
                clean_text(raw.get("contact_name")) or None,
                phone_cell(raw.get("contact_phone")),
            )
        except RowError as exc:
            reports.append(
                RowReport(n, "fatal", code or None, name or None, str(exc), exc.message_zh)
            )
            continue
        if code in records:
            first = records[code].row
            reports.append(
                RowReport(
                    n, "duplicate", code, name, f"same special grid as row {first}; skipped",
                    f"与第 {first} 行为同一专属网格，已跳过",
                )
            )  # fmt: skip
            continue
        records[code] = rec
        reports.append(RowReport(n, "ok", code, name))
    return list(records.values()), reports
