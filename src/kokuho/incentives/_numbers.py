"""Numbers as staff type them into inputs, options and what-ifs (数値の読み取り).

``float()`` and ``int()`` read far more than numbers: digits of other scripts ('٨٠' is 80,
'३' is 3), '_' between digits ('8_0'), 'nan' and 'inf'. A value nobody typed as a number must
not move points and yen, so only ASCII digits are numbers here, and full-width ones
(４５％, as typed with a Japanese input method), which are translated first.
"""

from __future__ import annotations

import re
from decimal import MAX_EMAX, MIN_EMIN, Context
from typing import Final

from kokuho.ids import half_width_number

_NUMBER: Final = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
#: Shifting a decimal by two places is exact; the context only keeps huge exponents from
#: raising (they give ±inf or 0, which the callers refuse or read as written).
_EXACT: Final = Context(prec=200, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[])


def read_number(text: str) -> float | None:
    """A decimal number (exponent allowed, thousands commas ignored) of ASCII or full-width
    characters; None when ``text`` is anything else."""
    plain = half_width_number(text).replace(",", "").strip(" ")
    return float(plain) if _NUMBER.fullmatch(plain) else None


def read_percent(text: str) -> float | None:
    """A percentage (the text before its %) as the fraction it says, as ``read_number`` reads
    numbers: '56.7' is 0.567, the float nearest the decimal, where 56.7 / 100 in binary is
    0.5670000000000001 (one two-decimal percentage in seven is off by one unit of the last
    place, and a rate written exactly at a threshold fell below it). None when ``text`` is
    not a number; ±inf when its exponent is too large to hold."""
    plain = half_width_number(text).replace(",", "").strip(" ")
    if not _NUMBER.fullmatch(plain):
        return None
    shifted = _EXACT.create_decimal(plain).scaleb(-2, context=_EXACT)
    if not shifted.is_finite():  # an exponent past what a decimal holds (1e999…9)
        return float("-inf") if plain.startswith("-") else float("inf")
    return float(shifted)


def read_whole(text: str) -> int | None:
    """A whole number of ASCII or full-width digits (thousands commas ignored); None else."""
    plain = half_width_number(text).replace(",", "").strip(" ")
    return int(plain) if plain.isascii() and plain.isdigit() else None
