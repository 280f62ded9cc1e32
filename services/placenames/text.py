"""Normalising the pieces of an address: full-width forms, Chinese numerals, number suffixes.

Used by the address register (so stored parts are canonical) and by the parser (so parsed parts compare
equal to stored ones): "１２号楼", "十二幢" and "12栋" are all building "12".
"""

from __future__ import annotations

import re

# Full-width ASCII (U+FF01–U+FF5E) to ASCII and the ideographic space to a space: one character each, so
# positions in the normalised text are positions in the original.
WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# Dashes people type between numbers: hyphen-minus, hyphen, en dash, em dash, minus, full-width and small
# hyphen-minus. (之 in 12号之一 is not mapped: the parser and `canonical_part` read it as a sub-number, 12-1.)
WIDTH |= {ord(c): ord("-") for c in "‐‑‒–—―−－﹣"}

CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "○": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMERAL_CHARS = "".join(CN_DIGITS) + "".join(CN_UNITS)
NUMBER = rf"(?:\d+|[{CN_NUMERAL_CHARS}]+)"


def to_halfwidth(text: str) -> str:
    return text.translate(WIDTH)


def cn_to_int(text: str) -> int | None:
    """一百零八 → 108, 十二 → 12, 一〇〇一 → 1001 (digit by digit when there is no 十/百/千)."""
    if not text or any(c not in CN_DIGITS and c not in CN_UNITS for c in text):
        return None
    if not any(c in CN_UNITS for c in text):
        return int("".join(str(CN_DIGITS[c]) for c in text))
    total, current = 0, 0
    for c in text:
        if c in CN_DIGITS:
            current = CN_DIGITS[c]
        else:
            total += (current or 1) * CN_UNITS[c]
            current = 0
    return total + current


def number_text(text: str) -> str:
    """A number as digits: '12' → '12', '十二' → '12', '０１' → '1' (leading zeros dropped); else unchanged."""
    if text.isascii() and text.isdigit():
        return text if text[0] != "0" else str(int(text))
    value = cn_to_int(text)
    return str(value) if value is not None else text


def annex_text(of: str | None, annex: str) -> str:
    """An annexed door (附号) as the register keeps it: 附1号 → '附1', 12号附一号 → '12号附1' (the address's full
    name adds the last 号: 中山路12号附1号)."""
    return (f"{number_text(of)}号" if of else "") + f"附{number_text(annex)}"


# 12号之一 / 12之1号: the sub-number 之 is written as a dash in the register (12-1, 12-1号 in full names).
_SUB = re.compile(rf"({NUMBER})号?之({NUMBER})号?")
_ANNEX = re.compile(rf"(?:({NUMBER})号)?附({NUMBER})号?")
_SUFFIX = re.compile(r"(号楼|号院|号|幢|栋|座|单元|室|房|户)$")
_DASHED = re.compile(r"\d+(-\d+)+")


def canonical_part(value: str | None) -> str | None:
    """A stored house number, building, unit or room: '588号' → '588', '三幢' → '3', '12-2' stays '12-2',
    '12号之一' → '12-1', '附1号' → '附1', 'A座' → 'A'. Empty means none."""
    if value is None:
        return None
    value = to_halfwidth(value).strip().upper()
    if m := _SUB.fullmatch(value):
        return f"{number_text(m[1])}-{number_text(m[2])}"
    if m := _ANNEX.fullmatch(value):
        return annex_text(m[1], m[2])
    value = _SUFFIX.sub("", value).strip()
    if not value:
        return None
    if _DASHED.fullmatch(value):
        return "-".join(str(int(p)) for p in value.split("-"))
    return number_text(value)
