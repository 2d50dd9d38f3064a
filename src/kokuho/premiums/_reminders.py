"""督促 (reminders): the reminders file (docs/formats.md §9a) and its import.

One row per 督促状 issued for one instalment (期) of a household: the day it was issued and its
指定期限. A 督促 renews the 時効 of the instalment's 徴収権 (国保法 §110(2); the rule file says
from which day, data/premiums/prescription.yaml). A file is checked whole and loads in one
transaction; a reminder loaded again (same instalment, same day of issue, same 指定期限) is
skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import sqlalchemy as sa

from kokuho.premiums._charges import charges
from kokuho.premiums._collection_tables import reminders, write_offs
from kokuho.premiums._file_rows import checked_rows, insert_new
from kokuho.premiums._payments import date_cell, household_year, integer_cell
from kokuho.premiums._person_files import ascii_of
from kokuho.registry import RowError
from kokuho.store import chunks

REQUIRED: Final = frozenset(
    {"municipality", "household", "fiscal_year", "instalment", "issued_on", "deadline"}
)
_Key = tuple[str, str, int, int, dt.date]  # municipality, household, year, 期, issued on
#: Households per lookup statement, under every database's parameter limit.
_CHUNK: Final = 5000


@dataclass(frozen=True, slots=True)
class ReminderRow:
    """One 督促 of the file, checked."""

    municipality: str
    household_id: str
    fiscal_year: int
    instalment: int
    issued_on: dt.date
    deadline: dt.date

    @property
    def key(self) -> _Key:
        return (self.municipality, self.household_id, self.fiscal_year, self.instalment,
                self.issued_on)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReminderImportReport:
    """One reminders file: rows read, 督促 added, 督促 already loaded (skipped)."""

    file: str
    rows: int
    added: int
    already_loaded: int


def import_reminders(
    engine: sa.Engine, path: Path, *, today: dt.date | None = None
) -> ReminderImportReport:
    """Loads the reminders file at ``path`` in one transaction (docs/formats.md §9a).

    Raises FileRejected with every problem (file:line:field) and writes nothing when a row is
    bad: a household, year or 期 without 調定 on the day of issue, a 督促 issued on or before
    the 納期限 in force that day (a 督促 follows an unpaid 納期限: 地方自治法 §231-3(1)) or
    after ``today``, a 指定期限 before the day of issue, an instalment written off (不納欠損)
    already, the same 督促 twice in the file or loaded before with another 指定期限."""
    today = today or dt.date.today()
    name = str(path)
    found = checked_rows(
        path,
        (REQUIRED, REQUIRED),
        lambda line, row, errors: _parse(name, line, row, errors, today),
        lambda reminder: reminder.key,
        lambda first: ("issued_on", f"repeats line {first}"),
    )
    parsed = found[0]
    new = insert_new(engine, reminders, path, found, _check_against_database, _values)
    return ReminderImportReport(name, len(parsed), len(new), len(parsed) - len(new))


def _values(r: ReminderRow) -> dict[str, object]:
    return {
        "municipality": r.municipality,
        "household_id": r.household_id,
        "fiscal_year": r.fiscal_year,
        "instalment": r.instalment,
        "issued_on": r.issued_on,
        "deadline": r.deadline,
    }


def _parse(
    name: str, line: int, row: dict[str, str], errors: list[RowError], today: dt.date
) -> ReminderRow | None:
    before = len(errors)

    def bad(column: str, reason: str) -> None:
        errors.append(RowError(name, line, column, reason))

    municipality, household, year = household_year(row, bad)
    number = integer_cell(row["instalment"])
    if number is None or not 1 <= number <= 99:
        bad("instalment", "must be a 納期 number from 1 to 99")
    issued = date_cell(ascii_of(row["issued_on"]) or "")
    if issued is None:
        bad("issued_on", "must be a date YYYY-MM-DD")
    elif issued > today:
        bad("issued_on", f"{issued} is after today ({today}): a 督促 is not dated ahead")
    deadline = date_cell(ascii_of(row["deadline"]) or "")
    if deadline is None:
        bad("deadline", "must be a date YYYY-MM-DD (the 指定期限)")
    elif issued is not None and deadline < issued:
        bad("deadline", f"the 指定期限 {deadline} is before the day of issue {issued}")
    if len(errors) > before:
        return None
    assert household and year is not None and number is not None and issued and deadline
    return ReminderRow(municipality, household, year, number, issued, deadline)


def _check_against_database(
    connection: sa.Connection,
    name: str,
    parsed: list[tuple[int, ReminderRow]],
    errors: list[RowError],
) -> list[tuple[int, ReminderRow]]:
    """The reminders not loaded yet; errors for instalments without 調定 on the day of issue,
    a 督促 not after the 納期限 in force that day, written-off instalments, and a 督促 loaded
    before with another 指定期限."""
    if not parsed:
        return []
    decided: dict[tuple[str, str, int, int], list[tuple[dt.date, dt.date]]] = {}
    written: dict[tuple[str, str, int, int], dt.date] = {}
    loaded: dict[_Key, dt.date] = {}
    c, w, r = charges.c, write_offs.c, reminders.c
    pairs = sorted({(row.municipality, row.household_id) for _, row in parsed})
    for code in sorted({m for m, _ in pairs}):
        for ids in chunks([h for m, h in pairs if m == code], _CHUNK):
            # Per instalment, its 調定 rows in decision order: (decided on, 納期限).
            query = sa.select(
                c.household_id, c.fiscal_year, c.instalment, c.decided_on, c.due_on
            ).where(c.municipality == code, c.household_id.in_(ids))
            for h, y, n, on, due in connection.execute(query.order_by(c.charge_id)):
                decided.setdefault((code, h, y, n), []).append((on, due))
            offs = sa.select(w.household_id, w.fiscal_year, w.instalment, w.decided_on).where(
                w.municipality == code, w.household_id.in_(ids)
            )
            written.update(((code, h, y, n), on) for h, y, n, on in connection.execute(offs))
            issued_query = sa.select(
                r.household_id, r.fiscal_year, r.instalment, r.issued_on, r.deadline
            ).where(r.municipality == code, r.household_id.in_(ids))
            loaded.update(
                ((code, h, y, n, issued), deadline)
                for h, y, n, issued, deadline in connection.execute(issued_query)
            )
    new = []
    for line, row in parsed:
        what = f"household {row.household_id} FY{row.fiscal_year} 第{row.instalment}期"
        history = [due for on, due in decided.get(row.key[:4], []) if on <= row.issued_on]
        if not history:
            reason = f"{what} has no 調定 in {row.municipality} by {row.issued_on}"
            errors.append(RowError(name, line, "instalment", reason))
        elif row.issued_on <= history[-1]:
            reason = f"issued on {row.issued_on}, not after the 納期限 {history[-1]} of {what}"
            errors.append(RowError(name, line, "issued_on", reason))
        elif row.key[:4] in written:
            reason = (f"{what} was written off (不納欠損) on {written[row.key[:4]]}: a 督促 of it "
                      "cannot be recorded")  # fmt: skip
            errors.append(RowError(name, line, "instalment", reason))
        elif row.key in loaded:
            if loaded[row.key] != row.deadline:
                reason = f"this 督促 was loaded before with the 指定期限 {loaded[row.key]}"
                errors.append(RowError(name, line, "deadline", reason))
        else:
            new.append((line, row))
    return new
