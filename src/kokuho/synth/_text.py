"""Notations the synthetic records use: half-width kana, full-width digits, kanji numerals."""

from __future__ import annotations

import unicodedata

_FULL = (
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワヲン"
    "ァィゥェォッャュョー"
)
_HALF = "ｱｲｳｴｵｶｷｸｹｺｻｼｽｾｿﾀﾁﾂﾃﾄﾅﾆﾇﾈﾉﾊﾋﾌﾍﾎﾏﾐﾑﾒﾓﾔﾕﾖﾗﾘﾙﾚﾛﾜｦﾝｧｨｩｪｫｯｬｭｮｰ"
_TO_HALF = dict(zip(_FULL, _HALF, strict=True))
_MARKS = {"\u3099": "ﾞ", "\u309a": "ﾟ"}


def halfwidth_kana(text: str) -> str:
    """``タカハシ　ジロウ`` → ``ﾀｶﾊｼ ｼﾞﾛｳ``: what a half-width-only system (an older レセコン
    or 保険者 system) holds. NFKC turns it back, so the register sees notation only."""
    out: list[str] = []
    for char in text:
        if char == "\u3000":
            out.append(" ")
            continue
        if char in _TO_HALF:
            out.append(_TO_HALF[char])
            continue
        decomposed = unicodedata.normalize("NFD", char)
        if len(decomposed) == 2 and decomposed[0] in _TO_HALF and decomposed[1] in _MARKS:
            out.append(_TO_HALF[decomposed[0]] + _MARKS[decomposed[1]])
        else:
            out.append(char)
    return "".join(out)


_FULLWIDTH_DIGITS = str.maketrans("0123456789-", "０１２３４５６７８９－")


def fullwidth(number: int) -> str:
    return str(number).translate(_FULLWIDTH_DIGITS)


_KANJI_DIGITS = "〇一二三四五六七八九"


def kanji_number(number: int) -> str:
    """12 → 十二, 305 → 三百五, 1234 → 千二百三十四 (the 漢数字 of 住所 and 丁目)."""
    if number == 0:
        return "〇"
    parts: list[str] = []
    for unit, name in ((1000, "千"), (100, "百"), (10, "十")):
        digit, number = divmod(number, unit)
        if digit:
            parts.append(("" if digit == 1 else _KANJI_DIGITS[digit]) + name)
    if number:
        parts.append(_KANJI_DIGITS[number])
    return "".join(parts)
