"""What a ledger import handles: the table as read, the records parsed from it, the
report per row, and the outcome of an import (a dry run or a commit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from geo.errors import InvalidInput
from geo.registers.fields import GOVERNANCE_STATUS, MODE_STATUS


@dataclass
class LedgerTable:
    """The data rows of a ledger, cells as read, under field names.

    ``rows`` are dicts field → raw cell (str, int, float, datetime or None) and
    ``row_numbers`` the spreadsheet row (1-based, as Excel shows it) or CSV line.
    ``columns`` maps each recognised field to the header it came from; ``ignored``
    lists the headers not used.
    """

    rows: list[dict[str, Any]]
    row_numbers: list[int]
    columns: dict[str, str]
    ignored: list[str]
    encoding: str | None = None
    header_row: int = 1


@dataclass
class RowReport:
    """What became of one ledger row. ``reason``/``reason_zh`` explain non-ok rows."""

    row: int
    status: str
    key: str | None = None
    name: str | None = None
    reason: str | None = None
    reason_zh: str | None = None
    score: float | None = None
    matched: str | None = None
    action: str | None = None  # new | changed | unchanged, filled by the import

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class CompoundRecord:
    """One compound as the ledger states it; lon/lat WGS-84 once known."""

    row: int
    key: str
    name: str
    address: str | None
    households: int | None
    buildings: int | None
    year_built: int | None
    management_type: str
    lon: float | None = None
    lat: float | None = None
    crs_in: str | None = None
    located_by: str | None = None
    match_score: float | None = None
    matched: str | None = None
    campaign: dict | None = None  # governance fields, when the ledger has them

    @property
    def governance_status(self) -> str:
        if self.management_type == "unowned":
            mode = (self.campaign or {}).get("mode")
            return MODE_STATUS.get(mode, "none")
        return GOVERNANCE_STATUS[self.management_type]

    def as_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class WorkerRecord:
    """One person of a workers ledger with the unit ids they serve."""

    row: int
    key: str
    name: str
    phone: str | None
    role: str
    unit_ids: list[int] = field(default_factory=list)


class RowError(ValueError):
    """A cell that cannot be read: fatal for its row."""

    def __init__(self, message: str, message_zh: str):
        super().__init__(message)
        self.message_zh = message_zh


@dataclass
class SpecialRecord:
    """The responsible unit and contact of one live special grid."""

    row: int
    key: str
    name: str
    responsible_unit: str
    contact_name: str | None
    contact_phone: str | None


@dataclass
class ImportOutcome:
    """Per-row report and totals of one ledger import (dry run or commit)."""

    kind: str
    rows: list[RowReport]
    committed: bool
    columns: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    audit_id: int | None = None

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.status] = out.get(r.status, 0) + 1
            if r.action:
                out[r.action] = out.get(r.action, 0) + 1
        return out

    @property
    def changed(self) -> bool:
        return any(r.action in ("new", "changed") for r in self.rows)


def refuse_if_fatal(reports: list[RowReport], commit: bool) -> None:
    """A commit with any fatal row is refused whole (``InvalidInput`` carrying the report)."""
    fatal = [r for r in reports if r.status == "fatal"]
    if commit and fatal:
        raise InvalidInput(
            f"{len(fatal)} row(s) cannot be imported; nothing was written. Fix them and "
            "import again (rows: " + ", ".join(str(r.row) for r in fatal[:20]) + ")",
            f"{len(fatal)} 行无法导入，未写入任何数据。请修改后重新导入（行："
            + "、".join(str(r.row) for r in fatal[:20])
            + "）",
            rows=[r.as_dict() for r in reports],
        )
