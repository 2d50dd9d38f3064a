"""What the two per-person files of the premiums share, the incomes (所得, docs/formats.md §8)
and the reduction grounds (軽減の事由, §8a): rows keyed by a resident_id (住民票コード, 11
digits), a file known by its SHA-256 and loaded once, all or nothing, with its rows tagged by
the file's id and line. What a row holds and when a reload conflicts stay with each file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from kokuho.ids import half_width_number
from kokuho.registry import FileRejected, RowError, read_csv_rows
from kokuho.store import bulk_insert


class FieldError(ValueError):
    """A bad value in ``column`` of one row."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column


class LoadReport(Protocol):
    """The counts and errors of one file's load (``IncomeLoadReport``, ``GroundLoadReport``)."""

    rows: int
    inserted: int
    errors: list[RowError]


def ascii_of(raw: str) -> str | None:
    """``raw`` with blanks around it dropped and full-width digits, signs, point, comma and %
    read as ASCII (``half_width_number``; not NFKC, which also turns ², ① and 𝟑 into digits,
    which no clerk writes for a number, an amount or a date); None when anything else in it is
    not ASCII (the text of a number or a date)."""
    text = half_width_number(raw.strip())
    return text if text.isascii() else None


def digits_of(raw: str) -> str | None:
    """``raw`` as ASCII digits (:func:`ascii_of`); None when it holds anything else (a sign,
    a comma, a superscript or circled digit)."""
    text = ascii_of(raw)
    return text if text is not None and text.isdigit() else None


def read_resident_id(raw: str) -> str:
    """The 住民票コード of a row: 11 digits, ASCII or full-width."""
    resident = digits_of(raw)
    if resident is None or len(resident) != 11:
        raise FieldError("resident_id", f"{raw!r} must be 11 digits")
    return resident


def loaded_before(engine: sa.Engine | sa.Connection, column: sa.Column[Any], digest: str) -> Any:
    """``column`` of the file row (of ``column``'s table) loaded with ``digest``; None when no
    file with that digest was loaded. Given a connection, read in its transaction (a loader
    asks again once it holds the write lock: a run of the same file may have committed)."""
    query = sa.select(column).where(column.table.c.sha256 == digest)
    if isinstance(engine, sa.Connection):
        return engine.scalar(query)
    with engine.connect() as connection:
        return connection.scalar(query)


def read_records(
    path: Path,
    report: LoadReport,
    row: Callable[[dict[str, str]], dict[str, Any]],
    *,
    required: frozenset[str],
    allowed: frozenset[str],
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, ``row(raw)``) for every row of the CSV file that has the header's width and
    whose values ``row`` accepts; each other row becomes an error of ``report``, and every row
    is counted in ``report.rows``."""
    name = str(path)
    for line, raw in read_csv_rows(path, required=required, allowed=allowed):
        report.rows += 1
        if "__width__" in raw:
            report.errors.append(RowError(name, line, "", raw["__width__"]))
            continue
        try:
            record = row(raw)
        except FieldError as error:
            report.errors.append(RowError(name, line, error.column, str(error)))
            continue
        yield line, record


def write_file(
    connection: sa.Connection,
    report: LoadReport,
    fresh: list[dict[str, Any]],
    *,
    files: sa.Table,
    name: str,
    digest: str,
    data: sa.Table,
    columns: Sequence[str],
    **values: Any,
) -> None:
    """Raises FileRejected with the report's errors (by line) if it has any; else records the
    file in ``files`` (its name, digest, rows, time and the further column ``values``) and its
    ``fresh`` records in ``data`` under the new file id, all in the caller's transaction."""
    if report.errors:
        report.errors.sort(key=lambda error: error.line)
        raise FileRejected(report.errors)
    file_id = connection.execute(
        files.insert().returning(files.c.file_id),
        {
            "name": name[-300:],
            "sha256": digest,
            **values,
            "loaded_at": dt.datetime.now(dt.UTC),
            "rows": report.rows,
        },
    ).scalar_one()
    rows = [tuple({**record, "file_id": file_id}[column] for column in columns) for record in fresh]
    bulk_insert(connection, data, columns, rows)
    report.inserted = len(fresh)
