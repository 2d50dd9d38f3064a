"""The purge of forgotten single-use claims (``card_replays``, 顔認証の再利用防止), shared by the
two loop batchers: :mod:`kokuho.verify._audit_loop` (SQLite) and
:mod:`kokuho.verify._audit_pg` (PostgreSQL).

A batcher asks :meth:`ClaimPurge.due` after it has committed a flush that made claims, and
sends the statement it gets back as a transaction of its own: at most one purge per interval
per batcher, cheap housekeeping rather than a statement on every flush. Not inside the
flush's transaction: there a failing purge (busy, a lock timeout, a broken table) failed the
records it rode with, or forced them to be tried one by one; housekeeping must not cost a
caller its answer. The interval starts again *before* the statement is sent, so a purge that
fails is logged and tried again at the next interval. Expired claims left meanwhile are
harmless: an attestation is refused once its window has passed, whatever the table holds.
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
