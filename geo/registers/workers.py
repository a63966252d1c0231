"""Grid workers (网格员) from a ledger: one record per person with the units they serve,
named by code or by name; one row per grid is merged into one person."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from geo.gazetteer.text import normalise
from geo.registers.cells import ROLE_CODES, SPLIT_LIST, clean_text, label_cell, phone_cell
from geo.registers.records import LedgerTable, RowError, RowReport, WorkerRecord

if TYPE_CHECKING:
    import pandas as pd


def worker_key(name: str, phone: str | None) -> str:
    """Stable code of a ledger person with no 编号."""
    return "L" + hashlib.sha1(f"{normalise(name)}|{phone or ''}".encode()).hexdigest()[:10].upper()


def parse_workers(
    table: LedgerTable, units: pd.DataFrame
) -> tuple[list[WorkerRecord], list[RowReport]]:
    """Records and per-row report of a workers ledger.

    ``units`` is a frame of live units (``unit_id, code, name, level``); 负责网格 holds
    codes or names (several separated by 、 , ；), matched after normalising.
    The same person on several rows (one row per grid) becomes one record.
    """
    by_code = dict(zip(units["code"].astype(str), units["unit_id"].astype(int), strict=True))
    by_name: dict[str, list[int]] = {}
    for name, uid in zip(units["name"], units["unit_id"].astype(int), strict=True):
        by_name.setdefault(normalise(name), []).append(uid)
    records: dict[str, WorkerRecord] = {}
    reports: list[RowReport] = []
    for raw, n in zip(table.rows, table.row_numbers, strict=True):
        name = clean_text(raw.get("name"))
        others = [k for k, v in raw.items() if k not in ("name", "key") and clean_text(v)]
        if not name and not others:
            continue
        try:
            if not name:
                raise RowError("the person has no name", "缺少网格员姓名")
            phone = phone_cell(raw.get("phone"))
            role = label_cell(raw.get("role"), ROLE_CODES, "role", "职务") or "worker"
            unit_ids = []
            listed = clean_text(raw.get("unit_codes")) or clean_text(raw.get("units"))
            for part in SPLIT_LIST.split(listed):
                part = part.strip()
                if not part:
                    continue
                ids = [by_code[part]] if part in by_code else by_name.get(normalise(part), [])
                if len(ids) != 1:
                    what = "matches no unit" if not ids else "names several units"
                    what_zh = "未匹配到任何网格" if not ids else "对应多个单元"
                    raise RowError(f"{part!r} {what}", f"“{part}”{what_zh}")
                unit_ids.append(ids[0])
            key = clean_text(raw.get("key")) or worker_key(name, phone)
        except RowError as exc:
            reports.append(RowReport(n, "fatal", None, name or None, str(exc), exc.message_zh))
            continue
        if key in records:
            first = records[key]
            extra = [u for u in unit_ids if u not in first.unit_ids]
            first.unit_ids.extend(extra)
            if extra:
                reports.append(
                    RowReport(
                        n,
                        "ok",
                        key,
                        name,
                        f"merged into row {first.row}",
                        f"已并入第 {first.row} 行",
                    )
                )
            else:
                reports.append(
                    RowReport(
                        n,
                        "duplicate",
                        key,
                        name,
                        f"same person as row {first.row}; skipped",
                        f"与第 {first.row} 行为同一人，已跳过",
                    )
                )
            continue
        records[key] = WorkerRecord(n, key, name, phone, role, unit_ids)
        reports.append(RowReport(n, "ok", key, name))
    return list(records.values()), reports
