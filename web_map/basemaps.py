"""The basemap under every map page (``/``, ``/planner``, ``/dashboard``): a registry of
providers, the tile layers they draw, and the datum shift their overlays need.

Providers, by the names of the ``basemap`` setting:

- ``none`` (the default) draws the grid layers alone: nothing may load from the
  internet on a government intranet;
- ``local`` takes an XYZ URL of an intranet tile server, or a folder of
  ``{z}/{x}/{y}.png`` tiles on this machine that the app serves itself at
  :data:`LOCAL_TILES_ROUTE`, or an MBTiles file (raster: PNG, JPEG or WebP) served the
  same way (:func:`read_local_tile`);
- ``tianditu`` (天地图, CGCS2000 ≈ WGS-84; the ``_w`` web-Mercator layers, vector map
  plus annotation) needs a key;
- ``amap`` (高德) tiles are drawn in GCJ-02, so every overlay must be shifted to GCJ-02
  before it is drawn or it sits ~0.5 km off in Henan: :attr:`Basemap.shift` says so and
  :func:`shift_frame` / :func:`shift_geojson` do it (:mod:`geo.crs` is the one door for
  the datum shift).

For Tianditu and Amap, ``basemap_url`` may name an intranet mirror instead of the
public servers. The older ``tiles_url`` setting is the ``local`` URL when
``basemap_url`` is not set, and stands for ``basemap=local`` when ``basemap`` is
``none`` (:func:`settings_basemap`), so it reaches every page alike.

A new provider is one :func:`register` call: a function from :class:`BasemapConfig`
to :class:`Basemap` (raise ``ValueError`` for a configuration it cannot draw). Every
page builder takes the resulting :class:`Basemap`, draws it with
:func:`add_tile_layers` and shifts its overlays by ``basemap.shift``.
"""

from __future__ import annotations

import contextlib
import html
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import shapely

from geo.crs import wgs84_to_gcj02
from geo.settings import Settings

from web_map.i18n import t

log = logging.getLogger(__name__)

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
    shift: str | None = None
    folder: Path | None = None


@dataclass(frozen=True)
class BasemapConfig:
    """What the settings say about the basemap, as a provider reads it."""

    url: str | None = None  # basemap_url
    key: str | None = None  # tianditu_key
    tiles_url: str | None = None  # the older tiles_url setting


Provider = Callable[[BasemapConfig], Basemap]

_PROVIDERS: dict[str, Provider] = {}

