"""報告徴収: P (tests/boundarycases.py, FY2020–2022 paid) joins 協会けんぽ on 2022-10-01 and
does not tell 高松市; Q, also on 国保, is registered as a 被扶養者 (家族) by 協会けんぽ.

By hand, P's FY2022 with the loss on 2022-10-01 keeps April–September (6 of 12 months):
医療 271,164 × 6 / 12 = 135,582 → 135,500; 支援 79,764 × 6 / 12 = 39,882 → 39,800; 175,300.
The six months October 2022 – March 2023 carry 350,800 − 175,300 = 175,500 yen, reduced
within the §110-2(1) limit of FY2022 (2024-07-01) although P was at fault, and refunded.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.boundary import (
    CaseError,
    UnknownCase,
    answer_report,
    case_detail,
    decide,
    judge,
    list_reports,
    report_candidates,
    request_report,
)
from kokuho.boundary import tables as boundary_tables
from kokuho.premiums import household_account
from kokuho.registry import import_changes
from tests.boundarycases import TOWN, Audit, P, build_town
from tests.feedfiles import FEED_COLUMNS, KYOKAI, acquire, write_csv

CLERK = "高松市保険年金課 田中"
Q = {**P, "name_kanji": "讃岐 花子", "name_kana": "サヌキ ハナコ", "birth_date": "1993-02-02",
     "sex": "2", "address": "香川県高松市番町2丁目2番2号"}  # fmt: skip
ON = dt.date(2023, 5, 1)


@pytest.fixture
def town(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> sa.Engine:
    return build_report_town(engine, tmp_path, mynumber_key)


def build_report_town(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> sa.Engine:
    """P joins 協会けんぽ on 2022-10-01, Q is registered as its 被扶養者 on 2022-12-01."""
    build_town(engine, tmp_path, mynumber_key)
    feed = [
        acquire("K2", "2021-04-01", number="1002", person=Q),
        acquire("E1", "2022-10-01", insurer=KYOKAI, number="5001", person=P),
        acquire("E2", "2022-12-01", insurer=KYOKAI, number="5001", branch="02", person=Q,
                relationship="2"),
    ]  # fmt: skip
    import_changes(engine, write_csv(tmp_path / "later.csv", FEED_COLUMNS, feed))
    return engine


def count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return sum(
            int(connection.scalar(sa.select(sa.func.count()).select_from(t)) or 0)
            for t in boundary_tables.metadata.sorted_tables
            if t.name.startswith("boundary_")
        )


def test_the_list_shows_employee_and_dependant_registrations(town: sa.Engine) -> None:
    audit = Audit()
    found = report_candidates(town, TOWN, ON, actor=CLERK, audit=audit)
    assert [(c.as_dependant, c.other_acquired_on, c.report_id) for c in found] == [
        (False, dt.date(2022, 10, 1), None),
        (True, dt.date(2022, 12, 1), None),
    ]
    assert audit.calls == [("boundary_reports", CLERK, [c.person_id for c in found])]
    # The day before P joined 協会けんぽ, nobody is listed.
    assert report_candidates(town, TOWN, dt.date(2022, 9, 30), actor=CLERK, audit=audit) == []


def test_a_confirmed_answer_opens_a_case_and_its_loss_flows_into_the_premiums(
    town: sa.Engine, tmp_path: Path
) -> None:
    audit = Audit()
    p, q = report_candidates(town, TOWN, ON, actor=CLERK, audit=audit)
    asked = request_report(town, TOWN, p.kokuho_coverage_id, p.other_coverage_id,
                           "株式会社讃岐製作所 人事部", dt.date(2023, 5, 2), actor=CLERK,
                           audit=audit)  # fmt: skip
    report = answer_report(town, asked.report_id, dt.date(2023, 5, 20),
                           "2022年10月1日 協会けんぽ資格取得（被保険者）", confirmed=True,
                           feed_dir=tmp_path / "feed", actor=CLERK, audit=audit)  # fmt: skip
    case_id = report.answers[-1].case_id
    assert case_id is not None and report.as_json()["result"] == "confirmed"
    case = case_detail(town, case_id, actor=CLERK, audit=audit)
    assert (case.source, case.status, case.months) == ("report", "lost", 6)
    [year] = case.years
    assert (year.fiscal_year, year.premium_of_months, year.charged) == (2022, 175_500, 350_800)
    # P is off the list now; Q (dependant) is still on it.
    left = report_candidates(town, TOWN, ON, actor=CLERK, audit=audit)
    assert [c.person_id for c in left] == [q.person_id]
    judge(town, case_id, dt.date(2023, 5, 25), no_fault=False, reason="本人の資格喪失届の未提出",
          actor=CLERK, audit=audit)  # fmt: skip
    step = decide(town, case_id, dt.date(2023, 6, 1), actor=CLERK, audit=audit).current("reduction")
    assert step is not None
    assert (step.detail["reduction"], step.detail["refund"]) == (175_500, 175_500)
    assert household_account(town, TOWN, "W1", dt.date(2023, 6, 1))[2022][0] == 175_300


def test_a_denied_answer_opens_no_case(town: sa.Engine, tmp_path: Path) -> None:
    audit = Audit()
    _, q = report_candidates(town, TOWN, ON, actor=CLERK, audit=audit)
    asked = request_report(town, TOWN, q.kokuho_coverage_id, q.other_coverage_id,
                           "全国健康保険協会 香川支部", dt.date(2023, 5, 2), actor=CLERK,
                           audit=audit)  # fmt: skip
    report = answer_report(
        town, asked.report_id, dt.date(2023, 5, 9), "被扶養者認定は取消済", confirmed=False,
        feed_dir=tmp_path, actor=CLERK, audit=audit,
    )  # fmt: skip
    assert report.as_json()["result"] == "denied" and report.answers[-1].case_id is None
    assert [r.report_id for r in list_reports(town, TOWN, actor=CLERK, audit=audit)] == [
        asked.report_id
    ]


def test_bad_requests_and_answers_change_nothing(town: sa.Engine, tmp_path: Path) -> None:
    audit = Audit()
    p, _ = report_candidates(town, TOWN, ON, actor=CLERK, audit=audit)
    before = count(town)
    with pytest.raises(UnknownCase, match="is not a 国保 coverage overlapping"):
        request_report(town, TOWN, 999, p.other_coverage_id, "x", ON, actor=CLERK, audit=audit)
    with pytest.raises(CaseError, match="addressee"):
        request_report(town, TOWN, p.kokuho_coverage_id, p.other_coverage_id, " ", ON,
                       actor=CLERK, audit=audit)  # fmt: skip
    with pytest.raises(UnknownCase, match="no 報告徴収 request 5"):
        answer_report(town, 5, ON, "x", confirmed=True, feed_dir=tmp_path, actor=CLERK,
                      audit=audit)  # fmt: skip
    assert count(town) == before
    asked = request_report(town, TOWN, p.kokuho_coverage_id, p.other_coverage_id, "事業主", ON,
                           actor=CLERK, audit=audit)  # fmt: skip
    with pytest.raises(CaseError, match="already requested"):
        request_report(town, TOWN, p.kokuho_coverage_id, p.other_coverage_id, "事業主", ON,
                       actor=CLERK, audit=audit)  # fmt: skip
    with pytest.raises(CaseError, match="answered before it was requested"):
        answer_report(town, asked.report_id, dt.date(2023, 4, 1), "x", confirmed=True,
                      feed_dir=tmp_path, actor=CLERK, audit=audit)  # fmt: skip
    assert count(town) == before + 1


def test_two_requests_or_two_answers_at_once_record_one(
    town: sa.Engine, database_url: str, tmp_path: Path
) -> None:
    """The same request (報告徴収) twice at once broke the unique key of the two coverages
    (internal error), and the same answer twice at once recorded two answers; now the second
    of each is refused with the reason it gets when run after the first."""
    from tests.test_concurrent_imports import second_run_while_first_commits

    audit = Audit()
    _, q = report_candidates(town, TOWN, ON, actor=CLERK, audit=audit)
    ids = f"{TOWN!r}, {q.kokuho_coverage_id}, {q.other_coverage_id}"
    code = (
        "from kokuho.boundary import request_report; from tests.boundarycases import Audit; "
        f"request_report(engine, {ids}, '協会けんぽ', dt.date(2023, 5, 2), actor='a', "
        "audit=Audit())"
    )
    with pytest.raises(CaseError, match="is already requested"):
        second_run_while_first_commits(
            database_url, tmp_path, code,
            lambda e: request_report(e, TOWN, q.kokuho_coverage_id, q.other_coverage_id,
                                     "協会けんぽ", dt.date(2023, 5, 2), actor="b", audit=Audit()),
        )  # fmt: skip
    [asked] = list_reports(town, TOWN, actor=CLERK, audit=audit)
    code = (
        "from kokuho.boundary import answer_report; from tests.boundarycases import Audit; "
        f"answer_report(engine, {asked.report_id}, dt.date(2023, 5, 9), '取消済', "
        f"confirmed=False, feed_dir=Path({str(tmp_path)!r}), actor='a', audit=Audit())"
    )
    with pytest.raises(CaseError, match="is already answered"):
        second_run_while_first_commits(
            database_url, tmp_path, code,
            lambda e: answer_report(e, asked.report_id, dt.date(2023, 5, 9), "取消済",
                                    confirmed=False, feed_dir=tmp_path, actor="b", audit=Audit()),
        )  # fmt: skip
    [answered] = list_reports(town, TOWN, actor=CLERK, audit=audit)
    assert len(answered.answers) == 1
