"""Every route of the OpenAPI document × every role × inside/outside the jurisdiction.

Keys are required (``require_api_key``). Roles: anonymous, an app key (geocode, read,
intake), a planner of one community, a supervisor of one street, a grid worker, an
admin (every scope, no unit limits). Each route has an entry in :data:`EXPECT` saying
what kind of route it is (public, read, intake, a write inside units, a district-wide
write …) and how to build a valid request for a target inside or outside the planner's
community; the kind gives the expected allow/deny per role. A route of the document
without an entry fails the test, so a new route is in the matrix at once.

A denied request must change nothing: a fingerprint of the database (row count and
checksum of every table, the audit log's included) is compared before and after the
denied requests of each route. Allowed writes run as dry runs where the route has one,
otherwise on disposable rows made for the purpose. Runs on its own database.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import box, mapping

from geo.settings import Settings
from geo.store import keys as keystore
from geo.store import migrate
from geo.store.cluster import drop_database, ensure_database
from geo.store.db import make_engine

LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"


def live(a: str) -> str:
    return f"{a}.valid_from IS NOT NULL AND {a}.valid_to IS NULL"


ROLES = ("anonymous", "app", "planner", "supervisor", "worker", "admin")
DENY = {401, 403}
_counter = itertools.count(1)


def _n() -> int:
    return next(_counter)


# -- expectations ----------------------------------------------------------------------


def expected(kind: str, role: str, target: str | None) -> bool:
    """Allowed (True) or denied, by the route's kind, the role, and the target."""
    if kind == "public":
        return True
    if role == "anonymous":
        return False
    inside = target != "out"
    restricted = role in ("planner", "supervisor", "worker")
    if kind in ("read", "geocode", "read_case"):
        return True
    if kind == "read_unit":
        return not restricted or inside
    if kind == "intake":
        return role != "supervisor" and (not restricted or inside)
    if kind == "edit_any":
        return role in ("planner", "admin")
    if kind == "edit_unit":
        return role == "admin" or (role == "planner" and inside)
    if kind == "district":
        return role == "admin"
    raise AssertionError(kind)


@dataclass
class Req:
    method: str
    url: str
    kw: dict[str, Any] = field(default_factory=dict)


@dataclass
class E:
    kind: str
    build: Callable[[Any, str | None], Req | list[Req]]
    targets: tuple[str | None, ...] = (None,)
    ok: frozenset[int] = frozenset()  # statuses that count as allowed besides 2xx/3xx
    hides: bool = False  # refused as 404 (not found in your jurisdiction), not 403
    overrides: dict[tuple[str, str | None], bool] = field(default_factory=dict)


def get(url: str, **params: Any) -> Callable[[Any, str | None], Req]:
    def build(ctx: Any, t: str | None) -> Req:
        values = ctx.fmt(t)
        query = {k: str(v).format(**values) for k, v in params.items()}
        return Req("GET", url.format(**values), {"params": query})

    return build


# -- the world the requests act on -----------------------------------------------------


class Ctx:
    def __init__(self, engine, client):
        self.engine, self.client = engine, client
        self.headers: dict[str, dict[str, str]] = {}
        self.drafts: dict[str | None, int] = {}
        self.key_ids: dict[str, int] = {}

    def q(self, sql: str, **kw: Any):
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), kw)

    def one(self, sql: str, **kw: Any):
        return self.q(sql, **kw).scalar_one()

    def grid(self, t: str | None) -> str:
        return self.g_out if t == "out" else self.g_in

    def grid2(self, t: str | None) -> str:
        return self.g_out2 if t == "out" else self.g_in2

    def geom(self, code: str):
        wkt = self.one(
            f"SELECT ST_AsText(geom) FROM admin_unit_version WHERE code = :c AND {LIVE}", c=code
        )
        return shapely.from_wkt(wkt)

    def etag(self, code: str) -> str:
        vid = self.one(f"SELECT id FROM admin_unit_version WHERE code = :c AND {LIVE}", c=code)
        return f'"{vid}"'

    def special_etag(self, code: str) -> str:
        vid = self.one("SELECT id FROM special_grid WHERE code = :c AND valid_to IS NULL", c=code)
        return f'"{vid}"'

    def point(self, t: str | None) -> shapely.Point:
        return self.geom(self.grid(t)).buffer(-0.0002).representative_point()

    def square(self, t: str | None, half: float = 0.00008):
        p = self.point(t)
        return box(p.x - half, p.y - half, p.x + half, p.y + half)

    def fmt(self, t: str | None) -> dict[str, Any]:
        return {
            "grid": self.grid(t),
            "community": self.grid(t)[:12],
            "worker": self.w_out if t == "out" else self.w_in,
            "special": self.sp_out if t == "out" else self.sp_in,
            "compound": self.cp_out if t == "out" else self.cp_in,
            "incident": self.inc_out if t == "out" else self.inc_in,
            "set_id": self.fix_set,
            "version": self.one(
                f"SELECT id FROM admin_unit_version WHERE code = :c AND {LIVE}", c=self.grid(t)
            ),
            "first_version": self.first_version,
            "tile_version": self.tile_version,
        }

    def as_admin(self) -> dict[str, str]:
        return self.headers["admin"]


def _operator():
    from geo.services import policy

    return policy.operator("role-matrix")


