"""A face attestation's single-use claim committed in its audit record's transaction on the
event loop (SQLite): one request's failure stays its own, a replay is refused across
processes, and the loop path answers as the thread path does."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.store import connect
from kokuho.verify import AccessDenied, CardDesk, EligibilityService, Validity, register_terminal
from kokuho.verify._audit import AuditWriter, verify_chain
from kokuho.verify._audit_loop import AlreadyClaimed
from kokuho.verify._audit_purge import PURGE_LIMIT
from kokuho.verify._card_store import DatabaseReplayGuard
from kokuho.verify._cards import revoke_card
from kokuho.verify._pki import Attestation
from kokuho.verify._pki_sim import Terminal
from kokuho.verify._tables import audit_log, card_replays
from tests.test_audit_loop import ACTOR, _run, _stored, poison, record
from tests.test_cards import CLINIC, KEY, TODAY, desk, fresh, taro_card, who

__all__ = ["desk"]  # the fixture, imported for these tests
# Far enough ahead that no purge of expired claims (which compares with the clock of the
# moment the test runs, minutes after this module was imported in a long run) removes them.
LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kokuho.db"


@pytest.fixture
def sqlite_engine(path: Path) -> Iterator[sa.Engine]:
    engine = connect(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def _claimed(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(sa.select(card_replays.c.token)))


def test_a_token_claimed_twice_in_one_batch_is_refused_once(sqlite_engine: sa.Engine) -> None:
    writer = AuditWriter(sqlite_engine)

    async def main() -> list[int | BaseException]:
        calls = [writer.write_async(record(str(n)), claim=(f"t{n % 4}", LATER)) for n in range(8)]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = _run(main)
    writer.close()
    assert [isinstance(o, AlreadyClaimed) for o in outcomes] == [False] * 4 + [True] * 4
    assert sorted(o for o in outcomes if isinstance(o, int)) == [1, 2, 3, 4]
    # A refused claim writes no record: only the winners' records, each at its own seq.
    by_seq = {seq: detail for seq, _, detail in _stored(sqlite_engine)}
    assert len(by_seq) == 4
    for n, outcome in enumerate(outcomes[:4]):
        assert f'"number": "{n}"' in by_seq[outcome]  # type: ignore[index]
    assert _claimed(sqlite_engine) == {"t0", "t1", "t2", "t3"}
    assert verify_chain(sqlite_engine).ok


def test_a_failing_record_fails_its_request_and_leaves_its_claim_unmade(
    sqlite_engine: sa.Engine, path: Path
) -> None:
    poison(path)
    writer = AuditWriter(sqlite_engine)

    async def main() -> list[int | BaseException]:
        calls = [
            writer.write_async(
                record(str(n), "kc_poison" if n == 2 else ACTOR), claim=(f"t{n}", LATER)
            )
            for n in range(6)
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    outcomes = _run(main)
    writer.close()
    failed = [n for n, outcome in enumerate(outcomes) if isinstance(outcome, BaseException)]
    assert failed == [2]
    assert isinstance(outcomes[2], RuntimeError)
    # The failed request's attestation was not spent: a retry of it may still be answered.
    assert _claimed(sqlite_engine) == {"t0", "t1", "t3", "t4", "t5"}
    assert verify_chain(sqlite_engine).records == 5


def test_a_replay_is_refused_across_processes_and_paths(sqlite_engine: sa.Engine) -> None:
    # Two writers on one file stand for two worker processes; the thread guard for a
    # check served without the loop.
    one, other = AuditWriter(sqlite_engine), AuditWriter(sqlite_engine)
    guard = DatabaseReplayGuard(sqlite_engine)
    now = dt.datetime.now(dt.UTC)
    assert guard.claim("by-thread", LATER, now)

    async def main() -> list[int | BaseException]:
        first = await one.write_async(record("1"), claim=("both", LATER))
        calls = [
            other.write_async(record("2"), claim=("both", LATER)),
            one.write_async(record("3"), claim=("by-thread", LATER)),
        ]
        return [first, *await asyncio.gather(*calls, return_exceptions=True)]

    outcomes = _run(main)
    one.close()
    other.close()
    assert outcomes[0] == 1
    assert all(isinstance(outcome, AlreadyClaimed) for outcome in outcomes[1:]), outcomes
    assert not guard.claim("both", LATER, now)  # and the loop's claim binds the thread path
    assert verify_chain(sqlite_engine).records == 1


def test_a_claim_needs_the_loop_group_commit(sqlite_engine: sa.Engine) -> None:
    memory = connect("sqlite://")
    writer = AuditWriter(memory)
    assert writer.loop_database is None

    async def main() -> int:
        return await writer.write_async(record("1"), claim=("t", LATER))

    with pytest.raises(ValueError, match="loop"):
        _run(main)
    writer.close()
    memory.dispose()


def _face(
    service: EligibilityService, folder: Path, engine: sa.Engine, attestation: Attestation,
    *, on_loop: bool,
) -> object:  # fmt: skip
    card = taro_card(folder)
    arguments = {"certificate_pem": card.certificate_pem, "day": TODAY, "purpose": "care",
                 "attestation": attestation}  # fmt: skip
    if on_loop:
        return _run(lambda: service.check_card_async(who(engine), **arguments))  # type: ignore[arg-type]
    return service.check_card(who(engine), **arguments)  # type: ignore[arg-type]


def _last_outcome(engine: sa.Engine) -> str:
    with engine.connect() as connection:
        outcome = connection.scalar(sa.select(audit_log.c.outcome).order_by(audit_log.c.seq.desc()))
    return str(outcome)


def test_the_loop_path_answers_and_refuses_as_the_thread_path(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    assert service._claims_on_loop() is (engine.dialect.name == "sqlite")  # noqa: SLF001
    card = taro_card(folder)
    reader = Terminal.create("reader-1")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)
    answers = {}
    attestations = {}
    for on_loop in (False, True):
        attestations[on_loop] = reader.attest(card.certificate_pem, CLINIC, fresh())
        result = _face(service, folder, engine, attestations[on_loop], on_loop=on_loop)
        answers[on_loop] = (result.answer, _last_outcome(engine))  # type: ignore[attr-defined]
    assert answers[False] == answers[True]
    assert answers[True][0].validity == Validity.VALID
    # Each attestation replayed through the other path: refused, and the refusal audited.
    for on_loop in (False, True):
        with pytest.raises(AccessDenied) as denied:
            _face(service, folder, engine, attestations[not on_loop], on_loop=on_loop)
        assert denied.value.reason == "card_attestation_replayed"
        assert _last_outcome(engine) == "refused:card_attestation_replayed"
    # A card refused before the claim (a reader not registered here): the same refusal,
    # audited, on both paths.
    stranger = Terminal.create("reader-9")
    for on_loop in (False, True):
        attestation = stranger.attest(card.certificate_pem, CLINIC, fresh())
        with pytest.raises(AccessDenied) as denied:
            _face(service, folder, engine, attestation, on_loop=on_loop)
        assert denied.value.reason == "card_bad_attestation"
        assert _last_outcome(engine) == "refused:card_bad_attestation"
    assert verify_chain(engine).ok


def test_a_revoked_card_is_refused_within_the_bound_though_its_chain_is_cached(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    clock = [0.0]
    service.cards = CardDesk(engine, KEY, folder / "ca", clock=lambda: clock[0])
    card = taro_card(folder)
    reader = Terminal.create("reader-1")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)

    def check() -> object:
        return _face(service, folder, engine, reader.attest(card.certificate_pem, CLINIC, fresh()),
                     on_loop=True)  # fmt: skip

    assert check().answer.validity == Validity.VALID  # type: ignore[attr-defined]
    assert service.cards.verifier.cached_certificates == 1
    revoke_card(folder / "ca", card.serial, dt.datetime.now(dt.UTC))
    clock[0] += 5.0  # the bound (REVOCATION_SECONDS) has passed: the new CRL is read
    with pytest.raises(AccessDenied) as denied:
        check()
    assert denied.value.reason == "card_revoked"
    assert service.cards.verifier.cached_certificates == 1  # refused with its chain cached


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_face_check_on_the_loop_takes_no_pooled_connection(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    """On a SQLite file, a face check on the event loop reads the reader, the holder and the
    register on plain sqlite3 connections and commits on the loop's own: no pooled one."""
    service, folder = desk
    card = taro_card(folder)
    reader = Terminal.create("reader-1")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)
    caller = who(engine)
    checkouts: list[object] = []
    sa.event.listen(engine, "checkout", lambda *args: checkouts.append(args))
    result = _run(
        lambda: service.check_card_async(
            caller,
            certificate_pem=card.certificate_pem,
            day=TODAY,
            purpose="care",
            attestation=reader.attest(card.certificate_pem, CLINIC, fresh()),
        )  # fmt: skip
    )
    assert result.answer.validity == Validity.VALID and result.patient is not None
    assert checkouts == []
    assert verify_chain(engine).ok


