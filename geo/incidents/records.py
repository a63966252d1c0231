"""Incident intake rules (pure): categories, record validation, who is responsible.

Precedence (属地兜底 — territorial fallback): the comprehensive grid containing the
point is responsible, unless a rule names the incident's category together with the
kind of a special grid that contains the point; then that special grid's unit is.
Unowned compounds change nothing: territorial management is the fallback there too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from geo.crs import UnknownCRSError, parse_crs
from geo.plausible import EARLIEST, bad_char, describe_char
from geo.vocab import INCIDENT_SOURCES

# code → (中文, English). A default set of common case types; configurable.
DEFAULT_CATEGORIES: dict[str, tuple[str, str]] = {
    "environment": ("环境卫生", "Environment and sanitation"),
    "public_order": ("治安秩序", "Public order"),
    "road_facility": ("道路设施", "Roads and facilities"),
    "noise": ("噪音扰民", "Noise"),
    "illegal_construction": ("违法建设", "Illegal construction"),
    "safety_hazard": ("安全隐患", "Safety hazard"),
    "dispute": ("矛盾纠纷", "Dispute"),
    "campus_safety": ("校园安全", "Campus safety"),
    "medical_order": ("医疗秩序", "Hospital order"),
    "food_safety": ("食品安全", "Food safety"),
    "production_safety": ("安全生产", "Workplace safety"),
    "tourism": ("旅游秩序", "Tourism"),
    "other": ("其他", "Other"),
}


@dataclass(frozen=True)
class PrecedenceRule:
    """Incidents of these categories inside a special grid of these kinds go to it."""

    categories: frozenset[str]
    special_kinds: frozenset[str]


DEFAULT_RULES: tuple[PrecedenceRule, ...] = (
    PrecedenceRule(frozenset({"campus_safety"}), frozenset({"school", "campus"})),
    PrecedenceRule(frozenset({"medical_order"}), frozenset({"hospital"})),
    PrecedenceRule(frozenset({"food_safety"}), frozenset({"market"})),
    PrecedenceRule(frozenset({"production_safety"}), frozenset({"industrial_park", "enterprise"})),
    PrecedenceRule(frozenset({"tourism"}), frozenset({"scenic"})),
)


@dataclass(frozen=True)
class SpecialRef:
    special_id: int
    code: str
    name: str
    kind: str
    responsible_unit: str


def responsible_special(
    category: str, containing: list[SpecialRef], rules: tuple[PrecedenceRule, ...] = DEFAULT_RULES
) -> SpecialRef | None:
    """The special grid responsible by the first matching rule, or None (territorial)."""
    for rule in rules:
        if category in rule.categories:
            hits = sorted(
                (s for s in containing if s.kind in rule.special_kinds), key=lambda s: s.code
            )
            if hits:
                return hits[0]
    return None


@dataclass(frozen=True)
class IncidentIn:
    source: str
    external_id: str
    reported_at: datetime
    category: str
    lon: float
    lat: float
    crs: str
    description: str | None = None


class RowError(ValueError):
    """A bad intake row; ``field`` names what to fix."""

    def __init__(self, field: str, message: str, message_zh: str):
        super().__init__(message)
        self.field = field
        self.message = message
        self.message_zh = message_zh


def _float(v, field: str) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise RowError(
            field, f"{field} must be a number, got {v!r}", f"{field} 应为数字，实际为 {v!r}"
        ) from None
    if not math.isfinite(x):
        raise RowError(field, f"{field} must be finite", f"{field} 不能为 NaN 或无穷大")
    return x


# Phones' clocks run a little fast; a report minutes "in the future" is still real.
_SKEW = timedelta(minutes=10)


def parse_time(v: object) -> datetime:
    if isinstance(v, datetime):
        t = v
    else:
        try:
            t = datetime.fromisoformat(str(v).strip().replace("Z", "+00:00"))
        except ValueError:
            raise RowError(
                "reported_at",
                f"reported_at {v!r} is not an ISO 8601 time",
                f"reported_at {v!r} 不是 ISO 8601 时间（如 2026-10-01T08:30:00+08:00）",
            ) from None
    if t.tzinfo is None:
        raise RowError(
            "reported_at",
            "reported_at needs a time zone, e.g. +08:00",
            "reported_at 需带时区，如 +08:00",
        )
    if t > datetime.now(UTC).replace(microsecond=0) + _SKEW:
        raise RowError(
            "reported_at",
            "reported_at lies in the future; check the device's clock",
            "reported_at 晚于当前时间；请检查设备时钟",
        )
    if t < EARLIEST:
        raise RowError(
            "reported_at",
            f"reported_at lies before {EARLIEST:%Y-%m-%d}; check the device's clock and send "
            "the real time",
            f"reported_at 早于 {EARLIEST:%Y-%m-%d}；请检查设备时钟，提交真实时间",
        )
    return t


def _clean_text(v, field: str, single_line: bool) -> str:
    """``v`` as text; RowError when it holds a NUL, a control or a lone surrogate."""
    text = str(v)
    ch = bad_char(text, single_line)
    if ch is not None:
        what, what_zh = describe_char(ch)
        raise RowError(
            field,
            f"{field} contains {what}; remove it (printable characters only) and send again",
            f"{field} 含有{what_zh}；请删除（只能包含可打印字符）后重新提交",
        )
    return text


def parse_incident(row: dict, categories: dict = DEFAULT_CATEGORIES) -> IncidentIn:
    """Validate one intake record (a dict from JSON, CSV or GeoJSON properties)."""
    source = str(row.get("source") or "").strip()
    if source not in INCIDENT_SOURCES:
        raise RowError(
            "source",
            f"source must be one of {', '.join(INCIDENT_SOURCES)}",
            f"source 应为 {', '.join(INCIDENT_SOURCES)} 之一",
        )
    ext = _clean_text(row.get("external_id") or "", "external_id", True).strip()
    if not ext or len(ext) > 200:
        raise RowError(
            "external_id",
            "external_id is required (≤ 200 chars)",
            "external_id 必填（不超过 200 字符）",
        )
    category = str(row.get("category") or "").strip()
    if category not in categories:
        raise RowError(
            "category",
            f"unknown category {category!r}; see GET /v1/incidents/categories",
            f"未知类别 {category!r}；可用类别见 GET /v1/incidents/categories",
        )
    crs = str(row.get("crs") or "").strip()
    if not crs:
        raise RowError(
            "crs",
            "crs is required: wgs84, gcj02, bd09 or cgcs2000",
            "crs 必填：wgs84、gcj02、bd09 或 cgcs2000",
        )
    try:
        crs = parse_crs(crs).value
    except UnknownCRSError as exc:
        raise RowError("crs", str(exc), f"未知坐标系 {crs!r}") from None
    lon, lat = _float(row.get("lon"), "lon"), _float(row.get("lat"), "lat")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise RowError(
            "lon", "lon/lat out of range (lon first, then lat)", "经纬度超出范围（先经度后纬度）"
        )
    desc = row.get("description")
    return IncidentIn(
        source,
        ext,
        parse_time(row.get("reported_at")),
        category,
        lon,
        lat,
        crs,
        None if desc is None else _clean_text(desc, "description", False)[:4000],
    )
