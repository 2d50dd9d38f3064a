"""Incomes (所得) per person and fiscal year, from the municipality's 市町村民税 data
(docs/formats.md §8): one file per fiscal year, loaded all or nothing, once.

A file whose SHA-256 was loaded before is skipped. A person already loaded for the year from
another file is accepted only with the same values: a different figure is an error naming the
earlier file and line, never a silent overwrite (a 所得 correction is a new decision, not a
reload).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from kokuho.premiums import _person_files
from kokuho.premiums._person_files import FieldError, digits_of, read_resident_id
from kokuho.premiums._tables import premium_income_files, premium_incomes
from kokuho.registry import FileRejected, RowError, tables
from kokuho.store import file_sha256, key_table, write_transaction

REQUIRED: Final = frozenset(
    {"fiscal_year", "resident_id", "salary", "pension", "other", "declared", "wage_earner"}
)
ALLOWED: Final = REQUIRED | {"fixed_asset_tax"}
AMOUNTS: Final = ("salary", "pension", "other", "fixed_asset_tax")
#: Ten billion yen: larger is a typing error, and it keeps sums far inside 64 bits.
MAX_AMOUNT: Final = 10_000_000_000
FIRST_YEAR, LAST_YEAR = 2000, 2100
_COLUMNS: Final = (
    "fiscal_year", "resident_id", "salary", "pension", "other", "declared", "wage_earner",
    "fixed_asset_tax", "file_id", "line",
)  # fmt: skip
_VALUES: Final = ("salary", "pension", "other", "declared", "wage_earner", "fixed_asset_tax")


@dataclass
class IncomeLoadReport:
    file: str
    fiscal_year: int | None = None
    rows: int = 0
    inserted: int = 0
    unchanged: int = 0
    skipped: bool = False
    """The same file (by SHA-256) was loaded before: nothing was read into the database."""
    errors: list[RowError] = field(default_factory=list)


def _amount(column: str, raw: str) -> int:
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return 0 if column == "fixed_asset_tax" else _missing(column)
    if text.startswith("-") and text[1:].isdigit():
        raise FieldError(column, f"{raw!r} is negative: an income or tax is 0 or more yen")
    digits = digits_of(raw)
    if digits is None:
        raise FieldError(column, f"{raw!r} is not a whole number of yen (no commas)")
    # Leading zeros are the value's (a fixed-width export pads with them); past the cap's
    # length it is no amount, and not read (int() refuses a text of over 4,300 digits).
    digits = digits.lstrip("0") or "0"
    if len(digits) > len(str(MAX_AMOUNT)) or int(digits) > MAX_AMOUNT:
        shown = digits if len(digits) <= 20 else f"{digits[:20]}… ({len(digits)} digits)"
        raise FieldError(column, f"{shown} is more than {MAX_AMOUNT} yen")
    return int(digits)


def _missing(column: str) -> int:
    raise FieldError(column, "must not be empty")


def _flag(column: str, raw: str) -> bool:
    text = unicodedata.normalize("NFKC", raw).strip()
    if text not in ("0", "1"):
        raise FieldError(column, f"{raw!r} is not 1 (yes) or 0 (no)")
    return text == "1"


def _row(row: dict[str, str]) -> dict[str, Any]:
    year_text = (digits_of(row["fiscal_year"]) or "").lstrip("0")
    if not (len(year_text) == 4 and FIRST_YEAR <= int(year_text) <= LAST_YEAR):
        raise FieldError(
            "fiscal_year", f"{row['fiscal_year']!r} is not a year {FIRST_YEAR}–{LAST_YEAR}"
        )
    resident = read_resident_id(row["resident_id"])
    record: dict[str, Any] = {"fiscal_year": int(year_text), "resident_id": resident}
    for column in AMOUNTS:
        record[column] = _amount(column, row.get(column, ""))
    record["declared"] = _flag("declared", row["declared"])
    record["wage_earner"] = _flag("wage_earner", row["wage_earner"])
    return record


def _parse(path: Path, report: IncomeLoadReport) -> list[dict[str, Any]]:
    name = str(path)
    records: list[dict[str, Any]] = []
    lines: dict[str, int] = {}
    for line, record in _person_files.read_records(
        path, report, _row, required=REQUIRED, allowed=ALLOWED
    ):
        if report.fiscal_year is None:
            report.fiscal_year = record["fiscal_year"]
        elif record["fiscal_year"] != report.fiscal_year:
            reason = (
                f"{record['fiscal_year']}: one file holds one fiscal year, "
                f"this one {report.fiscal_year}"
            )
            report.errors.append(RowError(name, line, "fiscal_year", reason))
            continue
        first = lines.setdefault(record["resident_id"], line)
        if first != line:
            reason = f"resident_id {record['resident_id']} is also on line {first}"
            report.errors.append(RowError(name, line, "resident_id", reason))
            continue
        record["line"] = line
        records.append(record)
    if not records and not report.errors:
        report.errors.append(RowError(name, 0, "", "the file holds no incomes"))
    return records


def _unknown_residents(
    connection: sa.Connection, wanted: sa.Table, name: str, records: list[dict[str, Any]]
) -> Iterator[RowError]:
    r = tables.residents.c
    known = set(
        connection.scalars(
            sa.select(r.resident_id).join(wanted, wanted.c.resident_id == r.resident_id)
        )
    )
    for record in records:
        if record["resident_id"] not in known:
            reason = f"resident {record['resident_id']} is not in the resident register"
            yield RowError(name, record["line"], "resident_id", reason)


def _stored(connection: sa.Connection, wanted: sa.Table, year: int) -> dict[str, Any]:
    """The incomes already loaded for ``year`` of the file's persons, with their file."""
    i = premium_incomes.c
    query = (
        sa.select(premium_incomes, premium_income_files.c.name)
        .join(premium_income_files)
        .join(wanted, wanted.c.resident_id == i.resident_id)
        .where(i.fiscal_year == year)
    )
    return {row.resident_id: row for row in connection.execute(query)}


