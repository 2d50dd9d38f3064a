"""The audit group commit on the event loop (PostgreSQL): 監査記録 of the requests one loop serves.

As :mod:`kokuho.verify._audit_loop` does for SQLite: requests served on an event loop hand
their record to the loop's :class:`PgLoopAuditBatcher` and await a future; one flush writes
every record that arrived meanwhile in one transaction on the batcher's own
``psycopg.AsyncConnection`` to the primary, then settles the futures. An answer leaves only
after its record is committed, without the writer thread's hand-offs (a queue, a thread
wake-up, a ``call_soon_threadsafe`` back to the loop) and without SQLAlchemy.

The transaction is the writer thread's (:func:`kokuho.verify._audit.append`): the chain's
advisory lock (one chain across every worker process and the thread writer), the head, then
the new records (one statement, a column per array), then the commit: three round trips, the
first three statements in one. While one
flush travels, the loop goes on serving requests and their records wait for the next flush.

A batch that fails is retried record by record, so one caller's failure never reaches another
caller's answer. Used when no spool is configured (with one, records go through the writer
thread, which spools them while the primary is down).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kokuho.verify._audit import _COLUMNS, _LOCK_ID, GENESIS, AuditRecord, _values, record_hash
from kokuho.verify._tables import audit_log

log = logging.getLogger(__name__)
# The first round trip of a batch: the transaction, the chain's lock, then the head, read by
# a statement of its own after the lock is held (simple protocol: constants only, no input).
_BEGIN = (
    f"BEGIN; SELECT pg_advisory_xact_lock({_LOCK_ID}); "
    f'SELECT seq, hash FROM "{audit_log.name}" ORDER BY seq DESC LIMIT 1'  # noqa: S608
)


_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]


def _array_type(column: sa.Column[Any]) -> str:
    # Text for the strings: the assignment to the column still refuses a value too long,
    # where a cast to varchar(n) would cut it short.
    if isinstance(column.type, sa.String):
        return "text[]"
    return f"{column.type.compile(dialect=_DIALECT)}[]"


# The second: every record of the batch in one prepared statement, whatever the batch's size
# (one array parameter per column).
_INSERT = (
    f'INSERT INTO "{audit_log.name}" ({", ".join(_COLUMNS)}) SELECT * FROM unnest('  # noqa: S608
    + ", ".join(f"%s::{_array_type(audit_log.c[name])}" for name in _COLUMNS)
    + ")"
)


@dataclass(eq=False)
class _Pending:
    record: AuditRecord
    detail: str
    future: asyncio.Future[int]


class PgLoopAuditBatcher:
    """Group commit for the requests of one event loop, on one connection to the primary."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, kwargs: dict[str, Any], *, max_batch: int = 500
    ) -> None:
        self._loop = loop
        self._kwargs = kwargs
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._flushing = False
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None

    def submit(self, record: AuditRecord, detail: str) -> asyncio.Future[int]:
        """Queues a checked record (its detail JSON made by ``check_record``); the future
        gives its sequence number once it is committed."""
        future: asyncio.Future[int] = self._loop.create_future()
        self._pending.append(_Pending(record, detail, future))
        if not self._flushing:
            # The task's first step runs after the callbacks already ready in this turn:
            # they add their records to the same batch.
            self._flushing = True
            self._task = self._loop.create_task(self._flush())
        return future

    def close(self) -> None:
        if self._task is not None and not self._task.done() and not self._loop.is_closed():
            self._task.cancel()
        if self._connection is not None:
            # Without the loop (it may be closed): an open transaction is rolled back.
            self._connection.pgconn.finish()
            self._connection = None

    async def _flush(self) -> None:
        try:
            while self._pending:
                # A request that gave up (timeout, client gone) has no answer to wait for.
                live = [item for item in self._pending if not item.future.done()]
                # Beyond the batch's size, records wait with those arriving meanwhile.
                batch, self._pending = live[: self._max_batch], live[self._max_batch :]
                if batch:
                    await self._commit(batch)
        finally:
            self._flushing = False
            if self._pending:  # cancelled mid-flush: those left fail rather than hang
                _fail(self._pending, RuntimeError("the audit writer was closed"))
                self._pending = []

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            first = await self._append(batch)
        except Exception as error:  # whatever it was, no record of the batch is written
            if self._connection is not None and (
                self._connection.closed or self._connection.broken
            ):
                self._connection = None
            if len(batch) == 1:
                _fail(batch, error)
                return
            # One record may have failed them all: alone, each record gets its own outcome.
            for item in batch:
                await self._commit([item])
            return
        except BaseException:  # cancelled (the writer closes): nothing more will settle them
            _fail(batch, RuntimeError("the audit writer was closed"))
            raise
        for offset, item in enumerate(batch):
            if not item.future.done():
                item.future.set_result(first + offset)

    async def _append(self, batch: list[_Pending]) -> int:
        """Appends the batch's records to the chain in one transaction; returns the first seq."""
        connection = self._connection
        if connection is None:
            connection = await psycopg.AsyncConnection.connect(
                autocommit=True, prepare_threshold=0, **self._kwargs
            )
            self._connection = connection
        cursor = connection.cursor()
        try:
            await cursor.execute(_BEGIN, prepare=False)
            cursor.nextset()
            cursor.nextset()
            head = await cursor.fetchone()
            seq, prev = (head[0], head[1]) if head else (0, GENESIS)
            first = seq + 1
            rows = []
            for item in batch:
                seq += 1
                values = _values(item.record, item.detail)
                digest = record_hash(prev, seq, values)
                rows.append((seq, *values.values(), prev, digest))
                prev = digest
            await cursor.execute(
                _INSERT, [list(column) for column in zip(*rows, strict=True)], prepare=True
            )
            await cursor.execute("COMMIT", prepare=False)
        except BaseException:
            await _roll_back(connection)
            raise
        return first  # committed


async def _roll_back(connection: psycopg.AsyncConnection[Any]) -> None:
    """Leaves ``connection`` outside any transaction, or closed."""
    status = connection.info.transaction_status
    if status == psycopg.pq.TransactionStatus.IDLE or connection.closed:
        return
    if status in (psycopg.pq.TransactionStatus.INTRANS, psycopg.pq.TransactionStatus.INERROR):
        try:
            await connection.execute("ROLLBACK", prepare=False)
            return
        except Exception:  # noqa: BLE001, S110  (closed below: the next batch reconnects)
            pass
    # Mid-statement (cancelled) or broken: the server rolls back when the session ends.
    connection.pgconn.finish()


def _fail(batch: list[_Pending], error: Exception) -> None:
    for item in batch:
        if not item.future.done():
            failure = RuntimeError("the audit log could not be written")
            failure.__cause__ = error
            item.future.set_exception(failure)
