"""OGC API – Features (Part 1 core, Part 2 CRS) without HTTP: collections, parameter
parsing, axis order and paging links.

Pure functions: the router (``api/routers/ogc.py``) passes query strings in and gets
plain values and dicts back; the SQL lives in ``geo/store/ogc.py``.

Axis order (Part 2): ``CRS84`` is longitude, latitude — what we store and what GeoJSON
assumes. ``EPSG:4326`` and ``EPSG:4490`` (CGCS2000) are defined latitude first, so
coordinates in those CRSs, and a ``bbox`` given with such a ``bbox-crs``, are lat/lon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlencode

from geo.errors import InvalidInput

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
TRS_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

GEOJSON = "application/geo+json"
JSON = "application/json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 2**53  # far past any collection; keeps the value a valid SQL bigint

# Part 4 (create/replace/delete) classes are added by the write side when it lands.
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    # Part 4 writes on grids and special-grids (api/routers/ogc_write.py).
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
    "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
]


@dataclass(frozen=True)
class OutputCrs:
    """A CRS we can answer in: its URI, PostGIS SRID and whether latitude comes first."""

    uri: str
    srid: int
    lat_first: bool


SUPPORTED_CRS = {
    CRS84: OutputCrs(CRS84, 4326, lat_first=False),
    EPSG_4326: OutputCrs(EPSG_4326, 4326, lat_first=True),
    EPSG_4490: OutputCrs(EPSG_4490, 4490, lat_first=True),
}
# Short spellings people type; the canonical URI is what goes back in Content-Crs.
_CRS_ALIASES = {
    "crs84": CRS84,
    "ogc:crs84": CRS84,
    "[ogc:crs84]": CRS84,
    "epsg:4326": EPSG_4326,
    "[epsg:4326]": EPSG_4326,
    "epsg:4490": EPSG_4490,
    "[epsg:4490]": EPSG_4490,
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": CRS84,
    "http://www.opengis.net/def/crs/epsg/0/4326": EPSG_4326,
    "http://www.opengis.net/def/crs/epsg/0/4490": EPSG_4490,
}


@dataclass(frozen=True)
class Collection:
    """One feature collection: an admin level of the live map or the special grids."""

    id: str
    level: str  # admin_unit_version.level, or "special_grid"
    title: str
    title_zh: str
    writable: bool  # grids and special grids accept Part 4 writes (edit API rules)

    @property
    def is_special(self) -> bool:
        return self.level == "special_grid"


COLLECTIONS = {
    c.id: c
    for c in (
        Collection("districts", "district", "Districts", "区/县", writable=False),
        Collection("streets", "street", "Streets and townships", "街道/镇", writable=False),
        Collection("communities", "community", "Communities and villages", "社区/村", False),
        Collection("grids", "grid", "Comprehensive grids", "综合网格", writable=True),
        Collection("special-grids", "special_grid", "Special grids", "专属网格", writable=True),
    )
}

READ_METHODS = ("GET", "HEAD", "OPTIONS")


def allowed_methods(collection: Collection, *, item: bool) -> list[str]:
    """The methods QGIS looks for in ``Allow`` before it offers editing of a layer."""
    if not collection.writable:
        return list(READ_METHODS)
    return [*READ_METHODS, *(("PUT", "PATCH", "DELETE") if item else ("POST",))]


def collection_by_id(collection_id: str) -> Collection:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise InvalidCollection(collection_id) from None


class InvalidCollection(LookupError):
    """An unknown collection id (the router turns it into a 404)."""

    def __init__(self, collection_id: str):
        super().__init__(collection_id)
        self.collection_id = collection_id
        self.message = (
            f"no collection {collection_id!r}; the collections are: {', '.join(COLLECTIONS)}"
        )
        self.message_zh = (
            f"没有名为 {collection_id!r} 的要素集；可用的要素集：{'、'.join(COLLECTIONS)}"
        )


def parse_crs(value: str | None, *, param: str = "crs") -> OutputCrs:
    """The CRS named by a ``crs`` or ``bbox-crs`` value (default CRS84)."""
    if value is None or value == "":
        return SUPPORTED_CRS[CRS84]
    uri = _CRS_ALIASES.get(value.strip().lower(), value.strip())
    if uri not in SUPPORTED_CRS:
        raise InvalidInput(
            f"{param}={value!r} is not supported; use one of: {', '.join(SUPPORTED_CRS)}",
            f"不支持的坐标系 {param}={value!r}；可用：{', '.join(SUPPORTED_CRS)}",
            parameter=param,
        )
    return SUPPORTED_CRS[uri]


def parse_bbox(value: str | None, crs: OutputCrs) -> tuple[float, float, float, float] | None:
    """``bbox`` (4 or 6 numbers, in ``crs`` axis order) as lon/lat min/max, or None.

    With a latitude-first ``bbox-crs`` (EPSG:4326, EPSG:4490) the numbers are
    ``minLat,minLon,maxLat,maxLon``; they come back in lon/lat order. A 6-number box
    carries heights, which a 2-D map ignores.
    """
    if value is None or value.strip() == "":
        return None
    try:
        nums = [float(p) for p in value.split(",")]
    except ValueError:
        nums = []
    if len(nums) not in (4, 6) or not all(math.isfinite(n) for n in nums):
        raise InvalidInput(
            f"bbox={value!r} must be 4 (or 6) comma-separated numbers: minx,miny,maxx,maxy",
            f"bbox={value!r} 应为 4（或 6）个逗号分隔的数字：最小x,最小y,最大x,最大y",
            parameter="bbox",
        )
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    a1, a2, b1, b2 = nums
    min_lon, min_lat, max_lon, max_lat = (a2, a1, b2, b1) if crs.lat_first else (a1, a2, b1, b2)
    if not (-90 <= min_lat <= max_lat <= 90 and -180 <= min_lon <= max_lon <= 180):
        raise InvalidInput(
            f"bbox={value!r} is not a box in degrees (min ≤ max, longitude within ±180, "
            f"latitude within ±90, axis order of {crs.uri})",
            f"bbox={value!r} 不是有效的经纬度范围（最小值 ≤ 最大值，经度 ±180、纬度 ±90 以内，"
            f"轴顺序按 {crs.uri}）",
            parameter="bbox",
        )
    return (min_lon, min_lat, max_lon, max_lat)


def parse_paging(limit: int | None, offset: int | None) -> tuple[int, int]:
    """(limit, offset): limit defaults to 100; above 10,000 it is lowered, not refused."""
    limit = DEFAULT_LIMIT if limit is None else limit
    offset = 0 if offset is None else offset
    if limit < 1:
        raise InvalidInput(
            f"limit={limit} must be at least 1", f"limit={limit} 至少为 1", parameter="limit"
        )
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(
            f"offset={offset} must be between 0 and {MAX_OFFSET}",
            f"offset={offset} 应在 0 到 {MAX_OFFSET} 之间",
            parameter="offset",
        )
    return min(limit, MAX_LIMIT), offset


def url_with(base: str, params: dict[str, str | int | None]) -> str:
    """``base`` with the non-empty ``params`` as its query string."""
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{base}?{query}" if query else base


def items_links(
    items_url: str,
    params: dict[str, str | int | None],
    *,
    limit: int,
    offset: int,
    returned: int,
    matched: int,
) -> list[dict]:
    """self / next / prev links of one page; the other query parameters are kept."""
    page = {**params, "limit": limit}
    links = [
        {
            "href": url_with(items_url, {**page, "offset": offset or None}),
            "rel": "self",
            "type": GEOJSON,
            "title": "this page",
        }
    ]
    if offset + returned < matched:
        links.append(
            {
                "href": url_with(items_url, {**page, "offset": offset + returned}),
                "rel": "next",
                "type": GEOJSON,
                "title": "next page",
            }
        )
    if offset > 0:
        links.append(
            {
                "href": url_with(items_url, {**page, "offset": max(0, offset - limit) or None}),
                "rel": "prev",
                "type": GEOJSON,
                "title": "previous page",
            }
        )
    return links


def collection_document(
    collection: Collection,
    base: str,
    *,
    extent: tuple[float, float, float, float] | None,
    first_valid_from: str | None,
) -> dict:
    """The ``/collections/{id}`` body: links, extent (CRS84), CRSs offered (Part 2)."""
    url = f"{base}/collections/{collection.id}"
    doc: dict = {
        "id": collection.id,
        "title": f"{collection.title_zh} {collection.title}",
        "description": (
            f"Live {collection.title.lower()} of the grid map (one feature per code, "
            "its current version); feature id = code, ETag = version id."
        ),
        "itemType": "feature",
        "links": [
            {"href": url, "rel": "self", "type": JSON, "title": "this collection"},
            {"href": f"{url}/items", "rel": "items", "type": GEOJSON, "title": "features"},
        ],
        "crs": list(SUPPORTED_CRS),
        "storageCrs": CRS84,
    }
    if extent is not None:
        doc["extent"] = {
            "spatial": {"bbox": [list(extent)], "crs": CRS84},
            "temporal": {"interval": [[first_valid_from, None]], "trs": TRS_GREGORIAN},
        }
    return doc


def landing_document(base: str, *, openapi_url: str, docs_url: str) -> dict:
    return {
        "title": "网格地图服务 OGC API – Features",
        "description": (
            "Districts, streets, communities, grids and special grids of the live grid map "
            "(OGC API – Features Part 1 and Part 2). 现行四级网格及专属网格。"
        ),
        "links": [
            {"href": base, "rel": "self", "type": JSON, "title": "this document"},
            {"href": openapi_url, "rel": "service-desc", "type": OPENAPI, "title": "OpenAPI"},
            {"href": docs_url, "rel": "service-doc", "type": "text/html", "title": "API docs"},
            {
                "href": f"{base}/conformance",
                "rel": "conformance",
                "type": JSON,
                "title": "conformance classes",
            },
            {
                "href": f"{base}/collections",
                "rel": "data",
                "type": JSON,
                "title": "collections",
            },
        ],
    }
