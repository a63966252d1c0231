"""The vendored front-end assets and the one switch that makes folium use them.

Pages must load nothing from the internet (government intranets), but folium
links Leaflet, jQuery, Bootstrap, Font Awesome and Leaflet.awesome-markers from
CDNs. Those links live in ``folium.Map.default_js`` / ``default_css``: class-level
lists shared by every map in the process (``add_js_link`` mutates them in place),
read when a map is rendered. So the override is made once, globally, by
:func:`use_local_assets`, which repoints Leaflet to ``web_map/static/vendor/`` and
drops the rest.

Why dropping the rest is safe for our maps (checked against folium 0.20 and
branca 0.8 templates): ``GeoJson`` (embedded data), ``GeoJsonTooltip``,
``FeatureGroup``, ``LayerControl``, ``CustomPane``, ``TileLayer`` and
``fit_bounds`` render plain Leaflet calls and declare no assets of their own.
jQuery is only used by ``Popup`` with HTML content, ``GeoJson(embed=False)`` and
``Map.keep_in_front``; Bootstrap, glyphicons, Font Awesome and awesome-markers
only by ``folium.Icon`` markers. A page that needs one of those must vendor it
first. Elements that pull their own CDN scripts (``Vega``, ``TopoJson``,
``RegularPolygonMarker``, most plugins, and branca's colormap legend, which adds
d3 in ``render``) are not usable offline; draw legends in plain HTML instead.
:func:`find_external_urls` lets a test prove a rendered page is clean.

The Swagger UI files for FastAPI's ``/docs`` page are vendored here too:
:func:`swagger_ui_urls` gives the keyword arguments for
``fastapi.openapi.docs.get_swagger_ui_html``.
"""

from __future__ import annotations

import base64
import re
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import folium

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"
"""Directory to mount at ``static_url`` (``/static`` by default)."""

LEAFLET_VERSION = "1.9.4"
SWAGGER_UI_VERSION = "5.35.0"
MARKERCLUSTER_VERSION = "1.5.3"

# Paths relative to STATIC_DIR. The names are folium's own keys, so a later
# ``add_js_link("leaflet", ...)`` elsewhere replaces rather than duplicates.
_LEAFLET_JS = ("leaflet", "vendor/leaflet/leaflet.js")
_LEAFLET_CSS = ("leaflet_css", "vendor/leaflet/leaflet.css")
_SWAGGER_JS = "vendor/swagger-ui/swagger-ui-bundle.js"
_SWAGGER_CSS = "vendor/swagger-ui/swagger-ui.css"
_SWAGGER_FAVICON = "vendor/swagger-ui/favicon-32x32.png"
_MARKERCLUSTER_JS = ("markercluster", "vendor/leaflet.markercluster/leaflet.markercluster.js")
_MARKERCLUSTER_CSS = ("markercluster_css", "vendor/leaflet.markercluster/MarkerCluster.css")

VENDORED_FILES: tuple[str, ...] = (
    _LEAFLET_JS[1],
    _LEAFLET_CSS[1],
    _SWAGGER_JS,
    _SWAGGER_CSS,
    _SWAGGER_FAVICON,
    _MARKERCLUSTER_JS[1],
    _MARKERCLUSTER_CSS[1],
)
"""Every vendored file a page links to directly, relative to :data:`STATIC_DIR`."""

OFFLINE_SWAGGER_UI_PARAMETERS: dict[str, object] = {"validatorUrl": None}
"""Extra ``swagger_ui_parameters``: Swagger UI's default ``validatorUrl`` points at
validator.swagger.io; FastAPI's ``BaseLayout`` does not show the badge today, but
``None`` keeps it off if the layout ever changes."""

_lock = threading.Lock()
_applied_static_url: str | None = None


class _FixedLinks(list):
    """folium's asset list for ``Map``, closed to in-place changes.

    ``Map.add_js_link``/``add_css_link`` edit the class-level list, so one call
    anywhere would add a link to every map in the process; after
    :func:`use_local_assets` that is an error instead of a silent CDN request.
    """

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError(
            "folium.Map asset links are fixed by web_map.assets.use_local_assets; "
            "vendor the file under web_map/static/vendor and link it from there"
        )

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse  # type: ignore[assignment]
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse


def _url(static_url: str, relative: str) -> str:
    return f"{static_url}/{relative}"


def _normalise(static_url: str) -> str:
    static_url = static_url.rstrip("/")
    if not static_url:
        raise ValueError("static_url must not be empty; use e.g. '/static'")
    return static_url


def use_local_assets(static_url: str = "/static") -> None:
    """Point folium at the vendored Leaflet and drop its other CDN assets.

    Changes ``folium.Map.default_js`` / ``default_css`` for every map in the
    process, including maps built before the call but rendered after it, and
    makes later ``Map.add_js_link``/``add_css_link`` calls raise ``TypeError``
    (they would change every map). Calling it again with the same
    ``static_url`` does nothing.

    Parameters
    ----------
    static_url
        URL prefix under which :data:`STATIC_DIR` is served, e.g. ``/static``.
        A trailing slash is ignored.

    Raises
    ------
    ValueError
        If it was already called with a different ``static_url``: the lists are
        global, so a second prefix would silently repoint pages built for the
        first one.
    """
    global _applied_static_url
    static_url = _normalise(static_url)
    with _lock:
        if _applied_static_url == static_url:
            return
        if _applied_static_url is not None:
            raise ValueError(
                f"folium assets already point to {_applied_static_url!r}; "
                f"cannot switch to {static_url!r} (the setting is process-wide)"
            )
        # New lists rather than edits in place, so folium's module-level
        # ``_default_js``/``_default_css`` keep the upstream values.
        folium.Map.default_js = _FixedLinks([(_LEAFLET_JS[0], _url(static_url, _LEAFLET_JS[1]))])
        folium.Map.default_css = _FixedLinks([(_LEAFLET_CSS[0], _url(static_url, _LEAFLET_CSS[1]))])
        _applied_static_url = static_url


