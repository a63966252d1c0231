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

#: Local time of every district we serve (dates of visits, "today", due times).
TZ = "Asia/Shanghai"