# Datum shifts from WGS-84, by the name a Basemap gives in ``shift``.
_SHIFTS: dict[str, Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = {
    "gcj02": wgs84_to_gcj02,
}


def register(kind: str) -> Callable[[Provider], Provider]:
    """Register the provider for ``basemap=<kind>`` (a decorator); a second provider
    under the same name replaces the first."""

    def add(provider: Provider) -> Provider:
        _PROVIDERS[kind] = provider
        return provider

    return add


def providers() -> tuple[str, ...]:
    """The registered basemap names, in registration order."""
    return tuple(_PROVIDERS)


def is_tile_folder(url: str | None) -> bool:
    """True when ``url`` names a local folder rather than an XYZ template (with ``{z}``)."""
    return bool(url) and "{z}" not in str(url)


@register("none")
def _none(config: BasemapConfig) -> Basemap:
    return Basemap("none")


@register("local")
def _local(config: BasemapConfig) -> Basemap:
    url = config.url or config.tiles_url
    if not url:
        raise ValueError("basemap=local needs basemap_url (an XYZ URL or a tile folder)")
    if not is_tile_folder(url):
        return Basemap("local", (TileSpec(url, "内网底图 Intranet tiles"),))
    folder = Path(url)
    if folder.suffix.lower() == ".mbtiles" and not folder.is_file():
        raise ValueError(f"basemap MBTiles file {folder} does not exist")
    if folder.suffix.lower() != ".mbtiles" and not folder.is_dir():
        raise ValueError(f"basemap tile folder {folder} does not exist")
    return Basemap(
        "local", (TileSpec(LOCAL_TILES_ROUTE, "本地底图 Local tiles", ""),), folder=folder
    )


@register("tianditu")
def _tianditu(config: BasemapConfig) -> Basemap:
    if config.url:
        return Basemap("tianditu", (TileSpec(config.url, "天地图 Tianditu", "01234567"),))
    if not config.key:
        raise ValueError("basemap=tianditu needs tianditu_key (or basemap_url of a mirror)")
    layers = tuple(
        TileSpec(
            _TIANDITU.format(s="{s}", layer=layer, key=config.key),
            "天地图 Tianditu",
            "01234567",
            layer,
        )
        for layer in ("vec", "cva")
    )
    return Basemap("tianditu", layers)


@register("amap")
def _amap(config: BasemapConfig) -> Basemap:
    return Basemap("amap", (TileSpec(config.url or _AMAP, "高德地图 Amap", "1234"),), shift="gcj02")


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
    provider = _PROVIDERS.get(kind)
    if provider is None:
        raise ValueError(f"unknown basemap {kind!r}; use one of {providers()}")
    return provider(BasemapConfig(url, tianditu_key, tiles_url))


def settings_basemap(settings: Settings) -> Basemap:
    """The basemap of every page, from ``basemap``, ``basemap_url``, ``tianditu_key``
    and the older ``tiles_url`` (``basemap=local`` with that URL when ``basemap`` is
    ``none``).

    A misconfigured basemap (no key, missing folder) is logged and left out: the
    grid layers alone still make a working page.
    """
    kind = settings.basemap
    if kind == "none" and settings.tiles_url:
        kind = "local"
    try:
        return resolve_basemap(
            kind, settings.basemap_url, settings.tianditu_key, settings.tiles_url
        )
    except ValueError as exc:
        log.error("basemap setting ignored: %s", exc)
        return resolve_basemap("none")


def add_tile_layers(m: folium.Map, basemap: Basemap | None, lang: str) -> None:
    """Draw the basemap's tile layers under ``m``'s overlays (nothing for None/none):
    the first is the base layer named in the layer control, the others (Tianditu's
    annotation) ride on it."""
    for i, spec in enumerate(basemap.layers if basemap else ()):
        folium.TileLayer(
            tiles=spec.url,
            attr=html.escape(spec.attribution),
            name=t("tiles.name", lang) if i == 0 else spec.name,
            subdomains=spec.subdomains or "abc",
            overlay=i > 0,
            control=i == 0,
            max_zoom=18,
        ).add_to(m)


def shift_geometries(geoms: Any, shift: str | None) -> Any:
    """Geometries moved to the basemap's datum (unchanged when ``shift`` is None)."""
    if shift is None:
        return geoms
    if shift not in _SHIFTS:
        raise ValueError(f"unknown shift {shift!r}")
    forward = _SHIFTS[shift]

    def moved(xy: np.ndarray) -> np.ndarray:
        lon, lat = forward(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), moved)


def shift_frame(frame: gpd.GeoDataFrame | None, shift: str | None) -> gpd.GeoDataFrame | None:
    """A copy of a WGS-84 frame with its geometries shifted (see :func:`shift_geometries`)."""
    if frame is None or shift is None or frame.empty:
        return frame
    return frame.set_geometry(
        list(shift_geometries(frame.geometry.to_numpy(), shift)), crs=frame.crs
    )


def shift_geojson(doc: dict[str, Any], shift: str | None) -> dict[str, Any]:
    """A WGS-84 GeoJSON FeatureCollection with its geometries shifted (same document
    when ``shift`` is None)."""
    if shift is None:
        return doc
    features = []
    for feature in doc["features"]:
        geometry = feature.get("geometry")
        if geometry:
            (moved,) = shift_geometries([shapely.geometry.shape(geometry)], shift)
            geometry = shapely.geometry.mapping(moved)
        features.append({**feature, "geometry": geometry})
    return {**doc, "features": features}


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


_TILE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
}


def _sniff(data: bytes) -> str:
    if data[:4] == b"\x89PNG":
        return "image/png"
    if data[:2] == b"\xff\xd8":
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _mbtiles_tile(path: Path, z: int, x: int, y: int) -> bytes | None:
    # MBTiles rows are TMS: y counts from the south.
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
    return bytes(row[0]) if row else None


def read_local_tile(source: Path | None, z: int, x: int, y: int) -> tuple[bytes | Path, str] | None:
    """Tile ``z/x/y`` of a local basemap as ``(bytes or file path, media type)``.

    ``source`` is the :attr:`Basemap.folder`: an MBTiles file, or a folder holding
    ``{z}/{x}/{y}.png`` (or .jpg/.webp). None when there is no such tile (or no local
    basemap). Only integers reach the file system, so no path can leave the folder.
    """
    if source is None:
        return None
    if source.suffix.lower() == ".mbtiles":
        data = _mbtiles_tile(source, z, x, y)
        return (data, _sniff(data)) if data is not None else None
    for suffix, media in _TILE_TYPES.items():
        path = source / str(z) / str(x) / f"{y}{suffix}"
        if path.is_file():
            return path, media
    return None
