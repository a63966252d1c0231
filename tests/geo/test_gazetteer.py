"""Forward search over the sample district: a seeded query set with known answers,
plus focused tests of ``normalise``, ``parse_address`` and the ``Gazetteer`` API.

The query set is made from the sample's own entities: each query is derived from one
*source* entity (its name, code, address, pinyin, a typo of its name…) and the
expected answer is that source, never whatever the gazetteer returns. A query is kept
only if the source is the one right answer: exact names must be unique, typos must be
one edit from the source and at least two from every other name, partial names must
be the tightest fit, pinyin initials must be unique. The sample's compound names are
all unique, so the fixture adds a few twins (same name, other street or community) to
test that the address parts of a query decide between them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import opencc
import pandas as pd
import pytest
import shapely
from pypinyin import Style, lazy_pinyin
from rapidfuzz.distance import Levenshtein

from geo.gazetteer import KINDS, Candidate, Gazetteer
from geo.gazetteer.text import normalise, parse_address, short_name

QUERY_SEED = 20240611
MIN_TOP1 = 0.95


@dataclass(frozen=True)
class Query:
    family: str
    text: str
    kind: str  # expected kind
    key: str  # expected identity, see identity()
    building: str | None = None


@dataclass(frozen=True)
class QuerySet:
    units: gpd.GeoDataFrame
    special_grids: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame  # the sample's compounds plus the twins
    queries: list[Query]


def identity(kind: str, code: str | None, name: str, grid_code: str | None) -> str:
    """Units and special grids by code; compounds (no code) by name and grid."""
    return f"{name}@{grid_code}" if kind == "compound" else str(code)


def candidate_identity(c: Candidate) -> str:
    grid = c.chain["grid"][0] if c.chain["grid"] else None
    return identity(c.kind, c.code, c.name, grid)


def _full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def _initials(name: str) -> str:
    return "".join(lazy_pinyin(name, style=Style.FIRST_LETTER))


def _twins(sample, rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, list[tuple[int, int]]]:
    """Copies of a few compounds in another street (three) or another community of
    the same street (one): (frame with the twins appended, [(source row, twin row)])."""
    comps = sample.compounds.reset_index(drop=True)
    grids = sample.grids.set_index("code")
    street_of = dict(
        zip(sample.communities["code"], sample.communities["parent_code"], strict=True)
    )
    estates = comps.index[comps["management_type"] == "property_company"].to_numpy()
    picks = rng.choice(estates, 4, replace=False)
    rows, pairs = [], []
    for i, src in enumerate(picks.tolist()):
        home = grids.loc[comps.at[src, "grid_code"]]
        same_street = i == 3
        pool = [
            code
            for code, g in grids.iterrows()
            if (street_of[g["parent_code"]] == street_of[home["parent_code"]]) == same_street
            and g["parent_code"] != home["parent_code"]
        ]
        code = pool[int(rng.integers(len(pool)))]
        street = sample.streets.set_index("code").at[
            street_of[grids.at[code, "parent_code"]], "name"
        ]
        twin = comps.loc[src].copy()
        twin["address"] = f"样例区{street}友谊路{900 + i}号"
        twin["grid_code"] = code
        twin["geometry"] = shapely.point_on_surface(grids.at[code, "geometry"])
        rows.append(twin)
        pairs.append((src, len(comps) + i))
    frame = pd.concat([comps, gpd.GeoDataFrame(rows, crs=comps.crs)], ignore_index=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=comps.crs), pairs


def _special_grid_cells(sample) -> dict[int, str]:
    """The grid of each special grid (by row): the lowest code among the grids that
    cover a point on its surface."""
    sg_tree = shapely.STRtree(sample.grids.geometry.values)
    pts = shapely.point_on_surface(sample.special_grids.geometry.values)
    sg_grid: dict[int, str] = {}
    for p, g in zip(*sg_tree.query(pts, predicate="covered_by"), strict=True):
        code = sample.grids["code"].iat[g]
        sg_grid[p] = min(sg_grid.get(p, code), code)
    return sg_grid


def _entities(units, sample, compounds) -> list[dict]:
    """One record per entity (units, special grids, compounds): kind, code, name, grid."""
    ents: list[dict] = []
    for r in units.itertuples():
        ents.append({"kind": r.level, "code": r.code, "name": r.name, "grid": None})
    sg_grid = _special_grid_cells(sample)
    for i, r in enumerate(sample.special_grids.itertuples()):
        ents.append({"kind": "special_grid", "code": r.code, "name": r.name, "grid": sg_grid[i]})
    for r in compounds.itertuples():
        ents.append(
            {
                "kind": "compound",
                "code": None,
                "name": r.name,
                "grid": r.grid_code,
                "address": r.address,
            }
        )
    return ents


def _add_name_forms(ents: list[dict], name_of: dict, parent_of: dict) -> None:
    """Each record gains its key, street, community and name forms."""
    for e in ents:
        e["key"] = identity(e["kind"], e["code"], e["name"], e["grid"])
        e["norm"] = normalise(e["name"])
        e["short"] = short_name(e["norm"])
        grid = e["grid"] or (e["code"] if e["kind"] == "grid" else None)
        community = parent_of[grid] if grid else (e["code"] if e["kind"] == "community" else None)
        e["community"] = community
        e["street"] = parent_of[community] if community else None
        # Grids are also written after the community's short name: 纺织第3网格.
        e["forms"] = [e["norm"], e["short"]] if e["short"] else [e["norm"]]
        if e["kind"] == "grid":
            e["forms"].append(
                e["norm"].replace(name_of[community], short_name(name_of[community]) or "")
            )


class _Draw:
    """What the query families share: the entities and their name counts, the random
    generator (each family draws from it in turn, so the order of the steps fixes the
    set) and the queries made so far."""

    def __init__(self, ents: list[dict], rng: np.random.Generator, name_of, parent_of):
        self.ents, self.rng, self.name_of, self.parent_of = ents, rng, name_of, parent_of
        self.s2t = opencc.OpenCC("s2t")
        self.comp_ents = dict(enumerate(e for e in ents if e["kind"] == "compound"))
        self.name_count = Counter(e["norm"] for e in ents)
        self.short_count = Counter(e["short"] for e in ents if e["short"])
        self.all_forms = set(self.name_count) | set(self.short_count)
        self.initials_count = Counter(
            i for e in ents for i in {_initials(e["norm"]), _initials(e["short"] or e["norm"])}
        )
        norms = [e["norm"] for e in ents]
        self.vocabulary = sorted({ch for n in norms for ch in n if "\u4e00" <= ch <= "\u9fff"})
        self.addresses = [normalise(e["address"]) for e in ents if e.get("address")]
        self.queries: list[Query] = []

    def unique(self, e) -> bool:
        return self.name_count[e["norm"]] == 1

    def sample_of(self, kind: str, k: int, where=lambda e: True) -> list[dict]:
        pool = [e for e in self.ents if e["kind"] == kind and self.unique(e) and where(e)]
        return [pool[i] for i in self.rng.permutation(len(pool))[:k]]

    def add(self, family: str, text: str, e: dict, building: str | None = None) -> None:
        self.queries.append(Query(family, text, e["kind"], e["key"], building))

    def partial(self, e) -> str | None:
        """The name without its suffix (幸福 for 幸福小区) if no other entity has that
        short name, else a piece of the name that no other name fits as tightly. A piece
        that ends another compound's address is a house number, not a name."""
        n, short = e["norm"], e["short"]
        if short and self.short_count[short] == 1 and short not in self.name_count:
            return short
        pieces = (n[i : i + k] for k in range(len(n) - 1, 1, -1) for i in range(len(n) - k + 1))
        for p in pieces:
            if p in self.all_forms or any(a.endswith(p) for a in self.addresses):
                continue
            fits = sorted(len(o["norm"]) for o in self.ents if p in o["norm"])
            if fits[0] == len(n) and (len(fits) == 1 or fits[1] > len(n)):
                return p
        return None

    def typo(self, e) -> str | None:
        """One wrong character: one edit from the source, at least two from every form
        of every other name, and not the start or middle of another name either."""
        n, rng = e["norm"], self.rng
        for _ in range(50):
            i = int(rng.integers(len(n)))
            if not ("\u4e00" <= n[i] <= "\u9fff"):
                continue
            ch = self.vocabulary[int(rng.integers(len(self.vocabulary)))]
            t = n[:i] + ch + n[i + 1 :]
            if t == n or t in self.all_forms:
                continue
            others = [f for o in self.ents if o is not e for f in o["forms"]]
            if all(Levenshtein.distance(t, f, score_cutoff=2) >= 2 and t not in f for f in others):
                return t
        return None

    def chain_text(self, e) -> str:
        name_of = self.name_of
        return f"河南省新乡市样例区{name_of[e['street']]}{name_of[e['community']]}"


