"""Checks by My Number card: PIN and face modes, and every way a card must be refused."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.registry import import_changes, load_insurers
from kokuho.verify import (
    AccessDenied,
    Authenticator,
    CardDesk,
    ConsentCategory,
    EligibilityService,
    Principal,
    Validity,
    issue_cards,
    issue_credential,
    load_institutions,
    open_authority,
    register_terminal,
    revoke_card,
)
from kokuho.verify._pki import certificate_code, signed_message
from kokuho.verify._pki_sim import Card, Terminal
from kokuho.verify._tables import audit_log, card_certificates
from tests.cardholders import link_my_number, write_institutions
from tests.feedfiles import KYOKAI, acquire, write_changes, write_insurers

CLINIC = "3710112347"
PHARMACY = "3740112341"
KEY = b"s" * 32
TODAY = dt.date.today()
NOW = dt.datetime.now(dt.UTC)


def fresh() -> dt.datetime:
    """An attestation's time: the service checks it against its own clock (2-minute window),
    so it is taken when the attestation is made, not when the module was imported."""
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def desk(engine: sa.Engine, tmp_path: Path) -> Iterator[tuple[EligibilityService, Path]]:
    load_insurers(engine, write_insurers(tmp_path / "i.csv"))
    # Taro (国保, open) has a verified My Number link; Jiro has none.
    jiro = {
        "name_kanji": "讃岐 次郎",
        "name_kana": "サヌキ ジロウ",
        "birth_date": "1980-01-01",
        "sex": "1",
        "address": "香川県高松市番町1-1-1",
    }
    rows = [acquire("K1", "2020-04-01"), acquire("K2", "2020-04-01", number="2002", person=jiro)]
    import_changes(engine, write_changes(tmp_path / "c.csv", rows))
    link_my_number(engine, "1001", NOW)
    institutions = {CLINIC: "讃岐クリニック", PHARMACY: "讃岐薬局"}
    load_institutions(engine, write_institutions(tmp_path / "inst.csv", institutions))
    # The authority predates the cards, so an expired card can be made for the tests.
    open_authority(tmp_path / "ca", NOW - dt.timedelta(days=800))
    issued = issue_cards(engine, KEY, tmp_path / "ca", tmp_path / "cards", NOW)
    assert issued.issued == 1  # only the linked person gets a card
    service = EligibilityService(engine, KEY)
    service.cards = CardDesk(engine, KEY, tmp_path / "ca")
    yield service, tmp_path
    service.close()


def who(engine: sa.Engine, institution: str = CLINIC) -> Principal:
    _, token = issue_credential(engine, label="受付", institution=institution)
    return Authenticator(engine).authenticate(token)


def taro_card(folder: Path) -> Card:
    [path] = [p for p in (folder / "cards").glob("*.pem")]
    return Card.load(path)


def pin(service: EligibilityService, caller: Principal, card: Card, **extra: object) -> object:
    challenge = service.card_challenge(caller)
    signature = card.sign(signed_message(challenge.nonce, caller.institution_code or ""))
    return service.check_card(
        caller,
        certificate_pem=card.certificate_pem,
        day=TODAY,
        purpose="care",
        challenge_id=challenge.id,
        signature=signature,
        **extra,
    )  # type: ignore[arg-type]


def refused(engine: sa.Engine, call: object) -> str:
    with pytest.raises(AccessDenied) as denied:
        call()  # type: ignore[operator]
    with engine.connect() as connection:
        last = connection.scalar(sa.select(audit_log.c.outcome).order_by(audit_log.c.seq.desc()))
    assert last == f"refused:{denied.value.reason}"
    return denied.value.reason


def test_pin_mode_answers_for_the_card_holder(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    result = pin(service, who(engine), taro_card(folder), consent_to=[ConsentCategory.MEDICATION])
    assert result.answer.validity == Validity.VALID  # type: ignore[attr-defined]
    [coverage] = result.answer.results  # type: ignore[attr-defined]
    assert coverage.name_kanji == "讃岐 太郎"
    assert ConsentCategory.MEDICATION in result.answer.consents  # type: ignore[attr-defined]


def test_replayed_challenge_forged_signature_and_other_institution(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    clinic, card = who(engine), taro_card(folder)
    challenge = service.card_challenge(clinic)
    signature = card.sign(signed_message(challenge.nonce, CLINIC))

    def check(caller: Principal = clinic, sig: bytes = signature) -> object:
        return service.check_card(
            caller,
            certificate_pem=card.certificate_pem,
            day=TODAY,
            purpose="care",
            challenge_id=challenge.id,
            signature=sig,
        )

    # Another institution cannot use this clinic's challenge (and it is not burnt by that).
    assert (
        refused(engine, lambda: check(who(engine, PHARMACY))) == "card_challenge_other_institution"
    )
    check()
    assert refused(engine, check) == "card_challenge_replayed"
    stranger = open_authority(folder / "ca", NOW).issue_card(NOW)
    challenge = service.card_challenge(clinic)
    forged = stranger.sign(signed_message(challenge.nonce, CLINIC))
    assert refused(engine, lambda: check(sig=forged)) == "card_bad_signature"


def test_revoked_and_expired_cards(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    clinic, card = who(engine), taro_card(folder)
    revoke_card(folder / "ca", card.serial, NOW)
    assert service.cards is not None
    service.cards.verifier.refresh(NOW)
    assert refused(engine, lambda: pin(service, clinic, card)) == "card_revoked"
    authority = open_authority(folder / "ca", NOW)
    old = authority.issue_card(NOW - dt.timedelta(days=400), valid_days=365)
    assert refused(engine, lambda: pin(service, clinic, old)) == "card_expired"


def test_foreign_ca_is_untrusted(
    desk: tuple[EligibilityService, Path], engine: sa.Engine, tmp_path: Path
) -> None:
    service, _ = desk
    from kokuho.verify._pki_sim import CardAuthority

    other = CardAuthority.create("偽の認証局", NOW).issue_card(NOW)
    assert refused(engine, lambda: pin(service, who(engine), other)) == "card_untrusted_issuer"


def test_face_mode_needs_this_institutions_reader(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    clinic, card = who(engine), taro_card(folder)
    reader, elsewhere = Terminal.create("reader-1"), Terminal.create("reader-9")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)
    register_terminal(engine, PHARMACY, elsewhere.terminal_id, elsewhere.public_key)

    def face(terminal: Terminal, attestation: object = None) -> object:
        attestation = attestation or terminal.attest(card.certificate_pem, CLINIC, fresh())
        return service.check_card(
            clinic,
            certificate_pem=card.certificate_pem,
            day=TODAY,
            purpose="care",
            attestation=attestation,
        )  # type: ignore[arg-type]

    attestation = reader.attest(card.certificate_pem, CLINIC, fresh())
    assert face(reader, attestation).answer.validity == Validity.VALID  # type: ignore[attr-defined]
    assert refused(engine, lambda: face(reader, attestation)) == "card_attestation_replayed"
    assert refused(engine, lambda: face(elsewhere)) == "card_bad_attestation"


def test_genuine_card_without_registration_is_not_found(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    unregistered = open_authority(folder / "ca", NOW).issue_card(NOW)
    result = pin(service, who(engine), unregistered)
    assert result.answer.validity == Validity.NOT_FOUND  # type: ignore[attr-defined]


def test_two_coverages_in_force_answer_multiple(
    desk: tuple[EligibilityService, Path], engine: sa.Engine, tmp_path: Path
) -> None:
    service, folder = desk
    import_changes(
        engine,
        write_changes(
            tmp_path / "s.csv", [acquire("S1", "2021-04-01", insurer=KYOKAI, number="77")]
        ),
    )
    result = pin(service, who(engine), taro_card(folder))
    assert result.answer.validity == Validity.MULTIPLE  # type: ignore[attr-defined]
    assert len(result.answer.results) == 2  # type: ignore[attr-defined]


def test_the_card_code_is_not_a_my_number(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    _, folder = desk
    with engine.connect() as connection:
        [code] = connection.scalars(sa.select(card_certificates.c.code)).all()
    assert len(code) == 64 and not code.isdigit()
    assert certificate_code  # the code is an HMAC under the service key (see _pki)


def test_card_holder_with_nothing_in_force_on_the_day_is_invalid(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    service, folder = desk
    clinic, card = who(engine), taro_card(folder)
    challenge = service.card_challenge(clinic)
    signature = card.sign(signed_message(challenge.nonce, CLINIC))
    before = service.check_card(
        clinic,
        certificate_pem=card.certificate_pem,
        day=dt.date(2019, 12, 1),
        purpose="care",
        challenge_id=challenge.id,
        signature=signature,
    )
    assert before.answer.validity == Validity.INVALID
    assert before.answer.results[0].acquired_on == dt.date(2020, 4, 1)


def test_card_writes_without_the_primary_are_refused_after_reads_elsewhere(
    desk: tuple[EligibilityService, Path], engine: sa.Engine
) -> None:
    """Reader keys and certificate codes come through the read router; the challenge and the
    used attestation need the primary. Here the desk's primary is a port nobody listens on
    and its router reads the live database: the reads succeed, the writes are refused as
    ``primary_unavailable`` (not an unhandled error), and each refusal is audited."""
    from kokuho.store import ReadRouter
    from tests.pgpair import free_port

    service, folder = desk
    gone = sa.create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone",
        connect_args={"connect_timeout": 2},
    )
    live = ReadRouter(engine)
    service.cards = CardDesk(gone, KEY, folder / "ca", reads=live)
    clinic, card = who(engine), taro_card(folder)
    reader = Terminal.create("reader-1")
    register_terminal(engine, CLINIC, reader.terminal_id, reader.public_key)
    assert refused(engine, lambda: service.card_challenge(clinic)) == "primary_unavailable"
    attestation = reader.attest(card.certificate_pem, CLINIC, fresh())
    face = lambda: service.check_card(  # noqa: E731
        clinic, certificate_pem=card.certificate_pem, day=TODAY, purpose="care",
        attestation=attestation,
    )  # fmt: skip
    assert refused(engine, face) == "primary_unavailable"
    # The reader was found (read from the live side): an unknown reader is refused before
    # any write, as always.
    stranger = Terminal.create("reader-9")
    other = stranger.attest(card.certificate_pem, CLINIC, fresh())
    assert refused(engine, lambda: service.check_card(
        clinic, certificate_pem=card.certificate_pem, day=TODAY, purpose="care",
        attestation=other,
    )) == "card_bad_attestation"  # fmt: skip
    gone.dispose()
