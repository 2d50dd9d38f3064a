"""Bulk writes for imports: the driver's own fast path, still parameterised.

SQLAlchemy's per-row parameter processing costs more than SQLite's executemany itself, and
PostgreSQL loads fastest through COPY. Both run inside the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

# The stdlib's default date adapters are deprecated; these store what SQLAlchemy's Date and
# DateTime types store on SQLite (ISO text), and cost nothing per value in Python.
sqlite3.register_adapter(dt.date, dt.date.isoformat)
sqlite3.register_adapter(dt.datetime, lambda value: value.strftime("%Y-%m-%d %H:%M:%S.%f"))


def bulk_insert(
    connection: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Inserts ``rows`` (tuples in the order of ``columns``) into ``table``."""
    if not rows:
        return
    dialect = connection.dialect
    key = (dialect.name, table.name, tuple(columns))
    sql = _STATEMENTS.get(key)
    if sql is None:
        sql = _STATEMENTS[key] = _statement(dialect, table, columns)
    if dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    connection.exec_driver_sql(sql, rows)


#: Built once per table and columns: an import writes up to four tables per file.
_STATEMENTS: dict[tuple[str, str, tuple[str, ...]], str] = {}


def _statement(dialect: sa.Dialect, table: sa.Table, columns: Sequence[str]) -> str:
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(name) for name in columns)
    target = preparer.format_table(table)
    if dialect.name == "postgresql":
        return f"COPY {target} ({names}) FROM STDIN"
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {target} ({names}) VALUES ({marks})"
