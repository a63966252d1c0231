"""The one ``field=column`` parser: which column of a file holds which field.

``gridmap import|ledger import --map`` and the ``map`` form field of the upload
endpoints take the same text, ``code=编码,name=名称,parent=上级编码``: entries split on
commas (full-width ``，`` too), blank entries skipped, each ``field=column`` with spaces
around either side dropped. Each kind of file passes the fields it knows and the short
names a person may type for them; ledgers pass none (their reader checks the fields
against the headers of the ledger's kind).

Pure and light (stdlib and :mod:`geo.errors`): the command line imports it at start-up.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from geo.errors import InvalidInput

#: Fields of a boundary file's ``--map``; a person may write ``parent`` for ``parent_code``.
BOUNDARY_FIELDS: tuple[str, ...] = ("code", "name", "parent_code", "level")
BOUNDARY_ALIASES: dict[str, str] = {"parent": "parent_code"}


def parse_field_map(
    text: str | None,
    fields: Collection[str] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> dict[str, str] | None:
    """``name=楼院名称,households=户数`` → ``{field: column}``; None for no text.

    Parameters
    ----------
    text
        The map as typed; None or empty means "detect every column".
    fields
        The fields allowed (after ``aliases``); None allows any.
    aliases
        Short name → field, e.g. ``{"parent": "parent_code"}``.

    Raises
    ------
    InvalidInput
        An entry without ``=``, or a field not in ``fields``; both messages say what to
        write instead.
    """
    if not text:
        return None
    aliases = aliases or {}
    out: dict[str, str] = {}
    for part in text.replace("，", ",").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise InvalidInput(
                f"--map entry {part!r} is not field=column", f"--map 项 {part!r} 应为 字段=列名"
            )
        field, column = (x.strip() for x in part.split("=", 1))
        field = aliases.get(field, field)
        if fields is not None and field not in fields:
            short = {f: a for a, f in aliases.items()}
            known = [short.get(f, f) for f in fields]
            raise InvalidInput(
                f"--map field {field!r} unknown; use {', '.join(known)}",
                f"--map 字段 {field!r} 未知；可用 {'、'.join(known)}",
            )
        out[field] = column
    return out


def parse_boundary_map(text: str | None) -> dict[str, str] | None:
    """The ``--map`` of a boundary file: ``code``, ``name``, ``parent`` and ``level``."""
    return parse_field_map(text, BOUNDARY_FIELDS, BOUNDARY_ALIASES)
