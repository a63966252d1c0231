"""CRS conversion against published vectors (eviltransform, coordtransform)."""

import json
from pathlib import Path

import numpy as np
import pytest

from geo import crs
from geo.crs import CRS, UnknownCRSError

VECTORS = json.loads((Path(__file__).parent / "data" / "crs_vectors.json").read_text())["vectors"]
FORWARD = {
    "wgs84_to_gcj02": crs.wgs84_to_gcj02,
    "gcj02_to_bd09": crs.gcj02_to_bd09,
    "bd09_to_gcj02": crs.bd09_to_gcj02,
}


@pytest.mark.parametrize(
    "vec", [v for v in VECTORS if v["op"] in FORWARD], ids=lambda v: f"{v['op']}{v['in']}"
)
def test_published_vectors(vec):
    lon, lat = FORWARD[vec["op"]](*vec["in"])
    assert abs(lon - vec["out"][0]) < 1e-9
    assert abs(lat - vec["out"][1]) < 1e-9


@pytest.mark.parametrize("vec", [v for v in VECTORS if v["op"] == "gcj02_to_wgs84_one_step"])
def test_exact_inverse_beats_the_one_step_inverse(vec):
    lon, lat = crs.gcj02_to_wgs84(*vec["in"])
    # The iterated inverse maps back onto the input exactly ...
    flon, flat = crs.wgs84_to_gcj02(lon, lat)
    assert abs(flon - vec["in"][0]) < 1e-9 and abs(flat - vec["in"][1]) < 1e-9
    # ... and sits within ~2 m of the published one-step value, as documented.
    d = np.hypot((lon - vec["out"][0]) * 91_000, (lat - vec["out"][1]) * 111_000)
    assert 0 < d < 3


def test_round_trips_over_henan():
    rng = np.random.default_rng(1)
    lon = rng.uniform(110.4, 116.6, 2000)
    lat = rng.uniform(31.4, 36.4, 2000)
    for name in ("gcj02", "bd09"):
        back = crs.to_wgs84(*crs.from_wgs84(lon, lat, name), name)
        # 1e-9 degrees is 0.1 mm: both inverses are exact, not one-step.
        assert np.max(np.abs(back[0] - lon)) < 1e-9
        assert np.max(np.abs(back[1] - lat)) < 1e-9


def test_shift_size_in_henan():
    glon, glat = crs.wgs84_to_gcj02(113.9, 35.3)
    shift = np.hypot((glon - 113.9) * 111_320 * np.cos(np.radians(35.3)), (glat - 35.3) * 110_950)
    assert 480 < shift < 600  # DESIGN.md: about 510–575 m in Henan


def test_outside_china_is_not_shifted():
    assert crs.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)


def test_parse_crs():
    assert crs.parse_crs("GCJ-02") is CRS.gcj02
    assert crs.parse_crs("EPSG:4490") is CRS.cgcs2000
    with pytest.raises(UnknownCRSError):
        crs.parse_crs("mars")
