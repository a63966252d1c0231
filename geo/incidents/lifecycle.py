"""Incident lifecycle rules (pure): which action is allowed when, and what it leads to.

小事不出格、大事不出村、难事不出镇: a case starts at its grid; escalation moves it to the
community, then the street, then the district. Each level has a time limit, counted
from when the case reached that level; past it the case is overdue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from geo.errors import Conflict, InvalidInput
from geo.vocab import LEVEL_ORDER

DEFAULT_TIME_LIMITS_H = {"grid": 24, "community": 72, "street": 168, "district": 336}


@dataclass(frozen=True)
class State:
    status: str
    level: str
    assignee: str | None


def apply_action(state: State, action: str, assignee: str | None = None) -> State:
    """The state after ``action``; Conflict when the action makes no sense now."""
    if action == "assign":
        if state.status == "closed":
            raise Conflict(
                "a closed case cannot be assigned; reopen it first",
                "已办结的事件不能派单，请先重新打开",
            )
        if not assignee:
            raise InvalidInput("assign needs an assignee", "派单需要指定承办人 assignee")
        return State("assigned", state.level, assignee)
    if action == "escalate":
        if state.status == "closed":
            raise Conflict("a closed case cannot be escalated", "已办结的事件不能上报")
        i = LEVEL_ORDER.index(state.level)
        if i == len(LEVEL_ORDER) - 1:
            raise Conflict("the case is already at district level", "事件已在区级，无法继续上报")
        return State("escalated", LEVEL_ORDER[i + 1], None)
    if action == "close":
        if state.status == "closed":
            raise Conflict("the case is already closed", "事件已办结")
        return State("closed", state.level, state.assignee)
    if action == "reopen":
        if state.status != "closed":
            raise Conflict("only a closed case can be reopened", "只有已办结的事件可以重新打开")
        return State("open", state.level, state.assignee)
    raise InvalidInput(
        f"unknown action {action!r}; use assign, escalate, close or reopen",
        f"未知操作 {action!r}；可用 assign、escalate、close、reopen",
    )


def due_at(level: str, level_since: datetime, limits: dict[str, float] | None = None) -> datetime:
    hours = (limits or DEFAULT_TIME_LIMITS_H)[level]
    return level_since + timedelta(hours=hours)


def is_overdue(
    status: str,
    level: str,
    level_since: datetime,
    now: datetime,
    limits: dict[str, float] | None = None,
) -> bool:
    """Open past the current level's time limit (closed cases are never overdue)."""
    return status != "closed" and now > due_at(level, level_since, limits)
