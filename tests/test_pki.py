"""The JPKI simulation: 利用者証明用電子証明書 checks, PIN and face modes, and the card files."""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import logging
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from kokuho.verify._pki import (
    PIN_DOMAIN,
    REASON_CODES,
    CardRejected,
    CertificateVerifier,
    ChallengeBook,
    MemoryReplayGuard,
    VerifiedCertificate,
    certificate_code,
    certificate_fingerprint,
    signed_message,
    verify_face_mode,
    verify_pin_mode,
)
from kokuho.verify._pki_sim import CA_KEY_FILE, Card, CardAuthority, Terminal
from kokuho.verify._pki_verifier import REVOCATION_UNKNOWN

JST = dt.timezone(dt.timedelta(hours=9))
NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=JST)
HOSPITAL_A = "3710112345"
HOSPITAL_B = "3710154321"
SERVICE_KEY = bytes(range(32))


class LiveCrl:
    """A CRL source that asks the CA for a fresh CRL on every fetch and counts fetches."""

    def __init__(self, ca: CardAuthority) -> None:
        self.ca = ca
        self.fetches = 0

    def __call__(self, now: dt.datetime) -> bytes:
        self.fetches += 1
        return self.ca.crl(now)


@pytest.fixture
def ca() -> CardAuthority:
    return CardAuthority.create("JPKI-SIM test CA", NOW - dt.timedelta(days=30))


@pytest.fixture
def crl_source(ca: CardAuthority) -> LiveCrl:
    return LiveCrl(ca)


@pytest.fixture
def verifier(ca: CardAuthority, crl_source: LiveCrl) -> CertificateVerifier:
    return CertificateVerifier(ca.certificate_pem, crl_source)


@pytest.fixture
def card(ca: CardAuthority) -> Card:
    return ca.issue_card(NOW - dt.timedelta(days=1))


@pytest.fixture
def book() -> ChallengeBook:
    return ChallengeBook()


def pin_check(
    verifier: CertificateVerifier,
    book: ChallengeBook,
    card: Card,
    now: dt.datetime = NOW,
    institution: str = HOSPITAL_A,
) -> VerifiedCertificate:
    challenge = book.issue(now, institution)
    signature = card.sign(signed_message(challenge.nonce, institution))
    return verify_pin_mode(
        verifier, book, card.certificate_pem, challenge.id, signature, institution, now
    )


def rejected(excinfo: pytest.ExceptionInfo[CardRejected]) -> str:
    assert excinfo.value.reason_code in REASON_CODES
    return excinfo.value.reason_code


# -- PIN mode ---------------------------------------------------------------------------------


def test_pin_mode_round_trip(
    verifier: CertificateVerifier, book: ChallengeBook, card: Card
) -> None:
    verified = pin_check(verifier, book, card)
    der = x509.load_pem_x509_certificate(card.certificate_pem).public_bytes(
        serialization.Encoding.DER
    )
    assert verified.serial == card.serial
    assert verified.not_after == card.not_after
    assert verified.fingerprint == hashlib.sha256(der).hexdigest()
    assert certificate_fingerprint(card.certificate_pem) == verified.fingerprint
    assert verified.issuer == verifier.issuer
    assert len(book) == 1  # used, kept for precise replay refusals


def test_signed_message_is_the_documented_bytes() -> None:
    nonce = bytes(range(32))
    assert signed_message(nonce, HOSPITAL_A) == PIN_DOMAIN + nonce + HOSPITAL_A.encode()
    with pytest.raises(ValueError):
        signed_message(nonce[:31], HOSPITAL_A)
    with pytest.raises(ValueError):
        signed_message(nonce, "病院")


def test_signature_by_another_key_is_refused(
    ca: CardAuthority, verifier: CertificateVerifier, book: ChallengeBook, card: Card
) -> None:
    impostor = ca.issue_card(NOW - dt.timedelta(days=1))
    challenge = book.issue(NOW, HOSPITAL_A)
    forged = impostor.sign(signed_message(challenge.nonce, HOSPITAL_A))
    with pytest.raises(CardRejected) as excinfo:
        verify_pin_mode(verifier, book, card.certificate_pem, challenge.id, forged, HOSPITAL_A, NOW)
    assert rejected(excinfo) == "bad_signature"
    # The failed attempt spent the challenge: there is no second guess.
    good = card.sign(signed_message(challenge.nonce, HOSPITAL_A))
    with pytest.raises(CardRejected) as excinfo:
        verify_pin_mode(verifier, book, card.certificate_pem, challenge.id, good, HOSPITAL_A, NOW)
    assert rejected(excinfo) == "challenge_replayed"


