"""The purge of forgotten single-use claims (``card_replays``, 顔認証の再利用防止), shared by the
two loop batchers: :mod:`kokuho.verify._audit_loop` (SQLite) and
:mod:`kokuho.verify._audit_pg` (PostgreSQL).

A batcher asks :meth:`ClaimPurge.due` when a flush makes claims, and sends the statement it
gets back in that flush's transaction, before the claims: at most one purge per interval per
batcher, cheap housekeeping rather than a statement on every flush.
The interval starts again *before* the statement is sent: a purge that fails fails the
batch it rode as any failing statement of the batch does (the batcher tries its records again
one by one, or later when SQLite was busy), and those tries do not purge, nor does any flush
before the next interval.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Final, Generic, TypeVar

from kokuho.verify._tables import card_replays

PURGE_SECONDS: Final = 30.0  # how often forgotten claims are deleted (as _card_store does)
_DELETE = f'DELETE FROM "{card_replays.name}" WHERE expires_at <= '  # noqa: S608
#: The purge for ``sqlite3`` (qmark parameters) and for psycopg (format parameters, bytes as
#: the batcher's other statements); the one parameter is the current time.
SQLITE_PURGE: Final = _DELETE + "?"
PG_PURGE: Final = (_DELETE + "%s").encode()

_Statement = TypeVar("_Statement", str, bytes)


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