def _expired_claim_and_failing_purge(engine: sa.Engine, trigger: str) -> None:
    """An expired claim in the table, and a trigger that makes any DELETE of it fail."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with engine.begin() as connection:
        connection.execute(card_replays.insert().values(token="expired", expires_at=past))
        connection.execute(sa.text(trigger))


def test_a_failing_purge_of_expired_claims_costs_no_caller_its_record(
    sqlite_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Housekeeping rides after a batch that made claims; before, it ran inside the batch's
    # transaction, so a purge that failed failed a lone caller's record (and its answer).
    monkeypatch.setattr("kokuho.verify._audit_purge.PURGE_SECONDS", 0.0)  # due at every flush
    _expired_claim_and_failing_purge(
        sqlite_engine,
        # In the audit file beside the register (a trigger lives in its table's file).
        "CREATE TRIGGER audit.no_delete BEFORE DELETE ON card_replays "
        "BEGIN SELECT RAISE(ABORT, 'no delete'); END",
    )
    writer = AuditWriter(sqlite_engine)

    async def main() -> tuple[int, int]:
        first = await writer.write_async(record("1"), claim=("t1", LATER))
        with sqlite_engine.begin() as connection:
            connection.execute(sa.text("DROP TRIGGER no_delete"))
        second = await writer.write_async(record("2"), claim=("t2", LATER))
        return first, second

    assert _run(main) == (1, 2)
    writer.close()
    # The failed purge left the expired claim; the next one, once due, removed it.
    assert _claimed(sqlite_engine) == {"t1", "t2"}
    assert verify_chain(sqlite_engine).ok


def test_a_purge_deletes_at_most_purge_limit_claims_and_the_next_flush_goes_on(
    sqlite_engine: sa.Engine,
) -> None:
    # The purge runs inside the flush's transaction, holding SQLite's write lock: before, it
    # deleted every expired claim at once (PostgreSQL's was already bounded), so a backlog
    # made one flush, and every writer waiting on it, last as long as the whole delete.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    backlog = PURGE_LIMIT + 300
    with sqlite_engine.begin() as connection:
        connection.execute(
            card_replays.insert(),
            [{"token": f"old{n}", "expires_at": past} for n in range(backlog)],
        )
        connection.execute(
            card_replays.insert(), [{"token": f"kept{n}", "expires_at": LATER} for n in range(3)]
        )
    expired = sa.select(sa.func.count()).where(card_replays.c.token.like("old%"))
    writer = AuditWriter(sqlite_engine)

    async def main() -> list[int]:
        left = []
        for n in range(3):
            await writer.write_async(record(str(n)), claim=(f"t{n}", LATER))
            with sqlite_engine.connect() as connection:
                left.append(connection.scalar(expired) or 0)
        return left

    # The first flush deletes PURGE_LIMIT; having found that many, the next flush that makes
    # claims purges again (without waiting PURGE_SECONDS) and finds the rest.
    assert _run(main) == [backlog - PURGE_LIMIT, 0, 0]
    writer.close()
    assert _claimed(sqlite_engine) == {"kept0", "kept1", "kept2", "t0", "t1", "t2"}
    assert verify_chain(sqlite_engine).ok


def test_a_claim_dated_in_another_offset_is_kept_until_it_expires(
    sqlite_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The claim's time was stored as the terminal dated it (sqlite3 writes the offset) and
    # the purge compares text with its UTC "now": an attestation dated UTC-5 lost its claim
    # to the next purge, hours before it expired, and its replay was accepted.
    monkeypatch.setattr("kokuho.verify._audit_purge.PURGE_SECONDS", 0.0)  # due at every flush
    west = dt.timezone(dt.timedelta(hours=-5))
    in_force = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).astimezone(west)
    writer = AuditWriter(sqlite_engine)

    async def main() -> BaseException | int:
        await writer.write_async(record("1"), claim=("west", in_force))
        await writer.write_async(record("2"), claim=("t2", LATER))  # purges
        replay = writer.write_async(record("3"), claim=("west", in_force))
        [outcome] = await asyncio.gather(replay, return_exceptions=True)
        return outcome

    assert isinstance(_run(main), AlreadyClaimed)
    writer.close()
    assert _claimed(sqlite_engine) == {"west", "t2"}