def _name_queries(d: _Draw) -> None:
    """Exact names, codes and full-width digits."""
    # Exact names of every kind.
    for kind, k in (("district", 1), ("street", 2), ("community", 4), ("grid", 4)):
        for e in d.sample_of(kind, k):
            d.add("exact", e["name"], e)
    for e in d.sample_of("special_grid", 5) + d.sample_of("compound", 6):
        d.add("exact", e["name"], e)

    # Codes: grids (15 digits), communities, a street, special grids.
    for kind, k in (("grid", 3), ("community", 2), ("street", 1), ("special_grid", 2)):
        for e in d.sample_of(kind, k):
            d.add("code", e["code"], e)

    # Full-width digits: codes and building numbers.
    for kind in ("grid", "community", "special_grid"):
        e = d.sample_of(kind, 1)[0]
        d.add("full_width", _full_width(e["code"]), e)
    numbered = d.sample_of("compound", 1, lambda e: any(c.isdigit() for c in e["name"]))[0]
    d.add("full_width", _full_width(numbered["name"]), numbered)
    for e in d.sample_of("compound", 2):
        b = int(d.rng.integers(1, 20))
        d.add("full_width", f"{e['name']}{_full_width(str(b))}号楼", e, f"{b}号楼")


def _variant_queries(d: _Draw) -> None:
    """Partial names, typos, traditional characters and pinyin."""
    for kind, k in (("compound", 4), ("special_grid", 3), ("community", 1)):
        found = 0
        for e in d.sample_of(kind, 40):
            p = d.partial(e)
            if p and found < k:
                d.add("partial", p, e)
                found += 1

    for kind, k in (("compound", 4), ("special_grid", 3), ("community", 2), ("grid", 1)):
        found = 0
        for e in d.sample_of(kind, 30, lambda e: len(e["norm"]) >= 3):
            t = d.typo(e) if found < k else None
            if t:
                assert Levenshtein.distance(t, e["norm"]) == 1
                d.add("typo", t, e)
                found += 1

    # Traditional characters.
    s2t = d.s2t
    for kind, k in (("compound", 3), ("special_grid", 2), ("community", 1)):
        for e in d.sample_of(kind, k, lambda e: s2t.convert(e["name"]) != e["name"]):
            d.add("traditional", s2t.convert(e["name"]), e)

    # Pinyin initials (unique ones) and full pinyin.
    for kind, k in (("compound", 3), ("special_grid", 2), ("community", 1)):
        for e in d.sample_of(kind, k, lambda e: d.initials_count[_initials(e["norm"])] == 1):
            d.add("pinyin", _initials(e["norm"]), e)
    for e in d.sample_of("compound", 2):
        d.add("pinyin_full", "".join(lazy_pinyin(e["norm"])), e)


