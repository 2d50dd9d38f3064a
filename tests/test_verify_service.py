"""The eligibility service core: validity on the date of care, access rules, consent, audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from kokuho.ids import InsuredId
from kokuho.registry import import_changes, load_insurers
from kokuho.registry import tables as r
from kokuho.verify import ConsentCategory, NumberQuery, Validity
from kokuho.verify._access import (
    AccessDenied,
    Authenticator,
    Principal,
    issue_credential,
    load_institutions,
    revoke_credential,
)
from kokuho.verify._audit import verify_chain
from kokuho.verify._check import check_number, check_person, member_answer
from kokuho.verify._handles import PatientHandles
from kokuho.verify._service import EligibilityService
from kokuho.verify._tables import audit_log
from tests.feedfiles import (
    KOKUHO,
    KYOKAI,
    TARO,
    acquire,
    change,
    lose,
    write_changes,
    write_csv,
    write_insurers,
)
from tests.test_audit_loop import _run

CLINIC = "3710112347"
D = dt.date.fromisoformat
HANAKO = dict(
    TARO, name_kanji="讃岐 花子", name_kana="サヌキ ハナコ", birth_date="1972-03-03", sex="2"
)
TWIN_A = dict(TARO, name_kanji="讃岐 一郎", name_kana="サヌキ イチロウ", birth_date="2010-07-07")
TWIN_B = dict(TWIN_A, name_kanji="讃岐 二郎", name_kana="サヌキ ジロウ")


@pytest.fixture
def service(engine: sa.Engine, tmp_path: Path) -> Iterator[EligibilityService]:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    rows = [
        # Taro: 国保 until 2021-04-01, then 協会けんぽ (filed retroactively from 2021-04-01).
        acquire("K1", "2020-04-01", limit_category="A03"),
        change("K2", "2020-10-01", copay_percent="20"),
        lose("K3", "2021-04-01"),
        # Hanako: 国保, lost 2021-01-01 with nothing after.
        acquire("K4", "2020-04-01", number="2001", person=HANAKO),
        lose("K5", "2021-01-01", number="2001", reason="99"),
        # Twins on one household number, 枝番 02 and 03.
        acquire("K6", "2020-04-01", number="3001", branch="02", person=TWIN_A, relationship="2"),
        acquire("K7", "2020-04-01", number="3001", branch="03", person=TWIN_B, relationship="2"),
    ]
    import_changes(engine, write_changes(tmp_path / "k.csv", rows))
    import_changes(
        engine,
        write_changes(
            tmp_path / "s.csv", [acquire("S1", "2021-04-01", insurer=KYOKAI, number="77")]
        ),
    )
    write_csv(
        tmp_path / "inst.csv",
        ["institution_code", "name", "status", "online_since"],
        [
            {"institution_code": CLINIC, "name": "讃岐クリニック", "status": "active",
             "online_since": "2021-10-20"},
            {"institution_code": "3740112341", "name": "閉院薬局", "status": "closed"},
        ],
    )  # fmt: skip
    load_institutions(engine, tmp_path / "inst.csv")
    svc = EligibilityService(engine, b"k" * 32)
    yield svc
    svc.close()


def clinic(engine: sa.Engine) -> Principal:
    _, token = issue_credential(engine, label="受付", institution=CLINIC)
    return Authenticator(engine).authenticate(token)


def query(number: str = "1001", day: str = "2020-12-01", branch: str | None = "01",
          birth: str = "1970-05-15", **extra: bool) -> NumberQuery:  # fmt: skip
    return NumberQuery(KOKUHO, "12", number, branch, D(birth), D(day), **extra)


@pytest.mark.parametrize(
    ("q", "validity"),
    [
        (query(), Validity.VALID),
        (query(day="2021-03-31"), Validity.VALID),  # the last covered day
        (query(day="2021-04-01"), Validity.REPLACED),  # 喪失日 itself: covered elsewhere
        (query(number="2001", birth="1972-03-03", day="2021-02-01"), Validity.INVALID),
        # 協会けんぽ 77 begins 2021-04-01: on 2020-12-01 it is 無効, not 無効（新しい資格あり）,
        # though 国保 was in force that day (the card shown is the newer one, not replaced).
        (NumberQuery(KYOKAI, "12", "77", "01", D("1970-05-15"), D("2020-12-01")), Validity.INVALID),
        (NumberQuery(KYOKAI, "12", "77", "01", D("1970-05-15"), D("2021-04-01")), Validity.VALID),
        (query(number="9999"), Validity.NOT_FOUND),
        (query(birth="1970-05-16"), Validity.NOT_FOUND),  # right number, wrong birth date
        (query(number="3001", birth="2010-07-07", branch=None), Validity.MULTIPLE),
        (query(number="3001", birth="2010-07-07", branch="03"), Validity.VALID),
    ],
)
def test_validity_on_the_date_of_care(
    service: EligibilityService, engine: sa.Engine, q: NumberQuery, validity: Validity
) -> None:
    result = service.check_number(clinic(engine), q, "care")
    assert result.answer.validity == validity
    if validity == Validity.NOT_FOUND:
        assert result.answer.results == [] and result.patient is None
    if validity == Validity.MULTIPLE:
        assert {c.name_kanji for c in result.answer.results} == {"讃岐 一郎", "讃岐 二郎"}
        assert result.patient is None


def test_terms_in_force_on_the_day_and_limit_only_with_consent(
    service: EligibilityService, engine: sa.Engine
) -> None:
    who = clinic(engine)
    before = service.check_number(who, query(day="2020-09-30"), "care").answer.results[0]
    after = service.check_number(who, query(day="2020-10-01"), "care").answer.results[0]
    assert (before.copay_percent, after.copay_percent) == (30, 20)
    assert before.limit_category is None
    consented = service.check_number(who, query(limit_consent=True), "care").answer.results[0]
    assert consented.limit_category == "A03"


def test_refusals_are_logged(service: EligibilityService, engine: sa.Engine) -> None:
    who = clinic(engine)
    with pytest.raises(AccessDenied) as denied:
        service.check_number(who, query(), "marketing")
    assert denied.value.reason == "purpose_not_allowed"
    with engine.connect() as connection:
        outcomes = connection.scalars(sa.select(audit_log.c.outcome)).all()
    assert outcomes == ["refused:purpose_not_allowed"]


def test_credentials_unknown_revoked_and_closed_institution(
    service: EligibilityService, engine: sa.Engine
) -> None:
    auth = Authenticator(engine, cache_seconds=0)
    credential, token = issue_credential(engine, label="受付", institution=CLINIC)
    assert auth.authenticate(token).institution_code == CLINIC
    for bad, reason in [(None, "no_credential"), ("nonsense", "malformed_credential"),
                        (token[:-1] + "x", "unknown_credential")]:  # fmt: skip
        with pytest.raises(AccessDenied) as denied:
            auth.authenticate(bad)
        assert denied.value.reason == reason
    assert revoke_credential(engine, credential)
    with pytest.raises(AccessDenied, match="revoked"):
        auth.authenticate(token)
    _, closed = issue_credential(engine, label="x", institution="3740112341")
    with pytest.raises(AccessDenied, match="closed"):
        auth.authenticate(closed)


def test_revocation_reaches_a_cached_authenticator_within_its_window(
    engine: sa.Engine, service: EligibilityService
) -> None:
    auth = Authenticator(engine, cache_seconds=0.2)
    credential, token = issue_credential(engine, label="受付", institution=CLINIC)
    auth.authenticate(token)
    revoke_credential(engine, credential)
    time.sleep(0.25)
    with pytest.raises(AccessDenied):
        auth.authenticate(token)


def test_insurer_staff_see_only_their_members(
    service: EligibilityService, engine: sa.Engine
) -> None:
    _, token = issue_credential(engine, label="国保係", insurer=KOKUHO)
    staff = Authenticator(engine).authenticate(token)
    own = service.insurer_member(staff, InsuredId(KOKUHO, "12", "1001", "01"), D("2020-12-01"))
    assert own.validity == Validity.VALID
    with pytest.raises(AccessDenied) as denied:
        service.insurer_member(staff, InsuredId(KYOKAI, "12", "77", "01"), D("2021-05-01"))
    assert denied.value.reason == "other_insurer"
    with pytest.raises(AccessDenied) as denied:
        service.check_number(staff, query(), "care")
    assert denied.value.reason == "not_an_institution"


def test_every_answer_is_audited_and_the_chain_holds(
    service: EligibilityService, engine: sa.Engine
) -> None:
    who = clinic(engine)
    seqs = [service.check_number(who, query(day=d), "care").audit_seq
            for d in ("2020-05-01", "2020-06-01", "2021-06-01")]  # fmt: skip
    assert seqs == [1, 2, 3]
    with engine.connect() as connection:
        rows = connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
    assert [r.outcome for r in rows] == ["1", "1", "3"]
    assert all(r.institution_code == CLINIC and r.person_id is not None for r in rows)
    assert verify_chain(engine).ok


def test_bulk_results_equal_single_checks(service: EligibilityService, engine: sa.Engine) -> None:
    who = clinic(engine)
    queries = [query(), query(day="2021-04-01"), query(number="9999"),
               query(number="3001", birth="2010-07-07", branch=None)]  # fmt: skip
    reception = service.submit_bulk(who, queries)
    deadline = time.monotonic() + 10
    while (status := service.bulk_status(who, reception)).status != "complete":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    singles = [service.check_number(who, q, "precheck").answer for q in queries]
    assert status.answers == singles
    other = Principal("kc_x", "institution", "3740112341", None)
    with pytest.raises(LookupError):
        service.bulk_status(other, reception)


def test_reference_number_and_consented_data(
    service: EligibilityService, engine: sa.Engine
) -> None:
    who = clinic(engine)
    first = service.check_number(who, query(), "care")
    assert first.patient is not None
    service.register_reference(who, first.patient, "K-000123")
    again = service.check_number(who, query(), "care").answer.results[0]
    assert again.reference_number == "K-000123"
    with pytest.raises(AccessDenied) as denied:
        service.consented_data(who, first.patient, ConsentCategory.MEDICATION, D("2020-12-01"))
    assert denied.value.reason == "no_consent"
    person = service.person_for(who, first.patient)
    # A consent given on a day that has passed, for one day, has ended: a read dated
    # within it is refused (a consent is read while it is in force, on that day and today).
    past = dt.date.today() - dt.timedelta(days=30)
    service.record_consent(CLINIC, person, [ConsentCategory.MEDICATION], past, 1)
    with pytest.raises(AccessDenied):
        service.consented_data(who, first.patient, ConsentCategory.MEDICATION, past)
    # Given today for one day: the data as of any day up to today may be read.
    today = dt.date.today()
    service.record_consent(CLINIC, person, [ConsentCategory.MEDICATION], today, 1)

    class Drugs:
        def records(self, person_id: int, day: dt.date) -> list[dict[str, str]]:
            return [{"drug": "アムロジピン", "person": str(person_id)}]

    assert service.consented_data(who, first.patient, ConsentCategory.MEDICATION,
                                  D("2020-12-01")) is None  # fmt: skip
    service.providers[ConsentCategory.MEDICATION] = Drugs()
    records = service.consented_data(
        who, first.patient, ConsentCategory.MEDICATION, D("2020-12-01")
    )
    assert records == [{"drug": "アムロジピン", "person": str(person)}]
    assert service.consented_data(who, first.patient, ConsentCategory.MEDICATION, today)
    # Consent for one day ends: the next day is refused again.
    with pytest.raises(AccessDenied):
        service.consented_data(
            who, first.patient, ConsentCategory.MEDICATION, today + dt.timedelta(days=1)
        )
    # A handle given to one institution is useless to another.
    other = Principal("kc_y", "institution", "3740112341", None)
    with pytest.raises(AccessDenied, match="another institution"):
        service.person_for(other, first.patient)


def test_sqlite_reads_answer_exactly_as_sqlalchemy(
    service: EligibilityService, engine: sa.Engine
) -> None:
    """On a SQLite file the check reads through plain sqlite3 connections (_sqlite_reads):
    every kind of answer, with consents, limits and a 照会番号, equals SQLAlchemy's."""
    reads = service._sqlite
    assert (reads is not None) == (engine.dialect.name == "sqlite")
    if reads is None:
        return
    who = clinic(engine)
    handle = service.check_number(who, query(), "care").patient
    assert handle is not None
    service.register_reference(who, handle, "K-000123")
    person = service.person_for(who, handle)
    service.record_consent(CLINIC, person, [ConsentCategory.LIMIT, ConsentCategory.CHECKUP],
                           D("2020-12-01"), 5)  # fmt: skip
    # A category given twice (the latest end counts, as _CONSENTS's max() takes it; the fast
    # path folds the consents into the coverage statement) and another institution's.
    service.record_consent(CLINIC, person, [ConsentCategory.LIMIT], D("2020-12-02"), 90)
    service.record_consent("3740112341", person, [ConsentCategory.MEDICATION], D("2020-12-01"), 30)
    queries = [
        query(), query(day="2020-09-30"), query(day="2020-12-03"), query(day="2021-03-31"),
        query(day="2021-04-01"), query(day="2019-01-01"), query(limit_consent=True),
        query(number="2001", birth="1972-03-03", day="2021-02-01"), query(number="9999"),
        query(birth="1970-05-16"), query(number="3001", birth="2010-07-07", branch=None),
        query(number="3001", birth="2010-07-07", branch="03"), query(branch=None),
    ]  # fmt: skip
    with engine.connect() as connection:
        for institution in (CLINIC, "3740112341"):
            for q in queries:
                expected = check_number(connection, q, institution)
                assert check_number(reads, q, institution) == expected, q
            for day in (D("2020-12-01"), D("2021-02-01"), D("2021-06-01"), D("2019-01-01")):
                for pid in range(1, 6):
                    expected_person = check_person(connection, pid, day, institution)
                    assert check_person(reads, pid, day, institution) == expected_person
        insured = InsuredId(KOKUHO, "12", "1001", "01")
        day = D("2020-12-01")
        assert member_answer(reads, insured, day) == member_answer(connection, insured, day)
    assert service.check_number(who, query(), "care").answer.results[0].limit_category == "A03"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_reads_never_write(service: EligibilityService, engine: sa.Engine) -> None:
    assert service._sqlite is not None
    with engine.connect() as connection:
        before = connection.scalar(sa.select(sa.func.count()).select_from(r.coverages))
    assert before
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        service._sqlite.all(sa.delete(r.coverages), {})
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(r.coverages)) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_number_check_on_the_loop_takes_no_pooled_connection(
    service: EligibilityService, engine: sa.Engine
) -> None:
    """On a SQLite file, the look-up and the audit commit of a check on the event loop use
    their own sqlite3 connections: SQLAlchemy's pool is not involved."""
    who = clinic(engine)
    checkouts: list[object] = []
    sa.event.listen(engine, "checkout", lambda *args: checkouts.append(args))
    # In a thread of its own: a loop another test left set in this thread cannot interfere.
    result = _run(lambda: service.check_number_async(who, query(), "care"))
    assert result.answer.validity == Validity.VALID and result.audit_seq == 1
    assert checkouts == []


