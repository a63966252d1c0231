"""``POST /v1/geocode/reverse/batch``: JSON, CSV, Parquet and Arrow against shapely
``covers`` on the generator's polygons (smallest code wins), plus limits and bad input."""

import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from geo import crs
from geo.lookup.batch import RESULT_COLUMNS

from api.routers import geocode_batch
from tests.geo.test_batch import expected_frame, make_points

URL = "/v1/geocode/reverse/batch"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def bclient(loaded, test_settings):
    """The app with the batch router mounted (whether or not app.py mounts it yet)."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(test_settings)
    if not any(getattr(r, "path", None) == URL for r in app.routes):
        app.include_router(geocode_batch.router)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def points(sample):
    lon, lat = make_points(sample, n=5_000, seed=11)
    return lon, lat, expected_frame(sample, lon, lat)


def _unit(want_row, lvl):
    code = want_row[f"{lvl}_code"]
    return None if code is None else {"code": code, "name": want_row[f"{lvl}_name"]}


def test_json_batch_equals_shapely(bclient, points):
    lon, lat, want = points
    body = {
        "crs": "wgs84",
        "points": [
            {"id": f"p{i}", "lon": x, "lat": y}
            for i, (x, y) in enumerate(zip(lon, lat, strict=True))
        ],
    }
    r = bclient.post(URL, json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    got = r.json()
    assert got["crs_in"] == "wgs84"
    assert len(got["results"]) == len(lon)
    for i, (res, w) in enumerate(zip(got["results"], want.to_dict("records"), strict=True)):
        assert set(res) == {"id", "found", "grid", "community", "street", "district"}
        assert res["id"] == f"p{i}"
        assert res["found"] == (w["grid_code"] is not None)
        for lvl in ("grid", "community", "street", "district"):
            assert res[lvl] == _unit(w, lvl), (i, lvl)
    found = sum(r["found"] for r in got["results"])
    assert 0 < found < len(lon)


def test_json_gcj02_equals_wgs84_answers(bclient, points):
    lon, lat, want = points
    lon, lat, want = lon[:2000], lat[:2000], want.iloc[:2000]  # random part, off borders
    glon, glat = crs.from_wgs84(lon, lat, "gcj02")
    body = {
        "crs": "gcj02",
        "points": [{"lon": x, "lat": y} for x, y in zip(glon, glat, strict=True)],
    }
    got = bclient.post(URL, json=body).json()
    assert got["crs_in"] == "gcj02"
    assert [r["grid"]["code"] if r["grid"] else None for r in got["results"]] == list(
        want["grid_code"]
    )


def test_json_over_100000_points_is_413(bclient):
    body = {"points": [{"lon": 114.0, "lat": 22.6}] * 100_001}
    r = bclient.post(URL, json=body)
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    p = r.json()
    assert "100,000" in p["detail"] and "100,000" in p["detail_zh"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"points": [{"lon": 114.0, "lat": 22.6}, {"lon": "x", "lat": 22.6}]}, "points[1].lon"),
        ({"points": [{"lon": 114.0, "lat": 95.0}]}, "'lat'"),
        ({"crs": "mars", "points": [{"lon": 114.0, "lat": 22.6}]}, "mars"),
        ({"pts": []}, "points"),
    ],
)
def test_json_bad_input_is_422(bclient, body, where):
    r = bclient.post(URL, json=body)
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert where in r.json()["detail"]
    assert r.json()["detail_zh"]


def _input_table(lon, lat):
    n = len(lon)
    return pa.table(
        {
            "id": pa.array([f"r{i}" for i in range(n)]),
            "note": pa.array(["a,b" if i % 3 == 0 else "x" for i in range(n)]),
            "lon": pa.array(lon),
            "lat": pa.array(lat),
        }
    )


def _check(out: pd.DataFrame, inp: pd.DataFrame, want: pd.DataFrame):
    assert list(out.columns[: len(inp.columns)]) == list(inp.columns)
    assert list(out.columns[len(inp.columns) :]) == [*RESULT_COLUMNS, "lon_wgs84", "lat_wgs84"]
    pd.testing.assert_frame_equal(
        out[list(inp.columns)].reset_index(drop=True), inp, check_dtype=False
    )
    for c in RESULT_COLUMNS:
        got = [None if pd.isna(v) else v for v in out[c]]
        assert got == list(want[c]), c


def test_csv_round_trip(bclient, points):
    lon, lat, want = points
    inp = _input_table(lon, lat).to_pandas()
    text = inp.to_csv(index=False, float_format="%.17g")
    r = bclient.post(URL, content=text.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    out = pd.read_csv(io.StringIO(r.text), keep_default_na=False, na_values=[""], dtype=str)
    assert r.text.splitlines()[1].startswith('"r0"')  # arrow quotes every text cell
    inp_text = pd.read_csv(io.StringIO(text), dtype=str)
    _check(out, inp_text, want)


def test_parquet_round_trip(bclient, points):
    lon, lat, want = points
    table = _input_table(lon, lat)
    buf = io.BytesIO()
    pq.write_table(table, buf, row_group_size=1000)
    for ctype in ("application/vnd.apache.parquet", "application/x-parquet"):
        r = bclient.post(URL, content=buf.getvalue(), headers={"content-type": ctype})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == ctype
        out = pq.read_table(io.BytesIO(r.content)).to_pandas()
        _check(out, table.to_pandas(), want)


def test_arrow_stream_round_trip_with_crs_column(bclient, points):
    lon, lat, want = points
    lon, lat, want = lon[:2000], lat[:2000], want.iloc[:2000]
    glon, glat = crs.from_wgs84(lon, lat, "gcj02")
    table = _input_table(glon, glat).append_column(
        "crs", pa.array(["gcj02"] * 1000 + ["wgs84"] * 1000)
    )
    table = table.set_column(2, "lon", pa.array(np.r_[glon[:1000], lon[1000:]]))
    table = table.set_column(3, "lat", pa.array(np.r_[glat[:1000], lat[1000:]]))
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema) as w:
        for b in table.to_batches(max_chunksize=700):
            w.write_batch(b)
    ctype = "application/vnd.apache.arrow.stream"
    r = bclient.post(URL, content=sink.getvalue(), headers={"content-type": ctype})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == ctype
    out = ipc.open_stream(r.content).read_all().to_pandas()
    inp = table.to_pandas()
    assert list(out.columns[:5]) == list(inp.columns)
    pd.testing.assert_frame_equal(out[list(inp.columns)], inp)
    assert [None if pd.isna(v) else v for v in out["grid_code"]] == list(want["grid_code"])
    np.testing.assert_allclose(out["lon_wgs84"], lon, atol=1e-8)


def _file_error(bclient, content: bytes, ctype="text/csv", query=""):
    r = bclient.post(URL + query, content=content, headers={"content-type": ctype})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["detail_zh"]
    return r.json()


def test_bad_files_are_422(bclient):
    p = _file_error(bclient, b"id,x,y\n1,114,22.6\n")
    assert "lon" in p["detail"] and p["column"] == "lon"
    p = _file_error(bclient, b"lon,lat\n114,22.6\n114,\n")
    assert p["row"] == 2 and p["column"] == "lat"
    p = _file_error(bclient, b"lon,lat\n114,22.6\n200,22.6\n")
    assert p["row"] == 2 and "180" in p["detail"]
    p = _file_error(bclient, b"lon,lat\nabc,22.6\n")
    assert p["row"] == 1 and p["column"] == "lon"
    p = _file_error(bclient, b"lon,lat\n114,22.6\n", query="?crs=mars")
    assert "mars" in p["detail"]
    p = _file_error(bclient, b"lon,lat,crs\n114,22.6,wgs84\n114,22.6,baidu\n")
    assert "baidu" in p["detail"]
    _file_error(bclient, b"not a parquet file", "application/vnd.apache.parquet")
    _file_error(bclient, b"not an arrow stream", "application/vnd.apache.arrow.stream")
    buf = io.BytesIO()
    pq.write_table(pa.table({"lon": [114.0, float("nan")], "lat": [22.6, 22.6]}), buf)
    p = _file_error(bclient, buf.getvalue(), "application/x-parquet")
    assert p["row"] == 2


def test_unknown_content_type_is_415(bclient):
    r = bclient.post(URL, content=b"lon lat", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    assert r.headers["content-type"] == PROBLEM


def test_file_row_limit_is_413(bclient, monkeypatch):
    monkeypatch.setattr(geocode_batch, "MAX_FILE_ROWS", 3)
    r = bclient.post(
        URL, content=b"lon,lat\n" + b"114,22.6\n" * 4, headers={"content-type": "text/csv"}
    )
    assert r.status_code == 413
    assert r.headers["content-type"] == PROBLEM
    assert json.loads(r.text)["detail_zh"]


def test_cli_geocodes_a_small_csv(loaded, test_settings, sample, tmp_path, monkeypatch):
    import typer
    from rich.console import Console
    from typer.testing import CliRunner

    from api.cli.geocode import register

    for k in [k for k in __import__("os").environ if k.startswith("GRIDMAP_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("GRIDMAP_PG_DATABASE", test_settings.pg_database)
    monkeypatch.setenv("GRIDMAP_PG_PORT", str(test_settings.local_pg_port()))
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root, so ``geocode`` stays a subcommand."""

    def fail(message, code=1):
        raise typer.Exit(code)

    register(app, Console(stderr=True), fail)
    lon, lat = make_points(sample, n=300, seed=12)
    lon, lat = lon[:300], lat[:300]
    glon, glat = crs.from_wgs84(lon, lat, "gcj02")
    src = tmp_path / "pts.csv"
    pd.DataFrame({"name": [f"n{i}" for i in range(300)], "x": glon, "y": glat}).to_csv(
        src, index=False, float_format="%.17g"
    )
    args = ["geocode", str(src), "--crs", "gcj02", "--lon-col", "x", "--lat-col", "y"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    out = pd.read_csv(tmp_path / "pts.geocoded.csv", dtype=str, keep_default_na=False)
    want = expected_frame(sample, lon, lat)
    assert list(out["name"]) == [f"n{i}" for i in range(300)]
    assert [v or None for v in out["grid_code"]] == list(want["grid_code"])
    assert [v or None for v in out["district_name"]] == list(want["district_name"])
    bad = CliRunner().invoke(app, ["geocode", str(src)])  # no lon/lat columns
    assert bad.exit_code != 0


def test_malformed_json_is_422(bclient):
    r = bclient.post(URL, content=b'{"points": [', headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert "JSON" in r.json()["detail"]
