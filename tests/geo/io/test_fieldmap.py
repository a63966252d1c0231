"""The one ``field=column`` parser, as boundary files, special grids and ledgers use it."""

from __future__ import annotations

import pytest

from geo.errors import InvalidInput
from geo.io.fieldmap import parse_boundary_map, parse_field_map

from boundaries.special_import import parse_special_column_map


def test_entries_split_on_any_comma_and_are_trimmed():
    text = " name = 楼院名称 ，households=户数,, address=地址（详细） "
    want = {"name": "楼院名称", "households": "户数", "address": "地址（详细）"}
    assert parse_field_map(text) == want
    assert parse_field_map("") is None and parse_field_map(None) is None
    assert parse_field_map("note=a=b") == {"note": "a=b"}  # the first "=" splits


def test_an_entry_without_equals_says_how_to_write_it():
    with pytest.raises(InvalidInput) as err:
        parse_field_map("name=名称,户数")
    assert "'户数'" in err.value.message and "field=column" in err.value.message
    assert "字段=列名" in err.value.message_zh


def test_boundary_map_knows_four_fields_and_the_short_parent():
    got = parse_boundary_map("code=编码,name=名称,parent=上级编码,level=层级")
    assert got == {"code": "编码", "name": "名称", "parent_code": "上级编码", "level": "层级"}
    assert parse_boundary_map("parent_code=上级") == {"parent_code": "上级"}
    with pytest.raises(InvalidInput) as err:
        parse_boundary_map("households=户数")
    for word in ("households", "code", "name", "parent", "level"):
        assert word in err.value.message and word in err.value.message_zh
    assert "parent_code" not in err.value.message  # it lists what a person types


def test_special_grids_use_the_same_parser_with_their_fields():
    assert parse_special_column_map("kind=类别，code=编号") == {"kind": "类别", "code": "编号"}
    with pytest.raises(InvalidInput, match="responsible_unit"):
        parse_special_column_map("parent=上级")
