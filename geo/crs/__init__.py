"""Conversion between the coordinate systems Chinese sources use.

The one door for datum shifts: WGS-84 (GPS), CGCS2000 (official data, EPSG:4490),
GCJ-02 (Amap/Gaode, Tencent: the obfuscated "Mars" system) and BD-09 (Baidu).
Everything is vectorised over numpy arrays and takes/returns lon, lat order.

CGCS2000 and WGS-84 differ by centimetres, far below what grid lookups resolve, so
they are treated as the same geographic system (as the national standard allows for
mapping at this scale).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt
import shapely

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

# A shapely geometry or an array of them: what the geometry functions take and give back.
_Geoms = TypeVar("_Geoms", "BaseGeometry", np.ndarray)

# Krasovsky 1940 ellipsoid, as the GCJ-02 algorithm defines it.
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09 uses pi*3000/180; copies that use plain pi are wrong (eviltransform #43).
_X_PI = np.pi * 3000.0 / 180.0


class CRS(StrEnum):
    """Coordinate systems accepted and returned by the API."""

    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"
    cgcs2000 = "cgcs2000"


class UnknownCRSError(ValueError):
    """Raised for a CRS name we do not know."""


def parse_crs(name: str | CRS) -> CRS:
    """Parse a CRS name (case-insensitive; EPSG:4326/4490 accepted as aliases)."""
    if isinstance(name, CRS):
        return name
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    aliases = {"epsg:4326": CRS.wgs84, "epsg:4490": CRS.cgcs2000, "gps": CRS.wgs84}
    if key in aliases:
        return aliases[key]
    try:
        return CRS(key)
    except ValueError:
        raise UnknownCRSError(
            f"unknown CRS {name!r}; use one of: {', '.join(c.value for c in CRS)}"
        ) from None


def out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """True where GCJ-02 applies no shift (the rough box the algorithm defines)."""
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    s6 = 20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx
    dlat += s6 * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx
    dlon += s6 * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 → GCJ-02 (the published forward algorithm)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    first_guess: tuple[np.ndarray, np.ndarray],
    *,
    tol: float = 1e-10,
    max_iter: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(p) == (x, y) by fixed-point iteration from ``first_guess``.

    Both datum shifts are smooth and small, so each round shrinks the error by
    orders of magnitude; 3–4 rounds reach < 1 mm.
    """
    px, py = first_guess
    for _ in range(max_iter):
        fx, fy = forward(px, py)
        ex, ey = fx - x, fy - y
        px, py = px - ex, py - ey
        if np.all(np.abs(ex) < tol) and np.all(np.abs(ey) < tol):
            break
    return px, py


def gcj02_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → WGS-84, exact to 1e-10 degrees by iterating the forward transform.

    The usual one-step inverse is 0.3–2 m off.
    """
    glon, glat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return _invert(wgs84_to_gcj02, glon, glat, (glon, glat))


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 → BD-09 (Baidu)."""
    x, y = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02, the published one-step inverse (up to ~0.15 m off)."""
    x = np.asarray(lon, dtype=float) - 0.0065
    y = np.asarray(lat, dtype=float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02_exact(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 → GCJ-02, exact to 1e-10 degrees (iterates ``gcj02_to_bd09``)."""
    blon, blat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return _invert(gcj02_to_bd09, blon, blat, bd09_to_gcj02(blon, blat))


def to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str | CRS
) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates given in ``crs`` to WGS-84 (the storage system)."""
    crs = parse_crs(crs)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if crs in (CRS.wgs84, CRS.cgcs2000):
        return lon, lat
    if crs is CRS.gcj02:
        return gcj02_to_wgs84(lon, lat)
    return gcj02_to_wgs84(*bd09_to_gcj02_exact(lon, lat))


def from_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str | CRS
) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 coordinates to ``crs`` (for responses in the caller's system)."""
    crs = parse_crs(crs)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if crs in (CRS.wgs84, CRS.cgcs2000):
        return lon, lat
    if crs is CRS.gcj02:
        return wgs84_to_gcj02(lon, lat)
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_SAME_AS_WGS84 = frozenset({CRS.wgs84, CRS.cgcs2000, "wgs84", "cgcs2000"})


def point_to_wgs84(lon: float, lat: float, crs: str | CRS) -> tuple[float, float]:
    """One point: :func:`to_wgs84` as two floats (no arrays for the common WGS-84 case,
    which the single-point lookup meets on most requests)."""
    if crs in _SAME_AS_WGS84:
        return float(lon), float(lat)
    x, y = to_wgs84(lon, lat, crs)
    return float(x), float(y)


def point_from_wgs84(lon: float, lat: float, crs: str | CRS) -> tuple[float, float]:
    """One point: :func:`from_wgs84` as two floats."""
    if crs in _SAME_AS_WGS84:
        return float(lon), float(lat)
    x, y = from_wgs84(lon, lat, crs)
    return float(x), float(y)


def geometry_to_wgs84(geom: _Geoms, crs: str | CRS) -> _Geoms:
    """A shapely geometry (or array) given in ``crs``, with every vertex in WGS-84."""
    crs = parse_crs(crs)
    if crs in (CRS.wgs84, CRS.cgcs2000):
        return geom
    out: _Geoms = shapely.transform(
        geom, lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], crs))
    )
    return out


def geometry_from_wgs84(geom: _Geoms, crs: str | CRS) -> _Geoms:
    """A WGS-84 shapely geometry (or array) with every vertex converted to ``crs``."""
    crs = parse_crs(crs)
    if crs in (CRS.wgs84, CRS.cgcs2000):
        return geom
    out: _Geoms = shapely.transform(
        geom, lambda xy: np.column_stack(from_wgs84(xy[:, 0], xy[:, 1], crs))
    )
    return out
