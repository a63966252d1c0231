"""The district's case rules in one place: categories, precedence rules, time limits.

Defaults are the common case types and the "special grid for its own matters,
territory for the rest" rules of :mod:`geo.incidents.records` and the time limits of
:mod:`geo.incidents.lifecycle`. A district changes them with a TOML (or JSON) file named by
``GRIDMAP_CASE_RULES_FILE``::

    [categories]                      # code = [中文, English]; replaces the default list
    environment = ["环境卫生", "Environment and sanitation"]
    fire_passage = ["消防通道占用", "Blocked fire passage"]

    [[precedence]]                    # first match wins; none: the territorial grid
    categories = ["campus_safety"]
    special_kinds = ["school", "campus"]

    [time_limits_hours]               # per level, counted from reaching that level
    grid = 24
    community = 72
    street = 168
    district = 336

A section left out keeps its default. The file is checked when the service starts: an
unknown special-grid kind, a rule naming a category that does not exist or a missing
level refuses to start, with a message saying which line to fix.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from geo.errors import InvalidInput
from geo.incidents.lifecycle import DEFAULT_TIME_LIMITS_H, LEVEL_ORDER
from geo.incidents.records import DEFAULT_CATEGORIES, DEFAULT_RULES, PrecedenceRule
from geo.vocab import SPECIAL_GRID_KINDS


@dataclass(frozen=True)
class CaseRules:
    categories: dict[str, tuple[str, str]]
    precedence: tuple[PrecedenceRule, ...]
    time_limits_h: dict[str, float]


DEFAULT_CASE_RULES = CaseRules(
    dict(DEFAULT_CATEGORIES), DEFAULT_RULES, {k: float(v) for k, v in DEFAULT_TIME_LIMITS_H.items()}
)


def _bad(path: Path, what: str, what_zh: str) -> InvalidInput:
    return InvalidInput(f"{path}: {what}", f"{path}：{what_zh}", field=str(path))


def _categories(path: Path, raw) -> dict[str, tuple[str, str]]:
    if not isinstance(raw, dict) or not raw:
        raise _bad(
            path,
            "[categories] must map codes to [中文, English]",
            "[categories] 应为 编码 = [中文, English]",
        )
    out = {}
    for code, names in raw.items():
        if (
            not isinstance(names, list | tuple)
            or len(names) != 2
            or not all(isinstance(n, str) and n.strip() for n in names)
        ):
            raise _bad(
                path,
                f"category {code!r} needs two names: [中文, English]",
                f"类别 {code!r} 需要两个名称：[中文, English]",
            )
        out[str(code)] = (names[0].strip(), names[1].strip())
    return out


def _precedence(path: Path, raw, categories: dict) -> tuple[PrecedenceRule, ...]:
    if not isinstance(raw, list):
        raise _bad(path, "[[precedence]] must be a list of rules", "[[precedence]] 应为规则列表")
    rules = []
    for i, rule in enumerate(raw, 1):
        cats = set(rule.get("categories") or []) if isinstance(rule, dict) else set()
        kinds = set(rule.get("special_kinds") or []) if isinstance(rule, dict) else set()
        if not cats or not kinds:
            raise _bad(
                path,
                f"precedence rule {i} needs categories and special_kinds",
                f"第 {i} 条优先规则需要 categories 和 special_kinds",
            )
        if unknown := sorted(cats - set(categories)):
            raise _bad(
                path,
                f"precedence rule {i} names unknown categories {unknown}",
                f"第 {i} 条优先规则含未定义的类别 {unknown}",
            )
        if unknown := sorted(kinds - set(SPECIAL_GRID_KINDS)):
            raise _bad(
                path,
                f"precedence rule {i} names unknown special-grid kinds {unknown}; "
                f"use {list(SPECIAL_GRID_KINDS)}",
                f"第 {i} 条优先规则含未知的专属网格类型 {unknown}",
            )
        rules.append(PrecedenceRule(frozenset(cats), frozenset(kinds)))
    return tuple(rules)


def _limits(path: Path, raw) -> dict[str, float]:
    if not isinstance(raw, dict) or set(raw) != set(LEVEL_ORDER):
        raise _bad(
            path,
            f"[time_limits_hours] needs exactly {list(LEVEL_ORDER)}",
            f"[time_limits_hours] 需要且仅需要 {list(LEVEL_ORDER)}",
        )
    out = {}
    for level, hours in raw.items():
        if not isinstance(hours, int | float) or isinstance(hours, bool) or hours <= 0:
            raise _bad(
                path,
                f"time limit of {level} must be a positive number of hours",
                f"{level} 的时限应为正数（小时）",
            )
        out[level] = float(hours)
    return out


def load_case_rules(path: Path | str | None) -> CaseRules:
    """The rules in ``path`` (TOML or JSON) over the defaults; the defaults for None."""
    if path is None:
        return DEFAULT_CASE_RULES
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except FileNotFoundError:
        raise _bad(path, "file not found", "文件不存在") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _bad(path, f"cannot be read ({e})", f"无法解析（{e}）") from None
    unknown = sorted(set(doc) - {"categories", "precedence", "time_limits_hours"})
    if unknown:
        raise _bad(
            path,
            f"unknown section(s) {unknown}; use categories, precedence, time_limits_hours",
            f"未知的配置段 {unknown}",
        )
    categories = (
        _categories(path, doc["categories"])
        if "categories" in doc
        else DEFAULT_CASE_RULES.categories
    )
    precedence = (
        _precedence(path, doc["precedence"], categories)
        if "precedence" in doc
        else _precedence(
            path,
            [
                {
                    "categories": sorted(r.categories & set(categories)),
                    "special_kinds": sorted(r.special_kinds),
                }
                for r in DEFAULT_RULES
                if r.categories & set(categories)
            ],
            categories,
        )
    )
    limits = (
        _limits(path, doc["time_limits_hours"])
        if "time_limits_hours" in doc
        else DEFAULT_CASE_RULES.time_limits_h
    )
    return CaseRules(categories, precedence, limits)
