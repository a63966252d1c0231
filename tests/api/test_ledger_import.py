"""Ledger import through the API: dry run, commit, idempotence, all-or-nothing, export
round trip. Checked against the generator's known positions (tests/data/ledgers/
expected.json), shapely lookups on the sample district, and raw table reads."""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import json
import time
from pathlib import Path

import httpx
import openpyxl
import pytest
import shapely
from pyproj import Geod
from sqlalchemy import text

from geo.store import keys as keystore

LEDGERS = Path(__file__).resolve().parents[1] / "data" / "ledgers"
TRUTH = json.loads((LEDGERS / "expected.json").read_text())
URL = "/v1/registers/ledgers/import"
GEOD = Geod(ellps="WGS84")


def post(client, name: str, *, kind="compounds", data=None, content=None):
    body = content if content is not None else (LEDGERS / name).read_bytes()
    return client.post(URL, files={"file": (name, body)}, data={"kind": kind, **(data or {})})


def snapshot(engine) -> dict[str, str]:
    """A digest of every row the imports may touch, per table (independent SQL)."""
    queries = {
        "compound": "SELECT id, source_key, name, address, households, buildings, year_built, "
        "management_type, governance_status, ST_AsEWKB(geom) FROM compound ORDER BY id",
        "compound_location": "SELECT * FROM compound_location ORDER BY compound_id",
        "compound_governance": "SELECT compound_id, issues, mode, committee_formed, works, "
        "struck_off_on, verified_by, updated_at FROM compound_governance ORDER BY compound_id",
        "ledger_unplaced": "SELECT source_key, name, address, record FROM ledger_unplaced "
        "ORDER BY source_key",
        "grid_worker": "SELECT * FROM grid_worker ORDER BY id",
        "grid_assignment": "SELECT * FROM grid_assignment ORDER BY id",
        "special_grid": "SELECT * FROM special_grid ORDER BY id",
        "audit_log": "SELECT count(*) FROM audit_log",
    }
    out = {}
    with engine.connect() as conn:
        for table, sql in queries.items():
            rows = conn.execute(text(sql)).all()
            out[table] = hashlib.sha1(repr(rows).encode()).hexdigest()
    return out


# Keys these tests create: ledger rows, compounds added through the API, test people.
MINE_COMPOUND = "(source_key LIKE 'ledger:%' OR source_key LIKE 'api:%')"
MINE_WORKER = "(worker_code ~ '^L[0-9A-F]{10}$' OR worker_code LIKE 'T0%')"


