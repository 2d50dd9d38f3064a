"""The purge of forgotten single-use claims (``card_replays``, 顔認証の再利用防止), shared by the
two loop batchers: :mod:`kokuho.verify._audit_loop` (SQLite) and
:mod:`kokuho.verify._audit_pg` (PostgreSQL); the same bounded delete as a SQLAlchemy
statement (:func:`bounded_purge`) for the card store's own purges of challenges and claims
(:mod:`kokuho.verify._card_store`).

A batcher asks :meth:`ClaimPurge.due` when a flush makes claims: at most one purge per
interval per batcher, cheap housekeeping rather than a statement on every flush. Housekeeping
must not cost a caller its answer, which it did when the purge was a plain statement of the
flush's transaction (a purge that failed failed the records it rode with, or forced them to
be tried one by one):

* on SQLite it stays in the flush's transaction, whose write lock it needs (the loop's
  connection never waits for a lock), inside a SAVEPOINT that a failure rolls back alone;
* on PostgreSQL it runs after the flush's batches are committed and answered, as a
  transaction of its own, on rows that no other worker's purge holds (``SKIP LOCKED``): it
  never waits on a lock.

On both, one purge deletes at most :data:`PURGE_LIMIT` rows, so a backlog of expired claims
(a server down for hours, the purge failing for a while) never makes one flush's transaction,
and the write lock every other writer waits for on SQLite, last an unbounded delete; a purge
that found that many asks for another at the next flush that makes claims
(:meth:`ClaimPurge.again`).

The interval starts again *before* the statement is sent, so a purge that fails is logged
and tried again at the next interval. Expired claims left meanwhile are harmless: an
attestation is refused once its window has passed, whatever the table holds.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Final, Generic, TypeVar

import sqlalchemy as sa

from kokuho.verify._tables import card_replays

PURGE_SECONDS: Final = 30.0  # how often forgotten rows are deleted (here and in _card_store)
#: At most this many rows a purge: the transaction it runs in (on SQLite the flush's, holding
#: the database's write lock) must not run long, however many claims expired meanwhile.
PURGE_LIMIT: Final = 1000
#: The purge for ``sqlite3`` (qmark parameters) and for psycopg (format parameters, bytes as
#: the batcher's other statements); the one parameter is the current time. SQLite has no
#: ``DELETE … LIMIT`` unless built with SQLITE_ENABLE_UPDATE_DELETE_LIMIT, hence the
#: sub-select (on the ``expires_at`` index), as on PostgreSQL.
SQLITE_PURGE: Final = (
    f'DELETE FROM "{card_replays.name}" WHERE token IN ('  # noqa: S608
    f'SELECT token FROM "{card_replays.name}" WHERE expires_at <= ? LIMIT {PURGE_LIMIT})'
)
#: On PostgreSQL, those no other purge holds: its own transaction must not wait on another
#: worker's purge.
PG_PURGE: Final = (
    f'DELETE FROM "{card_replays.name}" WHERE token IN ('  # noqa: S608
    f'SELECT token FROM "{card_replays.name}" WHERE expires_at <= %s '
    f"LIMIT {PURGE_LIMIT} FOR UPDATE SKIP LOCKED)"
).encode()

_Statement = TypeVar("_Statement", str, bytes)


def bounded_purge(table: sa.Table, key: sa.Column[Any], column: sa.Column[Any]) -> sa.Delete:
    """:data:`SQLITE_PURGE` and :data:`PG_PURGE` for any table of rows that expire: at most
    :data:`PURGE_LIMIT` rows whose ``column`` is at or before the parameter ``now``, chosen by
    the primary key ``key`` in a sub-select (SQLite has no ``DELETE … LIMIT``); on PostgreSQL
    only rows no other purge holds (``SKIP LOCKED``, which SQLite's compiler leaves out)."""
    chosen = (
        sa.select(key)
        .where(column <= sa.bindparam("now"))
        .limit(PURGE_LIMIT)
        .with_for_update(skip_locked=True)
    )
    return table.delete().where(key.in_(chosen.scalar_subquery()))


class ClaimPurge(Generic[_Statement]):
    """When a batcher's next purge is due, and the statement and parameters to send."""

    __slots__ = ("_next", "_statement")

    def __init__(self, statement: _Statement) -> None:
        self._statement: _Statement = statement
        self._next = 0.0

    def due(self) -> tuple[_Statement, tuple[dt.datetime]] | None:
        """The statement and its parameters when a purge is due (the next one is then
        :data:`PURGE_SECONDS` away, whether this one succeeds or not), otherwise None."""
        clock = time.monotonic()
        if clock < self._next:
            return None
        self._next = clock + PURGE_SECONDS
        return self._statement, (dt.datetime.now(dt.UTC),)

    def again(self) -> None:
        """The next flush that makes claims purges again (the last one left rows behind)."""
        self._next = 0.0
