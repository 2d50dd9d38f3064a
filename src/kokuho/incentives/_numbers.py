"""Numbers as staff type them into inputs, options and what-ifs (数値の読み取り).

``float()`` and ``int()`` read far more than numbers: digits of other scripts ('٨٠' is 80,
'३' is 3), '_' between digits ('8_0'), 'nan' and 'inf'. A value nobody typed as a number must
not move points and yen, so only ASCII digits are numbers here, and full-width ones
(４５％, as typed with a Japanese input method), which are translated first.
"""

from __future__ import annotations

import re
from typing import Final

_FULL_WIDTH: Final = str.maketrans("０１２３４５６７８９．，－＋％", "0123456789.,-+%")
_NUMBER: Final = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def half_width(text: str) -> str:
    """``text`` with full-width digits, point, comma, signs and % as their ASCII forms."""
    return text.translate(_FULL_WIDTH)


def read_number(text: str) -> float | None:
    """A decimal number (exponent allowed, thousands commas ignored) of ASCII or full-width
    characters; None when ``text`` is anything else."""
    plain = half_width(text).replace(",", "").strip(" ")
    return float(plain) if _NUMBER.fullmatch(plain) else None


def read_whole(text: str) -> int | None:
    """A whole number of ASCII or full-width digits (thousands commas ignored); None else."""
    plain = half_width(text).replace(",", "").strip(" ")
    return int(plain) if plain.isascii() and plain.isdigit() else None
