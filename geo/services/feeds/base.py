"""The :class:`Feed` base and the feed registry (``register``, ``get``,
``for_content_type``); see :mod:`geo.services.feeds` for how a feed is added."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar

from geo.errors import InvalidInput

Row = dict[str, Any]
"""One incident as the pipeline takes it: source, external_id, reported_at, category,
lon, lat, crs, description (see :func:`geo.incidents.records.parse_incident`)."""
Item = tuple[int, Row]
"""A row with where it came from: the line of a text body, or the 1-based item number."""


@dataclass(frozen=True)
class Received:
    """What a feed read from one request: many rows (a stream) or one case."""

    items: AsyncIterator[Item] | None = None
    single: Row | None = None


class Feed:
    """One way incidents arrive.

    ``name`` is what :func:`get` finds it by; ``content_types`` are the media types
    of ``POST /v1/incidents`` it reads (none: it has its own endpoint, like Open311);
    ``unplaced_field`` is the field named when a point lies outside every grid.
    """

    name: ClassVar[str] = ""
    content_types: ClassVar[tuple[str, ...]] = ()
    unplaced_field: ClassVar[str] = "lon"

    def row(self, raw: Any) -> Row:
        """How one raw item of this feed becomes the pipeline's row."""
        raise NotImplementedError

    async def read(self, body: AsyncIterator[bytes]) -> Received:
        """Read a request body: its rows as a stream, or the one case it holds."""
        raise NotImplementedError(f"the {self.name} feed reads no request body")


_FEEDS: dict[str, Feed] = {}


def register(feed: Feed) -> Feed:
    """Add a feed to the registry (under its name, and its content types)."""
    if not feed.name:
        raise ValueError(f"{type(feed).__name__} has no name")
    taken = {t for f in _FEEDS.values() if f.name != feed.name for t in f.content_types}
    clash = sorted(taken & set(feed.content_types))
    if clash:
        raise ValueError(f"content types {clash} are read by another feed already")
    _FEEDS[feed.name] = feed
    return feed


def get(name: str) -> Feed:
    """The feed registered as ``name``."""
    try:
        return _FEEDS[name]
    except KeyError:
        raise KeyError(f"no feed {name!r}; registered: {', '.join(names())}") from None


def names() -> list[str]:
    """Names of the registered feeds, sorted."""
    return sorted(_FEEDS)


def for_content_type(ctype: str) -> Feed:
    """The feed that reads bodies of media type ``ctype``; InvalidInput if none does."""
    for feed in _FEEDS.values():
        if ctype in feed.content_types:
            return feed
    raise InvalidInput(
        f"unsupported content type {ctype}; use application/json, application/x-ndjson, "
        "text/csv or application/geo+json",
        f"不支持的内容类型 {ctype}",
    )
