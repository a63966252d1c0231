"""The whole single-point reverse answer, as the JSON-ready dict the API returns.

:func:`reverse_answer` takes a :class:`~geo.lookup.geocode.ReverseGeocoder`, the
special-grid index and the case rules, and builds every member of the answer: the
four-level chain, the special grids, who is responsible for an incident category,
the people of the grid (phones masked unless the caller may see them), the border
distance and the H3 cells. ``want`` (the members asked for with ``fields=``) skips the
work for what is left out.

Pure and hot: the API answers from this dict directly (tens of µs a request), so the
parts that depend only on the grid are built once per grid and geocoder and shared by
every later answer.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from geo import hexgrid
from geo.crs import point_from_wgs84, point_to_wgs84
from geo.errors import InvalidInput, OutsideDistrict
from geo.incidents.records import SpecialRef, responsible_special
from geo.lookup.geocode import Person, ReverseGeocoder, ReverseResult, mask_phone
from geo.lookup.locator import BORDER_RULE, UnitRef
from geo.vocab import LEVELS

if TYPE_CHECKING:
    from geo.incidents.placement import SpecialIndex
    from geo.incidents.rules import CaseRules

__all__ = ["BORDER_RULE", "ReverseAsk", "reverse_answer"]


class ReverseAsk(Protocol):
    """What a reverse lookup is asked (``api.schemas.ReverseQuery`` is one)."""

    @property
    def lon(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def crs(self) -> str: ...
    @property
    def out_crs(self) -> str: ...
    @property
    def tolerance_m(self) -> float: ...
    @property
    def category(self) -> str | None: ...
    @property
    def at(self) -> datetime | None: ...


def _unit(ref: UnitRef | None) -> dict[str, Any] | None:
    return {"id": ref.unit_id, "code": ref.code, "name": ref.name} if ref else None


def _people(people: Sequence[Person], unmasked: bool) -> list[dict[str, Any]]:
    return [
        {
            "worker_code": p.worker_code,
            "name": p.name,
            "role": p.role,
            "phone": p.phone if unmasked else mask_phone(p.phone),
        }
        for p in people
    ]


# The parts of an answer that depend only on the grid (and on whether phones are shown),
# built once per grid and geocoder: the same lists and dicts serve every later request.
_PER_GRID: weakref.WeakKeyDictionary[ReverseGeocoder, dict[tuple[int, bool], dict[str, Any]]]
_PER_GRID = weakref.WeakKeyDictionary()


def _per_grid_parts(
    geocoder: ReverseGeocoder, found: ReverseResult, unmasked: bool
) -> dict[str, Any]:
    cache = _PER_GRID.get(geocoder)
    if cache is None:
        cache = _PER_GRID.setdefault(geocoder, {})
    key = (found.row, unmasked)
    parts = cache.get(key)
    if parts is None or found.row < 0:
        chain = found.chain
        parts = {level: _unit(chain[level]) for level in LEVELS}
        parts["grid_workers"] = _people(found.workers, unmasked)
        parts["grid_leaders"] = _people(found.leaders, unmasked)
        if found.row >= 0:
            cache[key] = parts
    return parts


def _special_dicts(specials: list[SpecialRef]) -> list[dict[str, Any]]:
    return [
        {
            "id": r.special_id,
            "code": r.code,
            "name": r.name,
            "kind": r.kind,
            "responsible_unit": r.responsible_unit,
        }
        for r in specials
    ]


def _responsible(
    category: str, specials: list[SpecialRef], grid: UnitRef | None, rules: CaseRules
) -> dict[str, Any]:
    """A special grid's unit by the precedence rules, else the grid (属地兜底)."""
    unit = responsible_special(category, specials, rules.precedence)
    if unit:
        return {
            "kind": "special_grid",
            "code": unit.code,
            "name": unit.name,
            "responsible_unit": unit.responsible_unit,
        }
    assert grid is not None  # every located row is a grid
    return {"kind": "grid", "code": grid.code, "name": grid.name}


