"""Text handling for the gazetteer: normalising names, parsing addresses, pinyin keys.

Everything the gazetteer compares goes through :func:`normalise` first, on the index
side and on the query side, so traditional characters, full-width digits and stray
punctuation never decide a match. :func:`parse_address` splits a Chinese address into
its administrative parts by their suffixes (省/市/区/街道/社区/…) and the building,
unit and room at its end; it is best-effort and knows no place names.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import opencc
from pypinyin import lazy_pinyin

__all__ = [
    "ADDRESS_FIELDS",
    "ADMIN_FIELDS",
    "chinese_numeral",
    "normalise",
    "normalise_address",
    "parse_address",
    "parse_address_spans",
    "pinyin_keys",
    "short_name",
    "strip_admin_noise",
]

ADDRESS_FIELDS = (
    "province", "city", "district", "street", "community", "compound", "building", "unit", "room",
)  # fmt: skip
# Parts of an address that name an administrative area, coarse to fine.
ADMIN_FIELDS = ("province", "city", "district", "street", "community")

# Suffixes dropped to make a short name (幸福小区 → 幸福), longest first where they
# overlap (街道办事处 before 街道, 名苑 before 苑). A bare 院 is not one: 中医院 and
# 学院 would lose part of their meaning.
_SHORT_SUFFIXES = (
    "街道办事处", "街道", "社区", "小区", "花园", "家园", "公寓", "新城", "名苑", "雅居",
    "家属院", "楼院", "村", "镇", "乡", "苑", "府",
)  # fmt: skip

# A "#" after a number is the common shorthand for 号 (3#楼 = 3号楼).
_HASH_AFTER_DIGIT = re.compile(r"(?<=\d)#")
_NOT_WORD = re.compile(r"[\W_]+")
# 3-2-301 at the end of an address: building 3, unit 2, room 301.
_DASHED_TAIL = re.compile(r"(?<!\d)(\d+)\s*[-‐‑–—]\s*(\d+)\s*[-‐‑–—]\s*(\d+)\s*$")


@functools.cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """The form names and queries are compared in.

    NFKC first (full-width ``１２３`` and ``ＡＢ`` become ``123`` and ``AB``), then
    traditional → simplified with OpenCC ``t2s`` (號 → 号), latin lower-cased, a ``#``
    after a digit read as 号, and every space and punctuation mark dropped.

    Parameters
    ----------
    text
        Any user or data text; ``None``-like empty input gives ``""``.

    Returns
    -------
    str
        Simplified Chinese, half-width digits, lower-case latin, no separators.
    """
    if not text:
        return ""
    out = unicodedata.normalize("NFKC", str(text))
    out = _t2s().convert(out).replace("號", "号").lower()
    out = _HASH_AFTER_DIGIT.sub("号", out)
    return _NOT_WORD.sub("", out)


_DIGITS = "零一二三四五六七八九"


def chinese_numeral(n: int) -> str:
    """3 → 三, 10 → 十, 21 → 二十一, 105 → 一百零五 (1 ≤ n ≤ 999), as grids are numbered
    in speech (第三网格)."""
    if not 0 < n < 1000:
        raise ValueError(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    out = _DIGITS[hundreds] + "百" if hundreds else ""
    if hundreds and rest and not tens:
        return out + "零" + _DIGITS[ones]
    if tens:
        out += ("" if tens == 1 and not hundreds else _DIGITS[tens]) + "十"
    return out + (_DIGITS[ones] if ones else "")


def short_name(name: str) -> str | None:
    """``name`` without its generic suffix (幸福社区 → 幸福), or None if nothing is left.

    Works on normalised names; at least two characters must remain.
    """
    for suffix in _SHORT_SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def pinyin_keys(name: str) -> tuple[str, str]:
    """(initials, full pinyin) of a normalised name: 幸福小区 → (xfxq, xingfuxiaoqu).

    Initials take the first letter of each syllable (as ``Style.FIRST_LETTER`` does);
    runs of digits or latin stay whole, so 解放路300号院 → jfl300hy. pypinyin picks one
    reading per character using its phrase table (长青 → changqing).
    """
    syllables = lazy_pinyin(name)
    initials = "".join(
        s[0] if s.isascii() and s.isalpha() and _is_cjk(c) else s
        for s, c in zip(syllables, _pinyin_sources(name, len(syllables)), strict=True)
    )
    return initials, "".join(syllables)


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff"


def _pinyin_sources(name: str, n: int) -> list[str]:
    """First character of each token ``lazy_pinyin`` returns (one per CJK char, one
    per run of other characters); falls back to the name itself if that is off."""
    tokens: list[str] = []
    for char in name:
        if _is_cjk(char) or not tokens or _is_cjk(tokens[-1][-1]):
            tokens.append(char)
        else:
            tokens[-1] += char
    return [t[0] for t in tokens] if len(tokens) == n else [name[0]] * n


# Administrative parts, each anchored where the previous one ended. The character
# classes keep a part from running into the next level (幸福小区 is no district,
# 新村社区 is one community, not 新村 + 社区); bodies are greedy so 红旗区 is not
# read as the banner 红旗.
_ADMIN = re.compile(
    r"(?P<province>[^省市区县]{2,7}(?:省|自治区|特别行政区))?"
    r"(?P<city>[^省市区县]{2,8}(?:市|自治州|盟))?"
    r"(?P<district>[^省市区县镇乡村街路小社园]{1,8}(?:区|县|旗))?"
    r"(?P<street>[^省市区县镇乡村小社]{1,10}(?:街道办事处|街道办|街道|镇|乡))?"
    r"(?P<community>[^省市区县镇乡小]{1,10}(?:社区居委会|社区居民委员会|社区)"
    r"|[^省市区县镇乡村小社]{1,8}村(?:民委员会|委会)?)?"
)
_NUMBER = r"(?:\d+|[零〇一二三四五六七八九十百两]+|[a-z])"
_TAIL = re.compile(
    rf"(?P<compound>.*?)"
    rf"(?P<building>{_NUMBER}(?:号楼|栋|幢|座))?"
    rf"(?P<unit>{_NUMBER}单元)?"
    rf"(?P<room>\d+(?:室|号|户)?)?$"
)
_ADMIN_SUFFIX_NOISE = ("办事处", "办", "居委会", "居民委员会", "民委员会", "委会")


def normalise_address(text: str) -> str:
    """:func:`normalise`, after reading a trailing ``3-2-301`` as 3号楼2单元301室
    (the dashes would otherwise vanish and glue the numbers together)."""
    text = unicodedata.normalize("NFKC", text or "")
    return normalise(_DASHED_TAIL.sub(r"\1号楼\2单元\3室", text))


def parse_address_spans(normalised: str) -> dict[str, tuple[int, int]]:
    """Field → (start, end) in an already normalised address; absent fields left out."""
    spans: dict[str, tuple[int, int]] = {}
    admin = _ADMIN.match(normalised)
    pos = 0
    if admin:
        for field in ADMIN_FIELDS:
            if admin.group(field):
                spans[field] = admin.span(field)
        pos = admin.end()
    tail = _TAIL.match(normalised, pos)
    if tail is None:  # cannot happen: ".*?" with all-optional groups always matches
        return spans
    for field in ("compound", "building", "unit", "room"):
        start, end = tail.span(field)
        if end > start:
            spans[field] = (start, end)
    # A bare number with no building or unit before it is a house number (解放路300号).
    if "room" in spans and "building" not in spans and "unit" not in spans:
        start = spans.get("compound", spans["room"])[0]
        spans["compound"] = (start, spans.pop("room")[1])
    return spans


def parse_address(text: str) -> dict[str, str | None]:
    """Split a Chinese address into its parts by their suffixes.

    ``河南省新乡市样例区人民路街道和平社区幸福小区3号楼2单元301室`` gives province
    河南省, city 新乡市, district 样例区, street 人民路街道, community 和平社区,
    compound 幸福小区, building 3号楼, unit 2单元, room 301室. Everything between the
    last administrative part and the building is the ``compound`` (a road and house
    number such as 解放路300号 lands there too). ``3-2-301`` at the end reads as
    building, unit, room.

    Parameters
    ----------
    text
        The address as typed; it is normalised first (see :func:`normalise`).

    Returns
    -------
    dict
        One key per field in ``ADDRESS_FIELDS``; normalised text, or None if absent.
        Administrative parts keep their full suffix (街道办事处 stays as typed).
    """
    normalised = normalise_address(text)
    spans = parse_address_spans(normalised)
    return {
        field: normalised[spans[field][0] : spans[field][1]] if field in spans else None
        for field in ADDRESS_FIELDS
    }


def strip_admin_noise(part: str) -> str:
    """人民路街道办事处 → 人民路街道, 王庄村委会 → 王庄村: the name as it is stored."""
    for noise in _ADMIN_SUFFIX_NOISE:
        if part.endswith(noise) and len(part) > len(noise) + 1:
            return part[: -len(noise)]
    return part
