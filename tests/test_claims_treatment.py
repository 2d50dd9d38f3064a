"""Claims → the checkup programmes: 糖尿病 treatment status at the window's boundaries, fed to
``kokuho.checkups.nephropathy_referrals``, and the 一体的実施 interfaces."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from kokuho.checkups import Checkup, Items, Observation, nephropathy_referrals
from kokuho.checkups._integrated import polypharmacy
from kokuho.claims import ClaimsTreatment, diabetes_codes, load_prescribing_rules
from tests.claimrows import MemoryLake, claim, diagnosis, drug, master

FY = 2023
DIABETES_DX = "2500014"  # １型糖尿病 (in the rules' list)
MASTER = [
    master("620000001", "3961", name="メトホルミン錠"),
    master("620000002", "2492", name="インスリン注"),
    master("620000003", "2149", name="降圧薬錠"),
    master("620000004", "1124", name="睡眠薬錠"),
    master("699000121", "2499", name="GLP-1注"),  # listed by code in the rules
    master("620000005", "2499", name="他のホルモン剤"),  # same 薬効, not a diabetes drug
]


def key(number: str) -> str:
    return f"370015:01:{number}:01"


class Claims:
    def __init__(self) -> None:
        self.claims: list[dict[str, Any]] = []
        self.diagnoses: list[dict[str, Any]] = []
        self.drugs: list[dict[str, Any]] = []

    def visit(self, number: str, month: str, *, dx: str = "", drugs: tuple[str, ...] = (),
              receipt_type: str = "1112", **kw: Any) -> Claims:  # fmt: skip
        row = claim(f"c{len(self.claims)}:1", month, number=number, symbol="01",
                    receipt_type=receipt_type, **kw)  # fmt: skip
        self.claims.append(row)
        if dx:
            self.diagnoses.append(diagnosis(row, dx))
        self.drugs += [drug(row, code) for code in drugs]
        return self

    def lake(self) -> MemoryLake:
        return MemoryLake(claims=self.claims, claim_diagnoses=self.diagnoses,
                          claim_drugs=self.drugs, drug_master=MASTER)  # fmt: skip


def history() -> Claims:
    """Claims up to March 2024: the as-of month of FY2023 is 2024-03, the 6-month treatment
    window starts in 2023-10, the 36-month history before it in 2020-10."""
    return (
        Claims()
        .visit("1", "2024-01", drugs=("620000001",))  # 糖尿病用剤 in the window → 治療中
        .visit("2", "2023-06", dx=DIABETES_DX)  # diagnosis before the window → 治療中断
        .visit("3", "2024-02", dx="4011001")  # no 糖尿病 claim → 未治療
        .visit("4", "2023-10", drugs=("620000002",))  # insulin, first month of the window
        .visit("5", "2023-09", dx=DIABETES_DX)  # the month before the window → 中断
        .visit("6", "2020-09", dx=DIABETES_DX)  # before the history → 未治療
        .visit("7", "2020-10", dx=DIABETES_DX)  # first month of the history → 中断
        .visit("8", "2024-03")
        .visit("9", "2024-02", drugs=("699000121",))  # GLP-1 受容体作動薬 → 治療中
        .visit("10", "2024-02", drugs=("620000005",))  # another 2499 drug → 未治療
    )


def test_treatment_status_at_the_window_boundaries() -> None:
    treatment = ClaimsTreatment(history().lake())
    assert treatment.window(FY) == (dt.date(2020, 10, 1), dt.date(2023, 10, 1),
                                    dt.date(2024, 3, 1))  # fmt: skip
    states = {n: treatment.status(key(n), FY) for n in map(str, range(1, 11))}
    assert states == {
        "1": "treated", "2": "interrupted", "3": "untreated", "4": "treated",
        "5": "interrupted", "6": "untreated", "7": "interrupted", "8": "untreated",
        "9": "treated", "10": "untreated",
    }  # fmt: skip
    # Another 枝番 of the same 記号・番号 is another person.
    assert treatment.status("370015:01:1:02", FY) == "untreated"


def test_the_window_ends_at_the_lakes_last_month() -> None:
    # Claims only up to 2024-01: the window is 2023-08 … 2024-01, so a 2023-08 claim is 治療中.
    lake = Claims().visit("1", "2023-08", dx=DIABETES_DX).visit("2", "2023-07", dx=DIABETES_DX)
    lake.visit("3", "2024-01")
    treatment = ClaimsTreatment(lake.lake())
    assert treatment.window(FY)[1:] == (dt.date(2023, 8, 1), dt.date(2024, 1, 1))  # type: ignore[index]
    assert (treatment.status(key("1"), FY), treatment.status(key("2"), FY)) == (
        "treated", "interrupted",
    )  # fmt: skip
    # The rules file sets the windows.
    rules = dataclasses.replace(load_prescribing_rules(), interruption_months=7)
    assert ClaimsTreatment(lake.lake(), rules=rules).status(key("2"), FY) == "treated"


def test_without_claims_everything_is_unknown() -> None:
    treatment = ClaimsTreatment(MemoryLake())
    assert treatment.status(key("1"), FY) == "unknown"
    assert treatment.drug_count(key("1"), FY) is None
    assert treatment.sleeping_pills(key("1"), FY) is None
    assert treatment.has_claims(key("1"), FY - 1, FY) is None
    assert treatment.visited_dentist(key("1"), dt.date(2023, 4, 1), dt.date(2024, 3, 31)) is None


def checkup(number: str, *, hba1c: float, egfr: float) -> Checkup:
    items = [
        Observation(code=Items.HBA1C[0], kind="PQ", value=f"{hba1c:g}", unit="%"),
        Observation(code=Items.EGFR[0], kind="PQ", value=f"{egfr:g}", unit="ml/min/1.73m2"),
    ]
    return Checkup(
        document=f"DATA/h{number}.xml", insurer="00370015", symbol="01", number=number,
        branch="01", sex=1, birth_date=dt.date(1955, 5, 5), exam_date=dt.date(2023, 9, 1),
        institution="3710100011", observations={o.code: o for o in items},
    )  # fmt: skip


def test_nephropathy_referrals_with_claims() -> None:
    treatment = ClaimsTreatment(history().lake())
    checkups = [checkup(n, hba1c=7.0, egfr=25) for n in "123"]
    listing = nephropathy_referrals(checkups, fiscal_year=FY, treatment=treatment)
    assert [(c.person_key, c.treatment, c.action) for c in listing.candidates] == [
        (key("2"), "interrupted", "受診勧奨 (治療中断)"),
        (key("3"), "untreated", "受診勧奨 (未治療)"),
    ]
    assert all(c.unverified == () for c in listing.candidates)
    assert any("治療中の 1 人" in note for note in listing.notes)


def test_prescriptions_dental_visits_and_claims_history() -> None:
    lake = (
        Claims()
        # Person 1: 15 distinct 薬効 in May (14 days each), a 睡眠薬 in June.
        .visit("1", "2023-06", drugs=("620000004",))
        .visit("2", "2023-05", receipt_type="3112", first_day="2023-05-10", last_day="2023-05-10")
        .visit("3", "2022-05")
    )
    many = [master(f"63000{i:04d}", f"{2100 + i}") for i in range(15)]
    row = claim("many:1", "2023-05", number="1", symbol="01")
    lake.claims.append(row)
    lake.drugs += [drug(row, m["code"]) for m in many]
    memory = MemoryLake(claims=lake.claims, claim_diagnoses=lake.diagnoses,
                        claim_drugs=lake.drugs, drug_master=MASTER + many)  # fmt: skip
    treatment = ClaimsTreatment(memory)
    assert (treatment.drug_count(key("1"), FY), treatment.drug_count(key("2"), FY)) == (15, 0)
    assert treatment.drug_count(key("1"), FY + 1) is None  # no claims of FY2024 yet
    assert (treatment.sleeping_pills(key("1"), FY), treatment.sleeping_pills(key("3"), FY)) == (
        True, False,
    )  # fmt: skip
    # 歯科: the visit of 2023-05-10 is inside 05-10 … and outside … 05-09.
    assert treatment.visited_dentist(key("2"), dt.date(2023, 5, 10), dt.date(2023, 6, 1))
    assert treatment.visited_dentist(key("2"), dt.date(2022, 5, 10), dt.date(2023, 5, 9)) is False
    assert treatment.visited_dentist(key("1"), dt.date(2022, 5, 10), dt.date(2024, 5, 9)) is False
    assert treatment.has_claims(key("3"), FY, FY) is False
    assert treatment.has_claims(key("3"), FY - 1, FY) is True
    # The 一体的実施 list takes the counts from claims.
    listing = polypharmacy([key("1"), key("2")], fiscal_year=FY, prescriptions=treatment)
    assert listing.keys() == [key("1")]


def test_diabetes_codes_from_a_disease_master() -> None:
    @dataclasses.dataclass
    class Row:
        code: str
        icd10: str

    rows = [Row("2500014", "E10"), Row("8840107", "e11.9"), Row("4011001", "I10"), Row("1", "")]
    assert diabetes_codes(rows) == {"2500014", "8840107"}
    lake = Claims().visit("1", "2024-03", dx="8840107").lake()
    assert ClaimsTreatment(lake).status(key("1"), FY) == "untreated"
    assert ClaimsTreatment(lake, diagnoses=diabetes_codes(rows)).status(key("1"), FY) == "treated"
