"""Chinese statistical division codes (统计用区划代码) of the four-level grid.

A unit's code says its level by its length, and its parent by its prefix:

========== ====== ===========================================================
level      digits structure
========== ====== ===========================================================
district   6      GB/T 2260: province (2) + prefecture (2) + county/district (2)
street     9      district + 3 (GB/T 10114): 001–099 街道 street, 100–199 镇 town,
                  200–399 乡 township, 400–599 政企合一单位 (state farms,
                  development zones run as a township)
community  12     street + 3 (National Bureau of Statistics): 001–199 居委会
                  community, 200–399 村委会 village
grid       12 + w community + grid number of width ``w`` (3 by default; some
                  districts use 2). A local convention, not a national standard.
========== ====== ===========================================================

These functions *report* problems; they never rewrite a code, because a code is an
identity other systems (12345 hotline, police) already hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

LEVEL_DIGITS = {"district": 6, "street": 9, "community": 12}
PARENT_LEVEL = {"street": "district", "community": "street", "grid": "community"}
GRID_WIDTHS = (2, 3)
DEFAULT_GRID_WIDTH = 3

# Province-level prefixes of GB/T 2260 (11 Beijing … 65 Xinjiang, 71 Taiwan, 81/82 HK/Macao).
_PROVINCES = frozenset(
    [
        *range(11, 16),
        *range(21, 24),
        *range(31, 38),
        *range(41, 47),
        *range(50, 55),
        *range(61, 66),
        71,
        81,
        82,
    ]
)
_ASCII_DIGITS = re.compile(r"[0-9]+")
# Full-width digits (０–９) come from Chinese input methods and look right on screen.
_FULLWIDTH = re.compile(r"[０-９]")


def _check_width(grid_width: int) -> None:
    if grid_width not in GRID_WIDTHS:
        raise ValueError(f"grid number width must be one of {GRID_WIDTHS}, got {grid_width}")


def level_digits(level: str, grid_width: int = DEFAULT_GRID_WIDTH) -> int:
    """Number of digits of a code at ``level`` (``grid`` depends on ``grid_width``)."""
    _check_width(grid_width)
    if level == "grid":
        return LEVEL_DIGITS["community"] + grid_width
    try:
        return LEVEL_DIGITS[level]
    except KeyError:
        raise ValueError(f"unknown level {level!r}") from None


def code_level(code: str, grid_width: int = DEFAULT_GRID_WIDTH) -> str | None:
    """The level a code's length says, or None if it is not a well-formed code.

    Parameters
    ----------
    code
        The code as text (leading zeros matter, so never an int).
    grid_width
        Digits of the grid number after the 12-digit community code (2 or 3).

    Returns
    -------
    str or None
        ``"district"``, ``"street"``, ``"community"``, ``"grid"``; None for text that
        is not all ASCII digits or has no level's length.
    """
    _check_width(grid_width)
    if not isinstance(code, str) or not _ASCII_DIGITS.fullmatch(code):
        return None
    by_length = {n: level for level, n in LEVEL_DIGITS.items()}
    by_length[LEVEL_DIGITS["community"] + grid_width] = "grid"
    return by_length.get(len(code))


def street_kind(code: str) -> str | None:
    """What a 9-digit street/township code's last three digits say (GB/T 10114).

    Returns
    -------
    str or None
        ``"street"`` (街道, 001–099), ``"town"`` (镇, 100–199), ``"township"``
        (乡, 200–399), ``"enterprise_unit"`` (政企合一单位 such as state farms, 400–599);
        None for 000, 600–999 or a code that is not 9 ASCII digits.
    """
    if not isinstance(code, str) or len(code) != 9 or not _ASCII_DIGITS.fullmatch(code):
        return None
    n = int(code[6:])
    if 1 <= n <= 99:
        return "street"
    if 100 <= n <= 199:
        return "town"
    if 200 <= n <= 399:
        return "township"
    if 400 <= n <= 599:
        return "enterprise_unit"
    return None


def community_kind(code: str) -> str | None:
    """``"community"`` (居委会, 001–199) or ``"village"`` (村委会, 200–399) of a 12-digit code."""
    if not isinstance(code, str) or len(code) != 12 or not _ASCII_DIGITS.fullmatch(code):
        return None
    n = int(code[9:])
    if 1 <= n <= 199:
        return "community"
    if 200 <= n <= 399:
        return "village"
    return None


def describe_problems(
    code: str, level: str, grid_width: int = DEFAULT_GRID_WIDTH
) -> list[tuple[str, str]]:
    """Problems with the form of ``code`` at ``level`` as (English, Chinese) pairs."""
    expected = level_digits(level, grid_width)
    if not isinstance(code, str) or code == "":
        return [(f"the {level} code is empty", "编码为空")]
    problems: list[tuple[str, str]] = []
    if code != code.strip():
        problems.append(("the code has leading or trailing spaces", "编码首尾有空格"))
    if _FULLWIDTH.search(code):
        problems.append(
            (
                "the code contains full-width digits (０–９); type ASCII digits 0–9",
                "编码含全角数字（０–９），请改为半角数字 0–9",
            )
        )
    if not _ASCII_DIGITS.fullmatch(code.strip()):
        if not _FULLWIDTH.search(code):
            problems.append(
                ("the code contains characters other than the digits 0–9", "编码含数字以外的字符")
            )
        return problems
    if len(code) != expected:
        width = f" (grid number width {grid_width})" if level == "grid" else ""
        problems.append(
            (
                f"a {level} code has {expected} digits{width}; this one has {len(code)}",
                f"应为 {expected} 位数字，实为 {len(code)} 位",
            )
        )
        return problems
    if int(code[:2]) not in _PROVINCES:
        problems.append(
            (
                f"{code[:2]} is not a province prefix of GB/T 2260",
                f"{code[:2]} 不是 GB/T 2260 的省级代码",
            )
        )
    if code[2:4] == "00" or code[4:6] == "00":
        problems.append(
            (
                f"{code[:6]} is a province or prefecture code, not a district (区/县) code",
                f"{code[:6]} 是省级或地级代码，不是区/县代码",
            )
        )
    if level in ("street", "community", "grid") and street_kind(code[:9]) is None:
        problems.append(
            (
                f"street/township number {code[6:9]} is outside 001–599 (GB/T 10114: "
                "001–099 街道, 100–199 镇, 200–399 乡, 400–599 政企合一单位)",
                f"乡级编号 {code[6:9]} 不在 001–599 之内（GB/T 10114：001–099 街道，"
                "100–199 镇，200–399 乡，400–599 政企合一单位）",
            )
        )
    if level in ("community", "grid") and community_kind(code[:12]) is None:
        problems.append(
            (
                f"community/village number {code[9:12]} is outside 001–399 "
                "(001–199 居委会, 200–399 村委会)",
                f"村级编号 {code[9:12]} 不在 001–399 之内（001–199 居委会，200–399 村委会）",
            )
        )
    if level == "grid" and int(code[12:]) == 0:
        problems.append(
            (
                f"grid number {code[12:]} is zero; grids are numbered from 1",
                f"网格编号 {code[12:]} 为零；网格从 1 开始编号",
            )
        )
    return problems


def format_problems(code: str, level: str, grid_width: int = DEFAULT_GRID_WIDTH) -> list[str]:
    """Problems with the form of ``code`` as a code of ``level`` (no parent check).

    Returns
    -------
    list of str
        English sentences, empty when the code is well formed.
    """
    return [en for en, _ in describe_problems(code, level, grid_width)]


def prefix_problem(code: str, parent_code: str | None) -> str | None:
    """A sentence if ``code`` does not start with ``parent_code``, else None.

    A child's code is its parent's code plus its own number, so anything else
    means either the code or the parent is wrong.
    """
    if parent_code is None or not isinstance(code, str):
        return None
    if code.startswith(parent_code) and len(code) > len(parent_code):
        return None
    return f"code {code} does not start with its parent's code {parent_code}"


def check_code(
    code: str, level: str, parent_code: str | None = None, grid_width: int = DEFAULT_GRID_WIDTH
) -> list[str]:
    """All problems with a unit's code: form for its level, then the parent prefix.

    Parameters
    ----------
    code, level
        The unit's code and level (``district``/``street``/``community``/``grid``).
    parent_code
        The parent's code the unit declares; None skips the prefix check.
    grid_width
        Digits of the grid number (2 or 3).

    Returns
    -------
    list of str
        English sentences; empty when the code is fine. The code is never changed.
    """
    problems = format_problems(code, level, grid_width)
    prefix = prefix_problem(code, parent_code)
    if prefix:
        problems.append(prefix)
    return problems


def _row_band(geoms: Sequence[BaseGeometry]) -> float:
    """Height of one numbering row: the median north–south extent of the new grids."""
    bounds = shapely.bounds(np.asarray(geoms, dtype=object))
    heights = bounds[:, 3] - bounds[:, 1]
    heights = heights[np.isfinite(heights) & (heights > 0)]
    return float(np.median(heights)) if heights.size else 1.0


def allocate_grid_numbers(
    community_code: str,
    existing_codes: Iterable[str],
    new_geoms: Sequence[BaseGeometry],
    width: int = DEFAULT_GRID_WIDTH,
) -> list[str]:
    """Codes for new grids of a community, numbered in reading order after the used ones.

    Numbering continues after the highest number the community already uses (a
    retired number is not handed out again: history and other systems still hold
    it). New grids are ordered like text on a map: rows from north to south, west to
    east inside a row, by each grid's representative point (always inside the grid,
    unlike a centroid). A row is a latitude band as tall as the median north–south
    extent of the new grids; the first is centred on the northernmost point, so grids
    of one row of blocks share a band while their points differ by less than half
    that height.

    Parameters
    ----------
    community_code
        The 12-digit community code the new grids belong to.
    existing_codes
        Codes already in use; only this community's grid codes of ``width`` count.
    new_geoms
        Geometries of the new grids (lon/lat or any x-east, y-north CRS).
    width
        Digits of the grid number (2 or 3).

    Returns
    -------
    list of str
        One code per entry of ``new_geoms``, in the same order.

    Raises
    ------
    ValueError
        If the community code is malformed or the numbers would exceed ``width`` digits.
    """
    _check_width(width)
    problems = format_problems(community_code, "community")
    if problems:
        raise ValueError(f"bad community code {community_code!r}: {'; '.join(problems)}")
    n_new = len(new_geoms)
    if n_new == 0:
        return []
    used = [
        int(c[12:])
        for c in existing_codes
        if isinstance(c, str)
        and len(c) == 12 + width
        and c.startswith(community_code)
        and _ASCII_DIGITS.fullmatch(c)
    ]
    first = max(used, default=0) + 1
    last = first + n_new - 1
    if last >= 10**width:
        raise ValueError(
            f"community {community_code} would need grid number {last}, more than "
            f"{width} digits allow"
        )
    points = shapely.point_on_surface(np.asarray(new_geoms, dtype=object))
    x, y = shapely.get_x(points), shapely.get_y(points)
    band = _row_band(new_geoms)
    # Bands are centred on the northernmost point, so a row whose points wobble by
    # less than half a band stays one row (no edge sits right under a point).
    row = np.floor((np.nanmax(y) - y) / band + 0.5)
    order = np.lexsort((x, row))  # last key is primary: row, then x
    codes = [""] * n_new
    for rank, i in enumerate(order):
        codes[int(i)] = f"{community_code}{first + rank:0{width}d}"
    return codes