def test_patient_handles_are_one_aes_block_keyed_as_before() -> None:
    """Handles reuse a keyed MAC and one encryption context per thread: the handle is still
    AES-ECB(person, day, HMAC tag) under the derived key, from any thread, and resolves."""
    key = hashlib.sha256(b"patient-handle|" + b"k" * 32).digest()
    handles = PatientHandles(b"k" * 32)
    today = D("2026-12-06")

    def expected(institution: str, person_id: int) -> str:
        day = today.toordinal()
        tag = hmac.new(key[16:], f"{institution}|{person_id}|{day}".encode(), hashlib.sha256)
        block = person_id.to_bytes(4, "big") + day.to_bytes(4, "big") + tag.digest()[:8]
        encryptor = Cipher(algorithms.AES(key[:16]), modes.ECB()).encryptor()
        return (encryptor.update(block) + encryptor.finalize()).hex()

    cases = [(CLINIC, n) for n in range(1, 200)] + [("3740112341", 7)]
    with ThreadPoolExecutor(4) as pool:
        issued = list(pool.map(lambda case: handles.issue(*case, today), cases * 3))
    assert issued == [expected(*case) for case in cases * 3]
    assert handles.resolve(CLINIC, issued[5], today) == 6
    with pytest.raises(AccessDenied):
        handles.resolve("3740112341", issued[5], today)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_reads_close_the_connections_of_threads_that_are_gone(
    service: EligibilityService, engine: sa.Engine
) -> None:
    assert service._sqlite is not None
    reads = service._sqlite
    for _ in range(5):  # as a thread pool retiring idle threads and starting new ones
        thread = threading.Thread(target=check_person, args=(reads, 1, D("2020-12-01"), CLINIC))
        thread.start()
        thread.join()
    check_person(reads, 1, D("2020-12-01"), CLINIC)
    assert len(reads._connections) <= 2


