"""Incident heat (pure): counts per H3 cell and per grid, rates, change vs the last window.

Inputs are plain arrays and frames (the incidents of :mod:`geo.store.heat`); nothing
here touches the database or HTTP. Every h3 call goes through :mod:`geo.hexgrid`.

Time windows are half-open, ``start <= reported_at < end``, and the previous window
is the one of equal length just before: ``start - (end - start) <= t < start``. A
bound given as a date means that Beijing day (China has one zone and no daylight
saving): ``from=2026-10-01`` starts at 00:00 +08:00 that day, ``to=2026-10-31``
ends at 24:00 +08:00 on the 31st, so both days are included.

A cell's count is of the incidents whose point lies in it, binned from the points at
the requested resolution (not from the stored finer cell: H3 children do not nest
exactly inside their parent). A grid's count is of the incidents placed in it at
intake. Rates are per 1,000 households of the compounds in the grid; NaN where a
grid has no households on record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Geod

from geo import hexgrid
from geo.errors import InvalidInput

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

# Report times: a column of aware datetimes (or anything pandas.to_datetime reads).
Times: TypeAlias = "pd.Series | np.ndarray | Sequence[datetime]"

BEIJING = timezone(timedelta(hours=8))
MIN_RES, MAX_RES = 7, 12
_GEOD = Geod(ellps="WGS84")
_EARLIEST = datetime(1970, 1, 1, tzinfo=BEIJING)
_LATEST = datetime(2100, 1, 1, tzinfo=BEIJING)

CELL_COLUMNS = ["cell", "count", "previous", "change", "change_pct", "rising"]
RISING_MIN_GAIN = 3
"""A rising hotspot gained at least this many incidents on the previous window and at
least doubled. Only flagged when the previous window holds any incident at all
(otherwise every cell would look new: there is simply no earlier data)."""
GRID_COLUMNS = [
    "unit_id",
    "code",
    "name",
    "count",
    "previous",
    "change",
    "households",
    "per_1000_households",
    "previous_per_1000_households",
]


@dataclass(frozen=True)
class Window:
    """A half-open time window ``[start, end)`` of aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise InvalidInput(
                f"the window ends ({self.end.isoformat()}) at or before it starts "
                f"({self.start.isoformat()})",
                f"时间窗口的结束时间（{self.end.isoformat()}）不晚于开始时间"
                f"（{self.start.isoformat()}）",
            )

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def days(self) -> float:
        return self.length / timedelta(days=1)

    @property
    def previous(self) -> Window:
        """The window of equal length that ends where this one starts."""
        return Window(self.start - self.length, self.start)

    def first_day(self) -> date:
        """Beijing date of the first instant."""
        return self.start.astimezone(BEIJING).date()

    def last_day(self) -> date:
        """Beijing date of the last instant (the end itself is excluded)."""
        return (self.end - timedelta(microseconds=1)).astimezone(BEIJING).date()


def parse_bound(value: str | None, *, is_end: bool) -> datetime | None:
    """Parse ``from``/``to``: an ISO date (a Beijing day) or datetime (naive = Beijing).

    A date as the end bound means the end of that day (the next day's 00:00).

    Raises
    ------
    InvalidInput
        If the text is neither an ISO date nor an ISO datetime.
    """
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if is_end:
                day += timedelta(days=1)
            return datetime.combine(day, time(0), BEIJING)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"{'to' if is_end else 'from'}={text!r} is not an ISO date (2026-10-01) "
            "or datetime (2026-10-01T08:00:00+08:00)",
            f"{'to' if is_end else 'from'}={text!r} 不是 ISO 日期（2026-10-01）"
            "或时间（2026-10-01T08:00:00+08:00）",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=BEIJING)


def resolve_window(
    start: datetime | None, end: datetime | None, days: int, newest: datetime | None
) -> Window:
    """The window asked for; without ``to`` it ends at the end of the newest incident's day.

    Without ``from`` it starts ``days`` days before its end. ``newest`` is the newest
    incident's report time (None: none stored, then today is used).
    """
    if days < 1:
        raise InvalidInput("days must be at least 1", "天数至少为 1")
    try:
        if end is None:
            if start is not None:
                end = start + timedelta(days=days)
            else:
                ref = (newest or datetime.now(tz=BEIJING)).astimezone(BEIJING).date()
                end = datetime.combine(ref + timedelta(days=1), time(0), BEIJING)
        if start is None:
            start = end - timedelta(days=days)
        window = Window(start, end)
        earliest = window.previous.start
    except OverflowError:
        earliest = None
    if earliest is None or earliest < _EARLIEST or window.end > _LATEST:
        raise InvalidInput(
            "the window (and the previous one of equal length) must lie between 1970 and 2100",
            "时间窗口（及等长的上一时段）须在 1970 年至 2100 年之间",
        )
    return window


