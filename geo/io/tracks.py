"""Patrol track files → pings (pure: bytes or text in, DataFrame out).

Every reader returns the pings frame :func:`geo.patrol.build_tracks` takes: columns
worker_id (str), time (tz-aware, UTC), lon, lat (WGS-84, converted with
:func:`geo.crs.to_wgs84`) and accuracy (metres; NaN when the file has none).

- GPX (gpxpy): every point of every track segment; times are UTC as GPX 1.1 says
  (a time without offset is read as UTC); the worker is the ``worker_id`` argument or
  the track's ``<name>``; accuracy from an ``<accuracy>`` or ``<hacc>`` extension.
- GeoJSON: a LineString / MultiLineString feature with a ``times`` or ``coordTimes``
  property (one time per vertex, as togeojson writes), or Point features with a
  ``time`` (``timestamp``, ``datetime``) property. Worker from the argument or a
  ``worker_id`` property; ``accuracy`` and ``crs`` properties are read per feature.
- CSV: columns worker_id, time, lon, lat, and optionally accuracy and crs (one CRS
  per row); UTF-8 (with or without BOM) or GB18030.

Times must carry an offset (``+08:00``, ``Z``) unless ``default_tz`` says which zone
naive times are in; a number is taken as Unix seconds (milliseconds above 1e11).
Bad input raises :class:`geo.errors.InvalidInput` with an English and a Chinese
message naming the line, feature or point and what to fix.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable

import numpy as np
import pandas as pd

from geo.crs import UnknownCRSError, parse_crs, to_wgs84
from geo.errors import InvalidInput
from geo.plausible import bad_char

COLUMNS = ["worker_id", "time", "lon", "lat", "accuracy"]
_TIME_KEYS = ("time", "timestamp", "datetime")
_MAX_LISTED = 5
_MAX_ID_CHARS = 200  # a worker id; its characters as any one-line text (geo.plausible)


def _text(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(
        "the file is neither UTF-8 nor GB18030 text; save it as UTF-8",
        "文件既不是 UTF-8 也不是 GB18030 编码的文本；请另存为 UTF-8",
    )


def _listed(where: list[str]) -> str:
    more = len(where) - _MAX_LISTED
    return ", ".join(where[:_MAX_LISTED]) + (f" (+{more} more)" if more > 0 else "")


def _listed_zh(where: list[str]) -> str:
    more = len(where) - _MAX_LISTED
    return "、".join(where[:_MAX_LISTED]) + (f"（另有 {more} 处）" if more > 0 else "")


# A time of day followed by a UTC offset ("08:00:00+08:00", "00:00:01.5Z").
_HAS_OFFSET = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[zZ]|UTC|GMT|utc|gmt|[+-]\d{2}(?::?\d{2})?)$"


def _parse_text(text: pd.Series, utc: bool) -> pd.Series:
    out = pd.to_datetime(text, format="ISO8601", utc=utc, errors="coerce")
    retry = out.isna()
    if retry.any():  # other layouts ("2026/10/01 08:00+08:00"): slower, element-wise
        out[retry] = pd.to_datetime(text[retry], format="mixed", utc=utc, errors="coerce")
    return out


def _times(
    values: Iterable, where: list[str], where_zh: list[str], default_tz: str | None
) -> pd.Series:
    """Parse times (ISO text or Unix numbers) to UTC; raise naming the bad ones."""
    if isinstance(values, pd.Series) and pd.api.types.is_string_dtype(values.dtype):
        raw = values.reset_index(drop=True)
        is_bool = np.zeros(len(raw), dtype=bool)
    else:
        raw = pd.Series(list(values), dtype=object)
        is_bool = raw.map(lambda v: isinstance(v, bool)).to_numpy(dtype=bool)
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    num = pd.to_numeric(raw.mask(is_bool), errors="coerce")
    is_num = num.notna().to_numpy()
    if is_num.any():
        sec = num[is_num].to_numpy(float)
        sec = np.where(np.abs(sec) > 1e11, sec / 1000.0, sec)
        out[is_num] = pd.to_datetime(sec, unit="s", utc=True)
    text = raw[~is_num & ~is_bool & raw.notna().to_numpy()].astype("str").str.strip()
    text = text[text != ""]
    aware = text.str.contains(_HAS_OFFSET, regex=True).astype(bool)
    out[aware[aware].index] = _parse_text(text[aware], utc=True)
    naive = text[~aware]
    if len(naive) and default_tz is not None:
        local = _parse_text(naive, utc=False)
        if isinstance(local.dtype, pd.DatetimeTZDtype):  # "mixed" found an offset after all
            local = local.dt.tz_convert("UTC")
        else:
            local = local.dt.tz_localize(default_tz, ambiguous="NaT", nonexistent="NaT")
        out[naive.index] = local.dt.tz_convert("UTC")
    elif len(naive):
        at = naive.index.tolist()
        raise InvalidInput(
            f"time without a UTC offset at {_listed([where[i] for i in at])}; "
            "add the offset (e.g. +08:00) or pass default_tz='Asia/Shanghai'",
            f"{_listed_zh([where_zh[i] for i in at])} 的时间缺少时区偏移；"
            "请加上偏移（例如 +08:00），或指定 default_tz='Asia/Shanghai'",
            where=[where[i] for i in at[:_MAX_LISTED]],
        )
    bad = np.flatnonzero(out.isna().to_numpy())
    if bad.size:
        raise InvalidInput(
            f"no readable time at {_listed([where[i] for i in bad])}; "
            "write ISO 8601 times such as 2026-10-01T08:00:00+08:00",
            f"{_listed_zh([where_zh[i] for i in bad])} 的时间无法识别；"
            "请使用 ISO 8601 格式，例如 2026-10-01T08:00:00+08:00",
            where=[where[i] for i in bad[:_MAX_LISTED]],
        )
    return out.dt.as_unit("ns")


def _crs_of(name, where: str, where_zh: str):
    try:
        return parse_crs(name)
    except UnknownCRSError:
        raise InvalidInput(
            f"unknown CRS {name!r} at {where}; use wgs84, gcj02, bd09 or cgcs2000",
            f"{where_zh} 的坐标系 {name!r} 无法识别；请使用 wgs84、gcj02、bd09 或 cgcs2000",
            where=where,
        ) from None


def _series(values) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    return pd.Series(list(values), dtype=object)


def _numbers(values) -> np.ndarray:
    """Floats (NaN where not a number); a plain cast first, it is much faster."""
    s = _series(values)
    try:
        return s.astype(float).to_numpy(float)
    except (ValueError, TypeError):
        return pd.to_numeric(s, errors="coerce").to_numpy(float)


def _frame(worker, times: pd.Series, lon, lat, accuracy, crs, where, where_zh) -> pd.DataFrame:
    """Check coordinates, convert each CRS group to WGS-84 and build the pings frame."""
    lon = _numbers(lon)
    lat = _numbers(lat)
    bad = np.flatnonzero(
        ~np.isfinite(lon) | ~np.isfinite(lat) | (np.abs(lat) > 90) | (np.abs(lon) > 180)
    )
    if bad.size:
        raise InvalidInput(
            f"longitude/latitude missing or out of range at {_listed([where[i] for i in bad])};"
            " write decimal degrees, longitude first (-180–180, -90–90)",
            f"{_listed_zh([where_zh[i] for i in bad])} 的经纬度缺失或超出范围；"
            "请填写十进制度，经度在前（-180–180，-90–90）",
            where=[where[i] for i in bad[:_MAX_LISTED]],
        )
    worker = _series(worker).fillna("").astype("str").str.strip()
    # Checked once per distinct id (a track file has few workers and many fixes).
    bad_ids = [w for w in pd.unique(worker) if len(w) > _MAX_ID_CHARS or bad_char(w, True)]
    unreadable = np.flatnonzero(worker.isin(bad_ids).to_numpy(dtype=bool))
    if unreadable.size:
        raise InvalidInput(
            f"worker id with a control character or over {_MAX_ID_CHARS} characters at "
            f"{_listed([where[i] for i in unreadable])}; write the worker's code (e.g. W0001)",
            f"{_listed_zh([where_zh[i] for i in unreadable])} 的巡查人员编号含控制字符或超过 "
            f"{_MAX_ID_CHARS} 个字符；请填写人员编号（如 W0001）",
            where=[where[i] for i in unreadable[:_MAX_LISTED]],
        )
    no_worker = np.flatnonzero((worker == "").to_numpy())
    if no_worker.size:
        raise InvalidInput(
            f"no worker id at {_listed([where[i] for i in no_worker])}; "
            "fill worker_id (or pass worker_id=...)",
            f"{_listed_zh([where_zh[i] for i in no_worker])} 缺少巡查人员编号；"
            "请填写 worker_id（或传入 worker_id=...）",
            where=[where[i] for i in no_worker[:_MAX_LISTED]],
        )
    codes, names = pd.factorize(_series(crs))
    x, y = lon.copy(), lat.copy()
    for k, name in enumerate(names):
        sel = codes == k
        first = int(np.flatnonzero(sel)[0])
        c = _crs_of(name, where[first], where_zh[first])
        x[sel], y[sel] = to_wgs84(lon[sel], lat[sel], c)
    acc = _numbers(accuracy)
    return pd.DataFrame(
        {
            "worker_id": worker.to_numpy(dtype=object),
            "time": times.reset_index(drop=True),
            "lon": x,
            "lat": y,
            "accuracy": acc,
        }
    )


def _empty(what: str, what_zh: str):
    return InvalidInput(
        f"the file has no {what}; a patrol track needs points with times",
        f"文件中没有{what_zh}；巡查轨迹需要带时间的定位点",
    )


def read_gpx(
    data: bytes | str,
    worker_id: str | None = None,
    crs: str = "wgs84",
    default_tz: str | None = "UTC",
) -> pd.DataFrame:
    """Pings from a GPX file's tracks (see the module doc).

    ``crs`` is the coordinates' system (GPX is WGS-84 by definition, but some Chinese
    apps export GCJ-02); naive times are UTC as GPX 1.1 specifies.
    """
    import gpxpy
    import gpxpy.gpx

    try:
        gpx = gpxpy.parse(_text(data))
    except gpxpy.gpx.GPXException as e:
        raise InvalidInput(
            f"not a readable GPX file: {e}; check that the XML is complete",
            f"无法读取 GPX 文件：{e}；请检查 XML 是否完整",
        ) from None
    worker, times, lon, lat, acc, where, where_zh = [], [], [], [], [], [], []
    for ti, track in enumerate(gpx.tracks, start=1):
        who = worker_id or (track.name or "").strip()
        if not who:
            raise InvalidInput(
                f"GPX track {ti} has no <name> and no worker_id was given; "
                "name the track after the worker or pass worker_id=...",
                f"GPX 第 {ti} 条轨迹没有 <name>，也未指定 worker_id；"
                "请用巡查人员编号命名轨迹，或传入 worker_id=...",
                track=ti,
            )
        for si, seg in enumerate(track.segments, start=1):
            for pi, p in enumerate(seg.points, start=1):
                worker.append(who)
                times.append(p.time)
                lon.append(p.longitude)
                lat.append(p.latitude)
                acc.append(_gpx_accuracy(p))
                where.append(f"track {ti} segment {si} point {pi}")
                where_zh.append(f"第 {ti} 条轨迹第 {si} 段第 {pi} 个点")
    if not worker:
        raise _empty("track points (<trkpt>)", "轨迹点（<trkpt>）")
    missing = [i for i, t in enumerate(times) if t is None]
    if missing:
        raise InvalidInput(
            f"GPX point without <time> at {_listed([where[i] for i in missing])}; "
            "export the track with timestamps",
            f"{_listed_zh([where_zh[i] for i in missing])} 的 GPX 点缺少 <time>；"
            "请导出带时间戳的轨迹",
            where=[where[i] for i in missing[:_MAX_LISTED]],
        )
    t = _times([x.isoformat() for x in times if x is not None], where, where_zh, default_tz)
    return _frame(worker, t, lon, lat, acc, [crs] * len(worker), where, where_zh)


def _gpx_accuracy(point) -> float:
    for ext in point.extensions or []:
        for el in ext.iter():
            tag = el.tag.rsplit("}", 1)[-1].lower()
            if tag in ("accuracy", "hacc") and el.text:
                try:
                    return float(el.text)
                except ValueError:
                    return np.nan
    return np.nan


def _legacy_crs(doc: dict) -> str | None:
    """The pre-RFC 7946 ``crs`` member, e.g. {"properties": {"name": "EPSG:4326"}}."""
    c = doc.get("crs")
    if isinstance(c, dict):
        name = str((c.get("properties") or {}).get("name", ""))
        if name.upper().endswith(("CRS84", "4326")):
            return "wgs84"
        if name.upper().endswith("4490"):
            return "cgcs2000"
        return name or None
    return c if isinstance(c, str) else None


def read_geojson(
    data: bytes | str | dict,
    worker_id: str | None = None,
    crs: str | None = None,
    default_tz: str | None = None,
) -> pd.DataFrame:
    """Pings from a GeoJSON FeatureCollection or Feature (see the module doc).

    CRS: ``crs`` if given, else the feature's ``crs`` property, else the document's
    legacy ``crs`` member, else WGS-84 (RFC 7946).
    """
    if isinstance(data, dict):
        doc = data
    else:
        try:
            doc = json.loads(_text(data))
        except json.JSONDecodeError as e:
            raise InvalidInput(
                f"not valid JSON at line {e.lineno} column {e.colno}: {e.msg}; check the "
                "GeoJSON file is complete and upload it again",
                f"JSON 格式错误：第 {e.lineno} 行第 {e.colno} 列（{e.msg}）",
                line=e.lineno,
            ) from None
        except (ValueError, RecursionError):  # a number of over 4,300 digits; deep nesting
            raise InvalidInput(
                "the GeoJSON file nests too deep or holds a number too long to read; "
                "check it and export it again as plain GeoJSON",
                "GeoJSON 文件嵌套过深或含有过长的数字；请重新导出为普通 GeoJSON",
            ) from None
    if not isinstance(doc, dict) or doc.get("type") not in ("FeatureCollection", "Feature"):
        raise InvalidInput(
            "GeoJSON must be a FeatureCollection or a Feature",
            "GeoJSON 必须是 FeatureCollection 或 Feature",
        )
    features = doc.get("features", []) if doc["type"] == "FeatureCollection" else [doc]
    doc_crs = crs or _legacy_crs(doc) or "wgs84"
    worker, raw_t, lon, lat, acc, crss, where, where_zh = ([] for _ in range(8))
    if not isinstance(features, list):
        features = [features]  # reported as feature 1 below
    for fi, feat in enumerate(features, start=1):
        props, geom = _feature_parts(feat, fi)
        who = worker_id or props.get("worker_id")
        f_crs = crs or props.get("crs") or doc_crs
        gtype = geom.get("type")
        if gtype == "Point":
            key = next((k for k in _TIME_KEYS if k in props), None)
            if key is None:
                raise InvalidInput(
                    f"feature {fi} (a Point) has no time property; add 'time' with an offset",
                    f"第 {fi} 个要素（点）没有时间属性；请添加带时区偏移的 'time'",
                    feature=fi,
                )
            coords, stamps = [geom.get("coordinates") or []], [props[key]]
            labels = [f"feature {fi}"]
            labels_zh = [f"第 {fi} 个要素"]
        elif gtype in ("LineString", "MultiLineString"):
            coords, stamps = _line_parts(geom, props, fi)
            labels = [f"feature {fi} vertex {i}" for i in range(1, len(coords) + 1)]
            labels_zh = [f"第 {fi} 个要素第 {i} 个顶点" for i in range(1, len(coords) + 1)]
        else:
            raise InvalidInput(
                f"feature {fi} is a {gtype}; use a LineString with times or Point features",
                f"第 {fi} 个要素是 {gtype}；请使用带时间的 LineString 或点要素",
                feature=fi,
            )
        for c in coords:
            ok = isinstance(c, (list, tuple)) and len(c) >= 2
            lon.append(c[0] if ok else None)
            lat.append(c[1] if ok else None)
        raw_t.extend(stamps)
        worker.extend([who] * len(coords))
        acc.extend([props.get("accuracy")] * len(coords))
        crss.extend([f_crs] * len(coords))
        where.extend(labels)
        where_zh.extend(labels_zh)
    if not worker:
        raise _empty("features", "要素")
    t = _times(raw_t, where, where_zh, default_tz)
    return _frame(worker, t, lon, lat, acc, crss, where, where_zh)


def _feature_parts(feat, fi: int) -> tuple[dict, dict]:
    """A feature's properties and geometry; InvalidInput when any is not an object."""
    feat = feat or {}
    props = feat.get("properties") or {} if isinstance(feat, dict) else None
    geom = feat.get("geometry") or {} if isinstance(feat, dict) else None
    if not isinstance(props, dict) or not isinstance(geom, dict):
        raise InvalidInput(
            f"feature {fi} is not a GeoJSON Feature object (with object properties and "
            "geometry); fix the file and upload it again",
            f"第 {fi} 个要素不是 GeoJSON Feature 对象（properties 与 geometry 应为对象）；"
            "请修正文件后重新上传",
            feature=fi,
        )
    return props, geom