def load_incomes(engine: sa.Engine, path: Path) -> IncomeLoadReport:
    """Loads one income file (docs/formats.md §8) in one transaction: everything or nothing.

    Raises FileRejected with every row error (file:line:field): bad values, a negative income,
    a person not in the resident register, a person loaded before with other values.
    """
    report = IncomeLoadReport(file=str(path))
    digest = file_sha256(path)
    seen = _person_files.loaded_before(engine, premium_income_files.c.fiscal_year, digest)
    if seen is not None:
        report.skipped, report.fiscal_year = True, seen
        return report
    records = _parse(path, report)
    if report.errors:
        raise FileRejected(report.errors)
    assert report.fiscal_year is not None  # a file with records has a year
    name = str(path)
    with write_transaction(engine, "premium_incomes") as connection:
        # A run of the same file at the same time may have loaded it while this one parsed.
        if (
            _person_files.loaded_before(connection, premium_income_files.c.fiscal_year, digest)
            is not None
        ):
            return IncomeLoadReport(file=name, fiscal_year=report.fiscal_year, skipped=True)
        keys = [(record["resident_id"],) for record in records]
        # One indexed join through a table of the file's ids, not thousands of IN lists.
        with key_table(connection, {"resident_id": sa.String(20)}, keys) as wanted:
            report.errors += _unknown_residents(connection, wanted, name, records)
            stored = _stored(connection, wanted, report.fiscal_year)
        fresh: list[dict[str, Any]] = []
        for record in records:
            old = stored.get(record["resident_id"])
            if old is None:
                fresh.append(record)
            elif all(getattr(old, column) == record[column] for column in _VALUES):
                report.unchanged += 1
            else:
                reason = (
                    f"resident {record['resident_id']} was loaded for FY{report.fiscal_year} "
                    f"from {old.name}:{old.line} with other values"
                )
                report.errors.append(RowError(name, record["line"], "resident_id", reason))
        _person_files.write_file(
            connection, report, fresh, files=premium_income_files, name=name, digest=digest,
            data=premium_incomes, columns=_COLUMNS, fiscal_year=report.fiscal_year,
        )  # fmt: skip
    return report
