"""A write transaction that holds the database's write lock from its first statement.

An import that reads what is loaded and then writes what is new must not interleave with a
second run of itself: on SQLite (WAL) the second one's read snapshot goes stale when the first
commits, and its first write then fails at once with ``database is locked`` (no busy wait
helps); on PostgreSQL both see nothing loaded and the second one's insert breaks a unique
key. Both ended in ``internal error``. Taking the lock first makes the second run wait for the
first and then find its rows: it records nothing twice and reports the file as loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import TypeAlias

import sqlalchemy as sa

Fence: TypeAlias = Callable[[sa.Connection], None]
"""A caller's check run first (after the lock) inside another context's writing transaction:
raising there rolls that transaction back, so the check and the write commit together or not
at all. A boundary step passes one to make sure it still holds its case (docs/boundary.md)."""


class WriteBusy(RuntimeError):
    """Another command held the database's write lock for longer than the wait allows
    (SQLite's ``busy_timeout``): nothing was written, the command may be run again."""


#: SQLite's primary result codes for a lock held by another connection (an extended code keeps
#: its primary one in the low byte: SQLITE_BUSY_SNAPSHOT is 517).
_SQLITE_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED


def busy_refusal(error: BaseException) -> WriteBusy | None:
    """The WriteBusy a command reports for ``error`` when it is SQLite's "database is locked"
    past the busy wait, met by a write outside :func:`write_transaction` (an import's own
    ``BEGIN IMMEDIATE``, a plain insert); else None. Not a defect: another command held the
    file's one write lock, and running this one again once it has finished is the remedy."""
    cause = error.orig if isinstance(error, sa.exc.DBAPIError) else error
    if not isinstance(cause, sqlite3.OperationalError):
        return None
    code = getattr(cause, "sqlite_errorcode", None)
    if code is not None and code & 0xFF not in _SQLITE_BUSY_CODES:
        return None
    if code is None and "locked" not in str(cause):
        return None
    return WriteBusy(
        "another command is writing the database and held it past the wait; this command's "
        "step under way was not written (an import skips what it committed before), run this "
        "one again when it has finished"
    )


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` from the lock's name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def write_transaction(engine: sa.Engine, name: str) -> Iterator[sa.Connection]:
    """``engine.begin()`` whose first statement takes the write lock: on SQLite ``BEGIN
    IMMEDIATE`` (the one writer of the file; waits up to the busy timeout), on PostgreSQL the
    transaction-scoped advisory lock named ``name`` (one writer of that kind; waits).

    Raises WriteBusy, naming ``name``, when SQLite's wait runs out."""
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            try:
                # The driver opens no transaction before a read: this BEGIN is the first.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except sa.exc.OperationalError as error:
                if "locked" not in str(error.orig):
                    raise
                raise WriteBusy(
                    f"{name}: another command is writing the database; nothing was written, "
                    "run this one again when it has finished"
                ) from None
        elif connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_advisory_key(name))))
        yield connection