def cleanup(engine) -> None:
    """Remove what the ledger tests committed, so other tests see the sample as loaded."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM ledger_unplaced"))
        conn.execute(text("DELETE FROM compound_governance"))
        conn.execute(text("DELETE FROM compound_location"))
        conn.execute(text(f"DELETE FROM compound WHERE {MINE_COMPOUND}"))
        conn.execute(
            text(
                "DELETE FROM grid_assignment WHERE worker_id IN "
                f"(SELECT id FROM grid_worker WHERE {MINE_WORKER})"
            )
        )
        conn.execute(text(f"DELETE FROM grid_worker WHERE {MINE_WORKER}"))


@pytest.fixture()
def clean(loaded, db_engine):
    cleanup(db_engine)
    yield db_engine
    cleanup(db_engine)


def _grid_of(sample, lon, lat) -> str:
    hits = sample.grids[sample.grids.covers(shapely.Point(lon, lat))]
    assert len(hits) == 1
    return hits["code"].iloc[0]


def test_dry_run_reports_every_row_and_writes_nothing(client, clean):
    before = snapshot(clean)
    r = post(client, "compounds.xlsx")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["committed"] is False
    status = {row["name"]: row["status"] for row in body["rows"] if row["status"] != "duplicate"}
    expected = {
        name: "unlocatable"
        if t["position"] is None
        else "ok"
        if t["located_by"] == "coordinates"
        else "located"
        for name, t in TRUTH["compounds"].items()
    }
    assert status == expected
    assert [row["status"] for row in body["rows"]].count("duplicate") == 1
    assert all(row["action"] == "new" for row in body["rows"] if row["status"] != "duplicate")
    located = [row for row in body["rows"] if row["status"] == "located"]
    assert all(row["score"] >= 60 for row in located)
    assert body["columns"]["lon"] == "经度"
    assert snapshot(clean) == before


def test_commit_gives_the_expected_compounds_at_the_known_points(client, clean, sample):
    r = post(client, "compounds.xlsx", data={"dry_run": "false", "author": "tester"})
    assert r.status_code == 200, r.text
    assert r.json()["committed"] is True
    with clean.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.name, c.management_type, ST_X(c.geom), ST_Y(c.geom), "
                "GeometryType(c.geom), l.located_by, l.match_score, v.code "
                "FROM compound c JOIN compound_location l ON l.compound_id = c.id "
                "LEFT JOIN admin_unit_version v ON v.unit_id = l.grid_unit_id "
                "AND v.valid_from IS NOT NULL AND v.valid_to IS NULL "
                "WHERE c.source_key LIKE 'ledger:%'"
            )
        ).all()
        unplaced = conn.execute(text("SELECT name FROM ledger_unplaced")).scalars().all()
    placed = {name: t for name, t in TRUTH["compounds"].items() if t["position"]}
    assert {r[0] for r in rows} == set(placed)
    for name, mtype, x, y, gtype, located_by, score, grid in rows:
        t = placed[name]
        _, _, dist = GEOD.inv(x, y, *t["position"])
        assert dist < 1.0, (name, dist)
        assert gtype == "POINT"
        assert mtype == t["management_type"]
        assert located_by == t["located_by"]
        assert (score is not None) == (located_by == "address")
        assert grid == _grid_of(sample, *t["position"])
    assert unplaced == [n for n, t in TRUTH["compounds"].items() if t["position"] is None]
    listed = client.get("/v1/registers/ledgers/unplaced").json()
    assert [u["name"] for u in listed] == unplaced

    # The same ledger again: every row unchanged, and not a byte of the registers moves.
    before = snapshot(clean)
    again = post(client, "compounds.xlsx", data={"dry_run": "false"})
    assert again.status_code == 200
    actions = {row["action"] for row in again.json()["rows"] if row["status"] != "duplicate"}
    assert actions == {"unchanged"}
    assert snapshot(clean) == before


def test_a_fatal_row_refuses_the_whole_commit(client, clean):
    before = snapshot(clean)
    r = post(client, "compounds_bad.xlsx", data={"dry_run": "false"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["detail_zh"]
    fatal = [row for row in problem["rows"] if row["status"] == "fatal"]
    # Independent: the bad file's extra row, read raw, is the one whose lon < lat.
    ws = openpyxl.load_workbook(LEDGERS / "compounds_bad.xlsx").active
    swapped = [
        (cells[0].row, cells[1].value)
        for cells in ws.iter_rows(min_row=5)
        if isinstance(cells[7].value, float) and cells[7].value < cells[8].value
    ]
    assert [(row["row"], row["name"]) for row in fatal] == swapped
    assert snapshot(clean) == before
    # The dry run of the same file answers 200 with the same fatal row.
    dry = post(client, "compounds_bad.xlsx")
    assert dry.status_code == 200
    assert [row["row"] for row in dry.json()["rows"] if row["status"] == "fatal"] == [swapped[0][0]]


def test_gbk_workers_with_their_grids(client, clean):
    r = post(client, "workers_gbk.csv", kind="workers", data={"dry_run": "false"})
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [row["status"] for row in rows].count("duplicate") == 1
    with clean.connect() as conn:
        got = conn.execute(
            text(
                "SELECT w.name, v.code FROM grid_worker w "
                "JOIN grid_assignment a ON a.worker_id = w.id AND a.valid_to IS NULL "
                "JOIN admin_unit_version v ON v.unit_id = a.unit_id "
                "AND v.valid_from IS NOT NULL AND v.valid_to IS NULL "
                f"WHERE w.id IN (SELECT id FROM grid_worker WHERE {MINE_WORKER})"
            )
        ).all()
        roles = dict(
            conn.execute(text(f"SELECT name, role FROM grid_worker WHERE {MINE_WORKER}")).all()
        )
    by_person: dict[str, set[str]] = {}
    for name, code in got:
        by_person.setdefault(name, set()).add(code)
    assert by_person == {k: set(v) for k, v in TRUTH["workers"].items()}
    assert roles["李卫东"] == "leader" and roles["赵丽娟"] == "worker"
    before = snapshot(clean)
    again = post(client, "workers_gbk.csv", kind="workers", data={"dry_run": "false"})
    assert {row["action"] for row in again.json()["rows"] if row["action"]} == {"unchanged"}
    assert snapshot(clean) == before


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_export_then_import_changes_nothing(client, clean, sample, fmt):
    assert post(client, "compounds.xlsx", data={"dry_run": "false"}).status_code == 200
    # A name a spreadsheet would run as a formula travels escaped and comes back whole.
    evil = '=HYPERLINK("http://x","点我")'
    created = client.post(
        "/v1/registers/compounds",
        json={
            "name": evil,
            "management_type": "unowned",
            "location": {"lon": 113.93, "lat": 35.36, "crs": "wgs84"},
            "actor": "tester",
        },
    )
    assert created.status_code == 201, created.text
    r = client.get("/v1/registers/ledgers/export", params={"kind": "compounds", "format": fmt})
    assert r.status_code == 200
    data = r.content
    if fmt == "xlsx":
        ws = openpyxl.load_workbook(io.BytesIO(data)).active
        header = [c.value for c in ws[1]]
        cells = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
        assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    else:
        table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        header, cells = table[0], table[1:]
    name_col, grid_col = header.index("小区名称"), header.index("网格编码")
    names = [row[name_col] for row in cells]
    assert "'" + evil in names and evil not in names
    with clean.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM compound")).scalar() == len(cells)
    # The grid each ledger row falls in, against shapely on the sample grids.
    for name, t in TRUTH["compounds"].items():
        if t["position"]:
            row = cells[names.index(name)]
            assert row[grid_col] == _grid_of(sample, *t["position"])

    before = snapshot(clean)
    again = post(client, f"export.{fmt}", content=data, data={"dry_run": "false"})
    assert again.status_code == 200, again.text
    assert {row["action"] for row in again.json()["rows"]} == {"unchanged"}
    assert snapshot(clean) == before


def test_workers_export_then_import_changes_nothing(conn, loaded, sample):
    """Store level, in a rolled-back transaction: the export lists every person with the
    units they serve (as the sample assigns them), and reads back unchanged."""
    from geo import registers as L
    from geo.services import ledgers as lstore

    headers, rows = lstore.export_workers(conn)
    data = L.write_table(headers, rows, "csv")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    code_col, units_col = table[0].index("编号"), table[0].index("网格编码")
    exported = {r[code_col]: r[units_col] for r in table[1:]}
    w = sample.workers
    served = w["grid_code"].where(w["role"] == "worker", w["community_code"])
    expected = dict(zip(w["worker_id"], served, strict=True))
    assert {k: v for k, v in exported.items() if k in expected} == expected
    out = lstore.import_workers(
        conn, L.read_table(data, "w.csv", "workers"), actor="t", ledger_name="w.csv", commit=True
    )
    assert {r.action for r in out.rows} == {"unchanged"} and out.audit_id is None


@pytest.fixture()
def district_key(db_engine):
    """A read key over the whole district (sees contacts whole); removed after."""
    with db_engine.begin() as conn:
        key_id, key = keystore.create_key(
            conn,
            name="ledger-roundtrip",
            scopes=["read"],
            unit_codes=[],
            rate_per_minute=60_000,
            created_by="test",
        )
    yield key
    with db_engine.begin() as conn:
        conn.execute(text("DELETE FROM api_key WHERE id = :i"), {"i": key_id})


def test_special_grid_responsible_units(client, clean, sample, district_key):
    """A 专属网格 ledger: responsible units by code or by name; unknown ones are fatal."""
    sg = sample.special_grids
    a, b = sg.iloc[0], sg.iloc[1]
    rows = [
        ["专属网格编码", "专属网格名称", "责任单位", "联系人", "联系电话"],
        [a["code"], a["name"], "样例区卫健委", "赵一", "13800000001"],
        ["", b["name"] + " ", "樣例區市場監管局", "钱二", "138 0000 0002"],
    ]

    def as_csv(rs):
        buf = io.StringIO()
        csv.writer(buf).writerows(rs)
        return buf.getvalue().encode("gbk")

    bad = post(
        client,
        "special.csv",
        kind="special_grids",
        content=as_csv([*rows, ["", "不存在的学校", "某局", "", ""]]),
        data={"dry_run": "false"},
    )
    assert bad.status_code == 422
    assert [r["status"] for r in bad.json()["rows"]] == ["ok", "ok", "fatal"]
    try:
        r = post(client, "special.csv", kind="special_grids", content=as_csv(rows),
                 data={"dry_run": "false"})  # fmt: skip
        assert r.status_code == 200, r.text
        with clean.connect() as conn:
            got = conn.execute(
                text(
                    "SELECT code, responsible_unit, contact_name, contact_phone FROM special_grid "
                    "WHERE code IN (:a, :b) AND valid_to IS NULL ORDER BY code"
                ),
                {"a": a["code"], "b": b["code"]},
            ).all()
        assert [tuple(g) for g in got] == sorted(
            [
                (a["code"], "样例区卫健委", "赵一", "13800000001"),
                (b["code"], "样例区市场监管局", "钱二", "13800000002"),
            ]
        )
        # Whole phones only for a key reading the whole district (anonymous callers get
        # them masked, tests/api/test_export_privacy.py): the round trip needs them.
        exported = client.get(
            "/v1/registers/ledgers/export",
            params={"kind": "special_grids", "format": "csv"},
            headers={"Authorization": f"Bearer {district_key}"},
        )
        assert exported.status_code == 200
        table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert len(table) - 1 == len(sg)
        gcol = table[0].index("所在网格编码")
        code_of = {r[0]: r[gcol] for r in table[1:]}
        for _, s in sg.iloc[:20].iterrows():
            assert code_of[s["code"]] == _grid_of(
                sample, *shapely.point_on_surface(s.geometry).coords[0]
            )
        before = snapshot(clean)
        again = post(client, "special.csv", kind="special_grids", content=exported.content,
                     data={"dry_run": "false"})  # fmt: skip
        assert {row["action"] for row in again.json()["rows"]} == {"unchanged"}
        assert snapshot(clean) == before
    finally:
        with clean.begin() as conn:
            for s in (a, b):
                conn.execute(
                    text(
                        "UPDATE special_grid SET responsible_unit = :u, contact_name = :n, "
                        "contact_phone = :p WHERE code = :c AND valid_to IS NULL"
                    ),
                    {"u": s["responsible_unit"], "n": s["contact_name"], "p": s["contact_phone"],
                     "c": s["code"]},
                )  # fmt: skip


def test_bad_requests(client, clean):
    r = post(client, "x.csv", content=b"a,b\n1,2\n")
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "header" in r.json()["detail"] and r.json()["detail_zh"]
    assert post(client, "compounds.xlsx", kind="planets").status_code == 422
    assert post(client, "compounds.xlsx", data={"map": "nonsense=名称"}).status_code == 422
    export = "/v1/registers/ledgers/export"
    assert client.get(export, params={"format": "pdf"}).status_code == 422
    assert client.get(export, params={"unit": "nope"}).status_code == 404


# --- bounded work: hostile spreadsheets against the real server process -------------

_spec = importlib.util.spec_from_file_location("hostile", LEDGERS / "hostile.py")
assert _spec and _spec.loader
hostile = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hostile)

ANSWER_S = 10.0  # generous: each answer takes well under a second; the old reader 56 s
RSS_GROWTH_MB = 200  # the old reader left the server at 4.77 GB


def _server_pid(base: str) -> int:
    """The uvicorn process serving ``base`` (tests/server.py starts one per port)."""
    port = base.rsplit(":", 1)[1]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"api.app:create_app" in argv and port.encode() in argv:
            return int(proc.name)
    raise AssertionError(f"no server process on port {port}")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _dry_run(base: str, data: bytes) -> tuple[httpx.Response, float]:
    t0 = time.monotonic()
    r = httpx.post(
        base + URL,
        files={"file": ("ledger.xlsx", data)},
        data={"kind": "compounds"},
        timeout=httpx.Timeout(60.0, connect=5.0),
    )
    return r, time.monotonic() - t0


HOSTILE = {
    "cell at XFD1048576": (lambda: hostile.far_cell(hostile.LAST_CELL), "rows"),
    "cell at A1048576": (lambda: hostile.far_cell("A1048576"), "rows"),
    "cell at XFD1": (lambda: hostile.far_cell("XFD1"), "columns"),
    "whole-sheet merge": (lambda: hostile.merged(), "merged_range"),
    "zip bomb": (lambda: hostile.inflating(60), "uncompressed_bytes"),
    "inflating styles": (lambda: hostile.inflating_styles(11), "uncompressed_bytes"),
    "declared dimension A1:XFD1048576": (lambda: hostile.declared_dimension(), None),
}


def test_hostile_spreadsheets_are_answered_fast_in_bounded_memory(live_server, db_engine):
    pid = _server_pid(live_server)
    warm, _ = _dry_run(live_server, hostile.table())  # loads the XLSX reader once
    assert warm.status_code == 200, warm.text
    before_db = snapshot(db_engine)
    before = _rss_mb(pid)
    for name, (make, bound) in HOSTILE.items():
        data = make()
        assert len(data) < 100_000, name  # small files: the zip bomb is ~60 KB
        r, took = _dry_run(live_server, data)
        assert took < ANSWER_S, (name, took)
        if bound is None:  # only declared: the 5 real rows are read, nothing else
            assert r.status_code == 200, (name, r.text)
            assert [row["name"] for row in r.json()["rows"]] == [x[0] for x in hostile.rows()]
            assert [row["row"] for row in r.json()["rows"]] == [2, 3, 4, 5, 6]
            continue
        assert r.status_code == 422, (name, r.status_code, r.text[:300])
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["bound"] == bound, (name, body)
        assert body["detail"] and body["detail_zh"] != body["detail"]
        assert any(w in body["detail_zh"] for w in ("删除", "取消", "拆分")), body
    after = _rss_mb(pid)
    print(f"server RSS {before:.0f} MB before the hostile files, {after:.0f} MB after")
    assert after - before < RSS_GROWTH_MB, (before, after)
    assert httpx.get(live_server + "/healthz", timeout=5).status_code == 200
    assert snapshot(db_engine) == before_db  # dry runs and refusals wrote nothing
