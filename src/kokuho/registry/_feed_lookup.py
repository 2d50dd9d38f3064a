"""The change-feed import's look-ups (資格異動の照合), at the driver's level.

A file names its insured numbers (保険者番号・記号・番号・枝番) and its event ids; the import
reads the coverages, their terms and persons, the persons its new records may be, and the
applied events. The keys travel as one parameter per statement, however many: ``json_each``
on SQLite, ``unnest`` of arrays on PostgreSQL (one text a column, split by the server), and
each key probes the index once, whatever the planner's statistics say (:func:`_probe_sql`).
(``kokuho.store.key_table`` did this through a temporary table per look-up: four
statements, two of them DDL.)

The statements are plain SQL run on the driver's own connection, inside the caller's
transaction: SQLAlchemy's compile-and-execute path cost more per statement than a monthly
file's look-ups themselves (a run of 958 files made 5,000 of them). Rows come back as tuples
in the order of the ``*_COLUMNS`` below, with dates as ``datetime.date`` on both databases.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kokuho.registry._merge import ABSORBED_PERSONS

COVERAGE_COLUMNS = (
    "coverage_id", "person_id", "insurer_number", "symbol", "number", "branch", "acquired_on",
    "lost_on", "loss_reason", "relationship", "card_class", "decided_on",
)  # fmt: skip
TERM_COLUMNS = (
    "coverage_id", "effective_from", "copay_percent", "elderly_copay_percent",
    "limit_category", "specific_disease",
)  # fmt: skip
PERSON_COLUMNS = (
    "person_id", "name_kanji", "name_kana", "birth_date", "sex", "address", "match_key",
)  # fmt: skip
_COVERAGE_KEY = ("insurer_number", "symbol", "number", "branch")
_EVENT_KEY = ("insurer_number", "event_id")
_NOT_ABSORBED = f"person_id NOT IN ({ABSORBED_PERSONS})"

# Which columns are dates: SQLite returns them as the ISO text SQLAlchemy's Date stored.
_COVERAGE_DATES = tuple(COVERAGE_COLUMNS.index(c) for c in ("acquired_on", "lost_on", "decided_on"))
_TERM_DATES = (TERM_COLUMNS.index("effective_from"),)
_PERSON_DATES = (PERSON_COLUMNS.index("birth_date"),)


def driver(connection: sa.Connection) -> Any:
    """The DBAPI connection under ``connection`` (``sqlite3`` or psycopg), in its transaction."""
    return connection.connection.driver_connection


def _selected(prefix: str, columns: tuple[str, ...]) -> str:
    return ", ".join(f"{prefix}.{name}" for name in columns)


#: Joins a PostgreSQL statement's values into one text parameter that the server splits
#: (``string_to_array``): psycopg dumps a list as an array in Python, key by key (a regular
#: expression each), ~0.7 µs a key, where the join costs nothing. ``_NULL`` stands for NULL
#: (the import's batched updates carry some). Values holding either mark (an event id may)
#: go as arrays instead (:func:`_joined`). The look-ups and ``_feed_write`` share both.
_SEP = "\x1f"
_NULL = "\x1e"


def _split(cast: str) -> str:
    """One PostgreSQL parameter, a text made by :func:`_joined`, as an array of ``cast``: the
    values follow a leading ``_SEP`` (so that one empty value is one element: ``''`` alone
    splits into none)."""
    return f"(string_to_array(%s::text, chr({ord(_SEP)}), chr({ord(_NULL)})))[2:]::{cast}[]"


def _array(cast: str, joined: bool) -> str:
    """One PostgreSQL parameter as an array of ``cast``: a joined text or an array."""
    return _split(cast) if joined else f"%s::{cast}[]"


def _joined(values: Sequence[Any]) -> str | None:
    """``values`` as the text :func:`_split` splits (dates in ISO, None as ``_NULL``), or None
    when a value holds ``_SEP`` or ``_NULL``."""
    text = _SEP + _SEP.join(_NULL if v is None else str(v) for v in values)
    nulls = sum(v is None for v in values)
    if text.count(_SEP) != len(values) or text.count(_NULL) != nulls:
        return None
    return text


def _probe_sql(
    dialect: str,
    table: str,
    names: tuple[str, ...],
    wanted: str,
    cast: str = "text",
    *,
    joined: bool = True,
) -> str:
    """The rows of ``table`` AS t whose ``names`` equal one of the keys, given as one
    parameter (SQLite: a JSON array of arrays) or one per column (PostgreSQL: see
    :func:`_array`).

    Each key probes the index once, whatever the statistics say. On PostgreSQL a plain join
    let the planner hash a whole table instead when a file had thousands of keys and the
    run's rows were not yet analysed (the first month's applied events: a sequential scan
    of feed_events per file, spilled to disk); a LATERAL subquery that cannot be flattened
    (``OFFSET 0``) leaves it no other plan. On SQLite ``CROSS JOIN`` fixes the order."""
    if dialect == "postgresql":
        arrays = ", ".join(_array(cast, joined) for _ in names)
        columns = ", ".join(f"k{i}" for i in range(len(names)))
        on = " AND ".join(f"t.{name} = w.k{i}" for i, name in enumerate(names))
        return (
            f"SELECT {wanted} FROM unnest({arrays}) AS w({columns}) "
            f"CROSS JOIN LATERAL (SELECT * FROM {table} AS t WHERE {on} OFFSET 0) AS t"
        )
    on = " AND ".join(f"t.{name} = w.value ->> {i}" for i, name in enumerate(names))
    return f"SELECT {wanted} FROM json_each(?) AS w CROSS JOIN {table} AS t ON {on}"


def _register_sql(dialect: str, *, joined: bool = True) -> str:
    """The coverages of the insured numbers, each with its person (none merged into another)
    and its terms, one row per term: one statement where three (coverages, then their terms
    and persons by id) were a round trip each on PostgreSQL. Every join probes by key."""
    wanted = ", ".join(
        (
            _selected("t", COVERAGE_COLUMNS),
            _selected("p", PERSON_COLUMNS),
            _selected("ct", TERM_COLUMNS[1:]),
        )
    )
    found = _probe_sql(dialect, "coverages", _COVERAGE_KEY, wanted, joined=joined)
    person = f"p.person_id = t.person_id AND p.{_NOT_ABSORBED}"
    if dialect == "postgresql":
        return (
            f"{found} LEFT JOIN LATERAL (SELECT * FROM persons AS p WHERE {person} OFFSET 0) "
            "AS p ON TRUE LEFT JOIN LATERAL (SELECT * FROM coverage_terms AS ct "
            "WHERE ct.coverage_id = t.coverage_id OFFSET 0) AS ct ON TRUE"
        )
    return (
        f"{found} LEFT JOIN persons AS p ON {person} "
        "LEFT JOIN coverage_terms AS ct ON ct.coverage_id = t.coverage_id"
    )


def _keys_param(
    dialect: str, keys: Sequence[tuple[str, ...]], width: int
) -> tuple[list[Any], bool]:
    """The parameters of a look-up by ``keys``, and whether they are joined (on SQLite, the
    one form there is; on PostgreSQL, unless a key holds ``_SEP``)."""
    if dialect == "postgresql":
        columns = [[key[i] for key in keys] for i in range(width)]
        joined = [_joined(column) for column in columns]
        if None in joined:
            return columns, False
        return joined, True
    return [json.dumps(keys, ensure_ascii=False)], True


def _in_sql(
    dialect: str, table: str, column: str, wanted: str, cast: str, also: str, *, joined: bool
) -> str:
    """The rows of ``table`` AS t whose ``column`` is one of the values (distinct), given as
    one parameter, and that meet ``also``: each value probes the column's index once (on
    PostgreSQL by LATERAL, see :func:`_probe_sql`)."""
    if dialect == "postgresql":
        return (
            f"SELECT {wanted} FROM unnest({_array(cast, joined)}) AS w(k) CROSS JOIN LATERAL "
            f"(SELECT * FROM {table} AS t WHERE t.{column} = w.k AND {also} OFFSET 0) AS t"
        )
    return (
        f"SELECT {wanted} FROM {table} AS t "
        f"WHERE t.{column} IN (SELECT value FROM json_each(?)) AND {also}"
    )


def _values_param(dialect: str, values: Sequence[str]) -> tuple[Any, bool]:
    """As :func:`_keys_param`, for keys of one column."""
    if dialect == "postgresql":
        text = _joined(values)
        return (list(values), False) if text is None else (text, True)
    return json.dumps(list(values), ensure_ascii=False), True


class Statements:
    """The look-ups' SQL for one dialect, built once; on PostgreSQL, for keys given as
    arrays or ``joined`` (:func:`_keys_param`; the same statements on SQLite)."""

    def __init__(self, dialect: str, *, joined: bool = False) -> None:
        self.dialect = dialect
        self.register = _register_sql(dialect, joined=joined)
        persons = _selected("t", PERSON_COLUMNS)
        free = f"t.{_NOT_ABSORBED}"
        self.persons_by_key = _in_sql(
            dialect, "persons", "match_key", persons, "text", free, joined=joined
        )
        self.applied = _probe_sql(
            dialect, "feed_events", _EVENT_KEY, "t.insurer_number, t.event_id, t.digest",
            joined=joined,
        )  # fmt: skip


_STATEMENTS = {
    (dialect, joined): Statements(dialect, joined=joined)
    for dialect in ("sqlite", "postgresql")
    for joined in (False, True)
}


def statements(connection: sa.Connection, *, joined: bool = False) -> Statements:
    return _STATEMENTS[connection.dialect.name, joined]


@dataclass(frozen=True, slots=True)
class Step:
    """One statement of a batch: ``params`` is a list of rows when ``many``; ``rows`` asks
    for its result."""

    sql: str
    params: Any
    many: bool = False
    rows: bool = True


def run(connection: sa.Connection, steps: list[Step]) -> list[list[Any]]:
    """Runs ``steps`` in order on the driver's connection: the rows of each (empty when a
    step asks for none). (A psycopg pipeline, one round trip for several statements, cost
    the client more than it saved on a local server; measured on the benchmark feed.)"""
    raw = driver(connection)
    return [_step(raw.cursor(), step) for step in steps]


def _step(cursor: Any, step: Step) -> list[Any]:
    try:
        if step.many:
            cursor.executemany(step.sql, step.params)
        else:
            cursor.execute(step.sql, step.params)
        return cursor.fetchall() if step.rows else []
    finally:
        cursor.close()


def _dates(rows: list[Any], at: tuple[int, ...]) -> list[Any]:
    """SQLite's ISO text as ``datetime.date`` in the columns ``at`` (NULL stays None)."""
    date = dt.date.fromisoformat
    out = []
    for row in rows:
        values = list(row)
        for i in at:
            if values[i] is not None:
                values[i] = date(values[i])
        out.append(values)
    return out


