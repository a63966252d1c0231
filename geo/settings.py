"""Service settings, read from the environment (prefix ``GRIDMAP_``).

One ``Settings`` object is built by whoever starts the program (the CLI or the
app factory) and passed down; nothing here is built at import time.

``Settings`` is composed of one class per concern (as tipg splits ``APISettings``,
``DatabaseSettings``…): ``DatabaseSettings``, ``ServiceSettings``,
``DistrictSettings``, ``H3Settings``, ``MapSettings``, ``LimitsSettings`` and
``PurgeSettings``. It inherits their fields, so access stays flat
(``settings.h3_point_res``) and every variable keeps its name (``GRIDMAP_<FIELD>``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Storage CRS of every geometry column (WGS-84 lon/lat).
STORAGE_SRID = 4326
DEFAULT_PG_PORT = 55432


class _GridmapSettings(BaseSettings):
    """The environment every concern reads: ``GRIDMAP_<FIELD>``, unknown names ignored."""

    model_config = SettingsConfigDict(env_prefix="GRIDMAP_", env_file=None, extra="ignore")


class DatabaseSettings(_GridmapSettings):
    """Where the PostGIS is: an existing one, or the project-local cluster."""

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of an existing PostGIS. Unset: the project-local cluster.",
    )
    pg_port: int | None = Field(
        default=None,
        description="Port of the project-local PostGIS cluster. Unset: the port `gridmap db "
        "up` chose and recorded in <pg_dir>/port (55432 unless that was taken).",
    )
    pg_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "pg",
        description="Folder of the project-local PostGIS cluster (git-ignored).",
    )
    pg_database: str = "gridmap"
    pg_user: str = "gridmap"

    def local_pg_port(self) -> int:
        """The local cluster's port: explicit setting, else the recorded one, else default."""
        if self.pg_port:
            return self.pg_port
        try:
            return int((Path(self.pg_dir) / "port").read_text().strip())
        except (OSError, ValueError):
            return DEFAULT_PG_PORT

    def sqlalchemy_url(self, database: str | None = None) -> str:
        """The URL to connect to: ``database_url`` or the project-local cluster's."""
        if self.database_url:
            return self.database_url
        db = database or self.pg_database
        return f"postgresql+psycopg://{self.pg_user}@127.0.0.1:{self.local_pg_port()}/{db}"


class ServiceSettings(_GridmapSettings):
    """How the running service listens, answers and trusts its callers."""

    host: str = "127.0.0.1"
    port: int = 8000
    default_lang: str = "zh"
    key_cache_seconds: float = Field(
        default=10.0, description="How long a worker trusts a looked-up key (revocation delay)."
    )
    # 15 minutes covers a PostGIS restart, minor upgrade or failover, while bounding how
    # long a key revoked just before an outage (and not used since) could still geocode.
    key_grace_seconds: float = Field(
        default=900.0,
        ge=0,
        description="While PostGIS is unavailable, a key the worker last saw valid keeps "
        "working this long after that check, for reverse geocoding and search only "
        "(writes 503); unknown keys 503. 0: no grace.",
    )
    require_api_key: bool = Field(
        default=False,
        description="Refuse callers without an API key (turn on outside a local demo).",
    )
    refresh_seconds: float = Field(
        default=10.0, description="How often each worker checks for new live boundaries."
    )
    otel: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry traces, metrics and logs (needs an "
        "OpenTelemetry SDK configured in the process); off, it costs nothing per request.",
    )
    ogc_unconditional_writes: bool = Field(
        default=False,
        description="Accept OGC API PUT/PATCH/DELETE without If-Match (QGIS does not send "
        "it). Writes stay serialised, validated and audited, but a colleague's edit made "
        "since the client loaded the feature can be overwritten.",
    )
    # Sign-in of people (api/sessions.py): server-side sessions in PostgreSQL.
    session_idle_minutes: float = Field(
        default=30.0, description="A signed-in page session ends after this long unused."
    )
    session_max_hours: float = Field(
        default=12.0, description="A session ends this long after sign-in, used or not."
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark the session cookie Secure even when the request did not arrive "
        "over https (set it behind a TLS-terminating proxy).",
    )
    # Security (api/security.py): browser origins allowed by CORS, none by default.
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host:port) whose pages may call the API from a "
        "browser; empty: no cross-origin access.",
    )


