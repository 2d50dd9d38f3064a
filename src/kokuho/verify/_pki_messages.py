"""The exact bytes that get signed on the card path, and the input guards they rest on.

A card signs :func:`signed_message` in PIN mode (暗証番号); a 顔認証付きカードリーダー signs
:func:`attestation_message` in face mode (顔認証). Both formats, their domain-separation tags
and nonce sizes live here, apart from the checks, because the issuing side
(:mod:`kokuho.verify._pki_sim`) builds the same bytes that the server side verifies. The
guards (:func:`aware`, :func:`institution_bytes`) are shared by every card module.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

#: Domain-separation tags. Without them, a signature made for one purpose could be replayed
#: as valid for another.
PIN_DOMAIN: Final = b"kokuho-jpki-sim/pin/v1\x00"
FACE_DOMAIN: Final = b"kokuho-jpki-sim/face/v1\x00"
CODE_DOMAIN: Final = b"kokuho-jpki-sim/certificate-code/v1\x00"

NONCE_BYTES: Final = 32
ATTESTATION_NONCE_BYTES: Final = 16

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def aware(value: dt.datetime, name: str = "now") -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value


def institution_bytes(institution_code: str) -> bytes:
    # Checked here, not only at the edge: the code is part of signed messages, so it must be
    # plain ASCII.
    if not (
        0 < len(institution_code) <= 32
        and institution_code.isascii()
        and institution_code.isalnum()
    ):
        raise ValueError(f"institution code {institution_code!r} is not 1–32 ASCII letters/digits")
    return institution_code.encode("ascii")


def signed_message(nonce: bytes, institution_code: str) -> bytes:
    """The exact bytes the card signs in PIN mode:

    ``b"kokuho-jpki-sim/pin/v1\\x00" || nonce (32 bytes) || institution_code (ASCII)``

    The institution code is bound into the signature. A response captured at one
    institution is therefore useless at another, even inside the challenge's lifetime. The
    signature is ECDSA P-256 over SHA-256 of these bytes, DER-encoded.
    """
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
    return PIN_DOMAIN + nonce + institution_bytes(institution_code)


def attestation_message(
    terminal_id: str,
    fingerprint: str,
    institution_code: str,
    issued_at: dt.datetime,
    nonce: bytes,
) -> bytes:
    """The exact bytes a terminal signs (Ed25519) in face mode:

    ``b"kokuho-jpki-sim/face/v1\\x00" || fingerprint (32 bytes) || nonce (16 bytes) ||
    issued_at (microseconds since the Unix epoch, 8-byte signed big-endian) ||
    len(terminal_id) (1 byte) || terminal_id (ASCII) || institution_code (ASCII)``
    """
    raw_fingerprint = bytes.fromhex(fingerprint)
    if len(raw_fingerprint) != 32 or len(nonce) != ATTESTATION_NONCE_BYTES:
        raise ValueError("fingerprint must be 32 bytes and nonce 16 bytes")
    terminal = terminal_id.encode("ascii")
    if not 0 < len(terminal) < 256:
        raise ValueError("terminal id must be 1–255 ASCII characters")
    micros = (aware(issued_at, "issued_at") - _EPOCH) // dt.timedelta(microseconds=1)
    return (
        FACE_DOMAIN
        + raw_fingerprint
        + nonce
        + micros.to_bytes(8, "big", signed=True)
        + len(terminal).to_bytes(1, "big")
        + terminal
        + institution_bytes(institution_code)
    )
