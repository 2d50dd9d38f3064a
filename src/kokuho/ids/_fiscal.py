from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from kokuho.ids._wareki import era_of


@dataclass(frozen=True, order=True, slots=True)
class FiscalYear:
    """年度: April to March. ``FiscalYear(2020)`` runs 2020-04-01 – 2021-03-31 (令和2年度)."""

    year: int

    @classmethod
    def of(cls, day: dt.date) -> FiscalYear:
        return cls(day.year if day.month >= 4 else day.year - 1)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 4, 1)

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year + 1, 3, 31)

    def __contains__(self, day: object) -> bool:
        if isinstance(day, dt.datetime):
            day = day.date()
        return isinstance(day, dt.date) and self.first_day <= day <= self.last_day

    @property
    def label(self) -> str:
        # FY2019 began under 平成 but is officially 令和元年度: the era is the one that names
        # the year from May (FY1988 stays 昭和63年度, FY2019 is 令和元年度).
        era = era_of(dt.date(self.year, 5, 1))
        n = self.year - era.base_year
        return f"{era.name}{'元' if n == 1 else n}年度"

    def __str__(self) -> str:
        return f"FY{self.year}"


def age_on(birth: dt.date, day: dt.date) -> int:
    """Age in completed years at the end of ``day`` (年齢計算ニ関スル法律).

    The law counts from the birth day and a year is completed at the end of the day before
    the anniversary, so a person born on 1 April is already a year older on 31 March.
    """
    if day < birth:
        raise ValueError(f"{day} is before the birth date {birth}")
    end = day + dt.timedelta(days=1)
    years = end.year - birth.year
    if (end.month, end.day) < (birth.month, birth.day):
        years -= 1
    return years


def age_at_fiscal_year_end(birth: dt.date, fiscal_year: FiscalYear | int) -> int:
    """年度末年齢: the age on 31 March of the fiscal year, the age 特定健診 eligibility uses."""
    fy = fiscal_year if isinstance(fiscal_year, FiscalYear) else FiscalYear(fiscal_year)
    return age_on(birth, fy.last_day)
