"""The audit log's writer (アクセス記録の書き込み): every check and every read of a person's
data is appended to the hash chain (:mod:`kokuho.verify._audit_chain`) before its answer leaves.

Requests hand their records to a :class:`AuditWriter`, which writes them in small batches (group
commit) and releases each request only after its record is committed: an answer that reached
an institution always has its record on disk.

Records from many callers share a batch, so one caller's bad record must never fail the others:
every record is checked against closed sets and bounds
(:func:`~kokuho.verify._audit_record.check_record`) before it joins a batch and is refused to
its own caller only; a batch that still fails in the database is retried record by record, so
each caller learns its own outcome.

The record and its check live in :mod:`kokuho.verify._audit_record`, the chain (its rows, its
append, its check) in :mod:`kokuho.verify._audit_chain`; their names stay importable from this
module, which is the audit log's interface to the rest of the room.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from kokuho.store import UNREACHABLE, audit_database, connect_kwargs
from kokuho.verify._audit_chain import (
    AUDIT_COLUMNS,
    AUDIT_LOCK_ID,
    GENESIS,
    ChainReport,
    append,
    chain_rows,
    record_hash,
    verify_chain,
)
from kokuho.verify._audit_record import (
    ACTIONS,
    MAX_DETAIL,
    OUTCOMES,
    PURPOSES,
    AuditRecord,
    AuditRecordError,
    check_record,
    record_from_values,
    record_values,
)
from kokuho.verify._audit_spool import AuditSpool

if TYPE_CHECKING:
    from kokuho.verify._audit_loop import Claim, LoopAuditBatcher
    from kokuho.verify._audit_pg import PgLoopAuditBatcher

# Its own names and those of the record and chain modules that callers import from here.
__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_LOCK_ID",
    "ACTIONS",
    "GENESIS",
    "MAX_DETAIL",
    "OUTCOMES",
    "PURPOSES",
    "SPOOLED",
    "AuditRecord",
    "AuditRecordError",
    "AuditWriter",
    "ChainReport",
    "record_values",
    "append",
    "chain_rows",
    "check_record",
    "record_from_values",
    "record_hash",
    "sqlite_file",
    "verify_chain",
]

log = logging.getLogger(__name__)
#: The sequence number :meth:`AuditWriter.write` returns for a record durably spooled on local
#: disk while the primary was down; the chain gives it its number when it is replayed.
SPOOLED: Final = 0


class AuditWriter:
    """Group commit of audit records from many request threads into one chain."""

    def __init__(
        self, engine: sa.Engine, *, max_batch: int = 500, spool: AuditSpool | None = None,
        retry_after: float = 1.0, primary_up: Callable[[], bool] | None = None,
    ) -> None:  # fmt: skip
        self._engine = engine
        self._max_batch = max_batch
        # With a spool, records go to local disk while the primary does not answer
        # (verify/_audit_spool.py); the primary is tried again every ``retry_after`` seconds.
        self._spool = spool
        self._retry_after = retry_after
        # The read router's view of the primary (its probe pays for the connect timeouts), so
        # this thread, which every answer waits on, does not block on a dead server's connect.
        self._primary_up = primary_up
        self._primary_failed_at: float | None = None
        self._spool_dirty = spool is not None  # at start: files a dead writer left behind
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        # Requests served on an event loop commit on that loop (verify/_audit_loop.py) when
        # the chain is a SQLite file and nothing is spooled; otherwise through this thread.
        # On SQLite the chain is in the audit file beside the register (store.audit_database).
        register = sqlite_file(engine) if spool is None else None
        self._loop_database = audit_database(register) if register is not None else None
        self._batchers: dict[asyncio.AbstractEventLoop, LoopAuditBatcher] = {}
        # On PostgreSQL they commit on the loop over psycopg's async API (verify/_audit_pg.py).
        on_pg_loop = spool is None and engine.dialect.name == "postgresql"
        self._pg_kwargs = connect_kwargs(engine) if on_pg_loop else None
        self._pg_batchers: dict[asyncio.AbstractEventLoop, PgLoopAuditBatcher] = {}
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def write(self, record: AuditRecord, *, timeout: float = 10.0) -> int:
        """Blocks until ``record`` is committed; returns its sequence number (:data:`SPOOLED`
        when the primary was down and the record was made durable in the spool instead)."""
        return self.write_many([record], timeout=timeout)[0]

    def write_many(self, records: Sequence[AuditRecord], *, timeout: float = 10.0) -> list[int]:
        """Blocks until every record is committed (queued together, so usually one batch);
        returns their sequence numbers in order. Raises :class:`AuditRecordError` (and writes
        none of them) when any record is outside the log's closed sets or bounds."""
        details = [check_record(record) for record in records]
        waiters = [_Waiter() for _ in records]
        for record, detail, waiter in zip(records, details, waiters, strict=True):
            self._queue.put((record, detail, waiter))
        deadline = time.monotonic() + timeout
        for waiter in waiters:
            if not waiter.done.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("the audit log did not commit in time")
            if waiter.error is not None:
                raise RuntimeError("the audit log could not be written") from waiter.error
        return [waiter.seq for waiter in waiters]

    def submit(self, record: AuditRecord) -> None:
        """Queues ``record`` for the writer's thread without waiting for its commit (the
        refused authentications' records: no answer waits on them, and the caller may be the
        event loop). A record that cannot be written is logged, with no one else to tell.
        Raises :class:`AuditRecordError` as :meth:`write` does."""
        self._queue.put((record, check_record(record), _Unwaited(record.action)))

    @property
    def loop_database(self) -> str | None:
        """The SQLite file the loop's group commit writes (``write_async`` with a claim), or
        None when records go through the writer thread."""
        return self._loop_database

    @property
    def pg_loop(self) -> bool:
        """Whether requests on an event loop commit on that loop over psycopg (PostgreSQL,
        no spool): ``write_async`` takes a claim there too."""
        return self._pg_kwargs is not None

    async def write_async(
        self, record: AuditRecord, *, timeout: float = 10.0, claim: Claim | None = None
    ) -> int:
        """:meth:`write` for a request served on the event loop: waits for the commit without
        holding a thread (the loop's own group commit on a SQLite file or on PostgreSQL
        without a spool; otherwise the writer wakes the loop when the batch is committed).

        ``claim`` (only with :attr:`loop_database` or :attr:`pg_loop`) is a single-use token
        committed in the record's transaction; when it was claimed before, nothing is written and
        :class:`~kokuho.verify._audit_loop.AlreadyClaimed` is raised."""
        detail = check_record(record)
        loop = asyncio.get_running_loop()
        if self._loop_database is not None:
            batcher = self._batcher(loop, self._loop_database)
            committed = batcher.submit(record, detail, timeout, claim)
        elif self._pg_kwargs is not None:
            committed = self._pg_batcher(loop, self._pg_kwargs).submit(record, detail, claim)
        elif claim is not None:
            raise ValueError("a claim needs the loop's group commit (no spool)")
        else:
            committed = loop.create_future()
            self._queue.put((record, detail, _LoopWaiter(loop, committed)))
        # A timer rather than asyncio.wait_for: the same bound without its second future and
        # callbacks on every answer. The batcher and the writer skip a future already done.
        timer = loop.call_later(timeout, _expire, committed)
        try:
            return await committed
        finally:
            timer.cancel()

    def _batcher(self, loop: asyncio.AbstractEventLoop, database: str) -> LoopAuditBatcher:
        batcher = self._batchers.get(loop)
        if batcher is None:
            # Imported by the first request on a loop: processes that serve none (the
            # dashboard, the command line) never load the loop batchers.
            from kokuho.verify._audit_loop import LoopAuditBatcher

            for gone in [other for other in self._batchers if other.is_closed()]:
                self._batchers.pop(gone).close()
            batcher = LoopAuditBatcher(loop, database, max_batch=self._max_batch)
            self._batchers[loop] = batcher
        return batcher

    def _pg_batcher(
        self, loop: asyncio.AbstractEventLoop, kwargs: dict[str, Any]
    ) -> PgLoopAuditBatcher:
        batcher = self._pg_batchers.get(loop)
        if batcher is None:
            from kokuho.verify._audit_pg import PgLoopAuditBatcher  # as _batcher's

            for gone in [other for other in self._pg_batchers if other.is_closed()]:
                self._pg_batchers.pop(gone).close()
            batcher = PgLoopAuditBatcher(loop, kwargs, max_batch=self._max_batch)
            self._pg_batchers[loop] = batcher
        return batcher

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)
        for batcher in self._batchers.values():
            batcher.close()
        for pg_batcher in self._pg_batchers.values():
            pg_batcher.close()
        self._batchers.clear()
        self._pg_batchers.clear()

    def _run(self) -> None:
        while True:
            try:
                # While records wait in the spool, wake up to replay them even when idle.
                wait = self._retry_after if self._spool_dirty else None
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                # Idle: replay file after file until the spool is empty or a record arrives.
                while self._replay() and self._spool_dirty and self._queue.empty():
                    pass
                continue
            if item is None:
                self._spool_close()
                return
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._commit(batch)
                    return
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        if self._spool is not None and not self._replay():
            self._to_spool(batch)
            return
        try:
            with self._engine.begin() as connection:
                seqs = append(connection, [i[0] for i in batch], [i[1] for i in batch])
        except Exception as error:  # whatever it was, no record of the batch is written
            if self._spool is not None and isinstance(error, UNREACHABLE):
                self._primary_failed_at = time.monotonic()
                self._to_spool(batch)
                return
            if len(batch) == 1:
                waiter = batch[0][2]
                waiter.error = error
                waiter.done.set()
                return
            # One record may have failed them all: alone, each record gets its own outcome.
            for item in batch:
                self._commit([item])
            return
        for (_, _, waiter), seq in zip(batch, seqs, strict=True):
            waiter.seq = seq
            waiter.done.set()

    def _fail(self, batch: list[_Item], error: Exception) -> None:
        for _, _, waiter in batch:
            waiter.error = error
            waiter.done.set()

    def _replay(self) -> bool:
        """Replays the spool when the primary may be back; False while it is still down."""
        spool, failed = self._spool, self._primary_failed_at
        if spool is None:
            return True
        if failed is not None and (
            time.monotonic() - failed < self._retry_after
            or (self._primary_up is not None and not self._primary_up())
        ):
            return False  # do not wait on a dead server's connect for every batch
        if failed is None and not self._spool_dirty:
            return True
        try:
            # One file at a time, between batches: a long outage's spool must not hold the
            # answers that wait on this thread (new records go straight to the chain meanwhile).
            spool.replay(self._engine, max_files=1)
        except UNREACHABLE:
            self._primary_failed_at = time.monotonic()
            return False
        except Exception:  # a corrupt spool file is the operator's; answers go on being spooled
            log.exception("the audit spool could not be replayed")
            self._primary_failed_at = time.monotonic()
            return False
        self._primary_failed_at = None
        self._spool_dirty = spool.pending()
        return True

    def _to_spool(self, batch: list[_Item]) -> None:
        assert self._spool is not None
        try:
            self._spool.append(
                [(record_values(record, detail), detail) for record, detail, _ in batch]
            )
        except Exception as error:  # no durable record: the answers must not leave
            self._fail(batch, error)
            return
        self._spool_dirty = True
        for _, _, waiter in batch:
            waiter.seq = SPOOLED
            waiter.done.set()

    def _spool_close(self) -> None:
        if self._spool is not None:
            self._spool.close()


