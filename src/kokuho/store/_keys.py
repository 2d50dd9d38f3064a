"""Looking up many composite keys at once.

``(a, b, c, d) IN ((?, ?, ?, ?), …)`` is not planned through an index by SQLite: every chunk
scans the table, which at a million rows costs seconds. A temporary table of the wanted keys
joined to the indexed table probes the index once per key instead, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from kokuho.store._bulk import bulk_insert

_names = itertools.count()


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size``, to keep a statement's parameters under the limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextmanager
def key_table(
    connection: sa.Connection, columns: dict[str, sa.types.TypeEngine[Any]],
    keys: Sequence[tuple[Any, ...]],
) -> Iterator[sa.Table]:  # fmt: skip
    """A temporary table holding ``keys``, dropped on leaving; join it to the real table."""
    table = sa.Table(
        f"wanted_keys_{next(_names)}",
        sa.MetaData(),
        *(sa.Column(name, kind) for name, kind in columns.items()),
        prefixes=["TEMPORARY"],
    )
    # Plain DDL: the table is new each time, so SQLAlchemy's DDL compiler (no cache) cost
    # more than the look-up itself on the small files of a monthly feed.
    preparer = connection.dialect.identifier_preparer
    types = connection.dialect.type_compiler_instance
    target = preparer.format_table(table)
    definition = ", ".join(
        f"{preparer.quote(name)} {types.process(kind)}" for name, kind in columns.items()
    )
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE {target} ({definition})")
    try:
        bulk_insert(connection, table, list(columns), keys)
        yield table
    finally:
        connection.exec_driver_sql(f"DROP TABLE {target}")