def test_signature_without_the_institution_binding_is_refused(
    verifier: CertificateVerifier, book: ChallengeBook, card: Card
) -> None:
    signings: list[Callable[[bytes], bytes]] = [
        card.sign,  # the bare nonce, without the binding
        lambda nonce: card.sign(signed_message(nonce, HOSPITAL_B)),
        lambda nonce: b"\x30" * 200,
    ]
    for signing in signings:
        fresh = book.issue(NOW, HOSPITAL_A)
        signature = signing(fresh.nonce)
        with pytest.raises(CardRejected) as excinfo:
            verify_pin_mode(
                verifier, book, card.certificate_pem, fresh.id, signature, HOSPITAL_A, NOW
            )
        assert rejected(excinfo) == "bad_signature"


@pytest.mark.parametrize("other_name", ["Some other CA", "JPKI-SIM test CA"])
def test_certificate_from_another_ca_is_refused(
    verifier: CertificateVerifier, book: ChallengeBook, other_name: str
) -> None:
    # Same name as the trusted CA: only the key (identifier) tells them apart.
    other_ca = CardAuthority.create(other_name, NOW - dt.timedelta(days=30))
    stranger = other_ca.issue_card(NOW - dt.timedelta(days=1))
    challenge = book.issue(NOW, HOSPITAL_A)
    signature = stranger.sign(signed_message(challenge.nonce, HOSPITAL_A))
    with pytest.raises(CardRejected) as excinfo:
        verify_pin_mode(
            verifier, book, stranger.certificate_pem, challenge.id, signature, HOSPITAL_A, NOW
        )
    assert rejected(excinfo) == "untrusted_issuer"
    # Refused before the challenge was spent.
    assert book.consume(challenge.id, NOW, HOSPITAL_A) == challenge.nonce


def test_expired_and_not_yet_valid_certificates_are_refused(
    ca: CardAuthority, verifier: CertificateVerifier, book: ChallengeBook
) -> None:
    card = ca.issue_card(NOW - dt.timedelta(days=10), valid_days=5)
    with pytest.raises(CardRejected) as excinfo:
        pin_check(verifier, book, card)
    assert rejected(excinfo) == "expired"
    assert pin_check(verifier, book, card, NOW - dt.timedelta(days=6)).serial == card.serial

    future = ca.issue_card(NOW + dt.timedelta(days=1))
    with pytest.raises(CardRejected) as excinfo:
        verifier.verify_certificate(future.certificate_pem, NOW)
    assert rejected(excinfo) == "not_yet_valid"


def test_card_outliving_its_ca_cannot_be_issued_and_an_expired_ca_refuses(
    ca: CardAuthority, verifier: CertificateVerifier
) -> None:
    with pytest.raises(ValueError, match="outlive"):
        ca.issue_card(NOW, valid_days=365 * 30)
    card = ca.issue_card(NOW, valid_days=365 * 5)
    with pytest.raises(CardRejected) as excinfo:
        verifier.verify_certificate(card.certificate_pem, NOW + dt.timedelta(days=365 * 21))
    assert rejected(excinfo) == "expired"
    assert "CA" in excinfo.value.message


def test_revoked_certificate_is_refused_after_the_crl_is_reissued(
    ca: CardAuthority,
    verifier: CertificateVerifier,
    crl_source: LiveCrl,
    book: ChallengeBook,
    card: Card,
) -> None:
    bystander = ca.issue_card(NOW - dt.timedelta(days=1))
    assert pin_check(verifier, book, card).serial == card.serial
    ca.revoke(card.serial, NOW, "keyCompromise")  # 紛失届
    # The cached CRL stays in force until it is refreshed (by the service or by time).
    assert pin_check(verifier, book, card).serial == card.serial
    assert verifier.refresh(NOW) == 2
    with pytest.raises(CardRejected) as excinfo:
        pin_check(verifier, book, card)
    assert rejected(excinfo) == "revoked"
    assert pin_check(verifier, book, bystander).serial == bystander.serial
    assert crl_source.fetches == 2