def _make_draft(ctx: Ctx, t: str | None) -> int:
    """A draft of the live grids with one renamed: inside or outside the planner's."""
    from geo.store import boundaries as bstore

    cached = ctx.drafts.get(t)
    if cached and ctx.one("SELECT status FROM boundary_set WHERE id = :i", i=cached) == "draft":
        return cached
    with ctx.engine.begin() as conn:
        grids = bstore.units_frame(conn, levels=("grid",))
        grids = grids[["level", "code", "name", "parent_code", "geometry"]].copy()
        grids.loc[grids["code"] == ctx.grid(t), "name"] = f"矩阵改名{_n()}"
        set_id = bstore.create_draft_set(conn, grids, name=f"matrix {t}", author="matrix")
    ctx.drafts[t] = set_id
    return set_id


def _disposable_grid(ctx: Ctx, t: str | None) -> str:
    from geo.services import edits

    out = edits.create_grid_at(
        ctx.engine,
        ctx.grid(t)[:12],
        ctx.square(t),
        who=_operator(),
        name=f"临时网格{_n()}",
        author=None,
        reason="role matrix",
    )
    return out.created[0]


def _disposable_special(ctx: Ctx, t: str | None) -> str:
    from geo.services import special_edits

    code = f"MXSP{_n():04d}"
    fields = {"name": f"临时专属{code}", "kind": "school", "responsible_unit": "区教育局"}
    special_edits.create(
        ctx.engine, code, fields, ctx.square(t), who=_operator(), author=None, reason="matrix"
    )
    return code


def _disposable_compound(ctx: Ctx, t: str | None, management: str = "property_company") -> int:
    from geo.services import registers

    p = ctx.point(t)
    fields = {
        "name": f"临时楼院{_n()}",
        "address": None,
        "households": 10,
        "buildings": 1,
        "year_built": 2000,
        "management_type": management,
    }
    row = registers.create_compound(
        ctx.engine, fields, p.x, p.y, who=_operator(), actor=None, key=None
    )
    return int(row["id"])


def _disposable_worker(ctx: Ctx, t: str | None) -> str:
    from geo.services import registers

    code = f"MXW{_n():05d}"
    registers.put_worker(
        ctx.engine,
        None,
        code,
        name="临时网格员",
        role="worker",
        phone="13800000000",
        unit_codes=[ctx.grid(t)],
        who=_operator(),
        actor=None,
    )
    return code


def _unplaced(ctx: Ctx) -> int:
    from geo.registers.records import CompoundRecord
    from geo.store import ledgers

    key = f"MXU{_n():05d}"
    rec = CompoundRecord(
        row=1,
        key=key,
        name=f"待落点{key}",
        address=None,
        households=5,
        buildings=1,
        year_built=1990,
        management_type="unowned",
    )
    with ctx.engine.begin() as conn:
        ledgers.put(conn, rec, "matrix.csv")
    return ctx.one("SELECT id FROM ledger_unplaced WHERE source_key = :k", k=key)


def _alias(ctx: Ctx) -> int:
    from geo.store import aliases

    with ctx.engine.begin() as conn:
        return aliases.add_alias(conn, ctx.g_in, f"矩阵别名{_n()}", actor="matrix")["id"]


# -- request builders of the writes ----------------------------------------------------


def _edit(ctx: Ctx, t, path: str, body: dict, codes: list[str]) -> Req:
    return Req(
        "POST",
        path,
        {
            "json": {"reason": "role matrix", **body},
            "params": {"dry_run": "true"},
            "headers": {"If-Match": ", ".join(ctx.etag(c) for c in codes)},
        },
    )


def _split(ctx: Ctx, t):
    g = ctx.geom(ctx.grid(t))
    p, (_x0, y0, _x1, y1) = g.representative_point(), g.bounds
    line = {"type": "LineString", "coordinates": [[p.x, y0 - 0.001], [p.x, y1 + 0.001]]}
    return _edit(ctx, t, f"/v1/grids/{ctx.grid(t)}/split", {"line": line}, [ctx.grid(t)])


def _border(ctx: Ctx, t):
    a, b = ctx.grid(t), ctx.grid2(t)
    shared = shapely.line_merge(ctx.geom(a).boundary.intersection(ctx.geom(b).boundary))
    if shared.geom_type != "LineString":
        shared = max(shapely.get_parts(shared), key=lambda x: x.length)
    body = {"grids": [a, b], "line": mapping(shared)}
    return _edit(ctx, t, "/v1/grids/border", body, [a, b])


def _move(ctx: Ctx, t):
    code = ctx.grid(t)
    other = ctx.one(
        f"SELECT n.code FROM admin_unit_version g JOIN admin_unit_version n"
        f" ON n.level = 'grid' AND {live('n')} AND left(n.code, 12) <> left(g.code, 12)"
        f" WHERE g.code = :c AND {live('g')} ORDER BY ST_Distance(g.geom, n.geom), n.code"
        " LIMIT 1",
        c=code,
    )
    return _edit(ctx, t, f"/v1/grids/{code}/move", {"community": other[:12]}, [code])


def _special_body(ctx: Ctx, t, code: str | None = None) -> dict:
    body = {
        "name": f"矩阵专属{_n()}",
        "kind": "hospital",
        "responsible_unit": "区卫健委",
        "geometry": mapping(ctx.square(t)),
        "reason": "role matrix",
    }
    return {**body, "code": code} if code else body


