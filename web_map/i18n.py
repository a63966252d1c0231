"""UI strings for the web maps: Chinese by default, English selectable.

One flat table per language, keyed by dotted names (``level.grid``,
``field.code``...). Pages look strings up with :func:`t`; a missing key or an
unknown language raises instead of silently showing a key or the wrong language.
Strings may contain ``str.format`` fields (``{district}``) filled by ``t``.
"""

from __future__ import annotations

DEFAULT_LANG = "zh"

# The four hierarchy levels, highest first; the keys double as the ``level``
# values in boundary data and as the suffixes of the ``level.*`` strings.
LEVELS: tuple[str, ...] = ("district", "street", "community", "grid")

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "html.lang": "zh-CN",
        "level.district": "区县",
        "level.street": "街道(乡镇)",
        "level.community": "社区(村)",
        "level.grid": "网格",
        "field.code": "编码",
        "field.name": "名称",
        "field.parent_code": "上级编码",
        "overview.title": "{district} 四级网格总览",
        "overview.heading": "四级网格总览",
        "overview.count": "{count} 个",
        "legend.title": "图例",
        "tiles.name": "底图",
        "tiles.attribution": "内网底图",
        "dashboard.title": "{district} 网格治理监督看板",
        "dashboard.heading": "网格治理监督看板",
        "dashboard.window": "统计时段：{start} 至 {end}（近 {days} 天）",
        "dashboard.kpi": "网格指标（点击表头排序，点击行定位）",
        "dashboard.no_worker_count": "无网格员网格：{count} 个",
        "layer.grid_outline": "网格边界",
        "layer.incident_heat": "事件热力（H3 单元）",
        "layer.coverage": "巡防覆盖率",
        "layer.unowned": "无主管楼院数",
        "layer.no_worker": "无网格员网格",
        "layer.compounds": "楼院（按管理类型）",
        "field.incidents": "事件数",
        "field.coverage": "巡防覆盖率",
        "field.unowned": "无主管楼院",
        "field.cell": "H3 单元",
        "field.compound": "楼院",
        "field.management_type": "管理类型",
        "field.households": "户数",
        "field.worker": "网格员",
        "value.yes": "有",
        "value.no": "无",
        "value.none": "—",
        "management.property_company": "物业公司",
        "management.unit": "单位管理",
        "management.self_governed": "自治管理",
        "management.unowned": "无主管",
    },
    "en": {
        "html.lang": "en",
        "level.district": "District",
        "level.street": "Street",
        "level.community": "Community",
        "level.grid": "Grid",
        "field.code": "Code",
        "field.name": "Name",
        "field.parent_code": "Parent code",
        "overview.title": "{district} four-level grid overview",
        "overview.heading": "Four-level grid overview",
        "overview.count": "{count}",
        "legend.title": "Legend",
        "tiles.name": "Basemap",
        "tiles.attribution": "Intranet basemap",
        "dashboard.title": "{district} grid governance dashboard",
        "dashboard.heading": "Grid governance dashboard",
        "dashboard.window": "Window: {start} to {end} (last {days} days)",
        "dashboard.kpi": "Grid KPIs (click a header to sort, a row to zoom)",
        "dashboard.no_worker_count": "Grids without a worker: {count}",
        "layer.grid_outline": "Grid outlines",
        "layer.incident_heat": "Incident heat (H3 cells)",
        "layer.coverage": "Patrol coverage",
        "layer.unowned": "Unowned compounds",
        "layer.no_worker": "Grids without a worker",
        "layer.compounds": "Compounds (by management)",
        "field.incidents": "Incidents",
        "field.coverage": "Coverage",
        "field.unowned": "Unowned",
        "field.cell": "H3 cell",
        "field.compound": "Compound",
        "field.management_type": "Management",
        "field.households": "Households",
        "field.worker": "Worker",
        "value.yes": "yes",
        "value.no": "none",
        "value.none": "—",
        "management.property_company": "Property company",
        "management.unit": "Owner unit",
        "management.self_governed": "Self-governed",
        "management.unowned": "Unowned",
    },
}

LANGUAGES: tuple[str, ...] = tuple(STRINGS)


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is a supported language code.

    Raises
    ------
    ValueError
        If ``lang`` is not one of :data:`LANGUAGES`.
    """
    if lang not in STRINGS:
        raise ValueError(f"unsupported language {lang!r}; expected one of {LANGUAGES}")
    return lang


def t(key: str, lang: str = DEFAULT_LANG, **fields: object) -> str:
    """Look up the UI string ``key`` in ``lang`` and fill its format fields.

    Parameters
    ----------
    key
        Dotted string name, e.g. ``"level.grid"``.
    lang
        ``"zh"`` or ``"en"``.
    **fields
        Values for ``{name}`` placeholders in the string.

    Raises
    ------
    ValueError
        For an unsupported language.
    KeyError
        For a key missing from the language's table.
    """
    text = STRINGS[check_lang(lang)][key]
    return text.format(**fields) if fields else text
