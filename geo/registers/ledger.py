"""Ledgers (台账) in and out: the Excel/CSV registers street offices keep.

Pure: reads bytes, returns records and a per-row report; the database side is in
:mod:`geo.store.ledgers`. A ledger is what people actually keep, so the reader expects
mess: title rows above a header that may span two rows through merged cells, blank
rows, footnotes, trailing spaces, full-width digits (１２３), traditional characters
(號, 網), units after numbers (120户, 1985年), duplicate rows. Each row ends in one
status:

``ok``           parsed; coordinates given (converted to WGS-84) or none needed yet
``located``      placed through the forward geocoder from its address (score kept)
``unlocatable``  no coordinates and the address matched nothing well enough: kept
                 for manual placing, not dropped
``duplicate``    the same compound (or person) as an earlier row: skipped
``fatal``        cannot be imported as written (reason given); a commit is refused

Exports use the same headers, so a file exported and imported again changes
nothing; text cells that a spreadsheet would run as a formula are escaped with ``'``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import shapely

from geo.crs import UnknownCRSError, parse_crs, to_wgs84
from geo.gazetteer.text import _t2s, normalise

__all__ = [
    "COMPOUND_FIELDS",
    "SPECIAL_FIELDS",
    "WORKER_FIELDS",
    "CompoundRecord",
    "LedgerTable",
    "RowReport",
    "WorkerRecord",
    "clean_text",
    "locate",
    "parse_compounds",
    "parse_workers",
    "read_table",
    "safe_cell",
    "write_table",
]

# Field → headers seen in ledgers, as normalise() gives them; the first is the one
# exports write. Brackets after a header (户数（户）, 经度(GCJ02)) are ignored.
COMPOUND_FIELDS: dict[str, tuple[str, ...]] = {
    "key": ("编号", "楼院编号", "小区编号", "系统编号"),
    "name": ("小区名称", "楼院名称", "小区楼院名称", "名称", "小区"),
    "address": ("地址", "详细地址", "小区地址", "楼院地址"),
    "households": ("户数", "住户数", "总户数"),
    "buildings": ("楼栋数", "栋数", "楼栋"),
    "year_built": ("建成年代", "建成年份", "建成时间", "建设年代"),
    "management_type": ("物业类型", "管理方式", "管理类型", "物业管理方式"),
    "lon": ("经度",),
    "lat": ("纬度",),
    "crs": ("坐标系", "坐标系统"),
    "street": ("所在街道",),
    "community": ("所在社区",),
    "grid": ("所在网格",),
    "grid_code": ("网格编码",),
    "located_by": ("定位方式",),
    "match_score": ("匹配分",),
    "issues": ("存在问题", "问题"),
    "mode": ("治理模式", "整治模式", "管理模式"),
    "committee": ("业委会", "业委会成立", "业主委员会"),
    "works": ("整治项目", "完成整治", "整治完成情况"),
    "struck_off_on": ("销号日期", "销号时间"),
    "verified_by": ("验收人", "销号验收人"),
}
CAMPAIGN_FIELDS = ("issues", "mode", "committee", "works", "struck_off_on", "verified_by")
WORKER_FIELDS: dict[str, tuple[str, ...]] = {
    "key": ("编号", "工号", "人员编号"),
    "name": ("网格员", "姓名", "网格员姓名"),
    "phone": ("联系电话", "电话", "手机", "手机号", "手机号码"),
    "units": ("负责网格", "所属网格", "网格", "负责区域"),
    "unit_codes": ("网格编码", "单元编码"),  # preferred over names when present
    "role": ("职务", "角色", "岗位"),
}

SPECIAL_FIELDS: dict[str, tuple[str, ...]] = {
    "key": ("专属网格编码", "编码", "专属网格代码"),
    "name": ("专属网格名称", "专属网格", "名称", "单位名称"),
    "kind": ("类型", "专属网格类型"),
    "responsible_unit": ("责任单位", "主管单位", "负责单位"),
    "contact_name": ("联系人", "负责人"),
    "contact_phone": ("联系电话", "电话", "手机"),
    "grid": ("所在网格",),
    "grid_code": ("所在网格编码",),
}
FIELDS = {"compounds": COMPOUND_FIELDS, "workers": WORKER_FIELDS, "special_grids": SPECIAL_FIELDS}
MANAGEMENT_LABELS = {
    "property_company": ("物业公司", "物业", "物业管理", "专业物业", "有物业"),
    "unit": ("单位管理", "单位", "产权单位", "单位自管"),
    "self_governed": ("业主自管", "自管", "居民自治", "自治"),
    "unowned": ("无主管", "无主管楼院", "无物业", "无人管理", "弃管", "三无"),
}
MODE_LABELS = {
    "professional": ("专业型", "专业化物业", "专业"),
    "community": ("社区型", "社区托管", "社区"),
    "self_governed": ("自治型", "居民自治", "自治"),
}
ROLE_LABELS = {
    "worker": ("网格员", "专职网格员"),
    "leader": ("网格长",),
    "volunteer": ("志愿者",),
    "patroller": ("巡防员", "巡逻员"),
}
CRS_LABELS = {
    "wgs84": ("wgs84", "gps", "epsg4326"),
    "gcj02": ("gcj02", "高德", "腾讯", "火星"),
    "bd09": ("bd09", "百度"),
    "cgcs2000": ("cgcs2000", "2000", "国家2000", "epsg4490"),
}
# Governance status written on the compound (the sample's vocabulary).
GOVERNANCE_STATUS = {
    "property_company": "professional",
    "unit": "unit_managed",
    "self_governed": "self_governed",
}
MODE_STATUS = {
    "professional": "professional",
    "community": "community_managed",
    "self_governed": "self_governed",
}
MIN_SCORE = 60.0
# Kinds an address may be placed at: a street is too coarse to put a compound on.
PLACE_KINDS = ("compound", "special_grid", "grid", "community")
_HEADER_SCAN = 20
_BRACKETS = re.compile(r"[（(\[【].*?[)）\]】]")
_SPLIT_LIST = re.compile(r"[、，,；;/\n]+")
_SPLIT_WORKS = re.compile(r"[；;\n]+")
_WORK = re.compile(r"^(.*?)[\s（(]*(\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?)[)）]?$")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_INT = re.compile(r"^(\d+)(?:\.0+)?\s*(户|栋|幢|座|年.*)?$")
_YEAR = re.compile(r"^(\d{4})(?:\.0+)?(?:年.*|[-/.].*)?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
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


def _header_key(value: Any) -> str:
    return normalise(_BRACKETS.sub("", clean_text(value)).rstrip("*"))


def _label_table(labels: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {normalise(alias): code for code, aliases in labels.items() for alias in aliases}


_MANAGEMENT = _label_table(MANAGEMENT_LABELS)
_MODES = _label_table(MODE_LABELS)
_ROLES = _label_table(ROLE_LABELS)
_CRS = _label_table(CRS_LABELS)


@dataclass
class LedgerTable:
    """The data rows of a ledger, cells as read, under field names.

    ``rows`` are dicts field → raw cell (str, int, float, datetime or None) and
    ``row_numbers`` the spreadsheet row (1-based, as Excel shows it) or CSV line.
    ``columns`` maps each recognised field to the header it came from; ``ignored``
    lists the headers not used.
    """

    rows: list[dict[str, Any]]
    row_numbers: list[int]
    columns: dict[str, str]
    ignored: list[str]
    encoding: str | None = None
    header_row: int = 1


@dataclass
class RowReport:
    """What became of one ledger row. ``reason``/``reason_zh`` explain non-ok rows."""

    row: int
    status: str
    key: str | None = None
    name: str | None = None
    reason: str | None = None
    reason_zh: str | None = None
    score: float | None = None
    matched: str | None = None
    action: str | None = None  # new | changed | unchanged, filled by the store

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class CompoundRecord:
    """One compound as the ledger states it; lon/lat WGS-84 once known."""

    row: int
    key: str
    name: str
    address: str | None
    households: int | None
    buildings: int | None
    year_built: int | None
    management_type: str
    lon: float | None = None
    lat: float | None = None
    crs_in: str | None = None
    located_by: str | None = None
    match_score: float | None = None
    matched: str | None = None
    campaign: dict | None = None  # governance fields, when the ledger has them

    @property
    def governance_status(self) -> str:
        if self.management_type == "unowned":
            mode = (self.campaign or {}).get("mode")
            return MODE_STATUS.get(mode, "none")
        return GOVERNANCE_STATUS[self.management_type]

    def as_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class WorkerRecord:
    """One person of a workers ledger with the unit ids they serve."""

    row: int
    key: str
    name: str
    phone: str | None
    role: str
    unit_ids: list[int] = field(default_factory=list)


class RowError(ValueError):
    """A cell that cannot be read: fatal for its row."""

    def __init__(self, message: str, message_zh: str):
        super().__init__(message)
        self.message_zh = message_zh


# --- reading -----------------------------------------------------------------------


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


def _xlsx_cells(data: bytes, sheet: str | None) -> list[list[Any]]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), data_only=True)
    ws = book[sheet] if sheet else book.worksheets[0]
    grid = [list(r) for r in ws.iter_rows(values_only=True)]
    # A merged cell holds its value in the top-left corner only; ledgers merge
    # header cells and repeated values (one 社区 over several rows), so fill them.
    for rng in ws.merged_cells.ranges:
        value = grid[rng.min_row - 1][rng.min_col - 1]
        for r in range(rng.min_row - 1, min(rng.max_row, len(grid))):
            for c in range(rng.min_col - 1, rng.max_col):
                grid[r][c] = value
    return grid


def _unescape(value: Any) -> Any:
    """Undo the export's formula escape (``'=x`` → ``=x``)."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'":
        # LF too: XLSX readers turn an escaped bare CR into LF.
        if value[1] in _FORMULA_START or value[1] == "\n":
            return value[1:]
    return value


