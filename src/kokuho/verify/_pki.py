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

All times are timezone-aware :class:`datetime.datetime` values passed in by the caller, so tests
and simulations control the clock. A naive datetime raises :class:`ValueError`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, Protocol, TypeVar, get_args

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

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

#: Domain-separation tags. Without them, a signature made for one purpose could be replayed
#: as valid for another.
PIN_DOMAIN: Final = b"kokuho-jpki-sim/pin/v1\x00"
FACE_DOMAIN: Final = b"kokuho-jpki-sim/face/v1\x00"
CODE_DOMAIN: Final = b"kokuho-jpki-sim/certificate-code/v1\x00"

NONCE_BYTES: Final = 32
ATTESTATION_NONCE_BYTES: Final = 16
#: Real certificates are under 2 KiB. The limit stops oversized input before parsing.
MAX_CERTIFICATE_BYTES: Final = 16 * 1024
#: A DER ECDSA P-256 signature is at most 72 bytes.
MAX_SIGNATURE_BYTES: Final = 80
MIN_CODE_KEY_BYTES: Final = 32

_UNKNOWN_CRITICAL: Final = "unsupported critical extension"
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class CardRejected(Exception):
    """A card check that failed. ``reason_code`` (one of :data:`REASON_CODES`) is for
    machines and the audit log. ``message`` is for people and carries no personal data."""

    def __init__(self, reason_code: ReasonCode, message: str) -> None:
        self.reason_code: ReasonCode = reason_code
        self.message = message
        super().__init__(f"{reason_code}: {message}")


@dataclass(frozen=True, slots=True)
class VerifiedCertificate:
    """A 利用者証明用電子証明書 that passed every check at a given time.

    ``fingerprint`` is the SHA-256 of the DER encoding in lowercase hex. ``issuer`` is the
    issuer's RFC 4514 name. Together with ``serial`` it identifies the certificate.
    """

    serial: int
    not_after: dt.datetime
    fingerprint: str
    issuer: str


@dataclass(frozen=True, slots=True)
class _CertFacts:
    """What a certificate's static checks established. Kept in the cache so that a card seen
    again costs a hash and a dict lookup instead of a parse and an ECDSA verification."""

    verified: VerifiedCertificate
    not_before: dt.datetime
    public_key: ec.EllipticCurvePublicKey


@dataclass(frozen=True, slots=True)
class _CrlState:
    number: int
    next_update: dt.datetime
    refresh_at: dt.datetime
    revoked: frozenset[int]
    digest: bytes


#: Gives the current CRL (DER or PEM) of the trusted CA. Called with the time of the check,
#: so a simulation can issue a fresh CRL on demand. A file- or database-backed source may
#: ignore the argument.
CrlSource = Callable[[dt.datetime], bytes]


def _aware(value: dt.datetime, name: str = "now") -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return value


def _institution_bytes(institution_code: str) -> bytes:
    # Checked here, not only at the edge: the code is part of signed messages, so it must be
    # plain ASCII.
    if not (
        0 < len(institution_code) <= 32
        and institution_code.isascii()
        and institution_code.isalnum()
    ):
        raise ValueError(f"institution code {institution_code!r} is not 1–32 ASCII letters/digits")
    return institution_code.encode("ascii")


def _load_certificate(data: bytes) -> x509.Certificate:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def certificate_fingerprint(cert_pem: bytes) -> str:
    """The SHA-256 of a certificate's DER encoding in lowercase hex. Accepts PEM or DER.
    Raises :class:`CardRejected` ``malformed`` if the bytes are not a certificate."""
    try:
        return _load_certificate(cert_pem).fingerprint(hashes.SHA256()).hex()
    except Exception:  # untrusted bytes: whatever the parser raises is "malformed"
        raise CardRejected("malformed", "not an X.509 certificate") from None


_ExtensionValue = TypeVar("_ExtensionValue", bound=x509.ExtensionType)


