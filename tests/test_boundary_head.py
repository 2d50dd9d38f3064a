"""A 世帯主 with family on 国保, enrolled retroactively by 協会けんぽ: the head leaves 国保 for
the whole years but still heads the household (擬制世帯主), so the premium of the overlapping
months is the household's premium with P minus with Q alone. Worked by hand below from the
synthetic rules of tests/boundarycases.py (高松市 372013, the same rates as P's worked case).

P (head, 給与所得 3,000,000) and Q (spouse, no income, born 1993), both on 国保 from
2019-04-01, both under 40 (no 介護分); no 軽減 (the household's 所得, the 擬制世帯主's
included, is far above every threshold). Parts floored to 100 yen.

- FY2020 with P: 医療 2,670,000 × 8.27 % = 220,809 + 2 × 26,700 + 24,000 = 298,209 → 298,200;
  支援 2,670,000 × 2.44 % = 65,148 + 2 × 8,200 + 6,300 = 87,848 → 87,800; year 386,000.
  Q alone: 医療 26,700 + 24,000 = 50,700; 支援 8,200 + 6,300 = 14,500; year 65,200.
  P's months: 386,000 − 65,200 = 320,800.
- FY2021 with P: 医療 2,570,000 × 8.39 % = 215,623 + 2 × 27,100 + 24,300 = 294,123 → 294,100;
  支援 2,570,000 × 2.48 % = 63,736 + 2 × 8,300 + 6,400 = 86,736 → 86,700; year 380,800.
  Q alone: 27,100 + 24,300 = 51,400; 8,300 + 6,400 = 14,700; year 66,100. P's: 314,700.
- FY2022 with P: 医療 2,570,000 × 8.52 % = 218,964 + 2 × 27,500 + 24,700 = 298,664 → 298,600;
  支援 2,570,000 × 2.52 % = 64,764 + 2 × 8,500 + 6,500 = 88,264 → 88,200; year 386,800.
  Q alone: 27,500 + 24,700 = 52,200; 8,500 + 6,500 = 15,000; year 67,200. P's: 319,600.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from kokuho.boundary import Evidence, decide, judge, open_cases, record_loss
from kokuho.ids import mynumber_check
from kokuho.premiums import assess_fiscal_year, import_payments, load_incomes
from kokuho.registry import import_changes, load_insurers, load_residents
from tests.boundarycases import (
    EMPLOYEE_ACQUIRED,
    EMPLOYEE_DECIDED,
    INCOME_COLUMNS,
    RESIDENT_COLUMNS,
    TOWN,
    Audit,
    P,
    enrol_employee,
)
from tests.feedfiles import FEED_COLUMNS, acquire, write_csv, write_insurers
from tests.premiumrows import payment, write_payments

Q = {
    "name_kanji": "讃岐 花子",
    "name_kana": "サヌキ ハナコ",
    "birth_date": "1993-02-01",
    "sex": "2",
    "address": P["address"],
}
WITH_P = {2020: 386_000, 2021: 380_800, 2022: 386_800}
Q_ALONE = {2020: 65_200, 2021: 66_100, 2022: 67_200}
P_MONTHS = {2020: 320_800, 2021: 314_700, 2022: 319_600}
CLERK = "高松市保険年金課 田中"


def _household(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> None:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    feed = [
        acquire("K1", "2019-04-01", person=P),
        acquire("K2", "2019-04-01", branch="02", person=Q),
    ]
    import_changes(engine, write_csv(tmp_path / "changes1.csv", FEED_COLUMNS, feed))
    residents = []
    for n, (person, role) in enumerate(((P, "世帯主"), (Q, "妻")), start=1):
        body = f"6660000000{n}"
        residents.append(
            {"resident_id": f"0000000000{n}", "mynumber": body + str(mynumber_check(body)),
             **person, "municipality_code": TOWN, "household_id": "W1", "relationship": role,
             "household_since": ""}
        )  # fmt: skip
    path = write_csv(tmp_path / "residents.csv", RESIDENT_COLUMNS, residents)
    load_residents(engine, path, mynumber_key)
    for year in WITH_P:
        rows = [
            {"fiscal_year": year, "resident_id": f"0000000000{n}", "salary": salary,
             "pension": 0, "other": 0, "declared": 1, "wage_earner": int(salary > 0),
             "fixed_asset_tax": 0}
            for n, salary in ((1, 3_000_000), (2, 0))
        ]  # fmt: skip
        load_incomes(engine, write_csv(tmp_path / f"incomes{year}.csv", INCOME_COLUMNS, rows))
    pay = []
    for year, total in WITH_P.items():
        run = assess_fiscal_year(engine, TOWN, year, dt.date(year, 6, 15))
        assert run.total == total  # the hand computation above
        pay.append(payment(f"PAY{year}", "W1", year, f"{year}-09-30", total, municipality=TOWN))
    import_payments(engine, write_payments(tmp_path / "payments.csv", pay))


def test_a_head_with_family_leaves_as_nominal_head_and_the_months_are_priced_by_hand(
    engine: sa.Engine, tmp_path: Path, mynumber_key: bytes
) -> None:
    _household(engine, tmp_path, mynumber_key)
    enrol_employee(engine, tmp_path)
    audit = Audit()
    [case] = open_cases(engine, TOWN, dt.date(2023, 5, 1), actor=CLERK, audit=audit)
    assert {y.fiscal_year: y.premium_of_months for y in case.years} == P_MONTHS
    assert {y.fiscal_year: y.charged for y in case.years} == WITH_P
    assert case.months == 36
    record_loss(engine, case.case_id, dt.date(2023, 5, 1), tmp_path / "feed", actor=CLERK,
                audit=audit)  # fmt: skip
    evidence = Evidence("資格決定通知書", EMPLOYEE_ACQUIRED, EMPLOYEE_DECIDED, "日本年金機構")
    judge(engine, case.case_id, dt.date(2023, 5, 10), no_fault=True, evidence=evidence,
          actor=CLERK, audit=audit)  # fmt: skip
    done = decide(engine, case.case_id, dt.date(2023, 5, 15), actor=CLERK, audit=audit)
    step = done.current("reduction")
    assert step is not None
    # The register's own 更正 (premiums' reassess, P now off 国保) agrees with the case.
    years = {
        y["fiscal_year"]: (y["before"], y["after"], y["reduction"]) for y in step.detail["years"]
    }
    assert years == {y: (WITH_P[y], Q_ALONE[y], P_MONTHS[y]) for y in WITH_P}
    assert step.detail["refund"] == sum(P_MONTHS.values()) == 955_100
