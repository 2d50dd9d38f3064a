"""Why a card check says no: the reason codes and :class:`CardRejected`.

Every part of the card path (:mod:`kokuho.verify._pki` and the modules it is built from)
refuses through this one exception, and the HTTP faces turn its ``reason_code`` into their
problem answers (``_problems``). It sits at the bottom of the card modules, importing none
of them, so that each of them can raise it.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

ReasonCode = Literal[
    "malformed",
    "untrusted_issuer",
    "bad_signature",
    "wrong_key_usage",
    "not_yet_valid",
    "expired",
    "revoked",
    "revocation_unknown",
    "unknown_challenge",
    "challenge_expired",
    "challenge_replayed",
    "challenge_other_institution",
    "bad_attestation",
    "stale_attestation",
    "attestation_replayed",
    "attestation_other_institution",
]
#: Every reason a card check can be refused for. None of them names a person.
REASON_CODES: Final[frozenset[str]] = frozenset(get_args(ReasonCode))


class CardRejected(Exception):
    """A card check that failed. ``reason_code`` (one of :data:`REASON_CODES`) is for
    machines and the audit log. ``message`` is for people and carries no personal data."""

    def __init__(self, reason_code: ReasonCode, message: str) -> None:
        self.reason_code: ReasonCode = reason_code
        self.message = message
        super().__init__(f"{reason_code}: {message}")
