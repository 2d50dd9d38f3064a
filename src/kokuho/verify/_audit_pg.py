"""The audit group commit on the event loop (PostgreSQL): 監査記録 of the requests one loop serves.

As :mod:`kokuho.verify._audit_loop` does for SQLite: requests served on an event loop hand
their record to the loop's :class:`PgLoopAuditBatcher` and await a future; one flush writes
every record that arrived meanwhile in one transaction on the batcher's own
``psycopg.AsyncConnection`` to the primary, then settles the futures. An answer leaves only
after its record is committed, without the writer thread's hand-offs (a queue, a thread
wake-up, a ``call_soon_threadsafe`` back to the loop) and without SQLAlchemy.

The transaction is the writer thread's (:func:`kokuho.verify._audit_chain.append`): the chain's
advisory lock (one chain across every worker process and the thread writer), the head, then
the new records (one statement), then the commit. Every statement is parameterised (the
extended protocol; no value is ever written into SQL text), several sent per round trip by
psycopg's pipeline mode, the records of the batch bound as one JSON text, the writes prepared
by psycopg once per connection: each round trip costs the loop a few tens of microseconds of
psycopg's work, which a batch of a few records paid three or four times. (psycopg's pipeline
writes each statement to the socket as it is executed, one write per statement: a batch costs
the loop about 1.6 times the CPU of the same statements sent as one text of literals.) A batch
takes two round trips (the lock and the head; the records, then the commit), or one when this
batcher wrote the last batch before it too (the lock, then the records only if the head is
still the one it committed last, a parameter): with one writer, the common case, the head
is known before the lock is taken. Neither sends BEGIN or COMMIT: a pipeline's statements
before its Sync are one transaction, which the Sync commits (or rolls back when a statement
failed); the two-trip batch fetches its first trip's results by a flush request, not a Sync,
and closes the connection rather than end the pipeline should anything fail between the
trips (the Sync would commit the claims without their records). When another writer
appended meanwhile nothing is written, and the batch takes the two round trips. An error
aborts the rest of the pipeline; the transaction is then rolled back (or the connection
dropped) before the next batch. While one flush travels, the loop goes on serving requests
and their records wait for the next flush. Under load (records arrived while the last batch
was at the database) the next batch waits up to ``LINGER_SECONDS`` for more, unless it holds
``LINGER_FILL`` already: each commit costs the server about as much as several records. The
first batch after a quiet spell never waits.

A record may carry a single-use claim (a face attestation's token, 顔認証の再利用防止), as on
SQLite (:mod:`kokuho.verify._audit_loop`): the batch's claims are inserted into
``card_replays`` in the batch's transaction, after the chain's lock and before the records,
by one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` in the round trip that reads the head.
A batch whose head is known (the one-trip batch) makes its claims in its one statement
instead, with its records and under the same head condition, and without ``ON CONFLICT``: a
token claimed before (or twice in the batch, which is not tried) fails that statement, the
transaction rolls back whole, and the batch takes the two round trips, which tell each
claim's outcome.
A record whose claim was made before (by an earlier batch, another worker, or an earlier
record of the same batch) is not written and its future fails with
:class:`~kokuho.verify._audit_loop.AlreadyClaimed`; the batch's other records commit. A claim
committed by another worker's transaction still in flight waits for it (the unique index),
then is refused.

A batch that fails is retried record by record, so one caller's failure never reaches another
caller's answer. Used when no spool is configured (with one, records go through the writer
thread, which spools them while the primary is down).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kokuho.verify._audit_chain import AUDIT_COLUMNS, AUDIT_LOCK_ID, GENESIS, chain_rows
from kokuho.verify._audit_loop import AlreadyClaimed, Claim
from kokuho.verify._audit_purge import PG_PURGE, PURGE_LIMIT, ClaimPurge
from kokuho.verify._audit_record import AuditRecord
from kokuho.verify._tables import audit_log, card_replays

log = logging.getLogger(__name__)
_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
_LOCK = f"SELECT pg_advisory_xact_lock({AUDIT_LOCK_ID})".encode()
_HEAD_HASH = f'SELECT hash FROM "{audit_log.name}" ORDER BY seq DESC LIMIT 1'  # noqa: S608
_HEAD = _HEAD_HASH.replace("hash", "seq, hash", 1).encode()


def _cast(column: sa.Column[Any]) -> str:
    # Strings stay text: the assignment to the column still refuses a value too long, where a
    # cast to varchar(n) would cut it short.
    if isinstance(column.type, sa.String):
        return ""
    return f"::{column.type.compile(dialect=_DIALECT)}"


# Every statement is parameterised (the extended protocol, values bound, never in the SQL
# text); several travel in one round trip by psycopg's pipeline mode. The writes are prepared
# by psycopg on the connection's first batches (``prepare=True``): the server plans them once.
#
# Every record of the batch in one statement, whatever the batch's size: the rows travel as
# one JSON array of arrays (a column per position) bound as one parameter, cheaper to make
# than a parameter per column and row, or an array per column (whose text form psycopg
# escapes element by element). The array is read as jsonb: parsed once, where a json value's
# ``->>`` parses its element's text again for every field (on 4 records a third of the
# statement's server CPU, on 16 over half).
_INSERT = (
    f'INSERT INTO "{audit_log.name}" ({", ".join(AUDIT_COLUMNS)}) SELECT '  # noqa: S608
    + ", ".join(f"(r->>{i}){_cast(audit_log.c[name])}" for i, name in enumerate(AUDIT_COLUMNS))
    + " FROM jsonb_array_elements(%s::jsonb) AS r"
)
# The optimistic batch's records: only if the head is still the one this batcher committed
# last (read under the lock, as the pessimistic batch reads it). None inserted: another
# writer appended meanwhile.
_INSERT_IF_HEAD = f"{_INSERT} WHERE ({_HEAD_HASH}) = %s::text".encode()
_INSERT_ROWS = _INSERT.encode()
# The batch's claims in one statement; the tokens returned are those claimed now. A token
# twice in the batch is inserted once: its later items find it taken.
_CLAIM_ROWS = (
    f'INSERT INTO "{card_replays.name}" (token, expires_at) '  # noqa: S608
    "SELECT r->>0, (r->>1)::timestamptz FROM jsonb_array_elements(%s::jsonb) AS r"
)
_CLAIM = f"{_CLAIM_ROWS} ON CONFLICT DO NOTHING RETURNING token".encode()
# None of the batch's tokens is claimed already (as the statement's snapshot sees it).
_UNCLAIMED = (
    f'NOT EXISTS (SELECT 1 FROM "{card_replays.name}" AS taken '  # noqa: S608
    "JOIN jsonb_array_elements(%s::jsonb) AS q ON taken.token = q->>0)"
)
# The optimistic batch's claims and records in one statement, both only if the head is still
# the one this batcher committed last and no token of the batch is claimed already (one
# snapshot: both or neither; a replay then writes nothing and the batch takes the two round
# trips, which refuse it alone, without an error in the server's log). No ON CONFLICT: a
# token another worker claims meanwhile (not yet committed, so not seen) fails the
# statement, the transaction rolls back whole, and the batch takes the two round trips too.
_CLAIM_AND_INSERT_IF_HEAD = (
    f"WITH claimed AS ({_CLAIM_ROWS} WHERE ({_HEAD_HASH}) = %s::text AND {_UNCLAIMED} "
    f"RETURNING 1) {_INSERT} WHERE ({_HEAD_HASH}) = %s::text AND {_UNCLAIMED}"
).encode()
#: Under load (records arrived while a batch was committed), how long the next batch waits
#: for more records unless it already has ``LINGER_FILL``: at most this much added latency.
LINGER_SECONDS = 0.001
LINGER_FILL = 32


@dataclass(eq=False)  # identity: a batch's items are told apart by ``in``
class _Pending:
    record: AuditRecord
    detail: str
    future: asyncio.Future[int]
    claim: Claim | None = None


class PgLoopAuditBatcher:
    """Group commit for the requests of one event loop, on one connection to the primary."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, kwargs: dict[str, Any], *, max_batch: int = 500,
        linger: float = LINGER_SECONDS, fill: int = LINGER_FILL,
    ) -> None:  # fmt: skip
        self._loop = loop
        self._kwargs = kwargs
        self._max_batch = max_batch
        self._linger = linger
        self._fill = fill
        self._pending: list[_Pending] = []
        self._flushing = False
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._purge = ClaimPurge(PG_PURGE)
        # The chain's head as this batcher committed it last, and whether no other writer
        # appended between its last two batches: then the next batch is sent optimistically.
        self._head: tuple[int, str] | None = None
        self._alone = False

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
            loaded = False  # records arrived while this flush committed a batch
            while self._pending:
                if loaded and self._linger > 0 and len(self._pending) < self._fill:
                    # Under load, the batch waits a moment for more records: each commit costs
                    # the server about as much as several records, and the loop a few round
                    # trips' work. Never the first batch after a quiet spell.
                    await asyncio.sleep(self._linger)
                loaded = True
                # A request that gave up (timeout, client gone) has no answer to wait for.
                live = [item for item in self._pending if not item.future.done()]
                # Beyond the batch's size, records wait with those arriving meanwhile.
                batch, self._pending = live[: self._max_batch], live[self._max_batch :]
                if batch:
                    await self._commit(batch)
                    if any(item.claim is not None for item in batch):
                        # After the batch and its one-by-one retries, never between them:
                        # every caller so far has its answer. Not only in a lull: under
                        # steady load a flush may never run out of records.
                        await self._purge_expired()
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
            for index, item in enumerate(batch):
                try:
                    await self._commit([item])
                except BaseException:  # cancelled: the records not yet tried fail, not hang
                    _fail(batch[index + 1 :], RuntimeError("the audit writer was closed"))
                    raise
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

    async def _purge_expired(self) -> None:
        """Deletes the forgotten claims when a purge is due: after a batch that made claims is
        committed and answered, in a transaction of its own (the connection is in
        autocommit), skipping rows another worker's purge holds and at most
        ``PURGE_LIMIT`` of them, so it never waits on a lock and its round trip stays short.
        A purge that fails is logged and costs no caller its record; the next interval tries
        again."""
        connection = self._connection
        if connection is None:  # the interval is not spent without a connection to purge on
            return
        purge = self._purge.due()
        if purge is None:
            return
        try:
            cursor = await connection.execute(*purge, prepare=False)
        except Exception as error:  # housekeeping: whatever it was, no caller pays for it
            log.warning("the purge of expired card claims failed (tried again later): %s", error)
            if connection.closed or connection.broken:
                self._connection = None
            return
        if cursor.rowcount >= PURGE_LIMIT:
            self._purge.again()

    async def _append(self, batch: list[_Pending]) -> tuple[int, list[_Pending]]:
        """Makes the batch's claims and appends the records of the others to the chain, in
        one transaction; returns the first seq and the items whose claim was made before."""
        connection = self._connection
        if connection is None:
            # The threshold only counts statements sent with ``prepare=None``; every statement
            # here says whether it is prepared.
            connection = self._connection = await psycopg.AsyncConnection.connect(
                autocommit=True, **self._kwargs
            )
            self._head = None
        head, self._head = self._head, None  # known again only once this batch commits
        try:
            if head is not None and self._alone and _distinct_claims(batch):
                rows = chain_rows([(i.record, i.detail) for i in batch], *head)
                claims = _claims(batch)
                # One round trip: the lock, the records if the head is unchanged, the commit.
                # No BEGIN and COMMIT: the statements a pipeline sends before its Sync are one
                # transaction (the extended protocol's), which the Sync at its end commits,
                # or rolls back when a statement failed. Nothing is sent between the two
                # statements, so nothing but the whole can be committed.
                control, records = connection.cursor(), connection.cursor()
                try:
                    async with connection.pipeline():
                        await control.execute(_LOCK, prepare=True)
                        if claims:
                            tokens = json.dumps(claims)
                            await records.execute(
                                _CLAIM_AND_INSERT_IF_HEAD,
                                (tokens, head[1], tokens, _json(rows), head[1], tokens),
                                prepare=True,
                            )
                        else:
                            await records.execute(
                                _INSERT_IF_HEAD, (_json(rows), head[1]), prepare=True
                            )
                except psycopg.errors.UniqueViolation:
                    # A claim made before: nothing of the batch was written (the Sync rolled
                    # the transaction back); the two round trips refuse it alone.
                    await _roll_back(connection)
                    self._alone = False
                    return await self._locked(connection, batch, head)
                if records.rowcount:
                    self._head = (rows[-1][0], rows[-1][-1])
                    return head[0] + 1, []  # committed
                # Nothing written (an empty transaction committed): another writer appended
                # meanwhile, so this batch reads the head under the lock.
                self._alone = False
            return await self._locked(connection, batch, head)
        except BaseException:
            self._alone = False
            await _roll_back(connection)
            raise

    async def _locked(
        self,
        connection: psycopg.AsyncConnection[Any],
        batch: list[_Pending],
        known: tuple[int, str] | None,
    ) -> tuple[int, list[_Pending]]:
        """The batch in two round trips: the lock, the head and the claims, then the records
        and the commit. ``known``: the head this batcher committed last, if any.

        One transaction without BEGIN and COMMIT, as the optimistic batch: the first trip's
        results are fetched by a flush request, not a Sync, so the transaction (and the lock)
        lasts until the Sync that ends the pipeline, after the records."""
        claims = [item for item in batch if item.claim is not None]
        control, reads, made = connection.cursor(), connection.cursor(), connection.cursor()
        async with connection.pipeline():
            try:
                # The head is read by a statement of its own after the lock is held (so that
                # its snapshot sees the last holder's commit); the claims are made under the lock.
                await control.execute(_LOCK, prepare=True)
                await reads.execute(_HEAD, prepare=True)
                if claims:
                    await made.execute(_CLAIM, (json.dumps(_claims(claims)),), prepare=True)
                found = await reads.fetchone()  # a flush request: the transaction stays open
                seq, prev = (found[0], found[1]) if found else (0, GENESIS)
                # Nobody else appended since this batcher's last batch: the next may be
                # optimistic.
                self._alone = known == (seq, prev)
                refused: list[_Pending] = []
                if claims:
                    won = {row[0] for row in await made.fetchall()}
                    for item in claims:
                        assert item.claim is not None  # noqa: S101  (filtered above; for mypy)
                        if item.claim[0] in won:
                            won.discard(item.claim[0])  # a token's first item has it, no other
                        else:
                            refused.append(item)
                kept = [(i.record, i.detail) for i in batch if i not in refused]
                rows = chain_rows(kept, seq, prev)
                if rows:
                    await made.execute(_INSERT_ROWS, (_json(rows),), prepare=True)
            except BaseException:
                # The Sync that ends the pipeline would commit what was sent (the claims
                # without their records): the connection is closed instead, which the server
                # rolls back; the next batch connects again.
                connection.pgconn.finish()
                raise
        self._head = (rows[-1][0], rows[-1][-1]) if rows else (seq, prev)
        return seq + 1, refused  # committed


def _claims(batch: list[_Pending]) -> list[tuple[str, str]]:
    """The claims of the batch's items that carry one: (token, expiry in ISO 8601)."""
    return [(i.claim[0], i.claim[1].isoformat()) for i in batch if i.claim is not None]


def _distinct_claims(batch: list[_Pending]) -> bool:
    """Whether no token is claimed twice in the batch (a token twice needs the two round
    trips: its first item has it, the other is refused)."""
    tokens = [item.claim[0] for item in batch if item.claim is not None]
    return len(set(tokens)) == len(tokens)


def _json(rows: list[tuple[Any, ...]]) -> str:
    """``rows`` as one JSON array of arrays (timestamps in ISO 8601, with their offset)."""
    return json.dumps([(row[0], row[1].isoformat(), *row[2:]) for row in rows], ensure_ascii=False)


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
