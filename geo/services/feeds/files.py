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
    is_fc = isinstance(doc, dict) and doc.get("type") == "FeatureCollection"
    feats = doc.get("features") if is_fc else None
    if not isinstance(feats, list):
        raise InvalidInput(
            "GeoJSON body must be a FeatureCollection", "GeoJSON 内容应为 FeatureCollection"
        )
    out = []
    for i, f in enumerate(feats):
        props, geom = _feature_parts(f, i)
        coords = geom.get("coordinates")
        if geom.get("type") == "Point" and isinstance(coords, list) and len(coords) >= 2:
            props["lon"], props["lat"] = coords[:2]
        out.append(props)
    return out


def _feature_parts(f: Any, i: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A feature's properties (a copy) and geometry; InvalidInput naming ``features[i]``
    when it, its properties or its geometry is not an object."""
    f = f or {}
    props, geom = (
        (f.get("properties") or {}, f.get("geometry") or {})
        if isinstance(f, dict)
        else (None, None)
    )
    if not isinstance(props, dict) or not isinstance(geom, dict):
        raise InvalidInput(
            f"features[{i}] must be a GeoJSON Feature object with object properties and "
            "geometry, e.g. {'type': 'Feature', 'properties': {...}, 'geometry': {...}}",
            f"features[{i}] 应为 GeoJSON Feature 对象（properties 与 geometry 均为对象）",
            field=f"features[{i}]",
        )
    return dict(props), geom


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