@dataclass(frozen=True, slots=True)
class _Parsed:
    """Every certificate field the checks use, read eagerly. cryptography parses fields
    lazily, so without this a damaged field would raise wherever it was first read, with
    whatever exception its parser chose (ValueError, InvalidVersion, DuplicateExtension …)."""

    version: x509.Version
    issuer: x509.Name
    extensions: x509.Extensions
    signature_algorithm: x509.ObjectIdentifier
    signature: bytes
    tbs: bytes
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    public_key: CertificatePublicKeyTypes
    fingerprint: bytes

    @classmethod
    def read(cls, data: bytes) -> _Parsed:
        cert = _load_certificate(data)
        signature = cert.signature
        der = cert.public_bytes(serialization.Encoding.DER)
        # The byte before the signature is the BIT STRING's unused-bits count. cryptography
        # ignores it, so a certificate with a nonzero count would verify under a second
        # encoding and a second fingerprint. The single-byte fuzz test found this.
        if der[-len(signature) - 1] != 0:
            raise ValueError("signature BIT STRING declares unused bits")
        return cls(
            version=cert.version,
            issuer=cert.issuer,
            extensions=cert.extensions,
            signature_algorithm=cert.signature_algorithm_oid,
            signature=signature,
            tbs=cert.tbs_certificate_bytes,
            serial=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            public_key=cert.public_key(),
            fingerprint=hashlib.sha256(der).digest(),
        )

    def extension(self, kind: type[_ExtensionValue]) -> _ExtensionValue | None:
        try:
            return self.extensions.get_extension_for_class(kind).value
        except x509.ExtensionNotFound:
            return None


