"""氏名カナ as the interface writes it: 半角カナ (JIS X 0201 katakana).

The register keeps kana names in full width (the form 住民基本台帳 uses); the OQS result
(NameKana, 氏名カナ) is half width, with 濁点・半濁点 as separate characters (ガ → ｶﾞ).
"""

from __future__ import annotations

import unicodedata
from typing import Final


def _table() -> dict[str, str]:
    # Derived from Unicode itself: NFKC of each half-width form gives its full-width partner,
    # so the table cannot drift from the standard.
    table: dict[str, str] = {}
    for code in range(0xFF61, 0xFFA0):
        half = chr(code)
        full = unicodedata.normalize("NFKC", half)
        if len(full) == 1:
            table.setdefault(full, half)
    table["\u309b"] = table["\u3099"]  # ゛ spacing 濁点
    table["\u309c"] = table["\u309a"]  # ゜ spacing 半濁点
    table["\u3000"] = " "  # 全角空白 between family and given name
    return table


_HALF: Final = _table()
# Katakana with no half-width form are written as the nearest one, as receipt systems do:
# there is no way to carry them, and dropping them would shorten the name.
_NEAREST: Final = {"ヰ": "ｲ", "ヱ": "ｴ", "ヮ": "ﾜ", "ヵ": "ｶ", "ヶ": "ｹ"}
_HIRAGANA_TO_KATAKANA: Final = 0x60


def to_halfwidth_kana(text: str) -> str:
    """Full-width katakana (or hiragana) to 半角カナ: ``ヤマダ　タロウ`` → ``ﾔﾏﾀﾞ ﾀﾛｳ``.

    Full-width Latin letters and digits become ASCII; other characters are kept as they are.
    """
    out: list[str] = []
    for char in text:
        if "\u3041" <= char <= "\u3096":  # ぁ … ゖ
            char = chr(ord(char) + _HIRAGANA_TO_KATAKANA)
        half = _HALF.get(char) or _NEAREST.get(char)
        if half is not None:
            out.append(half)
            continue
        decomposed = unicodedata.normalize("NFD", char)  # ガ → カ + U+3099
        if len(decomposed) == 2 and decomposed[1] in ("\u3099", "\u309a"):
            base = _HALF.get(decomposed[0]) or _NEAREST.get(decomposed[0])
            if base is not None:
                out.append(base + _HALF[decomposed[1]])
                continue
        if "\uff01" <= char <= "\uff5e":  # full-width ASCII
            out.append(unicodedata.normalize("NFKC", char))
            continue
        out.append(char)
    return "".join(out)
