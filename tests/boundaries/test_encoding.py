"""Shapefile encoding: .cpg first, then the .dbf bytes decide GBK vs UTF-8; mojibake spotted."""

import geopandas as gpd
import pytest
from shapely.geometry import box

from boundaries.encoding import dbf_text_bytes, detect_encoding, looks_garbled
from boundaries.sample import generate_sample_district

NAMES = ["幸福社区第1网格", "人民路街道", "柳林镇中心小学"]


def _shapefile(tmp_path, names, encoding="UTF-8", keep_cpg=True, stem="units"):
    gdf = gpd.GeoDataFrame(
        {"code": [f"41071100100100{i}" for i in range(len(names))], "name": names},
        geometry=[box(i, 0, i + 1, 1) for i in range(len(names))],
        crs=4326,
    )
    path = tmp_path / f"{stem}.shp"
    gdf.to_file(path, engine="pyogrio", encoding=encoding)
    if not keep_cpg:
        path.with_suffix(".cpg").unlink()
        dbf = path.with_suffix(".dbf")
        raw = bytearray(dbf.read_bytes())
        raw[29] = 0  # and no language driver byte
        dbf.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(
    ("cpg", "expected"),
    [
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        ("65001", "utf-8"),
        ("GBK", "GBK"),
        ("936", "GBK"),
        ("CP936", "GBK"),
        ("GB2312", "GBK"),
        ("GB18030", "GB18030"),
        ("1252", "CP1252"),
        ("KOI8-R", "KOI8-R"),  # unknown spellings pass through as written
    ],
)
def test_a_cpg_file_is_honoured(tmp_path, cpg, expected):
    path = _shapefile(tmp_path, NAMES, encoding="GBK", keep_cpg=False)
    path.with_suffix(".cpg").write_text(cpg + "\n", encoding="ascii")
    assert detect_encoding(path) == expected


def test_a_windows_style_upper_case_cpg_is_found(tmp_path):
    path = _shapefile(tmp_path, NAMES, encoding="GBK", keep_cpg=False)
    (tmp_path / "units.CPG").write_text("936", encoding="ascii")
    assert detect_encoding(path) == "GBK"


def test_gbk_without_cpg_is_detected_from_the_bytes(tmp_path):
    path = _shapefile(tmp_path, NAMES, encoding="GBK", keep_cpg=False)
    assert detect_encoding(path) == "GBK"
    assert detect_encoding(path.with_suffix(".dbf")) == "GBK"
    read = gpd.read_file(path, engine="pyogrio", encoding=detect_encoding(path))
    assert read["name"].tolist() == NAMES


def test_utf8_without_cpg_is_detected_from_the_bytes(tmp_path):
    path = _shapefile(tmp_path, NAMES, encoding="UTF-8", keep_cpg=False)
    assert detect_encoding(path) == "utf-8"


def test_gb18030_only_characters(tmp_path):
    # 𠀀 (U+20000) is outside GBK; GB18030 encodes it in four bytes.
    names = ["𠀀家村", "王庄村"]
    dbf_path = _shapefile(tmp_path, ["x", "y"], keep_cpg=False)
    dbf = dbf_path.with_suffix(".dbf")
    raw = dbf.read_bytes()
    for old, new in zip([b"x", b"y"], names, strict=True):
        encoded = new.encode("gb18030")
        start = raw.index(old + b" " * 10)
        raw = raw[:start] + encoded + raw[start + len(encoded) :]
    dbf.write_bytes(raw)
    assert detect_encoding(dbf_path) == "GB18030"


def test_ascii_only_text_is_undecided(tmp_path):
    path = _shapefile(tmp_path, ["grid 1", "grid 2"], keep_cpg=False)
    assert detect_encoding(path) is None


def test_latin1_text_is_not_mistaken_for_gbk(tmp_path):
    # "ü" + "l" happens to be a valid GBK pair, but a lone Han between Latin letters
    # is no Chinese name.
    path = _shapefile(tmp_path, ["Müller", "Straße"], encoding="latin1", keep_cpg=False)
    assert detect_encoding(path) is None


def test_other_formats_are_utf8_by_spec(tmp_path):
    path = tmp_path / "units.geojson"
    gpd.GeoDataFrame({"name": NAMES}, geometry=[box(0, 0, 1, 1)] * 3, crs=4326).to_file(path)
    assert detect_encoding(path) is None
    assert detect_encoding(tmp_path / "missing.shp") is None


def test_dbf_text_bytes_reads_field_names_and_values(tmp_path):
    path = _shapefile(tmp_path, NAMES, encoding="GBK", keep_cpg=False)
    values = dbf_text_bytes(path.with_suffix(".dbf"))
    assert b"name" in values and b"code" in values
    assert [v.decode("gbk") for v in values if not v.isascii()] == NAMES


@pytest.mark.parametrize(
    ("text", "garbled"),
    [
        ("网格", False),
        ("幸福社区第1网格", False),
        ("阿卜杜·热合曼路", False),  # the middle dot is genuine Chinese punctuation
        ("1号楼×2", False),
        ("Café de Flore", False),
        ("Müller", False),
        ("grid 12", False),
        ("", False),
        (None, False),
        ("网格".encode("gbk").decode("latin-1"), True),  # Íø¸ñ
        ("网格".encode().decode("cp1252"), True),  # ç½‘æ ¼
        ("网格".encode().decode("gbk"), True),  # 缃戞牸
        ("幸福\ufffd区", True),
    ],
)
def test_looks_garbled(text, garbled):
    assert looks_garbled(text) is garbled


def test_no_sample_name_is_flagged_and_every_misreading_is():
    # About 900 realistic names: none is garbled as it is, each is once misread.
    s = generate_sample_district()
    names = {
        *s.streets["name"],
        *s.communities["name"],
        *s.grids["name"],
        *s.special_grids["name"],
    }
    assert len(names) > 800
    assert [n for n in names if looks_garbled(n)] == []
    as_latin1 = [n.encode("gbk").decode("latin-1") for n in names]
    assert [n for n in as_latin1 if not looks_garbled(n)] == []
    as_cp1252 = [n.encode("utf-8").decode("cp1252", errors="replace") for n in names]
    assert [n for n in as_cp1252 if not looks_garbled(n)] == []
    utf8_as_gbk = [n.encode("utf-8").decode("gbk", errors="replace") for n in names]
    assert [n for n in utf8_as_gbk if not looks_garbled(n)] == []
