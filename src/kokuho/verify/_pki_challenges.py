"""PIN mode's (暗証番号) single-use server challenges and where they are kept.

:class:`ChallengeStore` is the contract; :class:`ChallengeBook` keeps challenges in memory
and :mod:`kokuho.verify._card_store` in the database. :func:`~kokuho.verify._pki.verify_pin_mode`
consumes one per signature attempt.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from kokuho.verify._pki_messages import NONCE_BYTES, aware, institution_bytes
from kokuho.verify._pki_reasons import CardRejected


@dataclass(frozen=True, slots=True)
class Challenge:
    """A single-use server challenge for PIN mode, bound to the institution it was issued to.

    ``id`` is what the institution sends back. ``nonce`` is what the card signs, through
    :func:`signed_message`.
    """

    id: str
    nonce: bytes
    expires_at: dt.datetime
    institution_code: str


class ChallengeStore(Protocol):
    """Where challenges live. :class:`ChallengeBook` keeps them in memory; a database-backed
    store must give the same guarantees.

    ``consume`` must atomically check and mark the challenge used (for example
    ``UPDATE … SET used_at = now WHERE id = ? AND used_at IS NULL RETURNING …``). It raises
    :class:`CardRejected` with ``unknown_challenge``, ``challenge_other_institution``,
    ``challenge_replayed`` or ``challenge_expired``.
    """

    def issue(self, now: dt.datetime, institution_code: str) -> Challenge: ...

    def consume(self, challenge_id: str, now: dt.datetime, institution_code: str) -> bytes: ...


@dataclass(slots=True)
class _Entry:
    challenge: Challenge
    used: bool
    forget_at: dt.datetime


class ChallengeBook:
    """In-memory :class:`ChallengeStore`. Thread-safe and bounded.

    * A challenge is valid for ``lifetime`` (60 s by default).
    * It is remembered for another ``retention``, so a late or repeated use still gets a
      precise refusal (``challenge_expired`` or ``challenge_replayed``). After that, such a
      use is refused as ``unknown_challenge``.
    * At most ``capacity`` challenges are kept. Beyond that, the oldest are forgotten first.
      A forgotten challenge is refused and never accepted.
    * Expired entries are purged in issue order. A ``now`` that goes backwards only delays
      the purge; it never lets a used challenge through.
    """

    def __init__(
        self,
        lifetime: dt.timedelta = dt.timedelta(seconds=60),
        *,
        retention: dt.timedelta = dt.timedelta(minutes=5),
        capacity: int = 500_000,
    ) -> None:
        if lifetime <= dt.timedelta(0) or retention < dt.timedelta(0) or capacity < 1:
            raise ValueError("lifetime must be positive, retention non-negative, capacity ≥ 1")
        self._lifetime = lifetime
        self._retention = retention
        self._capacity = capacity
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def issue(self, now: dt.datetime, institution_code: str) -> Challenge:
        now = aware(now)
        institution_bytes(institution_code)
        challenge = Challenge(
            id=secrets.token_hex(16),
            nonce=secrets.token_bytes(NONCE_BYTES),
            expires_at=now + self._lifetime,
            institution_code=institution_code,
        )
        entry = _Entry(challenge, used=False, forget_at=challenge.expires_at + self._retention)
        with self._lock:
            self._purge(now)
            while len(self._entries) >= self._capacity:
                self._entries.popitem(last=False)
            self._entries[challenge.id] = entry
        return challenge

    def consume(self, challenge_id: str, now: dt.datetime, institution_code: str) -> bytes:
        now = aware(now)
        with self._lock:
            self._purge(now)
            entry = self._entries.get(challenge_id)
            if entry is None:
                raise CardRejected("unknown_challenge", "no such challenge (or long expired)")
            # Refused without burning the challenge: another institution must not be able
            # to spoil a check that is under way.
            if entry.challenge.institution_code != institution_code:
                raise CardRejected(
                    "challenge_other_institution", "challenge was issued to another institution"
                )
            if entry.used:
                raise CardRejected("challenge_replayed", "challenge was already used")
            entry.used = True
            if now >= entry.challenge.expires_at:
                raise CardRejected(
                    "challenge_expired",
                    f"challenge expired at {entry.challenge.expires_at.isoformat()}",
                )
            return entry.challenge.nonce

    def _purge(self, now: dt.datetime) -> None:
        entries = self._entries
        while entries:
            first = next(iter(entries.values()))
            if first.forget_at > now:
                break
            entries.popitem(last=False)
