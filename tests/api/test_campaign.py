"""The unowned-compound campaign and the workload per grid, through the API.

Expected numbers come from the raw ledger read with pandas, the generator's known
positions and shapely on the sample district, or from geometries read straight from
the database and counted with shapely, never from the code under test.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from tests.api.test_ledger_import import cleanup, post

LEDGERS = Path(__file__).resolve().parents[1] / "data" / "ledgers"
TRUTH = json.loads((LEDGERS / "expected.json").read_text())
UNOWNED_LABELS = {"无主管", "无物业", "无主管楼院", "无人管理", "弃管"}
STAGES = ("not_started", "in_progress", "struck_off")


@pytest.fixture(scope="module")
def imported(loaded, db_engine, client):
    cleanup(db_engine)
    r = post(client, "compounds.xlsx", data={"dry_run": "false", "author": "campaign test"})
    assert r.status_code == 200, r.text
    yield db_engine
    cleanup(db_engine)


def raw_ledger_stages() -> pd.DataFrame:
    """The campaign ledger as written: one row per unowned compound with a known
    position, its stage from the raw columns (pandas, fixed column positions)."""
    raw = pd.read_excel(LEDGERS / "compounds.xlsx", header=None, skiprows=4, dtype=object)
    raw = raw.iloc[:, :16]
    raw.columns = [
        "no", "name", "address", "households", "buildings", "year", "management",
        "lon", "lat", "crs", "issues", "mode", "committee", "works", "struck", "verifier",
    ]  # fmt: skip
    raw = raw[raw["name"].notna()].copy()
    raw["name"] = [unicodedata.normalize("NFKC", str(n)).strip() for n in raw["name"]]
    raw = raw.drop_duplicates("name")
    raw = raw[raw["management"].isin(UNOWNED_LABELS)]
    stage = np.where(
        raw["struck"].notna(),
        "struck_off",
        np.where(
            raw["mode"].notna() | raw["committee"].isin(["是", "已成立"]) | raw["works"].notna(),
            "in_progress",
            "not_started",
        ),
    )
    raw["stage"] = stage
    positions = {n: t["position"] for n, t in TRUTH["compounds"].items()}
    raw["position"] = [positions.get(n) for n in raw["name"]]
    return raw[raw["position"].notna()]


def expected_by_unit(units: gpd.GeoDataFrame, sample, ledger: pd.DataFrame) -> pd.DataFrame:
    """listed/stage counts per unit: sample unowned compounds (none has a record yet,
    so all not started) plus the ledger's rows, located with shapely."""
    sc = sample.compounds[sample.compounds["management_type"] == "unowned"]
    pts = list(shapely.point_on_surface(sc.geometry.to_numpy()))
    stages = ["not_started"] * len(pts)
    pts += [shapely.Point(*p) for p in ledger["position"]]
    stages += list(ledger["stage"])
    tree = shapely.STRtree(units.geometry.to_numpy())
    pi, ui = tree.query(np.array(pts, dtype=object), predicate="within")
    table = pd.DataFrame({"code": units["code"].to_numpy()[ui], "stage": np.array(stages)[pi]})
    counts = pd.crosstab(table["code"], table["stage"]).reindex(
        units["code"], columns=list(STAGES), fill_value=0
    )
    counts["listed"] = counts.sum(axis=1)
    return counts


def test_progress_per_community_equals_the_raw_ledger(client, imported, sample):
    r = client.get("/v1/registers/campaign/progress", params={"level": "community"})
    assert r.status_code == 200
    got = pd.DataFrame(r.json()).set_index("code")
    want = expected_by_unit(sample.communities, sample, raw_ledger_stages())
    assert len(got) == len(sample.communities)
    for col in ("listed", *STAGES):
        assert got[col].to_dict() == want[col].astype(int).to_dict(), col
    # The ledger moves some communities off zero in every stage.
    assert (got["struck_off"] > 0).sum() >= 2 and (got["in_progress"] > 0).sum() >= 2


def test_progress_per_street_and_grid(client, imported, sample):
    ledger = raw_ledger_stages()
    for level, units in (("street", sample.streets), ("grid", sample.grids)):
        got = pd.DataFrame(
            client.get("/v1/registers/campaign/progress", params={"level": level}).json()
        ).set_index("code")
        want = expected_by_unit(units, sample, ledger)
        assert got["listed"].to_dict() == want["listed"].astype(int).to_dict()
        assert got["struck_off"].to_dict() == want["struck_off"].astype(int).to_dict()
    bad = client.get("/v1/registers/campaign/progress", params={"level": "planet"})
    assert bad.status_code == 422


