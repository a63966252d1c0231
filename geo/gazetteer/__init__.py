"""Forward search ("where is 某某小区?"): names, codes, pinyin and addresses → places.

Pure and in memory: built once from the unit, special-grid and compound frames and
read-only afterwards. Every name is indexed under several keys (the name, its short
form without 社区/小区/村…, codes, aliases, a compound's address and the address after
district and street, pinyin initials and full pinyin), all in the form
:func:`~geo.gazetteer.text.normalise` gives, so traditional characters and
full-width digits match.

A query is normalised and parsed as an address (:mod:`geo.gazetteer.text`). The
administrative parts that name a known unit narrow the search; the rest (the
*target*) is matched exactly, by prefix (codes, pinyin), as a substring either way,
and with rapidfuzz for typos.

Score (0..100), best match per candidate:

=====  ==================================================================
100    exact name or code
98     exact alias
97     a compound's full address
95     name without its generic suffix (幸福 → 幸福小区); a grid written
       第三网格 or after the community's short name (纺织第3网格)
93/91  full pinyin of the name / of the short name
92     a compound's address after district and street (解放路300号)
90/88  pinyin initials of the name / of the short name
60–85  prefix of a code or of pinyin, by the share of it typed
60–90  the query is part of a name, by the share of the name it covers
45–75  a name (≥ 3 characters) is part of the query, by its share
≤ 85   typo: 0.85 × Levenshtein similarity, 100·(1 − edits / longer length)
       (one wrong character in four → 64)
55     the deepest unit of an address whose remaining part matched nothing
=====  ==================================================================

An address that names only known units (样例区人民路街道纺织社区) scores its deepest
unit as that unit's name is written (100 name, 98 alias, 95 short name) and each unit
above it 10 less. After a match scoring 95 or more, the typo and "name inside the
query" searches are skipped; longer names containing the query still follow it as
related answers.

Each administrative part of the query that resolves to a unit then adds 1 to a
candidate inside that unit and takes 25 from one inside another unit of that level,
so among two 幸福小区 the one in the street the address names wins. The reported score
is clipped to 0..100; ranking uses the unclipped value, then the kind (district,
street, community, compound, special grid, grid), then the shorter name.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
from dataclasses import dataclass

import geopandas as gpd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from geo.gazetteer.index import (
    EXACT_SCORE,
    FUZZY_FIELDS,
    LEVEL_INDEX,
    Entry,
    GazetteerIndex,
)
from geo.gazetteer.text import (
    ADMIN_FIELDS,
    normalise_address,
    parse_address_spans,
    short_name,
    strip_admin_noise,
)
from geo.vocab import LEVELS

__all__ = ["KINDS", "Candidate", "Gazetteer"]

KINDS = (*LEVELS, "special_grid", "compound")
_KIND_RANK = {k: i for i, k in enumerate((*LEVELS[:3], "compound", "special_grid", "grid"))}
_ADMIN_KINDS = frozenset(LEVELS[:3])
_ADMIN_WITH_REST, _ADMIN_STEP = 55.0, 10.0
_AGREE, _CLASH = 1.0, -25.0
_FUZZY_WEIGHT, _FUZZY_CUTOFF = 0.85, 60.0
_PREFIX_SCAN = 200  # prefix matches looked at per query (a one-letter pinyin query)
_SUBSTRING_KEYS = 200  # keys containing the query looked at, shortest first
_MAX_QUERY = 100  # characters of a normalised query searched; the rest is ignored
_CODE_LIKE = re.compile(r"[0-9a-z]*[0-9][0-9a-z]*")
_LATIN = re.compile(r"[a-z0-9]*[a-z][a-z0-9]*")
_LABEL = {"short": "short_name"}

# (score, how, entry): how an entity was reached; "matched" is formatted at the end.
_Hit = tuple[float, str, Entry | str]


@dataclass(frozen=True)
class Candidate:
    """One answer of :meth:`Gazetteer.search`.

    ``code`` is the unit or special-grid code; compounds carry theirs if the frame had
    a ``code`` column, else a stable key ``C`` + 12 hex digits of SHA-1 over name and
    address. ``chain`` maps district/street/community/grid to ``(code, name)`` of the
    unit containing the candidate (for a unit: its ancestors and itself; for special
    grids and compounds: the grid holding their representative point). ``lon``/``lat``
    are that representative point, WGS-84. ``matched`` says how it matched, e.g.
    ``exact name:幸福小区``, ``fuzzy name:幸福小区``, ``exact pinyin_initials:xfxq``,
    ``address community:和平社区``. ``building`` is the building parsed from the query,
    given on compounds and special grids.
    """

    kind: str
    code: str | None
    name: str
    score: float
    lon: float
    lat: float
    chain: dict[str, tuple[str, str] | None]
    matched: str
    building: str | None


class _Hits:
    """The best hit per entity, within the kinds asked for."""

    def __init__(self, index: GazetteerIndex, kinds: set[str] | None) -> None:
        self.best: dict[int, _Hit] = {}
        self._entities = index.entities
        self._kinds = kinds

    def add(self, ent: int, score: float, how: str, what: Entry | str) -> None:
        if self._kinds is not None and self._entities[ent].kind not in self._kinds:
            return
        old = self.best.get(ent)
        if old is None or score > old[0]:
            self.best[ent] = (score, how, what)


class Gazetteer:
    """Name/code/address → candidate places over the four levels, special grids and
    compounds; immutable once built.

    Parameters
    ----------
    units
        All four levels: ``code, name, level, parent_code, geometry``.
    special_grids
        ``code, name, geometry`` (other columns ignored).
    compounds
        ``name, geometry`` and optionally ``address`` and ``code``.
    aliases
        Code (or compound key, or exact name) → extra names, e.g. a compound's old
        name or the colloquial name of a street. Keys that match nothing are listed
        in ``unknown_aliases``.

    Frames in another CRS are converted to WGS-84 first.
    """

    def __init__(
        self,
        units: gpd.GeoDataFrame,
        special_grids: gpd.GeoDataFrame | None = None,
        compounds: gpd.GeoDataFrame | None = None,
        aliases: dict[str, list[str]] | None = None,
    ) -> None:
        self._index = GazetteerIndex(units, special_grids, compounds, aliases or {})
        self.unknown_aliases = self._index.unknown_aliases

    def __len__(self) -> int:
        return len(self._index.entities)

    def search(self, q: str, limit: int = 10, kinds: set[str] | None = None) -> list[Candidate]:
        """Candidates for a name, code, pinyin or address, best first.

        Parameters
        ----------
        q
            What the user typed: a name or part of it, a code, pinyin (initials or
            full), or an address with building/unit/room; simplified or traditional,
            half- or full-width.
        limit
            At most this many candidates.
        kinds
            Only these kinds (see ``KINDS``); all if None.

        Returns
        -------
        list of Candidate
            Best first; empty when nothing matched (or the query is only a building).
        """
        n = normalise_address(q[: 4 * _MAX_QUERY])[:_MAX_QUERY]
        if not n or limit <= 0:
            return []
        spans = parse_address_spans(n)
        ends = [spans[f][0] for f in ("building", "unit", "room") if f in spans]
        core = n[: min(ends, default=len(n))]
        building = n[slice(*spans["building"])] if "building" in spans else None
        hits = _Hits(self._index, kinds)
        parts, target_start = self._resolve_admin(n, spans)
        target = core[target_start:]
        # The address from each of its parts on may be a stored name or address; if
        # one is, the rest is only searched for names related to the whole query.
        starts = {
            0,
            target_start,
            *(spans[f][0] for f in (*ADMIN_FIELDS, "compound") if f in spans),
        }
        strong = False
        for start in sorted(starts):
            if start < len(core):
                strong |= self._match_exact(core[start:], hits)
        if core:
            self._match_text(core, hits, strong)
        if target and target != core and not strong:
            self._match_text(target, hits, strong)
        if parts:
            self._add_admin(parts, hits, rest=bool(target))
        return self._rank(hits.best, parts, building, limit)

    # --- the address ----------------------------------------------------------------

    def _resolve_admin(self, n: str, spans) -> tuple[list[tuple[str, dict[int, float]]], int]:
        """Administrative parts that name known units (unit → score of the name as
        written: name, alias or short name), and where the rest begins."""
        parts: list[tuple[str, dict[int, float]]] = []
        end = 0
        for field in ADMIN_FIELDS:
            if field in spans:
                text = strip_admin_noise(n[slice(*spans[field])])
                ents = self._admin_units(text, ("name", "alias")) or self._admin_units(
                    short_name(text) or "", ("short",)
                )
                if ents:
                    parts.append((text, ents))
                    end = spans[field][1]
        return parts, end

    def _admin_units(self, key: str, fields: tuple[str, ...]) -> dict[int, float]:
        entities = self._index.entities
        return {
            e.entity: e.score
            for e in self._index.exact.get(key, ())
            if e.field in fields and entities[e.entity].kind in _ADMIN_KINDS
        }

    def _add_admin(self, parts, hits: _Hits, rest: bool) -> None:
        """The units the address names, the deepest one scored highest."""
        entities = self._index.entities
        deepest = max(LEVEL_INDEX[entities[e].kind] for _, ents in parts for e in ents)
        for text, ents in parts:
            for e, named in ents.items():
                top = _ADMIN_WITH_REST if rest else named
                score = top - _ADMIN_STEP * (deepest - LEVEL_INDEX[entities[e].kind])
                hits.add(e, score, "address", f"{entities[e].kind}:{text}")

    # --- one text -------------------------------------------------------------------

    def _match_exact(self, key: str, hits: _Hits) -> bool:
        entries = self._index.exact.get(key, ())
        for entry in entries:
            hits.add(entry.entity, entry.score, "exact", entry)
        return any(e.score >= EXACT_SCORE["short"] for e in entries)

    def _match_text(self, t: str, hits: _Hits, strong: bool) -> None:
        """Exact, prefix, substring, contained and fuzzy matches of one text.

        After a strong exact match (``strong``) only longer names containing the text
        are added, as related answers.
        """
        index = self._index
        strong |= self._match_exact(t, hits)
        if _CODE_LIKE.fullmatch(t):
            self._match_prefix(t, index.code_keys, index.exact, hits)
        if _LATIN.fullmatch(t):
            for entry in index.pinyin.get(t, ()):
                hits.add(entry.entity, entry.score, "exact", entry)
            self._match_prefix(t, index.pinyin_keys, index.pinyin, hits)
            return
        for blob in (index.name_blob,) if strong else (index.name_blob, index.address_blob):
            for key in blob.containing(t, _SUBSTRING_KEYS):
                score = 60 + 30 * len(t) / len(key)
                for entry in index.exact[key]:
                    if entry.field in blob.fields:
                        hits.add(entry.entity, score, "substring", entry)
        if strong:
            return
        if len(t) >= 3:
            self._match_contained(t, hits)
        if len(t) >= 2:
            # At least |a − b| edits: only keys of these lengths can reach the cutoff.
            c = _FUZZY_CUTOFF / 100
            lo = bisect.bisect_left(index.fuzzy_lengths, math.ceil(len(t) * c - 1e-9))
            hi = bisect.bisect_right(index.fuzzy_lengths, len(t) / c + 1e-9)
            for key, similarity, _ in process.extract(
                t,
                index.fuzzy_keys[lo:hi],
                scorer=Levenshtein.normalized_similarity,
                score_cutoff=c,
                limit=None,
            ):
                score = 100 * _FUZZY_WEIGHT * similarity
                for entry in index.exact[key]:
                    if entry.field in FUZZY_FIELDS:
                        hits.add(entry.entity, score, "fuzzy", entry)

    def _match_prefix(self, t: str, keys: list[str], table, hits: _Hits) -> None:
        i = bisect.bisect_right(keys, t)  # t itself was matched exactly
        for key in keys[i : i + _PREFIX_SCAN]:
            if not key.startswith(t):
                break
            score = 60 + 25 * len(t) / len(key)
            for entry in table[key]:
                if entry.field in ("code", "pinyin", "pinyin_initials"):
                    hits.add(entry.entity, score, "prefix", entry)

    def _match_contained(self, t: str, hits: _Hits) -> None:
        """Names, aliases and addresses of three or more characters inside the query."""
        exact = self._index.exact
        for size in range(min(len(t) - 1, self._index.longest_key), 2, -1):
            score = 45 + 30 * size / len(t)
            for i in range(len(t) - size + 1):
                for entry in exact.get(t[i : i + size], ()):
                    if entry.field in ("name", "alias", "address"):
                        hits.add(entry.entity, score, "contained", entry)

    # --- ranking --------------------------------------------------------------------

    def _rank(self, best: dict[int, _Hit], parts, building, limit: int) -> list[Candidate]:
        entities = self._index.entities
        # Per address part: level → codes it names.
        named: list[dict[int, set[str]]] = []
        for _, ents in parts:
            by_level: dict[int, set[str]] = {}
            for e in ents:
                by_level.setdefault(LEVEL_INDEX[entities[e].kind], set()).add(entities[e].code)
            named.append(by_level)

        def adjusted(ent: int, score: float) -> float:
            chain = entities[ent].chain
            for by_level in named:
                inside = [(chain[li], codes) for li, codes in by_level.items()]
                if any(code in codes for code, codes in inside):
                    score += _AGREE
                elif any(code is not None for code, _ in inside):
                    score += _CLASH
            return score

        ranked = heapq.nsmallest(
            limit,
            ((adjusted(ent, hit[0]), ent, hit) for ent, hit in best.items()),
            key=lambda r: (
                -r[0],
                _KIND_RANK[entities[r[1]].kind],
                len(entities[r[1]].name),
                entities[r[1]].code,
            ),
        )
        return [self._candidate(ent, score, hit, building) for score, ent, hit in ranked]

    def _candidate(self, ent: int, score: float, hit: _Hit, building) -> Candidate:
        index = self._index
        e = index.entities[ent]
        _, how, what = hit
        if isinstance(what, Entry):
            what = f"{_LABEL.get(what.field, what.field)}:{what.text}"
        chain = {
            lvl: None if code is None else (code, index.entities[index.by_code[code]].name)
            for lvl, code in zip(LEVELS, e.chain, strict=True)
        }
        return Candidate(
            kind=e.kind,
            code=e.code,
            name=e.name,
            score=round(min(100.0, max(0.0, score)), 2),
            lon=e.lon,
            lat=e.lat,
            chain=chain,
            matched=f"{how} {what}",
            building=building if e.kind in ("compound", "special_grid") else None,
        )
