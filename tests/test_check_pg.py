"""The PostgreSQL check path on the event loop (issue 15 item 1): the number look-up over
psycopg's async API gives the SQLAlchemy path's answers and audit records, goes where the read
router sends it (a replica within the lag bound, else the primary; a replica or a primary
that does not answer is passed over without an error), and its records commit on the loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from kokuho.store import AsyncReads, ReadRouter
from kokuho.verify import NumberQuery, Validity
from kokuho.verify._audit import verify_chain
from kokuho.verify._check_pg import check_number_pg
from kokuho.verify._service import EligibilityService
from kokuho.verify._tables import audit_log
from tests.feedfiles import KYOKAI
from tests.test_verify_service import clinic, query, service  # noqa: F401  (the fixture)

T = TypeVar("T")
# PostgreSQL only: the database_url fixture's SQLite case does not apply.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

QUERIES = [
    query(),
    query(day="2021-03-31"),  # the last covered day
    query(day="2021-04-01"),  # 喪失日 itself: covered elsewhere (振替)
    query(number="2001", birth="1972-03-03", day="2021-02-01"),  # lost, nothing after
    query(number="9999"),
    query(birth="1970-05-16"),  # right number, wrong birth date
    query(number="3001", birth="2010-07-07", branch=None),  # twins: several people
    query(number="3001", birth="2010-07-07", branch="03"),
    query(branch=None),
    query(day="2020-09-30"),  # the first terms
    query(limit_consent=True),
    query(day="2019-01-01"),  # before the coverage began
    # 協会けんぽ 77 begins 2021-04-01; on 2020-12-01 国保 was in force: 無効, not 振替.
    NumberQuery(KYOKAI, "12", "77", "01", dt.date(1970, 5, 15), dt.date(2020, 12, 1)),
]


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs a coroutine on a fresh loop in its own thread (as tests/test_audit_async.py)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def test_the_async_look_up_answers_as_the_sqlalchemy_path(
    service: EligibilityService,  # noqa: F811
    engine: sa.Engine,
) -> None:
    who = clinic(engine)
    # A consent given at the terminal: the async path reads consents too.
    service.record_consent(who.institution_code or "", 1, ["limit"], dt.date(2020, 12, 1), 3)  # type: ignore[list-item]

    def forbidden(*_: object) -> object:
        raise AssertionError("the async path must not fall back to the thread")

    sync = [service.check_number(who, q, "care") for q in QUERIES]
    service._number_answer = forbidden  # type: ignore[method-assign]

    async def both() -> list[Any]:
        return [await service.check_number_async(who, q, "care") for q in QUERIES]

    loop_results = _run(both)
    assert any(r.answer.consents for r in sync)  # the consent is in the answers compared
    for q, before, after in zip(QUERIES, sync, loop_results, strict=True):
        assert after.answer == before.answer, q
        assert after.patient == before.patient, q
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(audit_log.c.outcome, audit_log.c.person_id, audit_log.c.detail)
            .where(audit_log.c.action == "check_number")
            .order_by(audit_log.c.seq)
        ).all()
    assert rows[: len(QUERIES)] == rows[len(QUERIES) :]
    assert {row.outcome for row in rows} == {"1", "2", "3", "4", "5"}
    assert verify_chain(engine).ok


def _router(engine: sa.Engine, replica_url: str) -> ReadRouter:
    """A router whose one "replica" is ``replica_url`` with no probe after the first: the
    tests set its freshness themselves."""
    replica = sa.create_engine(replica_url)
    return ReadRouter(engine, [replica], max_lag=1.0, probe_interval=3600)


def _count(reads: AsyncReads) -> Callable[[], Coroutine[Any, Any, int]]:
    async def read() -> int:
        async def one(connection: Any) -> int:
            cursor = await connection.execute("select count(*) from audit_log")
            row = await cursor.fetchone()
            return int(row[0])

        return await reads.run(one)

    return read


def test_the_async_reads_honour_the_lag_bound(engine: sa.Engine) -> None:
    # The same server as the "replica": the answers agree, the router's counts tell apart.
    router = _router(engine, engine.url.render_as_string(hide_password=False))
    reads = AsyncReads(router)
    [replica] = router._replicas
    try:
        replica.fresh_as_of = time.monotonic()  # fresh now
        assert _run(_count(reads)) == 0
        assert dict(router.served) == {"replica:1": 1}
        replica.fresh_as_of = time.monotonic() - 1.5  # older than the 1 s bound
        assert _run(_count(reads)) == 0
        assert dict(router.served) == {"replica:1": 1, "primary": 1}
    finally:
        reads.close()
        router.close()


def test_a_replica_that_does_not_answer_is_set_aside_without_an_error(engine: sa.Engine) -> None:
    gone = engine.url.set(host="127.0.0.1", port=1).render_as_string(hide_password=False)
    router = _router(engine, gone)
    reads = AsyncReads(router)
    [replica] = router._replicas
    try:
        replica.down_until = 0.0  # as if it had answered the last probe, then stopped
        replica.fresh_as_of = time.monotonic()
        assert _run(_count(reads)) == 0
        assert dict(router.served) == {"primary": 1}
        assert replica.down_until > time.monotonic()  # set aside until a probe finds it
        assert router.status()[0].usable is False
    finally:
        reads.close()
        router.close()


def test_a_primary_that_does_not_answer_sends_the_read_to_a_replica(engine: sa.Engine) -> None:
    gone = sa.create_engine(engine.url.set(host="127.0.0.1", port=1))
    router = ReadRouter(gone, [engine], max_lag=1.0, probe_interval=3600)
    reads = AsyncReads(router)
    [replica] = router._replicas
    try:
        # Fresh as of the primary's last sighting (the replica lags now, but nothing newer
        # than that sighting can exist while the primary is gone).
        with router._lock:
            router._primary_up = True
            router._primary_seen = time.monotonic() - 5.0
            replica.fresh_as_of = router._primary_seen
        assert _run(_count(reads)) == 0
        assert dict(router.served) == {"replica:1": 1}
        assert router.primary_up is False
    finally:
        reads.close()
        router.close()
        gone.dispose()


def test_a_failed_look_up_leaves_no_answer_and_the_connection_usable(engine: sa.Engine) -> None:
    router = ReadRouter(engine)
    reads = AsyncReads(router)
    day = dt.date(2020, 12, 1)
    good = NumberQuery("01370017", "12", "1001", "01", dt.date(1970, 5, 15), day)

    async def main() -> tuple[str, Any]:
        async def broken(connection: Any) -> None:
            await connection.execute("select no_such_column from audit_log")

        try:
            await reads.run(broken)
        except Exception as error:  # noqa: BLE001
            failed = type(error).__name__
        answer = await reads.run(lambda c: check_number_pg(c, good, "3710112347"))
        return failed, answer

    try:
        failed, (answer, person) = _run(main)
    finally:
        reads.close()
        router.close()
    assert failed == "UndefinedColumn"
    assert person is None and answer.validity == Validity.NOT_FOUND  # an empty register


def test_many_concurrent_reads_share_a_bounded_set_of_connections(engine: sa.Engine) -> None:
    router = ReadRouter(engine)
    reads = AsyncReads(router)
    seen: set[int] = set()

    async def main() -> list[int]:
        async def one(connection: Any) -> int:
            seen.add(connection.info.backend_pid)
            cursor = await connection.execute("select count(*) from pg_sleep(0.01), audit_log")
            row = await cursor.fetchone()
            return int(row[0])

        return list(await asyncio.gather(*(reads.run(one) for _ in range(100))))

    try:
        assert _run(main) == [0] * 100
        [servers] = reads._loops.values()
        assert servers["primary"].open == len(servers["primary"].idle) == 16
    finally:
        reads.close()
        router.close()
    assert len(seen) == 16  # no connection opened for one read and closed after it
