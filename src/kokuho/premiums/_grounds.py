"""Reduction grounds (軽減の事由) per person: 旧被扶養者 and 非自発的失業 (特例対象被保険者等),
from the municipality's 届出 records (docs/formats.md §8a). One file holds any years: each row
is dated. Loaded all or nothing, once, like the income file.

A file whose SHA-256 was loaded before is skipped. A row already loaded (same person, ground
and date) is accepted only with the same 離職理由コード; another code is an error naming the
earlier file and line. Who qualifies (the 離職理由コード, the ages) is data:
``premiums/grounds/grounds.yaml`` (unconfirmed, with its sources).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from kokuho.ids import iso_date
from kokuho.premiums import _person_files
from kokuho.premiums._person_files import FieldError, ascii_of, digits_of, read_resident_id
from kokuho.premiums._tables import premium_ground_files, premium_reduction_grounds
from kokuho.registry import FileRejected, RowError, tables
from kokuho.store import data_text, file_sha256, key_table, load_yaml, write_transaction

FORMER_DEPENDANT: Final = "former_dependant"
"""旧被扶養者: ``date`` is the 資格取得日 in 国保 (the day the insured person moved to 後期)."""
INVOLUNTARY_UNEMPLOYMENT: Final = "involuntary_unemployment"
"""非自発的失業: ``date`` is the 離職日, ``reason_code`` the 離職理由コード."""
GROUNDS: Final = (FORMER_DEPENDANT, INVOLUNTARY_UNEMPLOYMENT)
REQUIRED: Final = frozenset({"resident_id", "ground", "date", "reason_code"})
FIRST_YEAR, LAST_YEAR = 2000, 2100
_COLUMNS: Final = ("resident_id", "ground", "on", "reason_code", "file_id", "line")
_ONE_DAY: Final = dt.timedelta(days=1)


@dataclass(frozen=True)
class GroundRules:
    """Who may hold a ground (``grounds.yaml``)."""

    reason_codes: dict[str, str]
    """離職理由コード of a 特定受給資格者 or 特定理由離職者, with what each means."""
    max_age_at_leaving: int
    former_min_age: int
    former_max_age: int


@functools.cache
def ground_rules() -> GroundRules:
    document = load_yaml(
        data_text("premiums/grounds/grounds.yaml"), "premiums/grounds/grounds.yaml"
    )
    unemployment, former = document["involuntary_unemployment"], document["former_dependant"]
    return GroundRules(
        {str(code): str(text) for code, text in unemployment["reason_codes"].items()},
        int(unemployment["max_age_at_leaving"]),
        int(former["min_age"]),
        int(former["max_age"]),
    )


@dataclass
class GroundLoadReport:
    file: str
    rows: int = 0
    inserted: int = 0
    unchanged: int = 0
    skipped: bool = False
    """The same file (by SHA-256) was loaded before: nothing was read into the database."""
    errors: list[RowError] = field(default_factory=list)


def _date(raw: str) -> dt.date:
    text = ascii_of(raw) or ""
    try:
        day = iso_date(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise FieldError("date", f"{raw!r} is not a date YYYY-MM-DD")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise FieldError("date", f"{day} is not in {FIRST_YEAR}–{LAST_YEAR}")
    return day


def _row(row: dict[str, str]) -> dict[str, Any]:
    resident = read_resident_id(row["resident_id"])
    ground = row["ground"].strip()
    if ground not in GROUNDS:
        raise FieldError("ground", f"{row['ground']!r} is not one of {', '.join(GROUNDS)}")
    on = _date(row["date"])
    code = digits_of(row["reason_code"]) or row["reason_code"].strip()
    if ground == FORMER_DEPENDANT:
        if code:
            raise FieldError("reason_code", f"{code!r}: a 旧被扶養者 has no 離職理由コード")
        reason: str | None = None
    else:
        if not code:
            raise FieldError("reason_code", "the 離職理由コード is required for 非自発的失業")
        codes = ground_rules().reason_codes
        if code not in codes:
            raise FieldError(
                "reason_code",
                f"離職理由コード {code!r} is not a 特定受給資格者 or 特定理由離職者 code "
                f"({', '.join(sorted(codes))}): no 非自発的失業 reduction",
            )
        reason = code
    return {"resident_id": resident, "ground": ground, "on": on, "reason_code": reason}


def _parse(path: Path, report: GroundLoadReport, today: dt.date) -> list[dict[str, Any]]:
    name = str(path)
    records: list[dict[str, Any]] = []
    lines: dict[tuple[str, str, dt.date], int] = {}
    for line, record in _person_files.read_records(
        path, report, _row, required=REQUIRED, allowed=REQUIRED
    ):
        first = lines.setdefault((record["resident_id"], record["ground"], record["on"]), line)
        if first != line:
            reason = f"the same resident, ground and date are on line {first}"
            report.errors.append(RowError(name, line, "resident_id", reason))
            continue
        if record["on"] > today:
            # Both dates are facts recorded after they happen: the 離職日 on the 受給資格者証,
            # the 資格取得日 of one who has already moved to 後期.
            reason = f"{record['on']} is after today ({today}): the ground has not arisen yet"
            report.errors.append(RowError(name, line, "date", reason))
            continue
        record["line"] = line
        records.append(record)
    if not records and not report.errors:
        report.errors.append(RowError(name, 0, "", "the file holds no grounds"))
    return records


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _check_persons(
    connection: sa.Connection, wanted: sa.Table, name: str, records: list[dict[str, Any]]
) -> Iterator[RowError]:
    """Unknown residents, and ages the ground does not allow (on the ground's date)."""
    r = tables.residents.c
    query = sa.select(r.resident_id, r.birth_date).join(
        wanted, wanted.c.resident_id == r.resident_id
    )
    births: dict[str, dt.date] = {
        row.resident_id: row.birth_date for row in connection.execute(query)
    }
    rules = ground_rules()
    for record in records:
        birth = births.get(record["resident_id"])
        if birth is None:
            reason = f"resident {record['resident_id']} is not in the resident register"
            yield RowError(name, record["line"], "resident_id", reason)
            continue
        age = _age(birth, record["on"])
        if record["ground"] == INVOLUNTARY_UNEMPLOYMENT and age > rules.max_age_at_leaving:
            reason = f"aged {age} on the 離職日: 非自発的失業 is for one under 65 at leaving"
            yield RowError(name, record["line"], "date", reason)
        elif record["ground"] == FORMER_DEPENDANT and not (
            rules.former_min_age <= age <= rules.former_max_age
        ):
            reason = (
                f"aged {age} on the 資格取得日: a 旧被扶養者 is "
                f"{rules.former_min_age}–{rules.former_max_age}"
            )
            yield RowError(name, record["line"], "date", reason)


def _stored(connection: sa.Connection, wanted: sa.Table) -> dict[tuple[str, str, dt.date], Any]:
    g = premium_reduction_grounds.c
    query = (
        sa.select(premium_reduction_grounds, premium_ground_files.c.name)
        .join(premium_ground_files)
        .join(wanted, wanted.c.resident_id == g.resident_id)
    )
    return {(row.resident_id, row.ground, row.on): row for row in connection.execute(query)}


def load_grounds(
    engine: sa.Engine, path: Path, *, today: dt.date | None = None
) -> GroundLoadReport:
    """Loads one reduction-grounds file (docs/formats.md §8a) in one transaction.

    Raises FileRejected with every row error (file:line:field): an unknown ground, a bad date
    or one after ``today`` (default: the system's date),
    a 離職理由コード that does not qualify, a person not in the resident register or of an age
    the ground excludes, a row loaded before with another code.
    """
    report = GroundLoadReport(file=str(path))
    digest = file_sha256(path)
    if _person_files.loaded_before(engine, premium_ground_files.c.file_id, digest) is not None:
        report.skipped = True
        return report
    records = _parse(path, report, today or dt.date.today())
    if report.errors:
        raise FileRejected(report.errors)
    name = str(path)
    with write_transaction(engine, "premium_reduction_grounds") as connection:
        # A run of the same file at the same time may have loaded it while this one parsed.
        if (
            _person_files.loaded_before(connection, premium_ground_files.c.file_id, digest)
            is not None
        ):
            return GroundLoadReport(file=name, skipped=True)
        keys = sorted({(record["resident_id"],) for record in records})
        with key_table(connection, {"resident_id": sa.String(20)}, keys) as wanted:
            report.errors += _check_persons(connection, wanted, name, records)
            stored = _stored(connection, wanted)
        fresh: list[dict[str, Any]] = []
        for record in records:
            old = stored.get((record["resident_id"], record["ground"], record["on"]))
            if old is None:
                fresh.append(record)
            elif old.reason_code == record["reason_code"]:
                report.unchanged += 1
            else:
                reason = (
                    f"resident {record['resident_id']}'s {record['ground']} of {record['on']} "
                    f"was loaded from {old.name}:{old.line} with 離職理由コード {old.reason_code}"
                )
                report.errors.append(RowError(name, record["line"], "reason_code", reason))
        _person_files.write_file(
            connection, report, fresh, files=premium_ground_files, name=name, digest=digest,
            data=premium_reduction_grounds, columns=_COLUMNS,
        )  # fmt: skip
    return report


def _fiscal_year_of(day: dt.date) -> int:
    return day.year if day.month >= 4 else day.year - 1


@dataclass(frozen=True)
class YearGrounds:
    """A person's grounds as the assessment of one fiscal year reads them (``Member`` fields)."""

    involuntary_unemployment_from: dt.date | None
    """The day after the 離職日 of the latest separation whose period (to the end of the next
    fiscal year) reaches this year."""
    former_dependant: bool
    """A 旧被扶養者 ground dated before the year's end (the 2-year window of the halving is
    counted by the assessment from the member's 資格取得日)."""


def grounds_for_year(connection: sa.Connection, fiscal_year: int) -> dict[str, YearGrounds]:
    """resident_id → the grounds that bear on ``fiscal_year`` (a few per thousand persons)."""
    g = premium_reduction_grounds.c
    year_end = dt.date(fiscal_year + 1, 4, 1)
    # A separation whose period reaches the year left on or after 1 April of the year before.
    earliest = dt.date(fiscal_year - 1, 3, 31)
    query = sa.select(g.resident_id, g.ground, g.on).where(
        g.on < year_end, sa.or_(g.ground == FORMER_DEPENDANT, g.on >= earliest)
    )
    found: dict[str, tuple[dt.date | None, bool]] = {}
    for resident_id, ground, on in connection.execute(query):
        leaving, former = found.get(resident_id, (None, False))
        if ground == FORMER_DEPENDANT:
            former = True
        else:
            start = on + _ONE_DAY
            if start < year_end and _fiscal_year_of(start) + 1 >= fiscal_year:
                leaving = start if leaving is None else max(leaving, start)
        found[resident_id] = (leaving, former)
    return {
        resident_id: YearGrounds(leaving, former)
        for resident_id, (leaving, former) in found.items()
        if leaving is not None or former
    }


@dataclass(frozen=True)
class GroundCount:
    """How many persons hold a ground, by the fiscal year of its date (no personal data)."""

    ground: str
    fiscal_year: int
    persons: int


def ground_counts(engine: sa.Engine) -> list[GroundCount]:
    g = premium_reduction_grounds.c
    with engine.connect() as connection:
        rows = connection.execute(sa.select(g.resident_id, g.ground, g.on)).all()
    persons: dict[tuple[str, int], set[str]] = {}
    for resident_id, ground, on in rows:
        persons.setdefault((ground, _fiscal_year_of(on)), set()).add(resident_id)
    return [GroundCount(ground, year, len(ids)) for (ground, year), ids in sorted(persons.items())]
