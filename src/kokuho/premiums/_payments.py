"""収納 (payments): the payments file (docs/formats.md, "Premium payments") and its import.

One row per payment received by 口座振替, コンビニ収納 or 窓口. A file is checked whole before
anything is written and loads in one transaction: a file with any error changes nothing.
Every payment carries the id its channel gave it; a payment loaded again (same id, same
values) is skipped, the same id with other values is an error.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import sqlalchemy as sa

from kokuho.ids import InvalidIdentifier, parse_household_id
from kokuho.premiums._charges import charges
from kokuho.premiums._file_rows import checked_rows, insert_new
from kokuho.premiums._person_files import ascii_of, digits_of
from kokuho.registry import RowError
from kokuho.store import chunks, metadata

#: The channels of the file, each with its Japanese label (also accepted in the file).
CHANNELS: Final[dict[str, str]] = {
    "account_transfer": "口座振替",
    "convenience_store": "コンビニ収納",
    "counter": "窓口",
}
_CHANNEL_OF: Final[dict[str, str]] = {
    **{code: code for code in CHANNELS},
    **{label: code for code, label in CHANNELS.items()},
    "コンビニ": "convenience_store",
}

REQUIRED: Final = frozenset(
    {"payment_id", "municipality", "household", "fiscal_year", "paid_on", "amount", "channel"}
)
ALLOWED: Final = REQUIRED | {"instalment"}

#: Letters, digits and - _ . / : the ids channels print on receipts, nothing that needs quoting.
_PAYMENT_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_./-]{0,39}")
_MUNICIPALITY = re.compile(r"[0-9]{6}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INTEGER = re.compile(r"[0-9]{1,12}")
_MAX_YEN: Final = 10**12 - 1  # what _INTEGER reads, leading zeros aside
#: The first fiscal year the file may name (kokuho's data start well after it).
_FIRST_YEAR: Final = 2000
#: Ids per lookup statement, under every database's parameter limit.
_CHUNK: Final = 5000

payments = sa.Table(
    "premium_payments",
    metadata,
    sa.Column("payment_id", sa.String(40), primary_key=True),
    sa.Column("municipality", sa.String(6), nullable=False),
    sa.Column("household_id", sa.String(40), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    # None: the payment is allocated to the year's oldest unpaid instalment (docs).
    sa.Column("instalment", sa.SmallInteger),
    sa.Column("paid_on", sa.Date, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.Index("ix_premium_payments_household", "municipality", "household_id", "fiscal_year"),
)


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment (収納) of the file, checked."""

    payment_id: str
    municipality: str
    household_id: str
    fiscal_year: int
    instalment: int | None
    paid_on: dt.date
    amount: int
    channel: str


@dataclass(frozen=True, slots=True)
class PaymentImportReport:
    """One payments file: rows read, payments added, payments already loaded (skipped)."""

    file: str
    rows: int
    added: int
    already_loaded: int
    amount: int
    by_channel: dict[str, int] = field(default_factory=dict)


def import_payments(
    engine: sa.Engine, path: Path, *, today: dt.date | None = None
) -> PaymentImportReport:
    """Loads the payments file at ``path`` in one transaction (docs/formats.md).

    Raises FileRejected with every problem (file:line:field) and writes nothing when a row is
    bad: an unknown household or one without 調定 for the year, an instalment the year does
    not have, an amount that is not a positive integer, a bad date, a day of payment after
    ``today`` (default: the system's date) or before the fiscal year began, an unknown
    channel, a payment id twice in the file or already loaded with other values, a NUL byte.
    """
    today = today or dt.date.today()
    name = str(path)
    found = checked_rows(
        path,
        (REQUIRED, ALLOWED),
        lambda line, row, errors: _parse(name, line, row, errors, today),
        lambda payment: payment.payment_id,
        lambda first: ("payment_id", f"payment id repeats line {first}"),
    )
    parsed = found[0]
    new = insert_new(engine, payments, path, found, _check_against_database, _row)
    by_channel: dict[str, int] = {}
    for _, p in new:
        by_channel[p.channel] = by_channel.get(p.channel, 0) + p.amount
    return PaymentImportReport(
        file=name,
        rows=len(parsed),
        added=len(new),
        already_loaded=len(parsed) - len(new),
        amount=sum(p.amount for _, p in new),
        by_channel=by_channel,
    )


def _row(p: Payment) -> dict[str, object]:
    return {
        "payment_id": p.payment_id,
        "municipality": p.municipality,
        "household_id": p.household_id,
        "fiscal_year": p.fiscal_year,
        "instalment": p.instalment,
        "paid_on": p.paid_on,
        "amount": p.amount,
        "channel": p.channel,
    }


