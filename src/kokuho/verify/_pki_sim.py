"""The issuing side of the JPKI simulation: a CA, My Number cards and face-recognition readers.

In real life:

* J-LIS (地方公共団体情報システム機構) issues each card's 利用者証明用電子証明書;
* the private key never leaves the card's IC chip;
* the 顔認証付きカードリーダー is a sealed device.

Here all three are Python objects, so that tests and the synthetic prefecture can produce
cards, CRLs and attestations for :mod:`kokuho.verify._pki` to check. Nothing here is meant to
run in the service. Card keys are ECDSA P-256 for speed.

Keys are saved **unencrypted** (PKCS#8 PEM, no password), which is acceptable only because
this is a simulation. Private key files are written atomically with mode 0600.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from kokuho.config import read_secret
from kokuho.verify._pki import (
    ATTESTATION_NONCE_BYTES,
    Attestation,
    attestation_message,
    certificate_fingerprint,
)
from kokuho.verify._pki_messages import aware

#: The only subject a card certificate carries. Unlike the 署名用電子証明書 (signing
#: certificate), a 利用者証明用電子証明書 holds no name, address, birth date or sex.
CARD_COMMON_NAME: Final = "JPKI-SIM user"
CA_ORGANIZATION: Final = "JPKI-SIM"

CA_KEY_FILE: Final = "ca_key.pem"
CA_CERT_FILE: Final = "ca_cert.pem"
CA_STATE_FILE: Final = "ca_state.json"
_STATE_FORMAT: Final = "kokuho-jpki-sim-ca/1"
_TERMINAL_SUFFIX: Final = ".terminal.pem"
_TERMINAL_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PEM_BLOCK: Final = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----\r?\n?", re.S)


def _second(moment: dt.datetime) -> dt.datetime:
    # X.509 times have whole-second precision. Truncating here means a certificate issued
    # at `now` is already valid when checked at that same `now`.
    return aware(moment).astimezone(dt.UTC).replace(microsecond=0)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Writes through a temporary file and a rename. A crash then never leaves a
    half-written key, and the file never exists with a wider mode."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            # The umask can narrow the mode given to open(); fchmod makes it exact.
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def _private_pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_blocks(data: bytes) -> dict[str, bytes]:
    return {match.group(1).decode(): match.group(0) for match in _PEM_BLOCK.finditer(data)}


def _load_ec_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("expected an EC private key")
    return key


def _same_key(private: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> bool:
    return private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _no_usage(**granted: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        (
            "digital_signature",
            "content_commitment",
            "key_encipherment",
            "data_encipherment",
            "key_agreement",
            "key_cert_sign",
            "crl_sign",
            "encipher_only",
            "decipher_only",
        ),
        False,
    )
    flags.update(granted)
    return x509.KeyUsage(**flags)


@dataclass(frozen=True, slots=True)
class Revocation:
    """One revoked certificate, for example after a lost card (紛失) or a renewal."""

    serial: int
    when: dt.datetime
    reason: x509.ReasonFlags


class Card:
    """A simulated My Number card's JPKI user-authentication half.

    The private key stays inside the object, as it stays inside the real chip. Only the
    certificate and :meth:`sign` are exposed. The 暗証番号 check that the chip performs
    before signing is not modelled.

    ``code`` names the card's file in the synthetic prefecture: the certificate serial in
    hex. It is **not** the My Number, and a renewed card has a new one.
    """

    __slots__ = ("_certificate", "_certificate_pem", "_key")

    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate) -> None:
        if not _same_key(key, certificate):
            raise ValueError("the key does not match the certificate")
        self._key = key
        self._certificate = certificate
        self._certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)

    def __repr__(self) -> str:
        return f"Card(code={self.code!r})"

    @property
    def code(self) -> str:
        return f"{self.serial:040x}"

    @property
    def serial(self) -> int:
        return self._certificate.serial_number

    @property
    def not_after(self) -> dt.datetime:
        return self._certificate.not_valid_after_utc

    @property
    def certificate_pem(self) -> bytes:
        return self._certificate_pem

    def sign(self, challenge: bytes) -> bytes:
        """Signs ``challenge`` with the card key: ECDSA P-256, SHA-256, DER. In PIN mode,
        pass ``signed_message(nonce, institution_code)``."""
        return self._key.sign(challenge, ec.ECDSA(hashes.SHA256()))

    def save(self, folder: Path) -> Path:
        """Writes ``folder/<code>.pem`` (certificate plus unencrypted key, mode 0600) and
        returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.code}.pem"
        _write(path, self._certificate_pem + _private_pem(self._key), 0o600)
        return path

    @classmethod
    def load(cls, path: Path) -> Card:
        blocks = _pem_blocks(read_secret(path))
        if "CERTIFICATE" not in blocks or "PRIVATE KEY" not in blocks:
            raise ValueError(f"{path}: expected a CERTIFICATE and a PRIVATE KEY block")
        certificate = x509.load_pem_x509_certificate(blocks["CERTIFICATE"])
        return cls(_load_ec_key(blocks["PRIVATE KEY"]), certificate)


