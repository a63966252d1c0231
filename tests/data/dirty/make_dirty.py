"""Build the dirty boundary set: small files with every topology finding type in them.

Run ``uv run python tests/data/dirty/make_dirty.py`` to rebuild the files next to it:

* ``dirty_gbk.shp`` (+ .shx .dbf .prj): the hierarchy of 测试区 (410798) in EPSG:4547
  (CGCS2000 Gauss-Krüger CM 114°E) with GBK-encoded Chinese field names and values,
  *no* .cpg and language driver byte 0, as many district offices hand them over.
  pyogrio reads it as mojibake unless told ``encoding="GBK"``.
* ``dirty_units_gcj02.geojson``: the grids of 王庄村, exported from a phone map in
  GCJ-02 (the ~500 m "Mars" shift), with a self-folding ring, a repeated vertex and
  a duplicated code. They cannot go through ``normalise_units`` (it refuses invalid
  geometry and duplicate codes), so the test shifts them itself.
* ``dirty_special_gcj02.geojson``: two special grids in GCJ-02, one half outside the
  district.
* ``expected_findings.json``: the findings a validation must return, each with its
  design area and how to recompute that area independently (``area_of``).

Layout in metres from the origin (E 490000, N 3905000), y north. Four communities
of 1000 × 1000 m side by side, each with a north (y 500–1000) and south (0–500) row:

====  ============  ==========================================================
x     community     what is wrong
====  ============  ==========================================================
0     410798001001  north grid's code is under street 002 (code_prefix);
                    south grid stops 40 m short of the north one (gap 40,000 m²)
1000  410798001002  north grid reaches 20 m into the south one (overlap 20,000 m²)
2000  410798101201  GCJ-02 file: spike in 001 (invalid_geometry), 0.5 m slit
                    between 001 and 002 (sliver 250 m²), code 003 twice (duplicate),
                    repeated vertex in the second 003 (invalid_geometry warning)
3000  410798101202  north grid starts 200 m inside 410798101201 (outside_parent
                    100,000 m², multi_parent, overlap 100,000 m² with 101201002);
                    a south grid hangs 30 m below the district (outside_parent
                    15,000 m²); the last grid's code has 14 digits (malformed_code)
====  ============  ==========================================================

Beyond the district to the east sits grid 410798001009001 of a community that is not
in the set (orphan); special grid 410798S0001 straddles the east border (20,000 m²
outside).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import Polygon, box

from geo.crs import from_wgs84

HERE = Path(__file__).resolve().parent
E0, N0 = 490_000.0, 3_905_000.0
GK_EPSG = 4547
_TO_WGS84 = Transformer.from_crs(GK_EPSG, 4326, always_xy=True)

DISTRICT = ("410798", "测试区")
STREETS = (("410798001", "人民路街道", 0), ("410798101", "柳林镇", 2000))
COMMUNITIES = (
    ("410798001001", "幸福社区", "410798001", 0),
    ("410798001002", "和平社区", "410798001", 1000),
    ("410798101201", "王庄村", "410798101", 2000),
    ("410798101202", "李寨村", "410798101", 3000),
)


def gk(geom):
    """Local metres → EPSG:4547 easting/northing."""
    return affinity.translate(geom, E0, N0)


def rect(x0, y0, x1, y1) -> Polygon:
    return box(x0, y0, x1, y1)


def _unit(code: str, name: str, parent: str | None, level: str, geom: Polygon) -> dict:
    return {"code": code, "name": name, "parent": parent, "level": level, "geom": geom}


def _shp_rows() -> list[dict]:
    rows = [_unit(*DISTRICT, None, "district", rect(0, 0, 4000, 1000))]
    for code, name, x in STREETS:
        rows.append(_unit(code, name, DISTRICT[0], "street", rect(x, 0, x + 2000, 1000)))
    for code, name, parent, x in COMMUNITIES:
        rows.append(_unit(code, name, parent, "community", rect(x, 0, x + 1000, 1000)))

    def grid(code, name, parent, geom):
        rows.append(_unit(code, name, parent, "grid", geom))

    # 幸福社区: code under a street that does not exist; a 40 m gap between the rows.
    grid("410798002001001", "幸福社区第1网格", "410798001001", rect(0, 500, 1000, 1000))
    grid("410798001001002", "幸福社区第2网格", "410798001001", rect(0, 0, 1000, 460))
    # 和平社区: the north grid reaches 20 m south.
    grid("410798001002001", "和平社区第1网格", "410798001002", rect(1000, 480, 2000, 1000))
    grid("410798001002002", "和平社区第2网格", "410798001002", rect(1000, 0, 2000, 500))
    # 李寨村: north grid spills 200 m into 王庄村; one grid hangs 30 m below the district.
    grid("410798101202001", "李寨村第1网格", "410798101202", rect(2800, 500, 4000, 1000))
    grid("410798101202002", "李寨村第2网格", "410798101202", rect(3000, -30, 3500, 500))
    grid("41079810120203", "李寨村第3网格", "410798101202", rect(3500, 0, 4000, 500))
    # A grid of a community missing from the set, east of the district.
    grid("410798001009001", "外来社区第1网格", "410798001009", rect(4100, 0, 4300, 200))
    return rows


def _gcj_rows() -> list[dict]:
    parent = "410798101201"
    # An inward spike: the ring runs 50 m west along y=750 and straight back.
    spike = Polygon([(2000, 500), (2500, 500), (2500, 750), (2450, 750), (2500, 750),
                     (2500, 1000), (2000, 1000), (2000, 500)])  # fmt: skip
    repeated = Polygon([(2500, 0), (3000, 0), (3000, 0), (3000, 500), (2500, 500), (2500, 0)])
    return [
        {"code": "410798101201001", "name": "王庄村第1网格", "parent": parent, "geom": spike},
        # Starts 0.5 m east of 001: a slit nobody owns.
        {
            "code": "410798101201002",
            "name": "王庄村第2网格",
            "parent": parent,
            "geom": rect(2500.5, 500, 3000, 1000),
        },
        {
            "code": "410798101201003",
            "name": "王庄村第3网格",
            "parent": parent,
            "geom": rect(2000, 0, 2500, 500),
        },
        # Should have been 004.
        {"code": "410798101201003", "name": "王庄村第4网格", "parent": parent, "geom": repeated},
    ]


def _special_rows() -> list[dict]:
    return [
        {
            "code": "410798S0001",
            "name": "柳林镇中心小学",
            "kind": "school",
            "geom": rect(3900, 400, 4100, 600),
        },
        {
            "code": "410798S0002",
            "name": "幸福社区卫生服务站",
            "kind": "hospital",
            "geom": rect(500, 600, 700, 800),
        },
    ]


def _to_gcj02(geoms_local: list) -> np.ndarray:
    """Local metres → EPSG:4547 → WGS-84 → GCJ-02, vertex by vertex."""

    def shift(coords: np.ndarray) -> np.ndarray:
        lon, lat = _TO_WGS84.transform(coords[:, 0] + E0, coords[:, 1] + N0)
        glon, glat = from_wgs84(np.asarray(lon), np.asarray(lat), "gcj02")
        return np.column_stack([glon, glat])

    return shapely.transform(np.array(geoms_local, dtype=object), shift)


def write_shapefile(out: Path) -> Path:
    rows = _shp_rows()
    for r in rows:
        # The point of the file: these names are not valid UTF-8 once GBK-encoded.
        try:
            r["name"].encode("gbk").decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:  # pragma: no cover - a guard for whoever edits the names
            raise AssertionError(f"{r['name']} would also decode as UTF-8")
    gdf = gpd.GeoDataFrame(
        {
            "编码": [r["code"] for r in rows],
            "名称": [r["name"] for r in rows],
            "上级编码": [r["parent"] for r in rows],
            "层级": [r["level"] for r in rows],
        },
        geometry=[gk(r["geom"]) for r in rows],
        crs=GK_EPSG,
    )
    path = out / "dirty_gbk.shp"
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
        path.with_suffix(ext).unlink(missing_ok=True)
    gdf.to_file(path, engine="pyogrio", encoding="GBK", layer_options={"RESIZE": "YES"})
    # Drop every hint of the encoding, as files from older desktop GIS arrive.
    path.with_suffix(".cpg").unlink(missing_ok=True)
    dbf = path.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[29] = 0  # language driver ID: none
    dbf.write_bytes(bytes(raw))
    return path


def write_geojson(out: Path, name: str, rows: list[dict], columns: list[str]) -> Path:
    gdf = gpd.GeoDataFrame(
        {c: [r[c if c != "parent_code" else "parent"] for r in rows] for c in columns},
        geometry=list(_to_gcj02([r["geom"] for r in rows])),
        crs=4326,  # what the file claims; the coordinates are really GCJ-02
    )
    path = out / name
    path.unlink(missing_ok=True)
    gdf.to_file(path, engine="pyogrio", driver="GeoJSON")
    return path


EXPECTED = [
    # (type, severity, codes, design area m² or None, how to recompute the area)
    ("invalid_geometry", "error", ["410798101201001"], None, None),
    ("invalid_geometry", "warning", ["410798101201003"], None, None),
    ("duplicate_code", "error", ["410798101201003"], None, None),
    ("malformed_code", "error", ["41079810120203"], None, None),
    ("code_prefix", "error", ["410798002001001", "410798001001"], None, None),
    ("orphan", "error", ["410798001009001"], None, None),
    ("outside_parent", "error", ["410798101202001", "410798101202"], 100_000.0,
     {"op": "difference", "a": "410798101202001", "b": "410798101202"}),
    ("outside_parent", "error", ["410798101202002", "410798101202"], 15_000.0,
     {"op": "difference", "a": "410798101202002", "b": "410798101202"}),
    ("multi_parent", "error", ["410798101202001", "410798101201", "410798101202"], 100_000.0,
     {"op": "outside_main_parent", "a": "410798101202001", "parent_level": "community"}),
    ("overlap", "error", ["410798001002001", "410798001002002"], 20_000.0,
     {"op": "intersection", "a": "410798001002001", "b": "410798001002002"}),
    ("overlap", "error", ["410798101201002", "410798101202001"], 100_000.0,
     {"op": "intersection", "a": "410798101201002", "b": "410798101202001"}),
    ("gap", "error", ["410798001001"], 40_000.0, {"op": "gap", "parent": "410798001001"}),
    ("sliver", "warning", ["410798101201"], 250.0, {"op": "gap", "parent": "410798101201"}),
    ("special_outside_district", "error", ["410798S0001", "410798"], 20_000.0,
     {"op": "difference", "a": "410798S0001", "b": "410798"}),
]  # fmt: skip


def main(out: Path = HERE) -> None:
    out.mkdir(parents=True, exist_ok=True)
    written = [
        write_shapefile(out),
        write_geojson(
            out,
            "dirty_units_gcj02.geojson",
            [{**r, "level": "grid"} for r in _gcj_rows()],
            ["code", "name", "level", "parent_code"],
        ),
        write_geojson(
            out, "dirty_special_gcj02.geojson", _special_rows(), ["code", "name", "kind"]
        ),
    ]
    expected = {
        "about": "Findings validate_units must return for the dirty set; see make_dirty.py.",
        "findings": [
            {"type": t, "severity": s, "codes": c, "area_m2": a, "area_of": how}
            for t, s, c, a, how in EXPECTED
        ],
    }
    path = out / "expected_findings.json"
    path.write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for p in sorted({*out.glob("dirty_gbk.*"), *written, path}):
        print(f"{p.name:<30} {p.stat().st_size:>7,} bytes")


if __name__ == "__main__":
    main()
