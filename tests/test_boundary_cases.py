"""Double-payment cases (国保法 §110-2(2)) worked by hand: see tests/boundarycases.py for the
premiums. The decision is made on 2023-05-15. §110-2(1): no 賦課決定 from two years after the
day after the year's first 納期 (30 June): FY2020 is barred from 2022-07-01 (beyond the limit),
FY2021 from 2023-07-01 and FY2022 from 2024-07-01 (both still within it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.boundary import (
    BoundaryRuleError,
    CaseError,
    Evidence,
    UnknownCase,
    answer_report,
    case_detail,
    claim_refund,
    decide,
    judge,
    list_cases,
    load_boundary_rules,
    open_cases,
    record_loss,
    report_candidates,
    request_report,
)
from kokuho.boundary import tables as boundary_tables
from kokuho.ids import InsuredId
from kokuho.premiums import household_account, reassess, settlements
from kokuho.registry import FileRejected, import_changes, show
from tests.boundarycases import (
    EMPLOYEE_ACQUIRED,
    EMPLOYEE_DECIDED,
    TOWN,
    YEARS,
    Audit,
    P,
    build_town,
    enrol_employee,
)
from tests.feedfiles import FEED_COLUMNS, KOKUHO, KYOKAI, acquire, lose, write_csv

OPENED = dt.date(2023, 5, 1)
JUDGED = dt.date(2023, 5, 10)
DECIDED = dt.date(2023, 5, 15)
CLERK = "高松市保険年金課 田中"
DOCUMENT = Evidence(
    "資格決定通知書", EMPLOYEE_ACQUIRED, EMPLOYEE_DECIDED, "日本年金機構 高松年金事務所"
)


@pytest.fixture
def town(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> sa.Engine:
    build_town(engine, tmp_path, mynumber_key)
    enrol_employee(engine, tmp_path)
    return engine


def counts(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            int(connection.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
            for t in (boundary_tables.boundary_cases, boundary_tables.boundary_case_steps)
        )


def opened(engine: sa.Engine, tmp_path: Path, audit: Audit) -> int:
    [case] = open_cases(engine, TOWN, OPENED, actor=CLERK, audit=audit)
    record_loss(engine, case.case_id, OPENED, tmp_path / "feed", actor=CLERK, audit=audit)
    return case.case_id


def test_the_feed_stores_the_decision_date_and_refuses_a_bad_one(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    build_town(engine, tmp_path, mynumber_key)
    bad = acquire("E1", "2020-04-01", insurer=KYOKAI, number="5001", decided_on="2020-02-30")
    with pytest.raises(FileRejected, match=r"bad\.csv:2: decided_on: '2020-02-30' is not a date"):
        import_changes(
            engine, write_csv(tmp_path / "bad.csv", [*FEED_COLUMNS, "decided_on"], [bad])
        )
    week = {**bad, "decided_on": "2020-W15-1"}  # date.fromisoformat: 2020-04-06
    with pytest.raises(FileRejected, match=r"week\.csv:2: decided_on: '2020-W15-1' is not a date"):
        import_changes(
            engine, write_csv(tmp_path / "week.csv", [*FEED_COLUMNS, "decided_on"], [week])
        )
    early = {**bad, "decided_on": "2020-03-31"}  # before the 資格取得日
    with pytest.raises(FileRejected, match=r"early\.csv:2: decided_on: 資格決定日 is before"):
        import_changes(
            engine, write_csv(tmp_path / "early.csv", [*FEED_COLUMNS, "decided_on"], [early])
        )
    lose_row = {**lose("L1", "2020-04-01", number="1001"), "decided_on": "2020-04-02"}
    with pytest.raises(FileRejected, match=r"lose\.csv:2: decided_on: is not used by a lose"):
        import_changes(
            engine, write_csv(tmp_path / "lose.csv", [*FEED_COLUMNS, "decided_on"], [lose_row])
        )
    assert show(engine, InsuredId(KYOKAI, "12", "5001", "01")) is None  # nothing applied
    enrol_employee(engine, tmp_path)
    record = show(engine, InsuredId(KYOKAI, "12", "5001", "01"))
    assert record is not None
    kyokai = [c for c in record.coverages if c.insured.insurer == KYOKAI]
    assert [(c.acquired_on, c.decided_on) for c in kyokai] == [
        (EMPLOYEE_ACQUIRED, EMPLOYEE_DECIDED)
    ]


def test_the_case_lists_36_months_and_what_was_charged_and_paid(
    town: sa.Engine, tmp_path: Path
) -> None:
    audit = Audit()
    [case] = open_cases(town, TOWN, OPENED, actor=CLERK, audit=audit)
    # April 2020 – March 2023: 12 + 12 + 12 months, each year's premium wholly (P was alone).
    assert case.months == 36
    assert [(y.fiscal_year, len(y.months)) for y in case.years] == [
        (2020, 12),
        (2021, 12),
        (2022, 12),
    ]
    assert case.years[0].months[0] == "2020-04" and case.years[-1].months[-1] == "2023-03"
    assert {y.fiscal_year: y.premium_of_months for y in case.years} == YEARS
    assert {y.fiscal_year: (y.charged, y.paid) for y in case.years} == {
        year: (total, total) for year, total in YEARS.items()
    }
    assert [y.limit for y in case.years] == [
        dt.date(2022, 7, 1), dt.date(2023, 7, 1), dt.date(2024, 7, 1)
    ]  # fmt: skip
    assert case.barred_years(DECIDED) == (2020,)
    assert case.status == "open"
    assert open_cases(town, TOWN, OPENED, actor=CLERK, audit=audit) == []  # idempotent
    assert [c.case_id for c in list_cases(town, TOWN, actor=CLERK, audit=audit)] == [case.case_id]
    assert [call[0] for call in audit.calls] == ["boundary_open", "boundary_open", "boundary_list"]
    assert audit.calls[0][2] == [case.person_id]


def test_an_ordinary_overlap_without_a_late_decision_is_not_a_case(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    build_town(engine, tmp_path, mynumber_key)
    row = acquire("E1", "2023-04-01", insurer=KYOKAI, number="5001", person=P)
    import_changes(engine, write_csv(tmp_path / "k.csv", FEED_COLUMNS, [row]))
    assert open_cases(engine, TOWN, OPENED, actor=CLERK, audit=Audit()) == []


def test_no_fault_reduces_every_year_and_refunds_to_the_yen(
    town: sa.Engine, tmp_path: Path
) -> None:
    audit = Audit()
    case_id = opened(town, tmp_path, audit)
    record = show(town, InsuredId(KOKUHO, "12", "1001", "01"))
    assert record is not None
    kokuho = [c for c in record.coverages if c.insured.insurer == KOKUHO]
    assert [(c.lost_on, c.loss_reason) for c in kokuho] == [(EMPLOYEE_ACQUIRED, "03")]
    judge(town, case_id, JUDGED, no_fault=True, evidence=DOCUMENT, actor=CLERK, audit=audit)
    case = decide(town, case_id, DECIDED, actor=CLERK, audit=audit)
    detail = case.current("reduction")
    assert detail is not None and case.status == "decided"
    years = {y["fiscal_year"]: y for y in detail.detail["years"]}
    # Beyond the limit, reduced under §110-2(2); within it, an ordinary 減額賦課.
    assert years[2020]["barred"] and years[2020]["basis"] == "国民健康保険法第110条の2第2項"
    assert not years[2021]["barred"] and years[2021]["basis"] == "国民健康保険法第110条の2第1項"
    assert {y: years[y]["reduction"] for y in years} == YEARS
    assert detail.detail["reduction"] == 351_100 + 345_400 + 350_800 == 1_047_300
    refunds = [r for r in detail.detail["refunds"] if r["kind"] == "refund"]
    assert sorted((r["fiscal_year"], r["amount"]) for r in refunds) == sorted(YEARS.items())
    assert detail.detail["refund"] == 1_047_300
    # 民法 §140/§143: from 2023-05-16, two years end on 2025-05-15.
    assert {r["last_claim_day"] for r in refunds} == {"2025-05-15"}
    account = household_account(town, TOWN, "W1", DECIDED)
    assert {year: account[year][0] for year in YEARS} == {2020: 0, 2021: 0, 2022: 0}


def test_at_fault_only_the_years_within_the_limit_are_reduced(
    town: sa.Engine, tmp_path: Path
) -> None:
    audit = Audit()
    case_id = opened(town, tmp_path, audit)
    judge(town, case_id, JUDGED, no_fault=False, reason="本人の脱退届の遅延", actor=CLERK,
          audit=audit)  # fmt: skip
    detail = decide(town, case_id, DECIDED, actor=CLERK, audit=audit).current("reduction")
    assert detail is not None
    years = {y["fiscal_year"]: y for y in detail.detail["years"]}
    assert years[2020]["reduction"] == 0
    assert (
        "第110条の2第1項" in years[2020]["reason"] and "本人の脱退届の遅延" in years[2020]["reason"]
    )
    assert "第2項は適用されない" in years[2020]["reason"]
    assert (years[2021]["reduction"], years[2022]["reduction"]) == (345_400, 350_800)
    assert detail.detail["refund"] == 345_400 + 350_800 == 696_200
    account = household_account(town, TOWN, "W1", DECIDED)
    assert account[2020] == (351_100, 351_100)  # FY2020 stays charged and paid


@pytest.mark.parametrize(
    ("claimed", "paid"), [(dt.date(2025, 5, 15), True), (dt.date(2025, 5, 16), False)]
)
def test_the_refund_claim_prescribes_two_years_after_the_decision(
    town: sa.Engine, tmp_path: Path, claimed: dt.date, paid: bool
) -> None:
    audit = Audit()
    case_id = opened(town, tmp_path, audit)
    judge(town, case_id, JUDGED, no_fault=True, evidence=DOCUMENT, actor=CLERK, audit=audit)
    decide(town, case_id, DECIDED, actor=CLERK, audit=audit)
    if paid:
        case = claim_refund(town, case_id, claimed, actor=CLERK, audit=audit)
        claim = case.current("refund_claim")
        assert claim is not None and claim.detail["amount"] == 1_047_300
    else:
        before = counts(town)
        with pytest.raises(CaseError, match=r"prescribed after 2025-05-15.*第110条第1項"):
            claim_refund(town, case_id, claimed, actor=CLERK, audit=audit)
        assert counts(town) == before
    assert all((s.paid_on is not None) == paid for s in settlements(town, TOWN))


def test_bad_steps_are_refused_and_change_nothing(town: sa.Engine, tmp_path: Path) -> None:
    audit = Audit()
    case_id = opened(town, tmp_path, audit)
    before = counts(town)
    with pytest.raises(CaseError, match="needs its evidence"):
        judge(town, case_id, JUDGED, no_fault=True, actor=CLERK, audit=audit)
    wrong = Evidence("資格決定通知書", dt.date(2021, 4, 1), EMPLOYEE_DECIDED, "年金機構")
    with pytest.raises(CaseError, match="is not the employee 資格取得日 2020-04-01"):
        judge(town, case_id, JUDGED, no_fault=True, evidence=wrong, actor=CLERK, audit=audit)
    with pytest.raises(CaseError, match="must give its reason"):
        judge(town, case_id, JUDGED, no_fault=False, actor=CLERK, audit=audit)
    with pytest.raises(CaseError, match="judgement .②. first"):
        decide(town, case_id, DECIDED, actor=CLERK, audit=audit)
    with pytest.raises(UnknownCase, match="no double-payment case 999"):
        decide(town, 999, DECIDED, actor=CLERK, audit=audit)
    with pytest.raises(UnknownCase):
        case_detail(town, 999, actor=CLERK, audit=audit)
    assert counts(town) == before
    assert household_account(town, TOWN, "W1", DECIDED)[2020] == (351_100, 351_100)


def test_a_judgement_is_replaced_only_by_a_new_one_naming_it(
    town: sa.Engine, tmp_path: Path
) -> None:
    audit = Audit()
    case_id = opened(town, tmp_path, audit)
    first = judge(town, case_id, JUDGED, no_fault=False, reason="脱退届の遅延", actor=CLERK,
                  audit=audit).current("judgement")  # fmt: skip
    assert first is not None
    with pytest.raises(CaseError, match=f"supersedes={first.step_id}"):
        judge(town, case_id, JUDGED, no_fault=True, evidence=DOCUMENT, actor=CLERK, audit=audit)
    case = judge(town, case_id, JUDGED, no_fault=True, evidence=DOCUMENT, supersedes=first.step_id,
                 actor=CLERK, audit=audit)  # fmt: skip
    current = case.current("judgement")
    assert current is not None and current.detail["no_fault"] is True
    assert [s.step for s in case.steps] == ["loss", "judgement", "judgement"]  # both kept
    decided = decide(town, case_id, DECIDED, actor=CLERK, audit=audit)
    with pytest.raises(CaseError, match="no new judgement"):
        judge(town, case_id, DECIDED, no_fault=False, reason="x", supersedes=current.step_id,
              actor=CLERK, audit=audit)  # fmt: skip
    assert decided.current("reduction") is not None


RULES = Path(__file__).resolve().parents[1] / "src" / "kokuho" / "data" / "boundary" / "rules.yaml"


def test_the_in_force_date_of_the_exception_is_read_from_the_rule_file(
    town: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local copy that puts §110-2(2) in force after the decision: FY2020 stays barred."""
    local = tmp_path / "home" / "data" / "boundary"
    local.mkdir(parents=True)
    text = RULES.read_text("utf-8").replace("value: 2019-05-22", "value: 2024-01-01")
    (local / "rules.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("KOKUHO_HOME", str(tmp_path / "home"))
    assert load_boundary_rules().exception_in_force_from == dt.date(2024, 1, 1)
    audit = Audit()
    case_id = opened(town, tmp_path, audit)
    judge(town, case_id, JUDGED, no_fault=True, evidence=DOCUMENT, actor=CLERK, audit=audit)
    detail = decide(town, case_id, DECIDED, actor=CLERK, audit=audit).current("reduction")
    assert detail is not None
    years = {y["fiscal_year"]: y for y in detail.detail["years"]}
    assert years[2020]["reduction"] == 0 and "2024-01-01 施行前" in years[2020]["reason"]
    assert detail.detail["reduction"] == 696_200
    (local / "rules.yaml").write_text(text.replace("  source: >-", "  sauce: >-", 1), "utf-8")
    with pytest.raises(BoundaryRuleError, match="exception_in_force_from: needs its source"):
        load_boundary_rules()


def test_the_loss_reduces_the_years_within_the_limit_at_once(
    town: sa.Engine, tmp_path: Path
) -> None:
    """① is the 資格喪失処理: FY2021 and FY2022 (within the limit on 2023-05-01) are reduced
    then, fault or not; FY2020 waits for ③. The town's own 更正 run finds nothing left, and
    ③ states the two years as reduced on 2023-05-01."""
    audit = Audit()
    case_id = opened(town, tmp_path, audit)
    account = household_account(town, TOWN, "W1", OPENED)
    assert {year: account[year][0] for year in YEARS} == {2020: 351_100, 2021: 0, 2022: 0}
    assert reassess(town, TOWN, 2021, dt.date(2023, 5, 12)).changes == ()
    judge(town, case_id, JUDGED, no_fault=True, evidence=DOCUMENT, actor=CLERK, audit=audit)
    detail = decide(town, case_id, DECIDED, actor=CLERK, audit=audit).current("reduction")
    assert detail is not None
    years = {y["fiscal_year"]: y for y in detail.detail["years"]}
    assert (years[2021]["before"], years[2021]["after"], years[2021]["reduction"]) == (
        345_400, 0, 345_400
    )  # fmt: skip
    assert years[2021]["reduced_on"] == "2023-05-01" and years[2020]["reduced_on"] == "2023-05-15"
    assert (detail.detail["reduction"], detail.detail["refund"]) == (1_047_300, 1_047_300)


def test_the_loss_is_recorded_once_and_a_report_answer_joins_the_open_case(
    town: sa.Engine, tmp_path: Path
) -> None:
    audit = Audit()
    [case] = open_cases(town, TOWN, OPENED, actor=CLERK, audit=audit)
    [candidate] = report_candidates(town, TOWN, OPENED, actor=CLERK, audit=audit)
    asked = request_report(town, TOWN, candidate.kokuho_coverage_id,
                           candidate.other_coverage_id, "事業主", OPENED, actor=CLERK,
                           audit=audit)  # fmt: skip
    answered = answer_report(town, asked.report_id, JUDGED, "2020年4月1日 資格取得",
                             confirmed=True, feed_dir=tmp_path / "feed", actor=CLERK,
                             audit=audit)  # fmt: skip
    assert answered.answers[-1].case_id == case.case_id
    again = record_loss(town, case.case_id, DECIDED, tmp_path / "feed", actor=CLERK, audit=audit)
    assert [s.step for s in again.steps] == ["loss"] and counts(town) == (1, 1)
