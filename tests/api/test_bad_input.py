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
    "audit_log",
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
