"""Card state shared by every server process: PIN challenges (暗証番号モード) and used face
attestations (顔認証) live in the database, so several workers, or several machines on one
database, answer any step of a card check whichever of them the request reaches.

Both are the database-backed forms :mod:`kokuho.verify._pki` asks for: a challenge is
consumed by one conditional ``UPDATE … RETURNING`` (only one caller can win it), a replay is
refused by the primary key on the attestation's token.

Rows past their time are deleted by a purge on a caller's path (at most one per
``PURGE_SECONDS`` per process), bounded as the audit batchers' purge is
(:mod:`kokuho.verify._audit_purge`): at most ``PURGE_LIMIT`` rows, the next caller purging
again when that many were found, so a backlog (millions after an outage) drains over
successive purges instead of making one caller's check, and SQLite's write lock, last as long
as the whole delete. It runs in a transaction of its own before the caller's: a purge that
fails is logged and costs the caller nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kokuho.verify._audit_purge import PURGE_LIMIT, PURGE_SECONDS, bounded_purge
from kokuho.verify._pki import NONCE_BYTES, CardRejected, Challenge
from kokuho.verify._pki_messages import aware, institution_bytes
from kokuho.verify._tables import card_challenges, card_replays

log = logging.getLogger(__name__)


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite gives stored UTC timestamps back without their zone.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


class _Purge:
    """At most one purge per interval per process: cheap housekeeping, never on every call;
    at once again after a purge that found :data:`PURGE_LIMIT` rows."""

    def __init__(
        self, engine: sa.Engine, table: sa.Table, key: sa.Column[Any], column: sa.Column[Any]
    ) -> None:
        self._engine = engine
        self._table = table.name
        self._delete = bounded_purge(table, key, column)
        self._next = 0.0

    def due(self, now: dt.datetime) -> None:
        clock = time.monotonic()
        if clock < self._next:
            return
        # The interval starts before the statement: a purge that fails waits for the next.
        self._next = clock + PURGE_SECONDS
        try:
            with self._engine.begin() as connection:
                deleted = connection.execute(self._delete, {"now": now}).rowcount
        except sa.exc.SQLAlchemyError as error:
            log.warning(
                "the purge of expired %s failed (tried again later): %s", self._table, error
            )
            return
        if deleted >= PURGE_LIMIT:  # more may be left: the next caller goes on
            self._next = 0.0


c = card_challenges.c
_CONSUME = (
    card_challenges.update()
    .where(
        c.challenge_id == sa.bindparam("id"),
        c.institution_code == sa.bindparam("institution"),
        c.used_at.is_(None),
        c.forget_at > sa.bindparam("now"),
    )
    .values(used_at=sa.bindparam("now"))
    .returning(c.nonce, c.expires_at)
)
_WHY = sa.select(c.institution_code, c.forget_at).where(c.challenge_id == sa.bindparam("id"))


class DatabaseChallenges:
    """:class:`~kokuho.verify._pki.ChallengeStore` in the database, with the guarantees of
    the in-memory :class:`~kokuho.verify._pki.ChallengeBook`: valid for ``lifetime``, kept
    another ``retention`` for precise refusals, single use, bound to the institution."""

    def __init__(
        self,
        engine: sa.Engine,
        lifetime: dt.timedelta = dt.timedelta(seconds=60),
        *,
        retention: dt.timedelta = dt.timedelta(minutes=5),
    ) -> None:
        if lifetime <= dt.timedelta(0) or retention < dt.timedelta(0):
            raise ValueError("lifetime must be positive, retention non-negative")
        self._engine = engine
        self._lifetime = lifetime
        self._retention = retention
        self._purge = _Purge(engine, card_challenges, c.challenge_id, c.forget_at)

    def issue(self, now: dt.datetime, institution_code: str) -> Challenge:
        now = aware(now).astimezone(dt.UTC)
        institution_bytes(institution_code)
        challenge = Challenge(
            id=secrets.token_hex(16),
            nonce=secrets.token_bytes(NONCE_BYTES),
            expires_at=now + self._lifetime,
            institution_code=institution_code,
        )
        self._purge.due(now)
        with self._engine.begin() as connection:
            connection.execute(
                card_challenges.insert().values(
                    challenge_id=challenge.id,
                    institution_code=institution_code,
                    nonce=challenge.nonce.hex(),
                    expires_at=challenge.expires_at,
                    forget_at=challenge.expires_at + self._retention,
                )
            )
        return challenge

    def consume(self, challenge_id: str, now: dt.datetime, institution_code: str) -> bytes:
        now = aware(now).astimezone(dt.UTC)
        with self._engine.begin() as connection:
            won = connection.execute(
                _CONSUME, {"id": challenge_id, "institution": institution_code, "now": now}
            ).first()
            why = None if won else connection.execute(_WHY, {"id": challenge_id}).first()
        # The refusals in the in-memory book's order; the update above already spent the
        # challenge when it was ours and unused, expired or not (one attempt per challenge).
        if won is None:
            if why is None or _utc(why.forget_at) <= now:
                raise CardRejected("unknown_challenge", "no such challenge (or long expired)")
            if why.institution_code != institution_code:
                raise CardRejected(
                    "challenge_other_institution", "challenge was issued to another institution"
                )
            raise CardRejected("challenge_replayed", "challenge was already used")
        expires_at = _utc(won.expires_at)
        if now >= expires_at:
            raise CardRejected(
                "challenge_expired", f"challenge expired at {expires_at.isoformat()}"
            )
        return bytes.fromhex(won.nonce)


class DatabaseReplayGuard:
    """:class:`~kokuho.verify._pki.ReplayGuard` in the database: the first claim of a token
    inserts it, any later claim (from any process) finds it and is refused."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._purge = _Purge(engine, card_replays, card_replays.c.token, card_replays.c.expires_at)

    def claim(self, token: str, expires_at: dt.datetime, now: dt.datetime) -> bool:
        if len(token) > card_replays.c.token.type.length:  # type: ignore[attr-defined]
            raise ValueError("replay token too long")
        # In UTC, as the challenges: SQLite keeps the time as text without its offset and the
        # purges compare text, so a claim dated in another offset would be purged hours early
        # (and its replay accepted) or late.
        expires_at = aware(expires_at, "expires_at").astimezone(dt.UTC)
        values = {"token": token, "expires_at": expires_at}
        self._purge.due(aware(now).astimezone(dt.UTC))
        with self._engine.begin() as connection:
            claim = _CLAIM_PG if connection.dialect.name == "postgresql" else _CLAIM_SQLITE
            # RETURNING, not rowcount: some drivers report -1 for ON CONFLICT inserts.
            first = connection.execute(claim, values).first()
        return first is not None


def _claim(insert: Any) -> Any:
    return (
        insert(card_replays)
        .values(token=sa.bindparam("token"), expires_at=sa.bindparam("expires_at"))
        .on_conflict_do_nothing()
        .returning(card_replays.c.token)
    )


_CLAIM_PG = _claim(postgresql.insert)
_CLAIM_SQLITE = _claim(sqlite.insert)
