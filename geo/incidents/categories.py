"""The incident-category filter of the area views (heat, dashboard), checked against
the district's categories (pure: no database, no HTTP).

One rule for ``GET /v1/incidents/heat``, ``/dashboard`` and ``gridmap map dashboard``:
blanks are dropped and an unknown code is refused with where to find the known ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from geo.errors import InvalidInput
from geo.incidents.records import DEFAULT_CATEGORIES


def check_categories(
    categories: Iterable[str] | None, known: Mapping[str, object] = DEFAULT_CATEGORIES
) -> list[str]:
    """The category filter without blanks, refused with the known codes if one is unknown.

    Raises
    ------
    InvalidInput
        If a code is not a key of ``known``.
    """
    chosen = [c.strip() for c in categories or [] if c.strip()]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise InvalidInput(
            f"unknown category {unknown}; see GET /v1/incidents/categories",
            f"未知类别 {unknown}；可用类别见 GET /v1/incidents/categories",
        )
    return chosen
