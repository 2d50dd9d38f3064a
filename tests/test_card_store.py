"""Card state shared by server processes (challenges, used attestations in the database) and
the bound on how long a revocation takes to reach a running server (REVOCATION_SECONDS).

"Two workers" here are two engines and two desks on one database, as two server processes
have; tests/test_workers.py runs two real uvicorn processes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.store import connect
from kokuho.verify import (
    AccessDenied,
    Authenticator,
    CardDesk,
    EligibilityService,
    Principal,
    Validity,
    issue_cards,
    issue_credential,
    open_authority,
    register_terminal,
    revoke_card,
)
from kokuho.verify._audit_purge import PURGE_LIMIT
from kokuho.verify._card_store import DatabaseChallenges, DatabaseReplayGuard
from kokuho.verify._cards import REVOCATION_SECONDS
from kokuho.verify._pki import CardRejected, signed_message
from kokuho.verify._pki_sim import Card, Terminal
from kokuho.verify._tables import card_certificates, card_challenges, card_replays, terminals
from tests.cardholders import refuse_deletes, seed_taro

CLINIC = "3710112347"
PHARMACY = "3740112341"
KEY = b"s" * 32
NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)


def rejected(call: object) -> str:
    with pytest.raises(CardRejected) as refused:
        call()  # type: ignore[operator]
    return refused.value.reason_code


# -- challenges and replays across processes ------------------------------------------------


def test_a_challenge_issued_by_one_worker_is_answered_by_another(database_url: str) -> None:
    one, other = connect(database_url), connect(database_url)
    first, second = DatabaseChallenges(one), DatabaseChallenges(other)
    challenge = first.issue(NOW, CLINIC)
    assert challenge.expires_at == NOW + dt.timedelta(seconds=60)
    # Another institution is refused and does not spoil the challenge.
    assert rejected(lambda: second.consume(challenge.id, NOW, PHARMACY)) == (
        "challenge_other_institution"
    )
    assert second.consume(challenge.id, NOW + dt.timedelta(seconds=59), CLINIC) == challenge.nonce
    # Single use, whichever worker sees the second attempt.
    assert rejected(lambda: first.consume(challenge.id, NOW, CLINIC)) == "challenge_replayed"
    assert rejected(lambda: second.consume(challenge.id, NOW, CLINIC)) == "challenge_replayed"
    assert rejected(lambda: first.consume("0" * 32, NOW, CLINIC)) == "unknown_challenge"
    one.dispose()
    other.dispose()


def test_challenge_lifetime_retention_and_purge(engine: sa.Engine) -> None:
    store = DatabaseChallenges(engine)
    late, gone = store.issue(NOW, CLINIC), store.issue(NOW, CLINIC)
    # At exactly 60 s the challenge is expired, and that use spends it.
    expiry = NOW + dt.timedelta(seconds=60)
    assert rejected(lambda: store.consume(late.id, expiry, CLINIC)) == "challenge_expired"
    assert rejected(lambda: store.consume(late.id, expiry, CLINIC)) == "challenge_replayed"
    # Remembered 5 minutes after expiry; after that it is unknown (never accepted).
    forgotten = expiry + dt.timedelta(minutes=5)
    assert rejected(lambda: store.consume(gone.id, forgotten, CLINIC)) == "unknown_challenge"
    # A later issue purges rows past their retention (this process's first issue purges).
    DatabaseChallenges(engine).issue(forgotten, CLINIC)
    with engine.connect() as connection:
        left = set(connection.scalars(sa.select(card_challenges.c.challenge_id)))
    assert late.id not in left and gone.id not in left and len(left) == 1


def test_a_face_attestation_is_single_use_across_workers(database_url: str) -> None:
    one, other = connect(database_url), connect(database_url)
    expires = NOW + dt.timedelta(seconds=120)
    assert DatabaseReplayGuard(one).claim("face:reader-1:ab", expires, NOW)
    assert not DatabaseReplayGuard(other).claim("face:reader-1:ab", expires, NOW)
    assert not DatabaseReplayGuard(one).claim("face:reader-1:ab", expires, NOW)
    assert DatabaseReplayGuard(other).claim("face:reader-1:ac", expires, NOW)
    one.dispose()
    other.dispose()


@pytest.mark.parametrize(
    ("expires_zone", "now_zone"),
    [(dt.timezone(dt.timedelta(hours=-5)), dt.UTC), (dt.UTC, dt.timezone(dt.timedelta(hours=9)))],
)
def test_a_claim_in_force_is_kept_whatever_the_offsets(
    engine: sa.Engine, expires_zone: dt.tzinfo, now_zone: dt.tzinfo
) -> None:
    # SQLite stores the time as text, its offset dropped, and the purge compared that text
    # with its own "now": an attestation dated UTC-5, or a "now" in JST, had its claim
    # deleted hours before it expired, and a replay within the window was accepted.
    expires = (NOW + dt.timedelta(seconds=120)).astimezone(expires_zone)
    assert DatabaseReplayGuard(engine).claim("face:reader-1:ab", expires, NOW.astimezone(now_zone))
    later = (NOW + dt.timedelta(seconds=60)).astimezone(now_zone)
    # Another process's first claim purges (due at once): the claim is still in force.
    assert not DatabaseReplayGuard(engine).claim("face:reader-1:ab", expires, later)


def _expired(engine: sa.Engine) -> tuple[int, int]:
    """Challenges and claims past their time left in the tables."""
    with engine.connect() as connection:
        return (
            connection.scalar(
                sa.select(sa.func.count()).where(card_challenges.c.challenge_id.like("old%"))
            )
            or 0,
            connection.scalar(sa.select(sa.func.count()).where(card_replays.c.token.like("old%")))
            or 0,
        )


def test_a_backlog_of_expired_rows_drains_over_bounded_purges(engine: sa.Engine) -> None:
    # Before, a purge deleted every expired row in one statement on the caller's path: a
    # backlog (an outage's millions) made that caller's check, and the write lock, last as
    # long as the whole delete. Now at most PURGE_LIMIT a purge; the next caller goes on.
    old = NOW - dt.timedelta(days=1)
    backlog = 2 * PURGE_LIMIT + 300
    with engine.begin() as connection:
        connection.execute(
            card_challenges.insert(),
            [{"challenge_id": f"old{n}", "institution_code": CLINIC, "nonce": "00",
              "expires_at": old, "forget_at": old} for n in range(backlog)],
        )  # fmt: skip
        connection.execute(
            card_replays.insert(), [{"token": f"old{n}", "expires_at": old} for n in range(backlog)]
        )
    challenges, guard = DatabaseChallenges(engine), DatabaseReplayGuard(engine)
    left = []
    for n in range(4):
        challenges.issue(NOW, CLINIC)
        assert guard.claim(f"face:reader-1:{n}", NOW + dt.timedelta(seconds=120), NOW)
        left.append(_expired(engine))
    drained = [backlog - PURGE_LIMIT, backlog - 2 * PURGE_LIMIT, 0, 0]
    assert left == [(n, n) for n in drained]
    # Only the expired rows went: the four issued and claimed are there.
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(card_challenges)) == 4
        assert connection.scalar(sa.select(sa.func.count()).select_from(card_replays)) == 4


def test_a_failing_purge_costs_the_caller_nothing(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The purge ran in the caller's transaction: when it failed, the challenge was not issued
    # and the claim not made (the card check failed). Now it is housekeeping of its own.
    monkeypatch.setattr("kokuho.verify._card_store.PURGE_SECONDS", 0.0)  # due at every call
    old = NOW - dt.timedelta(days=1)
    with engine.begin() as connection:
        connection.execute(card_replays.insert().values(token="old", expires_at=old))
        drop = refuse_deletes(connection)
    guard = DatabaseReplayGuard(engine)
    expires = NOW + dt.timedelta(seconds=120)
    assert guard.claim("face:reader-1:ab", expires, NOW)
    assert not guard.claim("face:reader-1:ab", expires, NOW)  # still single use
    assert _expired(engine) == (0, 1)  # the failed purge left it
    with engine.begin() as connection:
        connection.execute(sa.text(drop))
    assert guard.claim("face:reader-1:ac", expires, NOW)
    assert _expired(engine) == (0, 0)  # the next purge, once due, removed it


# -- revocation within the bound -------------------------------------------------------------


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cards(engine: sa.Engine, tmp_path: Path) -> Iterator[tuple[EligibilityService, Clock, Card]]:
    seed_taro(engine, tmp_path, {CLINIC: "讃岐クリニック"})
    now = dt.datetime.now(dt.UTC)
    open_authority(tmp_path / "ca", now - dt.timedelta(days=1))
    issue_cards(engine, KEY, tmp_path / "ca", tmp_path / "cards", now)
    clock = Clock()
    service = EligibilityService(engine, KEY)
    service.cards = CardDesk(engine, KEY, tmp_path / "ca", clock=clock)
    [card_file] = (tmp_path / "cards").glob("*.pem")
    yield service, clock, Card.load(card_file)
    service.close()


def clinic(engine: sa.Engine) -> Principal:
    _, token = issue_credential(engine, label="受付", institution=CLINIC)
    return Authenticator(engine).authenticate(token)


def by_pin(service: EligibilityService, caller: Principal, card: Card) -> Validity:
    challenge = service.card_challenge(caller)
    result = service.check_card(
        caller, certificate_pem=card.certificate_pem, day=dt.date.today(), purpose="care",
        challenge_id=challenge.id, signature=card.sign(signed_message(challenge.nonce, CLINIC)),
    )  # fmt: skip
    return result.answer.validity


def by_face(
    service: EligibilityService, caller: Principal, card: Card, reader: Terminal
) -> Validity:
    attestation = reader.attest(card.certificate_pem, CLINIC, dt.datetime.now(dt.UTC))
    result = service.check_card(
        caller, certificate_pem=card.certificate_pem, day=dt.date.today(), purpose="care",
        attestation=attestation,
    )  # fmt: skip
    return result.answer.validity


def refusal(call: object) -> str:
    with pytest.raises(AccessDenied) as denied:
        call()  # type: ignore[operator]
    return denied.value.reason


def test_the_stated_bound_is_seconds() -> None:
    assert 0 < REVOCATION_SECONDS <= 10


def test_a_revoked_card_is_refused_within_the_bound(
    cards: tuple[EligibilityService, Clock, Card], engine: sa.Engine, tmp_path: Path
) -> None:
    service, clock, card = cards
    caller = clinic(engine)
    assert by_pin(service, caller, card) == Validity.VALID
    # The CA publishes a new CRL (the file is replaced); no one tells the server.
    revoke_card(tmp_path / "ca", card.serial, dt.datetime.now(dt.UTC))
    clock.now += REVOCATION_SECONDS
    assert refusal(lambda: by_pin(service, caller, card)) == "card_revoked"


def test_a_revoked_reader_is_refused_within_the_bound(
    cards: tuple[EligibilityService, Clock, Card], engine: sa.Engine
) -> None:
    service, clock, card = cards
    caller, reader = clinic(engine), Terminal.create("reader-1")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)
    assert by_face(service, caller, card, reader) == Validity.VALID
    with engine.begin() as connection:
        connection.execute(
            terminals.update()
            .where(terminals.c.terminal_id == "reader-1")
            .values(revoked_at=dt.datetime.now(dt.UTC))
        )
    clock.now += REVOCATION_SECONDS
    assert refusal(lambda: by_face(service, caller, card, reader)) == "card_bad_attestation"


def test_a_reader_revoked_by_the_command_s_function_is_refused_within_the_bound(
    cards: tuple[EligibilityService, Clock, Card], engine: sa.Engine
) -> None:
    """`kokuho terminals revoke` (revoke_terminal): the lost reader's attestations are refused
    within REVOCATION_SECONDS; revoking it again, or a reader never registered, says so."""
    from kokuho.verify import revoke_terminal

    service, clock, card = cards
    caller, reader = clinic(engine), Terminal.create("reader-2")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)
    assert by_face(service, caller, card, reader) == Validity.VALID
    assert revoke_terminal(engine, "reader-2")
    assert not revoke_terminal(engine, "reader-2") and not revoke_terminal(engine, "nobody")
    clock.now += REVOCATION_SECONDS
    assert refusal(lambda: by_face(service, caller, card, reader)) == "card_bad_attestation"


def test_an_unlinked_certificate_code_stops_answering_within_the_bound(
    cards: tuple[EligibilityService, Clock, Card], engine: sa.Engine
) -> None:
    service, clock, card = cards
    caller = clinic(engine)
    assert by_pin(service, caller, card) == Validity.VALID
    with engine.begin() as connection:
        connection.execute(card_certificates.delete())
    clock.now += REVOCATION_SECONDS
    # A genuine card the register no longer links to anyone: 該当資格なし.
    assert by_pin(service, caller, card) == Validity.NOT_FOUND
