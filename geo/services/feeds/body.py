"""Reading a request body for the feeds: UTF-8 lines as a stream, or one JSON document
of bounded size. Bytes in, text or JSON out; no HTTP."""

from __future__ import annotations

import codecs
import json
from collections.abc import AsyncIterator
from typing import Any

from geo.errors import InvalidInput

MAX_JSON_BYTES = 64 * 1024 * 1024


async def lines(body: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """The body's lines (without their newline), decoded as UTF-8 (a BOM is dropped)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    buf = ""
    try:
        async for chunk in body:
            buf += decoder.decode(chunk)
            *complete, buf = buf.split("\n")
            for line in complete:
                yield line
        buf += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidInput(
            "the body is not UTF-8; convert it (e.g. from GBK) and send again",
            "请求内容不是 UTF-8 编码；请转换（如从 GBK）后重新提交",
        ) from None
    if buf:
        yield buf


async def read_json(body: AsyncIterator[bytes]) -> Any:
    """The body as one JSON document; refused over :data:`MAX_JSON_BYTES`."""
    data = b""
    async for chunk in body:
        data += chunk
        if len(data) > MAX_JSON_BYTES:
            raise InvalidInput(
                "JSON body larger than 64 MiB; send CSV or NDJSON, which are streamed",
                "JSON 内容超过 64 MiB；请改用流式的 CSV 或 NDJSON",
            )
    try:
        return json.loads(data)
    except RecursionError:
        raise InvalidInput(
            "JSON nests too deep; send a flatter document",
            "JSON 嵌套过深；请提交层级更浅的文档",
            field="JSON",
        ) from None
    except ValueError as exc:  # malformed, not UTF-8, or a number of over 4,300 digits
        raise InvalidInput(
            f"malformed JSON: {exc}; send one incident object or an array of them",
            f"JSON 格式错误：{exc}；请提交一个事件对象或事件数组",
        ) from None
