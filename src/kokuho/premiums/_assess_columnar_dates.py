"""Dates as day numbers for the columnar 本算定 (``_assess_columnar``): the calendar in integer
arithmetic over numpy arrays, a month index from April of the fiscal year, birthdays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from kokuho.premiums._assess_columnar_tables import NEVER_DAY

Ints = npt.NDArray[np.int64]

NEVER: Final = 1 << 40
"""A month index or day number no date reaches: a null date."""


# -- dates as numbers --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Dates:
    """Day numbers split into the parts the rules read."""

    months: Ints
    """Months since 1970-01 (a datetime64[M] as a number)."""
    day: Ints
    """Day of the month, 1–31."""


def _civil(days: Ints) -> tuple[Ints, Ints, Ints]:
    """(year, month, day) of day numbers, in integer arithmetic (H. Hinnant's
    ``civil_from_days``: numpy's datetime64 conversions cost several times more)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    return yoe + era * 400 + (month <= 2), month, day


def _days_of(year: Ints, month: Ints) -> Ints:
    """The day number of the 1st of (year, month) (``days_from_civil``)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5
    return np.asarray(era * 146_097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719_468)


def split_days(days: Ints) -> _Dates:
    year, month, day = _civil(days)
    return _Dates((year - 1970) * 12 + month - 1, day)


def birthday(birth: _Dates, years: int) -> Ints:
    """The ``years``-th birthday as a day number; 29 February gives 1 March in a common year,
    as ``_assess_months.birthday`` (the 29th day after 1 February spills into March)."""
    months = birth.months + 12 * years
    start = _days_of(months // 12 + 1970, months % 12 + 1)
    return np.asarray(start + birth.day - 1, dtype=np.int64)


def month_index(days: Ints, fiscal_year: int) -> Ints:
    """The month of each day counted from April of the fiscal year; null stays ``NEVER``."""
    index = split_days(days).months - ((fiscal_year - 1970) * 12 + 3)
    return np.where(days >= NEVER_DAY, NEVER, index)


def day_number(year: int, month: int, day: int) -> int:
    return int(np.datetime64(f"{year:04d}-{month:02d}-{day:02d}", "D").astype(np.int64))


def day_of(value: Any) -> int:
    return day_number(value.year, value.month, value.day)
