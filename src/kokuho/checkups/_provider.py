"""Checkup results for the eligibility service, shown to an institution only within the
person's consent (特定健診情報の閲覧). The service calls :meth:`CheckupRecords.records` after it
has checked the consent; this module knows nothing of consent or institutions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from kokuho.checkups._lake import Lake
from kokuho.registry import tables as r

YEARS_SHOWN = 5  # results of the last five years are viewable (eligibility.md §2)
_SHOWN = (
    "exam_date",
    "institution",
    "waist",
    "bmi",
    "sbp",
    "dbp",
    "tg_fasting",
    "tg_random",
    "hdl",
    "ldl",
    "glucose_fasting",
    "glucose_random",
    "hba1c",
    "egfr",
)


class CheckupRecords:
    def __init__(self, engine: sa.Engine, lake: Lake) -> None:
        self._engine = engine
        self._lake = lake

    def records(self, person_id: int, day: dt.date) -> list[dict[str, Any]]:
        if not self._lake.has_table("checkups"):
            return []
        c = r.coverages.c
        with self._engine.connect() as connection:
            numbers = connection.execute(
                sa.select(c.insurer_number, c.symbol, c.number).where(c.person_id == person_id)
            ).all()
        if not numbers:
            return []
        t = self._lake.table("checkups")
        since = day - dt.timedelta(days=365 * YEARS_SHOWN)
        wanted = None
        for insurer, symbol, number in set(numbers):
            match = (t.insurer == insurer) & (t.symbol == symbol) & (t.number == number)
            wanted = match if wanted is None else wanted | match
        columns = [name for name in _SHOWN if name in t.columns]
        rows = (
            t.filter(wanted, t.exam_date >= since, t.exam_date <= day)
            .select(*columns)
            .order_by(t.exam_date.desc())
            .to_pyarrow()
            .to_pylist()
        )
        return [
            {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}
            for row in rows
        ]
