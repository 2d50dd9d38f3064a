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

A record may carry a single-use claim (a face attestation's token, 顔認証の再利用防止), as on
SQLite (:mod:`kokuho.verify._audit_loop`): the batch's claims are inserted into
``card_replays`` in the batch's transaction, after the chain's lock and before the records,
by one ``INSERT … ON CONFLICT DO NOTHING RETURNING``. A record whose claim was made before (by
an earlier batch, another worker, or an earlier record of the same batch) is not written and
its future fails with :class:`~kokuho.verify._audit_loop.AlreadyClaimed`; the batch's other
records commit. A claim committed by another worker's transaction still in flight waits for
it (the unique index), then is refused.

A batch that fails is retried record by record, so one caller's failure never reaches another
caller's answer. Used when no spool is configured (with one, records go through the writer
thread, which spools them while the primary is down).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kokuho.verify._audit import _COLUMNS, _LOCK_ID, GENESIS, AuditRecord, chain_rows
from kokuho.verify._audit_loop import AlreadyClaimed, Claim
from kokuho.verify._tables import audit_log, card_replays

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


# The batch's claims in one statement; the tokens returned are those claimed now. A token
# twice in the batch is inserted once: its later items find it taken.
_CLAIM = (
    f'INSERT INTO "{card_replays.name}" (token, expires_at) '  # noqa: S608
    "SELECT * FROM unnest(%s::text[], %s::timestamptz[]) ON CONFLICT DO NOTHING RETURNING token"
)
_PURGE = f'DELETE FROM "{card_replays.name}" WHERE expires_at <= %s'  # noqa: S608
_PURGE_SECONDS = 30.0  # how often forgotten claims are deleted (as _card_store does)


@dataclass(eq=False)  # identity: a batch's items are told apart by ``in``
class _Pending:
    record: AuditRecord
    detail: str
    future: asyncio.Future[int]
    claim: Claim | None = None


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
        self._next_purge = 0.0

    def submit(
        self, record: AuditRecord, detail: str, claim: Claim | None = None
    ) -> asyncio.Future[int]:
        """Queues a checked record (its detail JSON made by ``check_record``); the future
        gives its sequence number once it is committed, or fails with
        :class:`AlreadyClaimed` when ``claim`` was made before (then nothing is written)."""
        if claim is not None and len(claim[0]) > card_replays.c.token.type.length:  # type: ignore[attr-defined]
            raise ValueError("replay token too long")
        future: asyncio.Future[int] = self._loop.create_future()
        self._pending.append(_Pending(record, detail, future, claim))
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
            first, refused = await self._append(batch)
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
        settled = [item for item in batch if item not in refused]
        for item in refused:
            if not item.future.done():
                item.future.set_exception(AlreadyClaimed(item.claim))
        for offset, item in enumerate(settled):
            if not item.future.done():
                item.future.set_result(first + offset)

    async def _append(self, batch: list[_Pending]) -> tuple[int, list[_Pending]]:
        """Makes the batch's claims and appends the records of the others to the chain, in
        one transaction; returns the first seq and the items whose claim was made before."""
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
            refused = await self._claim(cursor, batch)
            winners = [(i.record, i.detail) for i in batch if i not in refused]
            rows = chain_rows(winners, seq, prev)
            if rows:
                await cursor.execute(
                    _INSERT, [list(column) for column in zip(*rows, strict=True)], prepare=True
                )
            await cursor.execute("COMMIT", prepare=False)
        except BaseException:
            await _roll_back(connection)
            raise
        return first, refused  # committed

    async def _claim(
        self, cursor: psycopg.AsyncCursor[Any], batch: list[_Pending]
    ) -> list[_Pending]:
        """Makes the batch's claims inside its transaction; returns the items whose claim was
        made before (their records are not written)."""
        claims = [item for item in batch if item.claim is not None]
        if not claims:
            return []
        clock = time.monotonic()
        if clock >= self._next_purge:
            self._next_purge = clock + _PURGE_SECONDS
            await cursor.execute(_PURGE, (dt.datetime.now(dt.UTC),), prepare=True)
        tokens = [item.claim[0] for item in claims if item.claim is not None]
        until = [item.claim[1] for item in claims if item.claim is not None]
        await cursor.execute(_CLAIM, (tokens, until), prepare=True)
        won = {row[0] for row in await cursor.fetchall()}
        refused = []
        for item in claims:
            assert item.claim is not None  # noqa: S101  (filtered above; for the type checker)
            if item.claim[0] in won:
                won.discard(item.claim[0])  # the first item of a token has it; later ones not
            else:
                refused.append(item)
        return refused


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
