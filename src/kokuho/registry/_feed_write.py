"""The write phase of a change-feed import: what the in-memory pass decided, in bulk.

New rows go in by COPY on PostgreSQL (``kokuho.store.bulk_insert``), by executemany on
SQLite, one statement per table that has any. Those and the updates and the file's counts
are plain SQL on the driver's connection (``_feed_lookup.run``), in the caller's
transaction: SQLAlchemy's per-statement and per-row parameter processing cost more than
the driver's executemany itself (a monthly file writes about 80 rows in up to eight
statements). (One psycopg pipeline for a small file's writes, new rows as
``INSERT … SELECT FROM unnest(arrays)``, cost the client more than the round trips it saved.)
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from kokuho.registry._events import TERM_FIELDS, Event
from kokuho.registry._feed_lookup import Step, run
from kokuho.registry._tables import coverage_terms, coverages, feed_events, persons
from kokuho.store import bulk_insert

if TYPE_CHECKING:
    from kokuho.registry._feed import _Import, _Person
    from kokuho.registry._feed_read import ImportReport

_PERSON = ("person_id", "name_kanji", "name_kana", "birth_date", "sex", "address", "match_key")
_COVERAGE = (
    "coverage_id", "person_id", "insurer_number", "symbol", "number", "branch", "acquired_on",
    "lost_on", "loss_reason", "relationship", "card_class", "decided_on",
)  # fmt: skip
_TERMS = ("coverage_id", "effective_from", *TERM_FIELDS)
_EVENT = ("insurer_number", "event_id", "kind", "effective_date", "file_id", "line", "digest")
_FILE = ("name", "sha256", "loaded_at", "rows", "applied", "duplicates", "rejected")


def _marks(dialect: str, count: int) -> list[str]:
    return ["%s" if dialect == "postgresql" else "?"] * count


def _set(dialect: str, table: str, columns: tuple[str, ...], where: tuple[str, ...]) -> str:
    marks = _marks(dialect, len(columns) + len(where))
    sets = ", ".join(f"{name} = {mark}" for name, mark in zip(columns, marks, strict=False))
    tests = " AND ".join(
        f"{name} = {mark}" for name, mark in zip(where, marks[len(columns) :], strict=True)
    )
    return f"UPDATE {table} SET {sets} WHERE {tests}"


class _Statements:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.person_update = _set(dialect, "persons", _PERSON[1:], ("person_id",))
        self.loss_update = _set(dialect, "coverages", ("lost_on", "loss_reason"), ("coverage_id",))
        self.terms_update = _set(
            dialect, "coverage_terms", TERM_FIELDS, ("coverage_id", "effective_from")
        )
        self.file_counts = _set(
            dialect, "feed_files", ("applied", "duplicates", "rejected"), ("file_id",)
        )
        self.inserts = {
            table.name: f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join(_marks(dialect, len(columns)))})"
            for table, columns in (
                (persons, _PERSON), (coverages, _COVERAGE), (coverage_terms, _TERMS),
                (feed_events, _EVENT),
            )
        }  # fmt: skip
        self.file_delete = f"DELETE FROM feed_files WHERE file_id = {_marks(dialect, 1)[0]}"
        marks = ", ".join(_marks(dialect, len(_FILE)))
        self.file_insert = (
            f"INSERT INTO feed_files ({', '.join(_FILE)}) VALUES ({marks}) RETURNING file_id"
        )


_STATEMENTS = {dialect: _Statements(dialect) for dialect in ("sqlite", "postgresql")}


def statements(connection: sa.Connection) -> _Statements:
    return _STATEMENTS[connection.dialect.name]


def file_row(connection: sa.Connection, report: ImportReport) -> Step:
    """The file's ``feed_files`` row, counts still zero; the step answers its ``file_id``."""
    values = (report.file, report.sha256, dt.datetime.now(dt.UTC), report.rows, 0, 0, 0)
    return Step(statements(connection).file_insert, values)


def drop_file_row(connection: sa.Connection, file_id: int) -> None:
    run(connection, [Step(statements(connection).file_delete, (file_id,), rows=False)])


def _person(p: _Person) -> tuple[Any, ...]:
    return (p.person_id, p.name_kanji, p.name_kana, p.birth_date, p.sex, p.address, p.key)


def write(
    connection: sa.Connection,
    state: _Import,
    file_id: int,
    events: list[Event],
    report: ImportReport,
) -> None:
    """Writes what the pass decided and the file's counts; the caller then advances the id
    sequences (:func:`advance_sequences`: after each file, or once per run of files)."""
    people = state.persons.values()
    new_persons = [_person(p) for p in people if p.new]
    changed = [(*_person(p)[1:], p.person_id) for p in people if p.dirty and not p.new]
    new_coverages: list[tuple[Any, ...]] = []
    lost: list[tuple[Any, ...]] = []
    new_terms: list[tuple[Any, ...]] = []
    changed_terms: list[tuple[Any, ...]] = []
    for insured, periods in state.periods.items():
        for p in periods:
            if p.new:
                new_coverages.append(
                    (p.coverage_id, p.person_id, insured.insurer, insured.symbol, insured.number,
                     insured.branch, p.acquired_on, p.lost_on, p.loss_reason, p.relationship,
                     p.card_class, p.decided_on)
                )  # fmt: skip
            elif p.dirty:
                lost.append((p.lost_on, p.loss_reason, p.coverage_id))
            for day in p.dirty_terms:
                terms = p.terms[day]
                values = tuple(terms[n] for n in TERM_FIELDS)
                if day in p.stored_terms:
                    changed_terms.append((*values, p.coverage_id, day))
                else:
                    new_terms.append((p.coverage_id, day, *values))
    new_events = [
        (e.insured.insurer, e.event_id, e.kind, e.effective, file_id, e.line, e.digest)
        for e in events
    ]
    sql = statements(connection)
    steps: list[Step] = []
    for table, columns, rows in (
        (persons, _PERSON, new_persons),
        (coverages, _COVERAGE, new_coverages),
        (coverage_terms, _TERMS, new_terms),
        (feed_events, _EVENT, new_events),
    ):
        if sql.dialect == "postgresql":
            bulk_insert(connection, table, columns, rows)  # COPY
        elif rows:
            steps.append(Step(sql.inserts[table.name], rows, many=True, rows=False))
    for statement, rows in (
        (sql.person_update, changed),
        (sql.loss_update, lost),
        (sql.terms_update, changed_terms),
    ):
        if rows:
            steps.append(Step(statement, rows, many=True, rows=False))
    counts = (report.applied, report.duplicates, report.rejected, file_id)
    steps.append(Step(sql.file_counts, counts, rows=False))
    run(connection, steps)


def advance_sequences(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Ids are given explicitly; keep the sequences ahead of them (one round trip for both).
        connection.exec_driver_sql(_SETVAL)


_SETVAL = "SELECT " + ", ".join(
    f"setval(pg_get_serial_sequence('{table}', '{column}'), "
    f"(SELECT COALESCE(MAX({column}), 1) FROM {table}))"
    for table, column in (("persons", "person_id"), ("coverages", "coverage_id"))
)