def markercluster_links(static_url: str = "/static") -> tuple[list, list]:
    """``(default_js, default_css)`` of the vendored Leaflet.markercluster, for an
    element that needs it (set on the instance, so no class-level list changes)."""
    static_url = _normalise(static_url)
    return (
        [(_MARKERCLUSTER_JS[0], _url(static_url, _MARKERCLUSTER_JS[1]))],
        [(_MARKERCLUSTER_CSS[0], _url(static_url, _MARKERCLUSTER_CSS[1]))],
    )


def swagger_ui_urls(static_url: str = "/static") -> dict[str, str]:
    """Vendored Swagger UI URLs as keyword arguments for ``get_swagger_ui_html``.

    Usage: ``get_swagger_ui_html(openapi_url=..., title=...,
    swagger_ui_parameters=OFFLINE_SWAGGER_UI_PARAMETERS, **swagger_ui_urls())``.

    Parameters
    ----------
    static_url
        URL prefix under which :data:`STATIC_DIR` is served.

    Returns
    -------
    dict
        ``swagger_js_url``, ``swagger_css_url`` and ``swagger_favicon_url``.
    """
    static_url = _normalise(static_url)
    return {
        "swagger_js_url": _url(static_url, _SWAGGER_JS),
        "swagger_css_url": _url(static_url, _SWAGGER_CSS),
        "swagger_favicon_url": _url(static_url, _SWAGGER_FAVICON),
    }


class _UrlCollector(HTMLParser):
    """Collects the ``src`` and ``href`` attribute values of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls.extend(value for name, value in attrs if name in ("src", "href") and value)


def asset_urls(html: str) -> list[str]:
    """Return every ``src`` and ``href`` attribute value in ``html``, in order.

    Only markup is parsed: URLs built by scripts at run time are not seen, which
    is why the browser test also records real requests.
    """
    collector = _UrlCollector()
    collector.feed(html)
    collector.close()
    return collector.urls


def find_external_urls(html: str) -> list[str]:
    """Return the ``src``/``href`` values in ``html`` that name another host.

    Anything with a scheme other than ``data:`` or a network location
    (``//cdn.example/x.js``) counts as external; root-relative and relative
    URLs do not.
    """
    external = []
    for url in asset_urls(html):
        parts = urlsplit(url)
        if parts.netloc or (parts.scheme and parts.scheme != "data"):
            external.append(url)
    return external


_SCRIPT_SRC = re.compile(r'<script\b[^>]*\bsrc="([^"]+)"[^>]*>\s*</script>', re.I)
_CSS_LINK = re.compile(r'<link\b[^>]*\bhref="([^"]+\.css)"[^>]*/?>', re.I)
_CSS_URL = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")
_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".gif": "image/gif", ".woff2": "font/woff2"}


def _static_file(url: str, static_url: str) -> Path:
    if not url.startswith(static_url + "/"):
        raise ValueError(f"{url} is not under {static_url}; cannot inline it")
    path = (STATIC_DIR / url[len(static_url) + 1 :]).resolve()
    if STATIC_DIR not in path.parents:
        raise ValueError(f"{url} leaves the static folder")
    return path


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _inline_css(path: Path) -> str:
    def repl(m: re.Match) -> str:
        target = m.group(2)
        # "%23…" is a fragment inside an inline SVG data URI (leaflet-geoman icons).
        if target.startswith(("data:", "#", "%23")) or "://" in target:
            return m.group(0)
        return f"url({_data_uri((path.parent / target).resolve())})"

    return _CSS_URL.sub(repl, path.read_text(encoding="utf-8"))


def inline_assets(html: str, static_url: str = "/static") -> str:
    """The page with every ``static_url`` script and stylesheet written inline.

    For a single self-contained file (``gridmap map … --out``): scripts go into
    ``<script>`` elements, stylesheets into ``<style>`` with the images they use as
    ``data:`` URIs, so the file opens from ``file://`` without a request.

    Raises
    ------
    ValueError
        If the page links a script or stylesheet outside ``static_url``.
    """
    static_url = _normalise(static_url)

    def script(m: re.Match) -> str:
        code = _static_file(m.group(1), static_url).read_text(encoding="utf-8")
        # A literal "</script" would end the element early.
        return "<script>" + code.replace("</script", "<\\/script") + "</script>"

    def style(m: re.Match) -> str:
        css = _inline_css(_static_file(m.group(1), static_url))
        return "<style>" + css.replace("</style", "<\\/style") + "</style>"

    return _CSS_LINK.sub(style, _SCRIPT_SRC.sub(script, html))