def _ogc_create(ctx: Ctx, t):
    feature = {"type": "Feature", "geometry": mapping(ctx.square(t)), "properties": {}}
    special = {
        "type": "Feature",
        "geometry": mapping(ctx.square(t)),
        "properties": {
            "code": f"MXOGC{_n():04d}",
            "name": "矩阵OGC专属",
            "kind": "school",
            "responsible_unit": "区教育局",
        },
    }
    return [
        Req("POST", "/ogc/collections/grids/items", {"json": feature}),
        Req("POST", "/ogc/collections/special-grids/items", {"json": special}),
    ]


def _ogc_update(method: str):
    def build(ctx: Ctx, t):
        code, sp = ctx.grid(t), ctx.fmt(t)["special"]
        if method == "PUT":
            grid_body = {
                "type": "Feature",
                "geometry": mapping(ctx.geom(code)),
                "properties": {"name": f"矩阵网格{_n()}"},
            }
            sp_body = {
                "type": "Feature",
                "geometry": mapping(ctx.square(t)),
                "properties": {"name": f"矩阵专属{_n()}"},
            }
        else:
            grid_body = {"properties": {"name": f"矩阵网格{_n()}"}}
            sp_body = {"properties": {"name": f"矩阵专属{_n()}"}}
        return [
            Req(
                method,
                f"/ogc/collections/grids/items/{code}",
                {"json": grid_body, "headers": {"If-Match": ctx.etag(code)}},
            ),
            Req(
                method,
                f"/ogc/collections/special-grids/items/{sp}",
                {"json": sp_body, "headers": {"If-Match": ctx.special_etag(sp)}},
            ),
        ]

    return build


def _ogc_delete(ctx: Ctx, t):
    code, sp = _disposable_grid(ctx, t), _disposable_special(ctx, t)
    return [
        Req(
            "DELETE",
            f"/ogc/collections/grids/items/{code}",
            {"headers": {"If-Match": ctx.etag(code)}},
        ),
        Req(
            "DELETE",
            f"/ogc/collections/special-grids/items/{sp}",
            {"headers": {"If-Match": ctx.special_etag(sp)}},
        ),
    ]


