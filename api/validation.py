"""Reusable pydantic types for request fields: one rule per kind of value, applied to
every request model, query and path parameter that carries one.

- :data:`Name` — a name people read (unit, special grid, compound, person, alias): one
  line, at least one visible character, at most ``MAX_NAME_CHARS`` characters;
- :data:`PersonName`, :data:`Actor`, :data:`Phone`, :data:`Address` — other one-line
  text, each with its length;
- :data:`Reason`, :data:`Note` — free text of a given length: line breaks allowed,
  control characters and lone surrogates not;
- :data:`Code` — a code ([0-9A-Za-z_-], 1–64 characters): unit, special-grid and
  worker codes, so a code is always reachable in a URL (no ``../../etc``);
- :data:`BigId` / :data:`DbIdQuery` / :data:`Count` — integers that fit a BIGINT.

A value that breaks its rule is a 422 problem+json naming the field; the message comes
in English and Chinese (``detail_zh`` of :mod:`api.errors` adds the Chinese one).
The rules themselves live in :mod:`geo.plausible`, shared with file and row readers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from geo.errors import InvalidInput
from geo.plausible import BIGINT_MAX, bad_char, code_problem, describe_char, text_problem
from geo.vocab import CODE_PATTERN, MAX_CODE_CHARS, MAX_NAME_CHARS


def _refuse(kind: str, why: tuple[str, str]) -> PydanticCustomError:
    # ctx["zh"] carries the Chinese message to api.errors' 422 answer.
    return PydanticCustomError(kind, "{en}", {"en": why[0], "zh": why[1]})


def _line_rule(max_chars: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        why = text_problem(value, max_chars, single_line=True)
        if why is not None:
            raise _refuse("invalid_text", why)
        return value

    return check


def _text_rule(value: str) -> str:
    ch = bad_char(value)
    if ch is not None:
        what, what_zh = describe_char(ch)
        raise _refuse(
            "invalid_text",
            (f"contains {what}; remove it (printable characters only)", f"含有{what_zh}；请删除"),
        )
    return value


def _code_rule(value: str) -> str:
    why = code_problem(value)
    if why is not None:
        raise _refuse("invalid_code", why)
    return value


# One-line labels: at most N characters, at least one visible (mypy reads these as str).
Name = Annotated[
    str, Field(min_length=1, max_length=MAX_NAME_CHARS), AfterValidator(_line_rule(MAX_NAME_CHARS))
]
PersonName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_line_rule(100))]
#: Who did it / on whose behalf / to whom (actor, author, assignee, verified_by).
Actor = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_line_rule(200))]
Phone = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_line_rule(40))]
WorkerPhone = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_line_rule(20))]
Address = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_line_rule(500))]
#: Other one-line text: keys, units' names in a register.
Label = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_line_rule(200))]
#: A text encoding's name (GBK, utf-8, cp936 …).
Encoding = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_line_rule(40))]
# Free text: line breaks allowed.
Reason = Annotated[str, Field(max_length=2000), AfterValidator(_text_rule)]
RequiredReason = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_text_rule)]
Note = Annotated[str, Field(max_length=4000), AfterValidator(_text_rule)]
Code = Annotated[
    str,
    # The pattern is documented, and checked by _code_rule (with a Chinese message).
    Field(json_schema_extra={"pattern": CODE_PATTERN, "minLength": 1, "maxLength": MAX_CODE_CHARS}),
    AfterValidator(_code_rule),
]
#: A code in a URL path (PUT of a new worker or special grid names it there).
CodePath = Annotated[str, Path(min_length=1, max_length=MAX_CODE_CHARS, pattern=CODE_PATTERN)]
BigId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Count = Annotated[int, Field(ge=0, le=BIGINT_MAX)]
DbIdQuery = Annotated[int, Query(ge=1, le=BIGINT_MAX)]


def is_bigint_id(text: str) -> bool:
    """Whether ``text`` (an id in a comma-separated list) is a positive BIGINT."""
    text = text.strip()
    return text.isdigit() and len(text) <= 19 and 1 <= int(text) <= BIGINT_MAX


def check_labels(doc: dict, keys: tuple[str, ...], where: str) -> None:
    """The one-line labels among ``doc[key]`` (a GeoJSON Feature's properties, say):
    InvalidInput naming ``where.key`` when one is not a plausible name."""
    for key in keys:
        value = doc.get(key)
        if value is None:
            continue
        why = text_problem(str(value), MAX_NAME_CHARS)
        if why is not None:
            raise InvalidInput(
                f"{where}.{key} {why[0]}", f"{where}.{key} {why[1]}", field=f"{where}.{key}"
            )


def check_unit_names(codes: Iterable[object], names: Iterable[object]) -> None:
    """A boundary file's units: each name a plausible name, each code free of control
    characters (its format is a topology finding, reported with the draft). InvalidInput
    naming the first offending unit."""
    for code, name in zip(codes, names, strict=True):
        code = "" if code is None else str(code)
        ch = bad_char(code, single_line=True)
        if ch is not None:
            what, what_zh = describe_char(ch)
            raise InvalidInput(
                f"code {code[:40]!r} contains {what}; fix the file's codes and upload again",
                f"编码 {code[:40]!r} 含有{what_zh}；请修正文件中的编码后重新上传",
                field="code",
            )
        why = None if name is None else text_problem(str(name), MAX_NAME_CHARS)
        if why is not None:
            raise InvalidInput(
                f"the name of unit {code[:40]} {why[0]}; fix the file's names and upload again",
                f"单元 {code[:40]} 的名称{why[1]}；请修正文件中的名称后重新上传",
                field="name",
                code=code[:64],
            )
