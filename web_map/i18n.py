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
