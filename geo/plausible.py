"""Plausible values: text a database and a person can read, names and codes in their
formats, integers that fit a BIGINT, times within the window the service accepts.

The bounds are in :mod:`geo.vocab` (``EARLIEST_TIME``, ``MAX_FUTURE_HOURS``,
``MAX_NAME_CHARS``, ``CODE_PATTERN``, ``MAX_CODE_CHARS``); the API's pydantic types
(:mod:`api.validation`), the incident rows and the track readers all ask here, so one
rule holds at every door. Pure: no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

from geo.errors import InvalidInput
from geo.vocab import CODE_PATTERN, EARLIEST_TIME, MAX_CODE_CHARS, MAX_FUTURE_HOURS

BIGINT_MAX = 2**63 - 1
EARLIEST = datetime.fromisoformat(EARLIEST_TIME)
FUTURE = timedelta(hours=MAX_FUTURE_HOURS)

# C0 controls but tab, LF and CR; DEL; lone UTF-16 surrogates (never valid text).
_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Single-line text (names, codes, authors): no line breaks or tabs either.
_BAD_LINE = re.compile("[\x00-\x1f\x7f\ud800-\udfff\u2028\u2029]")
_CODE = re.compile(CODE_PATTERN)
# Format characters (zero-width spaces, joiners, BOM, direction marks) and separators
# draw nothing: a name made only of them is no name.
_INVISIBLE_CATEGORIES = ("Cf", "Zs", "Zl", "Zp", "Cc", "Mn", "Me")


def bad_char(text: str, single_line: bool = False) -> str | None:
    """The first character ``text`` may not hold (a control or a lone surrogate)."""
    m = (_BAD_LINE if single_line else _BAD).search(text)
    return m.group() if m else None


def describe_char(ch: str) -> tuple[str, str]:
    """``ch`` for a message, in English and Chinese: ('a NUL character (U+0000)', …)."""
    code = f"U+{ord(ch):04X}"
    if ch == "\x00":
        return f"a NUL character ({code})", f"空字符 NUL（{code}）"
    if "\ud800" <= ch <= "\udfff":
        return f"a lone surrogate ({code})", f"孤立的代理字符（{code}）"
    if ch in "\t\n\r\u2028\u2029":
        return f"a line break or tab ({code})", f"换行符或制表符（{code}）"
    return f"a control character ({code})", f"控制字符（{code}）"


def is_visible(text: str) -> bool:
    """Whether ``text`` draws at least one character (not only spaces or zero-widths)."""
    return any(unicodedata.category(c) not in _INVISIBLE_CATEGORIES for c in text)


def text_problem(text: str, max_chars: int, single_line: bool = True) -> tuple[str, str] | None:
    """Why ``text`` is no acceptable name/label, as (English, Chinese), or None."""
    ch = bad_char(text, single_line)
    if ch is not None:
        what, what_zh = describe_char(ch)
        return (
            f"contains {what}; remove it (printable characters only)",
            f"含有{what_zh}；请删除（只能包含可打印字符）",
        )
    if len(text) > max_chars:
        return (f"must be at most {max_chars} characters", f"不能超过 {max_chars} 个字符")
    if not is_visible(text):
        return (
            "must have at least one visible character",
            "至少需要一个可见字符",
        )
    return None


def code_problem(code: str, max_chars: int = MAX_CODE_CHARS) -> tuple[str, str] | None:
    """Why ``code`` is no acceptable code, as (English, Chinese), or None."""
    if not code or len(code) > max_chars or not _CODE.match(code):
        return (
            f"must be 1–{max_chars} letters, digits, '_' or '-' (e.g. 410799001001001, W0001)",
            f"应为 1–{max_chars} 位字母、数字、'_' 或 '-'（如 410799001001001、W0001）",
        )
    return None


def time_problem(t: datetime, now: datetime | None = None) -> tuple[str, str] | None:
    """Why an aware time ``t`` is implausible (before 2000, over a day ahead), or None."""
    now = now or datetime.now(UTC)
    if t < EARLIEST:
        return (
            f"lies before {EARLIEST:%Y-%m-%d}; check the device's clock and send the real time",
            f"早于 {EARLIEST:%Y-%m-%d}；请检查设备时钟，提交真实时间",
        )
    if t > now + FUTURE:
        return (
            f"lies more than {MAX_FUTURE_HOURS} hours in the future; check the device's clock",
            f"晚于当前时间超过 {MAX_FUTURE_HOURS} 小时；请检查设备时钟",
        )
    return None


def require_code(code: str, label: str = "code") -> None:
    """InvalidInput (field ``code``) unless ``code`` is a code (see :func:`code_problem`)."""
    why = code_problem(code)
    if why is not None:
        raise InvalidInput(f"{label} {code[:80]!r} {why[0]}", f"{label} {why[1]}", field="code")


def require_text(
    value: object,
    field: str,
    max_chars: int,
    prefix: tuple[str, str] = ("", ""),
    named: bool = True,
) -> None:
    """InvalidInput unless ``value`` (None passes) is a plausible one-line label;
    ``prefix`` starts the messages (e.g. the code of a row in a file), ``named`` adds
    ``field`` to the problem."""
    why = None if value is None else text_problem(str(value), max_chars)
    if why is not None:
        raise InvalidInput(
            f"{prefix[0]}{field} {why[0]}",
            f"{prefix[1]}{field} {why[1]}",
            **({"field": field} if named else {}),
        )