class CardAuthority:
    """A simulated JPKI CA for 利用者証明用電子証明書 (J-LIS in real life): ECDSA P-256,
    SHA-256. Thread-safe.

    It issues card certificates whose subject carries no personal data and keeps a
    revocation list that :meth:`crl` signs. :meth:`save` and :meth:`load` use a folder:

    * ``ca_key.pem``: unencrypted PKCS#8, mode 0600. No password, because this is a
      simulation; a real CA key lives in an HSM.
    * ``ca_cert.pem``
    * ``ca_state.json``: revocations and the last CRL number.
    """

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate,
        revocations: dict[int, Revocation] | None = None,
        crl_number: int = 0,
    ) -> None:
        if not _same_key(key, certificate):
            raise ValueError("the CA key does not match the CA certificate")
        self._key = key
        self._certificate = certificate
        self._certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
        self._key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        self._revocations: dict[int, Revocation] = dict(revocations or {})
        self._crl_number = crl_number
        self._lock = threading.Lock()

    @classmethod
    def create(cls, name: str, now: dt.datetime, *, valid_days: int = 365 * 20) -> CardAuthority:
        """A new self-signed CA named ``name``, valid from ``now`` for ``valid_days``."""
        if not 0 < len(name) <= 64:
            raise ValueError("CA name must be 1–64 characters")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_ORGANIZATION),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        start = _second(now)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_no_usage(key_cert_sign=True, crl_sign=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    @property
    def name(self) -> str:
        values = self._certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(values[0].value)

    @property
    def certificate_pem(self) -> bytes:
        return self._certificate_pem

    @property
    def revocations(self) -> tuple[Revocation, ...]:
        with self._lock:
            return tuple(self._revocations.values())

    def issue_card(self, now: dt.datetime, valid_days: int = 365 * 5) -> Card:
        """A new card: a fresh key pair and a certificate valid from ``now`` for
        ``valid_days``. The subject is only ``C=JP, CN=JPKI-SIM user``, and the serial is
        random (159 bits)."""
        start = _second(now)
        end = start + dt.timedelta(days=valid_days)
        if valid_days <= 0 or start < self._certificate.not_valid_before_utc:
            raise ValueError("the card would start before the CA or have no validity")
        if end > self._certificate.not_valid_after_utc:
            raise ValueError("the card would outlive the CA certificate")
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                        x509.NameAttribute(NameOID.COMMON_NAME, CARD_COMMON_NAME),
                    ]
                )
            )
            .issuer_name(self._certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_no_usage(digital_signature=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._key_id),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return Card(key, certificate)

    def revoke(
        self,
        serial: int,
        when: dt.datetime,
        reason: x509.ReasonFlags | str = x509.ReasonFlags.unspecified,
    ) -> None:
        """Revokes ``serial`` as of ``when``. The entry appears in every CRL issued at or
        after ``when``.

        ``reason`` is an :class:`x509.ReasonFlags` or its value, for example
        ``"keyCompromise"`` or ``"superseded"``. Revoking twice keeps the first entry.
        Serials are not checked against issuance; the simulation keeps no issuance
        ledger.
        """
        flag = x509.ReasonFlags(reason)
        if flag is x509.ReasonFlags.remove_from_crl:
            raise ValueError("removeFromCRL belongs to delta CRLs, which are not simulated")
        entry = Revocation(serial, _second(when), flag)
        with self._lock:
            self._revocations.setdefault(serial, entry)

    def crl(self, now: dt.datetime, *, lifetime: dt.timedelta = dt.timedelta(days=1)) -> bytes:
        """A signed X.509 v2 CRL (DER) with thisUpdate ``now``, nextUpdate ``now +
        lifetime``, and a CRL number that increases with every call."""
        start = _second(now)
        with self._lock:
            self._crl_number += 1
            number = self._crl_number
            entries = [entry for entry in self._revocations.values() if entry.when <= now]
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self._certificate.subject)
            .last_update(start)
            .next_update(start + lifetime)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._key_id),
                critical=False,
            )
        )
        for entry in entries:
            revoked = (
                x509.RevokedCertificateBuilder()
                .serial_number(entry.serial)
                .revocation_date(entry.when)
            )
            # RFC 5280 §5.3.1: omit the reason code rather than say "unspecified".
            if entry.reason is not x509.ReasonFlags.unspecified:
                revoked = revoked.add_extension(x509.CRLReason(entry.reason), critical=False)
            builder = builder.add_revoked_certificate(revoked.build())
        return builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def save(self, folder: Path) -> None:
        """Writes the CA's three files into ``folder``. The folder is created with mode
        0700 if missing, and the key file gets mode 0600."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._lock:
            state = {
                "format": _STATE_FORMAT,
                "crl_number": self._crl_number,
                "revoked": [
                    {
                        "serial": f"{entry.serial:x}",
                        "when": entry.when.isoformat(),
                        "reason": entry.reason.value,
                    }
                    for entry in self._revocations.values()
                ],
            }
        _write(folder / CA_KEY_FILE, _private_pem(self._key), 0o600)
        _write(folder / CA_CERT_FILE, self._certificate_pem, 0o644)
        _write(folder / CA_STATE_FILE, json.dumps(state, indent=1).encode(), 0o644)

    @classmethod
    def load(cls, folder: Path) -> CardAuthority:
        key = _load_ec_key(read_secret(folder / CA_KEY_FILE))
        certificate = x509.load_pem_x509_certificate((folder / CA_CERT_FILE).read_bytes())
        state = json.loads((folder / CA_STATE_FILE).read_text(encoding="utf-8"))
        if state.get("format") != _STATE_FORMAT:
            raise ValueError(f"{folder / CA_STATE_FILE}: not a {_STATE_FORMAT} file")
        revocations = {}
        for item in state["revoked"]:
            entry = Revocation(
                int(item["serial"], 16),
                aware(dt.datetime.fromisoformat(item["when"]), "when"),
                x509.ReasonFlags(item["reason"]),
            )
            revocations[entry.serial] = entry
        return cls(key, certificate, revocations, int(state["crl_number"]))


class Terminal:
    """A simulated 顔認証付きカードリーダー with an Ed25519 key, registered with the service
    under ``terminal_id`` and its :attr:`public_key`.

    The real reader compares the live face with the photo in the card's chip. That
    comparison is out of scope; :meth:`attest` stands for "the face matched".
    """

    __slots__ = ("_key", "terminal_id")

    def __init__(self, terminal_id: str, key: ed25519.Ed25519PrivateKey) -> None:
        if not _TERMINAL_ID.fullmatch(terminal_id):
            raise ValueError("terminal id must be 1–64 of A–Z a–z 0–9 _ -")
        self.terminal_id = terminal_id
        self._key = key

    def __repr__(self) -> str:
        return f"Terminal({self.terminal_id!r})"

    @classmethod
    def create(cls, terminal_id: str) -> Terminal:
        return cls(terminal_id, ed25519.Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key that the service registers."""
        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def attest(
        self, card_certificate_pem: bytes, institution_code: str, now: dt.datetime
    ) -> Attestation:
        """States that the holder of this card was recognised here at ``now``."""
        fingerprint = certificate_fingerprint(card_certificate_pem)
        nonce = secrets.token_bytes(ATTESTATION_NONCE_BYTES)
        issued_at = aware(now)
        message = attestation_message(
            self.terminal_id, fingerprint, institution_code, issued_at, nonce
        )
        return Attestation(
            terminal_id=self.terminal_id,
            fingerprint=fingerprint,
            institution_code=institution_code,
            issued_at=issued_at,
            nonce=nonce,
            signature=self._key.sign(message),
        )

    def save(self, folder: Path) -> Path:
        """Writes ``folder/<terminal_id>.terminal.pem`` (unencrypted key, mode 0600) and
        returns its path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.terminal_id}{_TERMINAL_SUFFIX}"
        _write(path, _private_pem(self._key), 0o600)
        return path

    @classmethod
    def load(cls, path: Path) -> Terminal:
        if not path.name.endswith(_TERMINAL_SUFFIX):
            raise ValueError(f"{path}: terminal files end in {_TERMINAL_SUFFIX}")
        key = serialization.load_pem_private_key(read_secret(path), password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise ValueError(f"{path}: expected an Ed25519 private key")
        return cls(path.name.removesuffix(_TERMINAL_SUFFIX), key)