def _geojson_file(features: list[dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def _boundary_upload(ctx: Ctx, t):
    from geo.store import boundaries as bstore

    with ctx.engine.connect() as conn:
        grids = bstore.units_frame(conn, levels=("grid",))
    own = grids[grids["code"].str.startswith(ctx.g_in[:12])]
    features = [
        {
            "type": "Feature",
            "geometry": mapping(r.geometry),
            "properties": {"code": r.code, "name": r.name, "parent": r.parent_code},
        }
        for r in own.itertuples()
    ]
    return Req(
        "POST",
        "/v1/boundary-sets",
        {
            "files": {"file": ("c.geojson", _geojson_file(features))},
            "data": {"level": "grid", "author": "client-claim"},
        },
    )


def _special_import(ctx: Ctx, t):
    feature = {
        "type": "Feature",
        "geometry": mapping(ctx.square(t)),
        "properties": {
            "code": f"MXIMP{_n():04d}",
            "name": "矩阵导入",
            "kind": "school",
            "responsible_unit": "区教育局",
        },
    }
    return Req(
        "POST",
        "/v1/special-grids/import",
        {
            "files": {"file": ("s.geojson", _geojson_file([feature]))},
            "data": {"dry_run": "false", "reason": "matrix"},
        },
    )


def _ledger_import(ctx: Ctx, t):
    p = ctx.point(t)
    csv = f"名称,地址,经度,纬度\n矩阵台账楼院{_n()},矩阵路1号,{p.x},{p.y}\n".encode()
    return Req(
        "POST",
        "/v1/registers/ledgers/import",
        {
            "files": {"file": ("l.csv", csv, "text/csv")},
            "data": {
                "kind": "compounds",
                "dry_run": "false",
                "management_type": "unowned",
                "crs": "wgs84",
            },
        },
    )


def _incident(ctx: Ctx, t):
    p = ctx.point(t)
    body = {
        "source": "hotline_12345",
        "external_id": f"matrix-{_n()}",
        "reported_at": "2026-11-20T09:00:00+08:00",
        "category": "environment",
        "lon": p.x,
        "lat": p.y,
        "crs": "wgs84",
    }
    return Req("POST", "/v1/incidents", {"json": body})


def _open311(ctx: Ctx, t):
    p = ctx.point(t)
    form = {"service_code": "environment", "lat": str(p.y), "long": str(p.x), "description": "x"}
    return Req("POST", "/open311/v2/requests.json", {"data": form})


def _tracks(ctx: Ctx, t):
    worker = ctx.w_out if t == "out" else ctx.w_in
    p = ctx.point(t)
    day = 10 + _n() % 15
    body = (
        "worker_id,time,lon,lat,accuracy,crs\n"
        f"{worker},2026-11-{day:02d}T08:00:00+08:00,{p.x},{p.y},5,wgs84\n"
        f"{worker},2026-11-{day:02d}T08:00:30+08:00,{p.x + 0.0001},{p.y},5,wgs84\n"
        f"{worker},2026-11-{day:02d}T08:01:00+08:00,{p.x + 0.0002},{p.y},5,wgs84\n"
    )
    return Req(
        "POST", "/v1/patrol/tracks", {"files": {"file": ("t.csv", body.encode(), "text/csv")}}
    )


def _governance(ctx: Ctx, t):
    cid = ctx.gov_out if t == "out" else ctx.gov_in
    body = {
        "issues": ["无门禁"],
        "mode": "community",
        "committee_formed": True,
        "works": [{"work": "安装门禁", "done_on": "2026-10-08"}],
        "actor": "client-claim",
    }
    return Req("PUT", f"/v1/registers/compounds/{cid}/governance", {"json": body})


B = "/v1/registers"
IN_OUT = ("in", "out")
# No unit names can be inside the jurisdiction of a community planner when moving a grid
# to another community: the target community is outside theirs.
MOVE_OVERRIDES = {("planner", "in"): False}
# A grid worker's jurisdiction is their grid: a community's heat map lies outside it.
HEAT_OVERRIDES = {("worker", "in"): False}

EXPECT: dict[tuple[str, str], E] = {
    ("GET", "/livez"): E("public", get("/livez")),
    ("GET", "/healthz"): E("public", get("/healthz")),
    ("GET", "/v1/geocode/reverse"): E(
        "geocode", lambda c, t: Req("GET", "/v1/geocode/reverse", {"params": _lonlat(c, t)})
    ),
    ("GET", "/v1/geocode/search"): E("geocode", get("/v1/geocode/search", q="社区")),
    ("POST", "/v1/geocode/reverse/batch"): E(
        "geocode",
        lambda c, t: Req(
            "POST", "/v1/geocode/reverse/batch", {"json": {"points": [_lonlat(c, t)]}}
        ),
    ),
    ("GET", "/v1/aliases"): E("read", get("/v1/aliases")),
    ("POST", "/v1/aliases"): E(
        "district",
        lambda c, t: Req("POST", "/v1/aliases", {"json": {"target": c.g_in, "alias": f"别{_n()}"}}),
    ),
    ("DELETE", "/v1/aliases/{alias_id}"): E(
        "district", lambda c, t: Req("DELETE", f"/v1/aliases/{_alias(c)}")
    ),
    ("GET", "/v1/boundary-sets"): E("read", get("/v1/boundary-sets")),
    ("POST", "/v1/boundary-sets"): E("edit_any", _boundary_upload),
    ("GET", "/v1/boundary-sets/{set_id}"): E("read", get("/v1/boundary-sets/{set_id}")),
    ("GET", "/v1/boundary-sets/{set_id}/findings"): E(
        "read", get("/v1/boundary-sets/{set_id}/findings")
    ),
    ("POST", "/v1/boundary-sets/{set_id}/publish"): E(
        "edit_unit",
        lambda c, t: Req(
            "POST",
            f"/v1/boundary-sets/{_make_draft(c, t)}/publish",
            {"json": {"author": "区长 (claimed)", "reason": "matrix"}},
        ),
        IN_OUT,
    ),
    ("POST", "/v1/boundary-sets/{set_id}/fixes"): E(
        "edit_unit",
        lambda c, t: Req(
            "POST",
            f"/v1/boundary-sets/{c.fix_set}/fixes",
            {"json": {"fix": "snap_to_parent", "codes": [c.grid(t)]}},
        ),
        IN_OUT,
    ),
    ("GET", "/v1/boundaries/export"): E("read", get("/v1/boundaries/export", format="geojson")),
    ("GET", "/v1/grids/{code}"): E("read", get("/v1/grids/{grid}"), IN_OUT),
    ("POST", "/v1/grids/{code}/reshape"): E(
        "edit_unit",
        lambda c, t: _edit(
            c,
            t,
            f"/v1/grids/{c.grid(t)}/reshape",
            {"geometry": mapping(c.geom(c.grid(t)))},
            [c.grid(t)],
        ),
        IN_OUT,
    ),
    ("POST", "/v1/grids/{code}/split"): E("edit_unit", _split, IN_OUT, ok=frozenset({422})),
    ("POST", "/v1/grids/merge"): E(
        "edit_unit",
        lambda c, t: _edit(
            c, t, "/v1/grids/merge", {"grids": [c.grid(t), c.grid2(t)]}, [c.grid(t), c.grid2(t)]
        ),
        IN_OUT,
    ),
    ("POST", "/v1/grids/border"): E("edit_unit", _border, IN_OUT, ok=frozenset({422})),
    ("POST", "/v1/grids/{code}/move"): E(
        "edit_unit", _move, IN_OUT, ok=frozenset({422}), overrides=MOVE_OVERRIDES
    ),
    ("POST", "/v1/grids/{code}/revert"): E(
        "edit_unit",
        lambda c, t: _edit(
            c,
            t,
            f"/v1/grids/{c.grid(t)}/revert",
            {"version_id": c.fmt(t)["version"]},
            [c.grid(t)],
        ),
        IN_OUT,
    ),
    ("GET", "/v1/units/{code}/versions"): E("read", get("/v1/units/{grid}/versions"), IN_OUT),
    ("GET", "/v1/units/{code}/versions/{version_id}"): E(
        "read", get("/v1/units/{grid}/versions/{version}"), IN_OUT
    ),
    ("GET", "/v1/units/{code}/diff"): E(
        "read",
        lambda c, t: Req(
            "GET",
            f"/v1/units/{c.g_in}/diff",
            {"params": {"from": c.first_version, "to": c.fmt("in")["version"]}},
        ),
    ),
    ("GET", "/v1/audit"): E("read", get("/v1/audit")),
    ("POST", "/v1/special-grids/import"): E("district", _special_import, IN_OUT),
    ("GET", "/v1/special-grids/{code}"): E("read", get("/v1/special-grids/{special}"), IN_OUT),
    ("PUT", "/v1/special-grids/{code}"): E(
        "edit_unit",
        lambda c, t: Req(
            "PUT",
            f"/v1/special-grids/{c.fmt(t)['special']}",
            {
                "json": _special_body(c, t),
                "params": {"dry_run": "true"},
                "headers": {"If-Match": c.special_etag(c.fmt(t)["special"])},
            },
        ),
        IN_OUT,
    ),
    ("DELETE", "/v1/special-grids/{code}"): E(
        "edit_unit",
        lambda c, t: Req(
            "DELETE",
            f"/v1/special-grids/{c.fmt(t)['special']}",
            {
                "params": {"dry_run": "true", "reason": "matrix"},
                "headers": {"If-Match": c.special_etag(c.fmt(t)["special"])},
            },
        ),
        IN_OUT,
    ),
    ("POST", "/v1/special-grids"): E(
        "edit_unit",
        lambda c, t: Req(
            "POST",
            "/v1/special-grids",
            {"json": _special_body(c, t, f"MXNEW{_n():04d}"), "params": {"dry_run": "true"}},
        ),
        IN_OUT,
    ),
    ("GET", "/v1/incidents/heat"): E(
        "read_unit",
        get("/v1/incidents/heat", community="{community}"),
        IN_OUT,
        overrides=HEAT_OVERRIDES,
    ),
    ("GET", "/v1/incidents/categories"): E("read_case", get("/v1/incidents/categories")),
    ("POST", "/v1/incidents"): E("intake", _incident, IN_OUT),
    ("GET", "/v1/incidents/{incident_id}"): E("read_unit", get("/v1/incidents/{incident}"), IN_OUT),
    ("PATCH", "/v1/incidents/{incident_id}"): E(
        "intake",
        lambda c, t: Req(
            "PATCH",
            f"/v1/incidents/{c.fmt(t)['incident']}",
            {"json": {"action": "assign", "actor": "矩阵", "assignee": f"张{_n()}"}},
        ),
        IN_OUT,
        ok=frozenset({409, 422}),
        hides=True,
    ),
    ("GET", "/open311/v2/services.json"): E("intake", get("/open311/v2/services.json")),
    ("POST", "/open311/v2/requests.json"): E("intake", _open311, IN_OUT),
    ("GET", "/open311/v2/requests.json"): E("intake", get("/open311/v2/requests.json")),
    ("GET", "/open311/v2/requests/{request_id}.json"): E(
        "intake", get("/open311/v2/requests/{incident}.json"), IN_OUT, hides=True
    ),
    ("POST", "/v1/patrol/tracks"): E("intake", _tracks, IN_OUT),
    ("GET", "/v1/coverage/{code}"): E("read_unit", get("/v1/coverage/{grid}"), IN_OUT),
    ("GET", "/ogc"): E("read", get("/ogc")),
    ("GET", "/ogc/conformance"): E("read", get("/ogc/conformance")),
    ("GET", "/ogc/api"): E("read", get("/ogc/api")),
    ("GET", "/ogc/collections"): E("read", get("/ogc/collections")),
    ("GET", "/ogc/collections/{collection_id}"): E("read", get("/ogc/collections/grids")),
    ("GET", "/ogc/collections/{collection_id}/items"): E(
        "read", get("/ogc/collections/grids/items", limit=2)
    ),
    ("POST", "/ogc/collections/{collection_id}/items"): E("edit_unit", _ogc_create, IN_OUT),
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): E(
        "read", get("/ogc/collections/grids/items/{grid}"), IN_OUT
    ),
    ("PUT", "/ogc/collections/{collection_id}/items/{code}"): E(
        "edit_unit", _ogc_update("PUT"), IN_OUT
    ),
    ("PATCH", "/ogc/collections/{collection_id}/items/{code}"): E(
        "edit_unit", _ogc_update("PATCH"), IN_OUT
    ),
    ("DELETE", "/ogc/collections/{collection_id}/items/{code}"): E(
        "edit_unit", _ogc_delete, IN_OUT
    ),
    ("GET", "/tiles/{layer}.json"): E("read", get("/tiles/grid.json")),
    ("GET", "/tiles/v/{version}/{layer}/{z}/{x}/{y}.mvt"): E(
        "read", get("/tiles/v/{tile_version}/grid/12/3346/1627.mvt")
    ),
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): E("read", get("/tiles/grid/12/3346/1627.mvt")),
    ("GET", f"{B}/compounds"): E("read", get(f"{B}/compounds")),
    ("POST", f"{B}/compounds"): E(
        "edit_unit",
        lambda c, t: Req(
            "POST",
            f"{B}/compounds",
            {
                "json": {
                    "name": f"矩阵楼院{_n()}",
                    "management_type": "self_governed",
                    "location": {**_lonlat(c, t), "crs": "wgs84"},
                    "actor": "client-claim",
                }
            },
        ),
        IN_OUT,
    ),
    ("GET", f"{B}/compounds/{{compound_id}}"): E(
        "read", get(f"{B}/compounds/{{compound}}"), IN_OUT
    ),
    ("PATCH", f"{B}/compounds/{{compound_id}}"): E(
        "edit_unit",
        lambda c, t: Req(
            "PATCH",
            f"{B}/compounds/{c.fmt(t)['compound']}",
            {"json": {"households": 10 + _n(), "actor": "client-claim"}},
        ),
        IN_OUT,
    ),
    ("DELETE", f"{B}/compounds/{{compound_id}}"): E(
        "edit_unit",
        lambda c, t: Req(
            "DELETE", f"{B}/compounds/{_disposable_compound(c, t)}", {"params": {"actor": "x"}}
        ),
        IN_OUT,
    ),
    ("POST", f"{B}/compounds/recompute-grids"): E(
        "district", lambda c, t: Req("POST", f"{B}/compounds/recompute-grids")
    ),
    ("GET", f"{B}/workers"): E("read", get(f"{B}/workers")),
    ("GET", f"{B}/workers/{{code}}"): E("read_unit", get(f"{B}/workers/{{worker}}"), IN_OUT),
    ("PUT", f"{B}/workers/{{code}}"): E(
        "edit_unit",
        lambda c, t: Req(
            "PUT",
            f"{B}/workers/{c.fmt(t)['worker']}",
            {
                "json": {
                    "name": "矩阵网格员",
                    "role": "worker",
                    "phone": f"139{_n():08d}",
                    "units": [c.grid(t)],
                    "actor": "client-claim",
                }
            },
        ),
        IN_OUT,
    ),
    ("DELETE", f"{B}/workers/{{code}}"): E(
        "edit_unit",
        lambda c, t: Req(
            "DELETE", f"{B}/workers/{_disposable_worker(c, t)}", {"params": {"actor": "x"}}
        ),
        IN_OUT,
    ),
    ("POST", f"{B}/ledgers/import"): E("district", _ledger_import),
    ("GET", f"{B}/ledgers/export"): E("read", get(f"{B}/ledgers/export", kind="compounds")),
    ("GET", f"{B}/ledgers/unplaced"): E("read", get(f"{B}/ledgers/unplaced")),
    ("POST", f"{B}/ledgers/unplaced/{{unplaced_id}}/place"): E(
        "edit_unit",
        lambda c, t: Req(
            "POST",
            f"{B}/ledgers/unplaced/{_unplaced(c)}/place",
            {"json": {**_lonlat(c, t), "crs": "wgs84"}, "params": {"actor": "client-claim"}},
        ),
        IN_OUT,
    ),
    ("GET", f"{B}/campaign"): E("read", get(f"{B}/campaign")),
    ("GET", f"{B}/campaign/progress"): E("read", get(f"{B}/campaign/progress")),
    ("GET", f"{B}/compounds/{{compound_id}}/governance"): E(
        "read", get(f"{B}/compounds/{{compound}}/governance"), IN_OUT, ok=frozenset({422})
    ),
    ("PUT", f"{B}/compounds/{{compound_id}}/governance"): E("edit_unit", _governance, IN_OUT),
    ("GET", f"{B}/workload"): E("read", get(f"{B}/workload")),
}