def _address_queries(d: _Draw, sample, compounds) -> None:
    """Full addresses (plain, with a typo, in traditional characters), house numbers
    and addresses that name units only."""
    rng, name_of, parent_of, chain_text = d.rng, d.name_of, d.parent_of, d.chain_text
    # Full addresses with building (and unit/room) numbers.
    for e in d.sample_of("compound", 8, lambda e: e["grid"] is not None):
        b = int(rng.integers(1, 30))
        tail = f"{int(rng.integers(1, 5))}单元{int(rng.integers(1, 7))}0{int(rng.integers(1, 4))}室"
        d.add("address", f"{chain_text(e)}{e['name']}{b}号楼{tail if b % 2 else ''}", e, f"{b}号楼")
    # The same with a typo in the compound's name, or in traditional characters.
    found = 0
    for e in d.sample_of("compound", 30, lambda e: e["grid"] is not None and len(e["norm"]) >= 4):
        t = d.typo(e) if found < 3 else None
        if t:
            b = int(rng.integers(1, 30))
            d.add("address_typo", f"{chain_text(e)}{t}{b}号楼", e, f"{b}号楼")
            found += 1
    for e in d.sample_of("compound", 2, lambda e: e["grid"] is not None):
        b = int(rng.integers(1, 30))
        d.add("traditional", d.s2t.convert(f"{chain_text(e)}{e['name']}{b}号楼"), e, f"{b}号楼")
    # House-number addresses (road + number, village + group) that only one compound has.
    address_count = Counter(compounds["address"])
    picks = [
        i
        for i in rng.permutation(len(sample.compounds)).tolist()
        if address_count[compounds.at[i, "address"]] == 1
    ]
    for i in picks[:3]:
        d.add("house_number", "新乡市" + compounds.at[i, "address"], d.comp_ents[i])
    # Addresses that name units only, or units and nothing known: the deepest unit.
    for e in d.sample_of("community", 3):
        street = name_of[parent_of[e["code"]]]
        d.add("address_unit", f"河南省新乡市样例区{street}{e['name']}", e)
    for e in d.sample_of("community", 2):
        d.add("address_unit", f"样例区{name_of[parent_of[e['code']]]}{e['name']}星河湾大酒店", e)