def test_crl_is_fetched_again_only_near_and_after_next_update(
    ca: CardAuthority, verifier: CertificateVerifier, crl_source: LiveCrl, card: Card
) -> None:
    verifier.verify_certificate(card.certificate_pem, NOW)
    ca.revoke(card.serial, NOW + dt.timedelta(hours=1), "superseded")
    verifier.verify_certificate(card.certificate_pem, NOW + dt.timedelta(hours=2))
    assert crl_source.fetches == 1
    # Within the refresh margin (5 min) of nextUpdate (1 day) a new CRL is fetched early.
    with pytest.raises(CardRejected) as excinfo:
        verifier.verify_certificate(card.certificate_pem, NOW + dt.timedelta(hours=23, minutes=57))
    assert rejected(excinfo) == "revoked"
    assert crl_source.fetches == 2


def test_crl_past_next_update_is_replaced_automatically(ca: CardAuthority, card: Card) -> None:
    source = LiveCrl(ca)
    verifier = CertificateVerifier(ca.certificate_pem, source, refresh_margin=dt.timedelta(0))
    verifier.verify_certificate(card.certificate_pem, NOW)
    ca.revoke(card.serial, NOW)
    verifier.verify_certificate(card.certificate_pem, NOW + dt.timedelta(hours=23))
    with pytest.raises(CardRejected) as excinfo:
        verifier.verify_certificate(card.certificate_pem, NOW + dt.timedelta(days=1, seconds=1))
    assert rejected(excinfo) == "revoked"


def test_revocation_in_the_future_appears_only_in_later_crls(ca: CardAuthority, card: Card) -> None:
    ca.revoke(card.serial, NOW + dt.timedelta(hours=1))
    early = x509.load_der_x509_crl(ca.crl(NOW))
    late = x509.load_der_x509_crl(ca.crl(NOW + dt.timedelta(hours=1)))
    assert early.get_revoked_certificate_by_serial_number(card.serial) is None
    assert late.get_revoked_certificate_by_serial_number(card.serial) is not None


def test_missing_or_bad_crl_fails_closed(
    ca: CardAuthority, card: Card, caplog: pytest.LogCaptureFixture
) -> None:
    stale = ca.crl(NOW - dt.timedelta(days=2))
    foreign = CardAuthority.create("JPKI-SIM test CA", NOW - dt.timedelta(days=30)).crl(NOW)

    def broken(now: dt.datetime) -> bytes:
        raise OSError("CRL file missing")

    for source, words in (
        (lambda now: stale, "expired"),
        (lambda now: foreign, "signature"),
        (lambda now: b"not a CRL", "parse"),
        (broken, "OSError"),
    ):
        verifier = CertificateVerifier(ca.certificate_pem, source)
        caplog.clear()
        with (
            caplog.at_level(logging.WARNING, logger="kokuho"),
            pytest.raises(CardRejected) as excinfo,
        ):
            verifier.verify_certificate(card.certificate_pem, NOW)
        assert rejected(excinfo) == "revocation_unknown"
        # One fixed answer whatever the cause; the cause is the server log's.
        assert excinfo.value.message == REVOCATION_UNKNOWN
        assert any(words in record.getMessage() for record in caplog.records), words


def test_stale_crl_source_is_retried_at_most_once_per_interval(
    ca: CardAuthority, card: Card
) -> None:
    calls = []
    stale = ca.crl(NOW - dt.timedelta(days=2))

    def source(now: dt.datetime) -> bytes:
        calls.append(now)
        return stale

    verifier = CertificateVerifier(ca.certificate_pem, source)
    for seconds in (0, 1, 2, 6):
        with pytest.raises(CardRejected):
            verifier.verify_certificate(card.certificate_pem, NOW + dt.timedelta(seconds=seconds))
    assert len(calls) == 2


def test_crl_number_never_goes_back(ca: CardAuthority, card: Card) -> None:
    first, second = ca.crl(NOW), ca.crl(NOW)
    served = [second, first]
    verifier = CertificateVerifier(ca.certificate_pem, lambda now: served.pop(0))
    assert verifier.refresh(NOW) == 2
    assert verifier.refresh(NOW) == 2


