"""The write phase of a change-feed import: what the in-memory pass decided, in bulk.

New rows go in by binary COPY on PostgreSQL (each column's type declared), by executemany on
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
from kokuho.registry._feed_lookup import Step, driver, joined_text, run, split_param
from kokuho.registry._tables import coverage_terms, coverages, feed_events, persons

if TYPE_CHECKING:
    from kokuho.registry._feed import FeedImport, FeedPerson
    from kokuho.registry._feed_read import ImportReport

_PERSON = ("person_id", "name_kanji", "name_kana", "birth_date", "sex", "address", "match_key")
_COVERAGE = (
    "coverage_id", "person_id", "insurer_number", "symbol", "number", "branch", "acquired_on",
    "lost_on", "loss_reason", "relationship", "card_class", "decided_on",
)  # fmt: skip
_TERMS = ("coverage_id", "effective_from", *TERM_FIELDS)
_EVENT = ("insurer_number", "event_id", "kind", "effective_date", "file_id", "line", "digest")
_FILE = ("name", "sha256", "loaded_at", "rows", "applied", "duplicates", "rejected")


#: The binary COPY type of each column type the feed's tables use. Exact classes, no lookup
#: along the class hierarchy: a subclass may need another wire format (``sa.BigInteger`` is an
#: ``sa.Integer`` but int4 data into a bigint column fails the whole COPY).
_COPY_TYPES: dict[type[Any], str] = {
    sa.SmallInteger: "int2", sa.Integer: "int4", sa.Date: "date", sa.String: "text",
}  # fmt: skip


def _copy_types(table: sa.Table, columns: tuple[str, ...]) -> list[str]:
    """The PostgreSQL type of each column, for COPY's dumpers (:func:`_copy`).

    Raises TypeError naming the table and column when a column's type has no entry in
    :data:`_COPY_TYPES`: the statements are built when the module is imported, so a column
    added with a new type stops the import with this message rather than a bare KeyError."""
    types = []
    for name in columns:
        column_type = type(table.c[name].type)
        try:
            types.append(_COPY_TYPES[column_type])
        except KeyError:
            raise TypeError(
                f"{table.name}.{name}: column type {column_type.__name__} has no binary COPY "
                f"type; add it to _COPY_TYPES in {__name__}"
            ) from None
    return types


def _copy(connection: sa.Connection, sql: str, types: list[str], rows: list[Any]) -> None:
    """Binary COPY of ``rows``, each column's type declared (which binary COPY needs):
    psycopg packs every value by its column's dumper instead of writing escaped text by a
    dumper looked up from the value's Python type, ~0.3 µs a row where text COPY cost
    ~0.85 µs (``kokuho.store.bulk_insert``, shared by other callers, knows no types)."""
    cursor = driver(connection).cursor()
    with cursor, cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)


def _marks(dialect: str, count: int) -> list[str]:
    return ["%s" if dialect == "postgresql" else "?"] * count


#: The PostgreSQL types of the updated columns, for their arrays (:func:`_update_from`).
_TYPES = {
    "name_kanji": "text", "name_kana": "text", "birth_date": "date", "sex": "smallint",
    "address": "text", "match_key": "text", "person_id": "integer", "lost_on": "date",
    "loss_reason": "text", "coverage_id": "integer", "effective_from": "date",
    "copay_percent": "smallint", "elderly_copay_percent": "smallint", "limit_category": "text",
    "specific_disease": "text",
}  # fmt: skip


def _update_from(table: str, columns: tuple[str, ...], where: tuple[str, ...]) -> str:
    """One PostgreSQL UPDATE of many rows, each column's values one text the server splits
    (:func:`_joined_columns`), the rows' order that of ``columns`` then ``where``.

    Each row probes the primary key once: with a plain ``t.key = w.key`` the planner hashed
    the whole table once a file had a few thousand rows (a sequential scan per file);
    ``= ANY(ARRAY[w.key])`` can neither hash nor merge, so it leaves only the nested loop
    over the index (tests/test_registry_update_plans.py)."""
    names = (*columns, *where)
    arrays = ", ".join(split_param(_TYPES[n]) for n in names)
    sets = ", ".join(f"{name} = w.{name}" for name in columns)
    tests = " AND ".join(f"t.{name} = ANY(ARRAY[w.{name}])" for name in where)
    return (
        f"UPDATE {table} AS t SET {sets} FROM unnest({arrays}) AS w({', '.join(names)}) "
        f"WHERE {tests}"
    )


def _joined_columns(rows: list[tuple[Any, ...]]) -> list[str] | None:
    """The columns of ``rows`` for :func:`_update_from`, each one text the server splits
    (``_feed_lookup.joined_text``); None when a value holds a mark (the caller then runs one
    statement per row)."""
    out = []
    for column in zip(*rows, strict=True):
        text = joined_text(column)
        if text is None:
            return None
        out.append(text)
    return out


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
        self.update_from = {
            name: _update_from(table, columns, where)
            for name, table, columns, where in (
                ("person", "persons", _PERSON[1:], ("person_id",)),
                ("loss", "coverages", ("lost_on", "loss_reason"), ("coverage_id",)),
                ("terms", "coverage_terms", TERM_FIELDS, ("coverage_id", "effective_from")),
            )
        }
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
        self.copies = {
            table.name: (
                f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)",
                _copy_types(table, columns),
            )
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


def _person(p: FeedPerson) -> tuple[Any, ...]:
    return (p.person_id, p.name_kanji, p.name_kana, p.birth_date, p.sex, p.address, p.key)


def write(
    connection: sa.Connection,
    state: FeedImport,
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
    for table, rows in (
        (persons, new_persons),
        (coverages, new_coverages),
        (coverage_terms, new_terms),
        (feed_events, new_events),
    ):
        if not rows:
            continue
        if sql.dialect == "postgresql":
            _copy(connection, *sql.copies[table.name], rows)
        else:
            steps.append(Step(sql.inserts[table.name], rows, many=True, rows=False))
    for name, statement, rows in (
        ("person", sql.person_update, changed),
        ("loss", sql.loss_update, lost),
        ("terms", sql.terms_update, changed_terms),
    ):
        if not rows:
            continue
        # One statement for the lot on PostgreSQL: executemany sent one per row, ~15 µs of
        # client CPU each (a 100 k-person feed updates ~34,000 rows).
        joined = _joined_columns(rows) if sql.dialect == "postgresql" else None
        if joined is None:
            steps.append(Step(statement, rows, many=True, rows=False))
        else:
            steps.append(Step(sql.update_from[name], joined, rows=False))
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
