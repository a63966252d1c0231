"""Bulk files: CSV (read as a stream, line by line) and GeoJSON FeatureCollections
(each Point feature's properties are a row, its coordinates lon and lat)."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from typing import Any

from geo.errors import InvalidInput
from geo.services.feeds.base import Feed, Item, Received, Row, register
from geo.services.feeds.body import lines, read_json

CSV_REQUIRED = {"source", "external_id", "lon", "lat", "crs"}


class CsvFeed(Feed):
    """CSV with a header row; line numbers count the header as line 1."""

    name = "csv"
    content_types = ("text/csv",)

    def row(self, raw: Any) -> Row:
        header, values = raw
        return dict(zip(header, values, strict=False))

    async def read(self, body: AsyncIterator[bytes]) -> Received:
        return Received(items=self._items(body))

    async def _items(self, body: AsyncIterator[bytes]) -> AsyncIterator[Item]:
        header: list[str] | None = None
        line_no = 0
        async for line in lines(body):
            line_no += 1
            if not line.strip():
                continue
            values = next(csv.reader([line]))
            if header is None:
                header = [h.strip() for h in values]
                if not CSV_REQUIRED <= set(header):
                    raise InvalidInput(
                        "CSV header must name source, external_id, reported_at, category, "
                        "lon, lat, crs",
                        "CSV 表头需包含 source, external_id, reported_at, category, lon, lat, crs",
                    )
                continue
            yield line_no, self.row((header, values))


def geojson_rows(doc: Any) -> list[Row]:
    """The rows of a GeoJSON FeatureCollection; InvalidInput if ``doc`` is none."""
    feats = doc.get("features") if doc.get("type") == "FeatureCollection" else None
    if not isinstance(feats, list):
        raise InvalidInput(
            "GeoJSON body must be a FeatureCollection", "GeoJSON 内容应为 FeatureCollection"
        )
    out = []
    for f in feats:
        props = dict((f or {}).get("properties") or {})
        geom = (f or {}).get("geometry") or {}
        if geom.get("type") == "Point" and len(geom.get("coordinates") or []) >= 2:
            props["lon"], props["lat"] = geom["coordinates"][:2]
        out.append(props)
    return out


async def numbered(rows: list[Any], feed: Feed) -> AsyncIterator[Item]:
    """Items of an in-memory list, numbered from 1, each made a row by ``feed``."""
    for i, obj in enumerate(rows, 1):
        yield i, feed.row(obj)


class GeoJsonFeed(Feed):
    """A GeoJSON FeatureCollection of Point features."""

    name = "geojson"
    content_types = ("application/geo+json",)

    def row(self, raw: Any) -> Row:
        return raw if isinstance(raw, dict) else {}

    async def read(self, body: AsyncIterator[bytes]) -> Received:
        return Received(items=numbered(geojson_rows(await read_json(body)), self))


register(CsvFeed())
register(GeoJsonFeed())
