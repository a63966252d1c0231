"""Track files (GPX, GeoJSON, CSV) → pings, and the cells they lead to."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import gpxpy
import gpxpy.gpx
import numpy as np
import pandas as pd
import pytest

from geo import patrol
from geo.errors import InvalidInput
from geo.io import tracks as trackfiles

from tests.geo.test_patrol import line_cells

DATA = Path(__file__).parents[1] / "data"
VECTORS = json.loads((DATA / "crs_vectors.json").read_text())["vectors"]
# A published WGS-84 → GCJ-02 pair (eviltransform): [lng, lat] in and out.
GCJ = next(v for v in VECTORS if v["op"] == "wgs84_to_gcj02")


def _gpx(tracks: dict[str | None, pd.DataFrame], extension: bool = False) -> str:
    g = gpxpy.gpx.GPX()
    for name, df in tracks.items():
        trk = gpxpy.gpx.GPXTrack(name=name)
        seg = gpxpy.gpx.GPXTrackSegment()
        trk.segments.append(seg)
        g.tracks.append(trk)
        for r in df.itertuples():
            p = gpxpy.gpx.GPXTrackPoint(r.lat, r.lon, time=r.time.to_pydatetime())
            if extension:
                import xml.etree.ElementTree as ET

                acc = ET.Element("accuracy")
                acc.text = str(r.accuracy)
                p.extensions.append(acc)
            seg.points.append(p)
    return g.to_xml()


@pytest.fixture(scope="module")
def one_track(sample):
    """The fixes of one cleaned sample track (worker, fixes frame)."""
    pings = sample.patrol_pings
    worker = pings["worker_id"].iloc[0]
    day = pings[pings["worker_id"] == worker]
    clean, _ = patrol.clean_fixes(day)
    first = patrol.split_tracks(clean)[0]
    return worker, first[["time", "lon", "lat", "accuracy"]]


def test_gpx_from_gpxpy_gives_the_lines_cells_and_a_stable_checksum(one_track):
    worker, fixes = one_track
    text = _gpx({worker: fixes}, extension=True)
    pings = trackfiles.read_gpx(text.encode())
    assert list(pings.columns) == trackfiles.COLUMNS
    assert (pings["worker_id"] == worker).all() and len(pings) == len(fixes)
    assert (pings["accuracy"].to_numpy() == fixes["accuracy"].to_numpy()).all()
    assert str(pings["time"].dt.tz) == "UTC"
    batch = patrol.build_tracks(pings, 10)
    assert len(batch.tracks) == 1
    inner, outer = line_cells(fixes[["lon", "lat"]].to_numpy(), 10)
    cells = set(batch.passes["cell"])
    assert inner <= cells <= outer
    assert batch.tracks[0]["checksum"] == patrol.track_checksum(worker, fixes)
    again = patrol.build_tracks(trackfiles.read_gpx(text), 10)
    assert again.tracks[0]["checksum"] == batch.tracks[0]["checksum"]
    # Written out again from what was read, read back: still the same track.
    text2 = _gpx({worker: pings})
    third = patrol.build_tracks(trackfiles.read_gpx(text2), 10)
    assert third.tracks[0]["checksum"] == batch.tracks[0]["checksum"]


def test_gpx_worker_from_argument_and_errors(one_track):
    _, fixes = one_track
    named = trackfiles.read_gpx(_gpx({None: fixes.iloc[:5]}), worker_id="V9")
    assert (named["worker_id"] == "V9").all()
    with pytest.raises(InvalidInput) as e:
        trackfiles.read_gpx(_gpx({None: fixes.iloc[:5]}))
    assert "track 1" in e.value.message and "第 1 条轨迹" in e.value.message_zh
    parts = _gpx({"W1": fixes.iloc[:5]}).split("<time>")
    text = (
        "<time>".join(parts[:3]) + parts[3].split("</time>", 1)[1] + "<time>".join(["", *parts[4:]])
    )
    with pytest.raises(InvalidInput) as e:
        trackfiles.read_gpx(text)
    assert "segment 1 point 3" in e.value.message and "第 3 个点" in e.value.message_zh
    with pytest.raises(InvalidInput) as e:
        trackfiles.read_gpx(b"<gpx><trk><trkseg><trkpt lat='1' lon='2'></trkseg></gpx>")
    assert "line 1" in e.value.message and "GPX" in e.value.message_zh


def test_gpx_in_gcj02_is_converted():
    (wlon, wlat), (glon, glat) = GCJ["in"], GCJ["out"]
    df = pd.DataFrame(
        {
            "time": pd.to_datetime(["2026-10-01T00:00:00Z"], utc=True),
            "lon": [glon],
            "lat": [glat],
            "accuracy": [5.0],
        }
    )
    p = trackfiles.read_gpx(_gpx({"W1": df}), crs="gcj02")
    assert abs(p["lon"].iloc[0] - wlon) < 1e-7 and abs(p["lat"].iloc[0] - wlat) < 1e-7


def _feature(geometry: dict, **props) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def test_geojson_line_with_coord_times_and_points():
    line = _feature(
        {"type": "LineString", "coordinates": [[113.9, 35.3], [113.9005, 35.3], [113.901, 35.3]]},
        worker_id="W1",
        coordTimes=["2026-10-01T08:00:00+08:00", "2026-10-01T08:00:30+08:00", 1790812860],
        accuracy=4.0,
    )
    (glon, glat) = GCJ["out"]
    point = _feature(
        {"type": "Point", "coordinates": [glon, glat]},
        worker_id="W2",
        time="2026-10-01T00:00:00Z",
        crs="gcj02",
    )
    p = trackfiles.read_geojson(
        json.dumps({"type": "FeatureCollection", "features": [line, point]})
    )
    assert p["worker_id"].tolist() == ["W1", "W1", "W1", "W2"]
    assert p["time"].iloc[0] == pd.Timestamp("2026-10-01T00:00:00Z")
    assert p["time"].iloc[2] == pd.Timestamp(1790812860, unit="s", tz="UTC")
    assert p["accuracy"].iloc[:3].tolist() == [4.0] * 3 and np.isnan(p["accuracy"].iloc[3])
    assert abs(p["lon"].iloc[3] - GCJ["in"][0]) < 1e-7
    multi = _feature(
        {"type": "MultiLineString", "coordinates": [[[113.9, 35.3], [113.9001, 35.3]], [[1, 2]]]},
        coordTimes=[["2026-10-01T00:00:00Z", "2026-10-01T00:00:10Z"], ["2026-10-01T00:00:20Z"]],
    )
    m = trackfiles.read_geojson(multi, worker_id="W3")
    assert len(m) == 3 and (m["worker_id"] == "W3").all()


def test_geojson_errors_name_the_feature():
    bad_len = _feature(
        {"type": "LineString", "coordinates": [[113.9, 35.3], [113.9005, 35.3]]},
        worker_id="W1",
        times=["2026-10-01T08:00:00+08:00"],
    )
    ok = _feature({"type": "Point", "coordinates": [113.9, 35.3]}, worker_id="W1", time=1)
    doc = {"type": "FeatureCollection", "features": [ok, bad_len]}
    with pytest.raises(InvalidInput) as e:
        trackfiles.read_geojson(doc)
    assert "feature 2" in e.value.message and "第 2 个要素" in e.value.message_zh
    no_time = _feature({"type": "Point", "coordinates": [113.9, 35.3]}, worker_id="W1")
    with pytest.raises(InvalidInput) as e:
        trackfiles.read_geojson(no_time)
    assert "time" in e.value.message and "时间" in e.value.message_zh
    naive = _feature(
        {"type": "Point", "coordinates": [113.9, 35.3]}, worker_id="W1", time="2026-10-01 08:00"
    )
    with pytest.raises(InvalidInput) as e:
        trackfiles.read_geojson(naive)
    assert "offset" in e.value.message and "时区" in e.value.message_zh
    local = trackfiles.read_geojson(naive, default_tz="Asia/Shanghai")
    assert local["time"].iloc[0] == pd.Timestamp("2026-10-01T00:00:00Z")
    with pytest.raises(InvalidInput) as e:
        trackfiles.read_geojson(b'{"type": "FeatureCollection",\n  "features": [}')
    assert "line 2" in e.value.message and "第 2 行" in e.value.message_zh


CSV = """worker_id,time,lon,lat,accuracy,crs
W1,2026-10-01T08:00:00+08:00,113.9,35.3,5.0,wgs84
W1,2026-10-01T08:00:30+08:00,{glon},{glat},,gcj02
W2,2026-10-01T00:01:00Z,113.91,35.31,7.5,CGCS2000
"""


def test_csv_converts_each_row_in_its_crs():
    glon, glat = GCJ["out"]
    p = trackfiles.read_csv_pings(CSV.format(glon=glon, glat=glat))
    assert p["worker_id"].tolist() == ["W1", "W1", "W2"]
    assert (
        abs(p["lon"].iloc[1] - GCJ["in"][0]) < 1e-7 and abs(p["lat"].iloc[1] - GCJ["in"][1]) < 1e-7
    )
    assert p["lon"].iloc[2] == 113.91 and np.isnan(p["accuracy"].iloc[1])
    assert p["time"].tolist() == [
        pd.Timestamp("2026-10-01T00:00:00Z"),
        pd.Timestamp("2026-10-01T00:00:30Z"),
        pd.Timestamp("2026-10-01T00:01:00Z"),
    ]


def test_csv_in_gb18030_with_chinese_worker_ids():
    text = CSV.format(glon=113.9, glat=35.3).replace("W2", "网格员张三")
    p = trackfiles.read_csv_pings(text.encode("gb18030"))
    assert p["worker_id"].iloc[2] == "网格员张三"


@pytest.mark.parametrize(
    ("change", "en", "zh"),
    [
        (lambda s: s.replace("gcj02", "mars"), "line 3", "第 3 行"),
        (lambda s: s.replace("35.31", "135.31"), "line 4", "第 4 行"),
        (lambda s: s.replace("08:00:30+08:00", "08:00:30"), "line 3", "第 3 行"),
        (lambda s: s.replace("2026-10-01T00:01:00Z", "yesterday"), "line 4", "第 4 行"),
        (lambda s: s.replace("W2,", ","), "line 4", "第 4 行"),
        (lambda s: re.sub(r",[^,\n]*\n", "\n", s), "crs", "crs"),  # no crs column
    ],
)
def test_csv_errors_name_the_line(change, en, zh):
    with pytest.raises(InvalidInput) as e:
        trackfiles.read_csv_pings(change(CSV.format(glon=113.9, glat=35.3)))
    assert en in e.value.message and zh in e.value.message_zh


def test_sample_csv_round_trip(sample, tmp_path):
    from boundaries.sample import write_sample

    written = write_sample(sample, tmp_path)
    p = trackfiles.read_track_file(written["patrol_pings.csv"].read_bytes(), "patrol_pings.csv")
    ref = sample.patrol_pings
    assert len(p) == len(ref)
    assert (p["time"].to_numpy() == ref["time"].dt.tz_convert("UTC").to_numpy()).all()
    assert np.allclose(p["lon"], ref["lon"]) and (p["worker_id"] == ref["worker_id"]).all()


def test_read_track_file_dispatches_by_extension(one_track):
    worker, fixes = one_track
    gpx = trackfiles.read_track_file(_gpx({worker: fixes}).encode(), "walk.GPX")
    assert len(gpx) == len(fixes)
    with pytest.raises(InvalidInput) as e:
        trackfiles.read_track_file(b"", "walk.kml")
    assert ".gpx" in e.value.message and "轨迹文件" in e.value.message_zh
    t = dt.datetime(2026, 10, 1, tzinfo=dt.UTC).isoformat()
    gj = {
        "type": "Feature",
        "properties": {"time": t},
        "geometry": {"type": "Point", "coordinates": [1, 2]},
    }
    assert (
        trackfiles.read_track_file(json.dumps(gj), "p.geojson", worker_id="W")["worker_id"][0]
        == "W"
    )