def _ambiguous_queries(d: _Draw, twin_pairs: list[tuple[int, int]]) -> None:
    """Ambiguous names decided by the address: the twins, then shared short names."""
    name_of = d.name_of
    for src, twin in twin_pairs:
        a, b = d.comp_ents[src], d.comp_ents[twin]
        same_street = a["street"] == b["street"]
        for e in (a, b):
            where = name_of[e["street"]] + (name_of[e["community"]] if same_street else "")
            d.add("ambiguous", f"样例区{where}{e['name']}", e)
    by_short: dict[str, list[dict]] = {}
    for e in d.ents:
        if e["short"]:
            by_short.setdefault(e["short"], []).append(e)
    found = 0
    for short in sorted(by_short):
        group = by_short[short]
        if len(group) < 2 or short in d.name_count:
            continue
        for e in group:
            alone = sum(o["street"] == e["street"] for o in group) == 1
            if e["kind"] == "compound" and alone and found < 4:
                d.add("ambiguous", f"样例区{name_of[e['street']]}{short}", e)
                found += 1
                break


def build_query_set(sample, seed: int = QUERY_SEED) -> QuerySet:
    """The units, special grids, compounds (with twins) and ≥ 60 queries, from ``seed``."""
    rng = np.random.default_rng(seed)
    units = pd.concat(
        [sample.district, sample.streets, sample.communities, sample.grids], ignore_index=True
    )
    compounds, twin_pairs = _twins(sample, rng)
    name_of = dict(zip(units["code"], units["name"], strict=True))
    parent_of = dict(zip(units["code"], units["parent_code"], strict=True))
    ents = _entities(units, sample, compounds)
    _add_name_forms(ents, name_of, parent_of)
    d = _Draw(ents, rng, name_of, parent_of)
    _name_queries(d)
    _variant_queries(d)
    _address_queries(d, sample, compounds)
    _ambiguous_queries(d, twin_pairs)
    return QuerySet(units, sample.special_grids, compounds, d.queries)


@pytest.fixture(scope="module")
def query_set(sample) -> QuerySet:
    return build_query_set(sample)


@pytest.fixture(scope="module")
def gazetteer(query_set) -> Gazetteer:
    return Gazetteer(query_set.units, query_set.special_grids, query_set.compounds)


def test_query_set_covers_every_family(query_set):
    families = Counter(q.family for q in query_set.queries)
    assert len(query_set.queries) >= 60
    for family in (
        "exact",
        "code",
        "full_width",
        "partial",
        "typo",
        "traditional",
        "pinyin",
        "address",
        "house_number",
        "address_unit",
        "ambiguous",
    ):
        assert families[family] >= 2, families
    assert {q.kind for q in query_set.queries if q.family == "exact"} == set(KINDS)


def test_query_set_is_deterministic(sample, query_set):
    assert build_query_set(sample).queries == query_set.queries


def test_top1_accuracy_over_the_query_set(gazetteer, query_set):
    failures = []
    for q in query_set.queries:
        top = gazetteer.search(q.text, limit=5)
        ok = bool(top) and candidate_identity(top[0]) == q.key and top[0].kind == q.kind
        if ok and q.building is not None:
            ok = top[0].building == q.building
        if not ok:
            got = [(c.kind, c.name, c.score, c.matched) for c in top[:3]]
            failures.append(f"{q.family}: {q.text!r} → want {q.kind} {q.key}, got {got}")
    accuracy = 1 - len(failures) / len(query_set.queries)
    assert accuracy >= MIN_TOP1, f"top-1 {accuracy:.1%}; failures:\n" + "\n".join(failures)