def test_a_purpose_that_looks_like_a_my_number_is_not_kept(
    service: EligibilityService, engine: sa.Engine
) -> None:
    """The purpose is the caller's text: a My Number sent there (a field mix-up) is neither
    answered back nor written into the append-only audit log, where it could never be erased."""
    number = "123456789018"  # synthetic, valid 検査用数字
    with pytest.raises(AccessDenied) as denied:
        service.check_number(clinic(engine), query(), number)
    assert denied.value.reason == "purpose_not_allowed"
    assert number not in str(denied.value) and "********9018" in str(denied.value)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(audit_log)).one()
    assert number not in repr(tuple(stored))


def test_a_my_number_typed_as_the_insured_number_is_not_kept(
    service: EligibilityService, engine: sa.Engine
) -> None:
    """A My Number typed into the 番号 field (the patient's other card) is a 該当資格なし check
    like any unknown number; its audit record names what was asked, but never the My Number
    in clear (found by the faces probe: ``detail.asked.number`` held it, on the append-only
    log), on the loop as in a thread, in a bulk check too."""
    number = "123456789018"  # synthetic, valid 検査用数字
    who = clinic(engine)
    assert service.check_number(who, query(number=number), "care").answer.validity == 4
    result = _run(lambda: service.check_number_async(who, query(number=number), "care"))
    assert result.answer.validity == 4
    reception = service.submit_bulk(who, [query(number=number)])
    for _ in range(100):
        if service.bulk_status(who, reception).status == "complete":
            break
        time.sleep(0.05)
    with engine.connect() as connection:
        details = connection.scalars(sa.select(audit_log.c.detail)).all()
    asked = [d for d in details if "********9018" in d]
    assert len(asked) == 3, details
    assert not [d for d in details if number in d]


