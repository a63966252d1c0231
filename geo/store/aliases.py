"""Aliases (other names) the forward geocoder also answers to; every change audited."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects.postgresql import insert

from geo.errors import InvalidInput, NotFound
from geo.store import audit
from geo.store.models import PlaceAlias


def as_mapping(conn: Connection) -> dict[str, list[str]]:
    """target → aliases, as :class:`geo.gazetteer.Gazetteer` takes them."""
    out: dict[str, list[str]] = {}
    for target, alias in conn.execute(
        select(PlaceAlias.target, PlaceAlias.alias).order_by(PlaceAlias.id)
    ):
        out.setdefault(target, []).append(alias)
    return out


def list_aliases(conn: Connection, target: str | None = None) -> list[dict]:
    stmt = select(
        PlaceAlias.id,
        PlaceAlias.target,
        PlaceAlias.alias,
        PlaceAlias.created_by,
        PlaceAlias.created_at,
    ).order_by(PlaceAlias.id)
    if target:
        stmt = stmt.where(PlaceAlias.target == target)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def add_alias(conn: Connection, target: str, alias: str, *, actor: audit.Who) -> dict:
    """Add an alias (idempotent: the same pair again changes nothing)."""
    target, alias = (target or "").strip(), (alias or "").strip()
    if not target or not alias:
        raise InvalidInput("target and alias must not be empty", "target 和 alias 不能为空")
    row = conn.execute(
        insert(PlaceAlias)
        .values(target=target, alias=alias, created_by=audit.shown(actor))
        .on_conflict_do_nothing(index_elements=["target", "alias"])
        .returning(PlaceAlias.id)
    ).scalar()
    if row is not None:
        audit.record(
            conn,
            actor=actor,
            action="alias.create",
            entity="alias",
            ref=target,
            detail={"alias": alias, "id": row},
        )
    return next(a for a in list_aliases(conn, target) if a["alias"] == alias)


def delete_alias(conn: Connection, alias_id: int, *, actor: audit.Who) -> None:
    row = conn.execute(
        delete(PlaceAlias)
        .where(PlaceAlias.id == alias_id)
        .returning(PlaceAlias.target, PlaceAlias.alias)
    ).first()
    if row is None:
        raise NotFound(f"alias {alias_id} does not exist", f"别名 {alias_id} 不存在")
    audit.record(
        conn,
        actor=actor,
        action="alias.delete",
        entity="alias",
        ref=row[0],
        detail={"alias": row[1], "id": alias_id},
    )


def registers_version(conn: Connection) -> str:
    """A token that changes when what the in-memory indexes hold besides the boundaries
    changes: people and their grids, compounds, aliases. Register writes are audited, so
    the newest audit entry catches edits in place; the counts and newest ids catch
    writes that are not audited (the sample loader)."""
    row = conn.exec_driver_sql(
        "SELECT (SELECT max(id) FROM audit_log),"
        " (SELECT count(*) FROM grid_assignment WHERE valid_to IS NULL),"
        " (SELECT max(id) FROM grid_assignment), (SELECT count(*) FROM grid_worker),"
        " (SELECT count(*) FROM compound), (SELECT max(id) FROM compound),"
        " (SELECT count(*) FROM place_alias), (SELECT max(id) FROM place_alias)"
    ).one()
    return "-".join(str(v) for v in row)