def _line_parts(geom: dict, props: dict, fi: int) -> tuple[list, list]:
    key = "times" if "times" in props else "coordTimes" if "coordTimes" in props else None
    if key is None:
        raise InvalidInput(
            f"feature {fi} (a line) has no 'times' or 'coordTimes' property; "
            "add one time per vertex",
            f"第 {fi} 个要素（线）没有 'times' 或 'coordTimes' 属性；请为每个顶点提供一个时间",
            feature=fi,
        )
    coords = geom.get("coordinates") or []
    stamps = props[key]
    if geom["type"] == "MultiLineString":
        coords = [c for part in coords for c in part]
        if stamps and isinstance(stamps[0], list):
            stamps = [s for part in stamps for s in part]
    if not isinstance(stamps, list) or len(stamps) != len(coords):
        n = len(stamps) if isinstance(stamps, list) else 0
        raise InvalidInput(
            f"feature {fi} has {len(coords)} vertices but {n} times in {key!r}; "
            "give exactly one time per vertex",
            f"第 {fi} 个要素有 {len(coords)} 个顶点，但 {key!r} 中有 {n} 个时间；"
            "请为每个顶点提供且仅提供一个时间",
            feature=fi,
        )
    return coords, stamps


def read_csv_pings(
    data: bytes | str, crs: str | None = None, default_tz: str | None = None
) -> pd.DataFrame:
    """Pings from a CSV with columns worker_id, time, lon, lat[, accuracy][, crs].

    Each row's CRS is its ``crs`` cell; ``crs`` (the argument) fills empty cells and
    is required when the file has no crs column.
    """
    try:
        df = pd.read_csv(io.StringIO(_text(data)), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise InvalidInput(f"not a readable CSV file: {e}", f"无法读取 CSV 文件：{e}") from None
    df.columns = [c.strip().lower() for c in df.columns]
    missing = [c for c in ("worker_id", "time", "lon", "lat") if c not in df]
    if "crs" not in df and crs is None:
        missing.append("crs")
    if missing:
        raise InvalidInput(
            f"the CSV lacks the column(s) {', '.join(missing)}; the header must be "
            "worker_id,time,lon,lat,accuracy,crs",
            f"CSV 缺少列：{'、'.join(missing)}；表头应为 worker_id,time,lon,lat,accuracy,crs",
            columns=missing,
        )
    if df.empty:
        raise _empty("rows", "数据行")
    where = [f"line {i + 2}" for i in range(len(df))]  # line 1 is the header
    where_zh = [f"第 {i + 2} 行" for i in range(len(df))]
    crss = df["crs"].str.strip() if "crs" in df else pd.Series([""] * len(df), dtype="str")
    if crs is not None:
        crss = crss.mask(crss == "", crs)
    empty = np.flatnonzero((crss == "").to_numpy())
    if empty.size:
        raise InvalidInput(
            f"no crs at {_listed([where[i] for i in empty])}; fill wgs84, gcj02, bd09 or cgcs2000",
            f"{_listed_zh([where_zh[i] for i in empty])} 缺少坐标系；请填写 wgs84、gcj02、bd09"
            " 或 cgcs2000",
            where=[where[i] for i in empty[:_MAX_LISTED]],
        )
    t = _times(df["time"], where, where_zh, default_tz)
    acc = df["accuracy"].replace("", np.nan) if "accuracy" in df else [np.nan] * len(df)
    return _frame(
        df["worker_id"],
        t,
        df["lon"].str.strip().replace("", np.nan),
        df["lat"].str.strip().replace("", np.nan),
        acc,
        crss,
        where,
        where_zh,
    )


def read_track_file(
    data: bytes | str,
    filename: str,
    worker_id: str | None = None,
    crs: str | None = None,
    default_tz: str | None = None,
) -> pd.DataFrame:
    """Read a track file by its extension: .gpx, .geojson/.json or .csv."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext == "gpx":
        return read_gpx(data, worker_id, crs or "wgs84", default_tz or "UTC")
    if ext in ("geojson", "json"):
        return read_geojson(data, worker_id, crs, default_tz)
    if ext == "csv":
        pings = read_csv_pings(data, crs, default_tz)
        return pings.assign(worker_id=worker_id) if worker_id else pings
    raise InvalidInput(
        f"unknown track file type {filename!r}; upload .gpx, .geojson or .csv",
        f"无法识别的轨迹文件类型 {filename!r}；请上传 .gpx、.geojson 或 .csv 文件",
        filename=filename,
    )
