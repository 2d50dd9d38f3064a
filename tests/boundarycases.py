"""The double-payment scenario of the boundary tests, built through the real files.

高松市 (372013), synthetic rules data/premiums/municipal/fy20XX/372013.yaml (the 基礎控除 is
national: 330,000 in FY2020, 430,000 from FY2021). P, born 1991-05-15 (age 28–31: no 介護分),
lives alone (household W1) with 給与所得 3,000,000 every year, on 国保 from 2019-04-01.
Each 本算定 is paid in full in September.

By hand, parts floored to 100 yen (no 軽減: far above the 2割 threshold; caps far above):
- FY2020 医療 (3,000,000 − 330,000) × 8.27 % = 220,809 + 26,700 + 24,000 = 271,509 → 271,500;
  支援 2,670,000 × 2.44 % = 65,148 + 8,200 + 6,300 = 79,648 → 79,600; year 351,100.
- FY2021 医療 2,570,000 × 8.39 % = 215,623 + 27,100 + 24,300 = 267,023 → 267,000;
  支援 2,570,000 × 2.48 % = 63,736 + 8,300 + 6,400 = 78,436 → 78,400; year 345,400.
- FY2022 医療 2,570,000 × 8.52 % = 218,964 + 27,500 + 24,700 = 271,164 → 271,100;
  支援 2,570,000 × 2.52 % = 64,764 + 8,500 + 6,500 = 79,764 → 79,700; year 350,800.

In April 2023 協会けんぽ enrols P retroactively: 資格取得日 2020-04-01, 資格決定日 2023-04-20
(an employer that never enrolled its staff). 36 months (April 2020 – March 2023) were paid to
both; the 国保 loss is dated 2020-04-01, so P (alone) leaves W1 for the three whole years.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.ids import mynumber_check
from kokuho.premiums import assess_fiscal_year, import_payments, load_incomes
from kokuho.registry import import_changes, load_insurers, load_residents
from tests.feedfiles import FEED_COLUMNS, KYOKAI, acquire, write_csv, write_insurers
from tests.premiumrows import payment, write_payments

TOWN = "372013"
YEARS = {2020: 351_100, 2021: 345_400, 2022: 350_800}
EMPLOYEE_ACQUIRED = dt.date(2020, 4, 1)
EMPLOYEE_DECIDED = dt.date(2023, 4, 20)
P = {
    "name_kanji": "讃岐 一郎",
    "name_kana": "サヌキ イチロウ",
    "birth_date": "1991-05-15",
    "sex": "1",
    "address": "香川県高松市番町1丁目1番1号",
}
RESIDENT_COLUMNS = [
    "resident_id", "mynumber", "name_kanji", "name_kana", "birth_date", "sex", "address",
    "municipality_code", "household_id", "relationship", "household_since",
]  # fmt: skip
INCOME_COLUMNS = [
    "fiscal_year", "resident_id", "salary", "pension", "other", "declared", "wage_earner",
    "fixed_asset_tax",
]  # fmt: skip


class Audit:
    """Collects the audit calls (the CLI tests use the service's real hash-chained log)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[int]]] = []

    def __call__(
        self, action: str, actor: str, person_ids: Sequence[int], detail: Mapping[str, Any]
    ) -> None:
        self.calls.append((action, actor, list(person_ids)))


def build_town(engine: sa.Engine, tmp_path: Path, mynumber_key: bytes) -> None:
    """P on 国保 with FY2020–2022 assessed and paid (nothing of 協会けんぽ yet)."""
    load_insurers(engine, write_insurers(tmp_path / "insurers.csv"))
    feed = [acquire("K1", "2019-04-01", person=P)]
    import_changes(engine, write_csv(tmp_path / "changes1.csv", FEED_COLUMNS, feed))
    body = "66600000001"
    resident = {
        "resident_id": "00000000001", "mynumber": body + str(mynumber_check(body)), **P,
        "municipality_code": TOWN, "household_id": "W1", "relationship": "世帯主",
        "household_since": "",
    }  # fmt: skip
    residents = write_csv(tmp_path / "residents.csv", RESIDENT_COLUMNS, [resident])
    load_residents(engine, residents, mynumber_key)
    for year in YEARS:  # one income file per fiscal year
        income = {"fiscal_year": year, "resident_id": "00000000001", "salary": 3_000_000,
                  "pension": 0, "other": 0, "declared": 1, "wage_earner": 1,
                  "fixed_asset_tax": 0}  # fmt: skip
        load_incomes(engine, write_csv(tmp_path / f"incomes{year}.csv", INCOME_COLUMNS, [income]))
    pay = []
    for year, total in YEARS.items():
        run = assess_fiscal_year(engine, TOWN, year, dt.date(year, 6, 15))
        assert run.total == total  # the hand computation above
        pay.append(payment(f"PAY{year}", "W1", year, f"{year}-09-30", total, municipality=TOWN))
    import_payments(engine, write_payments(tmp_path / "payments.csv", pay))


def enrol_employee(engine: sa.Engine, tmp_path: Path, decided_on: str = "2023-04-20") -> None:
    """協会けんぽ's retroactive enrolment of P, with its 資格決定日."""
    row = acquire(
        "E1", EMPLOYEE_ACQUIRED.isoformat(), insurer=KYOKAI, number="5001", person=P,
        decided_on=decided_on,
    )  # fmt: skip
    path = write_csv(tmp_path / "kyokai.csv", [*FEED_COLUMNS, "decided_on"], [row])
    report = import_changes(engine, path)
    assert report.rejected == 0, report.errors
