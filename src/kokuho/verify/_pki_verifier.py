"""Checking a card certificate against the trusted CA and its CRL (証明書失効リスト).

:class:`CertificateVerifier` holds the trust anchor, the cache of certificates already
checked and the CRL in force, and refuses with the reason codes of
:mod:`kokuho.verify._pki_reasons`. The PIN and face modes of :mod:`kokuho.verify._pki` run it
first; parsing the certificate itself is :mod:`kokuho.verify._pki_x509`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from kokuho.verify._pki_messages import aware
from kokuho.verify._pki_reasons import CardRejected
from kokuho.verify._pki_x509 import CertFacts, Parsed, VerifiedCertificate, load_certificate

log = logging.getLogger(__name__)

#: Real certificates are under 2 KiB. The limit stops oversized input before parsing.
MAX_CERTIFICATE_BYTES: Final = 16 * 1024

_UNKNOWN_CRITICAL: Final = "unsupported critical extension"
#: The message of every ``revocation_unknown`` refusal, whatever the cause (docs/api.md). The
#: cause goes to the server's log only: it may be the CRL parser's own text, which is not one
#: of the closed reasons, or a file's error, and clinics' software gets one fixed answer.
REVOCATION_UNKNOWN: Final = "revocation status cannot be determined"


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
        ca = load_certificate(ca_certificate_pem)
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
        self._cache: OrderedDict[bytes, CertFacts] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._refresh_margin = refresh_margin
        self._retry_interval = retry_interval
        self._refresh_lock = threading.Lock()
        self._crl: _CrlState | None = None
        self._next_attempt: dt.datetime | None = None

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
        now = aware(now)
        with self._refresh_lock:
            self._reload(now)
        return self._fresh_crl(now).number

    # -- internals shared with the mode functions below ------------------------------------

    def _verified(self, cert_pem: bytes, now: dt.datetime) -> CertFacts:
        now = aware(now)
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

    def _facts(self, data: bytes) -> CertFacts:
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

    def _inspect(self, data: bytes) -> CertFacts:
        """The static checks, run once per distinct certificate."""
        try:
            parsed = Parsed.read(data)
        except Exception as error:  # untrusted bytes: whatever the parser raises is "malformed"
            # The parser's text goes to the server's log only: it is not one of the closed
            # reasons and echoes the caller's bytes, so the answer and the audit log (which
            # is append-only) get the fixed reason.
            log.info("card certificate does not parse: %s: %s", type(error).__name__, error)
            raise CardRejected("malformed", "not a parsable X.509 certificate") from None
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
        return CertFacts(
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
            raise CardRejected("revocation_unknown", REVOCATION_UNKNOWN)
        return state

    def _reload(self, now: dt.datetime) -> None:
        """Fetches and installs a newer valid CRL. Call it with the refresh lock held."""
        self._next_attempt = now + self._retry_interval
        try:
            data = self._source(now)
        except Exception as error:  # any source failure means "no new CRL"
            _unusable(f"CRL source failed ({type(error).__name__}: {error})")
            return
        current = self._crl
        digest = hashlib.sha256(data).digest()
        if current is None or digest != current.digest:
            try:
                state = self._parse_crl(data)
            except _CrlProblem as problem:
                _unusable(str(problem))
                return
            if current is not None and state.number < current.number:
                _unusable(f"CRL number went backwards ({state.number} < {current.number})")
                return
            self._crl = current = state
        if now >= current.next_update:
            _unusable(f"newest CRL expired at {current.next_update.isoformat()}")

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


def _unusable(problem: str) -> None:
    # At most once per retry interval (``_reload``'s callers): an operator alerts on it, since
    # every card is refused while no CRL is current (docs/operations.md).
    log.warning("no new usable CRL: %s", problem)
