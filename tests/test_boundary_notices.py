"""The notices of a decided case (tests/boundarycases.py, decided 2023-05-15, no fault): the
amounts, months and legal bases they print, and the errors for cases with no notice."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.boundary import (
    CaseError,
    Evidence,
    UnknownCase,
    close_case,
    decide,
    judge,
    notice_list_csv,
    open_cases,
    record_loss,
    reduction_notice,
    refund_notice,
)
from tests.boundarycases import (
    EMPLOYEE_ACQUIRED,
    EMPLOYEE_DECIDED,
    TOWN,
    Audit,
    build_town,
    enrol_employee,
)

CLERK = "高松市保険年金課 田中"
DOCUMENT = Evidence("資格決定通知書", EMPLOYEE_ACQUIRED, EMPLOYEE_DECIDED, "日本年金機構")


@pytest.fixture
def case_id(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> int:
    build_town(engine, tmp_path, mynumber_key)
    enrol_employee(engine, tmp_path)
    audit = Audit()
    [case] = open_cases(engine, TOWN, dt.date(2023, 5, 1), actor=CLERK, audit=audit)
    record_loss(engine, case.case_id, dt.date(2023, 5, 1), tmp_path / "feed", actor=CLERK,
                audit=audit)  # fmt: skip
    return case.case_id


def decided(engine: sa.Engine, case_id: int) -> None:
    audit = Audit()
    judge(engine, case_id, dt.date(2023, 5, 10), no_fault=True, evidence=DOCUMENT, actor=CLERK,
          audit=audit)  # fmt: skip
    decide(engine, case_id, dt.date(2023, 5, 15), actor=CLERK, audit=audit)


def test_the_reduction_notice_names_the_basis_the_months_and_the_amounts(
    engine: sa.Engine, case_id: int
) -> None:
    decided(engine, case_id)
    audit = Audit()
    page = reduction_notice(engine, case_id, actor=CLERK, audit=audit)
    assert "<h1>国民健康保険料減額賦課決定通知書</h1>" in page
    assert "@media print" in page and "<script" not in page
    assert "讃岐 一郎 様" in page and "令和5年5月15日" in page
    # FY2020 beyond the limit under 第2項, FY2021/22 within it under 第1項.
    assert page.count("国民健康保険法第110条の2第2項") >= 2
    assert "国民健康保険法第110条の2第1項" in page
    assert page.count("令和5年5月1日 資格喪失に伴い更正済") == 2  # FY2021, FY2022 at ①
    for months in ("2020年4月～2021年3月（12か月）", "2022年4月～2023年3月（12か月）"):
        assert months in page
    for amount in ("351,100円", "345,400円", "350,800円", "1,047,300円"):
        assert amount in page
    assert audit.calls == [("boundary_notice", CLERK, [1])]


def test_the_refund_notice_gives_the_last_day_to_claim(engine: sa.Engine, case_id: int) -> None:
    decided(engine, case_id)
    page = refund_notice(engine, case_id, actor=CLERK, audit=Audit())
    assert "<h1>国民健康保険料還付通知書</h1>" in page
    assert "国民健康保険法第110条第1項" in page
    # Decided 2023-05-15: the claim can be made until 2025-05-15 (令和7年).
    assert "令和7年5月15日を過ぎると時効により消滅します" in page
    assert "1,047,300円" in page and page.count("還付</td>") == 3


def test_the_clerks_list_has_one_row_per_decided_case(engine: sa.Engine, case_id: int) -> None:
    audit = Audit()
    assert list(csv.DictReader(io.StringIO(notice_list_csv(engine, TOWN, actor=CLERK,
                                                           audit=audit)))) == []  # fmt: skip
    decided(engine, case_id)
    [row] = csv.DictReader(io.StringIO(notice_list_csv(engine, TOWN, actor=CLERK, audit=audit)))
    assert (row["氏名"], row["重複月数"], row["減額"], row["還付"], row["還付請求期限"]) == (
        "讃岐 一郎", "36", "1047300", "1047300", "2025-05-15"
    )  # fmt: skip
    assert row["判断"] == "無過失" and row["状態"] == "decided"


def test_no_notice_for_an_unknown_undecided_or_closed_case(engine: sa.Engine, case_id: int) -> None:
    audit = Audit()
    with pytest.raises(UnknownCase, match="no double-payment case 99"):
        reduction_notice(engine, 99, actor=CLERK, audit=audit)
    with pytest.raises(CaseError, match="no 減額賦課決定 yet"):
        refund_notice(engine, case_id, actor=CLERK, audit=audit)
    close_case(engine, case_id, dt.date(2023, 5, 2), "被用者保険の資格取消し", actor=CLERK,
               audit=audit)  # fmt: skip
    with pytest.raises(CaseError, match=f"case {case_id} is closed: no notice"):
        reduction_notice(engine, case_id, actor=CLERK, audit=audit)
    assert [call[0] for call in audit.calls] == ["boundary_close"]  # no notice was audited


@pytest.mark.parametrize(
    ("day", "printed"),
    [
        ("1989-01-07", "昭和64年1月7日"),  # an employee 資格取得日 can be that old
        ("1989-01-08", "平成元年1月8日"),
        ("1990-04-01", "平成2年4月1日"),
        ("2019-04-30", "平成31年4月30日"),
        ("2019-05-01", "令和元年5月1日"),
        ("2023-05-15", "令和5年5月15日"),
    ],
)
def test_notice_dates_are_printed_in_the_era_of_the_day(day: str, printed: str) -> None:
    """The notices printed every day before 令和 as 平成 (1989-01-07 as 平成1年, 1985 as
    平成-3年) and the first year of 平成 as 平成1年, not 元年."""
    from kokuho.boundary._notices import _wareki

    assert _wareki(dt.date.fromisoformat(day)) == printed
