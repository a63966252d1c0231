"""Case rules from a district's file: what it says is what the service uses; a wrong
file is refused with the line to fix."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from geo.errors import InvalidInput
from geo.incidents.lifecycle import due_at
from geo.incidents.records import SpecialRef, responsible_special
from geo.incidents.rules import DEFAULT_CASE_RULES, load_case_rules

RULES = """
[categories]
environment = ["环境卫生", "Environment"]
fire_passage = ["消防通道占用", "Blocked fire passage"]
campus_safety = ["校园安全", "Campus safety"]

[[precedence]]
categories = ["fire_passage"]
special_kinds = ["industrial_park"]

[time_limits_hours]
grid = 12
community = 48
street = 96.5
district = 200
"""


def test_no_file_means_the_defaults():
    assert load_case_rules(None) is DEFAULT_CASE_RULES
    assert "campus_safety" in DEFAULT_CASE_RULES.categories


def test_a_district_file_replaces_categories_rules_and_limits(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    rules = load_case_rules(path)
    assert rules.categories == {
        "environment": ("环境卫生", "Environment"),
        "fire_passage": ("消防通道占用", "Blocked fire passage"),
        "campus_safety": ("校园安全", "Campus safety"),
    }
    assert rules.time_limits_h == {
        "grid": 12.0,
        "community": 48.0,
        "street": 96.5,
        "district": 200.0,
    }
    park = SpecialRef(1, "SP1", "产业园", "industrial_park", "园区管委会")
    school = SpecialRef(2, "SP2", "小学", "school", "学校")
    # The file's one rule: fire passages in a park go to the park …
    assert responsible_special("fire_passage", [park, school], rules.precedence) == park
    # … and campus safety, without a rule now, stays with the territorial grid.
    assert responsible_special("campus_safety", [park, school], rules.precedence) is None
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    assert (due_at("street", t0, rules.time_limits_h) - t0).total_seconds() == 96.5 * 3600


def test_json_works_and_left_out_sections_keep_defaults(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            {"time_limits_hours": {"grid": 8, "community": 24, "street": 72, "district": 168}}
        )
    )
    rules = load_case_rules(path)
    assert rules.categories == DEFAULT_CASE_RULES.categories
    assert rules.precedence == DEFAULT_CASE_RULES.precedence
    assert rules.time_limits_h["grid"] == 8.0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[categories]\nx = ["只有中文"]\n', "two names"),
        (
            '[[precedence]]\ncategories = ["nope"]\nspecial_kinds = ["school"]\n',
            "unknown categories",
        ),
        (
            '[[precedence]]\ncategories = ["environment"]\nspecial_kinds = ["castle"]\n',
            "special-grid kinds",
        ),
        ("[time_limits_hours]\ngrid = 1\n", "needs exactly"),
        ("[time_limits_hours]\ngrid = -1\ncommunity = 1\nstreet = 1\ndistrict = 1\n", "positive"),
        ("[surprise]\n", "unknown section"),
        ("not toml = = =", "cannot be read"),
    ],
)
def test_a_wrong_file_is_refused_with_what_to_fix(tmp_path, text, needle):
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        load_case_rules(path)
    assert needle in err.value.message and str(path) in err.value.message
