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

import functools
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kokuho.registry._tables import coverages, feed_events


def _joined(
    connection: sa.Connection,
    table: sa.Table,
    names: tuple[str, ...],
    keys: Sequence[tuple[str, ...]],
    wanted: tuple[str, ...],
) -> list[sa.Row[Any]]:
    if not keys:
        return []
    dialect = connection.dialect.name
    statement = _joined_statement(dialect, table, names, wanted)
    if dialect == "postgresql":
        params: dict[str, Any] = {f"k{i}": [key[i] for key in keys] for i in range(len(names))}
    else:
        params = {"keys": json.dumps(keys, ensure_ascii=False)}
    return list(connection.execute(statement, params))


@functools.cache
def _joined_statement(
    dialect: str, table: sa.Table, names: tuple[str, ...], wanted: tuple[str, ...]
) -> sa.TextualSelect:
    """Built once per dialect and look-up: a statement object keeps its cache key, which a new
    one per file computed again (with its construction, a tenth of a small file's import)."""
    selected = ", ".join(f"t.{name}" for name in wanted)
    if dialect == "postgresql":
        arrays = ", ".join(f"CAST(:k{i} AS text[])" for i in range(len(names)))
        on = " AND ".join(f"t.{name} = w.k{i}" for i, name in enumerate(names))
        columns = ", ".join(f"k{i}" for i in range(len(names)))
        sql = (
            f"SELECT {selected} FROM unnest({arrays}) AS w({columns}) "
            f"JOIN {table.name} AS t ON {on}"
        )
    else:
        on = " AND ".join(f"t.{name} = w.value ->> {i}" for i, name in enumerate(names))
        sql = f"SELECT {selected} FROM json_each(:keys) AS w CROSS JOIN {table.name} AS t ON {on}"
    return sa.text(sql).columns(*(table.c[name] for name in wanted))


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


def in_values(dialect: str, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """``column IN values`` with the values as one parameter named ``values``, however many
    (:func:`values_param`): one statement where chunks of bound values were several, each a
    new text for the driver to convert. The plan still probes the column's index once per
    value. For statements built once and executed per file."""
    if dialect == "postgresql":
        array = sa.bindparam("values", type_=postgresql.ARRAY(column.type))
        return column == sa.any_(array)
    listed = sa.func.json_each(sa.bindparam("values", type_=sa.String))
    return column.in_(sa.select(listed.table_valued("value").c.value))


def values_param(dialect: str, values: Sequence[Any]) -> Any:
    """The ``values`` parameter of :func:`in_values`."""
    if dialect == "postgresql":
        return list(values)
    return json.dumps(list(values), ensure_ascii=False)