def test_fetching_bulk_results_is_audited(service: EligibilityService, engine: sa.Engine) -> None:
    """The results of a 一括照会 are persons' data each time they are fetched: every fetch that
    returns them is a record, and the checks' own records name the 受付番号 it can be traced by
    to the persons read."""
    who = clinic(engine)
    reception = service.submit_bulk(who, [query(), query(number="9999")])
    deadline = time.monotonic() + 10
    while service.bulk_status(who, reception).status != "complete":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    service.bulk_status(who, reception)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()
    checks = [r for r in rows if r.action == "check_number"]
    fetches = [r for r in rows if r.action == "bulk_fetch"]
    assert [json.loads(r.detail)["asked"]["reception"] for r in checks] == [reception] * 2
    assert any(r.person_id is not None for r in checks)
    assert len(fetches) == 2  # the fetch that found it complete, and the one after
    for fetch in fetches:
        assert (fetch.outcome, fetch.purpose, fetch.institution_code) == ("ok", "precheck", CLINIC)
        assert json.loads(fetch.detail) == {"reception": reception, "results": 2}
    assert verify_chain(engine).ok


def test_a_clinic_asking_for_a_member_as_insurer_staff_is_audited(
    service: EligibilityService, engine: sa.Engine
) -> None:
    """告知要求制限: refused requests are recorded too, this one as every other refusal."""
    who = clinic(engine)
    with pytest.raises(AccessDenied) as denied:
        service.insurer_member(who, InsuredId(KOKUHO, "12", "1001", "01"), D("2021-05-01"))
    assert denied.value.reason == "not_insurer_staff"
    with engine.connect() as connection:
        row = connection.execute(sa.select(audit_log)).one()
    assert (row.action, row.outcome, row.purpose) == (
        "read_member", "refused:not_insurer_staff", "insurer",
    )  # fmt: skip
    assert row.actor == who.credential_id