def sqlite_file(engine: sa.Engine) -> str | None:
    """The SQLite database file behind ``engine`` (None for another database or memory)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else database


#: A record, its detail, who waits (or no one: _Unwaited).
_Item = tuple[AuditRecord, str, "_Waiter | _LoopWaiter | _Unwaited"]


class _Waiter:
    __slots__ = ("done", "error", "seq")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.seq = 0
        self.error: Exception | None = None


class _Unwaited:
    """:class:`_Waiter`'s protocol for a record no one waits for (:meth:`AuditWriter.submit`):
    a failure goes to the server log."""

    __slots__ = ("action", "error", "seq")

    def __init__(self, action: str) -> None:
        self.action = action
        self.seq = 0
        self.error: Exception | None = None

    @property
    def done(self) -> _Unwaited:
        return self

    def set(self) -> None:
        if self.error is not None:
            log.error("an audit record (%s) could not be written", self.action,
                      exc_info=self.error)  # fmt: skip


class _LoopWaiter:
    """A request on an event loop waiting for its record's commit, with :class:`_Waiter`'s
    protocol (the writer sets ``seq`` or ``error``, then calls ``done.set()``): ``set`` hands
    the outcome to the loop, which settles the request's future."""

    __slots__ = ("error", "future", "loop", "seq")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[int]) -> None:
        self.loop = loop
        self.future = future
        self.seq = 0
        self.error: Exception | None = None

    @property
    def done(self) -> _LoopWaiter:
        return self

    def set(self) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, self.seq, self.error)


def _expire(future: asyncio.Future[int]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("the audit log did not commit in time"))


def _settle(future: asyncio.Future[int], seq: int, error: Exception | None) -> None:
    if future.done():  # the request gave up waiting (timeout, client gone)
        return
    if error is not None:
        failure = RuntimeError("the audit log could not be written")
        failure.__cause__ = error
        future.set_exception(failure)
    else:
        future.set_result(seq)
