"""Special grids (专属网格) of the sample district.

Placed in EPSG:4547 metres inside the grids built by :mod:`boundaries.sample_hierarchy`
and returned as a WGS-84 GeoDataFrame. Each is a rotated rectangle (an oval for
scenic spots) aligned with the grid it starts in, kept 15 m inside the district. A
kind picks a zone first (schools, hospitals and markets mostly in the city,
industrial parks only in the towns), then a grid of that zone by area. Special grids
may overlap comprehensive grids and compounds but not each other. Names are built
from the community or town they lie in and numbered when they repeat.
"""

from __future__ import annotations

import math
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import Polygon

from boundaries.sample_geometry import (
    long_axis_angle,
    random_points_in,
    rotated_rect,
    to_wgs84,
)
from boundaries.sample_hierarchy import Hierarchy, Unit
from boundaries.sample_names import (
    DISTRICT_CODE,
    DISTRICT_NAME,
    chinese_number,
    person_names,
    phone_numbers,
    short_place,
)

SPECIAL_KINDS = (
    "school", "hospital", "industrial_park", "market", "enterprise", "scenic", "campus", "other",
)  # fmt: skip
# kind: (count, zone weights old/new/rural, width range m, length range m)
_Spec = tuple[int, tuple[float, float, float], tuple[int, int], tuple[int, int]]
_SPECIAL_SPEC: dict[str, _Spec] = {
    "school": (70, (0.45, 0.4, 0.15), (110, 200), (150, 280)),
    "hospital": (25, (0.5, 0.4, 0.1), (110, 220), (150, 300)),
    "industrial_park": (12, (0.0, 0.0, 1.0), (400, 800), (600, 1200)),
    "market": (30, (0.55, 0.3, 0.15), (60, 130), (80, 180)),
    "enterprise": (45, (0.1, 0.3, 0.6), (150, 350), (200, 500)),
    "scenic": (8, (0.1, 0.2, 0.7), (300, 700), (400, 1000)),
    "campus": (10, (0.0, 0.8, 0.2), (380, 600), (500, 850)),
    "other": (30, (0.35, 0.35, 0.3), (70, 180), (100, 240)),
}
_FIRMS = (
    "华丰", "豫北", "新亚", "金龙", "恒通", "瑞丰", "宏达", "中原", "天力", "卫华", "金穗", "嘉禾",
)  # fmt: skip
_TRADES = (
    "机械", "纺织", "化工", "电池", "食品", "建材", "制药", "电气", "包装", "物流", "汽车零部件",
)  # fmt: skip
_PARK_TRADES = ("食品", "机电", "新材料", "现代物流", "新能源电池", "生物医药")
_SCENIC = ("湿地公园", "森林公园", "古寺", "遗址公园", "生态园", "农业观光园", "古渡口")
_COLLEGES = ("职业技术学院", "师范学院", "医学院", "工程学院", "理工学院", "财经学院")
# Public places with the bureau that answers for them.
_OTHER_PLACES = (
    ("汽车站", "样例区交通运输局"), ("体育中心", "样例区文化广电和旅游局"),
    ("图书馆", "样例区文化广电和旅游局"), ("政务服务中心", "样例区政务服务和大数据管理局"),
    ("广场", "样例区城市管理局"), ("养老院", "样例区民政局"), ("加油站", "样例区应急管理局"),
    ("燃气站", "样例区应急管理局"), ("污水处理厂", "样例区生态环境分局"),
    ("变电站", "样例区发展和改革委员会"), ("物流园", "样例区商务局"),
)  # fmt: skip
_UNIT_FOR_KIND = {
    "school": "样例区教育局",
    "hospital": "样例区卫生健康委员会",
    "market": "样例区市场监督管理局",
    "scenic": "样例区文化广电和旅游局",
}
ZONES = ("old", "new", "rural")


def _pick_grid(rng: np.random.Generator, grids: list[Unit], zone_weights) -> Unit:
    """A zone by ``zone_weights`` (shares, not densities), then a grid by area in it."""
    zone = ZONES[int(rng.choice(len(ZONES), p=np.asarray(zone_weights) / sum(zone_weights)))]
    pool = [g for g in grids if g.zone == zone]
    w = np.array([g.geometry.area for g in pool])
    return pool[int(rng.choice(len(pool), p=w / w.sum()))]


def _oval(cx: float, cy: float, width: float, length: float, angle: float, rng) -> Polygon:
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    r = 1 + 0.08 * rng.normal(size=t.size)
    u, v = r * np.cos(t) * length / 2, r * np.sin(t) * width / 2
    c, s = math.cos(angle), math.sin(angle)
    return Polygon(np.column_stack([cx + u * c - v * s, cy + u * s + v * c]))


