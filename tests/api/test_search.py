"""Forward search over HTTP: the gazetteer served from the live database."""

import opencc
import shapely

from geo import crs


def test_search_finds_a_compound_by_exact_and_traditional_name(client, sample):
    names = sample.compounds["name"]
    unique = sample.compounds[~names.duplicated(keep=False)]
    row = unique.iloc[10]
    r = client.get("/v1/geocode/search", params={"q": row["name"]})
    assert r.status_code == 200
    top = r.json()[0]
    assert top["kind"] == "compound" and top["name"] == row["name"]
    assert top["grid"]["code"] == row["grid_code"]
    assert top["location"]["crs"] == "wgs84"
    # The point given is on the compound itself (its representative point).
    where = shapely.Point(top["location"]["lon"], top["location"]["lat"])
    assert row.geometry.buffer(1e-7).covers(where)
    trad = opencc.OpenCC("s2t").convert(row["name"])
    assert client.get("/v1/geocode/search", params={"q": trad}).json()[0]["name"] == row["name"]


def test_search_grid_code_and_output_crs(client, sample):
    g = sample.grids.iloc[17]
    wgs = client.get("/v1/geocode/search", params={"q": g["code"]}).json()[0]
    assert wgs["kind"] == "grid" and wgs["code"] == g["code"]
    gcj = client.get("/v1/geocode/search", params={"q": g["code"], "crs": "gcj02"}).json()[0]
    x, y = (
        float(v) for v in crs.from_wgs84(wgs["location"]["lon"], wgs["location"]["lat"], "gcj02")
    )
    assert abs(gcj["location"]["lon"] - x) < 1e-9 and abs(gcj["location"]["lat"] - y) < 1e-9
    assert gcj["location"]["crs"] == "gcj02"


def test_search_bad_input(client):
    assert client.get("/v1/geocode/search", params={"q": ""}).status_code == 422
    assert client.get("/v1/geocode/search", params={"q": "x", "limit": 0}).status_code == 422
