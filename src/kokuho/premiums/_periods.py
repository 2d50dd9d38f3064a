"""Periods counted as 民法 §140 and §143 count them: the 時効 of refunds (還付) and of the
right to collect (徴収権). Apart so that the ledger and the refunds both use it."""

from __future__ import annotations

import datetime as dt
from typing import Final

#: 国民健康保険法 §110(1): 二年を経過したときは、時効によつて消滅する (the shipped rule file's
#: value for 保険料; data/premiums/prescription.yaml).
PRESCRIPTION_YEARS: Final = 2


def last_claim_day(exercisable_from: dt.date, years: int = PRESCRIPTION_YEARS) -> dt.date:
    """The last day a claim exercisable from ``exercisable_from`` can still be made.

    民法 §140: the period starts the next day; §143(2): it ends on the day before the day of
    the final year that corresponds to its start, or at the end of the final month when that
    month has no corresponding day (a start on 29 February)."""
    start = exercisable_from + dt.timedelta(days=1)
    try:
        corresponding = start.replace(year=start.year + years)
    except ValueError:  # 29 February, final year not a leap year: end of February
        return dt.date(start.year + years, 2, 28)
    return corresponding - dt.timedelta(days=1)
