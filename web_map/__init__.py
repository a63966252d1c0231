"""The web maps: the pages (:mod:`web_map.pages`), their templates
(:mod:`web_map.templating`), the basemap registry (:mod:`web_map.basemaps`), the UI
strings (:mod:`web_map.i18n`) and the vendored front-end assets (:mod:`web_map.assets`).
Everything a page shows is served from here; nothing loads from the internet."""