class _Namer:
    """Per-kind names that stay unique by numbering repeats (第二, 第三…)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.seen: set[str] = set()
        self.counters: dict[str, int] = {}

    def numbered(self, key: str) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    def unique(self, name: str, base: str, tail: str) -> str:
        n = 1
        while name in self.seen:
            n += 1
            name = f"{base}第{chinese_number(n)}{tail}"
        self.seen.add(name)
        return name

    def special(self, kind: str, community: Unit, street: Unit) -> tuple[str, str]:
        """(name, responsible unit) for a special grid in ``community``."""
        place = short_place(community.name)
        pick = self.rng.choice
        if kind == "school":
            level = str(pick(["中学", "小学", "小学", "幼儿园"]))
            if level == "中学":
                name = f"{DISTRICT_NAME}第{chinese_number(self.numbered(level))}中学"
                return self.unique(name, DISTRICT_NAME, level), _UNIT_FOR_KIND[kind]
            return self.unique(f"{place}{level}", place, level), _UNIT_FOR_KIND[kind]
        if kind == "hospital":
            first = ("人民医院", "中医院", "妇幼保健院", "第二人民医院")
            i = self.numbered(kind)
            if i <= len(first):
                name = self.unique(DISTRICT_NAME + first[i - 1], DISTRICT_NAME, "医院")
                return name, _UNIT_FOR_KIND[kind]
            tail = "卫生院" if community.zone == "rural" else "社区卫生服务中心"
            return self.unique(place + tail, place, tail), _UNIT_FOR_KIND[kind]
        if kind == "industrial_park":
            town = short_place(street.name)
            name = self.unique(f"{town}{pick(_PARK_TRADES)}产业园", town, "产业园")
            return name, name + "管理委员会"
        if kind == "market":
            tail = str(pick(["农贸市场", "菜市场", "综合批发市场"]))
            return self.unique(place + tail, place, tail), _UNIT_FOR_KIND[kind]
        if kind == "enterprise":
            name = self.unique(f"河南{pick(_FIRMS)}{pick(_TRADES)}有限公司", "河南", "有限公司")
            return name, name
        if kind == "scenic":
            tail = str(pick(_SCENIC))
            return self.unique(place + tail, place, tail), _UNIT_FOR_KIND[kind]
        if kind == "campus":
            name = self.unique(f"{short_place(street.name)}{pick(_COLLEGES)}", place, "学院")
            return name, name
        place_kind, unit = _OTHER_PLACES[int(self.rng.integers(len(_OTHER_PLACES)))]
        return self.unique(place + place_kind, place, place_kind), unit


def build_special_grids(h: Hierarchy, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """230 non-overlapping special grids inside the district, several of every kind."""
    inner = h.district.geometry.buffer(-15.0)
    shapely.prepare(inner)
    by_code = {u.code: u for u in [*h.streets, *h.communities]}
    namer = _Namer(rng)
    placed: list[Polygon] = []
    rows = []
    for kind in SPECIAL_KINDS:
        count, zone_w, w_range, l_range = _SPECIAL_SPEC[kind]
        for _ in range(count):
            for attempt in range(200):
                grid = _pick_grid(rng, h.grids, zone_w)
                shrink = 1.0 if attempt < 100 else 0.6
                x, y = random_points_in(grid.geometry, 1, rng)
                width = rng.uniform(*w_range) * shrink
                length = rng.uniform(*l_range) * shrink
                angle = long_axis_angle(grid.geometry) + rng.normal(0, 0.03)
                make = _oval if kind == "scenic" else None
                shape = (
                    make(x[0], y[0], width, length, angle, rng)
                    if make
                    else rotated_rect(x[0], y[0], width, length, angle)
                )
                if inner.contains(shape) and not any(shapely.intersects(shape, placed)):
                    break
            else:
                raise RuntimeError(f"could not place a {kind}")
            placed.append(shape)
            community = by_code[cast(str, grid.parent_code)]
            name, unit = namer.special(kind, community, by_code[cast(str, community.parent_code)])
            rows.append({"kind": kind, "name": name, "responsible_unit": unit})
    df = pd.DataFrame(rows)
    df.insert(0, "code", [f"{DISTRICT_CODE}S{i + 1:04d}" for i in range(len(df))])
    df["contact_name"] = person_names(rng, len(df))
    df["contact_phone"] = phone_numbers(rng, len(df))
    geoms = to_wgs84(np.array([shapely.MultiPolygon([p]) for p in placed], dtype=object))
    geoms = shapely.orient_polygons(geoms)
    return gpd.GeoDataFrame(df, geometry=geoms, crs="EPSG:4326")
