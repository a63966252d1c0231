"""The map pages, one module each: the overview of the four levels (``/``), the
planner with its grid editor (``/planner``) and the supervisor dashboard
(``/dashboard``).

Each module has a pure builder (frames in, folium map out: ``build_*_map``), a
renderer that reads the live data and returns the page's HTML (``render_*``, which
``gridmap map …`` also calls to write a file) and the served page, cached in the
service state (``*_page``). Every page draws the basemap of :mod:`web_map.basemaps`
and shifts its overlays to the basemap's datum; its markup lives in
``web_map/templates`` (:mod:`web_map.templating`).
"""
