"""Reading a query's rows as Arrow columns for the columnar household inputs
(:mod:`kokuho.premiums._households_columnar`): as text lines the database writes (SQLite
``group_concat``, PostgreSQL ``COPY``) parsed by ``pyarrow.csv``, or through the driver's
cursor when a value cannot travel as a line. Split from ``_households_columnar`` to keep each
module short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

_BATCH: Final = 200_000


def driver_sql(template: str, dialect: str, names: Sequence[str]) -> str:
    """The template with each named parameter in the driver's own style."""
    style = ":{}" if dialect == "sqlite" else "%({})s"
    return template.format(**{n: style.format(n) for n in names})


def read_columns(engine: sa.Engine, sql: str, params: dict[str, Any], types: Sequence[pa.DataType]
          ) -> list[pa.Array]:  # fmt: skip
    """The rows of ``sql`` as one Arrow array per column, typed ``types``, read on a
    connection of its own: on SQLite as lines SQLite writes itself (``group_concat``, in C),
    on PostgreSQL through ``COPY (…) TO STDOUT``, both parsed by ``pyarrow.csv``; elsewhere,
    or for a value the lines cannot carry (a separator in an id), through the cursor."""
    with engine.connect() as connection:
        dialect = engine.dialect.name
        text: bytes | None = None
        if dialect == "sqlite":
            text = _sqlite_lines(connection, sql, params, len(types))
        elif dialect == "postgresql":
            # The per-row person look-up makes the planner expect a costly query and JIT-
            # compile it: seconds of compiling for a plan of plain hash joins. The hash tables
            # of a few million narrow rows fit in memory rather than spilling to disk.
            connection.exec_driver_sql("SET LOCAL jit = off")
            connection.exec_driver_sql("SET LOCAL work_mem = '256MB'")
            text = _copy_lines(connection, sql, params)
        lines = None if text is None else _parsed(text, types, dialect)
        return lines if lines is not None else _typed(_fetch(connection, sql, params), types)


def _parsed(text: bytes, types: Sequence[pa.DataType], dialect: str) -> list[pa.Array] | None:
    """The lines as columns, or None when they cannot be read back as written (an id holding
    the separator or a newline breaks the line into the wrong number of fields): the caller
    then reads the same query through the cursor, which carries any value as it is."""
    try:
        return _parse(text, types, "\x1f" if dialect == "sqlite" else ",")
    except pa.ArrowInvalid:
        return None


def _sqlite_lines(connection: sa.Connection, sql: str, params: dict[str, Any], width: int) -> bytes:
    line = " || char(31) || ".join(f"ifnull(q.c{k}, '')" for k in range(width))
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"SELECT group_concat({line}, char(10)) FROM ({sql}) AS q", params)
        row = cursor.fetchone()
    finally:
        cursor.close()
    return row[0].encode() if row and row[0] else b""


def _copy_lines(connection: sa.Connection, sql: str, params: dict[str, Any]) -> bytes:
    raw = connection.connection.driver_connection
    buffer = bytearray()
    # psycopg binds COPY's parameters on the client, quoted as literals.
    statement = f"COPY ({sql}) TO STDOUT (FORMAT csv)"
    with raw.cursor() as cursor, cursor.copy(statement, params) as copy:  # type: ignore[union-attr]
        for block in copy:
            buffer += block
    return bytes(buffer)


def _parse(text: bytes, types: Sequence[pa.DataType], delimiter: str) -> list[pa.Array]:
    names = [f"c{k}" for k in range(len(types))]
    if not text:
        return [pa.array([], t) for t in types]
    table = pacsv.read_csv(
        pa.py_buffer(text),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, quote_char=False if delimiter != "," else '"'
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict(zip(names, types, strict=True)),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )
    return [table.column(name).combine_chunks() for name in names]


def _fetch(connection: sa.Connection, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every row through the driver's cursor in big batches (no SQLAlchemy row processing)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = []
        while batch := cursor.fetchmany(_BATCH):
            rows.extend(batch)
        return rows
    finally:
        cursor.close()


def _typed(rows: list[tuple[Any, ...]], types: Sequence[pa.DataType]) -> list[pa.Array]:
    if not rows:
        return [pa.array([], t) for t in types]
    return [pa.array(column).cast(t) for column, t in zip(zip(*rows, strict=True), types,
                                                         strict=True)]  # fmt: skip
