"""Face mode's (顔認証) signed reader reports and their single-use claims.

An :class:`Attestation` may be used once within :data:`FACE_WINDOW`; :func:`replay_claim`
names the token it is claimed under, and a :class:`ReplayGuard` (in memory here,
:mod:`kokuho.verify._card_store` in the database) remembers it. The bytes the reader signs
are :func:`~kokuho.verify._pki_messages.attestation_message`; the check is
:func:`~kokuho.verify._pki.verify_face_mode`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Protocol


@dataclass(frozen=True, slots=True)
class Attestation:
    """A registered 顔認証付きカードリーダー's statement that the card's holder is present.

    It says that the face of the person presenting the card (identified by its certificate
    ``fingerprint``, lowercase hex SHA-256 of the DER) matched the card's photo, at
    ``institution_code``, at ``issued_at``. ``nonce`` makes each attestation unique, so a
    :class:`ReplayGuard` can refuse a second use. ``signature`` is Ed25519 by the terminal's
    key over :func:`attestation_message`.

    The face match itself happens in the reader and is out of scope; this models only the
    reader's signed report.
    """

    terminal_id: str
    fingerprint: str
    institution_code: str
    issued_at: dt.datetime
    nonce: bytes
    signature: bytes


class ReplayGuard(Protocol):
    """Remembers tokens until they expire. ``claim`` is True only the first time a token is
    claimed. A database-backed guard can use a unique index."""

    def claim(self, token: str, expires_at: dt.datetime, now: dt.datetime) -> bool: ...


class MemoryReplayGuard:
    """In-memory :class:`ReplayGuard`: thread-safe, bounded to ``capacity`` tokens, oldest
    forgotten first."""

    def __init__(self, capacity: int = 500_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._seen: OrderedDict[str, dt.datetime] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def claim(self, token: str, expires_at: dt.datetime, now: dt.datetime) -> bool:
        with self._lock:
            seen = self._seen
            while seen and next(iter(seen.values())) <= now:
                seen.popitem(last=False)
            if token in seen:
                return False
            while len(seen) >= self._capacity:
                seen.popitem(last=False)
            seen[token] = expires_at
            return True


FACE_WINDOW: Final = dt.timedelta(seconds=120)
"""How long a face attestation is accepted (and so must be remembered as used)."""


def replay_claim(
    attestation: Attestation, window: dt.timedelta = FACE_WINDOW
) -> tuple[str, dt.datetime]:
    """The token under which a face attestation is claimed once, and when it may be
    forgotten (the attestation is stale by then)."""
    token = f"face:{attestation.terminal_id}:{attestation.nonce.hex()}"
    return token, attestation.issued_at + window
