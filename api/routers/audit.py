"""The audit log: who changed what, when and why — newest first, paged by id."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from geo.services import history as hist

from api.auth import require_scope
from api.deps import State
from api.features import jsonable
from api.validation import BIGINT_MAX

router = APIRouter(prefix="/v1", tags=["grid edits"])
READ = require_scope("read")


class AuditRow(BaseModel):
    id: int
    at: str = Field(description="ISO date-time")
    actor: str
    action: str
    entity: str
    ref: str
    reason: str | None
    detail: dict[str, Any] | None


class AuditOut(BaseModel):
    entries: list[AuditRow]
    next_before_id: int | None = Field(description="before_id of the next page; null: last")


@router.get("/audit", dependencies=[READ], response_model=AuditOut)
def audit_log(
    state: State,
    entity: str | None = None,
    ref: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
) -> dict[str, Any]:
    """Who changed what, when and why — newest first; page with before_id."""
    rows = hist.audit_entries(
        state.engine,
        entity=entity,
        ref=ref,
        actor=actor,
        since=since,
        limit=limit,
        before_id=before_id,
    )
    return jsonable(
        {"entries": rows, "next_before_id": rows[-1]["id"] if len(rows) == limit else None}
    )