class CertificateVerifier:
    """Checks 利用者証明用電子証明書 against one trusted CA and its CRL. Thread-safe.

    Checks made by :meth:`verify_certificate`:

    * the certificate parses;
    * it was issued by the CA, both by name and by authority key identifier;
    * its signature verifies under the CA's public key;
    * it is an end-entity certificate whose key usage is digitalSignature, without
      certificate or CRL signing;
    * ``now`` lies within its validity period and within the CA's;
    * its serial is absent from the current CRL.

    **Caching.**

    * The CA certificate is parsed once.
    * Each certificate that passes the static checks is cached under the SHA-256 of the
      exact input bytes, in a bounded LRU of ``cache_size`` entries. Only the time and
      revocation checks then run again.
    * The CRL is parsed once per version. It is fetched again when told (:meth:`refresh`)
      or once ``now`` is within ``refresh_margin`` of its nextUpdate. One thread fetches
      while the others go on using the still-valid CRL.

    **Revocation is cached until nextUpdate.** A revocation takes effect when the next CRL is
    fetched, or at once if the service calls :meth:`refresh` after a revocation.

    **The check fails closed.** If no valid CRL whose nextUpdate lies after ``now`` is
    available, every check fails with ``revocation_unknown``:

    * the source failed;
    * the CRL has a bad signature;
    * the CRL is stale;
    * the CRL's number went backwards.

    While the CRL is missing or stale, the source is asked again at most once per
    ``retry_interval``.
    """

    def __init__(
        self,
        ca_certificate_pem: bytes,
        crl_source: CrlSource,
        *,
        cache_size: int = 100_000,
        refresh_margin: dt.timedelta = dt.timedelta(minutes=5),
        retry_interval: dt.timedelta = dt.timedelta(seconds=5),
    ) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be at least 1")
        ca = _load_certificate(ca_certificate_pem)
        public_key = ca.public_key()
        if not (
            isinstance(public_key, ec.EllipticCurvePublicKey)
            and isinstance(public_key.curve, ec.SECP256R1)
        ):
            raise ValueError("the CA key must be ECDSA P-256 (this simulation's profile)")
        try:
            constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            raise ValueError("the CA certificate lacks BasicConstraints") from None
        if not constraints.ca:
            raise ValueError("the CA certificate is not a CA (BasicConstraints ca=False)")
        # Self-signature checked once, to catch a corrupt or swapped trust-anchor file early.
        try:
            ca.verify_directly_issued_by(ca)
        except (ValueError, InvalidSignature, TypeError) as error:
            raise ValueError(f"the CA certificate is not self-signed: {error}") from None
        try:
            ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            ski = x509.SubjectKeyIdentifier.from_public_key(public_key).digest

        self._ca_name = ca.subject
        self._ca_issuer = ca.subject.rfc4514_string()
        self._ca_key = public_key
        self._ca_key_id = ski
        self._ca_not_before = ca.not_valid_before_utc
        self._ca_not_after = ca.not_valid_after_utc
        self._source = crl_source
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, _CertFacts] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._refresh_margin = refresh_margin
        self._retry_interval = retry_interval
        self._refresh_lock = threading.Lock()
        self._crl: _CrlState | None = None
        self._next_attempt: dt.datetime | None = None
        self._crl_problem = "no CRL fetched yet"

    @property
    def issuer(self) -> str:
        """The trusted CA's RFC 4514 name."""
        return self._ca_issuer

    @property
    def cached_certificates(self) -> int:
        return len(self._cache)

    @property
    def crl_number(self) -> int | None:
        """The number of the CRL in force, for monitoring. ``None`` before the first fetch."""
        state = self._crl
        return None if state is None else state.number

    def verify_certificate(self, cert_pem: bytes, now: dt.datetime) -> VerifiedCertificate:
        """Checks a card certificate (PEM or DER) at ``now``.

        Raises :class:`CardRejected` with one of these codes: ``malformed``,
        ``untrusted_issuer``, ``bad_signature``, ``wrong_key_usage``, ``not_yet_valid``,
        ``expired``, ``revoked``, ``revocation_unknown``.
        """
        return self._verified(cert_pem, now).verified

    def refresh(self, now: dt.datetime) -> int:
        """Fetches the CRL now and returns the number of the CRL in force.

        Call this after a revocation to make it effective immediately. Raises
        :class:`CardRejected` ``revocation_unknown`` if no usable CRL results.
        """
        now = _aware(now)
        with self._refresh_lock:
            self._reload(now)
        return self._fresh_crl(now).number

    # -- internals shared with the mode functions below ------------------------------------

    def _verified(self, cert_pem: bytes, now: dt.datetime) -> _CertFacts:
        now = _aware(now)
        facts = self._facts(cert_pem)
        if now < self._ca_not_before:
            raise CardRejected("not_yet_valid", "the issuing CA certificate is not yet valid")
        if now > self._ca_not_after:
            raise CardRejected("expired", "the issuing CA certificate has expired")
        if now < facts.not_before:
            raise CardRejected(
                "not_yet_valid", f"certificate valid from {facts.not_before.isoformat()}"
            )
        if now > facts.verified.not_after:
            raise CardRejected(
                "expired", f"certificate expired at {facts.verified.not_after.isoformat()}"
            )
        if facts.verified.serial in self._revocations(now).revoked:
            raise CardRejected(
                "revoked", f"certificate serial {facts.verified.serial:x} is revoked"
            )
        return facts

    def _facts(self, data: bytes) -> _CertFacts:
        if not isinstance(data, bytes) or not 0 < len(data) <= MAX_CERTIFICATE_BYTES:
            raise CardRejected("malformed", "certificate missing or too large")
        key = hashlib.sha256(data).digest()
        with self._cache_lock:
            facts = self._cache.get(key)
            if facts is not None:
                self._cache.move_to_end(key)
                return facts
        # Parsing and the signature check run outside the lock, so other threads' cache
        # hits don't wait on them.
        facts = self._inspect(data)
        with self._cache_lock:
            self._cache[key] = facts
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return facts

    def _inspect(self, data: bytes) -> _CertFacts:
        """The static checks, run once per distinct certificate."""
        try:
            parsed = _Parsed.read(data)
        except Exception as error:  # untrusted bytes: whatever the parser raises is "malformed"
            raise CardRejected("malformed", f"not a parsable X.509 certificate ({error})") from None
        if parsed.version is not x509.Version.v3:
            raise CardRejected("malformed", "not an X.509 v3 certificate")
        if parsed.issuer != self._ca_name:
            raise CardRejected("untrusted_issuer", "issuer is not the trusted CA")
        # The key identifier check is a fast, precise refusal for another CA that copied the
        # trusted CA's name. The signature check below would also catch it.
        aki = parsed.extension(x509.AuthorityKeyIdentifier)
        if aki is None or aki.key_identifier is None:
            raise CardRejected("untrusted_issuer", "no authority key identifier")
        if not hmac.compare_digest(aki.key_identifier, self._ca_key_id):
            raise CardRejected("untrusted_issuer", "authority key identifier is not the CA's")
        if parsed.signature_algorithm != SignatureAlgorithmOID.ECDSA_WITH_SHA256:
            raise CardRejected("bad_signature", "unexpected signature algorithm")
        try:
            self._ca_key.verify(parsed.signature, parsed.tbs, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise CardRejected("bad_signature", "certificate signature does not verify") from None
        # From here on the content is the CA's own, so the remaining checks enforce its
        # profile.
        for extension in parsed.extensions:
            if extension.critical and extension.oid not in (
                ExtensionOID.KEY_USAGE,
                ExtensionOID.BASIC_CONSTRAINTS,
            ):
                raise CardRejected(
                    "malformed", f"{_UNKNOWN_CRITICAL} {extension.oid.dotted_string}"
                )
        usage = parsed.extension(x509.KeyUsage)
        if usage is None:
            raise CardRejected("wrong_key_usage", "no key usage extension")
        if not usage.digital_signature or usage.key_cert_sign or usage.crl_sign:
            raise CardRejected("wrong_key_usage", "key usage is not digitalSignature only")
        constraints = parsed.extension(x509.BasicConstraints)
        if constraints is not None and constraints.ca:
            raise CardRejected("wrong_key_usage", "a CA certificate is not a card certificate")
        public_key = parsed.public_key
        if not (
            isinstance(public_key, ec.EllipticCurvePublicKey)
            and isinstance(public_key.curve, ec.SECP256R1)
        ):
            raise CardRejected("malformed", "card key is not ECDSA P-256")
        return _CertFacts(
            verified=VerifiedCertificate(
                serial=parsed.serial,
                not_after=parsed.not_after,
                fingerprint=parsed.fingerprint.hex(),
                issuer=self._ca_issuer,
            ),
            not_before=parsed.not_before,
            public_key=public_key,
        )

    def _revocations(self, now: dt.datetime) -> _CrlState:
        state = self._crl
        if state is not None and now < state.refresh_at:
            return state
        if state is not None and now < state.next_update:
            # Near the end of the CRL's life: one thread refreshes, the rest carry on.
            if self._may_attempt(now) and self._refresh_lock.acquire(blocking=False):
                try:
                    self._reload(now)
                finally:
                    self._refresh_lock.release()
            return self._fresh_crl(now)
        with self._refresh_lock:
            state = self._crl
            if (state is None or now >= state.next_update) and self._may_attempt(now):
                self._reload(now)
        return self._fresh_crl(now)

    def _may_attempt(self, now: dt.datetime) -> bool:
        return self._next_attempt is None or now >= self._next_attempt

    def _fresh_crl(self, now: dt.datetime) -> _CrlState:
        state = self._crl
        if state is None or now >= state.next_update:
            raise CardRejected("revocation_unknown", f"no current CRL: {self._crl_problem}")
        return state

    def _reload(self, now: dt.datetime) -> None:
        """Fetches and installs a newer valid CRL. Call it with the refresh lock held."""
        self._next_attempt = now + self._retry_interval
        try:
            data = self._source(now)
        except Exception as error:  # any source failure means "no new CRL"
            self._crl_problem = f"CRL source failed ({type(error).__name__})"
            return
        current = self._crl
        digest = hashlib.sha256(data).digest()
        if current is None or digest != current.digest:
            try:
                state = self._parse_crl(data)
            except _CrlProblem as problem:
                self._crl_problem = str(problem)
                return
            if current is not None and state.number < current.number:
                self._crl_problem = f"CRL number went backwards ({state.number} < {current.number})"
                return
            self._crl = current = state
        if now >= current.next_update:
            self._crl_problem = f"newest CRL expired at {current.next_update.isoformat()}"
        else:
            self._crl_problem = ""

    def _parse_crl(self, data: bytes) -> _CrlState:
        try:
            return self._read_crl(data)
        except _CrlProblem:
            raise
        except Exception as error:  # damaged bytes: whatever the parser raises
            raise _CrlProblem(f"CRL does not parse ({error})") from None

    def _read_crl(self, data: bytes) -> _CrlState:
        if data.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(data)
        else:
            crl = x509.load_der_x509_crl(data)
        if crl.issuer != self._ca_name:
            raise _CrlProblem("CRL issuer is not the trusted CA")
        # Checked before reading the entries, so an unsigned list costs no more than this.
        if not crl.is_signature_valid(self._ca_key):
            raise _CrlProblem("CRL signature does not verify")
        next_update = crl.next_update_utc
        if next_update is None:
            raise _CrlProblem("CRL has no nextUpdate")
        try:
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        except x509.ExtensionNotFound:
            raise _CrlProblem("CRL has no CRL number") from None
        return _CrlState(
            number=number,
            next_update=next_update,
            refresh_at=next_update - self._refresh_margin,
            revoked=frozenset(entry.serial_number for entry in crl),
            digest=hashlib.sha256(data).digest(),
        )


class _CrlProblem(Exception):
    pass


# -- PIN mode (暗証番号) -----------------------------------------------------------------------


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
        now = _aware(now)
        _institution_bytes(institution_code)
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
        now = _aware(now)
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


def signed_message(nonce: bytes, institution_code: str) -> bytes:
    """The exact bytes the card signs in PIN mode:

    ``b"kokuho-jpki-sim/pin/v1\\x00" || nonce (32 bytes) || institution_code (ASCII)``

    The institution code is bound into the signature. A response captured at one
    institution is therefore useless at another, even inside the challenge's lifetime. The
    signature is ECDSA P-256 over SHA-256 of these bytes, DER-encoded.
    """
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"nonce must be {NONCE_BYTES} bytes")
    return PIN_DOMAIN + nonce + _institution_bytes(institution_code)


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
    micros = (_aware(issued_at, "issued_at") - _EPOCH) // dt.timedelta(microseconds=1)
    return (
        FACE_DOMAIN
        + raw_fingerprint
        + nonce
        + micros.to_bytes(8, "big", signed=True)
        + len(terminal).to_bytes(1, "big")
        + terminal
        + _institution_bytes(institution_code)
    )


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
    now = _aware(now)
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
