"""Small builders for the collection tests: assessments with a 納期 schedule, payments files."""

from __future__ import annotations

import calendar
import csv
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from kokuho.premiums import Assessment, Instalment, PartAssessment

CITY = "372013"
"""A municipality code for the tests (6 digits)."""

PAYMENT_HEADER = (
    "payment_id",
    "municipality",
    "household",
    "fiscal_year",
    "instalment",
    "paid_on",
    "amount",
    "channel",
)


def due_dates(fiscal_year: int, count: int = 10) -> list[dt.date]:
    """The last day of each month from July: ten 納期 run July to the next April."""
    days = []
    for k in range(count):
        month = 7 + k
        year = fiscal_year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        days.append(dt.date(year, month, calendar.monthrange(year, month)[1]))
    return days


def assessment(
    household: str, fiscal_year: int, amounts: Sequence[int], municipality: str = CITY
) -> Assessment:
    """A household's assessment whose instalments are ``amounts`` (納期 1, 2, … from July)."""
    instalments = tuple(
        Instalment(number, due, amount)
        for number, (due, amount) in enumerate(
            zip(due_dates(fiscal_year, len(amounts)), amounts, strict=True), start=1
        )
    )
    total = sum(amounts)
    part = PartAssessment("medical", 0, 0, 0, 0, False, total)
    return Assessment(household, municipality, fiscal_year, (part,), None, instalments)


def payment(
    payment_id: str,
    household: str,
    fiscal_year: int,
    paid_on: str,
    amount: int | str,
    instalment: int | str = "",
    channel: str = "counter",
    municipality: str = CITY,
) -> dict[str, object]:
    return {
        "payment_id": payment_id,
        "municipality": municipality,
        "household": household,
        "fiscal_year": fiscal_year,
        "instalment": instalment,
        "paid_on": paid_on,
        "amount": amount,
        "channel": channel,
    }


def write_payments(path: Path, rows: Sequence[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, PAYMENT_HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


REMINDER_HEADER = (
    "municipality",
    "household",
    "fiscal_year",
    "instalment",
    "issued_on",
    "deadline",
)


def reminder(
    household: str,
    fiscal_year: int,
    instalment: int,
    issued_on: str,
    deadline: str,
    municipality: str = CITY,
) -> dict[str, object]:
    """One 督促 of the reminders file (docs/formats.md §9a)."""
    return {
        "municipality": municipality,
        "household": household,
        "fiscal_year": fiscal_year,
        "instalment": instalment,
        "issued_on": issued_on,
        "deadline": deadline,
    }


def write_reminders(path: Path, rows: Sequence[dict[str, object]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, REMINDER_HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path
