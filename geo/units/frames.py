"""The units as a GeoDataFrame (columns unit_id, version_id, level, code, name,
parent_code, geometry): find a unit, check the versions a caller saw, the map as it
would be after an edit, and the part of it the partition invariant must re-check.

Pure: the frames come from :func:`geo.store.boundaries.units_frame`; nothing here
reads or writes the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import geopandas as gpd
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from geo.crs import metric
from geo.errors import InvalidInput, NotFound, StaleVersion
from geo.topology.fixes import fix_make_valid
from geo.units.edits import EditResult


def live_row(live: gpd.GeoDataFrame, code: str, level: str | None = None) -> pd.Series:
    """The unit with ``code`` (of ``level``, if given); NotFound otherwise."""
    rows = live[live["code"] == code]
    if level:
        rows = rows[rows["level"] == level]
    if rows.empty:
        what = level or "unit"
        raise NotFound(f"no live {what} has code {code}", f"没有编码为 {code} 的现行单元")
    return rows.iloc[0]


def check_if_match(live: gpd.GeoDataFrame, expected: Mapping[str, int | set[int]]) -> None:
    """Every named unit must still be at the version the caller saw (one version id, or
    a set of ids — the ETags of an If-Match list — of which one must be its live one)."""
    stale = {}
    for code, version in expected.items():
        current = int(live_row(live, code)["version_id"])
        allowed = version if isinstance(version, set) else {int(version)}
        if current not in allowed:
            stale[code] = current
    if stale:
        raise StaleVersion(
            "someone else changed "
            + ", ".join(f"{c} (now version {v})" for c, v in stale.items())
            + " since you loaded it; reload, redo your edit and save again",
            "以下单元已被他人修改："
            + "、".join(f"{c}（现为版本 {v}）" for c, v in stale.items())
            + "；请重新加载后再编辑保存",
            current_versions={c: str(v) for c, v in stale.items()},
        )


def children(live: gpd.GeoDataFrame, parent_code: str) -> gpd.GeoDataFrame:
    """The units directly below ``parent_code``."""
    return live[live["parent_code"] == parent_code]


def after_edit(
    live: gpd.GeoDataFrame, result: EditResult, names: Mapping[str, tuple[str, str]]
) -> gpd.GeoDataFrame:
    """The live map as it would be after the edit (``names``: new code → (parent code,
    name) of each unit the edit creates)."""
    after = live.copy()
    for code, geom in result.geometries.items():
        after.loc[after["code"] == code, "geometry"] = geom
    for code, name in result.renamed.items():
        after.loc[after["code"] == code, "name"] = name
    for old, (new_code, new_parent) in result.moved.items():
        idx = after["code"] == old
        after.loc[idx, "code"] = new_code
        after.loc[idx, "parent_code"] = new_parent
        after.loc[after["parent_code"] == old, "parent_code"] = new_code
    after = after[~after["code"].isin(result.retired)]
    if result.created:
        rows = [
            {
                "unit_id": None,
                "version_id": None,
                "level": "grid",
                "code": code,
                "name": names[code][1],
                "parent_unit_id": None,
                "parent_code": names[code][0],
                "geometry": geom,
            }
            for code, geom in result.created.items()
        ]
        after = pd.concat([after, gpd.GeoDataFrame(rows, crs=live.crs)], ignore_index=True)
    return gpd.GeoDataFrame(after, geometry="geometry", crs=live.crs)


def invariant_scope(after: gpd.GeoDataFrame, touched: set[str]) -> gpd.GeoDataFrame:
    """The touched units and their parents, each with everything below it: a parent is
    checked against all of its children or not at all."""
    parents = set(after.loc[after["code"].isin(touched), "parent_code"].dropna())
    scope = touched | parents
    frontier = scope
    while frontier:
        frontier = set(after.loc[after["parent_code"].isin(frontier), "code"]) - scope
        scope |= frontier
    return after[after["code"].isin(scope)]


def checksum_units(units: gpd.GeoDataFrame) -> str:
    """A content hash of normalised units, independent of file format and order."""
    h = hashlib.sha256()
    for rec in units.sort_values(["level", "code"]).itertuples():
        h.update(f"{rec.level}|{rec.code}|{rec.name}|{rec.parent_code or ''}|".encode())
        h.update(shapely.to_wkb(shapely.normalize(rec.geometry)))
    return h.hexdigest()


def community_at(live: gpd.GeoDataFrame, geom: BaseGeometry) -> str:
    """The community holding most of ``geom`` (for a new grid that names none)."""
    communities = live[live["level"] == "community"]
    # The drawn shape may be invalid: find its community on a repaired copy and let
    # the edit itself refuse it with the findings.
    pieces = communities.geometry.intersection(fix_make_valid(geom)).to_numpy()
    # Areas in the local Gauss-Krüger zone: degrees² would favour the northern side.
    areas = pd.Series(shapely.area(metric.to_metric(pieces, metric.metric_epsg_for(pieces))))
    if not len(areas) or float(areas.max()) <= 0:
        raise InvalidInput(
            "the new grid lies in no community of the district; draw it inside one",
            "新网格不在本区任何社区内；请在社区范围内绘制",
        )
    return str(communities["code"].iloc[int(areas.to_numpy().argmax())])