# -- Challenges ----------------------------------------------------------------------------


def test_replayed_challenge_is_refused(
    verifier: CertificateVerifier, book: ChallengeBook, card: Card
) -> None:
    challenge = book.issue(NOW, HOSPITAL_A)
    signature = card.sign(signed_message(challenge.nonce, HOSPITAL_A))
    args = (verifier, book, card.certificate_pem, challenge.id, signature, HOSPITAL_A)
    assert verify_pin_mode(*args, NOW).serial == card.serial
    with pytest.raises(CardRejected) as excinfo:
        verify_pin_mode(*args, NOW + dt.timedelta(seconds=1))
    assert rejected(excinfo) == "challenge_replayed"


def test_expired_challenge_is_refused(
    verifier: CertificateVerifier, book: ChallengeBook, card: Card
) -> None:
    challenge = book.issue(NOW, HOSPITAL_A)
    signature = card.sign(signed_message(challenge.nonce, HOSPITAL_A))
    with pytest.raises(CardRejected) as excinfo:
        verify_pin_mode(
            verifier,
            book,
            card.certificate_pem,
            challenge.id,
            signature,
            HOSPITAL_A,
            NOW + dt.timedelta(seconds=60),
        )
    assert rejected(excinfo) == "challenge_expired"
    assert challenge.expires_at == NOW + dt.timedelta(seconds=60)


def test_challenge_lifetime_is_configurable() -> None:
    book = ChallengeBook(dt.timedelta(seconds=10))
    challenge = book.issue(NOW, HOSPITAL_A)
    assert book.consume(challenge.id, NOW + dt.timedelta(seconds=9), HOSPITAL_A)
    late = book.issue(NOW, HOSPITAL_A)
    with pytest.raises(CardRejected) as excinfo:
        book.consume(late.id, NOW + dt.timedelta(seconds=10), HOSPITAL_A)
    assert rejected(excinfo) == "challenge_expired"


def test_challenge_for_institution_a_is_refused_for_b(
    verifier: CertificateVerifier, book: ChallengeBook, card: Card
) -> None:
    challenge = book.issue(NOW, HOSPITAL_A)
    signature = card.sign(signed_message(challenge.nonce, HOSPITAL_B))
    with pytest.raises(CardRejected) as excinfo:
        verify_pin_mode(
            verifier, book, card.certificate_pem, challenge.id, signature, HOSPITAL_B, NOW
        )
    assert rejected(excinfo) == "challenge_other_institution"
    # B's attempt does not spoil A's check.
    assert len(book.consume(challenge.id, NOW, HOSPITAL_A)) == 32


def test_unknown_challenge_is_refused(book: ChallengeBook) -> None:
    with pytest.raises(CardRejected) as excinfo:
        book.consume("0" * 32, NOW, HOSPITAL_A)
    assert rejected(excinfo) == "unknown_challenge"


