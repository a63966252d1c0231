"""Write the test ledgers (台账) of this folder, reproducibly.

``python tests/data/ledgers/make_ledgers.py`` writes

- ``compounds.xlsx``: a compounds ledger as a street office keeps it: a merged title
  row and a merged sub-title, a two-row header (坐标 merged over 经度/纬度/坐标系,
  the other headers merged down), trailing spaces, full-width digits, mixed 号/號,
  traditional characters, units after numbers, blank rows, a duplicate compound, a
  footnote; coordinates in WGS-84, GCJ-02 and BD-09, rows with only an address, one
  row that cannot be located, and the unowned-compound campaign columns.
- ``compounds_bad.xlsx``: the same with one fatally bad row (lon/lat swapped).
- ``workers_gbk.csv``: grid workers with their grids (网格员, 联系电话, 负责网格),
  GBK-encoded, with a duplicate row, a person on two rows and a traditional/full-width
  grid name.
- ``expected.json``: the truth the tests check imports against: per compound its
  WGS-84 position (drawn inside a sample grid, or the point the forward geocoder
  gives for the sample compound or community its address names), its campaign stage,
  and per worker the grid codes.

Positions come from the sample district (seed ``geo.settings.Settings().sample_seed``).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date
from pathlib import Path

import numpy as np
import openpyxl
import shapely
from openpyxl.styles import Alignment, Font

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from geo.crs import gcj02_to_bd09, wgs84_to_gcj02  # noqa: E402
from geo.settings import Settings  # noqa: E402

from boundaries.sample import generate_sample_district  # noqa: E402

HERE = Path(__file__).resolve().parent
HEADERS = [
    "序号", "小区名称", "地址", "户数（户）", "楼栋数", "建成年代", "物业类型",
    "经度", "纬度", "坐标系", "存在问题", "治理模式", "业委会", "整治项目", "销号日期", "验收人",
]  # fmt: skip
COORD_COLS = (8, 10)  # H..J under the merged 坐标 header

# name as written, address as written, households, buildings, year, management,
# position spec, crs, campaign (issues, mode, committee, works, struck off, verifier),
# expected (name stored, stage).
# position spec: ("grid", code) a point drawn in that grid; ("compound", sample name)
# or ("community", code) located through the address; None: unlocatable.
COMPOUNDS = [
    ("纺织厂东院", "样例区人民路街道建设路12号", 64, 3, "1982年", "无主管",
     ("grid", "410799001001003"), "wgs84",
     ("无门禁、无路灯", "社区型", "是", "安装路灯(2026-03-05)；硬化路面（2026-04-10）",
      "2026-05-20", "王建国"), "struck_off"),
    ("棉纺宿舍楼", "样例区人民路街道建设路40号", 48, 2, 1979, "无主管",
     ("grid", "410799001001007"), "gcj02",
     ("路面破损", "自治型", "否", "修补路面 2026-06-01", None, None), "in_progress"),
    ("老邮电局宿舍", "样例区人民路街道胜利路88號", "７２", 4, "1986", "无物业",
     ("grid", "410799001002004"), "bd09",
     ("无门禁、消防通道不畅", None, "否", None, None, None), "listed"),
    ("胜利里12号院", "样例区人民路街道胜利路12号", 36, 2, 1990, "无主管",
     ("grid", "410799001002009"), "gcj02",
     ("无路灯", "专业型", "已成立", "安装门禁(2026-02-11)", date(2026, 4, 30), "李明"),
     "struck_off"),
    ("东街３号楼院  ", "样例区人民路街道东街3号", "１２３", "５", "1988年", "无主管",
     ("grid", "410799001003002"), "wgs84",
     ("无路灯", "社区托管", "否", None, None, None), "in_progress"),
    ("解放路300号院西院", "样例区解放路街道解放路３００號", "86户", 3, 1984, "无主管",
     ("compound", "解放路300号院"), None,
     (None, None, None, None, None, None), "listed"),
    ("劳动路336号院北楼", "样例区人民路街道劳动路336号", 40, 2, 1991, "无主管",
     ("compound", "劳动路336号院"), None,
     ("无门禁", "专业型", "是", "安装门禁(2026-05-02)", "2026/07/15", "张华"), "struck_off"),
    ("纺织社区散居楼", "样例区人民路街道纺织社区", 30, 1, 1995, "单位管理",
     ("community", "410799001001"), None, (None,) * 6, None),
    ("北关无名楼院", "城北老菜市场后面", 20, 1, 1980, "无主管",
     None, None, ("无门禁", None, None, None, None, None), None),
    ("錦華苑", "样例区新华街道友谊路8號", 420, 9, 2006, "物業公司",
     ("grid", "410799003001002"), "bd09", (None,) * 6, None),
    ("園丁小区", "样例区解放路街道园丁路5号", 210, 6, "2001年", "业主自管",
     ("grid", "410799002001004"), "gcj02", (None,) * 6, None),
]  # fmt: skip
# Names as the register should store them, where the ledger writes them otherwise.
STORED_NAME = {"东街３号楼院  ": "东街3号楼院", "錦華苑": "锦华苑", "園丁小区": "园丁小区"}
# Row (index into COMPOUNDS) repeated with 號 and full-width digits: a duplicate.
DUPLICATE_OF = 0
DUPLICATE_ADDRESS = "样例区人民路街道建设路１２號"

WORKERS = [
    ("赵丽娟", "139 0373 1234", "纺织社区第1网格", "网格员"),
    ("钱志强", "13803731235", "胜利社区第2网格、胜利社区第3网格", "网格员"),
    ("孙海燕", "186-0373-1236", "纺织社区第４網格", "网格员"),
    ("李卫东", "13937312377", "纺织社区", "网格长"),
    ("赵丽娟", "13903731234", "纺织社区第1网格", "网格员"),  # duplicate
    ("", "", "", ""),  # blank
    ("钱志强", "13803731235", "胜利社区第4网格", ""),  # second grid, own row
    ("周建", "", "410799002001001", ""),
]


def _grid_point(grid, rng) -> tuple[float, float]:
    """A WGS-84 point at least ~20 m inside ``grid``."""
    inner = grid.buffer(-0.0002)
    minx, miny, maxx, maxy = inner.bounds
    while True:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if inner.contains(shapely.Point(x, y)):
            return float(x), float(y)


def _coords_in(lon: float, lat: float, crs: str) -> tuple[float, float]:
    if crs == "wgs84":
        return lon, lat
    gx, gy = wgs84_to_gcj02(lon, lat)
    if crs == "gcj02":
        return float(gx), float(gy)
    bx, by = gcj02_to_bd09(gx, gy)
    return float(bx), float(by)


def build(seed: int) -> tuple[list[list], dict]:
    """Ledger rows (as written) and the truth."""
    sample = generate_sample_district(seed)
    grids = sample.grids.set_index("code").geometry
    communities = sample.communities.set_index("code").geometry
    compounds = sample.compounds.set_index("name").geometry
    rng = np.random.default_rng(seed + 9)
    rows, truth = [], {"compounds": {}, "workers": {}}
    for i, (name, addr, hh, bld, year, mgmt, pos, crs, camp, stage) in enumerate(COMPOUNDS):
        lon = lat = None
        if pos is None:
            where = None
        elif pos[0] == "grid":
            where = _grid_point(grids[pos[1]], rng)
            lon, lat = (round(v, 8) for v in _coords_in(*where, crs))
        else:
            geom = compounds[pos[1]] if pos[0] == "compound" else communities[pos[1]]
            pt = shapely.point_on_surface(geom)  # the point the gazetteer answers with
            where = (pt.x, pt.y)
        rows.append([i + 1, name, addr, hh, bld, year, mgmt, lon, lat, crs, *camp])
        truth["compounds"][STORED_NAME.get(name, name)] = {
            "position": list(where) if where else None,
            "located_by": None if pos is None else "coordinates" if crs else "address",
            "management_type": {"单位管理": "unit", "物業公司": "property_company",
                                "业主自管": "self_governed"}.get(mgmt, "unowned"),
            "stage": stage,
        }  # fmt: skip
    dup = list(rows[DUPLICATE_OF])
    dup[0], dup[2] = len(rows) + 1, DUPLICATE_ADDRESS
    rows.append(dup)
    name_to_code = dict(zip(sample.grids["name"], sample.grids["code"], strict=True))
    name_to_code.update(zip(sample.communities["name"], sample.communities["code"], strict=True))
    for name, _, units, _role in WORKERS:
        if not name:
            continue
        codes = []
        for part in units.replace("４", "4").replace("網", "网").split("、"):
            codes.append(part if part.isdigit() else name_to_code[part])
        truth["workers"].setdefault(name, [])
        truth["workers"][name] += [c for c in codes if c not in truth["workers"][name]]
    return rows, truth


def write_xlsx(path: Path, rows: list[list]) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "无主管楼院台账"
    width = len(HEADERS)
    ws.append(["样例区老旧小区（楼院）台账  "] + [None] * (width - 1))
    ws.append(["填报单位：样例区住建局      填报日期：２０２６年１１月"] + [None] * (width - 1))
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
    ws["A1"].font = Font(bold=True, size=16)
    ws["A1"].alignment = Alignment(horizontal="center")
    top = [
        h if not COORD_COLS[0] <= i + 1 <= COORD_COLS[1] else None for i, h in enumerate(HEADERS)
    ]
    top[COORD_COLS[0] - 1] = "坐标"
    ws.append(top)
    ws.append(
        [h if COORD_COLS[0] <= i + 1 <= COORD_COLS[1] else None for i, h in enumerate(HEADERS)]
    )
    ws.merge_cells(start_row=3, start_column=COORD_COLS[0], end_row=3, end_column=COORD_COLS[1])
    for col in range(1, width + 1):
        if not COORD_COLS[0] <= col <= COORD_COLS[1]:
            ws.merge_cells(start_row=3, start_column=col, end_row=4, end_column=col)
    for i, r in enumerate(rows):
        ws.append(r)
        if i in (2, 6):
            ws.append([None] * width)  # blank rows, as people leave them
    ws.append([])
    ws.append(["制表人：李四    审核人：王五"])
    book.save(path)


def write_workers(path: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["序号", "网格员", "联系电话", "负责网格", "职务"])
    for i, (name, phone, units, role) in enumerate(WORKERS, start=1):
        w.writerow([i if name else "", name, phone, units, role])
    path.write_bytes(buf.getvalue().encode("gbk"))


def main() -> None:
    rows, truth = build(Settings().sample_seed)
    write_xlsx(HERE / "compounds.xlsx", rows)
    bad = [list(r) for r in rows]
    lon, lat = bad[0][7], bad[0][8]
    bad.insert(3, [99, "错位坐标楼院", "样例区人民路街道建设路77号", 50, 2, 1985, "无主管",
                   lat, lon, "wgs84", None, None, None, None, None, None])  # fmt: skip
    write_xlsx(HERE / "compounds_bad.xlsx", bad)
    write_workers(HERE / "workers_gbk.csv")
    (HERE / "expected.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
