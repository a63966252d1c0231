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
    # Special grids (专属网格). Shapefile field names stop at 10 characters: GDAL
    # truncates to "responsibl", "contact_na", "contact_ph"; ``gridmap export`` writes
    # "resp_unit", "cont_name", "cont_phone".
    "kind": ("kind", "类型", "专属网格类型", "网格类型", "类别", "type"),
    "responsible_unit": (
        "responsible_unit",
        "resp_unit",
        "responsibl",
        "责任单位",
        "负责单位",
        "主管单位",
        "管理单位",
    ),
    "contact_name": ("contact_name", "cont_name", "contact_na", "联系人", "负责人", "联系人姓名"),
    "contact_phone": (
        "contact_phone",
        "cont_phone",
        "contact_ph",
        "联系电话",
        "电话",
        "手机",
        "phone",
    ),
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