def _compound_id(engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT id FROM compound WHERE name = :n"), {"n": name}).scalar()


def test_governance_record_and_strike_off(client, imported):
    cid = _compound_id(imported, "老邮电局宿舍")
    url = f"/v1/registers/compounds/{cid}/governance"
    got = client.get(url).json()
    assert got["stage"] == "not_started" and set(got["issues"]) == {"无门禁", "消防通道不畅"}
    # 销号 without who verified it is refused, and nothing changes.
    body = {
        "issues": ["无门禁"],
        "mode": "community",
        "committee_formed": True,
        "works": [{"work": "安装门禁", "done_on": "2026-10-08"}],
        "struck_off_on": "2026-11-01",
        "actor": "街道办",
    }
    r = client.put(url, json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert client.get(url).json()["stage"] == "not_started"
    r = client.put(url, json={**body, "verified_by": "王建国"})
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "struck_off"
    with imported.connect() as conn:
        row = conn.execute(
            text(
                "SELECT g.mode, g.verified_by, g.struck_off_on::text, c.governance_status "
                "FROM compound_governance g JOIN compound c ON c.id = g.compound_id "
                "WHERE g.compound_id = :i"
            ),
            {"i": cid},
        ).one()
        audits = conn.execute(
            text(
                "SELECT actor, action, detail->>'on_behalf_of' FROM audit_log "
                "WHERE entity = 'compound' AND ref = :r "
                "ORDER BY id"
            ),
            {"r": str(cid)},
        ).all()
    assert tuple(row) == ("community", "王建国", "2026-11-01", "community_managed")
    # The actor is the identity (anonymous: no key); the client's name is a note only.
    assert audits[-1] == ("anonymous", "campaign.update", "街道办")
    listed = client.get("/v1/registers/campaign", params={"stage": "struck_off"}).json()
    assert cid in {x["compound_id"] for x in listed}
    # The campaign covers unowned compounds only; bad modes are refused.
    owned = _compound_id(imported, "锦华苑")
    assert client.put(f"/v1/registers/compounds/{owned}/governance", json=body).status_code == 422
    assert client.put(url, json={**body, "mode": "magic"}).status_code == 422
    assert client.get("/v1/registers/compounds/999999999/governance").status_code == 404


def test_workload_per_grid(client, imported, sample):
    r = client.get("/v1/registers/workload", params={"months": 3})
    assert r.status_code == 200
    body = r.json()
    got = pd.DataFrame(body["grids"]).set_index("code")
    assert len(got) == len(sample.grids) and len(body["months"]) == 3
    grids = sample.grids.set_index("code")
    tree = shapely.STRtree(grids.geometry.to_numpy())
    codes = grids.index.to_numpy()
    # Compounds as stored, counted with shapely.
    with imported.connect() as conn:
        comp = conn.execute(
            text("SELECT ST_AsBinary(geom), management_type, households FROM compound")
        ).all()
    pts = shapely.point_on_surface(shapely.from_wkb([bytes(c[0]) for c in comp]))
    pi, gi = tree.query(pts, predicate="within")
    frame = pd.DataFrame(
        {
            "code": codes[gi],
            "unowned": [comp[i][1] == "unowned" for i in pi],
            "households": [comp[i][2] or 0 for i in pi],
        }
    )
    agg = frame.groupby("code").agg(
        compounds=("unowned", "size"), unowned=("unowned", "sum"), households=("households", "sum")
    )
    agg = agg.reindex(codes, fill_value=0)
    for col in ("compounds", "unowned", "households"):
        assert got[col].to_dict() == agg[col].astype(int).to_dict(), col
    # Special grids overlapping each grid (touching only does not count).
    sg = sample.special_grids.geometry.to_numpy()
    special = {
        code: int(np.sum(shapely.intersects(g, sg) & ~shapely.touches(g, sg)))
        for code, g in grids.geometry.items()
    }
    assert got["special_grids"].to_dict() == special
    # Incidents per month (Beijing time) from the sample's own points and times.
    inc = sample.incidents
    ii, ig = tree.query(inc.geometry.to_numpy(), predicate="within")
    month = inc["reported_at"].dt.tz_convert("Asia/Shanghai").dt.strftime("%Y-%m").to_numpy()
    counts = (
        pd.Series(1, index=pd.MultiIndex.from_arrays([codes[ig], month[ii]]))
        .groupby(level=[0, 1])
        .sum()
    )
    newest = month.max()
    assert body["months"][-1] == newest
    for code in codes[::37]:
        series = got.loc[code, "incidents_by_month"]
        for m in body["months"]:
            assert series[m] == int(counts.get((code, m), 0)), (code, m)
        assert got.loc[code, "incidents_per_month"] == pytest.approx(sum(series.values()) / 3)
    assert client.get("/v1/registers/workload", params={"months": 0}).status_code == 422
