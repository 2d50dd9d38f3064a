"""Card authentication for the My Number card path: the server side of a JPKI simulation.

At the counter the patient puts the My Number card on the 顔認証付きカードリーダー (face-recognition
card reader) and proves they hold it in one of two ways. Both rest on the card's
利用者証明用電子証明書 (JPKI user-authentication certificate; eligibility.md §2):

* **PIN mode** (暗証番号): after the 4-digit PIN unlocks the chip, the card signs a challenge
  that this server issued (:class:`ChallengeBook`, :func:`signed_message`,
  :func:`verify_pin_mode`).
* **Face mode** (顔認証): the registered reader reports that the face matched the card's photo.
  It signs that report (:class:`Attestation`, :func:`verify_face_mode`).

Either way the certificate must be issued by the trusted CA, within its validity period, and
absent from the current CRL (証明書失効リスト). :class:`CertificateVerifier` checks all three.

The certificate maps to a person through an opaque per-certificate code, never through the
My Number (:func:`certificate_code`). The real system matches each certificate 1:1 to a
機関別符号 (agency-specific code). The exact chain certificate serial → 機関別符号 → insured
record is **UNCONFIRMED** (eligibility.md §2). Everything here is a **simulation**:

* the CA stands in for J-LIS;
* keys are ECDSA P-256 for speed (the real card's key algorithm was not checked against a
  primary source);
* nothing here talks to the real JPKI.

The issuing side (CA, cards, terminals) lives in :mod:`kokuho.verify._pki_sim`.

This module is the front of the card path: the two modes and the certificate → person code.
The parts they are built from are private modules of their own, each importing only those
below it, and every name of theirs that callers use is importable from here:

* :mod:`kokuho.verify._pki_reasons`: the reason codes and :class:`CardRejected`;
* :mod:`kokuho.verify._pki_messages`: the exact signed bytes and the shared input guards;
* :mod:`kokuho.verify._pki_x509`: reading a certificate, :class:`VerifiedCertificate`;
* :mod:`kokuho.verify._pki_verifier`: :class:`CertificateVerifier`, chain, time and CRL;
* :mod:`kokuho.verify._pki_challenges`: PIN mode's challenges and their stores;
* :mod:`kokuho.verify._pki_attestations`: face mode's attestations and replay claims.

All times are timezone-aware :class:`datetime.datetime` values passed in by the caller, so tests
and simulations control the clock. A naive datetime raises :class:`ValueError`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

# Re-exported: callers import the card path's names from here.
from kokuho.verify._pki_attestations import FACE_WINDOW as FACE_WINDOW
from kokuho.verify._pki_attestations import Attestation as Attestation
from kokuho.verify._pki_attestations import MemoryReplayGuard as MemoryReplayGuard
from kokuho.verify._pki_attestations import ReplayGuard as ReplayGuard
from kokuho.verify._pki_attestations import replay_claim as replay_claim
from kokuho.verify._pki_challenges import Challenge as Challenge
from kokuho.verify._pki_challenges import ChallengeBook as ChallengeBook
from kokuho.verify._pki_challenges import ChallengeStore as ChallengeStore
from kokuho.verify._pki_messages import ATTESTATION_NONCE_BYTES as ATTESTATION_NONCE_BYTES
from kokuho.verify._pki_messages import CODE_DOMAIN as CODE_DOMAIN
from kokuho.verify._pki_messages import FACE_DOMAIN as FACE_DOMAIN
from kokuho.verify._pki_messages import NONCE_BYTES as NONCE_BYTES
from kokuho.verify._pki_messages import PIN_DOMAIN as PIN_DOMAIN
from kokuho.verify._pki_messages import attestation_message as attestation_message
from kokuho.verify._pki_messages import aware
from kokuho.verify._pki_messages import signed_message as signed_message
from kokuho.verify._pki_reasons import REASON_CODES as REASON_CODES
from kokuho.verify._pki_reasons import CardRejected as CardRejected
from kokuho.verify._pki_reasons import ReasonCode as ReasonCode
from kokuho.verify._pki_verifier import MAX_CERTIFICATE_BYTES as MAX_CERTIFICATE_BYTES
from kokuho.verify._pki_verifier import CertificateVerifier as CertificateVerifier
from kokuho.verify._pki_verifier import CrlSource as CrlSource
from kokuho.verify._pki_x509 import VerifiedCertificate as VerifiedCertificate
from kokuho.verify._pki_x509 import certificate_fingerprint as certificate_fingerprint

#: A DER ECDSA P-256 signature is at most 72 bytes.
MAX_SIGNATURE_BYTES: Final = 80
MIN_CODE_KEY_BYTES: Final = 32


# -- PIN mode (暗証番号) -----------------------------------------------------------------------


def verify_pin_mode(
    verifier: CertificateVerifier,
    book: ChallengeStore,
    cert_pem: bytes,
    challenge_id: str,
    signature: bytes,
    institution_code: str,
    now: dt.datetime,
) -> VerifiedCertificate:
    """Authenticates a card in PIN mode (暗証番号).

    The steps, in this order:

    1. Check the certificate chain, validity and revocation. A failure here leaves the
       challenge unused.
    2. Consume the challenge.
    3. Verify the card's signature over :func:`signed_message`. The challenge is already
       spent, so each challenge allows only one signature attempt.

    Raises :class:`CardRejected`.
    """
    facts = verifier._verified(cert_pem, now)
    nonce = book.consume(challenge_id, now, institution_code)
    if len(signature) > MAX_SIGNATURE_BYTES:
        raise CardRejected("bad_signature", "card signature too long")
    try:
        facts.public_key.verify(
            signature, signed_message(nonce, institution_code), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise CardRejected(
            "bad_signature", "card signature over the challenge does not verify"
        ) from None
    return facts.verified


# -- Face mode (顔認証) -----------------------------------------------------------------------


def verify_face_mode(
    verifier: CertificateVerifier,
    cert_pem: bytes,
    attestation: Attestation,
    terminal_key: bytes | ed25519.Ed25519PublicKey,
    now: dt.datetime,
    *,
    institution_code: str,
    replay_guard: ReplayGuard | None = None,
    window: dt.timedelta = FACE_WINDOW,
    clock_skew: dt.timedelta = dt.timedelta(seconds=30),
) -> VerifiedCertificate:
    """Authenticates a card in face mode (顔認証).

    ``terminal_key`` is the registered public key of the terminal named in the attestation:
    the raw 32 bytes, or a parsed key that the service keeps to save the parse.
    ``institution_code`` is the authenticated caller's. It must equal the one the terminal
    signed.

    The attestation is refused as stale if it is older than ``window`` or more than
    ``clock_skew`` in the future. Within the window an attestation could be replayed. Pass
    a ``replay_guard`` to refuse a second use (``attestation_replayed``).

    Raises :class:`CardRejected`.
    """
    now = aware(now)
    facts = verifier._verified(cert_pem, now)
    if attestation.institution_code != institution_code:
        raise CardRejected(
            "attestation_other_institution", "attestation was made for another institution"
        )
    issued_at = attestation.issued_at
    if issued_at.tzinfo is None or issued_at.utcoffset() is None:
        raise CardRejected("bad_attestation", "attestation time has no time zone")
    if now - issued_at > window:
        raise CardRejected("stale_attestation", f"attestation older than {window}")
    if issued_at - now > clock_skew:
        raise CardRejected("stale_attestation", "attestation is dated in the future")
    # Plain comparison: fingerprints are public, so timing reveals nothing.
    if attestation.fingerprint != facts.verified.fingerprint:
        raise CardRejected("bad_attestation", "attestation is for another certificate")
    try:
        public = (
            terminal_key
            if isinstance(terminal_key, ed25519.Ed25519PublicKey)
            else ed25519.Ed25519PublicKey.from_public_bytes(terminal_key)
        )
        message = attestation_message(
            attestation.terminal_id,
            attestation.fingerprint,
            attestation.institution_code,
            issued_at,
            attestation.nonce,
        )
        public.verify(attestation.signature, message)
    except (InvalidSignature, ValueError):
        raise CardRejected("bad_attestation", "attestation signature does not verify") from None
    if replay_guard is not None and not replay_guard.claim(*replay_claim(attestation, window), now):
        raise CardRejected("attestation_replayed", "attestation was already used")
    return facts.verified


# -- Certificate → person -----------------------------------------------------------------


def certificate_code(cert: VerifiedCertificate, key: bytes) -> str:
    """The opaque code under which the register finds the certificate's holder. It stands in
    for the 機関別符号.

    The code is the lowercase hex HMAC-SHA256, under the service key ``key`` (at least 32
    bytes, kept outside the database), of::

        CODE_DOMAIN || len(issuer) (2 bytes) || issuer (RFC 4514, UTF-8) || serial (decimal)

    Properties:

    * It is stable for a certificate and carries no My Number.
    * Without the key, it cannot be linked back to the certificate.
    * A renewed card (new certificate, new serial) gets a new code, which the register
      must link to the person again.

    How the real system derives the 機関別符号 from the certificate serial is
    **UNCONFIRMED** (eligibility.md §2). This is a simulation.
    """
    if len(key) < MIN_CODE_KEY_BYTES:
        raise ValueError(f"the service key must be at least {MIN_CODE_KEY_BYTES} bytes")
    issuer = cert.issuer.encode("utf-8")
    message = CODE_DOMAIN + len(issuer).to_bytes(2, "big") + issuer + str(cert.serial).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