def _outside(ask: ReverseAsk, wlon: float, wlat: float) -> OutsideDistrict:
    lon, lat, crs = ask.lon, ask.lat, ask.crs
    return OutsideDistrict(
        f"({lon}, {lat}) in {crs} lies outside every grid of the district. Check the "
        "coordinate order (lon, lat) and that crs names the system the point came from.",
        f"坐标 ({lon}, {lat})（{crs}）不在本区任何网格内。请检查经纬度顺序及 crs 是否正确。",
        location={"lon": wlon, "lat": wlat, "crs": "wgs84"},
    )


def reverse_answer(
    geocoder: ReverseGeocoder,
    ask: ReverseAsk,
    want: frozenset[str] | None,
    *,
    special: SpecialIndex | None,
    rules: CaseRules,
    sees_contacts: Callable[[list[int]], bool],
) -> dict[str, Any]:
    """The answer for one point, every member in ``want`` (None: all of them).

    ``sees_contacts(chain unit ids)`` says whether the caller sees full phone numbers
    (asked only when people are in the answer). Raises ``InvalidInput`` for an unknown
    category and ``OutsideDistrict`` when no grid covers the point.
    """
    wlon, wlat = point_to_wgs84(ask.lon, ask.lat, ask.crs)
    category = ask.category
    if category is not None and category not in rules.categories:
        raise InvalidInput(
            f"unknown category {category!r}; see GET /v1/incidents/categories",
            f"未知类别 {category!r}",
        )
    found = geocoder.reverse(
        wlon,
        wlat,
        border_tolerance_m=ask.tolerance_m,
        border=want is None or "border" in want,
        h3=want is None or "h3" in want,
    )
    if found is None:
        raise _outside(ask, wlon, wlat)

    def asked(name: str) -> bool:
        return want is None or name in want

    specials: list[SpecialRef] = []
    if special and (asked("special_grids") or category is not None):
        specials = special.containing(wlon, wlat)
    body: dict[str, Any] = {}
    if asked("query"):
        body["query"] = {"lon": ask.lon, "lat": ask.lat, "crs": ask.crs}
    if asked("location"):
        olon, olat = point_from_wgs84(wlon, wlat, ask.out_crs)
        body["location"] = {"lon": olon, "lat": olat, "crs": ask.out_crs}
    unmasked = False
    if asked("grid_workers") or asked("grid_leaders"):
        # Full phone numbers only for a key with the read scope whose jurisdiction holds it.
        unmasked = sees_contacts([u.unit_id for u in found.chain.values() if u])
    per_grid = _per_grid_parts(geocoder, found, unmasked)
    for level in LEVELS:
        if asked(level):
            body[level] = per_grid[level]
    if asked("special_grids"):
        body["special_grids"] = _special_dicts(specials)
    for group in ("grid_workers", "grid_leaders"):
        if asked(group):
            body[group] = per_grid[group]
    if asked("responsible") or category is not None:
        body["responsible"] = (
            None
            if category is None
            else _responsible(category, specials, found.chain["grid"], rules)
        )
    _add_geometry_parts(body, found, ask.tolerance_m, asked)
    body["boundary_version"] = geocoder.version
    at = ask.at
    if asked("at") or at is not None:
        body["at"] = at.isoformat() if at else None
    if asked("border_rule"):
        body["border_rule"] = BORDER_RULE
    return body


def _add_geometry_parts(
    body: dict[str, Any],
    found: ReverseResult,
    tolerance_m: float,
    asked: Callable[[str], bool],
) -> None:
    """The border distance (with the neighbour) and the H3 cells, when asked for."""
    distance = found.border_distance_m
    if asked("border") and distance is not None:
        body["border"] = {
            "distance_m": round(distance, 3),
            "tolerance_m": tolerance_m,
            "neighbour": _unit(found.neighbour),
        }
    if asked("h3"):
        body["h3"] = {str(res): hexgrid.cell_to_str(cell) for res, cell in found.h3.items()}
