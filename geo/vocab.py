"""The domain's vocabulary: the words every layer shares, with no imports.

Levels of the four-level grid, kinds of special grid, incident sources and states,
worker roles, patrol modes. Everything else (the store's check constraints, the
topology checks, the locator's chains, the map legends) reads them from here, so a
new level or kind is added in one place.
"""

#: The four levels, top down: district 区/县 → street 街道/镇 → community 社区/村 → grid 网格.
LEVELS: tuple[str, ...] = ("district", "street", "community", "grid")
#: The same levels bottom up: the order an incident escalates in.
LEVEL_ORDER: tuple[str, ...] = tuple(reversed(LEVELS))
LEVEL_RANK: dict[str, int] = {lvl: i for i, lvl in enumerate(LEVELS)}

SPECIAL_GRID_KINDS: tuple[str, ...] = (
    "school",
    "hospital",
    "industrial_park",
    "market",
    "enterprise",
    "scenic",
    "campus",
    "other",
)
MANAGEMENT_TYPES: tuple[str, ...] = ("property_company", "unit", "self_governed", "unowned")
INCIDENT_SOURCES: tuple[str, ...] = (
    "grid_worker",
    "hotline_12345",
    "camera",
    "patrol",
    "citizen",
    "other",
)
INCIDENT_STATUSES: tuple[str, ...] = ("open", "assigned", "escalated", "closed")
INCIDENT_ACTIONS: tuple[str, ...] = ("assign", "escalate", "close", "reopen")
WORKER_ROLES: tuple[str, ...] = ("worker", "leader", "volunteer", "patroller")
PATROL_MODES: tuple[str, ...] = ("foot", "bicycle", "vehicle")
BOUNDARY_SET_STATUSES: tuple[str, ...] = ("draft", "active", "retired")
#: File formats boundaries are exported in (boundaries.export, `gridmap export --format`).
BOUNDARY_EXPORT_FORMATS: tuple[str, ...] = ("gpkg", "geojson", "shp", "csv")
#: Least forward-geocoder score (0–100) that places a ledger row by its address.
LEDGER_MIN_SCORE = 60.0

#: Local time of every district we serve (dates of visits, "today", due times).
TZ = "Asia/Shanghai"

# Plausible values (checked by geo.plausible at every door: API models, files, rows).
#: Earliest time accepted for an incident or a patrol fix (ISO 8601, UTC).
EARLIEST_TIME = "2000-01-01T00:00:00+00:00"
#: How far ahead of the server's clock a time may lie (clocks of phones run fast).
MAX_FUTURE_HOURS = 24
#: Longest name (a unit, special grid, compound, person) in characters.
MAX_NAME_CHARS = 200
#: Codes (units, special grids, workers): letters, digits, ``_`` and ``-`` only.
CODE_PATTERN = r"^[0-9A-Za-z_-]+$"
MAX_CODE_CHARS = 64