def _lonlat(ctx: Ctx, t) -> dict[str, float]:
    p = ctx.point(t)
    return {"lon": p.x, "lat": p.y}


def openapi_routes() -> set[tuple[str, str]]:
    from api.app import create_app

    doc = create_app(Settings()).openapi()
    return {
        (m.upper(), path)
        for path, ops in doc["paths"].items()
        for m in ops
        if m in ("get", "post", "put", "patch", "delete")
    }


ROUTES = sorted(openapi_routes())


# -- the database and the app ----------------------------------------------------------


def fingerprint(engine) -> dict[str, Any]:
    """Rows and a checksum per table (the audit log's included): what a write changes.
    Sessions' clocks move on every signed-in request and are counted only."""
    with engine.connect() as conn:
        tables = conn.execute(
            sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename NOT IN ('spatial_ref_sys', 'alembic_version') ORDER BY 1"
            )
        ).scalars()
        parts = []
        for t in tables:
            digest = (
                "NULL"
                if t == "account_session"
                else "md5(string_agg(md5(x::text), '' ORDER BY md5(x::text)))"
            )
            parts.append(f"SELECT '{t}', count(*), {digest} FROM {t} x")
        rows = conn.execute(sa.text(" UNION ALL ".join(parts))).all()
    return {r[0]: (r[1], r[2]) for r in rows}


