"""Reading a 利用者証明用電子証明書: the parsed fields the checks use and the verified result.

:class:`Parsed` reads every field eagerly so that damaged input fails in one place as
``malformed``; :class:`VerifiedCertificate` is what a certificate that passed the checks
yields. Kept apart from :class:`~kokuho.verify._pki_verifier.CertificateVerifier` (the chain,
time and CRL checks and their caches), which builds on it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from kokuho.verify._pki_reasons import CardRejected


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
class CertFacts:
    """What a certificate's static checks established. Kept in the cache so that a card seen
    again costs a hash and a dict lookup instead of a parse and an ECDSA verification."""

    verified: VerifiedCertificate
    not_before: dt.datetime
    public_key: ec.EllipticCurvePublicKey


def load_certificate(data: bytes) -> x509.Certificate:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def certificate_fingerprint(cert_pem: bytes) -> str:
    """The SHA-256 of a certificate's DER encoding in lowercase hex. Accepts PEM or DER.
    Raises :class:`CardRejected` ``malformed`` if the bytes are not a certificate."""
    try:
        return load_certificate(cert_pem).fingerprint(hashes.SHA256()).hex()
    except Exception:  # untrusted bytes: whatever the parser raises is "malformed"
        raise CardRejected("malformed", "not an X.509 certificate") from None


_ExtensionValue = TypeVar("_ExtensionValue", bound=x509.ExtensionType)


@dataclass(frozen=True, slots=True)
class Parsed:
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
    def read(cls, data: bytes) -> Parsed:
        cert = load_certificate(data)
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
