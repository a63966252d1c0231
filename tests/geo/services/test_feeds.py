"""The feed registry: each way incidents arrive is one registered Feed, picked by the
body's content type; a new feed needs no change elsewhere to reach the pipeline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from geo.errors import InvalidInput
from geo.services import feeds
from geo.services.feeds import base
from geo.services.feeds.open311 import Open311Form


async def _body(*chunks: bytes) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


def _read(feed: feeds.Feed, *chunks: bytes) -> feeds.Received:
    return asyncio.run(feed.read(_body(*chunks)))


def _items(received: feeds.Received) -> list[feeds.Item]:
    async def collect() -> list[feeds.Item]:
        assert received.items is not None
        return [item async for item in received.items]

    return asyncio.run(collect())


def test_every_feed_is_registered_and_found_by_content_type():
    assert {"json", "ndjson", "csv", "geojson", "open311"} <= set(feeds.names())
    assert feeds.for_content_type("text/csv") is feeds.get("csv")
    assert feeds.for_content_type("application/x-ndjson") is feeds.get("ndjson")
    assert feeds.for_content_type("application/geo+json") is feeds.get("geojson")
    with pytest.raises(InvalidInput, match="unsupported content type application/xml"):
        feeds.for_content_type("application/xml")
    with pytest.raises(KeyError, match="no feed"):
        feeds.get("fax")


def test_feeds_read_rows_with_their_lines():
    single = _read(feeds.get("json"), b'{"source": "grid_worker"}')
    assert single.single == {"source": "grid_worker"} and single.items is None
    many = _items(_read(feeds.get("json"), b'[{"a": 1}, 7]'))
    assert many == [(1, {"a": 1}), (2, {})]
    nd = _items(_read(feeds.get("ndjson"), b'{"a": 1}\n\n[1]\n{bad', b"\n"))
    assert nd == [(1, {"a": 1}), (3, {"_invalid": "[1]"}), (4, {"_invalid": "{bad"})]
    csv_rows = _items(
        _read(feeds.get("csv"), b"\xef\xbb\xbfsource,external_id,lon,lat,crs\n", b"a,1,2,3,wgs84\n")
    )
    assert csv_rows == [
        (2, {"source": "a", "external_id": "1", "lon": "2", "lat": "3", "crs": "wgs84"})
    ]
    with pytest.raises(InvalidInput, match="CSV header"):
        _items(_read(feeds.get("csv"), b"lon,lat\n1,2\n"))
    point = {"type": "Point", "coordinates": [113.9, 35.3]}
    feature = {"type": "Feature", "properties": {"a": 1}, "geometry": point}
    fc = json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()
    assert _items(_read(feeds.get("geojson"), fc)) == [(1, {"a": 1, "lon": 113.9, "lat": 35.3})]
    assert _items(_read(feeds.get("json"), fc)) == [(1, {"a": 1, "lon": 113.9, "lat": 35.3})]


def test_open311_form_becomes_a_hotline_row():
    feed = feeds.get("open311")
    row = feed.row(Open311Form("noise", 35.3, 113.9, external_id="H-1", crs="gcj02"))
    assert row["source"] == "hotline_12345" and row["external_id"] == "H-1"
    assert (row["lon"], row["lat"], row["crs"], row["category"]) == (113.9, 35.3, "gcj02", "noise")
    assert feed.unplaced_field == "lat"
    with pytest.raises(InvalidInput, match="UTF-8"):
        feed.row(Open311Form("noise", 35.3, 113.9, description="\ufffd"))


class HotlineExport(feeds.Feed):
    """A made-up export: ``工单号;类别;经度;纬度`` lines."""

    name = "test_hotline_export"
    content_types = ("text/x-test-hotline",)

    def row(self, raw: Any) -> feeds.Row:
        ext, category, lon, lat = raw.split(";")
        return {
            "source": "hotline_12345",
            "external_id": ext,
            "reported_at": "2026-10-20T09:30:00+08:00",
            "category": category,
            "lon": lon,
            "lat": lat,
            "crs": "wgs84",
        }

    async def read(self, body: AsyncIterator[bytes]) -> feeds.Received:
        async def items() -> AsyncIterator[feeds.Item]:
            text = b"".join([c async for c in body]).decode()
            for i, line in enumerate(text.splitlines(), 1):
                yield i, self.row(line)

        return feeds.Received(items=items())


def test_a_new_feed_is_one_registration(client, sample, monkeypatch):
    monkeypatch.setattr(base, "_FEEDS", dict(base._FEEDS))
    feeds.register(HotlineExport())
    p = sample.grids.geometry.iloc[5].representative_point()
    body = f"T-feed-1;noise;{p.x};{p.y}\nT-feed-2;noise;100.0;20.0\n".encode()
    r = client.post("/v1/incidents", content=body, headers={"content-type": "text/x-test-hotline"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["received"], out["stored"], out["rejected"]) == (2, 1, 1)
    assert out["errors"][0]["line"] == 2 and out["errors"][0]["field"] == "lon"
    with pytest.raises(ValueError, match="another feed"):
        feeds.register(type("Clash", (HotlineExport,), {"name": "clash"})())
