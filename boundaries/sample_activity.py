"""People and activity of the sample district: grid workers, incidents, patrol pings.

* Workers: one grid worker per grid except a few vacant grids, one grid leader per
  community (leaders carry ``community_code`` and no ``grid_code``).
* Incidents: the 30 days ending :data:`END_DATE` (inclusive, Asia/Shanghai), a few
  dense hotspots over a background weighted toward the city, more reports on
  Monday/Tuesday than at the weekend, mostly in the daytime.
* Patrol pings: some grid workers and volunteers walk their own area for about an
  hour on most days; fixes every 10–30 s with metre-level noise, a few poor fixes and
  a few one-fix jumps. Some communities never upload tracks, which leaves gaps.

Positions are drawn in EPSG:4547 metres and converted to WGS-84 at the end.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries.sample_geometry import random_points_in, xy_to_wgs84
from boundaries.sample_hierarchy import Hierarchy
from boundaries.sample_names import person_names, phone_numbers

TZ = "Asia/Shanghai"
END_DATE = pd.Timestamp("2026-10-31", tz=TZ)
N_DAYS = 30
INCIDENT_SOURCES = {
    # source: (share, external id prefix)
    "grid_worker": (0.35, "GW"),
    "hotline_12345": (0.25, "12345"),
    "camera": (0.15, "CAM"),
    "patrol": (0.1, "PT"),
    "citizen": (0.1, "CZ"),
    "other": (0.05, "OT"),
}
INCIDENT_CATEGORIES = {
    "environment": "环境卫生",
    "public_order": "治安秩序",
    "road_facility": "道路设施",
    "noise": "噪音扰民",
    "illegal_construction": "违法建设",
    "safety_hazard": "安全隐患",
    "dispute": "矛盾纠纷",
    "other": "其他",
}
N_INCIDENTS = 6000
# Monday .. Sunday: offices and hotlines are busiest at the start of the week.
WEEKDAY_FACTOR = np.array([1.3, 1.22, 1.05, 1.0, 0.95, 0.72, 0.66])
# Hour 0..23 of a report: quiet at night, peaks mid-morning and mid-afternoon.
HOUR_WEIGHT = np.array([
    0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.7, 1.5, 2.6, 3.0, 3.0, 2.6,
    1.8, 1.7, 2.4, 2.7, 2.6, 2.3, 1.8, 1.5, 1.2, 0.9, 0.6, 0.35,
])  # fmt: skip
_ZONE_INCIDENT_RATE = {"old": 60.0, "new": 25.0, "rural": 3.0}  # per km², relative


def build_workers(h: Hierarchy, rng: np.random.Generator, vacant: int = 7) -> pd.DataFrame:
    """Grid workers (one per grid but ``vacant`` grids) and one leader per community."""
    empty = set(rng.choice(len(h.grids), vacant, replace=False).tolist())
    served = [g for i, g in enumerate(h.grids) if i not in empty]
    n = len(served) + len(h.communities)
    df = pd.DataFrame({
        "worker_id": [f"W{i + 1:04d}" for i in range(n)],
        "name": person_names(rng, n),
        "role": ["worker"] * len(served) + ["leader"] * len(h.communities),
        "phone": phone_numbers(rng, n),
        "grid_code": [g.code for g in served] + [None] * len(h.communities),
        "community_code": [g.parent_code for g in served] + [c.code for c in h.communities],
    })  # fmt: skip
    return df


def _to_frame_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = xy_to_wgs84(x, y)
    return np.round(lon, 6), np.round(lat, 6)


def build_incidents(h: Hierarchy, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """About 6,000 incidents with hotspots and weekly/daily rhythms."""
    days = pd.date_range(end=END_DATE, periods=N_DAYS, freq="D")
    factor = WEEKDAY_FACTOR[days.day_of_week]
    per_day = rng.poisson(N_INCIDENTS * factor / factor.sum())
    n = int(per_day.sum())
    day = np.repeat(np.arange(N_DAYS), per_day)
    hour = rng.choice(24, n, p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    seconds = hour * 3600 + rng.integers(0, 3600, n)
    reported = days[day] + pd.to_timedelta(seconds, unit="s")

    # Space: 40% from a few hotspots (a market street, a station square…), the rest
    # spread over grids by a zone rate, uniformly inside each grid.
    inner = h.district.geometry.buffer(-5.0)
    shapely.prepare(inner)
    cats = list(INCIDENT_CATEGORIES)
    urban = [g for g in h.grids if g.zone != "rural"]
    n_hot = 6
    hot_grids = [urban[i] for i in rng.choice(len(urban), n_hot - 1, replace=False)]
    rural = [g for g in h.grids if g.zone == "rural"]
    hot_grids.append(rural[int(rng.integers(len(rural)))])  # a village market
    hot_xy = np.array([(g.geometry.centroid.x, g.geometry.centroid.y) for g in hot_grids])
    hot_sigma = rng.uniform(120, 350, n_hot)
    hot_mix = rng.dirichlet(np.full(len(cats), 0.6), n_hot)  # each hotspot has its own issues
    base_mix = np.array([0.24, 0.12, 0.16, 0.1, 0.08, 0.12, 0.1, 0.08])
    is_hot = rng.random(n) < 0.4
    which = rng.integers(0, n_hot, n)
    x, y = np.empty(n), np.empty(n)
    todo = np.flatnonzero(is_hot)
    while todo.size:
        px = hot_xy[which[todo], 0] + rng.normal(0, hot_sigma[which[todo]])
        py = hot_xy[which[todo], 1] + rng.normal(0, hot_sigma[which[todo]])
        ok = shapely.contains_xy(inner, px, py)
        x[todo[ok]], y[todo[ok]] = px[ok], py[ok]
        todo = todo[~ok]
    w = np.array([_ZONE_INCIDENT_RATE[g.zone] * g.geometry.area for g in h.grids])
    bg = np.flatnonzero(~is_hot)
    bg_grid = rng.choice(len(h.grids), bg.size, p=w / w.sum())
    for gi in np.unique(bg_grid):
        rows = bg[bg_grid == gi]
        area = h.grids[gi].geometry.intersection(inner)
        x[rows], y[rows] = random_points_in(area, rows.size, rng)
    mix = np.where(is_hot[:, None], hot_mix[which], base_mix)
    # Inverse-CDF draw, one category per row from its own mix.
    pick = (mix.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    category = np.array(cats)[np.minimum(pick, len(cats) - 1)]

    names = list(INCIDENT_SOURCES)
    share = np.array([INCIDENT_SOURCES[s][0] for s in names])
    source = np.array(names)[rng.choice(len(names), n, p=share)]
    order = np.argsort(reported.asi8, kind="stable")
    reported, source, category = reported[order], source[order], category[order]
    x, y = x[order], y[order]
    # Per source and day a running number: 12345-2026100100123.
    frame = pd.DataFrame({"source": source, "date": reported.strftime("%Y%m%d")})
    seq = frame.groupby(["source", "date"]).cumcount() + 1
    prefix = frame["source"].map({s: p for s, (_, p) in INCIDENT_SOURCES.items()})
    external_id = prefix + "-" + frame["date"] + seq.map("{:05d}".format)
    age_days = (END_DATE + pd.Timedelta(days=1) - reported).total_seconds().to_numpy() / 86400
    closed = rng.random(n) < 0.97 - 0.6 * np.exp(-age_days / 3.0)
    lon, lat = _to_frame_points(x, y)
    df = pd.DataFrame({
        "source": source,
        "external_id": external_id.to_numpy(),
        "reported_at": reported,
        "category": category,
        "status": np.where(closed, "closed", "open"),
        "lon": lon,
        "lat": lat,
    })  # fmt: skip
    return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
