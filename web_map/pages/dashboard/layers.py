"""The dashboard's map layers: one embedded data block, many light Leaflet layers.

folium's ``GeoJson`` embeds its data once per layer; the dashboard draws the same
grids five ways (outline, coverage, days since the last patrol, incident rate,
unowned density), which would repeat the grid geometry five times. Here the data
is written once (:class:`DashData`, a ``gridmapDash`` object in the page) and each
layer (:class:`JsLayer`, a folium ``Layer`` so the layer control lists it) is one
call of a factory in ``templates/js/dashboard.js`` over it. Colour classes are
computed in Python and sent as ``{uppers, colors, none}``: a value ``v`` takes the
first colour whose upper bound is greater than ``v``.

Compounds are clustered with the vendored Leaflet.markercluster; each cluster is a
small pie (CSS conic gradient) of its compounds' management types.
"""

from __future__ import annotations

import json
from typing import Any

from folium.elements import JSCSSMixin
from folium.map import Layer

from web_map.assets import markercluster_links
from web_map.templating import TemplateElement

# The layer factories of templates/js/dashboard.js, as JavaScript expressions.
OUTLINE_JS = "gridmapDash.outlineLayer()"
NO_WORKER_JS = "gridmapDash.noWorkerLayer()"
HEAT_JS = "gridmapDash.heatLayer()"
RISING_JS = "gridmapDash.risingLayer()"
GAPS_JS = "gridmapDash.gapsLayer()"
UNOWNED_CELLS_JS = "gridmapDash.unownedCellsLayer()"
_CLUSTER_JS = "gridmapDash.clusterLayer()"


def _json(value: Any) -> str:
    # Inside <script>: "</" would close the element early.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


class DashData(TemplateElement):
    """The page's data and the helper functions every layer uses (render it first)."""

    template_name = "dashboard_data.html"

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "DashData"
        self.data = _json(data)


class JsLayer(TemplateElement, Layer):
    """An overlay whose Leaflet layer is the value of one JavaScript expression."""

    template_name = "dashboard_layer.html"

    def __init__(self, js: str, name: str, *, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "DashLayer"
        self.js = js


class ClusterLayer(JSCSSMixin, JsLayer):
    """Compounds as clustered markers coloured by management type (vendored plugin)."""

    def __init__(self, name: str, static_url: str, *, show: bool = False) -> None:
        super().__init__(_CLUSTER_JS, name, show=show)
        self.default_js, self.default_css = markercluster_links(static_url)


def grid_layer(key: str, scale: str, pane: str) -> str:
    """JS for a grid choropleth of property ``key`` coloured by ``scale``."""
    return f"gridmapDash.gridLayer({_json(key)}, {_json(scale)}, {_json(pane)})"


class DaySlider(TemplateElement):
    """A date slider under the map: the heat of one Beijing day, or the whole window."""

    template_name = "dashboard_slider.html"

    def __init__(self, heat_name: str) -> None:
        super().__init__()
        self._name = "DaySlider"
        self.heat_name = heat_name
