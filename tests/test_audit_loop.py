"""The audit group commit on the event loop (SQLite, verify/_audit_loop.py): one caller's
failure never reaches another caller's answer, a held write lock is waited for without
stalling the loop, a wait past the timeout fails that request only, and the chain it writes is
the one the thread writer writes."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from kokuho.store import audit_database, connect
from kokuho.verify._audit import AuditRecord, AuditWriter, verify_chain
from kokuho.verify._tables import audit_log

T = TypeVar("T")
ACTOR = "kc_0123456789abcdef"


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def record(number: str, actor: str = ACTOR) -> AuditRecord:
    return AuditRecord(
        actor=actor, institution_code="3710112347", purpose="care", action="check_number",
        outcome="1", person_id=7, detail={"asked": {"number": number}},
    )  # fmt: skip


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kokuho.db"


@pytest.fixture
def sqlite_engine(path: Path) -> Iterator[sa.Engine]:
    engine = connect(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def poison(path: Path) -> None:
    """Makes the database refuse every audit record of the actor ``kc_poison`` (a failure
    past ``check_record``, inside a batch). The log is in the audit file beside the register."""
    with sqlite3.connect(audit_database(str(path))) as raw:
        raw.execute(
            "CREATE TRIGGER poison BEFORE INSERT ON audit_log WHEN NEW.actor = 'kc_poison' "
            "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )


def _stored(engine: sa.Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(audit_log.c.seq, audit_log.c.actor, audit_log.c.detail).order_by(
                audit_log.c.seq
            )
        )
        return [(row.seq, row.actor, row.detail) for row in rows]


def test_the_loop_path_is_used_for_a_sqlite_file(sqlite_engine: sa.Engine) -> None:
    writer = AuditWriter(sqlite_engine)

    async def main() -> int:
        seq = await writer.write_async(record("1"))
        assert len(writer._batchers) == 1  # noqa: SLF001  (committed on the loop, no thread)
        return seq

    assert _run(main) == 1
    writer.close()
    assert verify_chain(sqlite_engine).ok


def test_one_callers_database_failure_fails_that_request_only(
    sqlite_engine: sa.Engine, path: Path
) -> None:
    # A record the database refuses (past check_record): it shares a batch with the others.
    poison(path)
    writer = AuditWriter(sqlite_engine)

    async def main() -> list[int | BaseException]:
        calls = [
            writer.write_async(record(str(n), "kc_poison" if n in (3, 17) else ACTOR))
            for n in range(30)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = _run(main)
    writer.close()
    failed = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)]
    assert failed == [3, 17]
    for n in failed:
        error = outcomes[n]
        assert isinstance(error, RuntimeError) and "could not be written" in str(error)
    seqs = [outcome for outcome in outcomes if isinstance(outcome, int)]
    assert sorted(seqs) == list(range(1, 29))
    stored = _stored(sqlite_engine)
    assert {actor for _, actor, _ in stored} == {ACTOR}
    # Each answered caller's seq holds that caller's own record.
    by_seq = {seq: detail for seq, _, detail in stored}
    for n, outcome in enumerate(outcomes):
        if isinstance(outcome, int):
            assert f'"number": "{n}"' in by_seq[outcome]
    assert verify_chain(sqlite_engine).ok


class _BusyOnce:
    """The batcher's connection, answering "database is locked" to the first head read inside
    a transaction (what SQLite with no busy handler can say under load)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self.raised = 0

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.startswith("SELECT seq, hash") and not self.raised:
            self.raised += 1
            raise sqlite3.OperationalError("database is locked")
        return self._connection.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)


def test_a_busy_answer_inside_the_transaction_is_tried_again_not_failed(
    sqlite_engine: sa.Engine,
) -> None:
    writer = AuditWriter(sqlite_engine)
    busy: list[_BusyOnce] = []

    async def main() -> list[int | BaseException]:
        await writer.write_async(record("0"))  # makes this loop's batcher
        (batcher,) = writer._batchers.values()  # noqa: SLF001
        busy.append(_BusyOnce(batcher._connection))  # noqa: SLF001
        batcher._connection = busy[0]  # type: ignore[assignment]  # noqa: SLF001
        # One record alone: a failed batch of one is not split again, so only the retry
        # saves it.
        return await asyncio.gather(writer.write_async(record("1")), return_exceptions=True)

    outcomes = _run(main)
    writer.close()
    assert busy[0].raised == 1
    assert outcomes == [2]
    assert verify_chain(sqlite_engine).records == 2


