"""薬剤情報 for the eligibility service, shown to an institution only within the person's
consent (``ConsentCategory.MEDICATION``). The service calls :meth:`MedicationRecords.records`
after it has checked the consent; this module knows nothing of consent or institutions.

The drugs are those of the person's claims (医科 with their drugs, 調剤) over the last
``medication_history.months`` of ``data/prescribing_rules.yaml`` (3 years, as the national
service shows). A claim belongs to the person when its insured number is one of the person's
coverages and its 診療年月 falls within that coverage (a number reissued to someone else later
never shows their drugs); a claim without 枝番 must also carry the person's 生年月日, so a
household member's drugs are never shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis  # type: ignore[import-untyped, unused-ignore]
import sqlalchemy as sa

from kokuho.claims._indicator_rules import PrescribingRules, load_prescribing_rules
from kokuho.claims._sources import TableSource, add_months, person_columns, read
from kokuho.registry import tables as r


def _months_between(first: dt.date, last: dt.date) -> list[str]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(f"{month:%Y-%m}")
        month = add_months(month, 1)
    return months


class MedicationRecords:
    """The person's dispensed and prescribed drugs of the last months before ``day``, newest
    first: ``date, kind, code, name, unit, quantity, days, institution, pharmacy,
    service_month``."""

    def __init__(
        self, engine: sa.Engine, lake: TableSource, *, rules: PrescribingRules | None = None
    ) -> None:
        self._engine = engine
        self._lake = lake
        self._months = (rules or load_prescribing_rules()).medication_months

    def records(self, person_id: int, day: dt.date) -> list[dict[str, Any]]:
        if not (self._lake.has_table("claim_drugs") and self._lake.has_table("claims")):
            return []
        c, p = r.coverages.c, r.persons.c
        with self._engine.connect() as connection:
            held = connection.execute(
                sa.select(c.insurer_number, c.symbol, c.number, c.branch, c.acquired_on,
                          c.lost_on, p.birth_date)
                .join(r.persons, p.person_id == c.person_id)
                .where(c.person_id == person_id)
            ).all()  # fmt: skip
        if not held:
            return []
        since = _since(day, self._months)
        months = _months_between(since, day)
        claims = read(self._lake, "claims", months=months)
        heads = claims.select(
            "claim_id",
            *person_columns(claims),
            birth_date=claims.birth_date,
            pharmacy=claims.kind.cases(("pharmacy", claims.institution), else_=""),
            claim_first=claims.first_day,
        )
        drugs = read(self._lake, "claim_drugs", months=months)
        rows = drugs.select(
            "claim_id", "service_month", "kind", "institution", "code", "quantity",
            "days_supply", "first_day",
        ).join(heads, "claim_id")  # fmt: skip
        wanted = None
        for insurer, symbol, number, branch, acquired, lost, birth in held:
            match = (
                (rows.insurer == insurer)
                & (rows.symbol == symbol)
                & (rows.number == number)
                & ((rows.branch == branch) | ((rows.branch == "") & (rows.birth_date == birth)))
                & (rows.service_month >= acquired.replace(day=1))
            )
            if lost is not None:
                match &= rows.service_month < lost
            wanted = match if wanted is None else wanted | match
        date = rows.first_day.fill_null(rows.claim_first).fill_null(rows.service_month)
        rows = rows.filter(wanted).mutate(date=date)
        rows = rows.filter(rows.date >= since, rows.date <= day)
        if self._lake.has_table("drug_master"):
            master = self._lake.table("drug_master").select("code", "name", "unit")
            rows = rows.join(master, "code", how="left")
        else:
            rows = rows.mutate(name=rows.code, unit="")
        found = (
            rows.select(
                "date", "kind", "code", "name", "unit", "quantity",
                days="days_supply", institution="institution", pharmacy="pharmacy",
                service_month=rows.service_month.strftime("%Y-%m"),
            )
            .order_by([ibis.desc("date"), "code", "institution"])
            .to_pyarrow()
            .to_pylist()
        )  # fmt: skip
        return [
            {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in row.items()}
            for row in found
        ]


def _since(day: dt.date, months: int) -> dt.date:
    """The first day shown: the day after the same date ``months`` earlier (3 years before
    2024-05-10 is 2021-05-11 … 2024-05-10)."""
    first = add_months(day, -months)
    following = add_months(first, 1)
    last_day = (following - dt.timedelta(days=1)).day
    return first.replace(day=min(day.day, last_day)) + dt.timedelta(days=1)