def test_challenges_are_random_and_single_use_across_threads(book: ChallengeBook) -> None:
    issued = [book.issue(NOW, HOSPITAL_A) for _ in range(50)]
    assert len({c.id for c in issued}) == len({c.nonce for c in issued}) == 50
    target = issued[0]
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            book.consume(target.id, NOW, HOSPITAL_A)
            outcomes.append("ok")
        except CardRejected as error:
            outcomes.append(error.reason_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["challenge_replayed"] * 7 + ["ok"]


def test_challenge_book_is_bounded_and_purges_expired_entries() -> None:
    book = ChallengeBook(dt.timedelta(seconds=60), retention=dt.timedelta(seconds=60), capacity=3)
    first, *_ = [book.issue(NOW, HOSPITAL_A) for _ in range(4)]
    assert len(book) == 3
    with pytest.raises(CardRejected) as excinfo:
        book.consume(first.id, NOW, HOSPITAL_A)
    assert rejected(excinfo) == "unknown_challenge"
    book.issue(NOW + dt.timedelta(seconds=120), HOSPITAL_A)
    assert len(book) == 1


# -- Certificate checks ------------------------------------------------------------------------


def test_a_flipped_bit_in_any_byte_of_a_certificate_is_refused(
    verifier: CertificateVerifier, card: Card
) -> None:
    der = x509.load_pem_x509_certificate(card.certificate_pem).public_bytes(
        serialization.Encoding.DER
    )
    verifier.verify_certificate(der, NOW)
    codes = set()
    for position in range(len(der)):
        tampered = bytearray(der)
        tampered[position] ^= 0x01
        with pytest.raises(CardRejected) as excinfo:
            verifier.verify_certificate(bytes(tampered), NOW)
        codes.add(rejected(excinfo))
    assert codes <= {"malformed", "bad_signature", "untrusted_issuer"}
    assert {"malformed", "bad_signature"} <= codes


def test_tampered_subject_is_a_bad_signature(verifier: CertificateVerifier, card: Card) -> None:
    der = bytearray(
        x509.load_pem_x509_certificate(card.certificate_pem).public_bytes(
            serialization.Encoding.DER
        )
    )
    at = der.index(b"JPKI-SIM user")
    der[at] = ord("K")
    with pytest.raises(CardRejected) as excinfo:
        verifier.verify_certificate(bytes(der), NOW)
    assert rejected(excinfo) == "bad_signature"


def test_one_changed_character_in_the_pem_is_refused(
    verifier: CertificateVerifier, card: Card
) -> None:
    pem = card.certificate_pem
    body = range(
        len(b"-----BEGIN CERTIFICATE-----\n"), len(pem) - len(b"-----END CERTIFICATE-----\n")
    )
    for position in body[::7]:
        if pem[position] == ord("\n"):
            continue
        tampered = bytearray(pem)
        tampered[position] = ord("A") if pem[position] != ord("A") else ord("B")
        with pytest.raises(CardRejected) as excinfo:
            verifier.verify_certificate(bytes(tampered), NOW)
        assert rejected(excinfo) in {"malformed", "bad_signature", "untrusted_issuer"}


@pytest.mark.parametrize("garbage", [b"", b"-----BEGIN CERTIFICATE-----\nAAAA\n", b"\x30" * 20_000])
def test_garbage_is_malformed(verifier: CertificateVerifier, garbage: bytes) -> None:
    with pytest.raises(CardRejected) as excinfo:
        verifier.verify_certificate(garbage, NOW)
    assert rejected(excinfo) == "malformed"


def _ca_signed(folder: Path, ca: CardAuthority, usage: x509.KeyUsage | None, is_ca: bool) -> bytes:
    """A certificate really signed by the CA key but outside the card profile."""
    ca.save(folder)
    ca_key = serialization.load_pem_private_key((folder / CA_KEY_FILE).read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(ca.certificate_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "JPKI-SIM user")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _usage(**granted: bool) -> x509.KeyUsage:
    names = inspect.signature(x509.KeyUsage).parameters
    return x509.KeyUsage(**{name: granted.get(name, False) for name in names})


@pytest.mark.parametrize(
    ("usage", "is_ca"),
    [
        (None, False),
        (_usage(key_encipherment=True), False),
        (_usage(digital_signature=True, key_cert_sign=True), False),
        (_usage(digital_signature=True), True),
    ],
)
def test_certificate_outside_the_card_profile_is_refused(
    tmp_path: Path,
    ca: CardAuthority,
    verifier: CertificateVerifier,
    usage: x509.KeyUsage | None,
    is_ca: bool,
) -> None:
    pem = _ca_signed(tmp_path, ca, usage, is_ca)
    with pytest.raises(CardRejected) as excinfo:
        verifier.verify_certificate(pem, NOW)
    assert rejected(excinfo) == "wrong_key_usage"
    assert verifier.verify_certificate(
        _ca_signed(tmp_path, ca, _usage(digital_signature=True), False), NOW
    )


def test_parsed_certificates_are_cached_in_a_bounded_lru(
    ca: CardAuthority, crl_source: LiveCrl
) -> None:
    verifier = CertificateVerifier(ca.certificate_pem, crl_source, cache_size=2)
    cards = [ca.issue_card(NOW) for _ in range(3)]
    for card in cards + cards[-1:]:
        verifier.verify_certificate(card.certificate_pem, NOW)
    assert verifier.cached_certificates == 2


def test_naive_datetimes_are_refused(
    verifier: CertificateVerifier, book: ChallengeBook, card: Card
) -> None:
    naive = dt.datetime(2026, 4, 1, 9, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        verifier.verify_certificate(card.certificate_pem, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        book.issue(naive, HOSPITAL_A)


# -- Face mode (顔認証) -------------------------------------------------------------------------


@pytest.fixture
def terminal() -> Terminal:
    return Terminal.create("reader-001")


def test_face_mode_accepts_a_fresh_attestation(
    verifier: CertificateVerifier, card: Card, terminal: Terminal
) -> None:
    attestation = terminal.attest(card.certificate_pem, HOSPITAL_A, NOW - dt.timedelta(seconds=5))
    verified = verify_face_mode(
        verifier,
        card.certificate_pem,
        attestation,
        terminal.public_key,
        NOW,
        institution_code=HOSPITAL_A,
    )
    assert verified.serial == card.serial
    assert attestation.fingerprint == verified.fingerprint


def test_face_mode_refuses_an_unknown_terminal_key(
    verifier: CertificateVerifier, card: Card, terminal: Terminal
) -> None:
    rogue = Terminal.create("reader-001")  # same id, unregistered key
    attestation = rogue.attest(card.certificate_pem, HOSPITAL_A, NOW)
    for key in (terminal.public_key, b"\x00" * 31):
        with pytest.raises(CardRejected) as excinfo:
            verify_face_mode(
                verifier, card.certificate_pem, attestation, key, NOW, institution_code=HOSPITAL_A
            )
        assert rejected(excinfo) == "bad_attestation"


@pytest.mark.parametrize("offset", [dt.timedelta(seconds=-121), dt.timedelta(seconds=31)])
def test_face_mode_refuses_a_stale_attestation(
    verifier: CertificateVerifier, card: Card, terminal: Terminal, offset: dt.timedelta
) -> None:
    attestation = terminal.attest(card.certificate_pem, HOSPITAL_A, NOW + offset)
    with pytest.raises(CardRejected) as excinfo:
        verify_face_mode(
            verifier,
            card.certificate_pem,
            attestation,
            terminal.public_key,
            NOW,
            institution_code=HOSPITAL_A,
        )
    assert rejected(excinfo) == "stale_attestation"


def test_face_mode_binds_card_institution_and_single_use(
    ca: CardAuthority, verifier: CertificateVerifier, card: Card, terminal: Terminal
) -> None:
    other_card = ca.issue_card(NOW - dt.timedelta(days=1))
    attestation = terminal.attest(card.certificate_pem, HOSPITAL_A, NOW)
    key = terminal.public_key
    with pytest.raises(CardRejected) as excinfo:
        verify_face_mode(
            verifier, other_card.certificate_pem, attestation, key, NOW, institution_code=HOSPITAL_A
        )
    assert rejected(excinfo) == "bad_attestation"
    with pytest.raises(CardRejected) as excinfo:
        verify_face_mode(
            verifier, card.certificate_pem, attestation, key, NOW, institution_code=HOSPITAL_B
        )
    assert rejected(excinfo) == "attestation_other_institution"
    guard = MemoryReplayGuard()
    verify_face_mode(
        verifier,
        card.certificate_pem,
        attestation,
        key,
        NOW,
        institution_code=HOSPITAL_A,
        replay_guard=guard,
    )
    with pytest.raises(CardRejected) as excinfo:
        verify_face_mode(
            verifier,
            card.certificate_pem,
            attestation,
            key,
            NOW,
            institution_code=HOSPITAL_A,
            replay_guard=guard,
        )
    assert rejected(excinfo) == "attestation_replayed"


def test_face_mode_still_checks_revocation(
    ca: CardAuthority, verifier: CertificateVerifier, card: Card, terminal: Terminal
) -> None:
    ca.revoke(card.serial, NOW)
    attestation = terminal.attest(card.certificate_pem, HOSPITAL_A, NOW)
    with pytest.raises(CardRejected) as excinfo:
        verify_face_mode(
            verifier,
            card.certificate_pem,
            attestation,
            terminal.public_key,
            NOW,
            institution_code=HOSPITAL_A,
        )
    assert rejected(excinfo) == "revoked"


# -- Certificate → person ---------------------------------------------------------------------


def test_certificate_code_is_stable_and_changes_with_renewal_and_key(
    ca: CardAuthority, verifier: CertificateVerifier, card: Card
) -> None:
    first = verifier.verify_certificate(card.certificate_pem, NOW)
    again = verifier.verify_certificate(card.certificate_pem, NOW + dt.timedelta(days=1))
    renewed = ca.issue_card(NOW)
    code = certificate_code(first, SERVICE_KEY)
    assert len(code) == 64 and int(code, 16) >= 0
    assert certificate_code(again, SERVICE_KEY) == code
    assert (
        certificate_code(verifier.verify_certificate(renewed.certificate_pem, NOW), SERVICE_KEY)
        != code
    )
    assert certificate_code(first, bytes(reversed(SERVICE_KEY))) != code
    with pytest.raises(ValueError):
        certificate_code(first, b"short")


def test_card_certificate_carries_no_personal_data(ca: CardAuthority) -> None:
    assert list(inspect.signature(ca.issue_card).parameters) == ["now", "valid_days"]
    subjects = set()
    for card in (ca.issue_card(NOW), ca.issue_card(NOW)):
        cert = x509.load_pem_x509_certificate(card.certificate_pem)
        subjects.add(cert.subject)
        assert [(a.oid, a.value) for a in cert.subject] == [
            (NameOID.COUNTRY_NAME, "JP"),
            (NameOID.COMMON_NAME, "JPKI-SIM user"),
        ]
        assert {e.oid for e in cert.extensions} == {
            ExtensionOID.BASIC_CONSTRAINTS,
            ExtensionOID.KEY_USAGE,
            ExtensionOID.SUBJECT_KEY_IDENTIFIER,
            ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        }
        assert card.code == f"{cert.serial_number:040x}" and len(card.code) == 40
        assert "PRIVATE" not in repr(card)
    assert len(subjects) == 1  # identical for everyone: nothing personal to tell them apart


# -- Files -------------------------------------------------------------------------------------


def test_save_and_load_round_trip(
    tmp_path: Path, ca: CardAuthority, book: ChallengeBook, card: Card, terminal: Terminal
) -> None:
    ca.revoke(12345, NOW, "superseded")
    ca.crl(NOW)
    ca.save(tmp_path / "ca")
    loaded_ca = CardAuthority.load(tmp_path / "ca")
    assert loaded_ca.certificate_pem == ca.certificate_pem
    assert loaded_ca.name == "JPKI-SIM test CA"
    assert loaded_ca.revocations == ca.revocations
    verifier = CertificateVerifier(ca.certificate_pem, LiveCrl(loaded_ca))
    assert verifier.refresh(NOW) == 2  # the CRL number carries on

    new_card = loaded_ca.issue_card(NOW)
    loaded_card = Card.load(new_card.save(tmp_path / "cards"))
    assert loaded_card.code == new_card.code
    assert loaded_card.certificate_pem == new_card.certificate_pem
    assert pin_check(verifier, book, loaded_card).serial == new_card.serial
    assert Card.load(card.save(tmp_path / "cards")).certificate_pem == card.certificate_pem

    loaded_terminal = Terminal.load(terminal.save(tmp_path / "terminals"))
    assert loaded_terminal.terminal_id == terminal.terminal_id
    assert loaded_terminal.public_key == terminal.public_key
    attestation = loaded_terminal.attest(loaded_card.certificate_pem, HOSPITAL_A, NOW)
    assert verify_face_mode(
        verifier,
        loaded_card.certificate_pem,
        attestation,
        terminal.public_key,
        NOW,
        institution_code=HOSPITAL_A,
    )


def test_private_key_files_are_mode_0600(
    tmp_path: Path, ca: CardAuthority, card: Card, terminal: Terminal
) -> None:
    folder = tmp_path / "ca"
    folder.mkdir()
    (folder / CA_KEY_FILE).write_bytes(b"old")
    (folder / CA_KEY_FILE).chmod(0o666)
    ca.save(folder)
    paths = [folder / CA_KEY_FILE, card.save(tmp_path / "cards"), terminal.save(tmp_path)]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert b"PRIVATE KEY" in path.read_bytes()
    assert not list(tmp_path.rglob("*.tmp"))
