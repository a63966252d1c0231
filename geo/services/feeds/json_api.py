"""The JSON API of ``POST /v1/incidents``: one case (a JSON object), many (a JSON
array, or a GeoJSON FeatureCollection sent as application/json), or NDJSON, one case
a line, read as a stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from geo.errors import InvalidInput
from geo.services.feeds.base import Feed, Item, Received, Row, register
from geo.services.feeds.body import lines, read_json
from geo.services.feeds.files import geojson_rows, numbered


class JsonFeed(Feed):
    """A JSON object (one case), an array (many) or a FeatureCollection (many)."""

    name = "json"
    content_types = ("application/json",)

    def row(self, raw: Any) -> Row:
        return raw if isinstance(raw, dict) else {}

    async def read(self, body: AsyncIterator[bytes]) -> Received:
        doc = await read_json(body)
        if isinstance(doc, dict) and "features" in doc:
            doc = geojson_rows(doc)
        if isinstance(doc, dict):
            return Received(single=doc)
        if not isinstance(doc, list):
            raise InvalidInput("JSON body must be an object or an array", "JSON 内容应为对象或数组")
        return Received(items=numbered(doc, self))


class NdjsonFeed(Feed):
    """Newline-delimited JSON, one case per line; a line that is no JSON object is a
    row the pipeline rejects (with its line number)."""

    name = "ndjson"
    content_types = ("application/x-ndjson",)

    def row(self, raw: Any) -> Row:
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):  # malformed, too deep, a giant number
            obj = {"_invalid": raw}
        return obj if isinstance(obj, dict) else {"_invalid": raw}

    async def read(self, body: AsyncIterator[bytes]) -> Received:
        return Received(items=self._items(body))

    async def _items(self, body: AsyncIterator[bytes]) -> AsyncIterator[Item]:
        line_no = 0
        async for line in lines(body):
            line_no += 1
            if line.strip():
                yield line_no, self.row(line)


register(JsonFeed())
register(NdjsonFeed())
