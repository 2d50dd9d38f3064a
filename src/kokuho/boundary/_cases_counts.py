"""Counts of double-payment cases per municipality, for the prefecture (no person is shown,
so nothing is audited)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from kokuho.boundary._cases import read_cases


@dataclass
class CaseCounts:
    """One municipality's cases: how many, their months and premium, how many have years an
    ordinary 減額賦課 can no longer reach, and how far each got (status → cases)."""

    municipality: str
    cases: int = 0
    months: int = 0
    premium_of_months: int = 0
    with_barred_years: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


def case_counts(engine: sa.Engine, on: dt.date) -> list[CaseCounts]:
    """Per municipality with cases (団体コード order), as they stood on ``on`` (as
    ``list_cases(as_of=on)``: the cases opened by then, their step by the steps decided by
    then) and judged on ``on`` for the limit."""
    found: dict[str, CaseCounts] = {}
    for recorded in read_cases(engine, None):
        case = recorded.as_of(on)
        if case is None:
            continue
        counts = found.setdefault(case.municipality, CaseCounts(case.municipality))
        counts.cases += 1
        counts.months += case.months
        counts.premium_of_months += case.premium_of_months
        counts.with_barred_years += 1 if case.barred_years(on) else 0
        counts.by_status[case.status] = counts.by_status.get(case.status, 0) + 1
    return [found[code] for code in sorted(found)]