def _find_header(cells: list[list[Any]], aliases: dict[str, str]) -> tuple[int, list[str | None]]:
    """Index of the header row and the field of each column.

    The header is the row among the first few naming the most known headers. When the
    next row names fields in columns the header row does not (经度/纬度 under a merged
    坐标 cell), the two rows are read as one header.
    """

    def fields(row) -> list[str | None]:
        return [aliases.get(_header_key(v)) if v is not None else None for v in row]

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
        aliases[_header_key(header)] = f
    used_encoding = None
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:4] == b"PK\x03\x04":
        try:
            cells = _xlsx_cells(data, sheet)
        except Exception as exc:  # openpyxl raises many kinds on a damaged file
            raise RowError(
                f"cannot read the XLSX file: {exc}", f"无法读取 XLSX 文件：{exc}"
            ) from None
    else:
        try:
            text, used_encoding = _decode_csv(data, encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise RowError(
                f"cannot decode the CSV file ({exc}); give its encoding, e.g. GBK",
                f"无法解码 CSV 文件（{exc}）；请指定编码，如 GBK",
            ) from None
        cells = [list(r) for r in csv.reader(io.StringIO(text))]
    h, fields = _find_header(cells, aliases)
    for f, header in (column_map or {}).items():
        if f not in fields:
            raise RowError(f"column {header!r} not found", f"未找到列 {header!r}")
    columns: dict[str, str] = {}
    ignored = []
    header_cells = cells[h]
    for i, f in enumerate(fields):
        label = clean_text(header_cells[i]) if i < len(header_cells) else ""
        if f is None or f in columns:
            if label and f is None:
                ignored.append(label)
            continue
        columns[f] = label
    rows, numbers = [], []
    for n, raw in enumerate(cells[h + 1 :], start=h + 2):
        row = {}
        for i, f in enumerate(fields):
            if f is not None and f not in row and i < len(raw):
                row[f] = _unescape(raw[i])
        if all(clean_text(v) == "" for v in row.values()):
            continue  # blank row
        rows.append(row)
        numbers.append(n)
    return LedgerTable(rows, numbers, columns, ignored, used_encoding, h + 1)


# --- cells -------------------------------------------------------------------------


def _int(value: Any, what: str, what_zh: str) -> int | None:
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


def _year(value: Any) -> int | None:
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


def _date(value: Any) -> date | None:
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


def _label(value: Any, table: dict[str, str], what: str, what_zh: str) -> str | None:
    text = clean_text(value)
    if not text:
        return None
    code = table.get(normalise(text)) or (text if text in table.values() else None)
    if code is None:
        known = "、".join(sorted(set(table)))
        raise RowError(f"unknown {what} {text!r}", f"未知的{what_zh}“{text}”，可用：{known}")
    return code


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = clean_text(value).rstrip("°")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise RowError(f"coordinate {text!r} is not a number", f"坐标“{text}”不是数字") from None


def _works(value: Any) -> list[dict]:
    out = []
    for part in _SPLIT_WORKS.split(clean_text(value)):
        part = part.strip()
        if not part:
            continue
        m = _WORK.match(part)
        if m:
            done = _date(m.group(2))
            out.append({"work": m.group(1).strip(), "done_on": done.isoformat()})
        else:
            out.append({"work": part, "done_on": None})
    return out


def _campaign(row: dict) -> dict:
    issues = [p.strip() for p in _SPLIT_LIST.split(clean_text(row.get("issues")))]
    committee = clean_text(row.get("committee")).lower()
    if committee not in _YES and committee not in _NO:
        raise RowError(
            f"owners' committee {committee!r}: write 是 or 否",
            f"业委会“{committee}”：请填写 是 或 否",
        )
    struck = _date(row.get("struck_off_on"))
    out = {
        "issues": [p for p in issues if p and p not in ("无", "暂无")],
        "mode": _label(row.get("mode"), _MODES, "management mode", "治理模式"),
        "committee_formed": committee in _YES,
        "works": _works(row.get("works")),
        "struck_off_on": struck.isoformat() if struck else None,
        "verified_by": clean_text(row.get("verified_by")) or None,
    }
    if struck and not (out["mode"] and out["verified_by"]):
        raise RowError(
            "struck off (销号) needs a management mode and who verified it",
            "销号须已确定治理模式并填写验收人",
        )
    return out


def compound_key(name: str, address: str | None) -> str:
    """Stable key of a ledger compound with no 编号: spelling variants share it."""
    basis = f"{normalise(name)}|{normalise(address or '')}"
    return "ledger:" + hashlib.sha1(basis.encode()).hexdigest()[:16]


# --- compounds ---------------------------------------------------------------------


def parse_compounds(
    table: LedgerTable,
    *,
    default_crs: str | None = None,
    default_management: str | None = None,
    district=None,
) -> tuple[list[CompoundRecord], list[RowReport]]:
    """Records of the importable rows and a report for every row.

    Coordinates are converted to WGS-84 from the row's 坐标系 (else ``default_crs``);
    points outside ``district`` (a WGS-84 shapely geometry) are fatal, as swapped
    lon/lat or a wrong CRS usually are. Rows without coordinates come back with
    ``lon = None`` for :func:`locate`.
    """
    records: list[CompoundRecord] = []
    reports: list[RowReport] = []
    seen: dict[str, int] = {}
    has_campaign = any(f in table.columns for f in CAMPAIGN_FIELDS)
    for raw, n in zip(table.rows, table.row_numbers, strict=True):
        name = clean_text(raw.get("name"))
        others = [k for k, v in raw.items() if k not in ("name", "key") and clean_text(v)]
        if not name and not others:
            continue  # a footnote in the first column (制表人：…)
        try:
            if not name:
                raise RowError("the compound has no name", "缺少小区名称")
            address = clean_text(raw.get("address")) or None
            key = clean_text(raw.get("key")) or compound_key(name, address)
            management = (
                _label(raw.get("management_type"), _MANAGEMENT, "management type", "物业类型")
                or default_management
            )
            if management is None:
                raise RowError("management type missing", "缺少物业类型/管理方式")
            rec = CompoundRecord(
                row=n,
                key=key,
                name=name,
                address=address,
                households=_int(raw.get("households"), "households", "户数"),
                buildings=_int(raw.get("buildings"), "buildings", "楼栋数"),
                year_built=_year(raw.get("year_built")),
                management_type=management,
            )
            if has_campaign and management == "unowned":
                rec.campaign = _campaign(raw)
            _coordinates(rec, raw, default_crs, district)
        except RowError as exc:
            reports.append(RowReport(n, "fatal", None, name or None, str(exc), exc.message_zh))
            continue
        if key in seen:
            reports.append(
                RowReport(
                    n,
                    "duplicate",
                    key,
                    name,
                    f"same compound as row {seen[key]}; skipped",
                    f"与第 {seen[key]} 行为同一小区，已跳过",
                )
            )
            continue
        seen[key] = n
        records.append(rec)
        reports.append(RowReport(n, "ok", key, name))
    return records, reports


def _coordinates(rec: CompoundRecord, raw: dict, default_crs, district) -> None:
    lon, lat = _float(raw.get("lon")), _float(raw.get("lat"))
    if lon is None and lat is None:
        return
    if lon is None or lat is None:
        raise RowError("only one of lon/lat given", "经度、纬度只填了一个")
    crs_text = clean_text(raw.get("crs")) or default_crs
    if not crs_text:
        raise RowError(
            "coordinates without a CRS: add a 坐标系 column (wgs84, gcj02, bd09, cgcs2000)",
            "坐标未注明坐标系：请增加“坐标系”列（wgs84、gcj02、bd09、cgcs2000）",
        )
    try:
        crs = _CRS.get(normalise(crs_text)) or parse_crs(crs_text).value
    except UnknownCRSError:
        raise RowError(
            f"unknown CRS {crs_text!r}; use wgs84, gcj02, bd09 or cgcs2000",
            f"未知坐标系“{crs_text}”；可用 wgs84、gcj02、bd09、cgcs2000",
        ) from None
    x, y = (float(v) for v in to_wgs84(lon, lat, crs))
    if district is not None and not shapely.covers(district, shapely.Point(x, y)):
        raise RowError(
            f"({lon}, {lat}) in {crs} lies outside the district: check the lon/lat order "
            "and the CRS",
            f"坐标 ({lon}, {lat})（{crs}）不在本区内：请检查经纬度顺序和坐标系",
        )
    rec.lon, rec.lat, rec.crs_in, rec.located_by = x, y, crs, "coordinates"


def locate(
    records: Iterable[CompoundRecord],
    search: Callable[[str], list],
    reports: dict[int, RowReport],
    *,
    min_score: float = MIN_SCORE,
) -> None:
    """Place records without coordinates through the forward geocoder.

    ``search(text)`` returns candidates (``kind, name, score, lon, lat, matched``)
    best first, WGS-84. The address is tried, then the name; the first candidate of
    a kind in ``PLACE_KINDS`` scoring at least ``min_score`` wins. ``reports``
    (row → report) are updated: ``located`` with the score, or ``unlocatable``.
    """
    for rec in records:
        report = reports[rec.row]
        best = None
        for text in (rec.address, rec.name):
            if not text:
                continue
            best = next(
                (c for c in search(text) if c.kind in PLACE_KINDS and c.score >= min_score),
                None,
            )
            if best is not None:
                break
        if best is None:
            report.status = "unlocatable"
            report.reason = (
                "no coordinates and the address matched no known place; place it by hand"
            )
            report.reason_zh = "无坐标且地址未匹配到已知地点，请人工落点"
            continue
        rec.lon, rec.lat = float(best.lon), float(best.lat)
        rec.located_by, rec.match_score = "address", float(best.score)
        rec.matched = f"{best.kind}:{best.name} ({best.matched})"
        report.status, report.score, report.matched = "located", rec.match_score, rec.matched


# --- workers -----------------------------------------------------------------------


def _phone(value: Any) -> str | None:
    text = re.sub(r"[\s\-－—()（）]", "", clean_text(value))
    if not text:
        return None
    if not text.isdigit() or not 7 <= len(text) <= 12:
        raise RowError(f"phone {text!r} is not a number", f"联系电话“{text}”格式不正确")
    return text


def worker_key(name: str, phone: str | None) -> str:
    """Stable code of a ledger person with no 编号."""
    return "L" + hashlib.sha1(f"{normalise(name)}|{phone or ''}".encode()).hexdigest()[:10].upper()


def parse_workers(table: LedgerTable, units) -> tuple[list[WorkerRecord], list[RowReport]]:
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
            phone = _phone(raw.get("phone"))
            role = _label(raw.get("role"), _ROLES, "role", "职务") or "worker"
            unit_ids = []
            listed = clean_text(raw.get("unit_codes")) or clean_text(raw.get("units"))
            for part in _SPLIT_LIST.split(listed):
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


# --- special grids -----------------------------------------------------------------


@dataclass
class SpecialRecord:
    """The responsible unit and contact of one live special grid."""

    row: int
    key: str
    name: str
    responsible_unit: str
    contact_name: str | None
    contact_phone: str | None


def parse_special_grids(table: LedgerTable, special) -> tuple[list[SpecialRecord], list[RowReport]]:
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
                _phone(raw.get("contact_phone")),
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


# --- writing -----------------------------------------------------------------------


def safe_cell(value: Any) -> Any:
    """Escape text a spreadsheet would run as a formula (``=`` ``+`` ``-`` ``@``, tab, CR)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
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
