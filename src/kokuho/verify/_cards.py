"""My Number card authentication for the service (マイナ保険証), and the issuing of the
synthetic prefecture's cards.

A card proves itself with its 利用者証明用電子証明書: in PIN mode (暗証番号) it signs a
single-use challenge; in face mode (顔認証) a registered card reader attests the face match.
The certificate maps to a person through an opaque code kept by the service (like the
機関別符号), never through the My Number. The CA and its revocation list are simulated
(``_pki_sim``); the service side reads only the CA certificate and the current CRL.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from kokuho.registry import tables as r
from kokuho.verify._pki import (
    Attestation,
    CardRejected,
    CertificateVerifier,
    Challenge,
    ChallengeBook,
    MemoryReplayGuard,
    VerifiedCertificate,
    certificate_code,
    verify_face_mode,
    verify_pin_mode,
)
from kokuho.verify._pki_sim import CA_CERT_FILE, CA_KEY_FILE, CardAuthority
from kokuho.verify._tables import card_certificates, terminals

CRL_FILE = "crl.der"
CRL_LIFETIME = dt.timedelta(days=7)


class CardDesk:
    """What the service needs to authenticate cards: the CA certificate, the CRL, challenges
    and terminal keys. One per server process (challenges live in its memory)."""

    def __init__(self, engine: sa.Engine, service_key: bytes, ca_folder: Path) -> None:
        self._engine = engine
        self._key = service_key
        crl = ca_folder / CRL_FILE
        self.verifier = CertificateVerifier(
            (ca_folder / CA_CERT_FILE).read_bytes(), lambda now: crl.read_bytes()
        )
        self.challenges = ChallengeBook()
        self.replays = MemoryReplayGuard()

    def challenge(self, institution: str, now: dt.datetime) -> Challenge:
        return self.challenges.issue(now, institution)

    def person_by_pin(
        self, institution: str, cert_pem: bytes, challenge_id: str, signature: bytes,
        now: dt.datetime,
    ) -> int | None:  # fmt: skip
        cert = verify_pin_mode(
            self.verifier, self.challenges, cert_pem, challenge_id, signature, institution, now
        )
        return self._person(cert)

    def person_by_face(
        self, institution: str, cert_pem: bytes, attestation: Attestation, now: dt.datetime
    ) -> int | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(terminals).where(terminals.c.terminal_id == attestation.terminal_id)
            ).first()
        if row is None or row.institution_code != institution or row.revoked_at is not None:
            raise CardRejected(
                "bad_attestation", "the card reader is not registered to this institution"
            )
        cert = verify_face_mode(
            self.verifier, cert_pem, attestation, bytes.fromhex(row.public_key), now,
            institution_code=institution, replay_guard=self.replays,
        )  # fmt: skip
        return self._person(cert)

    def _person(self, cert: VerifiedCertificate) -> int | None:
        code = certificate_code(cert, self._key)
        with self._engine.connect() as connection:
            person: int | None = connection.scalar(
                sa.select(card_certificates.c.person_id).where(card_certificates.c.code == code)
            )
        return person


@dataclass(frozen=True)
class IssuedCards:
    issued: int
    folder: Path


def write_crl(authority: CardAuthority, ca_folder: Path, now: dt.datetime) -> None:
    """Publishes a fresh revocation list where the service reads it."""
    target = ca_folder / CRL_FILE
    temporary = target.with_suffix(".tmp")
    temporary.write_bytes(authority.crl(now, lifetime=CRL_LIFETIME))
    temporary.replace(target)


def open_authority(ca_folder: Path, now: dt.datetime) -> CardAuthority:
    """The simulated JPKI authority in ``ca_folder``, created on first use."""
    if (ca_folder / CA_CERT_FILE).exists():
        return CardAuthority.load(ca_folder)
    authority = CardAuthority.create("kokuho JPKI simulation", now)
    authority.save(ca_folder)
    write_crl(authority, ca_folder, now)
    return authority


def issue_cards(
    engine: sa.Engine, service_key: bytes, ca_folder: Path, cards_folder: Path,
    now: dt.datetime,
) -> IssuedCards:  # fmt: skip
    """Issues a card to every person with a verified My Number link and no card yet, as J-LIS
    issues 個人番号カード, and registers each certificate's code to the person.

    Card files (key and certificate) go to ``cards_folder`` with an ``index.csv`` naming the
    member each belongs to: synthetic data, for the demo and the load tests.
    """
    authority = open_authority(ca_folder, now)
    cards_folder.mkdir(parents=True, exist_ok=True)
    c = r.coverages.c
    with engine.connect() as connection:
        linked = connection.execute(
            sa.select(r.person_mynumbers.c.person_id)
            .where(
                ~sa.exists().where(card_certificates.c.person_id == r.person_mynumbers.c.person_id)
            )
            .order_by(r.person_mynumbers.c.person_id)
        ).scalars().all()  # fmt: skip
        members = {
            row.person_id: row
            for row in connection.execute(
                sa.select(c.person_id, c.insurer_number, c.symbol, c.number, c.branch)
                .join(r.person_mynumbers, r.person_mynumbers.c.person_id == c.person_id)
                .where(~sa.exists().where(card_certificates.c.person_id == c.person_id))
                .order_by(c.acquired_on)
            )
        }  # latest coverage per person wins
    rows = []
    index = cards_folder / "index.csv"
    new_index = not index.exists()
    with index.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new_index:
            writer.writerow(["card_file", "insurer_number", "symbol", "number", "branch"])
        for person_id in linked:
            card = authority.issue_card(now)
            path = card.save(cards_folder)
            verified = VerifiedCertificate(
                card.serial, card.not_after, "", authority_issuer(authority)
            )
            rows.append({
                "code": certificate_code(verified, service_key), "person_id": person_id,
                "not_after": card.not_after, "registered_at": now,
            })  # fmt: skip
            member = members.get(person_id)
            if member is not None:
                writer.writerow([path.name, member.insurer_number, member.symbol, member.number,
                                 member.branch])  # fmt: skip
    if rows:
        with engine.begin() as connection:
            connection.execute(card_certificates.insert(), rows)
    authority.save(ca_folder)
    write_crl(authority, ca_folder, now)
    return IssuedCards(len(rows), cards_folder)


def authority_issuer(authority: CardAuthority) -> str:
    """The issuer string the verifier reports for this authority's certificates."""
    from cryptography import x509

    return x509.load_pem_x509_certificate(authority.certificate_pem).subject.rfc4514_string()


