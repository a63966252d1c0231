"""Recognise the column names boundary files use (Chinese and English) for our fields."""

from __future__ import annotations

# Canonical field → names seen in surveying bureaus' and districts' files, in order of
# preference. Compared case-insensitively after stripping spaces.
ALIASES: dict[str, tuple[str, ...]] = {
    "code": (
        "code",
        "编码",
        "代码",
        "网格编码",
        "网格代码",
        "社区编码",
        "村编码",
        "街道编码",
        "乡镇编码",
        "区划代码",
        "行政区划代码",
        "统计用区划代码",
        "区划编码",
        "gridcode",
        "grid_code",
        "adcode",
    ),
    "name": (
        "name",
        "名称",
        "网格名称",
        "社区名称",
        "村名称",
        "街道名称",
        "乡镇名称",
        "区划名称",
        "单位名称",
        "gridname",
        "grid_name",
    ),
    "parent_code": (
        "parent_code",
        "parent",
        "上级编码",
        "上级代码",
        "所属社区",
        "所属社区编码",
        "所属街道",
        "所属街道编码",
        "所属乡镇",
        "所属区县",
        "parentcode",
    ),
    "level": ("level", "层级", "级别"),
}


def _norm(name: str) -> str:
    return name.strip().lower().replace(" ", "")


def detect_columns(columns: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Map canonical fields to the file's columns: ``{"code": "网格编码", ...}``.

    ``overrides`` (from ``--map code=编码``) wins over detection. Fields with no match
    are left out; the caller decides which are required.
    """
    by_norm = {_norm(c): c for c in columns}
    found: dict[str, str] = {}
    for field, names in ALIASES.items():
        for alias in names:
            if _norm(alias) in by_norm:
                found[field] = by_norm[_norm(alias)]
                break
    for field, col in (overrides or {}).items():
        if col not in columns:
            raise KeyError(col)
        found[field] = col
    return found
