"""A double-payment case whose years come out dearer without the member: the household drops
from 5割 to 2割 軽減 when the retroactively enrolled member is no longer counted in n.

高松市 (372013), synthetic rules. W1: A (世帯主, born 1985-06-01, other income 800,000 every
year, not a 給与所得者等) and B (妻, born 1992-06-01, no income), both on 国保 from 2019-04-01,
under 40: no 介護分. 協会けんぽ enrols B retroactively: 資格取得日 2020-04-01, 資格決定日
2023-04-20, so B leaves W1 for FY2020–FY2022 and the 軽減 judgement counts n = 1.

By hand, parts floored to 100 yen:
- FY2020 (基礎控除 330,000; 5割 ≤ 330,000 + 285,000 n; 2割 ≤ 330,000 + 520,000 n):
  A's 基準総所得金額 470,000. With B (n = 2, 800,000 ≤ 900,000: 5割):
  医療 470,000 × 8.27 % = 38,869 + 26,700 × ½ × 2 + 24,000 × ½ = 77,569 → 77,500;
  支援 470,000 × 2.44 % = 11,468 + 8,200 + 3,150 = 22,818 → 22,800; year 100,300.
  Without B (n = 1: 615,000 < 800,000 ≤ 850,000: 2割):
  医療 38,869 + 21,360 + 19,200 = 79,429 → 79,400; 支援 11,468 + 6,560 + 5,040 = 23,068
  → 23,000; year 102,400: 2,100 more.
- FY2021 (基礎控除 430,000; limits 430,000 + 285,000 n / 520,000 n): base 370,000.
  With B (5割): 医療 31,043 + 27,100 + 12,150 = 70,293 → 70,200; 支援 9,176 + 8,300 + 3,200
  = 20,676 → 20,600; year 90,800. Without (2割): 31,043 + 21,680 + 19,440 = 72,163 → 72,100;
  9,176 + 6,640 + 5,120 = 20,936 → 20,900; year 93,000: 2,200 more.
- FY2022: with B 31,524 + 27,500 + 12,350 = 71,374 → 71,300 and 9,324 + 8,500 + 3,250 =
  21,074 → 21,000, year 92,300; without 31,524 + 22,000 + 19,760 = 73,284 → 73,200 and
  9,324 + 6,800 + 5,200 = 21,324 → 21,300, year 94,500: 2,200 more.

No year was paid twice in money: the household owes more without B. On 2023-05-15 FY2020 is
past its §110-2(1) limit (2022-07-01) and §110-2(2) lets only a *reducing* decision pass it,
so FY2020 stays as charged (③ was refused as a whole: 'case 1: FY2020: 増額賦課 … is
barred'); FY2021–FY2022 were reassessed at ① (an ordinary 増額賦課 within the limit), and ③
called them 減額 of −2,200 yen. ③ is made, refunding nothing and reducing nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from kokuho.boundary import Evidence, decide, judge, open_cases, record_loss, reduction_notice
from kokuho.ids import mynumber_check
from kokuho.premiums import assess_fiscal_year, import_payments, load_incomes
from kokuho.registry import import_changes, load_insurers, load_residents
from tests.boundarycases import INCOME_COLUMNS, RESIDENT_COLUMNS, TOWN, Audit
from tests.feedfiles import FEED_COLUMNS, KYOKAI, acquire, write_csv, write_insurers
from tests.premiumrows import payment, write_payments

WITH_B = {2020: 100_300, 2021: 90_800, 2022: 92_300}
WITHOUT_B = {2020: 102_400, 2021: 93_000, 2022: 94_500}
A = {"name_kanji": "讃岐 太郎", "name_kana": "サヌキ タロウ", "birth_date": "1985-06-01",
     "sex": "1", "address": "香川県高松市番町1丁目1番1号"}  # fmt: skip
B = {"name_kanji": "讃岐 花子", "name_kana": "サヌキ ハナコ", "birth_date": "1992-06-01",
     "sex": "2", "address": "香川県高松市番町1丁目1番1号"}  # fmt: skip
CLERK = "高松市保険年金課 田中"


@pytest.fixture
def town(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> sa.Engine:
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    feed = [acquire("K1", "2019-04-01", person=A),
            acquire("K2", "2019-04-01", branch="02", person=B)]  # fmt: skip
    import_changes(engine, write_csv(tmp_path / "changes1.csv", FEED_COLUMNS, feed))
    residents = []
    for n, (who, relationship) in enumerate(((A, "世帯主"), (B, "妻")), start=1):
        body = f"{66600000000 + n:011d}"
        residents.append({
            "resident_id": f"{n:011d}", "mynumber": body + str(mynumber_check(body)), **who,
            "municipality_code": TOWN, "household_id": "W1", "relationship": relationship,
            "household_since": "",
        })  # fmt: skip
    load_residents(engine, write_csv(tmp_path / "residents.csv", RESIDENT_COLUMNS, residents),
                   mynumber_key)  # fmt: skip
    pay = []
    for year, total in WITH_B.items():
        incomes = [
            {"fiscal_year": year, "resident_id": f"{n:011d}", "salary": 0, "pension": 0,
             "other": other, "declared": 1, "wage_earner": 0, "fixed_asset_tax": 0}
            for n, other in ((1, 800_000), (2, 0))
        ]  # fmt: skip
        load_incomes(engine, write_csv(tmp_path / f"i{year}.csv", INCOME_COLUMNS, incomes))
        run = assess_fiscal_year(engine, TOWN, year, dt.date(year, 6, 15))
        assert (run.total, run.reductions["5"]) == (total, 1)  # the hand computation above
        pay.append(payment(f"PAY{year}", "W1", year, f"{year}-09-30", total, municipality=TOWN))
    import_payments(engine, write_payments(tmp_path / "payments.csv", pay))
    row = acquire("E1", "2020-04-01", insurer=KYOKAI, number="5002", person=B,
                  decided_on="2023-04-20")  # fmt: skip
    report = import_changes(engine, write_csv(tmp_path / "kyokai.csv",
                                              [*FEED_COLUMNS, "decided_on"], [row]))  # fmt: skip
    assert report.rejected == 0, report.errors
    return engine


def test_a_year_dearer_without_the_member_is_left_as_charged_and_the_reduction_made(
    town: sa.Engine, tmp_path: Path
) -> None:
    audit = Audit()
    [case] = open_cases(town, TOWN, dt.date(2023, 5, 1), actor=CLERK, audit=audit)
    assert {y.fiscal_year: y.premium_of_months for y in case.years} == {
        year: WITH_B[year] - WITHOUT_B[year] for year in WITH_B
    }  # negative: B's months carried no premium of their own
    record_loss(town, case.case_id, dt.date(2023, 5, 1), tmp_path / "feed", actor=CLERK,
                audit=audit)  # fmt: skip
    evidence = Evidence("資格決定通知書", dt.date(2020, 4, 1), dt.date(2023, 4, 20), "日本年金機構")
    judge(town, case.case_id, dt.date(2023, 5, 10), no_fault=True, evidence=evidence,
          actor=CLERK, audit=audit)  # fmt: skip
    decided = decide(town, case.case_id, dt.date(2023, 5, 15), actor=CLERK, audit=audit)
    step = decided.current("reduction")
    assert step is not None
    years = {y["fiscal_year"]: y for y in step.detail["years"]}
    assert years[2020]["reduction"] == 0  # barred: §110-2(2) allows reductions only
    assert "増額" in years[2020]["reason"]
    assert step.detail["refund"] == 0 and step.detail["refunds"] == []
    # FY2021–FY2022 were within the limit: ① made the ordinary 更正, an 増額賦課, and ③ says
    # so instead of calling it a 減額 of −2,200 yen.
    for year in (2021, 2022):
        assert (years[year]["before"], years[year]["after"]) == (WITH_B[year], WITHOUT_B[year])
        assert years[year]["reduction"] == 0 and "増額賦課" in years[year]["reason"]
    assert step.detail["reduction"] == 0
    notice = reduction_notice(town, case.case_id, actor=CLERK, audit=audit)
    assert "-2,200円" not in notice and "増額賦課" in notice
