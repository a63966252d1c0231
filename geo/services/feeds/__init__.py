"""Incident feeds: the ways incidents arrive, each a :class:`Feed` in one registry.

A feed says how what arrives becomes the rows of the one intake pipeline
(:mod:`geo.services.intake`: parse, place, keep to the caller's jurisdiction, store
idempotently, answer per row) and, where the feed needs it, how the answer is shaped:

- :mod:`~geo.services.feeds.json_api`: ``json`` (one case, an array, or a
  FeatureCollection sent as application/json) and ``ndjson`` (streamed);
- :mod:`~geo.services.feeds.files`: ``csv`` (streamed) and ``geojson``;
- :mod:`~geo.services.feeds.open311`: ``open311``, the GeoReport v2 form POST.

Adding a feed (say a 12345 hotline export) is ONE new module in this package: define a
:class:`Feed` subclass with a ``name``, its ``row()`` (one raw item → the pipeline's
row) and, for a body posted to ``POST /v1/incidents``, its ``content_types`` and
``read()``; then call ``register(YourFeed())`` at the module's end. Every module here
is imported when the package is, so nothing else changes: the endpoint picks the feed
by the request's content type (:func:`for_content_type`), and the pipeline, the
jurisdiction check and idempotent storage are the same for every feed.
"""

from __future__ import annotations

import importlib
import pkgutil

from geo.services.feeds.base import (
    Feed,
    Item,
    Received,
    Row,
    for_content_type,
    get,
    names,
    register,
)

__all__ = ["Feed", "Item", "Received", "Row", "for_content_type", "get", "names", "register"]

# Every module of the package registers its feeds when imported.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
