"""The audit group commit on the event loop (SQLite): 監査記録 of the requests one loop serves.

Requests served on an event loop hand their record to the loop's :class:`LoopAuditBatcher`
and await a future. One flush per loop turn writes every record that arrived during the turn
in one transaction on the batcher's own ``sqlite3`` connection (statements prepared once by the
driver's statement cache), then settles the futures: a request's answer leaves only after its
record is committed, with no thread hand-off and no lock shared with the GIL's other holders.

The write lock is taken without waiting (``BEGIN IMMEDIATE`` with no busy timeout): when
another process or the thread writer holds it, the flush is tried again a moment later and
the loop goes on serving requests meanwhile, instead of sleeping in SQLite's busy handler.
No checkpoint runs inside the loop's ``COMMIT``: a thread copies the WAL into the database
(:mod:`kokuho.verify._wal_checkpoint`).

As :class:`~kokuho.verify._audit.AuditWriter`, a batch that fails is retried record by
record, so one caller's failure never reaches another caller's answer.

A record may carry a single-use claim (a face attestation's token, 顔認証の再利用防止): the
claim is inserted into ``card_replays`` in the same transaction, just before its record, and
when the token is already there (another request, another worker) the record is not written
and the request's future fails with :class:`AlreadyClaimed`. One write lock per flush serves
both, where a claim in its own transaction (in a thread) competed with the flush for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
import time
from dataclasses import dataclass, field

import kokuho.store  # noqa: F401  (its bulk module registers the datetime adapter SQLite stores)
from kokuho.verify._audit_chain import AUDIT_COLUMNS, GENESIS, chain_rows
from kokuho.verify._audit_purge import PURGE_LIMIT, SQLITE_PURGE, ClaimPurge
from kokuho.verify._audit_record import AuditRecord
from kokuho.verify._tables import audit_log, card_replays
from kokuho.verify._wal_checkpoint import Checkpointer, transient

log = logging.getLogger(__name__)

_CLAIM = (
    f'INSERT INTO "{card_replays.name}" (token, expires_at) VALUES (?, ?) '  # noqa: S608
    "ON CONFLICT DO NOTHING RETURNING token"
)
_RETRY_SECONDS = 0.0005  # the wait before trying the write lock again (a commit is ~0.1 ms)
_HEAD = f'SELECT seq, hash FROM "{audit_log.name}" ORDER BY seq DESC LIMIT 1'  # noqa: S608
_INSERT = (
    f'INSERT INTO "{audit_log.name}" ({", ".join(AUDIT_COLUMNS)}) '  # noqa: S608
    f"VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})"
)


class AlreadyClaimed(Exception):
    """The record's single-use claim was made before (a replay): nothing was written."""


#: A single-use claim: the token and when it may be forgotten.
Claim = tuple[str, dt.datetime]


@dataclass(eq=False)  # identity: a batch's items are told apart by ``in``
class _Pending:
    record: AuditRecord
    detail: str
    future: asyncio.Future[int]
    deadline: float = field(default=0.0)
    claim: Claim | None = None


