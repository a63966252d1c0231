"""Who may do what: the one authorization policy every write use case asks.

A use case takes the caller as a :class:`Principal` (the API's ``Caller`` — an API key
or a signed-in person — or the CLI's :class:`Operator`) and asks here, in its own
transaction, before or while it writes. A route cannot forget the check: the use case
will not run without a principal.

Rules
-----
- **Scope**: a write needs the ``edit`` scope (:func:`require_scope`).
- **Jurisdiction over unit chains**: a principal with units (a planner of one
  community, a supervisor of one street) covers a unit when the unit or one of its
  ancestors is one of theirs; a principal without units covers the whole district.
  Every unit a write names or changes must be covered (:func:`require_codes`,
  :func:`require_frame_codes`); data placed by location (compounds, special grids) must
  lie inside the covered units (:func:`require_compounds`, :func:`require_area`).
  A refusal is 403 and, the check running inside the write's transaction, changes
  nothing.
- **District-wide writes** (ledger and special-grid file imports, aliases, which the
  whole district's geocoder answers to) need a principal without unit limits.
- **The audit actor** is the authenticated identity (:func:`actor_of`): the key's name
  and id, the person, or ``cli:<os user>``. A name the client sends (``author``,
  ``actor``) is kept only as an "on behalf of" note in the audit entry's detail. The
  author shown in a version's history is that name only for the open demo's anonymous
  caller and for the operator at the shell; a key's writes show the key's name.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import geopandas as gpd
from shapely.geometry.base import BaseGeometry

from geo.errors import Forbidden, NotFound
from geo.store import boundaries as bstore
from geo.store.audit import Actor
from geo.store.db import Connection
from geo.store.models import Compound
from geo.store.registers import compounds as compound_store
from geo.store.registers import workers as worker_store

EDIT = "edit"
ALL_SCOPES = frozenset({"geocode", "intake", "read", "edit"})
# Drawn shapes may stray this far (degrees, ~1 m) over the covered units' border.
AREA_TOLERANCE_DEG = 1e-5


class Principal(Protocol):
    """The authenticated caller as the use cases see it (``api.auth.Caller`` is one)."""

    @property
    def key_id(self) -> int | None: ...

    @property
    def name(self) -> str: ...

    @property
    def scopes(self) -> frozenset[str]: ...

    @property
    def unit_ids(self) -> frozenset[int]:
        """Empty: the whole district."""
        ...

    @property
    def role(self) -> str: ...

    @property
    def anonymous(self) -> bool: ...


@dataclass(frozen=True)
class Operator:
    """Someone at the shell running the ``gridmap`` CLI: trusted with the database
    already, so every scope and the whole district; audited as ``cli:<os user>``."""

    name: str
    key_id: int | None = None
    scopes: frozenset[str] = field(default=ALL_SCOPES)
    unit_ids: frozenset[int] = field(default_factory=frozenset)
    role: str = "operator"
    anonymous: bool = False


def operator(user: str | None = None) -> Operator:
    """The CLI's principal, named after the OS user running it."""
    if user is None:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = os.environ.get("USER") or "unknown"
    return Operator(name=f"cli:{user}")


# -- the audit actor --------------------------------------------------------------------


def actor_of(who: Principal, claimed: str | None = None) -> Actor:
    """The audit actor of a write by ``who``; ``claimed`` (what the client sent as
    author/actor) is recorded only as the "on behalf of" note."""
    claimed = (claimed or "").strip() or None
    trusted_claim = who.anonymous or who.role == "operator"
    return Actor(
        name=who.name,
        key_id=who.key_id,
        person_id=getattr(who, "person_id", None),
        on_behalf_of=claimed if claimed and claimed != who.name else None,
        shown=claimed if claimed and trusted_claim else who.name,
    )


# -- scope ------------------------------------------------------------------------------


def require_scope(who: Principal, scope: str = EDIT) -> None:
    if scope not in who.scopes:
        raise Forbidden(f"this key lacks the {scope!r} scope", f"该密钥没有 {scope!r} 权限")


def district_wide(who: Principal) -> bool:
    return not who.unit_ids


def require_district_wide(who: Principal, what: str, what_zh: str) -> None:
    """Writes that change the whole district's data need a principal without unit limits."""
    require_scope(who)
    if not district_wide(who):
        raise Forbidden(
            f"{what} changes data of the whole district: it needs a key without unit limits",
            f"{what_zh}会改动全区数据，需要不限辖区的密钥",
        )


# -- jurisdiction over unit chains -------------------------------------------------------


def covers(who: Principal, chain_unit_ids: Iterable[int]) -> bool:
    """``who`` covers the unit whose chain (the unit and its ancestors) this is."""
    return district_wide(who) or any(u in who.unit_ids for u in chain_unit_ids if u)


def _outside(code: str) -> Forbidden:
    return Forbidden(
        f"{code} is outside the units this key may change", f"{code} 不在该密钥可修改的管辖范围内"
    )


