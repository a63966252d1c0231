"""Statistical division codes: levels by length, GB/T 10114 kinds, problems, grid numbering."""

import pytest
from shapely.geometry import box

from geo.units.codes import (
    allocate_grid_numbers,
    check_code,
    code_level,
    community_kind,
    street_kind,
)


@pytest.mark.parametrize(
    ("code", "width", "level"),
    [
        ("410711", 3, "district"),
        ("410711001", 3, "street"),
        ("410711001001", 3, "community"),
        ("410711001001001", 3, "grid"),
        ("41071100100101", 2, "grid"),
        ("41071100100101", 3, None),  # 14 digits is no level when grid numbers have 3
        ("4107110010010001", 3, None),
        ("41071A", 3, None),
        ("４１０７１１", 3, None),  # full-width digits are not a code
        ("", 3, None),
    ],
)
def test_code_level_by_length(code, width, level):
    assert code_level(code, grid_width=width) == level


def test_code_level_rejects_non_text_and_bad_width():
    assert code_level(410711) is None  # an int has lost its leading zeros' meaning
    with pytest.raises(ValueError):
        code_level("410711", grid_width=5)


@pytest.mark.parametrize(
    ("suffix", "kind"),
    [
        ("001", "street"),
        ("099", "street"),
        ("100", "town"),
        ("199", "town"),
        ("200", "township"),
        ("399", "township"),
        ("400", "enterprise_unit"),
        ("599", "enterprise_unit"),
        ("000", None),
        ("600", None),
    ],
)
def test_street_kind_follows_gb_t_10114(suffix, kind):
    assert street_kind("410711" + suffix) == kind


def test_street_kind_needs_nine_digits():
    assert street_kind("41071100") is None
    assert street_kind("410711001001") is None


@pytest.mark.parametrize(
    ("suffix", "kind"),
    [
        ("001", "community"),
        ("199", "community"),
        ("200", "village"),
        ("399", "village"),
        ("000", None),
        ("400", None),
    ],
)
def test_community_kind(suffix, kind):
    assert community_kind("410711001" + suffix) == kind


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("410711", "district", None),
        ("410711001", "street", "410711"),
        ("410711101", "street", "410711"),
        ("410711001001", "community", "410711001"),
        ("410711101201", "community", "410711101"),
        ("410711001001001", "grid", "410711001001"),
    ],
)
def test_good_codes_have_no_problems(code, level, parent):
    assert check_code(code, level, parent) == []


def test_two_digit_grid_numbers_when_configured():
    assert check_code("41071100100101", "grid", "410711001001", grid_width=2) == []
    assert check_code("41071100100101", "grid", "410711001001") != []


@pytest.mark.parametrize(
    ("code", "level", "words"),
    [
        ("41071", "district", "6 digits"),
        ("410700", "district", "prefecture"),
        ("990711", "district", "province"),
        ("410711000", "street", "001–599"),
        ("410711700", "street", "001–599"),
        ("410711001000", "community", "001–399"),
        ("410711001001000", "grid", "zero"),
        ("41071100100101", "grid", "15 digits"),
        ("41071100100100A", "grid", "other than the digits"),
        ("４１０７１１", "district", "full-width"),
        (" 410711", "district", "spaces"),
        ("", "district", "empty"),
    ],
)
def test_bad_codes_name_the_problem(code, level, words):
    problems = check_code(code, level)
    assert problems, code
    assert any(words in p for p in problems), problems


def test_prefix_problem_names_the_parent():
    problems = check_code("410711002001001", "grid", "410711001001")
    assert problems == ["code 410711002001001 does not start with its parent's code 410711001001"]
    # The code itself is reported, never rewritten.
    assert check_code("410711001001001", "grid", "410711001001") == []


def _cell(col, row, w=0.002, h=0.001, x0=113.9, y0=35.3, dy=0.0):
    """A block in column ``col`` (west→east) and row ``row`` (north→south)."""
    x = x0 + col * w
    y = y0 - row * h + dy
    return box(x, y - h, x + w, y)


def test_allocation_reads_rows_north_to_south_then_west_to_east():
    # Given scrambled: (row, col); small north–south wobble inside a row must not matter.
    layout = [(1, 2), (0, 1), (1, 0), (0, 0), (0, 2), (1, 1)]
    geoms = [_cell(c, r, dy=0.0002 * ((c % 2) - 0.5)) for r, c in layout]
    codes = allocate_grid_numbers("410711001001", [], geoms)
    expected_rank = {(0, 0): 1, (0, 1): 2, (0, 2): 3, (1, 0): 4, (1, 1): 5, (1, 2): 6}
    assert codes == [f"410711001001{expected_rank[rc]:03d}" for rc in layout]


def test_allocation_continues_after_the_highest_used_number():
    existing = [
        "410711001001001",
        "410711001001007",  # 002–006 retired: not handed out again
        "410711001002009",  # another community
        "4107110010010099",  # not this width
    ]
    codes = allocate_grid_numbers("410711001001", existing, [_cell(1, 0), _cell(0, 0)])
    assert codes == ["410711001001009", "410711001001008"]


def test_allocation_with_two_digit_numbers_and_overflow():
    assert allocate_grid_numbers("410711001001", ["41071100100198"], [_cell(0, 0)], width=2) == [
        "41071100100199"
    ]
    with pytest.raises(ValueError, match="more than 2 digits"):
        allocate_grid_numbers("410711001001", ["41071100100199"], [_cell(0, 0)], width=2)


def test_allocation_refuses_a_bad_community_code_and_handles_nothing_new():
    with pytest.raises(ValueError, match="bad community code"):
        allocate_grid_numbers("41071100100", [], [_cell(0, 0)])
    assert allocate_grid_numbers("410711001001", ["410711001001001"], []) == []
