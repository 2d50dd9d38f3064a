"""What every 保健事業 list shares: the person key (保険者番号:記号:番号:枝番), the fiscal-year
test and the number format of the reasons. Split from ``_programmes``.
"""

from __future__ import annotations

import datetime as dt

from kokuho.checkups._model import Checkup
from kokuho.ids import FiscalYear


def person_key(insurer: str, symbol: str, number: str, branch: str | None) -> str:
    """The person key of the lists: 保険者番号:記号:番号:枝番, the 保険者番号 without the zero
    padding of V08 files, so that archives, questionnaires and the register agree."""
    if len(insurer) == 8 and insurer.startswith("00"):
        insurer = insurer[2:]
    return f"{insurer}:{symbol}:{number}:{branch or ''}"


def insured_key(checkup: Checkup) -> str:
    """The default person key of a checkup."""
    return person_key(checkup.insurer, checkup.symbol, checkup.number, checkup.branch)


def fmt(value: float) -> str:
    return f"{value:g}"


def in_year(day: dt.date, fiscal_year: int) -> bool:
    return day in FiscalYear(fiscal_year)
