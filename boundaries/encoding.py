"""Text encoding of Shapefiles: detect GBK vs UTF-8, and spot names already garbled.

A Shapefile keeps its attribute text in the .dbf with no encoding of its own; a .cpg
beside it (or the .dbf's language-driver byte) says which. Files from Chinese
desktop GIS are very often GBK with neither, and pyogrio/GDAL then decode them as
Latin-1 without any error (pyogrio #380, #138): 网格 arrives as "Íø¸ñ".
:func:`detect_encoding` reads the raw bytes of the text fields and decides;
:func:`looks_garbled` catches the damage when the wrong encoding was used anyway.
GeoJSON and GeoPackage are UTF-8 by specification, so only Shapefiles are examined.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

# .cpg spellings seen in the wild → the codec name pyogrio/GDAL and Python accept.
_CPG_ALIASES = {
    "utf8": "utf-8",
    "utf-8": "utf-8",
    "65001": "utf-8",
    "gbk": "GBK",
    "cp936": "GBK",
    "936": "GBK",
    "ansi 936": "GBK",
    "gb2312": "GBK",  # GBK is a superset; decoding GB2312 text as GBK is exact
    "gb18030": "GB18030",
    "54936": "GB18030",
    "big5": "BIG5",
    "950": "BIG5",
    "latin1": "ISO-8859-1",
    "iso-8859-1": "ISO-8859-1",
    "iso88591": "ISO-8859-1",
    "88591": "ISO-8859-1",
    "1252": "CP1252",
    "cp1252": "CP1252",
    "ansi 1252": "CP1252",
}
_MAX_SAMPLE_BYTES = 4 << 20  # text bytes read from a .dbf; plenty to decide, bounded time
# Han: the BMP blocks plus extensions B–G (rare characters of village names are
# often only in GB18030's four-byte range).
_HAN_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN = re.compile(f"[{_HAN_CLASS}]")
_HAN_RUN = re.compile(f"[{_HAN_CLASS}]{{2}}")
# Han plus CJK and full-width punctuation.
_CJK = re.compile(f"[{_HAN_CLASS}\u3000-\u303f\uff00-\uffef]")
# Latin-1 supplement and C1 controls: what GBK/UTF-8 bytes become when read as
# Latin-1/CP1252. The middle dot, ×, ÷ and ° do occur in genuine Chinese text.
_LATIN_HIGH = re.compile(r"[\u0080-\u00af\u00b1-\u00b6\u00b8-\u00d6\u00d8-\u00f6\u00f8-\u00ff]")
# CP1252 maps 0x80–0x9f to these; they appear in the same kind of mojibake.
_CP1252_EXTRA = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"


def _sibling(path: Path, suffix: str) -> Path | None:
    """``path`` with ``suffix``, matched case-insensitively (``.CPG`` from Windows)."""
    exact = path.with_suffix(suffix)
    if exact.exists():
        return exact
    if path.parent.is_dir():
        stem = path.stem.lower()
        for p in path.parent.iterdir():
            if p.stem.lower() == stem and p.suffix.lower() == suffix:
                return p
    return None


def _from_cpg(cpg: Path) -> str | None:
    text = cpg.read_bytes().decode("ascii", errors="ignore").strip()
    if not text:
        return None
    return _CPG_ALIASES.get(text.lower(), text)


def dbf_text_bytes(dbf: Path, limit: int = _MAX_SAMPLE_BYTES) -> list[bytes]:
    """Raw values of the character fields of a .dbf (trailing blanks stripped).

    Field names are included too: they are text in the same encoding.
    """
    data = dbf.read_bytes()
    if len(data) < 32:
        return []
    n_records, header_len, record_len = struct.unpack("<IHH", data[4:12])
    fields: list[tuple[int, int]] = []  # (offset in record, length) of C fields
    values: list[bytes] = []
    offset = 1  # byte 0 of a record is the deletion flag
    pos = 32
    while pos + 32 <= min(header_len, len(data)) and data[pos] != 0x0D:
        desc = data[pos : pos + 32]
        name = desc[:11].split(b"\x00", 1)[0]
        kind, length = chr(desc[11]), desc[16]
        if name:
            values.append(name)
        if kind == "C":
            fields.append((offset, length))
        offset += length
        pos += 32
    total = 0
    for r in range(n_records):
        start = header_len + r * record_len
        record = data[start : start + record_len]
        if len(record) < record_len:
            break
        for off, length in fields:
            value = record[off : off + length].rstrip(b" \x00")
            if value:
                values.append(value)
                total += len(value)
        if total >= limit:
            break
    return values


def _decode_all(values: list[bytes], encoding: str) -> list[str] | None:
    try:
        return [v.decode(encoding) for v in values]
    except UnicodeDecodeError:
        return None


def _plausible_chinese(text: str) -> bool:
    """Most non-ASCII characters are Han/CJK punctuation, and there is some Han."""
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii or not _HAN.search(text):
        return False
    cjk = sum(1 for c in non_ascii if _CJK.match(c))
    return cjk / len(non_ascii) >= 0.9


def _plausible_names(values: list[str]) -> bool:
    """Decoded .dbf text that reads as Chinese names, not accidents of a wrong codec.

    Latin-1 text such as "Müller" also decodes as GBK (ü + l is a GBK code), but
    into a lone Han character between Latin letters. Chinese names are runs of Han
    characters, so at least half of the non-ASCII values must hold a run of two.
    """
    non_ascii = [v for v in values if not v.isascii()]
    if not non_ascii or not _plausible_chinese("".join(non_ascii)):
        return False
    with_runs = sum(1 for v in non_ascii if _HAN_RUN.search(v))
    return with_runs * 2 >= len(non_ascii)


def detect_encoding(path: Path) -> str | None:
    """The encoding to read a Shapefile's attribute text with, or None if undecided.

    Parameters
    ----------
    path
        The ``.shp`` (or ``.dbf``). Other formats (GeoJSON, GeoPackage) are UTF-8 by
        their specification and give None.

    Returns
    -------
    str or None
        The .cpg's encoding when there is one (normalised: ``"utf-8"``, ``"GBK"``,
        ``"GB18030"``, or the .cpg text as written); otherwise from the .dbf bytes:
        ``"utf-8"`` for valid UTF-8 with Chinese in it, ``"GBK"`` (or ``"GB18030"``
        for its extra characters) for bytes that are not UTF-8 but decode to
        plausible Chinese; None when all text is ASCII or nothing fits (let the
        reader's default or the user's ``--encoding`` decide).
    """
    path = Path(path)
    if path.suffix.lower() not in (".shp", ".dbf"):
        return None
    cpg = _sibling(path, ".cpg")
    if cpg is not None:
        found = _from_cpg(cpg)
        if found:
            return found
    dbf = _sibling(path, ".dbf")
    if dbf is None:
        return None
    values = dbf_text_bytes(dbf)
    if all(v.isascii() for v in values):
        return None  # identical in every candidate encoding
    # UTF-8 first: Chinese in UTF-8 usually also "decodes" as GBK (into nonsense),
    # while GBK text is almost never valid UTF-8.
    decoded = _decode_all(values, "utf-8")
    if decoded is not None:
        return "utf-8" if any(_HAN.search(v) for v in decoded) else None
    for encoding in ("GBK", "GB18030"):
        decoded = _decode_all(values, encoding)
        if decoded is not None:
            return encoding if _plausible_names(decoded) else None
    return None


def looks_garbled(text: str | None) -> bool:
    """True if ``text`` looks like mojibake: Chinese decoded with the wrong encoding.

    Catches replacement characters (U+FFFD), GBK or UTF-8 bytes read as Latin-1 or
    CP1252 (网格 → "Íø¸ñ" or "ç½‘æ ¼"), and UTF-8 read as GBK (网格 → "缃戞牸"). The
    last check re-encodes the text as GBK and asks whether those bytes are valid
    UTF-8 spelling Chinese: genuine GBK names almost never form valid multi-byte UTF-8.
    """
    if not text:
        return False
    if "\ufffd" in text:
        return True
    if _LATIN_HIGH.search(text) or any(c in _CP1252_EXTRA for c in text):
        for codec in ("latin-1", "cp1252"):
            try:
                raw = text.encode(codec)
            except UnicodeEncodeError:
                continue
            for encoding in ("utf-8", "GB18030"):
                try:
                    again = raw.decode(encoding)
                except UnicodeDecodeError:
                    continue
                # Two Han characters at least: one can arise by chance from a
                # genuine Latin name (ü + l happens to be a GBK code).
                if len(_HAN.findall(again)) >= 2 and _plausible_chinese(again):
                    return True
        return False
    if _HAN.search(text):
        try:
            again = text.encode("gbk").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return False
        return _plausible_chinese(again)
    return False
