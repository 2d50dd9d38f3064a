"""The audit group commit on the event loop (SQLite): 監査記録 of the requests one loop serves.

Requests served on an event loop hand their record to the loop's :class:`LoopAuditBatcher`
and await a future. One flush per loop turn writes every record that arrived during the turn
in one transaction on the batcher's own ``sqlite3`` connection (statements prepared once by the
driver's statement cache), then settles the futures: a request's answer leaves only after its
record is committed, with no thread hand-off and no lock shared with the GIL's other holders.

The write lock is taken without waiting (``BEGIN IMMEDIATE`` with no busy timeout): when
another process or the thread writer holds it, the flush is tried again a moment later and
the loop goes on serving requests meanwhile, instead of sleeping in SQLite's busy handler.

As :class:`~kokuho.verify._audit.AuditWriter`, a batch that fails is retried record by
record, so one caller's failure never reaches another caller's answer.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass, field

from kokuho.store import _bulk  # noqa: F401  (registers the datetime adapter SQLite stores)
from kokuho.verify._audit import _COLUMNS, GENESIS, AuditRecord, _values, record_hash
from kokuho.verify._tables import audit_log

_RETRY_SECONDS = 0.0005  # the wait before trying the write lock again (a commit is ~0.1 ms)
_HEAD = f'SELECT seq, hash FROM "{audit_log.name}" ORDER BY seq DESC LIMIT 1'  # noqa: S608
_INSERT = (
    f'INSERT INTO "{audit_log.name}" ({", ".join(_COLUMNS)}) '  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)


@dataclass
class _Pending:
    record: AuditRecord
    detail: str
    future: asyncio.Future[int]
    deadline: float = field(default=0.0)


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
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._scheduled = False

    def submit(self, record: AuditRecord, detail: str, timeout: float) -> asyncio.Future[int]:
        """Queues a checked record (its detail JSON made by ``check_record``); the future
        gives its sequence number once it is committed."""
        future: asyncio.Future[int] = self._loop.create_future()
        self._pending.append(_Pending(record, detail, future, time.monotonic() + timeout))
        if not self._scheduled:
            # After the callbacks already ready in this turn: they add their records first.
            self._scheduled = True
            self._loop.call_soon(self._flush)
        return future

    def close(self) -> None:
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
            if "locked" in str(error) or "busy" in str(error):
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
            rows = []
            for item in batch:
                seq += 1
                values = _values(item.record, item.detail)
                digest = record_hash(prev, seq, values)
                rows.append((seq, *values.values(), prev, digest))
                prev = digest
            self._connection.executemany(_INSERT, rows)
            self._connection.execute("COMMIT")
        except Exception as error:  # whatever it was, no record of the batch is written
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            if len(batch) == 1:
                self._fail(batch, error)
                return
            # One record may have failed them all: alone, each record gets its own outcome.
            for index, item in enumerate(batch):
                if not self._begin(batch[index:]):
                    return
                self._commit([item])
            return
        first = seq - len(batch) + 1
        for offset, item in enumerate(batch):
            if not item.future.done():
                item.future.set_result(first + offset)

    def _fail(self, batch: list[_Pending], error: Exception) -> None:
        for item in batch:
            if not item.future.done():
                failure = RuntimeError("the audit log could not be written")
                failure.__cause__ = error
                item.future.set_exception(failure)