class DistrictSettings(_GridmapSettings):
    """The district's own data: the generated sample and the incident case rules."""

    data_dir: Path = Field(
        default=PROJECT_ROOT / "var" / "sample",
        description="Where `gridmap sample load` writes the generated sample files.",
    )
    sample_seed: int = 410799
    case_rules_file: Path | None = Field(
        default=None,
        description="TOML/JSON file with the district's incident categories, precedence "
        "rules and time limits (geo/incidents/rules.py); unset: the defaults.",
    )


class H3Settings(_GridmapSettings):
    """H3 resolutions (DESIGN.md): heatmap, patrol coverage, stored point cell."""

    h3_heatmap_res: int = 9
    h3_patrol_res: int = 10
    h3_point_res: int = 12


class MapSettings(_GridmapSettings):
    """The map pages: their basemap (web_map/basemaps.py) and template overrides."""

    template_dir: Path | None = Field(
        default=None,
        description="Folder of page templates that override the shipped ones "
        "(web_map/templates/, same file names); unset: the shipped templates.",
    )

    tiles_url: str | None = Field(
        default=None, description="Intranet XYZ tile URL for a basemap; unset: no basemap."
    )
    # none: the grid layers alone.
    basemap: Literal["none", "local", "tianditu", "amap"] = Field(
        default="none",
        description="none | local (basemap_url: XYZ URL or a tile folder served by the app) "
        "| tianditu (key in tianditu_key) | amap (GCJ-02: overlays are shifted to match).",
    )
    basemap_url: str | None = Field(
        default=None,
        description="local: XYZ URL or folder of {z}/{x}/{y}.png; tianditu/amap: an "
        "intranet mirror's XYZ URL instead of the public servers.",
    )
    tianditu_key: str | None = Field(default=None, description="Tianditu key (tk) for basemap.")


class LimitsSettings(_GridmapSettings):
    """Request body limits per endpoint family, in bytes (413 above them)."""

    max_body_bytes: int = Field(
        default=1 * 2**20, description="Any endpoint not listed below (JSON edits, queries)."
    )
    max_body_geocode_batch_bytes: int = Field(
        default=2 * 2**30, description="POST /v1/geocode/reverse/batch (CSV/Parquet/Arrow)."
    )
    max_body_incidents_bytes: int = Field(
        default=64 * 2**20, description="POST /v1/incidents (JSON, NDJSON, CSV, GeoJSON)."
    )
    max_body_open311_bytes: int = Field(
        default=64 * 2**10, description="POST /open311/v2/requests.json (one form)."
    )
    max_body_patrol_bytes: int = Field(
        default=100 * 2**20, description="POST /v1/patrol/tracks (GPX, GeoJSON, CSV)."
    )
    max_body_boundary_upload_bytes: int = Field(
        default=200 * 2**20, description="POST /v1/boundary-sets (GeoJSON, GPKG, zipped SHP)."
    )
    max_body_ledger_bytes: int = Field(
        default=20 * 2**20, description="POST /v1/registers/ledgers/import (XLSX, CSV)."
    )
    max_body_edit_bytes: int = Field(
        default=16 * 2**20,
        description="Geometry edits: POST/PUT/PATCH under /ogc/collections/, /v1/grids/, "
        "/v1/special-grids.",
    )


class PurgeSettings(_GridmapSettings):
    """Personal data: how long raw GPS geometry of patrol tracks is kept."""

    raw_track_days: int = Field(
        default=90,
        ge=1,
        description="Raw patrol track geometries older than this are purged by `gridmap "
        "purge`; per-cell visits are kept.",
    )
    purge_interval_hours: float = Field(
        default=24.0,
        ge=0,
        description="How often the running service purges raw tracks older than "
        "raw_track_days on its own (0: only `gridmap purge`).",
    )


class Settings(
    PurgeSettings,
    LimitsSettings,
    MapSettings,
    H3Settings,
    DistrictSettings,
    ServiceSettings,
    DatabaseSettings,
):
    """Runtime configuration; every field can be set as ``GRIDMAP_<NAME>``.

    The fields are those of the concerns it inherits (listed last to first so that
    the fields come in the order database, service, district, H3, map, limits, purge);
    the environment prefix comes with them.
    """
