"""Face-mode card checks on the PostgreSQL event loop (verify/_service_cards.py): the
attestation's single-use claim committed in the loop's audit transaction (verify/_audit_pg.py),
the reads over psycopg's async API, and the same answers as the thread path."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.store import AsyncReads, ReadRouter
from kokuho.verify import (
    AccessDenied,
    CardDesk,
    EligibilityService,
    Validity,
    register_terminal,
)
from kokuho.verify._audit import AuditWriter, verify_chain
from kokuho.verify._audit_loop import AlreadyClaimed
from kokuho.verify._card_store import DatabaseReplayGuard
from kokuho.verify._check import check_person
from kokuho.verify._check_pg import check_person_pg
from kokuho.verify._pki_sim import Terminal
from kokuho.verify._tables import audit_log, card_replays, terminals
from tests.cardholders import refuse_deletes
from tests.test_audit import _poison
from tests.test_audit_pg import ACTOR, _run, record
from tests.test_cards import CLINIC, KEY, TODAY, desk, fresh, taro_card, who
from tests.test_verify_service import clinic, service

__all__ = ["desk", "service"]  # the fixtures, imported for these tests
LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
# PostgreSQL only: the database_url fixture's SQLite case does not apply.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


def _claimed(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(sa.select(card_replays.c.token)))


def _details(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(audit_log.c.seq, audit_log.c.detail)).all()
    return {seq: str(detail) for seq, detail in rows}


def test_a_token_claimed_twice_in_one_batch_is_refused_once(engine: sa.Engine) -> None:
    writer = AuditWriter(engine)
    assert writer.pg_loop

    async def main() -> list[int | BaseException]:
        calls = [writer.write_async(record(str(n)), claim=(f"t{n % 4}", LATER)) for n in range(8)]
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        outcomes = _run(main)
        assert len(writer._pg_batchers) == 1  # noqa: SLF001  (the loop's batcher wrote them)
    finally:
        writer.close()
    assert [isinstance(o, AlreadyClaimed) for o in outcomes] == [False] * 4 + [True] * 4
    assert sorted(o for o in outcomes if isinstance(o, int)) == [1, 2, 3, 4]
    # A refused claim writes no record; the other records of its batch commit.
    details = _details(engine)
    assert len(details) == 4
    for n, outcome in enumerate(outcomes[:4]):
        assert f"'number': '{n}'" in details[outcome] or f'"number": "{n}"' in details[outcome]  # type: ignore[index]
    assert _claimed(engine) == {"t0", "t1", "t2", "t3"}
    assert verify_chain(engine).ok


def test_a_replay_is_refused_across_batches_workers_and_paths(engine: sa.Engine) -> None:
    # Two writers stand for two worker processes; the thread guard for a check served
    # without the loop.
    one, other = AuditWriter(engine), AuditWriter(engine)
    guard = DatabaseReplayGuard(engine)
    now = dt.datetime.now(dt.UTC)
    assert guard.claim("by-thread", LATER, now)

    async def main() -> list[int | BaseException]:
        first = await one.write_async(record("1"), claim=("both", LATER))
        calls = [
            one.write_async(record("2"), claim=("both", LATER)),  # a later batch
            other.write_async(record("3"), claim=("both", LATER)),  # another worker
            one.write_async(record("4"), claim=("by-thread", LATER)),
            other.write_async(record("5"), claim=("fresh", LATER)),
        ]
        return [first, *await asyncio.gather(*calls, return_exceptions=True)]

    try:
        outcomes = _run(main)
    finally:
        one.close()
        other.close()
    assert outcomes[0] == 1
    assert [isinstance(o, AlreadyClaimed) for o in outcomes[1:]] == [True, True, True, False]
    assert outcomes[4] == 2
    assert not guard.claim("both", LATER, now)  # and the loop's claim binds the thread path
    assert verify_chain(engine).records == 2


def test_a_failing_record_fails_its_request_and_leaves_its_claim_unmade(
    engine: sa.Engine,
) -> None:
    with engine.begin() as connection:
        _poison(connection)
    writer = AuditWriter(engine)

    async def main() -> list[int | BaseException]:
        calls = [
            writer.write_async(
                record(str(n), "kc_poison" if n == 2 else ACTOR), claim=(f"t{n % 5}", LATER)
            )
            for n in range(6)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        outcomes = _run(main)
    finally:
        writer.close()
    assert isinstance(outcomes[2], RuntimeError)
    assert isinstance(outcomes[5], AlreadyClaimed)  # t0 again, in the batch retried alone
    assert all(isinstance(outcomes[n], int) for n in (0, 1, 3, 4))
    # The failed request's attestation was not spent: a retry of it may still be answered.
    assert _claimed(engine) == {"t0", "t1", "t3", "t4"}
    assert verify_chain(engine).records == 4


def test_the_async_person_look_up_answers_as_the_sqlalchemy_path(
    service: EligibilityService, engine: sa.Engine
) -> None:
    who_ = clinic(engine)
    institution = who_.institution_code or ""
    service.record_consent(institution, 1, ["limit"], dt.date(2020, 12, 1), 3)  # type: ignore[list-item]
    days = [dt.date(2019, 1, 1), dt.date(2020, 12, 1), dt.date(2021, 3, 31),
            dt.date(2021, 4, 1), dt.date(2021, 2, 1)]  # fmt: skip
    with engine.connect() as connection:
        people = list(connection.scalars(sa.text("SELECT person_id FROM persons")))
    cases = [(person, day) for person in [*people, 999_999] for day in days]
    with engine.connect() as connection:
        sync = [check_person(connection, p, day, institution) for p, day in cases]
    router = ReadRouter(engine)
    reads = AsyncReads(router)

    async def main() -> list[Any]:
        return [
            await reads.run(lambda c, p=p, day=day: check_person_pg(c, p, day, institution))
            for p, day in cases
        ]

    try:
        on_loop = _run(main)
    finally:
        reads.close()
        router.close()
    assert any(answer.consents for answer in sync)  # the consent is in the answers compared
    assert {answer.validity for answer in sync} >= {Validity.VALID, Validity.NOT_FOUND}
    assert on_loop == sync


def _face(service: EligibilityService, caller: Any, card: Any, attestation: Any) -> Any:
    return service.check_card_async(
        caller, certificate_pem=card.certificate_pem, day=TODAY, purpose="care",
        attestation=attestation,
    )  # fmt: skip


def test_a_face_check_runs_on_the_loop_without_the_thread_path(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    card = taro_card(folder)
    reader = Terminal.create("reader-1")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)
    caller = who(engine)
    assert service._face_on_pg_loop()  # noqa: SLF001
    expected = service.check_card(
        caller, certificate_pem=card.certificate_pem, day=TODAY, purpose="care",
        attestation=reader.attest(card.certificate_pem, CLINIC, fresh()),
    )  # fmt: skip

    def forbidden(*_: object, **__: object) -> object:
        raise AssertionError("the face check on the PostgreSQL loop must not use the thread")

    service._card_answer = forbidden  # type: ignore[method-assign]
    attestations = [reader.attest(card.certificate_pem, CLINIC, fresh()) for _ in range(3)]

    async def main() -> list[Any]:
        # Each attestation twice, at once (one batch) and the first again later.
        calls = [_face(service, caller, card, a) for a in attestations for _ in range(2)]
        first = await asyncio.gather(*calls, return_exceptions=True)
        again = await asyncio.gather(
            _face(service, caller, card, attestations[0]), return_exceptions=True
        )
        return [*first, *again]

    outcomes = _run(main)
    answered = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(answered) == 3 and len(refused) == 4
    assert all(isinstance(o, AccessDenied) for o in refused)
    assert {o.reason for o in refused} == {"card_attestation_replayed"}  # type: ignore[attr-defined]
    for result in answered:
        assert result.answer == expected.answer
        assert result.answer.validity == Validity.VALID
        assert result.patient == expected.patient
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(audit_log.c.outcome, audit_log.c.person_id, audit_log.c.detail)
            .where(audit_log.c.action == "check_card_face")
            .order_by(audit_log.c.seq)
        ).all()
    # The thread path's record and the loop's are the same; each refusal is audited.
    answers = [row for row in rows if not row.outcome.startswith("refused")]
    assert len(answers) == 4 and len(set(answers)) == 1
    assert sum(row.outcome == "refused:card_attestation_replayed" for row in rows) == 4
    assert verify_chain(engine).ok


def test_a_face_check_on_the_loop_refuses_an_unknown_reader_and_audits_it(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    card = taro_card(folder)
    stranger = Terminal.create("reader-9")  # not registered
    caller = who(engine)

    async def main() -> Any:
        return await _face(service, caller, card, stranger.attest(card.certificate_pem, CLINIC,
                                                                  fresh()))  # fmt: skip

    with pytest.raises(AccessDenied) as denied:
        _run(main)
    assert denied.value.reason == "card_bad_attestation"
    assert _claimed(engine) == set()  # a refused card claims nothing
    assert verify_chain(engine).ok


def test_a_revoked_reader_is_refused_on_the_loop_within_the_bound(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    clock = [0.0]
    service.cards = CardDesk(engine, KEY, folder / "ca", clock=lambda: clock[0])
    card = taro_card(folder)
    reader = Terminal.create("reader-1")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)
    caller = who(engine)

    def check() -> Any:
        attestation = reader.attest(card.certificate_pem, CLINIC, fresh())
        return _run(lambda: _face(service, caller, card, attestation))

    assert check().answer.validity == Validity.VALID  # the reader's row is now cached
    with engine.begin() as connection:
        connection.execute(
            terminals.update()
            .where(terminals.c.terminal_id == reader.terminal_id)
            .values(revoked_at=dt.datetime.now(dt.UTC))
        )
    clock[0] += 4.0  # within the bound: the cached row may still answer
    assert check().answer.validity == Validity.VALID
    clock[0] += 1.0  # the bound (REVOCATION_SECONDS) has passed: the row is read again
    with pytest.raises(AccessDenied) as denied:
        check()
    assert denied.value.reason == "card_bad_attestation"
    assert verify_chain(engine).ok


def test_a_failure_between_the_two_trips_commits_no_claim(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The two-trip batch has no BEGIN: the Sync ending its pipeline would commit the claims
    # made in the first trip. A failure before the records are sent must drop the connection
    # instead, so that the claims are rolled back with the rest.
    from kokuho.verify import _audit_pg

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no hash today")

    monkeypatch.setattr(_audit_pg, "chain_rows", failing)
    writer = AuditWriter(engine)

    async def main() -> list[int | BaseException]:
        calls = [writer.write_async(record(str(n)), claim=(f"f{n}", LATER)) for n in range(3)]
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        outcomes = _run(main)
    finally:
        writer.close()
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert _claimed(engine) == set() and _details(engine) == {}
    monkeypatch.undo()
    writer = AuditWriter(engine)  # the same tokens are still free

    async def again() -> list[int | BaseException]:
        calls = [writer.write_async(record(str(n)), claim=(f"f{n}", LATER)) for n in range(3)]
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        assert sorted(_run(again)) == [1, 2, 3]  # type: ignore[type-var]
    finally:
        writer.close()
    assert _claimed(engine) == {"f0", "f1", "f2"} and verify_chain(engine).ok


def test_a_failing_purge_of_expired_claims_costs_no_caller_its_record(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on SQLite (tests/test_audit_claims.py): the purge runs after the batch's commit.
    monkeypatch.setattr("kokuho.verify._audit_purge.PURGE_SECONDS", 0.0)  # due at every flush
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with engine.begin() as connection:
        connection.execute(card_replays.insert().values(token="expired", expires_at=past))
        refuse_deletes(connection)
    writer = AuditWriter(engine)

    async def main() -> tuple[int, int]:
        first = await writer.write_async(record("1"), claim=("t1", LATER))
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TRIGGER no_delete ON card_replays"))
        second = await writer.write_async(record("2"), claim=("t2", LATER))
        return first, second

    assert _run(main) == (1, 2)
    writer.close()
    assert _claimed(engine) == {"t1", "t2"}
    assert verify_chain(engine).ok


def test_a_purge_takes_at_most_its_limit_and_asks_for_another(engine: sa.Engine) -> None:
    # Bounded so its own transaction stays short; a purge that found its limit runs again at
    # the next flush that makes claims, not 30 s later.
    from kokuho.verify._audit_purge import PURGE_LIMIT

    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with engine.begin() as connection:
        connection.execute(
            card_replays.insert(),
            [{"token": f"old{n}", "expires_at": past} for n in range(2 * PURGE_LIMIT + 500)],
        )
    writer = AuditWriter(engine)

    def expired() -> int:
        with engine.connect() as connection:
            query = sa.select(sa.func.count()).where(card_replays.c.expires_at <= past)
            return int(connection.scalar(query.select_from(card_replays)) or 0)

    async def main() -> list[int]:
        left = []
        for n in range(4):
            await writer.write_async(record(str(n)), claim=(f"t{n}", LATER))
            # The purge follows the answer on the loop's connection; a record without a
            # claim (which never purges) commits after it, so it is over when this returns.
            await writer.write_async(record(f"{n}+"))
            left.append(expired())
        return left

    assert _run(main) == [PURGE_LIMIT + 500, 500, 0, 0]
    writer.close()
    assert _claimed(engine) == {"t0", "t1", "t2", "t3"}
    assert verify_chain(engine).ok


def _two_trip_batches(writer: AuditWriter) -> list[int]:
    """The sizes of the batches the loop's batcher sends in two round trips from now on."""
    [batcher] = writer._pg_batchers.values()  # noqa: SLF001
    sizes: list[int] = []
    locked = batcher._locked  # noqa: SLF001

    async def counted(connection: Any, batch: list[Any], known: Any) -> Any:
        sizes.append(len(batch))
        return await locked(connection, batch, known)

    batcher._locked = counted  # type: ignore[method-assign]  # noqa: SLF001
    return sizes