def check_res(res: int) -> int:
    """``res`` if it is a heat resolution (7–12), else :class:`InvalidInput`."""
    if not MIN_RES <= int(res) <= MAX_RES:
        raise InvalidInput(
            f"res must be between {MIN_RES} and {MAX_RES}, not {res}",
            f"分辨率 res 须在 {MIN_RES} 到 {MAX_RES} 之间，而不是 {res}",
        )
    return int(res)


def _masks(when: pd.Series, window: Window) -> tuple[np.ndarray, np.ndarray]:
    t = pd.to_datetime(pd.Series(when), utc=True)
    prev = window.previous
    now = (t >= pd.Timestamp(window.start)) & (t < pd.Timestamp(window.end))
    before = (t >= pd.Timestamp(prev.start)) & (t < pd.Timestamp(prev.end))
    return now.to_numpy(dtype=bool), before.to_numpy(dtype=bool)


def rising(count: npt.ArrayLike, previous: npt.ArrayLike) -> np.ndarray:
    """Rising hotspots: +:data:`RISING_MIN_GAIN` or more and at least doubled.

    All False when ``previous`` is all zero (no data before the window).
    """
    count = np.asarray(count, dtype=np.int64)
    previous = np.asarray(previous, dtype=np.int64)
    if previous.sum() == 0:
        return np.zeros(count.shape, dtype=bool)
    return (count - previous >= RISING_MIN_GAIN) & (count >= 2 * previous)


