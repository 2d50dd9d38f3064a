"""和暦 dates as the claim forms write them: ``GYYMMDD`` and ``GYYMM``.

G is the 年号区分コード of the レセ電 記録条件仕様 別表: 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和
(uke-parser era.yml for 1–4; implementer tests for 5: ``5010501`` is 令和元年5月1日).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from kokuho.ids._errors import InvalidIdentifier


@dataclass(frozen=True, slots=True)
class Era:
    code: int
    name: str
    first_day: dt.date
    last_day: dt.date

    @property
    def base_year(self) -> int:
        return self.first_day.year - 1


ERAS: Final[tuple[Era, ...]] = (
    # 明治 dates before 1873 were lunar; no insured person was born then.
    Era(1, "明治", dt.date(1868, 1, 1), dt.date(1912, 7, 29)),
    Era(2, "大正", dt.date(1912, 7, 30), dt.date(1926, 12, 24)),
    Era(3, "昭和", dt.date(1926, 12, 25), dt.date(1989, 1, 7)),
    Era(4, "平成", dt.date(1989, 1, 8), dt.date(2019, 4, 30)),
    Era(5, "令和", dt.date(2019, 5, 1), dt.date(9999, 12, 31)),
)
_BY_CODE: Final[dict[int, Era]] = {era.code: era for era in ERAS}


def era_of(day: dt.date) -> Era:
    for era in reversed(ERAS):
        if day >= era.first_day:
            return era
    raise ValueError(f"{day} is before 明治")


def _era(kind: str, raw: str, code: str) -> Era:
    era = _BY_CODE.get(int(code))
    if era is None:
        raise InvalidIdentifier(kind, raw, f"年号区分 {code} is not defined (1 明治 … 5 令和)")
    return era


def _digits(kind: str, raw: str, length: int) -> str:
    text = raw.strip()
    if len(text) != length or not (text.isascii() and text.isdigit()):
        raise InvalidIdentifier(kind, raw, f"must be {length} digits")
    return text


def parse_gyymmdd(raw: str) -> dt.date:
    """``GYYMMDD`` → date; the day must fall inside the named era (平成31年5月1日 is refused)."""
    kind = "和暦 date GYYMMDD"
    text = _digits(kind, raw, 7)
    era = _era(kind, raw, text[0])
    year = int(text[1:3])
    if year == 0:
        raise InvalidIdentifier(kind, raw, "年 00 does not exist (元年 is 01)")
    try:
        day = dt.date(era.base_year + year, int(text[3:5]), int(text[5:7]))
    except ValueError as error:
        raise InvalidIdentifier(kind, raw, f"no such day ({error})") from None
    if not era.first_day <= day <= era.last_day:
        raise InvalidIdentifier(
            kind, raw, f"{day} is outside {era.name} ({era.first_day} – {era.last_day})"
        )
    return day


def parse_gyymm(raw: str) -> tuple[int, int]:
    """``GYYMM`` → (year, month); the month must overlap the named era."""
    kind = "和暦 month GYYMM"
    text = _digits(kind, raw, 5)
    era = _era(kind, raw, text[0])
    year = int(text[1:3])
    month = int(text[3:5])
    if year == 0:
        raise InvalidIdentifier(kind, raw, "年 00 does not exist (元年 is 01)")
    if not 1 <= month <= 12:
        raise InvalidIdentifier(kind, raw, f"month {month:02d} is not 01–12")
    first = dt.date(era.base_year + year, month, 1)
    last = (first + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
    if last < era.first_day or first > era.last_day:
        raise InvalidIdentifier(kind, raw, f"{first:%Y-%m} is outside {era.name}")
    return first.year, month


def to_gyymmdd(day: dt.date) -> str:
    era = era_of(day)
    return f"{era.code}{day.year - era.base_year:02d}{day.month:02d}{day.day:02d}"


def to_gyymm(year: int, month: int) -> str:
    """The era is the one in force on the month's last day (2019-05 → 令和, 1989-01 → 平成)."""
    last = (dt.date(year, month, 1) + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
    era = era_of(last)
    return f"{era.code}{year - era.base_year:02d}{month:02d}"


def wareki_label(day: dt.date) -> str:
    """令和2年4月1日 style, with 元年 for the first year."""
    era = era_of(day)
    year = day.year - era.base_year
    return f"{era.name}{'元' if year == 1 else year}年{day.month}月{day.day}日"