# --- normalise and parse_address -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("樣例區幸福小區", "样例区幸福小区"),  # traditional → simplified
        ("３號樓", "3号楼"),  # full-width digit, 號 → 号
        ("ＡＢＣ小区", "abc小区"),  # full-width latin, lower-cased
        (" 幸福 小区，3-2 ", "幸福小区32"),  # spaces and punctuation dropped
        ("3#楼", "3号楼"),  # 3# is shorthand for 3号
        ("XFXQ", "xfxq"),
        ("", ""),
        ("，。！", ""),
    ],
)
def test_normalise(text, expected):
    assert normalise(text) == expected


def test_normalise_keeps_every_sample_name_and_is_idempotent(sample):
    names = pd.concat(
        [sample.grids["name"], sample.special_grids["name"], sample.compounds["name"]]
    )
    for name in names:
        assert normalise(name) == name.lower()
        assert normalise(normalise(name)) == normalise(name)


def _parts(text: str) -> dict[str, str]:
    return {k: v for k, v in parse_address(text).items() if v is not None}


def test_parse_full_address():
    assert _parts("河南省新乡市样例区人民路街道和平社区幸福小区3号楼2单元301室") == {
        "province": "河南省",
        "city": "新乡市",
        "district": "样例区",
        "street": "人民路街道",
        "community": "和平社区",
        "compound": "幸福小区",
        "building": "3号楼",
        "unit": "2单元",
        "room": "301室",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("幸福小区3号楼", {"compound": "幸福小区", "building": "3号楼"}),
        ("锦绣花园二期 5栋", {"compound": "锦绣花园二期", "building": "5栋"}),
        (
            "锦绣花园 3-2-301",
            {"compound": "锦绣花园", "building": "3号楼", "unit": "2单元", "room": "301室"},
        ),
        (
            "样例区石桥镇朱楼村4组",
            {"district": "样例区", "street": "石桥镇", "community": "朱楼村", "compound": "4组"},
        ),
        # 新村社区 is one community, not the village 新村 followed by 社区.
        ("解放路街道新村社区", {"street": "解放路街道", "community": "新村社区"}),
        # A house number is not a room.
        (
            "样例区解放路街道解放路300号",
            {"district": "样例区", "street": "解放路街道", "compound": "解放路300号"},
        ),
        ("红旗区渠东街道办事处", {"district": "红旗区", "street": "渠东街道办事处"}),
        (
            "樣例區人民路街道幸福小區３號樓",
            {
                "district": "样例区",
                "street": "人民路街道",
                "compound": "幸福小区",
                "building": "3号楼",
            },
        ),
        ("纺织厂家属院", {"compound": "纺织厂家属院"}),
        ("", {}),
    ],
)
def test_parse_address_parts(text, expected):
    assert _parts(text) == expected


def test_parse_address_returns_every_field():
    assert tuple(parse_address("幸福小区")) == (
        "province", "city", "district", "street", "community",
        "compound", "building", "unit", "room",
    )  # fmt: skip


# --- the Gazetteer API -----------------------------------------------------------------


def _twin_pair(query_set):
    names = query_set.compounds["name"]
    twins = query_set.compounds[names == names.iat[-4]]  # the first twin: another street
    assert len(twins) == 2
    return twins.iloc[0], twins.iloc[1]


def test_two_compounds_of_one_name_the_street_decides(gazetteer, query_set, sample):
    a, b = _twin_pair(query_set)
    street_of = dict(
        zip(sample.communities["code"], sample.communities["parent_code"], strict=True)
    )
    street_name = dict(zip(sample.streets["code"], sample.streets["name"], strict=True))
    plain = gazetteer.search(a["name"], kinds={"compound"})
    assert {c.chain["grid"][0] for c in plain[:2]} == {a["grid_code"], b["grid_code"]}
    for row in (a, b):
        street = street_of[row["grid_code"][:12]]
        top = gazetteer.search(f"{street_name[street]}{row['name']}5号楼")
        assert top[0].chain["grid"][0] == row["grid_code"]
        assert top[0].chain["street"][0] == street
        assert top[0].building == "5号楼"
        assert top[1].name == row["name"] and top[1].score < top[0].score


