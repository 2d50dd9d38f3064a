"""The provision workflow: every state transition allowed and refused, bad input named and
changing nothing, extracts of exactly the approved items under the provision's own key, the
一体的実施 request (every member of the 広域連合, 障害認定 under 75 too), the deletion and the
公表物確認."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.cli._provision import ServiceAudit
from kokuho.provision import (
    Catalogue,
    IdentifierFoundError,
    MedicalClaim,
    MedicalPerson,
    ProvisionError,
    Sources,
    UnapprovedItem,
    UnknownProvision,
    add_reviewer,
    apply,
    check_file,
    confirm_deletion,
    extract,
    id2,
    list_provisions,
    load_sources,
    provision_detail,
    provision_steps,
    provisions,
    record_release_check,
    rekey,
    release_rules,
    review,
)
from kokuho.registry import tables
from kokuho.verify import tables as service_tables
from tests.provisioncases import (
    CLAIMS,
    INSURER,
    KOKI,
    ON,
    PEOPLE,
    SOURCE,
    TERM,
    D,
    all_sources,
    application,
    applied,
    approved,
    build_register,
    items,
)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def _actions(engine: sa.Engine) -> list[tuple[str, str]]:
    a = service_tables.audit_log.c
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(a.action, a.detail).where(a.action.like("provision%")).order_by(a.seq)
        ).all()
    return [(row.action, row.detail) for row in rows]


def _counts(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        return (
            connection.scalar(sa.select(sa.func.count()).select_from(provisions)) or 0,
            connection.scalar(sa.select(sa.func.count()).select_from(provision_steps)) or 0,
        )


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# --- applications -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"requested": {"drugs": ("atc",)}}, "unknown table 'drugs'"),
        ({"requested": {"persons": ("name_kana",)}}, "unknown item persons.name_kana"),
        ({"requested": {"persons": ()}}, "table 'persons' with no item"),
        ({"requested": {}}, "no table asked for"),
        ({"place": "Paris, France"}, "names no 都道府県; it must be in Japan"),
        ({"users": ()}, "users: name every user"),
        ({"purpose": "  "}, "purpose: must not be empty"),
        ({"period_from": D(2024, 4, 1)}, "period: the start is after the end"),
        ({"basis": "abroad"}, "basis 'abroad': one of"),
    ],
)
def test_a_bad_application_is_refused_by_name_and_records_nothing(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProvisionError, match=message):
        apply(engine, cat, application(**changes), on=ON, audit=audit)
    assert _counts(engine) == (0, 0)
    assert _actions(engine) == []


def test_a_statutory_request_may_ask_only_for_its_basis_tables(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit
) -> None:
    # 都道府県 ← 市町村 covers 医療 claims, not 介護 (data/provision/catalogue.yaml).
    bad = application("prefecture_request", requested={"care_services": ("service_units",)})
    with pytest.raises(ProvisionError, match="'care_services' is not in the basis"):
        apply(engine, cat, bad, on=ON, audit=audit)
    build_register(engine)
    good = application("prefecture_request", requested={"claims": ("service_month", "points")},
                       provider=INSURER)  # fmt: skip
    pid = apply(engine, cat, good, on=ON, audit=audit)
    assert provision_detail(engine, pid).provider == INSURER
    [listed] = list_provisions(engine, statutory=True)
    assert (listed.provision_id, listed.state, listed.basis) == (
        pid,
        "applied",
        "prefecture_request",
    )
    assert list_provisions(engine, statutory=False) == []


# --- review ---------------------------------------------------------------------------------


def test_only_a_reviewer_who_is_not_the_applicant_or_a_user_may_review(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit
) -> None:
    pid = apply(engine, cat, application(), on=ON, audit=audit)
    args: dict[str, Any] = {"decision": "approve", "minutes": "議事", "on": ON,
                            "term_until": TERM, "audit": audit}  # fmt: skip
    with pytest.raises(ProvisionError, match="not a reviewer: only a reviewer may review"):
        review(engine, cat, pid, reviewer="委員 丙", **args)
    for name in ("研究者 甲", "研究者 乙", "委員 丙"):
        add_reviewer(engine, name, on=ON, actor="事務局", audit=audit)
    with pytest.raises(ProvisionError, match="'研究者 甲' applied for or uses"):
        review(engine, cat, pid, reviewer="研究者 甲", **args)
    with pytest.raises(ProvisionError, match="'研究者 乙' applied for or uses"):
        review(engine, cat, pid, reviewer="研究者 乙", **args)
    assert provision_detail(engine, pid).state == "applied"
    done = review(engine, cat, pid, reviewer="委員 丙", **args)
    assert (done.state, done.term_until) == ("approved", TERM)
    assert done.approved == {  # every requested item, sorted
        "care_certifications": ("care_level",),
        "care_services": ("service_month", "service_units"),
        "persons": ("age_band", "municipality", "sex"),
    }
    with pytest.raises(ProvisionError, match="is approved: it cannot be reviewed now"):
        review(engine, cat, pid, reviewer="委員 丙", **args)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"term_until": None}, "an approval sets the data-use term"),
        ({"term_until": ON}, "term: must end after 2024-05-01"),
        # 730 days from 2024-05-01 is 2026-05-01 (2024 is a leap year: 366 + 365 - 1 … = +730).
        ({"term_until": D(2026, 5, 2)}, "and by 2026-05-01"),
        ({"decision": "conditions"}, "an approval with conditions names them"),
        ({"decision": "maybe"}, "decision 'maybe'"),
        ({"minutes": ""}, "minutes"),
        ({"approved": {"persons": ("birth_month",)}}, "persons.birth_month was not requested"),
        ({"approved": {"persons": ("address",)}}, "unknown item persons.address"),
    ],
)
def test_a_bad_review_is_refused_and_changes_nothing(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, changes: dict[str, Any], message: str
) -> None:
    pid = applied(engine, cat, audit)
    before = (_counts(engine), len(_actions(engine)))
    args: dict[str, Any] = {"reviewer": "委員 丙", "decision": "approve", "minutes": "議事",
                            "on": ON, "term_until": TERM, "audit": audit, **changes}  # fmt: skip
    with pytest.raises(ProvisionError, match=message):
        review(engine, cat, pid, **args)
    assert (_counts(engine), len(_actions(engine))) == before
    assert provision_detail(engine, pid).state == "applied"


def test_a_rejected_application_is_final_and_cannot_be_extracted(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    sources = all_sources(engine)
    pid = applied(engine, cat, audit)
    done = review(engine, cat, pid, reviewer="委員 丙", decision="reject",
                  minutes="公益性が示されていない", on=ON, audit=audit)  # fmt: skip
    assert (done.state, done.approved, done.term_until) == ("rejected", None, None)
    with pytest.raises(ProvisionError, match="is rejected: it cannot be extracted now"):
        extract(engine, cat, pid, sources, out=tmp_path / "out", by="事務局", on=ON, audit=audit,
                source_key=SOURCE, key_folder=keys)  # fmt: skip
    with pytest.raises(ProvisionError, match="is rejected: it cannot be deleted now"):
        confirm_deletion(engine, pid, by="研究者 甲", method="x", on=ON, audit=audit,
                         key_folder=keys)  # fmt: skip
    assert not (tmp_path / "out").exists() and not keys.exists()
    assert provision_detail(engine, pid).extracts == 0


def test_an_unknown_provision_is_named(engine: sa.Engine) -> None:
    with pytest.raises(UnknownProvision, match="P000009: no such provision"):
        provision_detail(engine, "P000009")
    with pytest.raises(UnknownProvision, match="an id is P and six digits"):
        provision_detail(engine, "../etc")


# --- extracts -----------------------------------------------------------------------------


def test_the_extract_holds_exactly_the_approved_items_under_the_provisions_ids(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    sources = all_sources(engine)
    pid = applied(engine, cat, audit)
    # The committee approves age and 区分 but not 市区町村, nor the 介護 services.
    review(engine, cat, pid, reviewer="委員 丙", decision="conditions", minutes="条件付承認",
           conditions="市区町村別の公表をしないこと", on=ON, term_until=TERM,
           approved=items(persons=("age_band", "sex"), care_certifications=("care_level",)),
           audit=audit)  # fmt: skip
    out = tmp_path / "out"
    with pytest.raises(UnapprovedItem, match=f"{pid}: persons.municipality was not approved"):
        extract(engine, cat, pid, sources, out=out, by="事務局", on=ON, audit=audit,
                source_key=SOURCE, key_folder=keys,
                items=items(persons=("municipality",)))  # fmt: skip
    assert not out.exists() and provision_detail(engine, pid).state == "conditional"
    done = extract(engine, cat, pid, sources, out=out, by="事務局", on=ON, audit=audit,
                   source_key=SOURCE, key_folder=keys)  # fmt: skip
    assert done.folder == out / pid / "extract-1"
    assert sorted(p.name for p in done.folder.iterdir()) == ["care_certifications.csv",
                                                             "persons.csv"]  # fmt: skip
    persons = _read(done.folder / "persons.csv")
    certs = _read(done.folder / "care_certifications.csv")
    assert list(persons[0]) == ["pid", "age_band", "sex"]
    assert list(certs[0]) == ["pid", "care_level"]
    # Ages on 2024-03-31, worked by hand in tests/provisioncases.py: 80, 75, 74, 44.
    assert sorted((r["age_band"], r["sex"]) for r in persons) == [
        ("40-44", "1"), ("70-74", "1"), ("75-79", "2"), ("80-84", "1")]  # fmt: skip
    # The IDs are the provision's re-keying of ID2, and the 介護 rows join their 医療 person.
    key = (keys / f"provision-{pid}.key").read_text().strip()
    expected = {rekey(bytes.fromhex(key), id2(SOURCE, kana, born, sex))
                for _, _, kana, born, sex, _ in PEOPLE}  # fmt: skip
    assert {r["pid"] for r in persons} == expected
    assert {r["pid"] for r in certs} <= expected and len(certs) == 2
    state = provision_detail(engine, pid)
    assert (state.state, state.extracts) == ("provided", 1)
    [step] = [s for s in state.steps if s.step == "extracted"]
    assert step.detail["rows"] == {"persons": 4, "care_certifications": 2}


def test_claims_and_services_follow_the_period_and_unplaced_claims_are_counted(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    sources = all_sources(engine)
    requested = items(claims=("service_month", "points"), care_services=("service_month",))
    pid = approved(engine, cat, audit, requested=requested)
    done = extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=ON, audit=audit,
                   source_key=SOURCE, key_folder=keys)  # fmt: skip
    claims = _read(done.folder / "claims.csv")
    # 2023-04 … 2024-03: the claim of 2023-03 is out, the one under number 9999 unplaced.
    assert sorted((r["service_month"], r["points"]) for r in claims) == [
        ("2023-05", "1234"), ("2023-07", "560"), ("2024-03", "300")]  # fmt: skip
    assert done.claims_unplaced == 1
    services = _read(done.folder / "care_services.csv")
    assert sorted(r["service_month"] for r in services) == ["2023-06", "2024-01"]


def _integrated_extract(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> Any:
    all_sources(engine)
    # 1, 2 and 3 are members of the 広域連合 in the period (2 and 3, under 75, by 障害認定),
    # each with a 後期 claim; 4 is not.
    with engine.begin() as connection:
        connection.execute(
            sa.insert(tables.coverages),
            [{"coverage_id": 10 + p, "person_id": p, "insurer_number": KOKI, "symbol": "",
              "number": f"K{p}", "branch": "00", "acquired_on": D(2020, 4, 1), "lost_on": None,
              "loss_reason": None, "relationship": 1, "card_class": "01"} for p in (1, 2, 3)],
        )  # fmt: skip
    koki = [MedicalClaim(KOKI, "", f"K{p}", PEOPLE[p - 1][3], PEOPLE[p - 1][4], D(2023, 9, 1),
                         "outpatient", 1, 100 * p) for p in (1, 2, 3)]  # fmt: skip
    sources = load_sources(engine, claims=[*CLAIMS, *koki])
    requested = items(persons=("age_band",), claims=("points",))
    pid = approved(engine, cat, audit, basis="integrated_request", requested=requested,
                    organisation="高松市 (一体的実施)", provider=KOKI)  # fmt: skip
    return extract(engine, cat, pid, sources, out=tmp_path, by="広域連合 職員", on=ON,
                   audit=audit, source_key=SOURCE, key_folder=keys)  # fmt: skip


def test_the_integrated_request_keeps_every_member_of_the_koiki_rengo_found_disabled_under_75(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    """高確法 §50: the 広域連合 insures those 75 and over and those 65–74 it has found disabled
    (障害認定, §50(ii)); the 一体的実施 is for its 被保険者, so age alone drops nobody."""
    done = _integrated_extract(engine, cat, audit, tmp_path, keys)
    # 80, 75 (born 1949-04-01) and 74 (born 1949-04-02, a member by 障害認定) stay, with their
    # claims; 44 is not a member; the 国保 claims (CLAIMS) were not billed to the 広域連合.
    assert sorted(r["age_band"] for r in _read(done.folder / "persons.csv")) == [
        "70-74", "75-79", "80-84"]  # fmt: skip
    assert sorted(r["points"] for r in _read(done.folder / "claims.csv")) == ["100", "200", "300"]


def test_a_basis_with_a_minimum_age_keeps_only_persons_of_that_age(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    """A local catalogue may still set ``minimum_age`` on a basis: the age on the period's
    last day."""
    basis = cat.bases["integrated_request"]
    aged = dataclasses.replace(
        cat, bases={**cat.bases, "integrated_request": dataclasses.replace(basis, minimum_age=75)}
    )
    done = _integrated_extract(engine, aged, audit, tmp_path, keys)
    # 80 and 75 stay; 74 goes, with its claim.
    assert sorted(r["age_band"] for r in _read(done.folder / "persons.csv")) == ["75-79", "80-84"]
    assert sorted(r["points"] for r in _read(done.folder / "claims.csv")) == ["100", "200"]


def test_two_extracts_share_ids_and_two_provisions_do_not(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    sources = all_sources(engine)
    first = approved(engine, cat, audit)
    second = apply(engine, cat, application(), on=ON, audit=audit)
    review(engine, cat, second, reviewer="委員 丙", decision="approve", minutes="承認", on=ON,
           term_until=TERM, audit=audit)  # fmt: skip
    kw: dict[str, Any] = {"out": tmp_path, "by": "事務局", "on": ON, "audit": audit,
                          "source_key": SOURCE, "key_folder": keys}  # fmt: skip
    a1 = extract(engine, cat, first, sources, **kw)
    a2 = extract(engine, cat, first, sources, **kw)
    b1 = extract(engine, cat, second, sources, **kw)

    def ids(folder: Path) -> set[str]:
        return {r["pid"] for r in _read(folder / "persons.csv")}

    assert a2.number == 2 and ids(a1.folder) == ids(a2.folder)
    assert ids(a1.folder).isdisjoint(ids(b1.folder)) and len(ids(b1.folder)) == 4


def test_no_extract_after_the_term(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    sources = all_sources(engine)
    pid = approved(engine, cat, audit)
    extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=TERM, audit=audit,
            source_key=SOURCE, key_folder=keys)  # the term's last day: allowed  # fmt: skip
    with pytest.raises(ProvisionError, match="the data-use term ended on 2025-03-31"):
        extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=TERM + dt.timedelta(1),
                audit=audit, source_key=SOURCE, key_folder=keys)  # fmt: skip
    assert provision_detail(engine, pid).extracts == 1
    assert not (tmp_path / pid / "extract-2").exists()


def test_an_identifier_in_the_sources_stops_the_extract_before_anything_is_written(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    # A register whose 市区町村 field holds an address by mistake: the scan refuses it.
    pid = approved(engine, cat, audit)
    bad = Sources([MedicalPerson(1, "カガワ イチロウ", D(1943, 5, 10), 1, "香川県高松市番町1-1")])
    with pytest.raises(IdentifierFoundError, match="column 'municipality': address"):
        extract(engine, cat, pid, bad, out=tmp_path / "out", by="事務局", on=ON, audit=audit,
                source_key=SOURCE, key_folder=keys)  # fmt: skip
    assert list((tmp_path / "out").rglob("*.csv")) == []
    assert provision_detail(engine, pid).state == "approved"
    assert [a for a, _ in _actions(engine) if a == "provision_extract"] == []


# --- deletion and 公表物確認 -----------------------------------------------------------------


def test_the_deletion_ends_the_provision_and_destroys_its_key(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    sources = all_sources(engine)
    pid = approved(engine, cat, audit)
    extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=ON, audit=audit,
            source_key=SOURCE, key_folder=keys)  # fmt: skip
    assert (keys / f"provision-{pid}.key").exists()
    done = confirm_deletion(engine, pid, by="研究者 甲", method="暗号化ディスクを消去",
                            on=TERM + dt.timedelta(1), audit=audit, key_folder=keys)  # fmt: skip
    assert done.state == "deleted" and not (keys / f"provision-{pid}.key").exists()
    [step] = [s for s in done.steps if s.step == "deleted"]
    assert step.detail["key_destroyed"] is True and step.detail["term_ended"] is True
    with pytest.raises(ProvisionError, match="is deleted: it cannot be extracted now"):
        extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=ON, audit=audit,
                source_key=SOURCE, key_folder=keys)  # fmt: skip
    with pytest.raises(ProvisionError, match="is deleted: it cannot be deleted now"):
        confirm_deletion(engine, pid, by="研究者 甲", method="x", on=ON, audit=audit,
                         key_folder=keys)  # fmt: skip


def test_the_release_check_records_its_verdict_only_once_data_was_provided(
    engine: sa.Engine, cat: Catalogue, audit: ServiceAudit, tmp_path: Path, keys: Path
) -> None:
    sources = all_sources(engine)
    pid = approved(engine, cat, audit)
    good = tmp_path / "good.csv"
    good.write_text("区分,男,女\n要支援,12,0\n要介護,25,31\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("区分,男,女\n要支援,3,14\n要介護,25,31\n", encoding="utf-8")
    rules = release_rules()
    with pytest.raises(ProvisionError, match="is approved: it cannot be checked for release"):
        record_release_check(engine, pid, check_file(good, rules), by="研究者 甲", audit=audit)
    extract(engine, cat, pid, sources, out=tmp_path, by="事務局", on=ON, audit=audit,
            source_key=SOURCE, key_folder=keys)  # fmt: skip
    assert record_release_check(engine, pid, check_file(good, rules), by="研究者 甲", audit=audit)
    assert not record_release_check(engine, pid, check_file(bad, rules), by="研究者 甲",
                                    audit=audit)  # fmt: skip
    verdicts = [(s.detail["verdict"], s.detail["ok"]) for s in provision_detail(engine, pid).steps
                if s.step == "release_checked"]  # fmt: skip
    assert verdicts == [("公表可", True), ("公表不可", False)]
    # Every step went to the audit log, in order.
    assert [a for a, _ in _actions(engine)] == [
        "provision_reviewer", "provision_apply", "provision_review", "provision_extract",
        "provision_release_check", "provision_release_check",
    ]  # fmt: skip
