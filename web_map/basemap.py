"""Basemap choice for the web maps: none, a local tile folder, Tianditu or Amap.

``none`` (the default) draws the grid layers alone: nothing may load from the
internet on a government intranet. ``local`` takes an XYZ URL of an intranet tile
server, or a folder of ``{z}/{x}/{y}.png`` tiles on this machine that the app serves
itself at :data:`LOCAL_TILES_ROUTE`, or an MBTiles file (raster: PNG, JPEG or WebP)
served the same way. ``tianditu`` (天地图, CGCS2000 ≈ WGS-84; the
``_w`` web-Mercator layers, vector map plus annotation) needs a key. ``amap`` (高德)
tiles are drawn in GCJ-02, so every overlay must be shifted to GCJ-02 before it is
drawn or it sits ~0.5 km off in Henan: :attr:`Basemap.shift` says so and
:func:`shift_frame` does it (:mod:`geo.crs` is the one door for the datum shift).
For Tianditu and Amap, ``basemap_url`` may name an intranet mirror instead of the
public servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely

from geo.crs import wgs84_to_gcj02

BasemapKind = Literal["none", "local", "tianditu", "amap"]
BASEMAPS: tuple[str, ...] = ("none", "local", "tianditu", "amap")
LOCAL_TILES_ROUTE = "/basemap/{z}/{x}/{y}.png"
"""Where the app serves a local tile folder (see ``api/routers/dashboard.py``)."""

_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
_AMAP = (
    "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
    "&x={x}&y={y}&z={z}"
)


@dataclass(frozen=True)
class TileSpec:
    url: str
    attribution: str
    subdomains: str = "abc"
    name: str = ""


@dataclass(frozen=True)
class Basemap:
    """The tile layers to draw and the datum overlays must be shifted to (or None)."""

    kind: str
    layers: tuple[TileSpec, ...] = ()
    shift: Literal["gcj02"] | None = None
    folder: Path | None = None


def is_tile_folder(url: str | None) -> bool:
    """True when ``url`` names a local folder rather than an XYZ template (with ``{z}``)."""
    return bool(url) and "{z}" not in str(url)


def resolve_basemap(
    kind: str = "none",
    url: str | None = None,
    tianditu_key: str | None = None,
    tiles_url: str | None = None,
) -> Basemap:
    """The basemap for the settings ``basemap``, ``basemap_url``, ``tianditu_key``.

    ``tiles_url`` (the older setting) is used as the ``local`` URL when
    ``basemap_url`` is not set.

    Raises
    ------
    ValueError
        For an unknown kind, ``local`` without a URL or folder, ``tianditu``
        without a key (and no mirror URL), or a tile folder that does not exist.
    """
    if kind not in BASEMAPS:
        raise ValueError(f"unknown basemap {kind!r}; use one of {BASEMAPS}")
    if kind == "none":
        return Basemap("none")
    if kind == "local":
        url = url or tiles_url
        if not url:
            raise ValueError("basemap=local needs basemap_url (an XYZ URL or a tile folder)")
        if is_tile_folder(url):
            folder = Path(url)
            if folder.suffix.lower() == ".mbtiles" and not folder.is_file():
                raise ValueError(f"basemap MBTiles file {folder} does not exist")
            if folder.suffix.lower() != ".mbtiles" and not folder.is_dir():
                raise ValueError(f"basemap tile folder {folder} does not exist")
            return Basemap(
                "local", (TileSpec(LOCAL_TILES_ROUTE, "本地底图 Local tiles", ""),), folder=folder
            )
        return Basemap("local", (TileSpec(url, "内网底图 Intranet tiles"),))
    if kind == "tianditu":
        if url:
            return Basemap("tianditu", (TileSpec(url, "天地图 Tianditu", "01234567"),))
        if not tianditu_key:
            raise ValueError("basemap=tianditu needs tianditu_key (or basemap_url of a mirror)")
        return Basemap(
            "tianditu",
            tuple(
                TileSpec(
                    _TIANDITU.format(s="{s}", layer=layer, key=tianditu_key),
                    "天地图 Tianditu",
                    "01234567",
                    layer,
                )
                for layer in ("vec", "cva")
            ),
        )
    return Basemap("amap", (TileSpec(url or _AMAP, "高德地图 Amap", "1234"),), shift="gcj02")


def shift_geometries(geoms, shift: str | None):
    """Geometries moved to the basemap's datum (unchanged when ``shift`` is None)."""
    if shift is None:
        return geoms
    if shift != "gcj02":
        raise ValueError(f"unknown shift {shift!r}")

    def to_gcj(xy: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), to_gcj)


def shift_frame(frame: gpd.GeoDataFrame | None, shift: str | None):
    """A copy of a WGS-84 frame with its geometries shifted (see :func:`shift_geometries`)."""
    if frame is None or shift is None or frame.empty:
        return frame
    return frame.set_geometry(
        list(shift_geometries(frame.geometry.to_numpy(), shift)), crs=frame.crs
    )


def tile_origins(basemap: Basemap) -> list[str]:
    """``scheme://host`` of every tile server the basemap loads from (for a CSP).

    Empty for ``none`` and for tiles served by the app itself.
    """
    out = []
    for spec in basemap.layers:
        if "://" in spec.url:
            scheme, rest = spec.url.split("://", 1)
            host = rest.split("/", 1)[0]
            for sub in spec.subdomains or "":
                candidate = f"{scheme}://{host.replace('{s}', sub)}"
                if candidate not in out:
                    out.append(candidate)
            if "{s}" not in host and f"{scheme}://{host}" not in out:
                out.append(f"{scheme}://{host}")
    return out