def test_candidate_fields(gazetteer, query_set):
    comp = query_set.compounds.iloc[0]
    top = gazetteer.search(comp["name"])[0]
    assert (top.kind, top.name, top.score, top.building) == ("compound", comp["name"], 100.0, None)
    assert top.matched == f"exact name:{comp['name']}"
    assert top.code.startswith("C") and len(top.code) == 13
    grid = query_set.units.set_index("code").loc[comp["grid_code"]]
    assert top.chain["grid"] == (comp["grid_code"], grid["name"])
    community = query_set.units.set_index("code").loc[grid["parent_code"]]
    assert top.chain["community"] == (grid["parent_code"], community["name"])
    assert top.chain["district"] == ("410799", "样例区")
    assert shapely.covers(comp.geometry, shapely.Point(top.lon, top.lat))

    special = query_set.special_grids.iloc[7]
    top = gazetteer.search(special["code"])[0]
    assert (top.kind, top.name) == ("special_grid", special["name"])
    assert shapely.covers(special.geometry, shapely.Point(top.lon, top.lat))
    grid = query_set.units.set_index("code").loc[top.chain["grid"][0]]
    assert shapely.covers(grid.geometry, shapely.Point(top.lon, top.lat))

    street = gazetteer.search("人民路街道")[0]
    assert street.kind == "street" and street.chain["street"] == ("410799001", "人民路街道")
    assert street.chain["community"] is None and street.chain["grid"] is None


def test_compound_keys_do_not_depend_on_row_order(query_set):
    a = Gazetteer(query_set.units, None, query_set.compounds)
    b = Gazetteer(query_set.units, None, query_set.compounds.iloc[::-1])
    name = query_set.compounds["name"].iat[10]
    assert a.search(name)[0].code == b.search(name)[0].code


def test_kinds_and_limit(gazetteer):
    hits = gazetteer.search("幸福", limit=50, kinds={"compound"})
    assert hits and all(c.kind == "compound" for c in hits)
    assert len(gazetteer.search("幸福", limit=3)) == 3
    assert gazetteer.search("幸福", limit=0) == []
    assert {c.kind for c in gazetteer.search("幸福", limit=50)} >= {"community", "compound"}


@pytest.mark.parametrize("q", ["", "   ", "，。", "3号楼"])
def test_nothing_to_search_for(gazetteer, q):
    assert gazetteer.search(q) == []


def test_very_long_queries_are_cut_not_choked_on(gazetteer, query_set):
    name = query_set.compounds["name"].iat[0]
    assert gazetteer.search(name + "1" * 5000)[0].name == name
    assert isinstance(gazetteer.search("幸福小区" * 2000), list)


def test_grid_numbers_in_words_and_short_community(gazetteer):
    top = gazetteer.search("纺织第三网格")[0]
    assert (top.kind, top.code, top.score) == ("grid", "410799001001003", 95.0)


def test_address_with_unknown_rest_gives_the_deepest_unit(gazetteer):
    top = gazetteer.search("新乡市样例区人民路街道纺织社区星河湾大酒店")
    assert (top[0].kind, top[0].name) == ("community", "纺织社区")
    assert top[0].matched == "address community:纺织社区"
    assert top[0].score < 60


def test_aliases_by_code_and_by_name(query_set):
    comp = query_set.compounds["name"].iat[5]
    gaz = Gazetteer(
        query_set.units,
        query_set.special_grids,
        query_set.compounds,
        aliases={"410799001": ["老城街道"], comp: ["棉纺厂宿舍"], "不存在": ["无"]},
    )
    assert gaz.unknown_aliases == ["不存在"]
    top = gaz.search("老城街道")[0]
    assert (top.code, top.matched) == ("410799001", "exact alias:老城街道")
    assert 98 <= top.score < 100
    assert gaz.search("棉纺厂宿舍")[0].name == comp
    assert gaz.search("mfcss")[0].name == comp  # pinyin of the alias


def test_frames_in_a_metric_crs_give_wgs84_points(query_set):
    units = query_set.units.to_crs("EPSG:4547")
    gaz = Gazetteer(units, None, query_set.compounds.to_crs("EPSG:4547"))
    ref = Gazetteer(query_set.units, None, query_set.compounds)
    a, b = gaz.search("纺织社区")[0], ref.search("纺织社区")[0]
    assert abs(a.lon - b.lon) < 1e-3 and abs(a.lat - b.lat) < 1e-3
    assert 113 < a.lon < 115 and 34 < a.lat < 36