@pytest.fixture(scope="module")
def world(cluster, test_settings, db_url, tmp_path_factory):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from boundaries.sample_load import load_sample

    name = f"gridmap_test_roles_{os.getpid()}"
    settings = test_settings.model_copy(
        update={
            "pg_database": name,
            "data_dir": tmp_path_factory.mktemp("roles"),
            "require_api_key": True,
        }
    )
    ensure_database(cluster.admin_dsn(), name, settings.pg_user)
    migrate.upgrade(settings.sqlalchemy_url())
    engine = make_engine(settings)
    load_sample(engine, settings, step=lambda *_: None)
    try:
        with TestClient(create_app(settings)) as client:
            ctx = Ctx(engine, client)
            _setup(ctx)
            yield ctx
    finally:
        engine.dispose()
        drop_database(cluster.admin_dsn(), name)


def _pair(ctx: Ctx, exclude_street: str | None) -> tuple[str, str, str]:
    """A grid with an assigned worker and a touching grid of the same community."""
    row = ctx.q(
        f"""
        SELECT g.code, n.code, w.worker_code
        FROM admin_unit_version g
        JOIN admin_unit_version n ON n.level = 'grid' AND {live("n")}
             AND left(n.code, 12) = left(g.code, 12) AND n.code <> g.code
             AND ST_Length(ST_Intersection(ST_Boundary(g.geom), ST_Boundary(n.geom))) > 0
        JOIN grid_assignment a ON a.unit_id = g.unit_id AND a.valid_to IS NULL
             AND a.role = 'worker'
        JOIN grid_worker w ON w.id = a.worker_id
        WHERE g.level = 'grid' AND {live("g")} AND left(g.code, 9) <> :s
        ORDER BY g.code, n.code LIMIT 1
        """,
        s=exclude_street or "",
    ).one()
    return row[0], row[1], row[2]


