"""What edit requests carry, parsed once for the edit API and OGC API writes: a
GeoJSON geometry in a named CRS, If-Match ETags, the reason and author of an edit, and
the dry-run switch."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import Header, Query
from pydantic import BaseModel, Field
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.crs import geometry_to_wgs84
from geo.errors import InvalidInput, VersionRequired

from api.schemas import CRSName
from api.validation import Actor, RequiredReason

DryRun = Annotated[bool, Query(description="Only report the impact; change nothing")]
IfMatch = Annotated[
    str | None,
    Header(description='ETag(s) of the grid(s) edited, e.g. "1234" or "1234", "1240"'),
]


class GeometryIn(BaseModel):
    geometry: dict[str, Any] = Field(description="GeoJSON geometry")
    crs: CRSName = Field(default="wgs84", description="CRS of the geometry's coordinates")


class EditIn(BaseModel):
    reason: RequiredReason = Field(description="Why (kept in history)")
    author: Actor | None = Field(
        default=None, description="On behalf of whom (an audit note; the actor is the caller)"
    )


def geometry_in(doc: dict, crs: str, field: str) -> BaseGeometry:
    """A non-empty, finite shapely geometry in WGS-84 from GeoJSON given in ``crs``."""
    try:
        geom = shape(doc)
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as e:
        raise InvalidInput(
            f"{field} is not a GeoJSON geometry ({e}); send {{'type': ..., 'coordinates': ...}}",
            f"{field} 不是有效的 GeoJSON 几何（{e}）",
            field=field,
        ) from None
    if geom.is_empty or not np.isfinite(shapely.get_coordinates(geom)).all():
        raise InvalidInput(
            f"{field} is empty or has non-finite coordinates", f"{field} 为空或含非法坐标"
        )
    return geometry_to_wgs84(geom, crs)


def etags(header: str | None) -> set[int]:
    """The version ids named by If-Match (``"12", W/"34"``); 428 if there is none."""
    if not header:
        raise VersionRequired(
            "send If-Match with the ETag of each grid you edit (GET /v1/grids/{code}); "
            "without it your save could overwrite a colleague's edit unseen",
            "请在 If-Match 中提供所编辑网格的 ETag（GET /v1/grids/{code}），以免覆盖他人的修改",
        )
    tags = set()
    for part in header.split(","):
        token = part.strip().removeprefix("W/").strip('"')
        if not token.isdigit():
            raise InvalidInput(
                f"If-Match {part.strip()!r} is not an ETag of this service (a quoted number)",
                f"If-Match {part.strip()!r} 不是本服务的 ETag（带引号的数字）",
                field="If-Match",
            )
        tags.add(int(token))
    return tags