def test_a_held_write_lock_is_waited_for_without_stalling_the_loop(
    sqlite_engine: sa.Engine, path: Path
) -> None:
    writer = AuditWriter(sqlite_engine)
    # Another process's writer of the audit log (its file beside the register's).
    other = sqlite3.connect(audit_database(str(path)), isolation_level=None,
                            check_same_thread=False)  # fmt: skip

    async def main() -> tuple[list[int], int, int]:
        await writer.write_async(record("0"))  # the loop's connection exists
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        ticks = 0
        writes = asyncio.gather(*(writer.write_async(record(str(n))) for n in range(1, 6)))
        for _ in range(20):  # the loop keeps serving while the records wait
            await asyncio.sleep(0.005)
            ticks += 1
        waited = len(_stored(sqlite_engine))
        other.execute("COMMIT")
        return list(await writes), ticks, waited

    seqs, ticks, waited_count = _run(main)
    writer.close()
    other.close()
    assert ticks == 20
    assert waited_count == 1  # nothing of the waiting batch was written or answered early
    assert sorted(seqs) == [2, 3, 4, 5, 6]
    assert verify_chain(sqlite_engine).records == 6


def test_a_lock_held_past_the_timeout_fails_only_the_waiting_requests(
    sqlite_engine: sa.Engine, path: Path
) -> None:
    writer = AuditWriter(sqlite_engine)
    # Another process's writer of the audit log (its file beside the register's).
    other = sqlite3.connect(audit_database(str(path)), isolation_level=None,
                            check_same_thread=False)  # fmt: skip

    async def main() -> tuple[BaseException | int, int]:
        await writer.write_async(record("0"))
        other.execute("BEGIN IMMEDIATE")
        late = asyncio.gather(writer.write_async(record("1"), timeout=0.05), return_exceptions=True)
        (outcome,) = await late
        other.execute("COMMIT")
        return outcome, await writer.write_async(record("2"))

    outcome, after = _run(main)
    writer.close()
    other.close()
    assert isinstance(outcome, TimeoutError)
    assert after == 2  # the timed-out record was never written
    assert '"number": "2"' in _stored(sqlite_engine)[1][2]
    assert verify_chain(sqlite_engine).records == 2


def test_the_loop_and_the_thread_writers_write_the_same_chain(tmp_path: Path) -> None:
    # The same records, one by one, through each path: identical rows, hashes included.
    fixed = [
        AuditRecord(
            actor=ACTOR,
            institution_code="3710112347",
            purpose="care",
            action="check_number",
            outcome=str(n % 5 + 1),
            person_id=n + 1,
            detail={"asked": {"number": str(n)}},
            at=dt.datetime(2026, 1, 1, 9, 0, n, 123456, tzinfo=dt.UTC),
        )  # fmt: skip
        for n in range(12)
    ]
    loop_engine = connect(f"sqlite:///{tmp_path / 'loop.db'}")
    thread_engine = connect(f"sqlite:///{tmp_path / 'thread.db'}")
    on_loop, on_thread = AuditWriter(loop_engine), AuditWriter(thread_engine)

    async def main() -> None:
        await asyncio.gather(*(on_loop.write_async(r) for r in fixed[:6]))
        for r in fixed[6:]:
            await on_loop.write_async(r)

    _run(main)
    for r in fixed:
        on_thread.write(r)
    on_loop.close()
    on_thread.close()
    columns = [audit_log.c[name] for name in ("seq", "at", "detail", "prev_hash", "hash")]

    def rows(engine: sa.Engine) -> list[Any]:
        with engine.connect() as connection:
            return list(connection.execute(sa.select(*columns).order_by(audit_log.c.seq)))

    assert rows(loop_engine) == rows(thread_engine)
    assert verify_chain(loop_engine).ok
    loop_engine.dispose()
    thread_engine.dispose()


def test_a_commit_that_never_comes_times_out_and_a_timely_one_leaves_no_timer(
    sqlite_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wait for the commit is bounded by ``timeout`` even when nothing ever settles it,
    and a record committed in time leaves no timer behind on the loop."""
    writer = AuditWriter(sqlite_engine)

    async def main() -> tuple[int, int, BaseException]:
        loop = asyncio.get_running_loop()
        seq = await writer.write_async(record("1"), timeout=5.0)
        scheduled = loop._scheduled  # type: ignore[attr-defined]
        timers = len([timer for timer in scheduled if not timer.cancelled()])
        batcher = writer._batcher(loop, str(writer.loop_database))
        monkeypatch.setattr(batcher, "submit", lambda *args: loop.create_future())
        (outcome,) = await asyncio.gather(
            writer.write_async(record("2"), timeout=0.05), return_exceptions=True
        )
        return seq, timers, outcome

    seq, timers, outcome = _run(main)
    writer.close()
    assert seq == 1 and timers == 0
    assert isinstance(outcome, TimeoutError) and "did not commit in time" in str(outcome)
    assert verify_chain(sqlite_engine).records == 1