def test_a_known_heads_batch_makes_its_claims_in_one_round_trip(engine: sa.Engine) -> None:
    writer = AuditWriter(engine)
    other = AuditWriter(engine)  # as another worker process
    guard = DatabaseReplayGuard(engine)
    assert guard.claim("by-thread", LATER, dt.datetime.now(dt.UTC))

    async def main() -> tuple[list[int | BaseException], list[int]]:
        outcomes: list[int | BaseException] = []
        for n in range(2):  # the second batch knows the head beforehand
            outcomes.append(await writer.write_async(record(f"w{n}"), claim=(f"w{n}", LATER)))
        two_trips = _two_trip_batches(writer)

        async def batch(*claims: str) -> None:
            calls = [writer.write_async(record(c), claim=(c, LATER)) for c in claims]
            outcomes.extend(await asyncio.gather(*calls, return_exceptions=True))

        await batch("a", "b")  # one round trip
        await batch("w0", "c")  # a claim made before: the batch is refused whole, then split
        await batch("d", "d")  # a token twice: two round trips straight away
        await batch("e")  # one round trip again
        outcomes.append(await asyncio.to_thread(other.write, record("thread")))
        await batch("f")  # the head moved: nothing claimed on the first try, none refused
        await batch("g")  # two round trips, the head being another writer's, then known
        await batch("by-thread")  # made by the thread path: refused after the first try
        return outcomes, two_trips

    try:
        outcomes, two_trips = _run(main)
    finally:
        writer.close()
        other.close()
    refused = [n for n, o in enumerate(outcomes) if isinstance(o, AlreadyClaimed)]
    assert refused == [4, 7, 12]  # w0 again, the second d, by-thread
    assert outcomes[:4] == [1, 2, 3, 4] and outcomes[5:7] == [5, 6]
    assert outcomes[8:12] == [7, 8, 9, 10]
    assert two_trips == [2, 2, 1, 1, 1]  # w0+c, d+d, f, g, by-thread
    assert _claimed(engine) == {"by-thread", "w0", "w1", "a", "b", "c", "d", "e", "f", "g"}
    report = verify_chain(engine)
    assert report.ok and report.records == 10