def require_chain(who: Principal, chain_unit_ids: Iterable[int], code: str) -> None:
    if not covers(who, chain_unit_ids):
        raise _outside(code)


def require_codes(conn: Connection, who: Principal, codes: Iterable[str]) -> None:
    """Every live unit named must be covered (an unknown code, for a principal with
    units, is refused too: its chain is empty)."""
    require_scope(who)
    if district_wide(who):
        return
    for code in dict.fromkeys(codes):
        require_chain(who, bstore.chain_unit_ids(conn, code), code)


def frame_chains(*frames: gpd.GeoDataFrame) -> dict[str, list[int]]:
    """code → chain of unit ids, walking ``parent_code`` through the frames (later
    frames win: a draft over the live map)."""
    parent: dict[str, str | None] = {}
    unit: dict[str, int] = {}
    for frame in frames:
        for code, uid, pcode in zip(
            frame["code"], frame["unit_id"], frame["parent_code"], strict=True
        ):
            unit[str(code)] = int(uid)
            parent[str(code)] = None if pcode is None or pcode != pcode else str(pcode)
    chains: dict[str, list[int]] = {}
    for code in unit:
        chain: list[int] = []
        seen: set[str] = set()
        at: str | None = code
        while at is not None and at in unit and at not in seen:
            seen.add(at)
            chain.append(unit[at])
            at = parent.get(at)
        chains[code] = chain
    return chains


def require_frame_codes(
    who: Principal, chains: Mapping[str, list[int]], codes: Iterable[str]
) -> None:
    """Every code (its chain looked up in ``chains``) must be covered."""
    if district_wide(who):
        return
    for code in codes:
        require_chain(who, chains.get(code, []), code)


def require_area(conn: Connection, who: Principal, geom: BaseGeometry | None, label: str) -> None:
    """A shape (a special grid's) must lie inside the units ``who`` covers."""
    require_scope(who)
    if district_wide(who) or geom is None or geom.is_empty:
        return
    own = bstore.units_frame(conn)
    own = own[own["unit_id"].isin(list(who.unit_ids))]
    area = own.geometry.union_all() if len(own) else None
    if area is None or not area.buffer(AREA_TOLERANCE_DEG).covers(geom):
        raise Forbidden(
            f"{label} lies outside the units this key may change",
            f"{label} 超出该密钥可修改的管辖范围",
        )


def require_compounds(conn: Connection, who: Principal, compound_ids: Iterable[int]) -> None:
    """Compounds (by their location) must lie inside the units ``who`` covers."""
    require_scope(who)
    ids = sorted(set(compound_ids))
    if district_wide(who) or not ids:
        return
    inside = set(
        conn.execute(
            compound_store.compound_ids_in_units(sorted(who.unit_ids)).where(Compound.id.in_(ids))
        ).scalars()
    )
    for cid in ids:
        if cid not in inside:
            raise _outside(f"compound {cid}")


def require_worker(conn: Connection, who: Principal, unit_codes: Iterable[str]) -> None:
    """A person is changed only by principals covering every unit they serve (before
    and after); a principal with units never edits a person serving no unit."""
    require_scope(who)
    if district_wide(who):
        return
    codes = list(dict.fromkeys(unit_codes))
    if not codes:
        raise Forbidden(
            "a person serving no unit can be changed only with a key without unit limits",
            "未分配单元的人员只能由不限辖区的密钥修改",
        )
    require_codes(conn, who, codes)


def require_uploader_of(conn: Connection, who: Principal, worker_code: str) -> None:
    """Patrol data of ``worker_code`` may come from that grid worker themself, or from a
    principal covering one of the units the worker serves (a key without units: any).
    An unknown worker passes here: the upload itself reports it."""
    if who.role == "grid_worker":
        if worker_code != getattr(who, "worker_code", None):
            raise Forbidden(
                f"a grid worker's key may only upload its own data "
                f"({getattr(who, 'worker_code', None)})",
                f"网格员密钥只能上传本人的数据（{getattr(who, 'worker_code', None)}）",
            )
        return
    if district_wide(who):
        return
    try:
        person = worker_store.get_worker(conn, worker_code)
    except NotFound:
        return
    for unit in person["units"]:
        if covers(who, bstore.chain_unit_ids(conn, unit["code"])):
            return
    raise Forbidden(
        f"worker {worker_code} serves no unit this key covers",
        f"人员 {worker_code} 不在该密钥的管辖范围内",
    )


__all__ = [
    "Actor",
    "Operator",
    "Principal",
    "actor_of",
    "covers",
    "district_wide",
    "frame_chains",
    "operator",
    "require_area",
    "require_chain",
    "require_codes",
    "require_compounds",
    "require_district_wide",
    "require_frame_codes",
    "require_scope",
    "require_uploader_of",
    "require_worker",
]
