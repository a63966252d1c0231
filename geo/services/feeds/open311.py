"""Open311 GeoReport v2: a hotline system posts one service request as a form.

Coordinates are WGS-84 ``lat``/``long`` as the standard says; the extension parameter
``crs`` (wgs84 | gcj02 | bd09 | cgcs2000) accepts phone-map coordinates too, and
``external_id`` makes a repeated POST idempotent. The answers are shaped here in the
standard's terms (service requests, services).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from geo.errors import InvalidInput
from geo.services.feeds.base import Feed, Row, register

SOURCE = "hotline_12345"
Categories = dict[str, tuple[str, str]]


@dataclass(frozen=True)
class Open311Form:
    """The fields of ``POST /open311/v2/requests.json``."""

    service_code: str
    lat: float
    long: float
    description: str | None = None
    requested_datetime: str | None = None
    crs: str = "wgs84"
    external_id: str | None = None


def utf8_text(value: str | None, field: str) -> str | None:
    """Form text as sent, refusing text that was not UTF-8.

    The form parser turns undecodable percent-escapes into U+FFFD and reads raw
    (unescaped) bytes as Latin-1; GBK text from old hotline systems arrives either way.
    """
    if value is None:
        return None
    mojibake = any(ord(c) > 127 for c in value) and all(ord(c) < 256 for c in value)
    if mojibake:
        try:
            return value.encode("latin-1").decode("utf-8")  # raw UTF-8, just not escaped
        except UnicodeDecodeError:
            pass
    if mojibake or "\ufffd" in value:
        raise InvalidInput(
            f"{field} is not UTF-8 text; convert it (e.g. from GBK) to UTF-8 and send again",
            f"{field} 不是 UTF-8 文本；请转换（如从 GBK）为 UTF-8 后重新提交",
            field=field,
        )
    return value


class Open311Feed(Feed):
    """One service request per POST; ``service_code`` is the incident category."""

    name = "open311"
    # The standard names the point lat/long; a point outside the district names lat.
    unplaced_field = "lat"

    def row(self, raw: Any) -> Row:
        form: Open311Form = raw
        service_code, description, requested_datetime, crs, external_id = (
            utf8_text(v, name)
            for v, name in (
                (form.service_code, "service_code"),
                (form.description, "description"),
                (form.requested_datetime, "requested_datetime"),
                (form.crs, "crs"),
                (form.external_id, "external_id"),
            )
        )
        return {
            "source": SOURCE,
            "external_id": external_id or f"open311-{uuid.uuid4()}",
            "reported_at": requested_datetime or datetime.now(UTC).isoformat(),
            "category": service_code,
            "lon": form.long,
            "lat": form.lat,
            "crs": crs,
            "description": description,
        }

    @staticmethod
    def created(incident_id: int) -> list[dict[str, Any]]:
        """The answer to a POST: the request's id."""
        return [
            {
                "service_request_id": str(incident_id),
                "service_notice": "已受理 received",
                "account_id": None,
            }
        ]

    @staticmethod
    def request(d: dict[str, Any], categories: Categories) -> dict[str, Any]:
        """A stored incident (:func:`geo.store.incidents.incident_detail`) as a request."""
        unit = d["responsible_now"].get("special_grid") or next(
            (v for k, v in d["responsible_now"].items() if k != "kind"), None
        )
        return {
            "service_request_id": str(d["id"]),
            "status": "closed" if d["status"] == "closed" else "open",
            "status_notes": d["transitions"][-1]["note"] if d["transitions"] else None,
            "service_name": categories.get(d["category"], (d["category"],))[0],
            "service_code": d["category"],
            "description": d["description"],
            "agency_responsible": (unit or {}).get("responsible_unit") or (unit or {}).get("name"),
            "requested_datetime": d["reported_at"],
            "updated_datetime": (
                d["transitions"][-1]["at"] if d["transitions"] else d["reported_at"]
            ),
            "address": None,
            "lat": d["location"]["lat"],
            "long": d["location"]["lon"],
        }

    @staticmethod
    def services(categories: Categories) -> list[dict[str, Any]]:
        """The district's incident categories as Open311 services."""
        return [
            {
                "service_code": c,
                "service_name": zh,
                "description": en,
                "metadata": False,
                "type": "realtime",
                "keywords": c,
                "group": "网格事件",
            }
            for c, (zh, en) in categories.items()
        ]


register(Open311Feed())
