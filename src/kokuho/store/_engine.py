from __future__ import annotations

import contextlib
import datetime as dt
import functools
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from kokuho.store._files import exclusive_lock

#: One MetaData for every context's tables; each context registers its own on import.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_MIGRATIONS = Path(__file__).parent / "migrations"


#: The schema name under which a SQLite register's audit file is attached.
AUDIT_SCHEMA: Final = "audit"


@functools.lru_cache(maxsize=64)
def audit_database(database: str) -> str:
    """The SQLite file that holds the audit log (監査記録) and the single-use claims beside a
    register's file ``database``: ``kokuho.db`` → ``kokuho-audit.db``.

    Every commit to a SQLite file costs every reader of it: its page cache is discarded at its
    next read transaction, and while the WAL holds frames every page it fetches is first
    looked up in the WAL's index. The audit commits several times a second under load, and
    at 1 M persons a check's look-up then cost 3.7 times what it costs alone
    (benchmarks/bench_sqlite_reads.py); in a file of its own the audit leaves the register's
    readers alone."""
    path = Path(database)
    # Cached: a face check asks on every call, and the path arithmetic cost more than the
    # rest of its bookkeeping.
    return str(path.with_name(f"{path.stem}-{AUDIT_SCHEMA}{path.suffix}"))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    files = {row[1]: row[2] for row in cursor.execute("PRAGMA database_list").fetchall()}
    if AUDIT_SCHEMA not in files:
        # The audit file, attached: its tables (audit_log, card_replays) are named without a
        # schema everywhere, and SQLite finds a name not in main in the attached files.
        main = files.get("main")
        cursor.execute(f"ATTACH DATABASE ? AS {AUDIT_SCHEMA}",
                       (audit_database(main) if main else ":memory:",))  # fmt: skip
        cursor.execute(f"PRAGMA {AUDIT_SCHEMA}.journal_mode=WAL")
        cursor.execute(f"PRAGMA {AUDIT_SCHEMA}.synchronous=NORMAL")
    # WAL lets eligibility reads run while an import writes; NORMAL is durable at each
    # checkpoint and safe against corruption in WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Eligibility checks are random point reads: map the file (address space, not memory) and
    # keep a larger page cache, so the B-tree's upper levels stay resident at 10 M persons.
    cursor.execute("PRAGMA mmap_size=17179869184")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def connect(url: str, *, migrate: bool = True, **engine_options: Any) -> sa.Engine:
    """Opens the database at ``url`` and brings its schema up to date."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) not in ("", ":memory:"):
            path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **engine_options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    if migrate:
        upgrade(engine)
    return engine


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Runs the Alembic migrations up to ``revision``, one process at a time.

    Two processes that open a new database at once (two service workers, a command beside the
    service) both found no schema and both created it: the second failed on a unique key
    (PostgreSQL's ``alembic_version`` type) or on a table already there. Under the lock the
    second one finds the schema at ``revision`` and does nothing."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with _sqlite_migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Before Alembic reads the version: each statement then sees what the holder
            # committed (READ COMMITTED).
            connection.execute(migration_lock())
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


#: The class of the migration lock's two-part advisory key; the other part is the schema's
#: (migrations of two schemas of one database do not wait for each other).
MIGRATION_LOCK_CLASS: Final = 0x6B6F6D67  # "komg"


def migration_lock(function: str = "pg_advisory_xact_lock") -> sa.Select[Any]:
    """The statement that takes (``function``) the migration lock of the current schema."""
    schema_key = sa.func.hashtext(sa.func.current_schema())
    return sa.select(getattr(sa.func, function)(MIGRATION_LOCK_CLASS, schema_key))


def _sqlite_migration_lock(engine: sa.Engine) -> contextlib.AbstractContextManager[None]:
    """A file lock beside a SQLite database file while it is migrated. A file lock rather
    than SQLite's own (``BEGIN IMMEDIATE``) leaves the migrations' statements running as they
    always have: the driver opens no transaction for DDL."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return contextlib.nullcontext()
    return exclusive_lock(Path(f"{database}-migrations.lock"))


def stored_utc(value: dt.datetime) -> dt.datetime:
    """A timestamp read back from the database, zone-aware: SQLite gives the UTC it stored
    without its zone (PostgreSQL's ``timestamptz`` keeps it)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
