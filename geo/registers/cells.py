"""One ledger cell at a time: text as it is stored, whole numbers with units after them
(120户), years, dates (also Excel serial days), coded labels, coordinates, phones and
the campaign columns. A cell that cannot be read raises :class:`RowError`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, cast

import numpy as np

from geo.gazetteer.text import _t2s, normalise
from geo.registers.fields import CRS_LABELS, MANAGEMENT_LABELS, MODE_LABELS, ROLE_LABELS
from geo.registers.records import RowError

# Several values in one cell (负责网格: 一网格、二网格; 存在问题 …).
SPLIT_LIST = re.compile(r"[、，,；;/\n]+")
_SPLIT_WORKS = re.compile(r"[；;\n]+")
_WORK = re.compile(r"^(.*?)[\s（(]*(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)[)）]?$")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_INT = re.compile(r"^(\d+)(?:\.0+)?\s*(户|栋|幢|座|年.*)?$")
_YEAR = re.compile(r"^(\d{4})(?:\.0+)?(?:年.*|[-/.].*)?$")
# A text cell starting with one of these is run as a formula by spreadsheets.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_YES = {"是", "已成立", "有", "√", "✓", "y", "yes", "true", "1"}
_NO = {"否", "未成立", "无", "×", "n", "no", "false", "0", ""}


def clean_text(value: Any) -> str:
    """Stored form of ledger text: NFKC (full-width → half-width), traditional →
    simplified, 號 → 号, stripped, inner runs of spaces collapsed; None → ""."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    out = unicodedata.normalize("NFKC", str(value)).replace("號", "号")
    out = _t2s().convert(out)  # the gazetteer's OpenCC instance: one per process
    return re.sub(r"\s+", " ", out).strip()


def _label_table(labels: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {normalise(alias): code for code, aliases in labels.items() for alias in aliases}


MANAGEMENT_CODES = _label_table(MANAGEMENT_LABELS)
MODE_CODES = _label_table(MODE_LABELS)
ROLE_CODES = _label_table(ROLE_LABELS)
CRS_CODES = _label_table(CRS_LABELS)


def int_cell(value: Any, what: str, what_zh: str) -> int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if float(value).is_integer() and value >= 0:
            return int(value)
    text = clean_text(value).replace(",", "")
    if not text:
        return None
    m = _INT.match(text)
    if not m:
        raise RowError(f"{what} {text!r} is not a whole number", f"{what_zh}“{text}”不是整数")
    return int(m.group(1))


def year_cell(value: Any) -> int | None:
    if isinstance(value, datetime | date):
        return value.year
    text = clean_text(value)
    if not text:
        return None
    m = _YEAR.match(text)
    year = int(m.group(1)) if m else None
    if year is None or not 1800 <= year <= 2100:
        raise RowError(f"year built {text!r} is not a year", f"建成年代“{text}”不是年份")
    return year


def date_cell(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and 20000 < value < 80000:
        return date(1899, 12, 30) + timedelta(days=int(value))  # an Excel serial day
    text = clean_text(value)
    if not text:
        return None
    m = _DATE.match(text)
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
    except ValueError:
        pass
    raise RowError(f"date {text!r} is not a date", f"日期“{text}”无法识别")


def label_cell(value: Any, table: dict[str, str], what: str, what_zh: str) -> str | None:
    text = clean_text(value)
    if not text:
        return None
    code = table.get(normalise(text)) or (text if text in table.values() else None)
    if code is None:
        known = "、".join(sorted(set(table)))
        raise RowError(f"unknown {what} {text!r}", f"未知的{what_zh}“{text}”，可用：{known}")
    return code


def float_cell(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = clean_text(value).rstrip("°")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise RowError(f"coordinate {text!r} is not a number", f"坐标“{text}”不是数字") from None


def works_cell(value: Any) -> list[dict]:
    out = []
    for part in _SPLIT_WORKS.split(clean_text(value)):
        part = part.strip()
        if not part:
            continue
        m = _WORK.match(part)
        if m:
            done = cast(date, date_cell(m.group(2)))  # a matched date is never empty
            out.append({"work": m.group(1).strip(), "done_on": done.isoformat()})
        else:
            out.append({"work": part, "done_on": None})
    return out


def campaign_cells(row: dict) -> dict:
    issues = [p.strip() for p in SPLIT_LIST.split(clean_text(row.get("issues")))]
    committee = clean_text(row.get("committee")).lower()
    if committee not in _YES and committee not in _NO:
        raise RowError(
            f"owners' committee {committee!r}: write 是 or 否",
            f"业委会“{committee}”：请填写 是 或 否",
        )
    struck = date_cell(row.get("struck_off_on"))
    out = {
        "issues": [p for p in issues if p and p not in ("无", "暂无")],
        "mode": label_cell(row.get("mode"), MODE_CODES, "management mode", "治理模式"),
        "committee_formed": committee in _YES,
        "works": works_cell(row.get("works")),
        "struck_off_on": struck.isoformat() if struck else None,
        "verified_by": clean_text(row.get("verified_by")) or None,
    }
    if struck and not (out["mode"] and out["verified_by"]):
        raise RowError(
            "struck off (销号) needs a management mode and who verified it",
            "销号须已确定治理模式并填写验收人",
        )
    return out


def phone_cell(value: Any) -> str | None:
    text = re.sub(r"[\s\-－—()（）]", "", clean_text(value))
    if not text:
        return None
    if not text.isdigit() or not 7 <= len(text) <= 12:
        raise RowError(f"phone {text!r} is not a number", f"联系电话“{text}”格式不正确")
    return text
