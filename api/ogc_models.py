"""The JSON documents of the OGC API and the vector tiles, as pydantic models.

The routers build these documents as dicts (:mod:`geo.ogc`) and answer them as they
are; the models describe them in the OpenAPI document (and to clients generated
from it). Extra members are allowed, as OGC API documents may carry them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Link(BaseModel):
    model_config = ConfigDict(extra="allow")

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class LandingPage(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str] = Field(description="URIs of the conformance classes")


class CollectionDoc(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    title: str
    description: str
    itemType: str
    links: list[Link]
    crs: list[str]
    storageCrs: str
    extent: dict[str, Any] | None = Field(default=None, description="spatial and temporal")


class Collections(BaseModel):
    links: list[Link]
    collections: list[CollectionDoc]
    crs: list[str]


class VectorLayer(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    fields: dict[str, str]
    minzoom: int
    maxzoom: int


class TileJSON(BaseModel):
    """TileJSON 3.0.0 of one layer (``bounds`` and ``center`` once there is data)."""

    model_config = ConfigDict(extra="allow")

    tilejson: str
    name: str
    description: str
    version: str
    scheme: str
    tiles: list[str]
    minzoom: int
    maxzoom: int
    vector_layers: list[VectorLayer]
    gridmap_version: str
    bounds: list[float] | None = None
    center: list[float] | None = None
