"""The audit group commit on the event loop (PostgreSQL, verify/_audit_pg.py): the records of
one loop share a transaction, one caller's failure never reaches another caller's answer, the
chain's advisory lock is waited for without stalling the loop, and the loop and the thread
writers (and another process's) write one chain."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.verify._audit import AuditRecord, AuditWriter, verify_chain
from kokuho.verify._tables import audit_log
from tests.test_audit import _hold_the_chain, _poison
from tests.test_audit_loop import ACTOR, _run, record

# PostgreSQL only: the database_url fixture's SQLite case does not apply.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


def _actors(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.select(audit_log.c.actor).order_by(audit_log.c.seq)))


def test_the_loop_path_is_used_without_a_spool(engine: sa.Engine) -> None:
    writer = AuditWriter(engine)

    async def main() -> list[int]:
        return list(await asyncio.gather(*(writer.write_async(record(str(n))) for n in range(5))))

    try:
        assert _run(main) == [1, 2, 3, 4, 5]
        assert len(writer._pg_batchers) == 1  # the loop's batcher wrote them, not the thread
    finally:
        writer.close()
    assert verify_chain(engine).records == 5


def test_one_callers_database_failure_fails_that_request_only(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        _poison(connection)
    writer = AuditWriter(engine)
    holder = engine.connect()
    transaction = holder.begin()
    _hold_the_chain(holder)

    async def main() -> tuple[list[object], float]:
        first = asyncio.ensure_future(writer.write_async(record("0"), timeout=30))
        await asyncio.sleep(0.2)  # the first flush now waits for the lock; the rest queue up
        names = ["1", "poison", "2"]
        rest = [
            asyncio.ensure_future(
                writer.write_async(record(n, "kc_poison" if n == "poison" else ACTOR), timeout=30)
            )
            for n in names
        ]
        # The loop is not blocked by the wait for the lock.
        started = time.monotonic()
        await asyncio.sleep(0.01)
        stalled = time.monotonic() - started
        await asyncio.to_thread(lambda: (transaction.rollback(), holder.close()))
        outcomes = await asyncio.gather(first, *rest, return_exceptions=True)
        return list(outcomes), stalled

    try:
        outcomes, stalled = _run(main)
    finally:
        writer.close()
    assert stalled < 0.15
    assert isinstance(outcomes[2], RuntimeError) and "could not be written" in str(outcomes[2])
    assert sorted(o for o in outcomes if isinstance(o, int)) == [1, 2, 3]
    assert _actors(engine) == [ACTOR] * 3 and verify_chain(engine).ok


def test_the_loop_and_the_thread_writers_write_one_chain(engine: sa.Engine) -> None:
    writer = AuditWriter(engine)
    other = AuditWriter(engine)  # as another worker process: its own thread and loop batcher

    async def main() -> None:
        looped = [writer.write_async(record(f"l{n}")) for n in range(30)]
        others = [other.write_async(record(f"o{n}")) for n in range(30)]
        threaded = asyncio.to_thread(writer.write_many, [record(f"t{n}") for n in range(10)])
        await asyncio.gather(*looped, *others, threaded)

    try:
        _run(main)
    finally:
        writer.close()
        other.close()
    report = verify_chain(engine)
    assert report.ok and report.records == 70


def test_a_lost_connection_fails_the_waiting_request_and_the_next_one_reconnects(
    engine: sa.Engine,
) -> None:
    writer = AuditWriter(engine)

    async def main() -> tuple[int, object, int]:
        first = await writer.write_async(record("1"))
        [batcher] = writer._pg_batchers.values()
        connection = batcher._connection
        assert connection is not None
        with engine.connect() as admin:  # the server ends the session (a restart, an admin)
            admin.execute(
                sa.text("select pg_terminate_backend(:pid)"), {"pid": connection.info.backend_pid}
            )
            admin.commit()
        try:
            lost: object = await writer.write_async(record("2"))
        except RuntimeError as error:
            lost = error
        return first, lost, await writer.write_async(record("3"))

    try:
        first, lost, third = _run(main)
    finally:
        writer.close()
    assert first == 1 and isinstance(lost, RuntimeError)
    assert third == 2 and verify_chain(engine).records == 2


def test_closing_the_writer_fails_a_waiting_request_at_once(engine: sa.Engine) -> None:
    writer = AuditWriter(engine)
    holder = engine.connect()
    transaction = holder.begin()
    _hold_the_chain(holder)

    async def main() -> object:
        waiting = asyncio.ensure_future(writer.write_async(record("1"), timeout=30))
        await asyncio.sleep(0.2)  # its flush now waits for the chain's lock
        writer.close()
        try:
            return await asyncio.wait_for(waiting, 5)
        except RuntimeError as error:
            return error

    try:
        outcome = _run(main)
    finally:
        transaction.rollback()
        holder.close()
    assert isinstance(outcome, RuntimeError) and "could not be written" in str(outcome)
    assert verify_chain(engine).records == 0  # its transaction ended with the connection


def test_a_batch_after_another_writers_append_reads_the_head_again(engine: sa.Engine) -> None:
    writer = AuditWriter(engine)
    other = AuditWriter(engine)  # as another worker process

    async def main() -> tuple[list[int], list[bool]]:
        seqs, alone = [], []
        for n in range(3):  # from the third batch on, the batcher knows the head beforehand
            seqs.append(await writer.write_async(record(f"l{n}")))
            alone.append(next(iter(writer._pg_batchers.values()))._alone)
        seqs.append(await asyncio.to_thread(other.write, record("thread")))
        # The head moved: the optimistic batch writes nothing and reads the head again.
        seqs.append(await writer.write_async(record("l3")))
        alone.append(next(iter(writer._pg_batchers.values()))._alone)
        seqs.append(await writer.write_async(record("l4")))  # nobody else wrote: alone again
        alone.append(next(iter(writer._pg_batchers.values()))._alone)
        return seqs, alone

    try:
        seqs, alone = _run(main)
    finally:
        writer.close()
        other.close()
    assert seqs == [1, 2, 3, 4, 5, 6]
    assert alone == [False, True, True, False, True]
    assert _actors(engine) == [ACTOR] * 6
    report = verify_chain(engine)
    assert report.ok and report.records == 6


def test_values_travel_exactly_whatever_their_characters(engine: sa.Engine) -> None:
    # The statements' values are bound parameters (the records one JSON text): quotes,
    # backslashes, placeholders, statement separators and kana come back as they were (the
    # chain's hashes cover them).
    text = "'; COMMIT; --\\' %s %(x)s {rows} \"\\u0000\" ｶﾀｶﾅ 資格確認 \x01\n"
    records = [
        AuditRecord(
            actor="kc_'\\%s{}",
            institution_code="3710112347",
            purpose="care",
            action="check_number",
            outcome="1",
            person_id=None,
            detail={"asked": text},
            at=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=9))),
        ),  # fmt: skip
        record("plain"),
    ]
    writer = AuditWriter(engine)

    async def main() -> list[int]:
        first = await writer.write_async(records[0])
        return [first, *[await writer.write_async(r) for r in records * 2]]

    try:
        assert _run(main) == [1, 2, 3, 4, 5]
    finally:
        writer.close()
    with engine.connect() as connection:
        rows = connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
    assert rows[0].actor == "kc_'\\%s{}" and json.loads(rows[0].detail) == {"asked": text}
    assert rows[0].at == records[0].at and rows[0].person_id is None
    assert verify_chain(engine).ok


def test_a_failure_in_a_pipelined_batch_leaves_the_connection_usable(engine: sa.Engine) -> None:
    # The optimistic batch (one pipeline: lock, insert-if-head, commit) fails at the insert:
    # the pipeline is aborted, the transaction rolled back, and the same connection writes on.
    with engine.begin() as connection:
        _poison(connection)
    writer = AuditWriter(engine)

    async def main() -> tuple[list[object], list[int], list[bool]]:
        outcomes: list[object] = []
        pids: list[int] = []
        alone: list[bool] = []
        for name, actor in [("0", ACTOR), ("1", ACTOR), ("p", "kc_poison"), ("2", ACTOR)]:
            try:
                outcomes.append(await writer.write_async(record(name, actor)))
            except RuntimeError as error:
                outcomes.append(error)
            [batcher] = writer._pg_batchers.values()
            assert batcher._connection is not None
            pids.append(batcher._connection.info.backend_pid)
            alone.append(batcher._alone)
        return outcomes, pids, alone

    try:
        outcomes, pids, alone = _run(main)
    finally:
        writer.close()
    assert outcomes[:2] == [1, 2] and outcomes[3] == 3
    assert isinstance(outcomes[2], RuntimeError) and "could not be written" in str(outcomes[2])
    assert alone[:3] == [False, True, False] and len(set(pids)) == 1
    assert _actors(engine) == [ACTOR] * 3 and verify_chain(engine).ok


def _batch_sizes(writer: AuditWriter) -> list[int]:
    """The sizes of the batches the loop's batcher commits from now on (its ``_append``)."""
    [batcher] = writer._pg_batchers.values()
    sizes: list[int] = []
    append = batcher._append

    async def counted(batch: list[Any]) -> Any:
        sizes.append(len(batch))
        return await append(batch)

    batcher._append = counted  # type: ignore[method-assign]
    return sizes