def _change(frame: pd.DataFrame) -> pd.DataFrame:
    frame["change"] = frame["count"] - frame["previous"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["change_pct"] = np.where(
            frame["previous"] > 0, 100.0 * frame["change"] / frame["previous"], np.nan
        )
    frame["rising"] = rising(frame["count"], frame["previous"])
    return frame


def cell_counts(
    lon: npt.ArrayLike, lat: npt.ArrayLike, when: Times, window: Window, res: int
) -> pd.DataFrame:
    """Incidents per H3 cell in ``window`` and in the window before it.

    Parameters
    ----------
    lon, lat
        WGS-84 points of the incidents (any window; others are ignored).
    when
        Their report times (aware).
    window
        The current window; the previous one is ``window.previous``.
    res
        H3 resolution, 7–12.

    Returns
    -------
    pandas.DataFrame
        :data:`CELL_COLUMNS`: cell (int64), count, previous, change (count −
        previous), change_pct (NaN where previous is 0) and rising (see
        :func:`rising`); one row per cell with an incident in either window, busiest
        first, then by cell.
    """
    res = check_res(res)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    now, before = _masks(when, window)
    keep = now | before
    cells = hexgrid.cells_of(lon[keep], lat[keep], res)
    frame = pd.DataFrame({"cell": cells, "now": now[keep], "before": before[keep]})
    agg = frame.groupby("cell").agg(count=("now", "sum"), previous=("before", "sum"))
    out = agg.reset_index().astype({"cell": "int64", "count": "int64", "previous": "int64"})
    out = _change(out)
    return out.sort_values(["count", "cell"], ascending=[False, True], ignore_index=True)[
        CELL_COLUMNS
    ]


def daily_cell_counts(cells: np.ndarray, when: Times, window: Window) -> pd.DataFrame:
    """Incidents per (cell, Beijing day) inside ``window``: cell, day (0 = first day), count.

    ``cells`` are the incidents' cells at the heat resolution, one per row of ``when``.
    """
    t = pd.to_datetime(pd.Series(when), utc=True)
    inside = ((t >= pd.Timestamp(window.start)) & (t < pd.Timestamp(window.end))).to_numpy()
    local = t[inside].dt.tz_convert(BEIJING).dt.normalize().dt.tz_localize(None)
    first = pd.Timestamp(window.first_day())
    day = ((local - first).dt.days).to_numpy(dtype=np.int64)
    frame = pd.DataFrame({"cell": np.asarray(cells, dtype=np.int64)[inside], "day": day})
    return frame.groupby(["cell", "day"]).size().rename("count").reset_index()


def rate_per_1000(count: npt.ArrayLike, households: npt.ArrayLike) -> np.ndarray:
    """``count`` per 1,000 households; NaN where there are no households."""
    count = np.asarray(count, dtype=float)
    households = np.asarray(households, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(households > 0, 1000.0 * count / households, np.nan)


def grid_totals(
    grid_unit_id: pd.Series | np.ndarray | Sequence[int | None],
    when: Times,
    window: Window,
    grids: pd.DataFrame,
    households: dict[int, int] | pd.Series,
) -> pd.DataFrame:
    """Incidents per grid in ``window`` and before it, with rates per 1,000 households.

    Parameters
    ----------
    grid_unit_id
        The grid unit id each incident was placed in at intake (None/NaN: outside).
    when
        Report times, one per incident.
    window
        The current window.
    grids
        The grids to report: ``unit_id``, ``code``, ``name`` (every one gets a row,
        zero counts too), in the order given.
    households
        Households per grid unit id.

    Returns
    -------
    pandas.DataFrame
        :data:`GRID_COLUMNS`.
    """
    now, before = _masks(when, window)
    ids = pd.to_numeric(pd.Series(grid_unit_id), errors="coerce").to_numpy()
    uid = grids["unit_id"].astype("int64").to_numpy()
    now_counts = pd.Series(ids[now]).value_counts()
    before_counts = pd.Series(ids[before]).value_counts()
    hh = pd.Series(households, dtype="float64") if len(households) else pd.Series(dtype=float)
    out = pd.DataFrame(
        {
            "unit_id": uid,
            "code": grids["code"].astype(str).to_numpy(),
            "name": grids["name"].astype(str).to_numpy(),
        }
    )
    out["count"] = pd.Series(uid).map(now_counts).fillna(0).astype("int64").to_numpy()
    out["previous"] = pd.Series(uid).map(before_counts).fillna(0).astype("int64").to_numpy()
    out["change"] = out["count"] - out["previous"]
    out["households"] = pd.Series(uid).map(hh).fillna(0).astype("int64").to_numpy()
    out["per_1000_households"] = rate_per_1000(out["count"], out["households"])
    out["previous_per_1000_households"] = rate_per_1000(out["previous"], out["households"])
    return out[GRID_COLUMNS]


def geodesic_area_km2(geoms: np.ndarray | Sequence[BaseGeometry | None]) -> np.ndarray:
    """Areas of lon/lat (Multi)Polygons on the WGS-84 ellipsoid, in km²."""
    out = np.zeros(len(geoms), dtype=float)
    for i, g in enumerate(geoms):
        if g is not None and not g.is_empty:
            out[i] = abs(_GEOD.geometry_area_perimeter(g)[0]) / 1e6
    return out


def cell_features(cells: pd.DataFrame) -> dict:
    """A GeoJSON FeatureCollection of the cells' hexagons with their figures.

    ``cells`` as :func:`cell_counts` returns it; ids become H3 hex strings and NaN
    becomes null.
    """
    polys = hexgrid.cell_polygons(cells["cell"].to_numpy())
    features = []
    for row, poly in zip(cell_records(cells), polys, strict=True):
        features.append(
            {"type": "Feature", "properties": row, "geometry": shapely.geometry.mapping(poly)}
        )
    return {"type": "FeatureCollection", "features": features}


def _plain(v):
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if np.isnan(v) else round(float(v), 4)
    return v


def cell_records(cells: pd.DataFrame) -> list[dict]:
    """Rows of :func:`cell_counts` as JSON-ready dicts (cell as H3 hex string)."""
    out = []
    for r in cells.itertuples(index=False):
        d = {k: _plain(getattr(r, k)) for k in CELL_COLUMNS}
        d["cell"] = hexgrid.cell_to_str(r.cell)
        out.append(d)
    return out


def grid_records(grids: pd.DataFrame) -> list[dict]:
    """Rows of :func:`grid_totals` as JSON-ready dicts (NaN → null)."""
    return [{k: _plain(v) for k, v in row.items()} for row in grids.to_dict("records")]