class RevokeRefused(ValueError):
    """A revocation that names no card of this authority: nothing is written."""


def revoke_issued_card(
    engine: sa.Engine, service_key: bytes, ca_folder: Path, serial: int, now: dt.datetime
) -> None:
    """Revokes the card ``serial`` that :func:`issue_cards` issued and registered. A serial
    the register does not hold (a typing slip, another authority's card) is refused: a CRL
    entry for it would revoke nothing and hide the slip."""
    if not all((ca_folder / name).is_file() for name in (CA_KEY_FILE, CA_CERT_FILE)):
        raise RevokeRefused(f"no card authority in {ca_folder}: run `kokuho cards issue` first")
    authority = CardAuthority.load(ca_folder)
    # The register keeps the certificate's code, not its serial: the code of this serial
    # under this issuer is what a registered card would have.
    issued = VerifiedCertificate(serial, now, "", authority_issuer(authority))
    code = certificate_code(issued, service_key)
    with engine.connect() as connection:
        known = connection.scalar(
            sa.select(card_certificates.c.code).where(card_certificates.c.code == code)
        )
    if known is None:
        raise RevokeRefused(f"no card with serial {serial} was issued by {ca_folder}")
    revoke_card(ca_folder, serial, now)


def revoke_card(ca_folder: Path, serial: int, now: dt.datetime) -> None:
    authority = CardAuthority.load(ca_folder)
    authority.revoke(serial, now)
    authority.save(ca_folder)
    write_crl(authority, ca_folder, now)