class LoopAuditBatcher:
    """Group commit for the requests of one event loop, on one SQLite connection."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, database: str, *, max_batch: int = 500
    ) -> None:
        self._loop = loop
        # isolation_level=None: the transaction is exactly the BEGIN … COMMIT written below.
        # check_same_thread=False: only this loop's thread uses it, but the loop may be
        # closed from another thread.
        self._connection = sqlite3.connect(
            database, isolation_level=None, check_same_thread=False, timeout=0
        )
        self._connection.execute("PRAGMA synchronous=NORMAL")
        # No checkpoint inside a COMMIT on the loop: SQLite's automatic one (every 1,000 WAL
        # pages) copies the WAL into the database and syncs both files (5–40 ms measured)
        # in the committing call, while every request of the process waits. The
        # checkpointer's thread does it (verify/_wal_checkpoint.py).
        self._connection.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer = Checkpointer(database)
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._scheduled = False
        self._purge = ClaimPurge(SQLITE_PURGE)

    def submit(
        self, record: AuditRecord, detail: str, timeout: float, claim: Claim | None = None
    ) -> asyncio.Future[int]:
        """Queues a checked record (its detail JSON made by ``check_record``); the future
        gives its sequence number once it is committed, or fails with
        :class:`AlreadyClaimed` when ``claim`` was made before (then nothing is written)."""
        future: asyncio.Future[int] = self._loop.create_future()
        deadline = time.monotonic() + timeout
        if claim is not None:
            # Stored in UTC: sqlite3 writes the time as text with the offset it was given, and
            # the purge compares that text with its UTC time, so a claim dated in another
            # offset (the terminal's) would be purged hours early, its replay then accepted.
            claim = (claim[0], claim[1].astimezone(dt.UTC))
        self._pending.append(_Pending(record, detail, future, deadline, claim))
        if not self._scheduled:
            # After the callbacks already ready in this turn: they add their records first.
            self._scheduled = True
            self._loop.call_soon(self._flush)
        return future

    def close(self) -> None:
        self._checkpointer.close()
        self._connection.close()

    def _flush(self) -> None:
        self._scheduled = False
        # A request that gave up (timeout, client gone) has no answer to wait for.
        pending = [item for item in self._pending if not item.future.done()]
        self._pending = []
        while pending:
            batch, pending = pending[: self._max_batch], pending[self._max_batch :]
            if not self._begin(batch + pending):
                return
            self._commit(batch)

    def _begin(self, waiting: list[_Pending]) -> bool:
        """Takes the write lock; False (``waiting`` queued again or failed) when it cannot."""
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if transient(error):
                self._later(waiting)
            else:
                self._fail(waiting, error)
            return False
        return True

    def _later(self, waiting: list[_Pending]) -> None:
        """Someone else holds the write lock: try again shortly, failing only the requests
        whose wait is over."""
        now = time.monotonic()
        late = [item for item in waiting if item.deadline <= now]
        for item in late:
            if not item.future.done():
                item.future.set_exception(TimeoutError("the audit log did not commit in time"))
        self._pending = [item for item in waiting if item.deadline > now] + self._pending
        if self._pending and not self._scheduled:
            self._scheduled = True
            self._loop.call_later(_RETRY_SECONDS, self._flush)

    def _commit(self, batch: list[_Pending]) -> None:
        """Writes ``batch`` inside the transaction just begun and settles its futures."""
        try:
            head = self._connection.execute(_HEAD).fetchone()
            seq, prev = (head[0], head[1]) if head else (0, GENESIS)
            refused = self._claim(batch)
            winners = [(i.record, i.detail) for i in batch if i not in refused]
            rows = chain_rows(winners, seq, prev)
            self._connection.executemany(_INSERT, rows)
            self._connection.execute("COMMIT")
            self._checkpointer.committed()
        except Exception as error:  # whatever it was, no record of the batch is written
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            if isinstance(error, sqlite3.OperationalError) and transient(error):
                # With no busy handler SQLite can answer "busy" inside a transaction too (a
                # checkpoint or another connection's recovery under load): the batch is
                # tried again, like a lock held at BEGIN, not failed.
                self._later(batch)
                return
            if len(batch) == 1:
                self._fail(batch, error)
                return
            # One record may have failed them all: alone, each record gets its own outcome.
            for index, item in enumerate(batch):
                if not self._begin(batch[index:]):
                    return
                self._commit([item])
            return
        for item in batch:
            if item.future.done():
                continue
            if item in refused:
                item.future.set_exception(AlreadyClaimed(item.claim))
        settled = [item for item in batch if item not in refused]
        first = seq + 1  # the winners follow the head read above, in order
        for offset, item in enumerate(settled):
            if not item.future.done():
                item.future.set_result(first + offset)

    def _claim(self, batch: list[_Pending]) -> list[_Pending]:
        """Makes the batch's claims inside its transaction; returns the items whose claim was
        made before (their records are not written)."""
        claims = [item for item in batch if item.claim is not None]
        if not claims:
            return []
        self._purge_expired()
        refused = []
        for item in claims:
            assert item.claim is not None  # noqa: S101  (filtered above; for the type checker)
            if self._connection.execute(_CLAIM, item.claim).fetchone() is None:
                refused.append(item)
        return refused

    def _purge_expired(self) -> None:
        """Deletes the forgotten claims when a purge is due, inside the batch's transaction
        (its write lock already held: a statement of its own would have to win the lock again,
        on a connection that never waits for it) but within a SAVEPOINT: a purge that fails
        is rolled back alone, logged, and costs no caller its record; the next interval tries
        again."""
        purge = self._purge.due()
        if purge is None:
            return
        self._connection.execute("SAVEPOINT purge")
        try:
            deleted = self._connection.execute(*purge).rowcount
        except sqlite3.Error as error:
            if not self._connection.in_transaction:
                # SQLite rolled the whole transaction back (disk full, I/O error): the batch
                # fails with the real error, as any statement of it would.
                raise
            self._connection.execute("ROLLBACK TO purge")
            log.warning("the purge of expired card claims failed (tried again later): %s", error)
        else:
            if deleted >= PURGE_LIMIT:  # more may be left: the next such flush goes on
                self._purge.again()
        self._connection.execute("RELEASE purge")

    def _fail(self, batch: list[_Pending], error: Exception) -> None:
        for item in batch:
            if not item.future.done():
                failure = RuntimeError("the audit log could not be written")
                failure.__cause__ = error
                item.future.set_exception(failure)
