"""The bad-input corpus: hostile or broken requests against every intake endpoint.

Each case must answer 4xx with an RFC 9457 problem+json body whose message names
the field at fault and says what to do, and must leave the database as it was
(row counts of the tables an endpoint writes, counted with plain SQL before and
after). CSV exports must neutralise cells that a spreadsheet would run as formulas.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app

pytestmark = pytest.mark.db

TABLES = (
    "incident",
    "incident_transition",
    "patrol_track",
    "patrol_visit",
    "boundary_set",
    "admin_unit",
    "admin_unit_version",
    "grid_worker",
    "grid_assignment",
    "audit_log",
    "compound",
    "compound_governance",
    "special_grid",
    "place_alias",
)
PROBLEM = "application/problem+json"
# A message "says what to do" when it gives an instruction or states the rule.
ADVICE = (
    "use",
    "send",
    "give",
    "pass",
    "check",
    "fix",
    "split",
    "register",
    "convert",
    "add",
    "write",
    "name",
    "save",
    "must",
    "should",
    "required",
    "see ",
    "first",
    "e.g.",
    "only",
    "upload",
    "put ",
)

# Inside the sample district (grid 410799001001001) and a point outside it.
LON, LAT = 113.894073, 35.368217
GOOD_INCIDENT = {
    "source": "grid_worker",
    "external_id": "bad-input-never-stored",
    "reported_at": "2026-10-01T08:30:00+08:00",
    "category": "environment",
    "lon": LON,
    "lat": LAT,
    "crs": "wgs84",
}
GBK_NAME = "纺织社区第1网格".encode("gbk")


def _incident(**changes) -> dict:
    return {**GOOD_INCIDENT, **changes}


def _counts(engine) -> dict[str, int]:
    with engine.connect() as c:
        return {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


@dataclass
class Case:
    id: str
    method: str
    path: str
    field: str  # the field the message must name
    status: int = 422
    kwargs: dict = field(default_factory=dict)


def _track_upload(name: str, data: bytes, **form) -> dict:
    return {"files": {"file": (name, data, "application/octet-stream")}, "data": form}


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def _declared_size_zip(declared: int) -> bytes:
    """A small archive whose directory claims ``declared`` bytes unpacked (a bomb's shape)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("grids.geojson", b"{}")
        z.filelist[0].file_size = declared  # written into the central directory on close
    return buf.getvalue()


def _lying_bomb_zip() -> bytes:
    """Claims 100 bytes, actually inflates to 20 MiB: the directory lies."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("grids.geojson", b"\0" * (20 * 2**20))
        z.filelist[0].file_size = 100
    return buf.getvalue()


def _polygon_fc(ring: list[list[float]]) -> bytes:
    feat = {
        "type": "Feature",
        "properties": {"code": "410799001001001", "name": "坏网格", "level": "grid"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feat]}).encode()


def _boundary_upload(name: str, data: bytes, **form) -> dict:
    return {"files": {"file": (name, data, "application/octet-stream")}, "data": form}


X0, Y0 = 113.90, 35.30
SQUARE = [[X0, Y0], [X0 + 0.01, Y0], [X0 + 0.01, Y0 + 0.01], [X0, Y0 + 0.01], [X0, Y0]]
BOWTIE = [[X0, Y0], [X0 + 0.01, Y0 + 0.01], [X0 + 0.01, Y0], [X0, Y0 + 0.01], [X0, Y0]]

REV = "/v1/geocode/reverse"
BATCH = "/v1/geocode/reverse/batch"
INC = "/v1/incidents"
O311 = "/open311/v2/requests.json"
TRACKS = "/v1/patrol/tracks"
SETS = "/v1/boundary-sets"
O311_OK = {"service_code": "environment", "lat": str(LAT), "long": str(LON)}
CSV_HEAD = "source,external_id,reported_at,category,lon,lat,crs\n"


def _json(body) -> dict:
    return {"content": json.dumps(body).encode(), "headers": {"content-type": "application/json"}}


def _raw(body: bytes, ctype: str) -> dict:
    return {"content": body, "headers": {"content-type": ctype}}


BIG = 2**63  # one past BIGINT
ALIASES = "/v1/aliases"
WORKER = "/v1/registers/workers/W9901"
COMPOUNDS = "/v1/registers/compounds"
SPECIAL = "/v1/special-grids"
OK_WORKER = {"name": "王小明", "actor": "clerk"}
OK_COMPOUND = {
    "name": "幸福小区",
    "management_type": "unowned",
    "location": {"lon": LON, "lat": LAT, "crs": "wgs84"},
    "actor": "clerk",
}
OK_SPECIAL = {
    "code": "SGTEST1",
    "name": "测试学校",
    "kind": "school",
    "responsible_unit": "教育局",
    "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
    "reason": "bad-input corpus",
}


def _deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def _fc(props: dict) -> bytes:
    feat = {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feat]}).encode()


def _unit_fc(name: str) -> bytes:
    return _fc({"code": "410799001001001", "name": name, "level": "grid"})


def _esc(body: str) -> dict:
    """A JSON body written by hand, so it can hold escapes json.dumps never writes."""
    return _raw(body.encode(), "application/json")


INCIDENT_TEXT = (
    '{"source": "grid_worker", "external_id": %s, "reported_at": "2026-10-01T08:30:00+08:00", '
    f'"category": "environment", "lon": {LON}, "lat": {LAT}, "crs": "wgs84"}}'
)

# Issue 15: inputs that were a text/plain 500 (NUL, lone surrogates, integers past BIGINT,
# deep nesting, giant numbers, non-object features) or bad data that was stored
# (implausible dates, invisible or huge names, path-like or huge codes).
TRUST_CASES = [
    # --- a NUL character in stored text, in every kind of field ----------------------
    Case(
        "nul-incident-external-id",
        "POST",
        INC,
        "external_id",
        kwargs=_json(_incident(external_id="a\x00b")),
    ),
    Case(
        "nul-incident-description",
        "POST",
        INC,
        "description",
        kwargs=_json(_incident(description="a\x00b")),
    ),
    Case(
        "nul-open311-description",
        "POST",
        O311,
        "description",
        kwargs={"data": {**O311_OK, "description": "a\x00"}},
    ),
    Case("nul-worker-name", "PUT", WORKER, "name", kwargs=_json({**OK_WORKER, "name": "王\x00"})),
    Case("nul-worker-actor", "PUT", WORKER, "actor", kwargs=_json({**OK_WORKER, "actor": "a\x00"})),
    Case(
        "nul-worker-code-in-path",
        "PUT",
        "/v1/registers/workers/W%00",
        "path",
        kwargs=_json(OK_WORKER),
    ),
    Case("nul-grid-code-in-path", "GET", "/v1/grids/4107%00", "path"),
    Case("nul-coverage-code-in-path", "GET", "/v1/coverage/4107%00", "path"),
    Case(
        "nul-worker-search", "GET", "/v1/registers/workers", "q", kwargs={"params": {"q": "王\x00"}}
    ),
    Case("nul-audit-actor", "GET", "/v1/audit", "actor", kwargs={"params": {"actor": "a\x00"}}),
    Case(
        "nul-alias-target",
        "POST",
        ALIASES,
        "target",
        kwargs=_json({"target": "x\x00", "alias": "y"}),
    ),
    Case(
        "nul-compound-name",
        "POST",
        COMPOUNDS,
        "name",
        kwargs=_json({**OK_COMPOUND, "name": "a\x00"}),
    ),
    Case(
        "nul-special-contact",
        "POST",
        SPECIAL,
        "contact_name",
        kwargs=_json({**OK_SPECIAL, "contact_name": "a\x00"}),
    ),
    Case(
        "nul-publish-author",
        "POST",
        f"{SETS}/1/publish",
        "author",
        kwargs=_json({"author": "a\x00"}),
    ),
    Case(
        "nul-ogc-property",
        "POST",
        "/ogc/collections/special-grids/items",
        "properties.name",
        kwargs=_raw(
            json.dumps(
                {
                    "type": "Feature",
                    "properties": {**OK_SPECIAL, "name": "a\x00", "geometry": None},
                    "geometry": OK_SPECIAL["geometry"],
                }
            ).encode(),
            "application/geo+json",
        ),
    ),
    Case(
        "nul-track-form-worker",
        "POST",
        TRACKS,
        "worker_id",
        kwargs=_track_upload(
            "t.csv",
            f"worker_id,time,lon,lat\nW0001,2026-10-01T08:00:00+08:00,{LON},{LAT}\n".encode(),
            crs="wgs84",
            worker_id="W\x00",
        ),
    ),
    Case(
        "nul-track-file-worker",
        "POST",
        TRACKS,
        "worker",
        kwargs=_track_upload(
            "t.csv",
            f"worker_id,time,lon,lat\nW\x0001,2026-10-01T08:00:00+08:00,{LON},{LAT}\n".encode(),
            crs="wgs84",
        ),
    ),
    Case(
        "nul-ledger-author",
        "POST",
        "/v1/registers/ledgers/import",
        "author",
        kwargs=_boundary_upload(
            "l.csv", "名称,经度,纬度\n幸福小区,113.9,35.3\n".encode(), author="a\x00"
        ),
    ),
    Case(
        "nul-ledger-encoding",
        "POST",
        "/v1/registers/ledgers/import",
        "encoding",
        kwargs=_boundary_upload(
            "l.csv", "名称,经度,纬度\n幸福小区,113.9,35.3\n".encode(), encoding="gbk\x00"
        ),
    ),
    Case(
        "control-char-worker-name",
        "PUT",
        WORKER,
        "name",
        kwargs=_json({**OK_WORKER, "name": "王\x07"}),
    ),
    Case(
        "line-break-in-a-name",
        "PUT",
        WORKER,
        "name",
        kwargs=_json({**OK_WORKER, "name": "王\n小明"}),
    ),
    # --- lone surrogates (valid JSON escapes, no valid text) --------------------------
    Case(
        "surrogate-incident-external-id",
        "POST",
        INC,
        "external_id",
        kwargs=_esc(INCIDENT_TEXT % '"x\\ud800"'),
    ),
    Case(
        "surrogate-worker-name",
        "PUT",
        WORKER,
        "name",
        kwargs=_esc('{"name": "\\udc00", "actor": "clerk"}'),
    ),
    Case(
        "surrogate-alias",
        "POST",
        ALIASES,
        "alias",
        kwargs=_esc('{"target": "410799", "alias": "a\\ud83d"}'),
    ),
    Case(
        "surrogate-batch-id",
        "POST",
        BATCH,
        "points[0].id",
        kwargs=_esc(f'{{"points": [{{"lon": {LON}, "lat": {LAT}, "id": "\\ud800"}}]}}'),
    ),
    # --- integers past BIGINT (ids and body fields) -----------------------------------
    Case("bigint-incident-id", "GET", f"{INC}/{BIG}", "incident_id"),
    Case(
        "bigint-incident-id-patch",
        "PATCH",
        f"{INC}/{BIG}",
        "incident_id",
        kwargs=_json({"action": "close", "actor": "x"}),
    ),
    Case(
        "bigint-audit-before-id",
        "GET",
        "/v1/audit",
        "before_id",
        kwargs={"params": {"before_id": str(BIG)}},
    ),
    Case(
        "bigint-version-diff",
        "GET",
        "/v1/units/410799001001001/diff",
        "from",
        kwargs={"params": {"from": str(BIG), "to": "1"}},
    ),
    Case(
        "bigint-compound-households",
        "POST",
        COMPOUNDS,
        "households",
        kwargs=_json({**OK_COMPOUND, "households": BIG}),
    ),
    Case(
        "bigint-negative-in-batch",
        "POST",
        BATCH,
        "points[0].id",
        kwargs=_json({"points": [{"lon": LON, "lat": LAT, "id": -BIG - 1}]}),
    ),
    Case(
        "bigint-ogc-offset",
        "GET",
        "/ogc/collections/grids/items",
        "offset",
        400,  # OGC API parameters answer 400, as that standard says
        kwargs={"params": {"offset": str(BIG)}},
    ),
    # --- deep nesting and giant numbers, refused before parsing -----------------------
    Case(
        "deep-json-incident", "POST", INC, "JSON", kwargs=_raw(_deep(100_000), "application/json")
    ),
    Case(
        "deep-json-batch",
        "POST",
        BATCH,
        "JSON",
        kwargs=_raw(b'{"points": ' + _deep(5000) + b"}", "application/json"),
    ),
    Case(
        "deep-geojson-incident",
        "POST",
        INC,
        "JSON",
        kwargs=_raw(_deep(1000), "application/geo+json"),
    ),
    Case(
        "deep-geojson-track-file",
        "POST",
        TRACKS,
        "GeoJSON",
        kwargs=_track_upload(
            "t.geojson",
            b'{"type": "FeatureCollection", "features": ' + _deep(5000) + b"}",
            worker_id="W0001",
        ),
    ),
    Case(
        "giant-number-incident",
        "POST",
        INC,
        "JSON",
        kwargs=_raw(b'{"lon": ' + b"1" * 10**6 + b"}", "application/json"),
    ),
    Case(
        "giant-number-batch",
        "POST",
        BATCH,
        "JSON",
        kwargs=_raw(
            b'{"points": [{"lon": ' + b"9" * 5000 + b', "lat": 35.3}]}', "application/json"
        ),
    ),
    # --- features that are not Feature objects ------------------------------------------
    Case(
        "features-of-numbers-json",
        "POST",
        INC,
        "features[0]",
        kwargs=_json({"type": "FeatureCollection", "features": [1, 2]}),
    ),
    Case(
        "features-of-numbers-geojson",
        "POST",
        INC,
        "features[0]",
        kwargs=_raw(b'{"type": "FeatureCollection", "features": [1, 2]}', "application/geo+json"),
    ),
    Case(
        "feature-properties-not-an-object",
        "POST",
        INC,
        "features[0]",
        kwargs=_raw(
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": [1]}]}',
            "application/geo+json",
        ),
    ),
    Case(
        "geojson-incident-body-an-array",
        "POST",
        INC,
        "FeatureCollection",
        kwargs=_raw(b"[1, 2]", "application/geo+json"),
    ),
    Case(
        "geojson-incident-body-a-string",
        "POST",
        INC,
        "FeatureCollection",
        kwargs=_raw(b'"x"', "application/geo+json"),
    ),
    Case(
        "features-of-numbers-track-file",
        "POST",
        TRACKS,
        "feature 1",
        kwargs=_track_upload(
            "t.geojson", b'{"type": "FeatureCollection", "features": [1, 2]}', worker_id="W0001"
        ),
    ),
    # --- implausible dates -----------------------------------------------------------------
    Case(
        "incident-dated-1970",
        "POST",
        INC,
        "reported_at",
        kwargs=_json(_incident(reported_at="1970-01-01T00:00:00Z")),
    ),
    Case(
        "incident-dated-2100",
        "POST",
        INC,
        "reported_at",
        kwargs=_json(_incident(reported_at="2100-01-01T00:00:00Z")),
    ),
    # --- names and codes out of their formats ----------------------------------------------
    Case(
        "worker-code-10000-chars",
        "PUT",
        "/v1/registers/workers/" + "W" * 10_000,
        "code",
        kwargs=_json(OK_WORKER),
    ),
    Case(
        "worker-code-path-like",
        "PUT",
        "/v1/registers/workers/..%5C..%5Cetc",
        "code",
        kwargs=_json(OK_WORKER),
    ),
    Case(
        "worker-name-invisible",
        "PUT",
        WORKER,
        "name",
        kwargs=_json({**OK_WORKER, "name": "\u200b\u200b \u3000"}),
    ),
    Case(
        "special-code-path-like",
        "POST",
        SPECIAL,
        "code",
        kwargs=_json({**OK_SPECIAL, "code": "../../etc"}),
    ),
    Case(
        "special-code-10000-chars",
        "POST",
        SPECIAL,
        "code",
        kwargs=_json({**OK_SPECIAL, "code": "S" * 10_000}),
    ),
    Case(
        "special-name-100000-chars",
        "POST",
        SPECIAL,
        "name",
        kwargs=_json({**OK_SPECIAL, "name": "校" * 100_000}),
    ),
    Case(
        "ogc-special-code-path-like",
        "POST",
        "/ogc/collections/special-grids/items",
        "code",
        kwargs=_raw(
            json.dumps(
                {
                    "type": "Feature",
                    "properties": {**OK_SPECIAL, "code": "../../etc", "geometry": None},
                    "geometry": OK_SPECIAL["geometry"],
                }
            ).encode(),
            "application/geo+json",
        ),
    ),
    Case(
        "ogc-grid-name-invisible",
        "PUT",
        "/ogc/collections/grids/items/410799001001001",
        "properties.name",
        kwargs={
            **_raw(
                json.dumps(
                    {"type": "Feature", "properties": {"name": "\u200b"}, "geometry": None}
                ).encode(),
                "application/geo+json",
            )
        },
    ),
    Case(
        "special-import-code-path-like",
        "POST",
        f"{SPECIAL}/import",
        "code",
        kwargs=_boundary_upload(
            "s.geojson",
            _fc(
                {
                    "code": "../../etc",
                    "name": "学校",
                    "kind": "school",
                    "responsible_unit": "教育局",
                }
            ),
            dry_run="false",
            reason="corpus",
        ),
    ),
    Case(
        "boundary-name-100000-chars",
        "POST",
        SETS,
        "name",
        kwargs=_boundary_upload("g.geojson", _unit_fc("网" * 100_000), level="grid"),
    ),
    Case(
        "boundary-name-invisible",
        "POST",
        SETS,
        "name",
        kwargs=_boundary_upload("g.geojson", _unit_fc("\u200b\u200b"), level="grid"),
    ),
    Case(
        "compound-name-only-spaces",
        "POST",
        COMPOUNDS,
        "name",
        kwargs=_json({**OK_COMPOUND, "name": "   "}),
    ),
]

CASES = [
    # --- reverse geocoding: query parameters -------------------------------------
    Case(
        "reverse-lon-not-a-number", "GET", REV, "lon", kwargs={"params": {"lon": "abc", "lat": LAT}}
    ),
    Case("reverse-lon-nan", "GET", REV, "lon", kwargs={"params": {"lon": "nan", "lat": LAT}}),
    Case("reverse-lat-inf", "GET", REV, "lat", kwargs={"params": {"lon": LON, "lat": "inf"}}),
    Case(
        "reverse-lat-out-of-range", "GET", REV, "lat", kwargs={"params": {"lon": LON, "lat": 135}}
    ),
    Case("reverse-lat-lon-swapped", "GET", REV, "lat", kwargs={"params": {"lon": LAT, "lat": LON}}),
    Case(
        "reverse-unknown-crs",
        "GET",
        REV,
        "crs",
        kwargs={"params": {"lon": LON, "lat": LAT, "crs": "epsg:3857"}},
    ),
    Case(
        "reverse-unknown-out-crs",
        "GET",
        REV,
        "out_crs",
        kwargs={"params": {"lon": LON, "lat": LAT, "out_crs": "mars"}},
    ),
    Case(
        "reverse-negative-tolerance",
        "GET",
        REV,
        "tolerance_m",
        kwargs={"params": {"lon": LON, "lat": LAT, "tolerance_m": -1}},
    ),
    Case(
        "reverse-at-without-zone",
        "GET",
        REV,
        "at",
        kwargs={"params": {"lon": LON, "lat": LAT, "at": "2026-10-01T00:00:00"}},
    ),
    Case(
        "reverse-unknown-category",
        "GET",
        REV,
        "category",
        kwargs={"params": {"lon": LON, "lat": LAT, "category": "aliens"}},
    ),
    Case("reverse-missing-lat", "GET", REV, "lat", kwargs={"params": {"lon": LON}}),
    # --- batch reverse geocoding ---------------------------------------------------
    Case(
        "batch-malformed-json",
        "POST",
        BATCH,
        "JSON",
        kwargs=_raw(b'{"points": [', "application/json"),
    ),
    Case("batch-json-not-an-object", "POST", BATCH, "points", kwargs=_json([[LON, LAT]])),
    Case(
        "batch-lon-is-a-string",
        "POST",
        BATCH,
        "points[0].lon",
        kwargs=_json({"points": [{"lon": "113.9", "lat": LAT}]}),
    ),
    Case(
        "batch-nan",
        "POST",
        BATCH,
        "lon",
        kwargs=_raw(b'{"points": [{"lon": NaN, "lat": 35.3}]}', "application/json"),
    ),
    Case(
        "batch-infinity",
        "POST",
        BATCH,
        "lat",
        kwargs=_raw(b'{"points": [{"lon": 113.9, "lat": Infinity}]}', "application/json"),
    ),
    Case(
        "batch-lat-lon-swapped",
        "POST",
        BATCH,
        "lat",
        kwargs=_json({"points": [{"lon": LAT, "lat": LON}]}),
    ),
    Case(
        "batch-unknown-crs",
        "POST",
        BATCH,
        "crs",
        kwargs=_json({"crs": "utm50", "points": [{"lon": LON, "lat": LAT}]}),
    ),
    Case(
        "batch-csv-missing-column",
        "POST",
        BATCH,
        "lat",
        kwargs=_raw(b"lon,y\n113.9,35.3\n", "text/csv"),
    ),
    Case(
        "batch-csv-text-in-lat",
        "POST",
        BATCH,
        "lat",
        kwargs=_raw(b"lon,lat\n113.9,north\n", "text/csv"),
    ),
    Case(
        "batch-csv-gbk-cells",
        "POST",
        BATCH,
        "UTF-8",
        kwargs=_raw(b"lon,lat,name\n113.9,35.3," + GBK_NAME + b"\n", "text/csv"),
    ),
    Case(
        "batch-csv-unknown-crs-column",
        "POST",
        BATCH,
        "crs",
        kwargs=_raw(b"lon,lat,crs\n113.9,35.3,wgs-1984-ish\n", "text/csv"),
    ),
    Case(
        "batch-unsupported-media-type",
        "POST",
        BATCH,
        "Content-Type",
        415,
        kwargs=_raw(b"<points/>", "application/xml"),
    ),
    # --- incident intake -----------------------------------------------------------
    Case(
        "incident-malformed-json",
        "POST",
        INC,
        "JSON",
        kwargs=_raw(b'{"source": "grid_worker",', "application/json"),
    ),
    Case("incident-json-scalar", "POST", INC, "JSON", kwargs=_json("hello")),
    Case("incident-lon-wrong-type", "POST", INC, "lon", kwargs=_json(_incident(lon={"x": 1}))),
    Case(
        "incident-lat-nan",
        "POST",
        INC,
        "lat",
        kwargs=_raw(json.dumps(_incident(lat=float("nan"))).encode(), "application/json"),
    ),
    Case("incident-lat-lon-swapped", "POST", INC, "lon", kwargs=_json(_incident(lon=LAT, lat=LON))),
    Case(
        "incident-outside-district",
        "POST",
        INC,
        "lon",
        kwargs=_json(_incident(lon=100.0, lat=20.0)),
    ),
    Case("incident-unknown-crs", "POST", INC, "crs", kwargs=_json(_incident(crs="EPSG:3857"))),
    Case(
        "incident-missing-external-id",
        "POST",
        INC,
        "external_id",
        kwargs=_json(_incident(external_id="")),
    ),
    Case(
        "incident-time-without-zone",
        "POST",
        INC,
        "reported_at",
        kwargs=_json(_incident(reported_at="2026-10-01 08:30")),
    ),
    Case(
        "incident-geojson-not-a-collection",
        "POST",
        INC,
        "FeatureCollection",
        kwargs=_raw(b'{"type": "Point", "coordinates": [113.9, 35.3]}', "application/geo+json"),
    ),
    Case(
        "incident-csv-header-incomplete",
        "POST",
        INC,
        "header",
        kwargs=_raw(b"source,external_id,lon\nx,1,113.9\n", "text/csv"),
    ),
    Case(
        "incident-csv-gbk",
        "POST",
        INC,
        "UTF-8",
        kwargs=_raw(
            (
                CSV_HEAD
                + f"grid_worker,gbk-1,2026-10-01T08:30:00+08:00,environment,{LON},{LAT},wgs84,"
            ).encode()
            + GBK_NAME
            + b"\n",
            "text/csv",
        ),
    ),
    Case(
        "incident-ndjson-not-utf8",
        "POST",
        INC,
        "UTF-8",
        kwargs=_raw(
            json.dumps(_incident(external_id="nd-1")).encode()
            + b"\n"
            + b'{"description": "\xff\xfe"}\n',
            "application/x-ndjson",
        ),
    ),
    Case(
        "incident-unsupported-media-type",
        "POST",
        INC,
        "content type",
        kwargs=_raw(b"<incident/>", "application/xml"),
    ),
    # --- Open311 -------------------------------------------------------------------
    Case(
        "open311-lat-not-a-number",
        "POST",
        O311,
        "lat",
        kwargs={"data": {**O311_OK, "lat": "north"}},
    ),
    Case("open311-lat-nan", "POST", O311, "lat", kwargs={"data": {**O311_OK, "lat": "nan"}}),
    Case(
        "open311-long-infinite", "POST", O311, "lon", kwargs={"data": {**O311_OK, "long": "-inf"}}
    ),
    Case(
        "open311-lat-long-swapped",
        "POST",
        O311,
        "lon",
        kwargs={"data": {**O311_OK, "lat": str(LON), "long": str(LAT)}},
    ),
    Case(
        "open311-unknown-service",
        "POST",
        O311,
        "category",
        kwargs={"data": {**O311_OK, "service_code": "ufo"}},
    ),
    Case("open311-unknown-crs", "POST", O311, "crs", kwargs={"data": {**O311_OK, "crs": "mars"}}),
    Case(
        "open311-missing-service-code",
        "POST",
        O311,
        "service_code",
        kwargs={"data": {"lat": str(LAT), "long": str(LON)}},
    ),
    Case(
        "open311-gbk-form",
        "POST",
        O311,
        "UTF-8",
        kwargs=_raw(
            b"service_code=environment&lat=35.368217&long=113.894073&description=" + GBK_NAME,
            "application/x-www-form-urlencoded",
        ),
    ),
    Case(
        "open311-body-over-limit",
        "POST",
        O311,
        "64 KiB",
        413,
        kwargs={"data": {**O311_OK, "description": "x" * (70 * 1024)}},
    ),
    # --- patrol tracks -------------------------------------------------------------
    Case(
        "track-gpx-truncated",
        "POST",
        TRACKS,
        "GPX",
        kwargs=_track_upload("t.gpx", b"<gpx><trk><trkseg><trkpt lat='35.3'", worker_id="W0001"),
    ),
    Case(
        "track-geojson-malformed",
        "POST",
        TRACKS,
        "JSON",
        kwargs=_track_upload(
            "t.geojson", b'{"type": "FeatureCollection", "features": [', worker_id="W0001"
        ),
    ),
    Case(
        "track-geojson-polygon",
        "POST",
        TRACKS,
        "LineString",
        kwargs=_track_upload("t.geojson", _polygon_fc(SQUARE), worker_id="W0001"),
    ),
    Case(
        "track-csv-nan-lat",
        "POST",
        TRACKS,
        "latitude",
        kwargs=_track_upload(
            "t.csv",
            b"worker_id,time,lon,lat\nW0001,2026-10-01T08:00:00+08:00,113.9,nan\nW0001,2026-10-01T08:01:00+08:00,113.9,35.3\n",
            crs="wgs84",
        ),
    ),
    Case(
        "track-csv-lat-lon-swapped",
        "POST",
        TRACKS,
        "latitude",
        kwargs=_track_upload(
            "t.csv",
            f"worker_id,time,lon,lat\nW0001,2026-10-01T08:00:00+08:00,{LAT},{LON}\n".encode(),
            crs="wgs84",
        ),
    ),
    Case(
        "track-csv-unknown-crs",
        "POST",
        TRACKS,
        "crs",
        kwargs=_track_upload(
            "t.csv",
            f"worker_id,time,lon,lat,crs\nW0001,2026-10-01T08:00:00+08:00,{LON},{LAT},mars\n".encode(),
        ),
    ),
    Case(
        "track-unknown-worker",
        "POST",
        TRACKS,
        "worker",
        kwargs=_track_upload(
            "t.csv",
            (
                "worker_id,time,lon,lat\n"
                f"NOBODY,2026-10-01T08:00:00+08:00,{LON},{LAT}\n"
                f"NOBODY,2026-10-01T08:01:00+08:00,{LON},{LAT + 0.0005}\n"
            ).encode(),
        ),
    ),
    Case(
        "track-binary-garbage",
        "POST",
        TRACKS,
        "UTF-8",
        kwargs=_track_upload("t.csv", bytes(range(256)) * 4),
    ),
    Case(
        "track-bad-mode",
        "POST",
        TRACKS,
        "mode",
        kwargs=_track_upload("t.csv", b"worker_id,time,lon,lat\n", mode="rocket"),
    ),
    # --- boundary-set upload -------------------------------------------------------
    Case(
        "boundary-malformed-geojson",
        "POST",
        SETS,
        "g.geojson",
        kwargs=_boundary_upload("g.geojson", b'{"type": "FeatureCollection", "features": [{'),
    ),
    Case(
        "boundary-polygon-too-few-points",
        "POST",
        SETS,
        "geometries",
        kwargs=_boundary_upload(
            "g.geojson", _polygon_fc([[X0, Y0], [X0 + 0.01, Y0], [X0, Y0]]), level="grid"
        ),
    ),
    Case(
        "boundary-self-intersection",
        "POST",
        SETS,
        "geometries",
        kwargs=_boundary_upload("g.geojson", _polygon_fc(BOWTIE), level="grid"),
    ),
    Case(
        "boundary-unclosed-ring",
        "POST",
        SETS,
        "rings closed",
        kwargs=_boundary_upload("g.geojson", _polygon_fc(SQUARE[:-1]), level="grid"),
    ),
    Case(
        "boundary-unknown-crs",
        "POST",
        SETS,
        "crs",
        kwargs=_boundary_upload("g.geojson", _polygon_fc(SQUARE), level="grid", crs="EPSG:999999"),
    ),
    Case(
        "boundary-unknown-crs-name",
        "POST",
        SETS,
        "crs",
        kwargs=_boundary_upload("g.geojson", _polygon_fc(SQUARE), level="grid", crs="mars"),
    ),
    Case(
        "boundary-unknown-level",
        "POST",
        SETS,
        "level",
        kwargs=_boundary_upload("g.geojson", _polygon_fc(SQUARE), level="planet"),
    ),
    Case(
        "boundary-zip-path-traversal",
        "POST",
        SETS,
        "path",
        kwargs=_boundary_upload(
            "g.zip", _zip({"../../etc/cron.d/evil.geojson": _polygon_fc(SQUARE)})
        ),
    ),
    Case(
        "boundary-zip-absolute-path",
        "POST",
        SETS,
        "path",
        kwargs=_boundary_upload("g.zip", _zip({"/tmp/evil.geojson": _polygon_fc(SQUARE)})),
    ),
    Case(
        "boundary-zip-bomb-declared",
        "POST",
        SETS,
        "GiB",
        kwargs=_boundary_upload("g.zip", _declared_size_zip(3 * 2**30)),
    ),
    Case(
        "boundary-zip-bomb-lying",
        "POST",
        SETS,
        "archive",
        kwargs=_boundary_upload("g.zip", _lying_bomb_zip()),
    ),
    Case(
        "boundary-zip-damaged",
        "POST",
        SETS,
        "zip",
        kwargs=_boundary_upload("g.zip", b"PK\x03\x04 not really a zip"),
    ),
    Case(
        "boundary-zip-without-boundaries",
        "POST",
        SETS,
        ".shp",
        kwargs=_boundary_upload("g.zip", _zip({"readme.txt": b"hello"})),
    ),
    # --- paging: a huge offset is refused before it reaches SQL (was a 500) ------------
    Case(
        "workers-offset-past-bigint",
        "GET",
        "/v1/registers/workers",
        "offset",
        kwargs={"params": {"offset": str(2**63)}},
    ),
    Case(
        "compounds-offset-past-bigint",
        "GET",
        "/v1/registers/compounds",
        "offset",
        kwargs={"params": {"offset": str(10**19)}},
    ),
    *TRUST_CASES,
    # --- the default limit for everything else (1 MiB) -----------------------------
    Case(
        "edit-body-over-limit",
        "PATCH",
        f"{INC}/1",
        "1 MiB",
        413,
        kwargs=_json({"action": "close", "actor": "x", "note": "n" * (2 * 2**20)}),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_a_problem_and_changes_nothing(client, db_engine, case):
    before = _counts(db_engine)
    r = client.request(case.method, case.path, **case.kwargs)
    after = _counts(db_engine)
    assert r.status_code == case.status, r.text[:500]
    assert r.headers["content-type"].split(";")[0] == PROBLEM
    body = r.json()
    assert body["status"] == case.status
    for key in ("type", "title", "detail", "detail_zh", "instance"):
        assert body[key], key
    assert body["instance"] == case.path.split("?")[0]
    assert re.search("[\u4e00-\u9fff]", body["detail_zh"]), body["detail_zh"]  # Chinese too
    # The message names the field: in the text, or in the structured extras.
    named = json.dumps(
        [body["detail"], body.get("errors"), body.get("field"), body.get("column")],
        ensure_ascii=False,
    )
    assert case.field.lower() in named.lower(), named
    assert any(word in body["detail"].lower() for word in ADVICE), body["detail"]
    assert after == before


# --- streamed bodies over the limit, per endpoint family ---------------------------


SMALL = 64 * 1024


@pytest.fixture(scope="module")
def small_limits_client(loaded, test_settings):
    settings = test_settings.model_copy(
        update={
            "max_body_geocode_batch_bytes": SMALL,
            "max_body_incidents_bytes": SMALL,
            "max_body_patrol_bytes": SMALL,
            "max_body_boundary_upload_bytes": SMALL,
            "max_body_ledger_bytes": SMALL,
            "max_body_edit_bytes": SMALL,
        }
    )
    with TestClient(create_app(settings)) as c:
        yield c


def _ndjson_stream():
    # Valid cases, streamed without Content-Length: the first chunks are stored in
    # the open transaction before the limit is hit; all must be rolled back.
    for i in range(400):
        yield (json.dumps(_incident(external_id=f"over-limit-{i}")) + "\n").encode()


def _csv_stream():
    yield b"lon,lat\n"
    for _ in range(10_000):
        yield f"{LON},{LAT}\n".encode()


HUGE = [
    ("incidents-ndjson", INC, "application/x-ndjson", _ndjson_stream, {}),
    ("geocode-batch-csv", BATCH, "text/csv", _csv_stream, {}),
]


@pytest.mark.parametrize(("name", "path", "ctype", "gen", "extra"), HUGE, ids=[h[0] for h in HUGE])
def test_streamed_body_over_the_limit_is_cut_off(
    small_limits_client, db_engine, name, path, ctype, gen, extra
):
    before = _counts(db_engine)
    r = small_limits_client.post(path, content=gen(), headers={"content-type": ctype})
    assert r.status_code == 413, r.text[:300]
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["limit_bytes"] == SMALL
    assert "64 KiB" in body["detail"] and "64 KiB" in body["detail_zh"]
    assert _counts(db_engine) == before


@pytest.mark.parametrize(
    ("path", "kwargs"),
    [
        (TRACKS, _track_upload("t.csv", b"worker_id,time,lon,lat\n" + b"W0001,x,1,2\n" * 8000)),
        (SETS, _boundary_upload("g.geojson", b" " * (SMALL + 1))),
        (BATCH, _raw(b" " * (SMALL + 1), "application/json")),
        ("/v1/registers/ledgers/import", _boundary_upload("l.csv", b"x" * (SMALL + 1))),
        ("/ogc/collections/grid/items", _raw(b" " * (SMALL + 1), "application/geo+json")),
    ],
    ids=["patrol-tracks", "boundary-upload", "geocode-batch-json", "ledger-import", "ogc-edit"],
)
def test_declared_body_over_the_limit_is_refused(small_limits_client, db_engine, path, kwargs):
    before = _counts(db_engine)
    r = small_limits_client.post(path, **kwargs)
    assert r.status_code == 413, r.text[:300]
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["limit_bytes"] == SMALL
    assert _counts(db_engine) == before


# --- CSV injection -----------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "=cmd|' /C calc'!A0"]


def _formula_cells(rows: list[list[str]]) -> list[str]:
    return [c for row in rows for c in row if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_batch_csv_answer_neutralises_formulas(client):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["lon", "lat", "note"])
    w.writerows([LON, LAT, f] for f in FORMULAS)
    w.writerow([LON, LAT, "-12.5"])  # a plain negative number stays a number
    r = client.post(BATCH, content=buf.getvalue().encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text[:300]
    rows = list(csv.reader(io.StringIO(r.text)))
    header, data = rows[0], rows[1:]
    notes = [row[header.index("note")] for row in data]
    assert notes[:-1] == ["'" + f for f in FORMULAS]
    assert notes[-1] == "-12.5"
    assert _formula_cells([row[:2] + row[3:] for row in data]) == []


def test_boundary_csv_export_neutralises_formulas(sample, tmp_path):
    from boundaries.export import export_boundaries

    units = sample.grids.head(len(FORMULAS)).copy()
    units["name"] = FORMULAS
    units["parent_code"] = "@" + units["parent_code"].astype(str)
    out = tmp_path / "b.csv"
    export_boundaries(units, out, "csv")
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    header = rows[0]
    names = [r[header.index("name")] for r in rows[1:]]
    assert names == ["'" + f for f in FORMULAS]
    assert _formula_cells(rows) == []


def test_live_boundary_csv_export_has_no_formula_cells(client):
    r = client.get("/v1/boundaries/export", params={"format": "csv"})
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) > 611
    assert _formula_cells(rows) == []


# --- issue 15: bad rows inside bulk bodies, implausible fixes, the edge scanner ----------


def _gpx(year: int, n: int = 6) -> bytes:
    pts = "".join(
        f'<trkpt lat="{LAT + i * 0.0002}" lon="{LON}"><time>{year}-10-01T08:0{i}:00Z</time></trkpt>'
        for i in range(n)
    )
    return (
        '<?xml version="1.0"?><gpx version="1.1" creator="corpus" '
        'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>' + pts + "</trkseg></trk></gpx>"
    ).encode()


@pytest.mark.parametrize("year", [1970, 1999, 2100])
def test_fixes_at_implausible_times_are_dropped_and_counted(client, db_engine, year):
    # 2100: would escape the purge of old tracks; 1970: a phone whose clock was reset.
    before = _counts(db_engine)
    r = client.post(TRACKS, **_track_upload("t.gpx", _gpx(year), worker_id="W0001"))
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert body["fixes_received"] == 6 and body["fixes_kept"] == 0
    assert body["dropped"]["implausible_time"] == 6
    assert body["new_tracks"] == 0
    assert _counts(db_engine) == before


def test_fixes_inside_the_window_are_kept(client, db_engine):
    # The same file dated 2026 is cleaned normally: the window is what drops the others.
    r = client.post(TRACKS, **_track_upload("t.gpx", _gpx(2026), worker_id="W0001"))
    assert r.status_code == 200, r.text[:300]
    assert r.json()["dropped"]["implausible_time"] == 0
    assert r.json()["fixes_kept"] > 0


def _ndjson(*rows: str) -> dict:
    return _raw("\n".join(rows).encode() + b"\n", "application/x-ndjson")


BAD_ROWS = [
    ("nul", INCIDENT_TEXT % '"row\\u0000"', "external_id"),
    ("surrogate", INCIDENT_TEXT % '"row\\udfff"', "external_id"),
    ("deep", "[" * 5000 + "]" * 5000, None),
    ("giant-number", '{"lon": ' + "7" * 6000 + "}", None),
    (
        "dated-1970",
        json.dumps(_incident(external_id="row-1970", reported_at="1970-01-01T00:00:00Z")),
        "reported_at",
    ),
]


@pytest.mark.parametrize(("name", "row", "field"), BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_a_bad_ndjson_row_is_rejected_with_its_line(client, db_engine, name, row, field):
    before = _counts(db_engine)
    r = client.post(INC, **_ndjson(row))
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    assert (body["received"], body["stored"], body["rejected"]) == (1, 0, 1)
    problem = body["errors"][0]
    assert problem["line"] == 1 and problem["message"] and problem["message_zh"]
    if field is not None:
        assert problem["field"] == field
    assert _counts(db_engine) == before


def test_csv_and_geojson_rows_with_nul_or_1970_are_rejected(client, db_engine):
    before = _counts(db_engine)
    csv_body = (
        CSV_HEAD
        + f"grid_worker,csv-nul\x00,2026-10-01T08:30:00+08:00,environment,{LON},{LAT},wgs84\n"
        + f"grid_worker,csv-1970,1970-01-01T00:00:00+00:00,environment,{LON},{LAT},wgs84\n"
    ).encode()
    r = client.post(INC, **_raw(csv_body, "text/csv"))
    assert r.status_code == 200, r.text[:300]
    assert [e["field"] for e in r.json()["errors"]] == ["external_id", "reported_at"]

    def fc(**change) -> dict:
        feat = {
            "type": "Feature",
            "properties": {**_incident(external_id="gj-1"), **change},
            "geometry": {"type": "Point", "coordinates": [LON, LAT]},
        }
        return _raw(
            json.dumps({"type": "FeatureCollection", "features": [feat]}).encode(),
            "application/geo+json",
        )

    # A JSON body with a NUL anywhere is refused whole at the edge, naming the member;
    # a plausible-looking row with an implausible date is one rejected row.
    nul = client.post(INC, **fc(description="a\x00"))
    assert nul.status_code == 422 and nul.headers["content-type"] == PROBLEM
    assert nul.json()["field"] == "features[0].properties.description"
    old = client.post(INC, **fc(reported_at="1999-12-31T23:59:59Z"))
    assert old.status_code == 200, old.text[:300]
    assert [e["field"] for e in old.json()["errors"]] == ["reported_at"]
    assert old.json()["stored"] == 0
    assert _counts(db_engine) == before


def test_open311_ids_past_bigint_find_nothing(client):
    r = client.get(O311, params={"service_request_id": f"{BIG},{10**30}"})
    assert r.status_code == 200 and r.json() == []


def test_the_json_scanner_counts_depth_outside_strings_only():
    from api.limits import MAX_JSON_DEPTH, Refusal, check_json, json_depth

    assert json_depth(b'{"a": [[1, 2], {"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b'["\\"[[[", [[]]]') == 3  # an escaped quote does not end the string
    ok = b'{"s": "' + b"[" * 1000 + b'"}'  # deep-looking text inside a string is fine
    check_json(ok)
    check_json(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    with pytest.raises(Refusal):
        check_json(b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1))
    check_json(b'{"id": "' + b"9" * 5000 + b'"}')  # digits in a string are text
    check_json(b'{"pair": "\\ud83d\\ude00", "n": 9223372036854775807}')  # a valid pair; BIGINT max
    with pytest.raises(Refusal) as e:
        check_json(b'{"a": [{"b": 9223372036854775808}]}')
    assert e.value.field == "a[0].b"
    with pytest.raises(Refusal) as e:
        check_json(b'{"a": {"b\\u0000": 1}}')
    assert "a" in e.value.field


def test_plausible_names_codes_and_times():
    from datetime import UTC, datetime, timedelta

    from geo.plausible import code_problem, text_problem, time_problem

    assert text_problem("纺织社区第1网格", 200) is None
    assert text_problem("\u200b\u3000 \u200d", 200) is not None  # only invisible characters
    assert text_problem("x" * 201, 200) is not None
    assert text_problem("a\tb", 200) is not None
    assert code_problem("410799S0001") is None and code_problem("W0001") is None
    for bad in ("../../etc", "a b", "", "x" * 65, "编码"):
        assert code_problem(bad) is not None, bad
    now = datetime(2026, 12, 4, tzinfo=UTC)
    assert time_problem(datetime(2000, 1, 1, tzinfo=UTC), now) is None
    assert time_problem(datetime(1999, 12, 31, 23, 59, tzinfo=UTC), now) is not None
    assert time_problem(now + timedelta(hours=23), now) is None
    assert time_problem(now + timedelta(hours=25), now) is not None
