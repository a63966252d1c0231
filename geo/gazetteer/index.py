"""The lookup tables behind :class:`geo.gazetteer.Gazetteer`, built once from frames.

One entity per unit (all four levels), special grid and compound, each with its
representative point (WGS-84) and the codes of the district/street/community/grid
containing it. Every entity is indexed under normalised keys, each key with the
score an exact match of it earns (see the table in :mod:`geo.gazetteer`): the name,
the short name, name variants (第三网格 for 第3网格), codes, aliases, a compound's
address and its address after district and street; pinyin keys sit in their own
table. Derived structures serve the other match kinds: the name keys and the address
keys each joined into one string for substring search, the keys rapidfuzz scans
(sorted by length), sorted codes and pinyin for prefixes.
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import re
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.gazetteer.text import chinese_numeral, normalise, pinyin_keys, short_name
from geo.vocab import LEVELS

LEVEL_INDEX = {lvl: i for i, lvl in enumerate(LEVELS)}

# Score of an exact match, by field.
EXACT_SCORE = {
    "name": 100.0,
    "code": 100.0,
    "alias": 98.0,
    "address": 97.0,
    "short": 95.0,
    "variant": 95.0,
    "address_tail": 92.0,
    "pinyin": 93.0,
    "pinyin_short": 91.0,
    "pinyin_initials": 90.0,
    "pinyin_initials_short": 88.0,
}
NAME_FIELDS = frozenset({"name", "short", "variant", "alias"})
ADDRESS_FIELDS = frozenset({"address", "address_tail"})
FUZZY_FIELDS = NAME_FIELDS
_GRID_NAME = re.compile(r"(.+?)第(\d{1,3})网格")


@dataclass(frozen=True, slots=True)
class Entity:
    kind: str
    code: str
    name: str
    lon: float
    lat: float
    chain: tuple[str | None, ...]  # codes in LEVELS order


@dataclass(frozen=True, slots=True)
class Entry:
    """One way to reach an entity: the field and the text as stored."""

    entity: int
    field: str
    text: str
    score: float


class _Blob:
    """Keys with entries of some fields, joined by NUL for substring search."""

    def __init__(self, exact: dict[str, list[Entry]], fields: frozenset[str]) -> None:
        self.keys = [k for k, v in exact.items() if any(e.field in fields for e in v)]
        self.fields = fields
        self.text = "\x00" + "\x00".join(self.keys) + "\x00"
        self.starts = np.cumsum([1] + [len(k) + 1 for k in self.keys[:-1]]).tolist()

    def containing(self, t: str, most: int) -> list[str]:
        """Keys that contain ``t`` and are longer; the ``most`` shortest of them (a
        one-character query is in hundreds of keys, and shorter keys score higher)."""
        found: dict[str, None] = {}
        for m in re.finditer(re.escape(t), self.text):
            key = self.keys[bisect.bisect_right(self.starts, m.start()) - 1]
            if key != t:
                found[key] = None
        if len(found) > most:
            return heapq.nsmallest(most, found, key=len)
        return list(found)


def compound_key(name: str, address: str) -> str:
    """Stable key of a compound with no code: ``C`` + 12 hex digits of SHA-1."""
    return "C" + hashlib.sha1(f"{name}|{address}".encode()).hexdigest()[:12].upper()


def _wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        return frame.to_crs("EPSG:4326")
    return frame


def _column(frame: pd.DataFrame, name: str) -> list:
    return frame[name].tolist() if name in frame else [None] * len(frame)


class GazetteerIndex:
    """Entities and keys; read-only once built."""

    def __init__(
        self,
        units: gpd.GeoDataFrame,
        special_grids: gpd.GeoDataFrame | None,
        compounds: gpd.GeoDataFrame | None,
        aliases: dict[str, list[str]],
    ) -> None:
        self.entities: list[Entity] = []
        self.exact: dict[str, list[Entry]] = {}
        self.pinyin: dict[str, list[Entry]] = {}
        self.by_code: dict[str, int] = {}
        grid_tree, grid_rows = self._add_units(_wgs84(units))
        for frame, kind in ((special_grids, "special_grid"), (compounds, "compound")):
            if frame is not None and len(frame):
                self._add_features(_wgs84(frame), kind, grid_tree, grid_rows)
        self.unknown_aliases = self._add_aliases(aliases)
        self.name_blob = _Blob(self.exact, NAME_FIELDS)
        self.address_blob = _Blob(self.exact, ADDRESS_FIELDS)
        self.longest_key = max(map(len, self.exact), default=0)
        # By length, so a fuzzy search only scans keys long enough to reach its cutoff.
        self.fuzzy_keys = sorted(
            (k for k, v in self.exact.items() if any(e.field in FUZZY_FIELDS for e in v)),
            key=len,
        )
        self.fuzzy_lengths = [len(k) for k in self.fuzzy_keys]
        self.code_keys = sorted(
            k for k, v in self.exact.items() if any(e.field == "code" for e in v)
        )
        self.pinyin_keys = sorted(self.pinyin)

    def _add_units(self, units: gpd.GeoDataFrame):
        units = units[units["level"].isin(LEVELS)]
        order = units["level"].map(LEVEL_INDEX)
        units = units.assign(_order=order).sort_values(["_order", "code"])
        codes = units["code"].astype(str).tolist()
        parent = {
            c: (None if pd.isna(p) else str(p))
            for c, p in zip(codes, units["parent_code"], strict=True)
        }
        level = dict(zip(codes, units["level"], strict=True))
        geoms = np.asarray(units.geometry.values, dtype=object)
        points = shapely.point_on_surface(geoms)
        for code, name, lvl, pt in zip(codes, units["name"], units["level"], points, strict=True):
            chain: list[str | None] = [None] * len(LEVELS)
            cur: str | None = code
            while cur in level and chain[LEVEL_INDEX[level[cur]]] is None:
                chain[LEVEL_INDEX[level[cur]]] = cur
                cur = parent.get(cur)
            ent = self._add_entity(lvl, code, str(name), pt, tuple(chain))
            self._index_name(ent, str(name))
            if lvl == "grid":
                self._index_grid_variants(ent, normalise(str(name)))
        # Grids sorted by code: where grids overlap, the smallest code holds a point.
        rows = [i for i, e in enumerate(self.entities) if e.kind == "grid"]
        tree = shapely.STRtree(geoms[rows]) if rows else None
        return tree, np.asarray(rows, dtype=np.int64)

    def _add_features(self, frame: gpd.GeoDataFrame, kind: str, tree, rows) -> None:
        points = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
        grid_of = np.full(len(points), -1, dtype=np.int64)
        if tree is not None:
            pt_idx, tree_idx = tree.query(points, predicate="covered_by")
            order = np.lexsort((-tree_idx, pt_idx))  # smallest code written last
            grid_of[pt_idx[order]] = rows[tree_idx[order]]
        seen: set[str] = set()
        for name, address, code, pt, grid in zip(
            frame["name"],
            _column(frame, "address"),
            _column(frame, "code"),
            points,
            grid_of,
            strict=True,
        ):
            name, address = str(name), ("" if pd.isna(address) else str(address))
            if pd.isna(code):
                code = base = compound_key(name, address)
                n = 1
                while code in seen:
                    n += 1
                    code = f"{base}-{n}"
            seen.add(str(code))
            chain = self.entities[grid].chain if grid >= 0 else (None,) * len(LEVELS)
            ent = self._add_entity(kind, str(code), name, pt, chain)
            self._index_name(ent, name)
            if address:
                norm = normalise(address)
                self._add_key(norm, Entry(ent, "address", address, EXACT_SCORE["address"]))
                tail = self._address_tail(norm, chain)
                if tail:
                    score = EXACT_SCORE["address_tail"]
                    self._add_key(tail, Entry(ent, "address_tail", tail, score))

    def _address_tail(self, address: str, chain: tuple[str | None, ...]) -> str | None:
        """The address after its district and street names, if it starts with them."""
        for code in chain[:2]:
            if code is not None:
                name = normalise(self.entities[self.by_code[code]].name)
                address = address.removeprefix(name)
        return address or None

    def _add_entity(self, kind: str, code: str, name: str, point, chain) -> int:
        ent = len(self.entities)
        lon, lat = float(shapely.get_x(point)), float(shapely.get_y(point))
        self.entities.append(Entity(kind, code, name, lon, lat, chain))
        self.by_code.setdefault(code, ent)
        self._add_key(normalise(code), Entry(ent, "code", code, EXACT_SCORE["code"]))
        return ent

    def _index_name(self, ent: int, text: str, field: str = "name") -> None:
        key = normalise(text)
        if not key:
            return
        self._add_key(key, Entry(ent, field, text, EXACT_SCORE[field]))
        short = short_name(key)
        if short:
            self._add_key(short, Entry(ent, "short", short, EXACT_SCORE["short"]))
        for k, tail in ((key, ""), (short, "_short")):
            if k and not k.isascii():
                initials, full = pinyin_keys(k)
                for f, pk in (("pinyin", full), ("pinyin_initials", initials)):
                    self.pinyin.setdefault(pk, []).append(Entry(ent, f, pk, EXACT_SCORE[f + tail]))

    def _index_grid_variants(self, ent: int, name: str) -> None:
        """第三网格 for 第3网格, and the same after the community's short name."""
        m = _GRID_NAME.fullmatch(name)
        if not m:
            return
        prefix, n = m.group(1), int(m.group(2))
        heads = {prefix, short_name(prefix) or prefix}
        tails = {f"第{n}网格", f"第{chinese_numeral(n)}网格"}
        for variant in sorted(h + t for h in heads for t in tails):
            if variant != name:
                self._add_key(variant, Entry(ent, "variant", variant, EXACT_SCORE["variant"]))

    def _add_key(self, key: str, entry: Entry) -> None:
        if key:
            self.exact.setdefault(key, []).append(entry)

    def _add_aliases(self, aliases: dict[str, list[str]]) -> list[str]:
        """Index the aliases; returns the keys that name no entity."""
        by_name: dict[str, list[int]] = {}
        for i, e in enumerate(self.entities):
            by_name.setdefault(normalise(e.name), []).append(i)
        unknown = []
        for key, names in aliases.items():
            ents = [self.by_code[key]] if key in self.by_code else by_name.get(normalise(key))
            if not ents:
                unknown.append(key)
            for ent in ents or ():
                for alias in names:
                    self._index_name(ent, alias, field="alias")
        return unknown