def test_a_replay_on_the_one_trip_path_raises_no_server_error(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token already claimed makes the one-trip statement write nothing (its NOT EXISTS),
    # not fail: no ERROR in the server's log for each replay, no rollback; the two round
    # trips then refuse the replay alone.
    from kokuho.verify import _audit_pg

    rollbacks: list[int] = []
    roll_back = _audit_pg._roll_back

    async def counted(connection: Any) -> None:
        rollbacks.append(1)
        await roll_back(connection)

    monkeypatch.setattr(_audit_pg, "_roll_back", counted)
    writer = AuditWriter(engine)

    async def main() -> list[int | BaseException]:
        outcomes: list[int | BaseException] = []
        for n in range(2):  # the second batch knows the head beforehand
            outcomes.append(await writer.write_async(record(f"w{n}"), claim=(f"w{n}", LATER)))
        calls = [writer.write_async(record(c), claim=(c, LATER)) for c in ("w0", "c")]
        outcomes.extend(await asyncio.gather(*calls, return_exceptions=True))
        return outcomes

    try:
        outcomes = _run(main)
    finally:
        writer.close()
    assert outcomes[:2] == [1, 2] and isinstance(outcomes[2], AlreadyClaimed)
    assert outcomes[3] == 3
    assert rollbacks == []
    assert _claimed(engine) == {"w0", "w1", "c"}
    assert verify_chain(engine).ok
