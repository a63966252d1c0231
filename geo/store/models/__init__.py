"""Database tables (SQLAlchemy 2 + GeoAlchemy2), one module per group of entities.
Schema changes go through Alembic; ``Base.metadata`` is what autogenerate compares.

- ``base``: the declarative ``Base``, naming convention and shared checks;
- ``units``: boundary sets, units and their versions, special grids, place aliases;
- ``registers``: grid workers and assignments, compounds, ledger and campaign records;
- ``incidents``: incidents and their transitions;
- ``patrol``: patrol tracks, purged-track checksums and visits;
- ``access``: API keys and the audit log;
- ``accounts``: people who sign in to the pages and their sessions.

Every name is re-exported here, so ``from geo.store.models import X`` works for all of
them (and for the vocabulary the tables check against, as before).
"""

from geo.store.models.access import API_SCOPES, KEY_ROLES, ApiKey, AuditEntry
from geo.store.models.accounts import ACCOUNT_ROLES, Account, AccountSession
from geo.store.models.base import NAMING, Base
from geo.store.models.incidents import Incident, IncidentTransition
from geo.store.models.patrol import PatrolTrack, PatrolTrackPurged, PatrolVisit
from geo.store.models.registers import (
    GOVERNANCE_MODES,
    LOCATED_BY,
    Compound,
    CompoundGovernance,
    CompoundLocation,
    GridAssignment,
    GridWorker,
    LedgerUnplaced,
)
from geo.store.models.units import (
    AdminUnit,
    AdminUnitVersion,
    BoundarySet,
    PlaceAlias,
    SpecialGrid,
)
from geo.vocab import (
    BOUNDARY_SET_STATUSES,
    INCIDENT_ACTIONS,
    INCIDENT_SOURCES,
    INCIDENT_STATUSES,
    LEVELS,
    MANAGEMENT_TYPES,
    PATROL_MODES,
    SPECIAL_GRID_KINDS,
    WORKER_ROLES,
)

__all__ = [
    "ACCOUNT_ROLES",
    "API_SCOPES",
    "BOUNDARY_SET_STATUSES",
    "GOVERNANCE_MODES",
    "INCIDENT_ACTIONS",
    "INCIDENT_SOURCES",
    "INCIDENT_STATUSES",
    "KEY_ROLES",
    "LEVELS",
    "LOCATED_BY",
    "MANAGEMENT_TYPES",
    "NAMING",
    "PATROL_MODES",
    "SPECIAL_GRID_KINDS",
    "WORKER_ROLES",
    "Account",
    "AccountSession",
    "AdminUnit",
    "AdminUnitVersion",
    "ApiKey",
    "AuditEntry",
    "Base",
    "BoundarySet",
    "Compound",
    "CompoundGovernance",
    "CompoundLocation",
    "GridAssignment",
    "GridWorker",
    "Incident",
    "IncidentTransition",
    "LedgerUnplaced",
    "PatrolTrack",
    "PatrolTrackPurged",
    "PatrolVisit",
    "PlaceAlias",
    "SpecialGrid",
]
