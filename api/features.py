"""Units and special grids as the edit and history endpoints answer them: one GeoJSON
Feature in the CRS asked for, with JSON-ready properties."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from geo.crs import geometry_from_wgs84


class FeatureOut(BaseModel):
    """A GeoJSON Feature (the properties depend on what it is)."""

    type: Literal["Feature"]
    id: str
    properties: dict[str, Any]
    geometry: dict[str, Any]


def jsonable(v: Any) -> Any:
    """Datetimes as ISO text, numpy scalars as Python numbers, keys as text (deeply)."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return v


def geometry_out(geom: BaseGeometry, crs: str) -> dict[str, Any]:
    """GeoJSON geometry of a WGS-84 shape, in ``crs``."""
    return dict(mapping(geometry_from_wgs84(geom, crs)))


def unit_feature(data: dict[str, Any], geom: BaseGeometry, crs: str) -> dict[str, Any]:
    """A unit version (a history row) as a Feature; its attrs are left out."""
    props = {k: v for k, v in data.items() if k not in ("attrs",)}
    props["crs"] = crs
    return {
        "type": "Feature",
        "id": data["code"],
        "properties": jsonable(props),
        "geometry": geometry_out(geom, crs),
    }
