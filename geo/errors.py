"""Domain errors. ``api/errors.py`` maps each class to an HTTP status and problem+json.

Every error carries a message for people in English and Chinese, written so a
planner or an integrating developer knows what to do next.
"""

from __future__ import annotations

from typing import Any


class GridmapError(Exception):
    """Base of all domain errors."""

    slug = "error"

    def __init__(self, message: str, message_zh: str | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh or message
        self.extra = extra


class InvalidInput(GridmapError):
    slug = "invalid-input"


class NotFound(GridmapError):
    slug = "not-found"


class Forbidden(GridmapError):
    """The caller may not do this here (e.g. report outside their jurisdiction)."""

    slug = "forbidden"


class OutsideDistrict(NotFound):
    slug = "outside-district"


class Conflict(GridmapError):
    slug = "conflict"


class AlreadyReceived(Conflict):
    """A case with this source + external_id is stored already, outside what the caller
    may read: acknowledged without its id or details."""

    slug = "already-received"


class StaleVersion(Conflict):
    """An edit named a version (If-Match) that is no longer the live one."""

    slug = "stale-version"


class VersionRequired(GridmapError):
    """An edit came without If-Match: it might overwrite a colleague's work unseen."""

    slug = "version-required"


class EditRefused(InvalidInput):
    """An edit that would break the partition; ``extra["findings"]`` says where."""

    slug = "edit-refused"


class NotReady(GridmapError):
    """The service cannot answer yet (e.g. no boundaries loaded)."""

    slug = "not-ready"


class Busy(NotReady):
    """Another request holds what this one needs longer than a request may wait (e.g.
    the same case, in an upload not committed yet); nothing changed, retry shortly."""

    slug = "busy"
