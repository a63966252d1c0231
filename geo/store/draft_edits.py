"""Geometry changes to a DRAFT boundary set (the fix helpers, applied on request).

Only drafts are ever changed here: the live map changes by publishing a set, or by
the grid editor (:mod:`geo.services.edits`). Every function runs in the caller's
transaction.
"""

from __future__ import annotations

from shapely.geometry.base import BaseGeometry
from sqlalchemy import Connection, select, update

from geo.errors import Conflict, InvalidInput, NotFound
from geo.store.db import ewkt
from geo.store.models import AdminUnitVersion, BoundarySet


def lock_draft(conn: Connection, set_id: int) -> None:
    """Lock the set's row until the transaction ends; refuse anything but a draft.

    Publishing locks the same row (``FOR UPDATE``), so a fix and a publish of one
    set never interleave.

    Raises
    ------
    NotFound
        No such set.
    Conflict
        The set is active or retired (409): fixes never touch the live map.
    """
    status = conn.execute(
        select(BoundarySet.status).where(BoundarySet.id == set_id).with_for_update()
    ).scalar()
    if status is None:
        raise NotFound(f"boundary set {set_id} does not exist", f"边界集 {set_id} 不存在")
    if status != "draft":
        raise Conflict(
            f"boundary set {set_id} is {status}; fixes apply only to a draft set. Import "
            "the boundaries again as a draft, fix it, then publish it",
            f"边界集 {set_id} 状态为 {status}；修复只能用于草稿。请重新导入为草稿、修复后再发布",
        )


def update_draft_geometries(
    conn: Connection, set_id: int, geometries: dict[str, BaseGeometry]
) -> None:
    """Replace the geometry (only) of the draft's units named by code."""
    v = AdminUnitVersion
    for code, geom in sorted(geometries.items()):
        if geom is None or geom.is_empty or not geom.is_valid:
            raise InvalidInput(
                f"the fix would leave unit {code} empty or invalid; nothing was changed",
                f"该修复会使单元 {code} 为空或无效；未做任何修改",
            )
        done = conn.execute(
            update(v)
            .where(v.boundary_set_id == set_id, v.code == code, v.valid_from.is_(None))
            .values(geom=ewkt(geom))
        ).rowcount
        if done != 1:
            raise NotFound(
                f"unit {code} is not in draft boundary set {set_id}",
                f"草稿边界集 {set_id} 中没有单元 {code}",
            )