def _setup(ctx: Ctx) -> None:
    ctx.g_in, ctx.g_in2, ctx.w_in = _pair(ctx, None)
    ctx.g_out, ctx.g_out2, ctx.w_out = _pair(ctx, ctx.g_in[:9])
    community, street = ctx.g_in[:12], ctx.g_in[:9]
    assert ctx.g_out[:9] != street  # outside: another street altogether
    assert ctx.one(
        f"SELECT level FROM admin_unit_version WHERE code = :c AND {LIVE}", c=street
    ) == ("street")
    specs = {
        "app": {"scopes": ["geocode", "read", "intake"]},
        "planner": {"role": "planner", "unit_codes": [community]},
        "supervisor": {"role": "supervisor", "unit_codes": [street]},
        "worker": {"role": "grid_worker", "worker_code": ctx.w_in},
        "admin": {"scopes": ["geocode", "read", "intake", "edit"]},
    }
    with ctx.engine.begin() as conn:
        for role, spec in specs.items():
            args = {"scopes": [], "unit_codes": [], **spec}
            key_id, key = keystore.create_key(
                conn, name=f"matrix-{role}", rate_per_minute=100_000, created_by="test", **args
            )
            ctx.headers[role] = {"Authorization": f"Bearer {key}"}
            ctx.key_ids[role] = key_id
    ctx.headers["anonymous"] = {}
    ctx.sp_in, ctx.sp_out = _disposable_special(ctx, "in"), _disposable_special(ctx, "out")
    ctx.cp_in, ctx.cp_out = _disposable_compound(ctx, "in"), _disposable_compound(ctx, "out")
    ctx.gov_in = _disposable_compound(ctx, "in", "unowned")
    ctx.gov_out = _disposable_compound(ctx, "out", "unowned")
    ctx.fix_set = _make_draft(ctx, "fixes")
    ctx.drafts.pop("fixes")
    ctx.first_version = ctx.one(
        "SELECT min(id) FROM admin_unit_version WHERE code = :c", c=ctx.g_in
    )
    ids = {}
    for t in IN_OUT:
        r = ctx.client.post(
            "/v1/incidents", json=_incident(ctx, t).kw["json"], headers=ctx.as_admin()
        )
        assert r.status_code == 201, r.text
        ids[t] = r.json()["id"]
    ctx.inc_in, ctx.inc_out = ids["in"], ids["out"]
    tilejson = ctx.client.get("/tiles/grid.json", headers=ctx.as_admin()).json()
    ctx.tile_version = tilejson["tiles"][0].split("/tiles/v/")[1].split("/")[0]


def _send(ctx: Ctx, role: str, req: Req):
    kw = dict(req.kw)
    kw["headers"] = {**kw.get("headers", {}), **ctx.headers[role]}
    return ctx.client.request(req.method, req.url, **kw)


def _allowed(status: int, entry: E) -> bool:
    return status < 400 or status in entry.ok


def _denied(status: int, entry: E, role: str) -> bool:
    if role == "anonymous":
        return status == 401
    return status == 403 or ((entry.kind == "read_unit" or entry.hides) and status == 404)


# -- the tests -------------------------------------------------------------------------


def test_every_route_has_an_expectation():
    missing = [r for r in ROUTES if r not in EXPECT]
    stale = [r for r in EXPECT if r not in set(ROUTES)]
    assert not missing, f"routes without a role-matrix entry (add them to EXPECT): {missing}"
    assert not stale, f"entries for routes that no longer exist: {stale}"


