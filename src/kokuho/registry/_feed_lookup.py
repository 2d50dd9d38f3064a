"""The change-feed import's two composite-key look-ups (資格異動の照合), in one statement each.

A file names its insured numbers (保険者番号・記号・番号・枝番) and its event ids; the import
reads the coverages and the applied events they name. ``kokuho.store.key_table`` does this
through a temporary table created, filled and dropped per look-up: four statements, two of
them DDL, which on PostgreSQL write the catalogue and on SQLite expire every prepared
statement of the connection. A monthly file of a few rows paid more for that than for its
rows. Here the keys travel as one parameter instead, and the join still probes the unique
index once per key: ``json_each`` driving the loop on SQLite (``CROSS JOIN`` fixes the order),
``unnest`` of arrays on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kokuho.registry._tables import coverages, feed_events


def _joined(
    connection: sa.Connection,
    table: sa.Table,
    names: Sequence[str],
    keys: Sequence[tuple[str, ...]],
    wanted: Sequence[str],
) -> list[sa.Row[Any]]:
    if not keys:
        return []
    selected = ", ".join(f"t.{name}" for name in wanted)
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(f"CAST(:k{i} AS text[])" for i in range(len(names)))
        on = " AND ".join(f"t.{name} = w.k{i}" for i, name in enumerate(names))
        columns = ", ".join(f"k{i}" for i in range(len(names)))
        sql = (
            f"SELECT {selected} FROM unnest({arrays}) AS w({columns}) "
            f"JOIN {table.name} AS t ON {on}"
        )
        params: dict[str, Any] = {f"k{i}": [key[i] for key in keys] for i in range(len(names))}
    else:
        on = " AND ".join(f"t.{name} = w.value ->> {i}" for i, name in enumerate(names))
        sql = f"SELECT {selected} FROM json_each(:keys) AS w CROSS JOIN {table.name} AS t ON {on}"
        params = {"keys": json.dumps(keys, ensure_ascii=False)}
    statement = sa.text(sql).columns(*(table.c[name] for name in wanted))
    return list(connection.execute(statement, params))


_COVERAGE_KEY = ("insurer_number", "symbol", "number", "branch")
_COVERAGE_COLUMNS = tuple(column.name for column in coverages.c)


def coverages_of(
    connection: sa.Connection, tuples: Sequence[tuple[str, str, str, str]]
) -> list[sa.Row[Any]]:
    """Every coverage row of the given insured-number tuples."""
    return _joined(connection, coverages, _COVERAGE_KEY, tuples, _COVERAGE_COLUMNS)


def applied_events(connection: sa.Connection, ids: Sequence[tuple[str, str]]) -> list[sa.Row[Any]]:
    """``(insurer_number, event_id, digest)`` of the given events already applied."""
    return _joined(
        connection, feed_events, ("insurer_number", "event_id"), ids,
        ("insurer_number", "event_id", "digest"),
    )  # fmt: skip


def one_of(
    connection: sa.Connection, column: sa.ColumnElement[Any], values: Sequence[Any]
) -> sa.ColumnElement[bool]:
    """``column IN values`` with the values as one parameter, however many: one statement
    where chunks of bound values were several, each a new text for the driver to convert.
    The plan still probes the column's index once per value."""
    if connection.dialect.name == "postgresql":
        array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)
    listed = sa.func.json_each(sa.bindparam(None, json.dumps(list(values), ensure_ascii=False)))
    return column.in_(sa.select(listed.table_valued("value").c.value))
