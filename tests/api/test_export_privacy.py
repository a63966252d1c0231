"""Exports never show what the single-item reads mask: special-grid contact phones (and
grid workers' phones) in every export — the ledger export of each kind in XLSX and CSV,
the boundaries export as CSV, GeoJSON, GeoPackage and zipped Shapefile — for the
anonymous caller of the open demo, for a read key limited to one street, for a key
with the whole district, each compared with the stored values read from PostGIS and
with what ``GET /v1/special-grids/{code}`` gives the same caller.

The expected masks are computed here (first 3 and last 4 digits kept), not by the
service's mask function.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile

import geopandas as gpd
import openpyxl
import pytest
import sqlalchemy as sa

from geo.store import keys as keystore

pytestmark = pytest.mark.db

LEDGER = "/v1/registers/ledgers/export"
BOUNDARIES = "/v1/boundaries/export"
LIVE = "valid_from IS NOT NULL AND valid_to IS NULL"


def masked(phone: str) -> str:
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:] if len(phone) >= 7 else "*" * len(phone)


@pytest.fixture(scope="module")
def stored(db_engine, loaded) -> dict[str, dict[str, str]]:
    """Stored phones: special grid code → phone, worker code → phone."""
    with db_engine.connect() as conn:
        special = conn.execute(
            sa.text(
                "SELECT code, contact_phone FROM special_grid "
                "WHERE valid_to IS NULL AND contact_phone IS NOT NULL"
            )
        ).all()
        people = conn.execute(
            sa.text("SELECT worker_code, phone FROM grid_worker WHERE phone IS NOT NULL")
        ).all()
    assert len(special) > 3 and len(people) > 3  # the sample has contacts to leak
    assert all(len(p) >= 7 for _, p in special)  # masking then shows a difference
    return {"special": dict(special), "workers": dict(people)}


@pytest.fixture(scope="module")
def callers(db_engine, loaded):
    """name → (request headers, whole phones expected)."""
    with db_engine.connect() as conn:
        street = conn.execute(
            sa.text(
                f"SELECT code FROM admin_unit_version WHERE level = 'street' AND {LIVE} "
                "ORDER BY code LIMIT 1"
            )
        ).scalar_one()
    made = []
    with db_engine.begin() as conn:
        for name, units in (("privacy-district", []), ("privacy-street", [street])):
            made.append(
                keystore.create_key(
                    conn,
                    name=name,
                    scopes=["read"],
                    unit_codes=units,
                    rate_per_minute=60_000,
                    created_by="test",
                )
            )
    (district_id, district_key), (street_id, street_key) = made
    yield {
        "anonymous": ({}, False),
        "read key of one street": ({"Authorization": f"Bearer {street_key}"}, False),
        "read key of the district": ({"Authorization": f"Bearer {district_key}"}, True),
    }
    with db_engine.begin() as conn:
        conn.execute(
            sa.text("DELETE FROM api_key WHERE id IN (:a, :b)"), {"a": district_id, "b": street_id}
        )


def expected(stored_phones: dict[str, str], whole: bool) -> dict[str, str]:
    return {k: p if whole else masked(p) for k, p in stored_phones.items()}


def _rows(content: bytes, fmt: str) -> list[list[str]]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    ws = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    return [["" if v is None else str(v) for v in r] for r in ws.iter_rows(values_only=True)]


def _by_key(rows: list[list[str]], phone_header: str) -> dict[str, str]:
    header, *body = rows
    k, p = header.index(header[0]), header.index(phone_header)
    return {r[k]: r[p] for r in body if len(r) > p and r[p]}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_ledger_exports_mask_as_the_single_read(client, stored, callers, fmt):
    for who, (headers, whole) in callers.items():
        special = client.get(
            LEDGER, params={"kind": "special_grids", "format": fmt}, headers=headers
        )
        assert special.status_code == 200, (who, special.text)
        got = _by_key(_rows(special.content, fmt), "联系电话")
        assert got == expected(stored["special"], whole), who
        people = client.get(LEDGER, params={"kind": "workers", "format": fmt}, headers=headers)
        assert people.status_code == 200, (who, people.text)
        got_people = _by_key(_rows(people.content, fmt), "联系电话")
        want = expected(stored["workers"], whole)
        assert got_people and all(got_people[k] == want[k] for k in got_people), who


def _special_phones(content: bytes, fmt: str, tmp_path) -> dict[str, str]:
    """code → contact phone of the special grids in a boundaries export."""
    if fmt == "csv":
        rows = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
        return {r["code"]: r["contact_phone"] for r in rows if r["level"] == "special_grid"}
    if fmt == "geojson":
        feats = json.loads(content)["features"]
        return {
            f["properties"]["code"]: f["properties"]["contact_phone"]
            for f in feats
            if f["properties"]["level"] == "special_grid"
        }
    tmp_path.mkdir(parents=True, exist_ok=True)
    if fmt == "gpkg":
        path = tmp_path / "export.gpkg"
        path.write_bytes(content)
        frame = gpd.read_file(path, layer="special_grid")
        return dict(zip(frame["code"], frame["contact_phone"], strict=True))
    with zipfile.ZipFile(io.BytesIO(content)) as zf:
        zf.extractall(tmp_path / "shp")
    frame = gpd.read_file(tmp_path / "shp" / "special_grid.shp")
    return dict(zip(frame["code"], frame["cont_phone"], strict=True))


@pytest.mark.parametrize("fmt", ["csv", "geojson", "gpkg", "shp"])
def test_boundary_exports_mask_as_the_single_read(client, stored, callers, fmt, tmp_path):
    for who, (headers, whole) in callers.items():
        r = client.get(BOUNDARIES, params={"format": fmt}, headers=headers)
        assert r.status_code == 200, (who, r.text)
        got = _special_phones(r.content, fmt, tmp_path / who.replace(" ", "_"))
        got = {k: v for k, v in got.items() if isinstance(v, str) and v}
        assert got == expected(stored["special"], whole), (who, fmt)


def test_the_single_read_agrees(client, stored, callers):
    """The rule the exports follow is the single read's: same caller, same phone."""
    for who, (headers, whole) in callers.items():
        for code, phone in sorted(stored["special"].items())[:10]:
            r = client.get(f"/v1/special-grids/{code}", headers=headers)
            assert r.status_code == 200, (who, r.text)
            assert r.json()["properties"]["contact_phone"] == (phone if whole else masked(phone))
