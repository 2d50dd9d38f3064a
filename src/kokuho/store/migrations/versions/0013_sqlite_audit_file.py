"""On SQLite, the audit log (監査記録) and the single-use claims move into a file of their own.

Every commit to a SQLite file costs its readers: the page cache is discarded at their next read
transaction, and while the WAL holds frames every page fetched is looked up in its index. The
audit commits several times a second under load, so the eligibility check's look-up cost 3.7
times what it costs alone at 1 M persons (benchmarks/bench_sqlite_reads.py). ``audit_log`` and
``card_replays`` now live in ``<name>-audit.db`` beside the register, which every connection
attaches (``kokuho.store.audit_database``): every query names them as before.

Nothing of the log may be lost on the way, and SQLite in WAL mode commits a transaction over
two files one file after the other (the register first). So the rows are copied by a
connection of their own to the audit file and committed there first; only then does the
migration's transaction drop the register's tables. Killed in between, the next run copies
again (``INSERT OR IGNORE``: the rows already there stay) and then drops. A register whose
tables are still empty (a new one) moves them in the migration's own transaction.
PostgreSQL is not concerned: its shared buffers are not discarded by a commit.

Revision ID: 0013
Revises: 0012
"""

import sqlite3
from typing import Any

from alembic import op

revision = "0013"
down_revision = "0012"

_TABLES = ("audit_log", "card_replays")
_SCHEMA = "audit"  # kokuho.store.AUDIT_SCHEMA (migrations import nothing of the package)


def _ddl(bind: Any, schema: str, table: str) -> tuple[str | None, list[str]]:
    """The CREATE TABLE and CREATE INDEX statements of ``schema.table`` (None: no table)."""
    rows = bind.exec_driver_sql(
        f"SELECT type, sql FROM {schema}.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL",
        (table,),
    ).all()
    create = next((sql for kind, sql in rows if kind == "table"), None)
    return create, [sql for kind, sql in rows if kind == "index"]


def _into(create: str, indexes: list[str], table: str, schema: str | None) -> list[str]:
    """The statements that create ``table`` and its indexes (if not there) in ``schema``
    (None: the connection's main file)."""
    prefix = f"{schema}." if schema else ""
    head = f"CREATE TABLE {table}"
    if not create.startswith(head):
        raise RuntimeError(f"0013: unexpected definition of {table}: {create[:60]!r}")
    out = [create.replace(head, f"CREATE TABLE IF NOT EXISTS {prefix}{table}", 1)]
    for index in indexes:
        if not index.startswith("CREATE INDEX "):
            raise RuntimeError(f"0013: unexpected index of {table}: {index[:60]!r}")
        out.append(index.replace("CREATE INDEX ", f"CREATE INDEX IF NOT EXISTS {prefix}", 1))
    return out


def _move(source: str, target: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    files = {row[1]: row[2] for row in bind.exec_driver_sql("PRAGMA database_list").all()}
    if target not in files or source not in files:
        raise RuntimeError(f"0013: the {_SCHEMA!r} file is not attached (kokuho.store.connect)")
    found = {table: _ddl(bind, source, table) for table in _TABLES}
    moving = {table: ddl for table, ddl in found.items() if ddl[0] is not None}
    # First the rows that must not be lost, each table's committed in the target file by a
    # connection of its own (upgrade only: a downgrade's target is the register, whose write
    # lock this transaction may hold).
    copied = set()
    for table, (create, indexes) in moving.items():
        assert create is not None  # noqa: S101  (filtered above; for mypy)
        empty = bind.exec_driver_sql(f"SELECT NOT EXISTS (SELECT 1 FROM {source}.{table})")
        if not empty.scalar() and files[source] and files[target] and target == _SCHEMA:
            _copy_committed(files[source], files[target], create, indexes, table)
            copied.add(table)
    # Then, in this transaction, what is left (empty tables, a database in memory, a
    # downgrade), and the source's tables dropped.
    for table, (create, indexes) in moving.items():
        assert create is not None  # noqa: S101
        if table not in copied:
            for statement in _into(create, indexes, table, target):
                bind.exec_driver_sql(statement)
            bind.exec_driver_sql(
                f"INSERT OR IGNORE INTO {target}.{table} SELECT * FROM {source}.{table}"
            )
        bind.exec_driver_sql(f"DROP TABLE {source}.{table}")


def _copy_committed(source: str, target: str, create: str, indexes: list[str], table: str) -> None:
    """``table``'s rows copied from the file ``source`` into the file ``target`` and committed
    there, by a connection of its own, before the caller drops them from ``source``."""
    connection = sqlite3.connect(target, isolation_level=None, timeout=30)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("ATTACH DATABASE ? AS moved_from", (source,))
        connection.execute("BEGIN IMMEDIATE")
        for statement in _into(create, indexes, table, None):
            connection.execute(statement)
        connection.execute(f"INSERT OR IGNORE INTO main.{table} SELECT * FROM moved_from.{table}")
        connection.execute("COMMIT")
    finally:
        connection.close()


def upgrade() -> None:
    _move("main", _SCHEMA)


def downgrade() -> None:
    _move(_SCHEMA, "main")
