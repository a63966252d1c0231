"""Code checks of a boundary set: duplicates, malformed codes, codes off their parent's prefix.

Codes are only reported, never rewritten (see :mod:`geo.units.codes`).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely

from geo.topology.findings import Finding
from geo.topology.geometry import LEVEL_EN, LEVEL_ZH, label
from geo.units.codes import PARENT_LEVEL, describe_problems, level_digits, prefix_problem

_ASCII_DIGITS = frozenset("0123456789")


def duplicate_codes(
    codes: np.ndarray, levels: np.ndarray, geoms_lonlat: np.ndarray
) -> list[Finding]:
    """One ``duplicate_code`` finding per code held by more than one feature."""
    where: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(codes.tolist()):
        where[str(c)].append(i)
    out = []
    for code, rows in sorted(where.items()):
        if len(rows) < 2:
            continue
        lv = [str(levels[i]) for i in rows]
        geoms = [g for g in geoms_lonlat[rows] if g is not None and not g.is_empty]
        out.append(
            Finding(
                type="duplicate_code",
                severity="error",
                codes=(code,),
                area_m2=None,
                geometry=shapely.GeometryCollection(geoms) if geoms else None,
                message=(
                    f"code {code} is used by {len(rows)} features "
                    f"({', '.join(LEVEL_EN.get(x, x) for x in lv)}). Give each its own code; "
                    "a new grid can get the next free number (allocate_grid_numbers)."
                ),
                message_zh=(
                    f"编码 {code} 被 {len(rows)} 个要素重复使用"
                    f"（{'、'.join(LEVEL_ZH.get(x, x) for x in lv)}）。请为每个要素分配唯一编码；"
                    "新网格可取下一个空闲编号（allocate_grid_numbers）。"
                ),
                detail={"count": len(rows), "levels": lv},
            )
        )
    return out


def code_findings(
    codes: np.ndarray,
    names: np.ndarray,
    levels: np.ndarray,
    parents: np.ndarray,
    grid_width: int,
) -> list[Finding]:
    """``malformed_code`` and ``code_prefix`` findings, one per unit at most of each."""
    known = {(str(lvl), str(c)) for lvl, c in zip(levels, codes, strict=True)}
    out = []
    for code, name, level, parent in zip(
        codes.tolist(), names.tolist(), levels.tolist(), parents.tolist(), strict=True
    ):
        code = str(code)
        en, zh = label(code, name, level)
        pairs = describe_problems(code, level, grid_width)
        if pairs:
            problems = [en for en, _ in pairs]
            digits = level_digits(level, grid_width)
            out.append(
                Finding(
                    type="malformed_code",
                    severity="error",
                    codes=(code,),
                    area_m2=None,
                    geometry=None,
                    message=f"{en}: {'; '.join(problems)}. Correct the code in the source file.",
                    message_zh=(
                        f"{zh}：编码格式不符（{'；'.join(zh_ for _, zh_ in pairs)}）。"
                        "请在源文件中更正编码。"
                    ),
                    detail={"problems": problems, "expected_digits": digits},
                )
            )
        # A code with letters or full-width digits is already malformed; its prefix
        # mismatch would be the same mistake reported twice.
        if parent is None or not code or not set(code) <= _ASCII_DIGITS:
            continue
        problem = prefix_problem(code, parent)
        if problem is None:
            continue
        parent_level = PARENT_LEVEL.get(level)
        expected = None
        if parent_level is not None:
            prefix = code[: level_digits(parent_level, grid_width)]
            expected = prefix if (parent_level, prefix) in known else None
        hint_en = f"; by its code it belongs to {expected}" if expected else ""
        hint_zh = f"；按编码应属 {expected}" if expected else ""
        out.append(
            Finding(
                type="code_prefix",
                severity="error",
                codes=(code, str(parent)),
                area_m2=None,
                geometry=None,
                message=(
                    f"{en}: {problem}{hint_en}. Either the code or the parent code is wrong; "
                    "correct whichever the responsible office confirms."
                ),
                message_zh=(
                    f"{zh}：编码未以上级编码 {parent} 开头{hint_zh}。编码或上级编码有误，"
                    "请按主管部门确认的结果更正。"
                ),
                detail={"parent_code": str(parent), "expected_parent_code": expected},
            )
        )
    return out
