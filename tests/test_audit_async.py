"""The audit writer's event-loop path (number checks served without a thread): the record is
committed before the answer may leave, a bad record is refused to its own caller, and a
database failure reaches the caller as an error, never as a silent answer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from kokuho.store import connect
from kokuho.verify._audit import AuditRecord, AuditRecordError, AuditWriter, verify_chain
from kokuho.verify._tables import audit_log

T = TypeVar("T")


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs a coroutine on a fresh loop in its own thread: a test that ran before on this
    thread (a browser test's driver) may have left an event loop running here."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def record(number: str = "1001", actor: str = "kc_0123456789abcdef") -> AuditRecord:
    return AuditRecord(
        actor=actor, institution_code="3710112347", purpose="care", action="check_number",
        outcome="1", person_id=7, detail={"asked": {"number": number}},
    )  # fmt: skip


def test_each_awaited_record_is_committed_when_the_await_returns(engine: sa.Engine) -> None:
    writer = AuditWriter(engine)

    async def one(number: str) -> tuple[int, bool]:
        seq = await writer.write_async(record(number))
        # Read on another connection: committed, not merely queued.
        with engine.connect() as connection:
            stored = connection.scalar(sa.select(audit_log.c.detail).where(audit_log.c.seq == seq))
        return seq, stored is not None and f'"number": "{number}"' in stored

    async def many() -> list[tuple[int, bool]]:
        # Sync callers share the batches with loop callers.
        threaded = asyncio.to_thread(writer.write_many, [record("9999")] * 3)
        found = await asyncio.gather(*(one(str(n)) for n in range(40)), threaded)
        return list(found[:-1])  # type: ignore[arg-type]

    found = _run(many)
    writer.close()
    assert all(committed for _, committed in found)
    assert len({seq for seq, _ in found}) == 40
    report = verify_chain(engine)
    assert report.ok and report.records == 43


def test_a_bad_record_is_refused_before_it_is_queued(engine: sa.Engine) -> None:
    writer = AuditWriter(engine)
    with pytest.raises(AuditRecordError, match="actor"):
        _run(lambda: writer.write_async(record(actor="bad actor\n")))
    writer.close()
    assert verify_chain(engine).records == 0


def test_a_database_failure_reaches_the_caller(tmp_path: Path) -> None:
    # A database without the audit table: the commit fails, the caller must hear of it.
    bare = connect(f"sqlite:///{tmp_path / 'bare.db'}", migrate=False)
    writer = AuditWriter(bare)
    with pytest.raises(RuntimeError, match="could not be written"):
        _run(lambda: writer.write_async(record()))
    writer.close()
    bare.dispose()
