"""Generalisation for the research store (研究用データの一般化): no names, no numbers, no exact
birth dates, no addresses. A birth date becomes 年月 or a 5-year age band with the top band
pooled; an address becomes its 市区町村 code (全国地方公共団体コード)."""

from __future__ import annotations

import datetime as dt
import re

from kokuho.ids import age_on

_MUNICIPALITY = re.compile(r"^[0-9]{5,6}$")


def birth_month(birth_date: dt.date) -> str:
    """生年月 ``YYYY-MM``: the day is dropped."""
    return f"{birth_date.year:04d}-{birth_date.month:02d}"


def age_band(age: int, *, width: int = 5, top: int = 100) -> str:
    """5歳階級: ``"40-44"``; every age from ``top`` pooled as ``"100+"`` (the top must be a
    band boundary, e.g. 85, 90 or 100)."""
    if age < 0:
        raise ValueError(f"age {age}: must not be negative")
    if width < 1 or top < width or top % width:
        raise ValueError(f"top band {top} must be a multiple of the band width {width}")
    if age >= top:
        return f"{top}+"
    low = age - age % width
    return f"{low}-{low + width - 1}"


def age_bands(*, width: int = 5, top: int = 100) -> tuple[str, ...]:
    """Every band :func:`age_band` gives, youngest first (the rows of an age table)."""
    return (*(age_band(low, width=width, top=top) for low in range(0, top, width)), f"{top}+")


def age_band_on(birth_date: dt.date, on: dt.date, *, width: int = 5, top: int = 100) -> str:
    """The band of the legal age (年齢計算ニ関スル法律) on ``on``."""
    return age_band(age_on(birth_date, on), width=width, top=top)


def check_digit(code5: str) -> str:
    """全国地方公共団体コード 検査数字: 11 - (Σ digit × 6,5,4,3,2 mod 11), its last digit."""
    total = sum(int(d) * w for d, w in zip(code5, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def municipality_code(code: str) -> str:
    """The 6-digit 市区町村 code (with its 検査数字) from a 5- or 6-digit one; a 6-digit code
    with a wrong check digit is refused. Nothing finer than this goes into the research store."""
    text = code.strip()
    if not _MUNICIPALITY.match(text):
        raise ValueError(f"市区町村コード {code!r}: 5 or 6 digits")
    digit = check_digit(text[:5])
    if len(text) == 6 and text[5] != digit:
        raise ValueError(f"市区町村コード {code!r}: the check digit should be {digit}")
    return text[:5] + digit
