"""UI strings for the web maps: Chinese by default, English selectable.

One flat table per language, keyed by dotted names (``level.grid``,
``field.code``...). Pages look strings up with :func:`t`; a missing key or an
unknown language raises instead of silently showing a key or the wrong language.
Strings may contain ``str.format`` fields (``{district}``) filled by ``t``.
"""

from __future__ import annotations

DEFAULT_LANG = "zh"

# The hierarchy levels (geo.vocab.LEVELS) double as the ``level``
# values in boundary data and as the suffixes of the ``level.*`` strings.

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
        "dashboard.title": "{district} 网格治理监督看板",
        "dashboard.heading": "网格治理监督看板",
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
        "field.change_short": "较上期",
        "field.incidents_short": "事件数",
        "field.unowned_short": "无主管楼院",
        "field.coverage_short": "巡防覆盖率",
        "field.rate_short": "每千户",
        "field.since_visit_short": "未巡天数",
        "field.unowned_km2_short": "无主管/km²",
        "field.since_visit": "距上次巡查",
        "field.rate": "事件/千户",
        "field.previous": "上期事件数",
        "field.change": "变化",
        "field.vs_previous": "较上期",
        "field.per_km2": "个/km²",
        "field.per_1000": "个/千户",
        "value.no_worker": "无",
        "dashboard.no_worker_badge": "无网格员",
        "value.never": "从未巡查",
        "value.never_short": "从未",
        "value.days_unit": "天",
        "filter.from": "从",
        "filter.to": "至",
        "filter.category": "类别",
        "filter.street": "街道",
        "filter.community": "社区",
        "filter.res": "H3 分辨率",
        "filter.all": "全部",
        "filter.apply": "应用",
        "layer.rate": "每千户事件数（网格）",
        "layer.since_visit": "距上次巡查天数（网格）",
        "layer.gaps": "巡防盲区（未巡查 H3 单元）",
        "layer.unowned_density": "无主管楼院密度（网格，个/km²）",
        "layer.unowned_cells": "无主管楼院（H3 单元）",
        "layer.rising": "上升热点",
        "legend.heat_unit": "事件热力（件/单元，{res} 级 H3）",
        "legend.daily_unit": "单日事件（件/单元）",
        "legend.rate_unit": "每千户事件数（件/千户）",
        "legend.coverage_unit": "巡防覆盖率（已巡单元占比）",
        "legend.since_unit": "距上次巡查（天）",
        "legend.gaps_unit": "巡防盲区：距上次巡查（天）",
        "legend.gaps_hint": "巡防盲区：选择街道或社区后按单元显示",
        "legend.unowned_km2_unit": "无主管楼院密度（个/km²）",
        "legend.unowned_cells_unit": "无主管楼院（个/H3 单元）",
        "legend.rising": "较上期增加 ≥ {min} 件且至少翻倍",
        "legend.rising_none": "上升热点：上期无事件数据",
        "slider.title": "日期",
        "slider.all": "整个时段",
        "dashboard.window": "统计时段：{start} 至 {end}（{days} 天），对比上期 {pstart} 至 {pend}",
        "login.title": "登录 · 网格地图服务",
        "login.heading": "登录网格地图服务",
        "login.login": "登录名",
        "login.password": "密码",
        "login.submit": "登录",
        "login.other_lang": "English",
        "login.hint": "账号由管理员开通；忘记密码请联系管理员重置。",
        "login.error": "登录名或密码不正确，或多次失败后账号暂时锁定（请几分钟后再试）。",
        "login.error_site": "登录请求并非来自本站页面，已拒绝。请直接打开本站的登录页。",
        "password.title": "设置新密码 · 网格地图服务",
        "password.heading": "请设置新密码",
        "password.current": "当前密码",
        "password.new": "新密码（至少 10 个字符，不含登录名）",
        "password.repeat": "再次输入新密码",
        "password.submit": "保存新密码",
        "password.hint": "首次登录或管理员重置密码后，须先设置自己的新密码。",
        "password.mismatch": "两次输入的新密码不一致。",
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
        "dashboard.title": "{district} grid governance dashboard",
        "dashboard.heading": "Grid governance dashboard",
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
        "field.change_short": "Δ prev.",
        "field.incidents_short": "Cases",
        "field.unowned_short": "Unown.",
        "field.coverage_short": "Cover.",
        "field.rate_short": "per 1k hh",
        "field.since_visit_short": "Days since patrol",
        "field.unowned_km2_short": "Unown. /km²",
        "field.since_visit": "Since last patrol",
        "field.rate": "Incidents per 1,000 households",
        "field.previous": "Previous window",
        "field.change": "Change",
        "field.vs_previous": "vs previous",
        "field.per_km2": "per km²",
        "field.per_1000": "per 1,000 households",
        "value.no_worker": "none",
        "dashboard.no_worker_badge": "no worker",
        "value.never": "never patrolled",
        "value.never_short": "never",
        "value.days_unit": "days",
        "filter.from": "From",
        "filter.to": "To",
        "filter.category": "Category",
        "filter.street": "Street",
        "filter.community": "Community",
        "filter.res": "H3 res",
        "filter.all": "All",
        "filter.apply": "Apply",
        "layer.rate": "Incidents per 1,000 households (grid)",
        "layer.since_visit": "Days since last patrol (grid)",
        "layer.gaps": "Patrol gaps (unvisited H3 cells)",
        "layer.unowned_density": "Unowned-compound density (grid, per km²)",
        "layer.unowned_cells": "Unowned compounds (H3 cells)",
        "layer.rising": "Rising hotspots",
        "legend.heat_unit": "Incident heat (incidents per cell, H3 res {res})",
        "legend.daily_unit": "One day (incidents per cell)",
        "legend.rate_unit": "Incidents per 1,000 households",
        "legend.coverage_unit": "Patrol coverage (share of cells visited)",
        "legend.since_unit": "Days since last patrol",
        "legend.gaps_unit": "Patrol gaps: days since last patrol",
        "legend.gaps_hint": "Patrol gaps: choose a street or community to draw the cells",
        "legend.unowned_km2_unit": "Unowned compounds per km²",
        "legend.unowned_cells_unit": "Unowned compounds per H3 cell",
        "legend.rising": "up by ≥ {min} and at least doubled",
        "legend.rising_none": "Rising hotspots: no incidents in the previous window",
        "slider.title": "Day",
        "slider.all": "whole window",
        "dashboard.window": (
            "Window: {start} to {end} ({days} days), compared with {pstart} to {pend}"
        ),
        "login.title": "Sign in · Grid map service",
        "login.heading": "Sign in to the grid map service",
        "login.login": "Login name",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.other_lang": "中文",
        "login.hint": "Accounts are opened by an administrator; ask them to reset a "
        "forgotten password.",
        "login.error": "Wrong login name or password, or the account is locked for a "
        "while after repeated failures (try again in a few minutes).",
        "login.error_site": "This sign-in did not come from this site's own page and was "
        "refused. Open the site's login page directly.",
        "password.title": "New password · Grid map service",
        "password.heading": "Choose a new password",
        "password.current": "Current password",
        "password.new": "New password (at least 10 characters, not the login name)",
        "password.repeat": "New password again",
        "password.submit": "Save the new password",
        "password.hint": "After the first sign-in or a reset by an administrator, choose "
        "your own password first.",
        "password.mismatch": "The two new passwords differ.",
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
