"""Edge checks on every request, before a router or a feed parses it.

Some inputs never reach a rule a person wrote: PostgreSQL refuses a NUL character in
any text, a lone UTF-16 surrogate (``"\\ud800"`` in JSON) cannot be encoded as UTF-8
(for the database or for the answer), an integer of 2^63 or more does not fit a
BIGINT, ``json.loads`` gives up on deep nesting with a RecursionError and on numbers
of over 4,300 digits with a ValueError. Each of those was a text/plain 500; here each
is a 422 problem+json that names the field, in Chinese and English.

Checked, cheapest first:

- the URL path and the query string: no control characters (C0 but tab, LF and CR;
  DEL), e.g. ``%00``;
- urlencoded form bodies: the same, per field;
- JSON bodies (``application/json``, ``application/geo+json``, ``*+json``): nesting
  at most :data:`MAX_JSON_DEPTH` deep and no number of more than
  :data:`MAX_NUMBER_DIGITS` digits, both found by a scan of the bytes *before*
  anything is parsed; then, only when the bytes hold an escape of a forbidden
  character or a run of 19+ digits, the parsed document is walked for the first
  string with a control character or lone surrogate, or integer outside BIGINT, and
  its path (``points[3].id``) is named.

NDJSON, CSV and uploaded files are read as streams and checked row by row where they
are parsed (:mod:`geo.plausible`); per-field formats (names, codes, lengths) are the
pydantic types of :mod:`api.validation`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from geo.plausible import BIGINT_MAX, bad_char, describe_char

from api.errors import problem

#: Deepest nesting of JSON arrays/objects accepted (GeoJSON MultiPolygons need 4-5).
MAX_JSON_DEPTH = 64
#: Most digits in one JSON number (Python's own limit for int(str)).
MAX_NUMBER_DIGITS = 4300

# \u escapes of C0 controls but tab/LF/CR, of DEL, and of surrogates (a valid pair
# matches too; the walk below finds only lone ones, which json.loads keeps as such).
_BAD_ESCAPE = re.compile(
    rb"\\u(?:000[0-8bBcCeEfF]|001[0-9a-fA-F]|007[fF]|[dD][89a-fA-F][0-9a-fA-F]{2})"
)
_PCT_CONTROL = re.compile(rb"%(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])")
# Digits → "0", all else → " ": then a run of 19 digits is a plain substring search.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_QUOTE, _BACKSLASH, _DOT, _E, _LOWER_E = (ord(c) for c in '"\\.Ee')


class Refusal(Exception):
    """One input refused at the edge: a field, and what to tell the client."""

    def __init__(self, slug: str, field: str, message: str, message_zh: str):
        super().__init__(message)
        self.slug, self.field, self.message, self.message_zh = slug, field, message, message_zh


def _text_refusal(field: str, ch: str) -> Refusal:
    what, what_zh = describe_char(ch)
    return Refusal(
        "invalid-text",
        field,
        f"{field} contains {what}; text must be printable characters only — remove it "
        "and send again",
        f"{field} 含有{what_zh}；文本只能包含可打印字符，请删除后重新提交",
    )


def _int_refusal(field: str) -> Refusal:
    return Refusal(
        "number-out-of-range",
        field,
        f"{field} is an integer outside -2^63 … 2^63-1; ids and counts must fit a 64-bit "
        "integer — check the value",
        f"{field} 超出 64 位整数范围（-2^63 … 2^63-1）；请检查该值",
    )


def _outside_strings(a: np.ndarray) -> np.ndarray:
    """Which bytes of JSON text lie outside string literals (numpy, no per-byte Python)."""
    q = np.flatnonzero(a == _QUOTE)
    keep = np.ones(q.size, dtype=bool)
    after_bs = np.flatnonzero((q > 0) & (a[np.maximum(q - 1, 0)] == _BACKSLASH))
    if after_bs.size:  # a quote after an odd run of backslashes is escaped
        bs = np.flatnonzero(a == _BACKSLASH)
        cut = np.flatnonzero(np.diff(bs) != 1)
        run_first, run_last = bs[np.r_[0, cut + 1]], bs[np.r_[cut, bs.size - 1]]
        k = np.searchsorted(run_last, q[after_bs] - 1)
        keep[after_bs] = (run_last[k] - run_first[k] + 1) % 2 == 0
    toggle = np.zeros(a.size, dtype=np.uint8)
    toggle[q[keep]] = 1
    # Parity of the quotes so far (a uint8 sum wraps, its parity does not); an opening
    # quote itself counts as inside.
    return (np.cumsum(toggle, dtype=np.uint8) & 1) == 0


def json_depth(raw: bytes, outside: np.ndarray | None = None) -> int:
    """How deep arrays and objects nest in JSON text (brackets in strings not counted)."""
    a = np.frombuffer(raw, np.uint8)
    outside = _outside_strings(a) if outside is None else outside
    at = np.flatnonzero(((a == 91) | (a == 123) | (a == 93) | (a == 125)) & outside)
    step = np.where((a[at] == 91) | (a[at] == 123), 1, -1)
    return int(np.cumsum(step).max(initial=0))


def _digit_runs(a: np.ndarray, outside: np.ndarray) -> tuple[int, bool]:
    """The longest run of digits outside strings, and whether a run of 19+ digits is a
    whole integer (not a fraction or an exponent): one that might not fit a BIGINT."""
    digit = (a >= 48) & (a <= 57) & outside
    edges = np.flatnonzero(np.diff(np.r_[False, digit, False].view(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    if starts.size == 0:
        return 0, False
    long = (ends - starts) >= 19
    before = a[np.maximum(starts - 1, 0)]
    after = a[np.minimum(ends, a.size - 1)]
    pre = np.where(np.isin(before, (43, 45)), a[np.maximum(starts - 2, 0)], before)
    whole = ~np.isin(pre, (_DOT, _E, _LOWER_E)) & ~np.isin(after, (_DOT, _E, _LOWER_E))
    return int((ends - starts).max()), bool((long & whole).any())


def _walk(doc: Any, path: str) -> Refusal | None:
    stack: list[tuple[Any, str]] = [(doc, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            ch = bad_char(value)
            if ch is not None:
                return _text_refusal(where or "body", ch)
        elif isinstance(value, bool | float) or value is None:
            continue
        elif isinstance(value, int):
            if not -BIGINT_MAX - 1 <= value <= BIGINT_MAX:
                return _int_refusal(where or "body")
        elif isinstance(value, dict):
            for k, v in reversed(value.items()):
                name = f"{where}.{k}" if where else str(k)
                ch = bad_char(k)
                if ch is not None:
                    return _text_refusal(f"{where or 'body'} (a key)", ch)
                stack.append((v, name))
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]") for i, v in reversed(list(enumerate(value))))
    return None


def check_json(raw: bytes) -> None:
    """Raise :class:`Refusal` for JSON text too deep, with a giant number, a control
    character or lone surrogate in a string, or an integer outside BIGINT."""
    a = np.frombuffer(raw, np.uint8)
    outside = _outside_strings(a)
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and json_depth(raw, outside) > (
        MAX_JSON_DEPTH
    ):
        raise Refusal(
            "json-too-deep",
            "JSON",
            f"JSON nests arrays/objects deeper than {MAX_JSON_DEPTH} levels; send a flatter "
            "document",
            f"JSON 嵌套超过 {MAX_JSON_DEPTH} 层；请提交层级更浅的文档",
        )
    # Most bodies have no run of 19 digits at all: then nothing more to look at.
    has_19 = b"0" * 19 in raw.translate(_DIGITS_ONLY)
    longest, maybe_big = _digit_runs(a, outside) if has_19 else (0, False)
    if longest > MAX_NUMBER_DIGITS:
        raise Refusal(
            "number-too-long",
            "JSON",
            f"a JSON number has more than {MAX_NUMBER_DIGITS} digits; numbers must be "
            "ordinary coordinates, ids or counts",
            f"JSON 中有超过 {MAX_NUMBER_DIGITS} 位的数字；请检查数值",
        )
    if not (maybe_big or _BAD_ESCAPE.search(raw)):
        return
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return  # malformed: the route's own parser says so, with its own message
    refusal = _walk(doc, "")
    if refusal is not None:
        raise refusal


def check_pairs(pairs: list[tuple[str, str]], kind: str) -> None:
    """Raise :class:`Refusal` for a query/form field whose name or value has a control
    character."""
    for name, value in pairs:
        for text in (name, value):
            ch = bad_char(text)
            if ch is not None:
                raise _text_refusal(f"{name!r} ({kind})" if text is value else kind, ch)


def _ctype(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


def _is_json(ctype: str) -> bool:
    return ctype in ("application/json", "application/geo+json") or ctype.endswith("+json")


def _decoded_pairs(raw: bytes) -> list[tuple[str, str]]:
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True, errors="replace")


class InputGuard:
    """Pure ASGI middleware: the checks above, a 422 problem+json on the first failure."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_url(scope)
        except Refusal as r:
            await self._refuse(scope, send, r)
            return
        ctype = _ctype(scope) if scope["method"] in ("POST", "PUT", "PATCH") else ""
        if not (_is_json(ctype) or ctype == "application/x-www-form-urlencoded"):
            await self.app(scope, receive, send)
            return
        messages, body = await _read_all(receive)
        try:
            if _is_json(ctype):
                check_json(body)
            elif _PCT_CONTROL.search(body):
                check_pairs(_decoded_pairs(body), "form field")
        except Refusal as r:
            await self._refuse(scope, send, r)
            return
        await self.app(scope, _replay(messages, receive), send)

    @staticmethod
    def _check_url(scope: Scope) -> None:
        ch = bad_char(scope["path"])
        if ch is not None:
            raise _text_refusal("path", ch)
        qs: bytes = scope.get("query_string", b"")
        if qs and _PCT_CONTROL.search(qs):
            check_pairs(_decoded_pairs(qs), "query parameter")

    @staticmethod
    async def _refuse(scope: Scope, send: Send, r: Refusal) -> None:
        response = problem(
            422,
            r.slug,
            r.message,
            r.message_zh,
            _instance(scope),
            field=r.field,
            errors=[{"loc": ["body", r.field], "msg": r.message, "type": r.slug}],
        )
        await response(scope, _disconnect, send)


def _instance(scope: Scope) -> str:
    # The path as the client sent it: a refused one may hold a NUL once decoded.
    raw = scope.get("raw_path")
    return raw.decode("latin-1").split("?")[0] if raw else scope["path"]


async def _read_all(receive: Receive) -> tuple[list[Message], bytes]:
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def _disconnect() -> Message:
    return {"type": "http.disconnect"}


def install_input_guard(app: FastAPI) -> None:
    """Add :class:`InputGuard` (inside the body-size limits, which must run first)."""
    app.add_middleware(InputGuard)