@pytest.mark.parametrize("route", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_by_role(world, route):
    entry = EXPECT.get(route)
    assert entry is not None, f"{route} has no entry in the role matrix (EXPECT)"
    cases = [(role, t) for role in ROLES for t in entry.targets]
    want = {
        (role, t): entry.overrides.get((role, t), expected(entry.kind, role, t))
        for role, t in cases
    }
    problems = []
    # The denied requests first, built before the fingerprint (builders may make the
    # disposable rows they act on), then all sent, then the database compared.
    denied = []
    for role, t in cases:
        if not want[(role, t)]:
            built = entry.build(world, t)
            denied += [(role, t, r) for r in (built if isinstance(built, list) else [built])]
    before = fingerprint(world.engine) if denied else None
    for role, t, req in denied:
        r = _send(world, role, req)
        if not _denied(r.status_code, entry, role):
            problems.append(
                f"{role}/{t}: {req.method} {req.url} should be denied: "
                f"{r.status_code} {r.text[:900]}"
            )
        elif r.headers.get("content-type", "").split(";")[0] != "application/problem+json":
            problems.append(f"{role}/{t}: denial is not problem+json")
    if denied:
        after = fingerprint(world.engine)
        changed = {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}
        assert not changed, (
            f"denied requests of {route} changed the database: {changed}; " + "\n".join(problems)
        )
    for role, t in cases:
        if want[(role, t)]:
            built = entry.build(world, t)
            for req in built if isinstance(built, list) else [built]:
                r = _send(world, role, req)
                if not _allowed(r.status_code, entry):
                    problems.append(
                        f"{role}/{t}: {req.method} {req.url} should be allowed: "
                        f"{r.status_code} {r.text[:900]}"
                    )
    assert not problems, "\n".join(problems)


# -- the audit actor is the identity, never the client's claim ---------------------------


def _audits(ctx: Ctx, action: str, ref: str) -> list[tuple[str, dict]]:
    rows = ctx.q(
        "SELECT actor, detail FROM audit_log WHERE action = :a AND ref = :r ORDER BY id",
        a=action,
        r=ref,
    ).all()
    return [(r[0], r[1]) for r in rows]


def test_publishing_is_audited_with_the_key_not_the_claimed_author(world):
    set_id = _make_draft(world, "in")
    r = world.client.post(
        f"/v1/boundary-sets/{set_id}/publish",
        json={"author": "区长 (spoofed)", "reason": "matrix"},
        headers=world.headers["planner"],
    )
    assert r.status_code == 200, r.text
    ((actor, detail),) = _audits(world, "boundary_set.publish", str(set_id))
    assert actor == "matrix-planner"
    assert detail["on_behalf_of"] == "区长 (spoofed)"
    assert detail["actor_key_id"] == world.key_ids["planner"]
    assert detail["counts"]["changed"] == 1
    author = world.one(
        f"SELECT author FROM admin_unit_version WHERE code = :c AND {LIVE}", c=world.g_in
    )
    assert author == "matrix-planner"  # the history shows the key, not the claim


def test_a_planner_cannot_publish_renames_in_another_street(world):
    set_id = _make_draft(world, "out")
    name_before = world.one(
        f"SELECT name FROM admin_unit_version WHERE code = :c AND {LIVE}", c=world.g_out
    )
    before = fingerprint(world.engine)
    r = world.client.post(
        f"/v1/boundary-sets/{set_id}/publish",
        json={"author": "x", "reason": "matrix"},
        headers=world.headers["planner"],
    )
    assert r.status_code == 403, r.text
    assert world.g_out in r.json()["detail"]
    assert fingerprint(world.engine) == before
    assert world.one("SELECT status FROM boundary_set WHERE id = :i", i=set_id) == "draft"
    assert (
        world.one(f"SELECT name FROM admin_unit_version WHERE code = :c AND {LIVE}", c=world.g_out)
        == name_before
    )


def test_fixes_imports_and_register_changes_carry_the_identity(world):
    r = world.client.post(
        f"/v1/boundary-sets/{world.fix_set}/fixes",
        json={"fix": "snap_to_parent", "codes": [world.g_in], "author": "某规划员"},
        headers=world.headers["planner"],
    )
    assert r.status_code == 200, r.text
    actor, detail = _audits(world, "boundary_set.fix", str(world.fix_set))[-1]
    assert (actor, detail["on_behalf_of"]) == ("matrix-planner", "某规划员")

    r = _send(world, "planner", _boundary_upload(world, "in"))
    assert r.status_code == 201, r.text
    set_id = str(r.json()["boundary_set"]["id"])
    actor, detail = _audits(world, "boundary_set.import", set_id)[-1]
    assert (actor, detail["on_behalf_of"]) == ("matrix-planner", "client-claim")

    r = _send(world, "planner", EXPECT[("PUT", f"{B}/workers/{{code}}")].build(world, "in"))
    assert r.status_code == 200, r.text
    actor, detail = _audits(world, "worker.update", world.w_in)[-1]
    assert (actor, detail["on_behalf_of"]) == ("matrix-planner", "client-claim")
    assert detail["actor_key_id"] == world.key_ids["planner"]


def test_the_operator_at_the_shell_is_audited_as_cli_user(world):
    from geo.services import policy, publish

    set_id = _make_draft(world, "out")
    publish.publish_set(
        world.engine, set_id, who=policy.operator("tester"), author="planner", reason="cli"
    )
    ((actor, detail),) = _audits(world, "boundary_set.publish", str(set_id))
    assert (actor, detail["on_behalf_of"]) == ("cli:tester", "planner")
    author = world.one(
        f"SELECT author FROM admin_unit_version WHERE code = :c AND {LIVE}", c=world.g_out
    )
    assert author == "planner"  # the operator's shell is trusted to name the author