def _parse(
    name: str, line: int, row: dict[str, str], errors: list[RowError], today: dt.date
) -> Payment | None:
    before = len(errors)

    def bad(column: str, reason: str) -> None:
        errors.append(RowError(name, line, column, reason))

    # Full-width digits and letters (and half-width カナ) are read as the other files read them.
    values = {k: unicodedata.normalize("NFKC", v).strip() for k, v in row.items()}
    if not _PAYMENT_ID.fullmatch(values["payment_id"]):
        bad("payment_id", "must be 1–40 letters, digits, '-', '_', '.' or '/'")
    _, household, year = household_year(row, bad)
    instalment: int | None = None
    if values.get("instalment"):
        instalment = integer_cell(row["instalment"])
        if instalment is None or not 1 <= instalment <= 99:
            bad("instalment", "must be empty or a 納期 number from 1 to 99")
    paid_on = date_cell(ascii_of(row["paid_on"]) or "")
    if paid_on is None:
        bad("paid_on", "must be a date YYYY-MM-DD")
    elif paid_on > today:
        bad("paid_on", f"{paid_on} is after today ({today}): a payment is not dated ahead")
    elif year is not None and paid_on < dt.date(year, 4, 1):
        # A year's 保険料 is levied in that year (特別徴収's 仮徴収 from April at the earliest):
        # nothing can be paid towards it before the year begins.
        bad("paid_on", f"{paid_on} is before 年度 {year} began ({year}-04-01)")
    amount = integer_cell(row["amount"])
    if amount is None and digits_of(row["amount"]) is not None:
        bad("amount", f"is more than {_MAX_YEN:,} yen")
    elif amount is None or amount <= 0:
        bad("amount", "must be a whole number of yen greater than 0")
    channel = _CHANNEL_OF.get(values["channel"])
    if channel is None:
        bad("channel", f"must be one of {', '.join(CHANNELS)} (or 口座振替, コンビニ, 窓口)")
    if len(errors) > before:
        return None
    assert year is not None and paid_on is not None and amount is not None and channel
    assert household is not None
    return Payment(
        values["payment_id"],
        values["municipality"],
        household,
        year,
        instalment,
        paid_on,
        amount,
        channel,
    )


def household_year(
    row: dict[str, str], bad: Callable[[str, str], None]
) -> tuple[str, str | None, int | None]:
    """The municipality code, 世帯番号 and 年度 of a row of the payments or the reminders
    file; ``bad(column, reason)`` for each that is not one (its value None)."""
    municipality = unicodedata.normalize("NFKC", row["municipality"]).strip()
    if not _MUNICIPALITY.fullmatch(municipality):
        bad("municipality", "must be the 6-digit 全国地方公共団体コード")
    # The 世帯番号 as the register reads it; the reason without the value (it may be anything).
    household: str | None = None
    try:
        household = parse_household_id(row["household"])
    except InvalidIdentifier as error:
        bad("household", error.reason)
    # The numbers from the row as written: NFKC would read ², ① or 𝟑 as digits.
    year = integer_cell(row["fiscal_year"])
    if year is None or not _FIRST_YEAR <= year <= 2100:
        bad("fiscal_year", f"must be a year from {_FIRST_YEAR}, like 2020")
        year = None
    return municipality, household, year


def integer_cell(raw: str) -> int | None:
    """The whole number of ``raw``'s digits (ASCII or full-width, leading zeros allowed);
    None for other text or more than twelve significant digits."""
    digits = digits_of(raw)
    if digits is None:
        return None
    digits = digits.lstrip("0") or "0"
    return int(digits) if _INTEGER.fullmatch(digits) else None


def date_cell(text: str) -> dt.date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _check_against_database(
    connection: sa.Connection,
    name: str,
    parsed: list[tuple[int, Payment]],
    errors: list[RowError],
) -> list[tuple[int, Payment]]:
    """The payments not loaded yet; errors for households, years and instalments without
    調定 and for ids already loaded with other values."""
    if not parsed:
        return []
    charged: dict[tuple[str, str], dict[int, set[int]]] = {}
    for municipality, household, year, number in connection.execute(
        sa.select(charges.c.municipality, charges.c.household_id, charges.c.fiscal_year)
        .add_columns(charges.c.instalment)
        .where(charges.c.municipality.in_({p.municipality for _, p in parsed}))
        .distinct()
    ):
        charged.setdefault((municipality, household), {}).setdefault(year, set()).add(number)
    loaded: dict[str, sa.Row[tuple[object, ...]]] = {}
    for ids in chunks(sorted({p.payment_id for _, p in parsed}), _CHUNK):
        found = connection.execute(sa.select(payments).where(payments.c.payment_id.in_(ids)))
        loaded.update((row.payment_id, row) for row in found)
    new: list[tuple[int, Payment]] = []
    for line, p in parsed:
        years = charged.get((p.municipality, p.household_id))
        if years is None:
            reason = f"unknown household {p.household_id} in {p.municipality} (no 調定)"
            errors.append(RowError(name, line, "household", reason))
        elif p.fiscal_year not in years:
            reason = f"household {p.household_id} has no 調定 for FY{p.fiscal_year}"
            errors.append(RowError(name, line, "fiscal_year", reason))
        elif p.instalment is not None and p.instalment not in years[p.fiscal_year]:
            reason = f"FY{p.fiscal_year} of household {p.household_id} has no 納期 {p.instalment}"
            errors.append(RowError(name, line, "instalment", reason))
        elif p.payment_id in loaded:
            old = loaded[p.payment_id]
            if {k: getattr(old, k) for k in _row(p)} != _row(p):
                reason = f"payment id {p.payment_id} was loaded before with other values"
                errors.append(RowError(name, line, "payment_id", reason))
        else:
            new.append((line, p))
    return new
