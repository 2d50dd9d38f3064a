"""The 医療 claims and 介護 records of an extract, read from the claims and care lakes (only
the columns an extract may draw on, within the provision's period)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kokuho.provision._extract import CareService, MedicalClaim


def _months(start: dt.date, end: dt.date) -> list[str]:
    index, last = start.year * 12 + start.month - 1, end.year * 12 + end.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index, last + 1)]


def lake_claims(lake: Any, start: dt.date, end: dt.date) -> list[MedicalClaim]:
    """The claims of the service months from ``start`` to ``end`` (a ``ClaimsLake``)."""
    if not lake.has_table("claims"):
        return []
    table = lake.table("claims", _months(start, end))
    columns = ("insurer", "symbol", "number", "birth_date", "sex", "service_month", "setting",
               "days", "points")  # fmt: skip
    rows = table.select(*columns).to_pyarrow().to_pylist()
    return [MedicalClaim(**{c: row[c] for c in columns}) for row in rows]


def lake_care_services(lake: Any, start: dt.date, end: dt.date) -> list[CareService]:
    """The 介護 明細 of the service months from ``start`` to ``end`` with their claim's person
    items (a ``CareLake``)."""
    months = _months(start, end)
    claims = lake.table("care_claims", months).select("claim_id", "name_kana", "birth_date", "sex")
    services = lake.table("care_services", months).select(
        "claim_id", "service_month", "service_type", "service_units"
    )
    rows = services.join(claims, "claim_id").to_pyarrow().to_pylist()
    return [
        CareService(
            row["name_kana"],
            row["birth_date"],
            int(row["sex"]),
            dt.date.fromisoformat(row["service_month"] + "-01"),
            row["service_type"],
            int(row["service_units"]),
        )  # fmt: skip
        for row in rows
    ]
