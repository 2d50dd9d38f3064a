"""My Number card authentication for the service (マイナ保険証), and the issuing of the
synthetic prefecture's cards.

A card proves itself with its 利用者証明用電子証明書: in PIN mode (暗証番号) it signs a
single-use challenge; in face mode (顔認証) a registered card reader attests the face match.
The certificate maps to a person through an opaque code kept by the service (like the
機関別符号), never through the My Number. The CA and its revocation list are simulated
(``_pki_sim``); the service side reads only the CA certificate and the current CRL.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519

from kokuho.registry import tables as r
from kokuho.store import UNREACHABLE, AsyncReads, ReadRouter
from kokuho.verify._access import AccessDenied
from kokuho.verify._card_store import DatabaseChallenges, DatabaseReplayGuard
from kokuho.verify._check_pg import psycopg_sql
from kokuho.verify._pki import (
    Attestation,
    CardRejected,
    CertificateVerifier,
    Challenge,
    ChallengeStore,
    ReplayGuard,
    VerifiedCertificate,
    certificate_code,
    verify_face_mode,
    verify_pin_mode,
)
from kokuho.verify._pki_sim import CA_CERT_FILE, CA_KEY_FILE, CardAuthority
from kokuho.verify._sqlite_reads import sqlite_reads_for
from kokuho.verify._tables import card_certificates, terminals

CRL_FILE = "crl.der"
CRL_LIFETIME = dt.timedelta(days=7)


REVOCATION_SECONDS = 5.0
"""The bound on how long a running server may go on accepting what was revoked: a card on a
new CRL, a card reader marked revoked, a certificate code removed from the register. With read
replicas the reader and holder reads may come from a replica, which adds its lag bound
(``KOKUHO_REPLICA_MAX_LAG``) to this one for those two."""

_TERMINAL = sa.select(terminals.c.institution_code, terminals.c.public_key, terminals.c.revoked_at)
_TERMINAL = _TERMINAL.where(terminals.c.terminal_id == sa.bindparam("terminal"))
_HOLDER = sa.select(card_certificates.c.person_id).where(
    card_certificates.c.code == sa.bindparam("code")
)
# The same reads as psycopg SQL, for the face check on the event loop (PostgreSQL).
_TERMINAL_PG, _ = psycopg_sql(_TERMINAL)
_HOLDER_PG, _ = psycopg_sql(_HOLDER)
_CACHE_LIMIT = 200_000  # entries per cache; past it the cache starts again


@dataclass(frozen=True, slots=True)
class _Reader:
    institution_code: str
    key: ed25519.Ed25519PublicKey | None  # None: revoked


class CardDesk:
    """What the service needs to authenticate cards: the CA certificate, the CRL, challenges,
    used attestations and terminal keys.

    Challenges and used attestations live in the database (``_card_store``), so any number
    of server processes share them. Terminal keys and certificate codes are cached in the
    process and the CRL file is watched; each is read again at most ``revocation_seconds``
    after it was last read, which bounds how long a revocation takes to reach a running
    server (:data:`REVOCATION_SECONDS`).

    Terminal keys and certificate codes are read through ``reads`` (a fresh replica, else the
    primary), so they go on being read while the primary is down. Challenges and used
    attestations are writes: without the primary a card check is refused
    (``primary_unavailable``) rather than answered without its single-use guarantee.
    """

    def __init__(
        self, engine: sa.Engine, service_key: bytes, ca_folder: Path, *,
        revocation_seconds: float = REVOCATION_SECONDS,
        clock: Callable[[], float] = time.monotonic, reads: ReadRouter | None = None,
    ) -> None:  # fmt: skip
        self._engine = engine
        self._reads = reads or ReadRouter(engine)
        # A SQLite file: the reader and holder reads skip SQLAlchemy's execution (as checks do).
        self._sqlite = sqlite_reads_for(engine, self._reads)
        self._key = service_key
        self._crl = ca_folder / CRL_FILE
        crl = self._crl
        self.verifier = CertificateVerifier(
            (ca_folder / CA_CERT_FILE).read_bytes(), lambda now: crl.read_bytes()
        )
        self.challenges: ChallengeStore = DatabaseChallenges(engine)
        self.replays: ReplayGuard = DatabaseReplayGuard(engine)
        self._bound = revocation_seconds
        self._clock = clock
        self._readers: dict[str, tuple[float, _Reader | None]] = {}
        self._holders: dict[str, tuple[float, int | None]] = {}
        # A certificate's code by its fingerprint: a pure function of the certificate, so
        # never stale; the HMAC cost more than the rest of the holder look-up.
        self._codes: dict[str, str] = {}
        self._crl_seen = (clock(), self._crl_stamp())

    @property
    def engine(self) -> sa.Engine:
        return self._engine

    def close(self) -> None:
        """Closes the desk's own SQLite read connections (the engine is its owner's)."""
        if self._sqlite is not None:
            self._sqlite.close()

    def challenge(self, institution: str, now: dt.datetime) -> Challenge:
        with _needs_primary():
            return self.challenges.issue(now, institution)

    def person_by_pin(
        self, institution: str, cert_pem: bytes, challenge_id: str, signature: bytes,
        now: dt.datetime,
    ) -> int | None:  # fmt: skip
        self._watch_crl(now)
        with _needs_primary():
            cert = verify_pin_mode(
                self.verifier, self.challenges, cert_pem, challenge_id, signature, institution,
                now,
            )  # fmt: skip
        return self._person(cert)

    def person_by_face(
        self, institution: str, cert_pem: bytes, attestation: Attestation, now: dt.datetime,
        *, claim: bool = True,
    ) -> int | None:  # fmt: skip
        """The holder of a card authenticated in face mode. ``claim=False`` leaves the
        attestation's single-use claim (:func:`~kokuho.verify._pki.replay_claim`) to the
        caller, who must make it before answering (the loop's audit transaction does)."""
        self._watch_crl(now)
        reader = self._reader(attestation.terminal_id)
        if reader is None or reader.institution_code != institution or reader.key is None:
            raise CardRejected(
                "bad_attestation", "the card reader is not registered to this institution"
            )
        with _needs_primary():
            cert = verify_face_mode(
                self.verifier, cert_pem, attestation, reader.key, now,
                institution_code=institution, replay_guard=self.replays if claim else None,
            )  # fmt: skip
        return self._person(cert)

    async def person_by_face_async(
        self, institution: str, cert_pem: bytes, attestation: Attestation, now: dt.datetime,
        reads: AsyncReads,
    ) -> int | None:  # fmt: skip
        """:meth:`person_by_face` with ``claim=False`` for a request on a PostgreSQL event
        loop: the reader and holder reads that the caches (≤ the revocation bound) do not
        answer go over ``reads`` (psycopg's async API) instead of blocking the loop."""
        self._watch_crl(now)
        known, reader = self._fresh(self._readers, attestation.terminal_id)
        if not known:
            params = {"terminal": attestation.terminal_id}
            row = await reads.run(lambda c: _fetch_one(c, _TERMINAL_PG, params))
            reader = _reader_of(row)
            self._remember(self._readers, attestation.terminal_id, reader)
        if reader is None or reader.institution_code != institution or reader.key is None:
            raise CardRejected(
                "bad_attestation", "the card reader is not registered to this institution"
            )
        cert = verify_face_mode(
            self.verifier, cert_pem, attestation, reader.key, now,
            institution_code=institution, replay_guard=None,
        )  # fmt: skip
        code = self._code(cert)
        known, person = self._fresh(self._holders, code)
        if not known:
            row = await reads.run(lambda c: _fetch_one(c, _HOLDER_PG, {"code": code}))
            person = None if row is None else row[0]
            self._remember(self._holders, code, person)
        return cast(int | None, person)

    def _code(self, cert: VerifiedCertificate) -> str:
        code = self._codes.get(cert.fingerprint)
        if code is None:
            if len(self._codes) >= _CACHE_LIMIT:
                self._codes.clear()
            code = self._codes[cert.fingerprint] = certificate_code(cert, self._key)
        return code

    def _fresh(self, cache: dict[str, tuple[float, Any]], key: str) -> tuple[bool, Any]:
        hit = cache.get(key)
        if hit is not None and self._clock() - hit[0] < self._bound:
            return True, hit[1]
        return False, None

    def _remember(self, cache: dict[str, tuple[float, Any]], key: str, value: Any) -> None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = (self._clock(), value)

    def _reader(self, terminal_id: str) -> _Reader | None:
        known, reader = self._fresh(self._readers, terminal_id)
        if known:
            return cast(_Reader | None, reader)
        params = {"terminal": terminal_id}
        if self._sqlite is not None:
            row = next(iter(self._sqlite.all(_TERMINAL, params)), None)
        else:
            row = self._reads.run(lambda c: c.execute(_TERMINAL, params).first())
        found = _reader_of(row)
        self._remember(self._readers, terminal_id, found)
        return found

    def _person(self, cert: VerifiedCertificate) -> int | None:
        code = self._code(cert)
        known, person = self._fresh(self._holders, code)
        if known:
            return cast(int | None, person)
        if self._sqlite is not None:
            person = self._sqlite.scalar(_HOLDER, {"code": code})
        else:
            person = self._reads.run(lambda c: c.scalar(_HOLDER, {"code": code}))
        self._remember(self._holders, code, person)
        return cast(int | None, person)

    def _crl_stamp(self) -> tuple[int, int, int] | None:
        try:
            info = self._crl.stat()
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def _watch_crl(self, now: dt.datetime) -> None:
        """Reloads the CRL when its file changed (``write_crl`` replaces it atomically), looking
        at most once per bound: a revoked card is refused within the bound, everywhere."""
        checked, stamp = self._crl_seen
        if self._clock() - checked < self._bound:
            return
        current = self._crl_stamp()
        self._crl_seen = (self._clock(), current)
        if current != stamp:
            self.verifier.refresh(now)


@contextlib.contextmanager
def _needs_primary() -> Iterator[None]:
    """Turns "the primary did not answer" during a card write into a documented refusal: a
    challenge or a used attestation that cannot be recorded must not be trusted."""
    try:
        yield
    except UNREACHABLE:
        raise AccessDenied(
            "primary_unavailable",
            "card checks (PIN and face) need the primary database, which did not answer: "
            "check by insurance number, or retry when it is back",
        ) from None


def _reader_of(row: Any) -> _Reader | None:
    """A terminal's row as the desk keeps it (the key parsed once per read, not per check)."""
    if row is None:
        return None
    key = None if row[2] is not None else _parse_key(row[1])
    return _Reader(row[0], key)


async def _fetch_one(
    connection: psycopg.AsyncConnection[Any], statement: str, params: dict[str, Any]
) -> Any:
    async with connection.cursor() as cursor:
        await cursor.execute(statement, params, prepare=True)
        return await cursor.fetchone()


def _parse_key(public_key_hex: str) -> ed25519.Ed25519PublicKey | None:
    try:
        return ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    except ValueError:
        return None  # a malformed registration verifies nothing


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


@dataclass(frozen=True, slots=True)
class MintedCard:
    """A card made and saved but not yet registered to anyone (:func:`mint_cards`)."""

    file_name: str  # in the cards folder
    serial: int
    not_after: dt.datetime


def mint_cards(
    ca_folder: Path, cards_folder: Path, now: dt.datetime, count: int
) -> list[MintedCard]:
    """Makes ``count`` cards (key pair, certificate, file in ``cards_folder``) under the
    authority in ``ca_folder`` and registers none: :func:`issue_cards` given them registers
    them. The keys and signatures are most of the issuing's time and touch no database, so
    a second process can make them while the register is still being loaded (the demo)."""
    authority = open_authority(ca_folder, now)
    cards_folder.mkdir(parents=True, exist_ok=True)
    minted = []
    for _ in range(count):
        card = authority.issue_card(now)
        path = card.save(cards_folder)
        minted.append(MintedCard(path.name, card.serial, card.not_after))
    return minted


def issue_cards(
    engine: sa.Engine, service_key: bytes, ca_folder: Path, cards_folder: Path,
    now: dt.datetime, *, minted: Sequence[MintedCard] = (),
) -> IssuedCards:  # fmt: skip
    """Issues a card to every person with a verified My Number link and no card yet, as J-LIS
    issues 個人番号カード, and registers each certificate's code to the person.

    Card files (key and certificate) go to ``cards_folder`` with an ``index.csv`` naming the
    member each belongs to: synthetic data, for the demo and the load tests. ``minted``:
    cards :func:`mint_cards` made earlier with the same folders and ``now``, given out first
    (in order); more are made if they are too few, and the files of those left over are
    removed (no one holds them).
    """
    authority = open_authority(ca_folder, now)
    # One parse of the CA certificate, not one per card.
    issuer = authority_issuer(authority)
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
    for spare in minted[len(linked) :]:
        (cards_folder / spare.file_name).unlink(missing_ok=True)
    rows = []
    index = cards_folder / "index.csv"
    new_index = not index.exists()
    with index.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        if new_index:
            writer.writerow(["card_file", "insurer_number", "symbol", "number", "branch"])
        for position, person_id in enumerate(linked):
            if position < len(minted):
                made = minted[position]
            else:
                card = authority.issue_card(now)
                made = MintedCard(card.save(cards_folder).name, card.serial, card.not_after)
            verified = VerifiedCertificate(made.serial, made.not_after, "", issuer)
            rows.append({
                "code": certificate_code(verified, service_key), "person_id": person_id,
                "not_after": made.not_after, "registered_at": now,
            })  # fmt: skip
            member = members.get(person_id)
            if member is not None:
                writer.writerow([made.file_name, member.insurer_number, member.symbol,
                                 member.number, member.branch])  # fmt: skip
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