_PERSON_AT = len(COVERAGE_COLUMNS)
_TERMS_AT = _PERSON_AT + len(PERSON_COLUMNS)


def register_of(
    connection: sa.Connection, first: Step, tuples: Sequence[tuple[str, str, str, str]]
) -> tuple[int, list[Any], list[Any], list[Any]]:
    """Runs ``first`` (a statement answering one integer, the file's row), then reads the
    coverages of the given insured numbers, their terms and their persons (none merged into
    another): the integer and three lists of rows, in the order of ``COVERAGE_COLUMNS``,
    ``TERM_COLUMNS`` and ``PERSON_COLUMNS``."""
    dialect = connection.dialect.name
    number = int(run(connection, [first])[0][0][0])
    if not tuples:
        return number, [], [], []
    keys, joined = _keys_param(dialect, tuples, len(_COVERAGE_KEY))
    (rows,) = run(connection, [Step(statements(connection, joined=joined).register, keys)])
    found: dict[int, Any] = {}
    people: dict[int, Any] = {}
    terms: list[Any] = []
    for row in rows:
        coverage_id = row[0]
        if coverage_id not in found:
            found[coverage_id] = row[:_PERSON_AT]
            person = row[_PERSON_AT:_TERMS_AT]
            if person[0] is not None:
                people[person[0]] = person
        if row[_TERMS_AT] is not None:
            terms.append((coverage_id, *row[_TERMS_AT:]))
    if dialect == "sqlite":
        return (
            number,
            _dates(list(found.values()), _COVERAGE_DATES),
            _dates(terms, _TERM_DATES),
            _dates(list(people.values()), _PERSON_DATES),
        )
    return number, list(found.values()), terms, list(people.values())


def candidates_and_applied(
    connection: sa.Connection, keys: Sequence[str], ids: Sequence[tuple[str, str]]
) -> tuple[list[Any], list[Any]]:
    """The persons (none merged into another) with one of the match keys ``keys``, and
    ``(insurer_number, event_id, digest)`` of the events ``ids`` already applied."""
    dialect = connection.dialect.name
    steps: list[Step] = []
    if keys:
        values, joined = _values_param(dialect, keys)
        sql = statements(connection, joined=joined)
        steps.append(Step(sql.persons_by_key, [values]))
    if ids:
        params, joined = _keys_param(dialect, ids, len(_EVENT_KEY))
        sql = statements(connection, joined=joined)
        steps.append(Step(sql.applied, params))
    results = run(connection, steps)
    people = results.pop(0) if keys else []
    applied = results.pop(0) if ids else []
    if dialect == "sqlite":
        people = _dates(people, _PERSON_DATES)
    return people, applied