def test_under_load_a_batch_waits_a_moment_for_more_records(engine: sa.Engine) -> None:
    writer = AuditWriter(engine)

    async def main() -> tuple[float, list[int], list[int], float]:
        await writer.write_async(record("warm"))  # the batcher and its connection
        [batcher] = writer._pg_batchers.values()
        batcher._linger, batcher._fill = 0.3, 3
        sizes = _batch_sizes(writer)
        # Quiet: a record is committed at once, not after the linger.
        started = time.monotonic()
        await writer.write_async(record("quiet"))
        quiet = time.monotonic() - started
        # Load: b arrives while a's batch is at the database; its batch then waits for c.
        a = asyncio.ensure_future(writer.write_async(record("a")))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        b = asyncio.ensure_future(writer.write_async(record("b")))
        await asyncio.sleep(0.05)
        c = asyncio.ensure_future(writer.write_async(record("c")))
        seqs = list(await asyncio.gather(a, b, c))
        # A batch that has ``fill`` records already goes without waiting.
        batcher._linger = 30.0
        first = asyncio.ensure_future(writer.write_async(record("d")))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        started = time.monotonic()
        rest = [asyncio.ensure_future(writer.write_async(record(n))) for n in "efg"]
        await asyncio.gather(first, *rest)
        return quiet, sizes, seqs, time.monotonic() - started

    try:
        quiet, sizes, seqs, full = _run(main)
    finally:
        writer.close()
    assert quiet < 0.25
    assert seqs == [3, 4, 5]
    assert sizes == [1, 1, 2, 1, 3]  # warm-up not counted; b and c in one batch
    assert full < 10
    assert verify_chain(engine).records == 9
