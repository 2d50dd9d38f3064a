"""一体的実施 lists with 介護 data: 要介護認定 and 介護 services, through the care side's
:class:`kokuho.care.CareStatus`. Every case is worked by hand from the rules:

- 健康状態不明者 (KDB 一体的実施・KDB活用支援ツール): no 健診 in 抽出年度 and the year before, no
  レセプト, **要介護認定なし**; kokuho reads the 認定 over the same two fiscal years (FY2022–
  FY2023: 2022-04-01 to 2024-03-31), 非該当 is no 認定, and a 介護給付費 claim in those months
  counts as 介護 contact (data/programme_rules.yaml, unconfirmed rules);
- 低栄養 (BMI ≦ 20 かつ 質問票⑥ 該当) shows the 区分 in force on the day of the answers:
  要支援 → 地域包括支援センター (介護予防), 要介護 → ケアマネジャー.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources

from kokuho.care import CareStatus, Certification
from kokuho.checkups._integrated import (
    ElderlyRecord,
    integrated_lists,
    low_nutrition,
    oral,
    physical_frailty,
    unknown_health_status,
)
from kokuho.checkups._programmes import ProgrammeRules, load_rules, parse_rules

FY = 2023
ANSWERED = dt.date(2023, 9, 1)
INSURER = "372011"  # 介護保険 保険者番号 (synthetic)


def rules_with(*replacements: tuple[str, str]) -> ProgrammeRules:
    text = resources.files("kokuho").joinpath("data/programme_rules.yaml").read_text("utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return parse_rules(text)


def cert(number: str, level: str, start: dt.date, end: dt.date) -> Certification:
    return Certification(INSURER, number, "国保 花子", "コクホ ハナコ", dt.date(1940, 5, 5), 2,
                         "香川県高松市番町1-1", level, start, start, end)  # fmt: skip


def status(
    certs: list[tuple[str, str, dt.date, dt.date]],
    months: list[tuple[str, dt.date]] = (),  # type: ignore[assignment]
) -> CareStatus:
    """Person key ``k<n>`` holds 介護 number ``<n>`` (zero-padded to 10 digits)."""
    numbers = {c[0] for c in certs} | {m[0] for m in months}
    persons = {(INSURER, n.zfill(10)): [f"k{n}"] for n in numbers}
    return CareStatus(
        [cert(n.zfill(10), level, start, end) for n, level, start, end in certs],
        [(INSURER, n.zfill(10), month) for n, month in months],
        persons,
    )


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


class NoClaims:
    def has_claims(self, person_key: str, first: int, last: int) -> bool | None:
        return False


def unknown(people: list[str], care: CareStatus, rules: ProgrammeRules | None = None) -> list[str]:
    found = unknown_health_status(
        people, fiscal_year=FY, examined={}, claims=NoClaims(), care=care, rules=rules
    )
    return found.keys()


# -- the care side ---------------------------------------------------------------------------
def test_care_status_answers_by_person_key_and_day() -> None:
    care = status(
        [("1", "12", d("2022-09-01"), d("2023-08-31")),  # 要支援1
         ("1", "13", d("2023-09-01"), d("2024-08-31")),  # renewed as 要支援2
         ("2", "01", d("2023-04-01"), d("2024-03-31"))],  # 非該当
        [("3", d("2023-06-01"))],
    )  # fmt: skip
    assert care.care_level("k1", d("2023-08-31")) == "要支援1"
    assert care.care_level("k1", d("2023-09-01")) == "要支援2"
    assert care.care_level("k1", d("2022-08-31")) == ""
    assert care.care_level("k2", d("2023-09-01")) == "非該当"
    assert care.care_level("nobody", d("2023-09-01")) == ""
    # 非該当 is no 認定; overlap is inclusive at both ends.
    assert care.certified_between("k2", d("2022-04-01"), d("2024-03-31")) is False
    assert care.certified_between("k1", d("2024-08-31"), d("2025-03-31")) is True
    assert care.certified_between("k1", d("2024-09-01"), d("2025-03-31")) is False
    # サービス提供年月 June 2023: inside a period from any day of June, not from July.
    assert care.used_services("k3", d("2023-06-30"), d("2023-12-31")) is True
    assert care.used_services("k3", d("2023-07-01"), d("2023-12-31")) is False
    assert care.used_services("k1", d("2022-04-01"), d("2024-03-31")) is False


def test_care_status_without_data_knows_nothing() -> None:
    care = CareStatus([], [], {})
    assert care.care_level("k1", ANSWERED) is None
    assert care.certified_between("k1", ANSWERED, ANSWERED) is None
    assert care.used_services("k1", ANSWERED, ANSWERED) is None


def test_unlinked_care_number_says_nothing_about_anyone() -> None:
    care = CareStatus([cert("0000000009", "21", d("2023-04-01"), d("2024-03-31"))], [], {})
    assert care.certified_between("k9", d("2022-04-01"), d("2024-03-31")) is False
    assert unknown(["k9"], care) == ["k9"]


# -- 健康状態不明者 --------------------------------------------------------------------------
def test_only_care_use_is_not_unknown_status() -> None:
    # No 健診, no レセプト, but a 介護 claim for June 2023 (its 認定 not loaded): known to 介護.
    care = status([], [("1", d("2023-06-01"))])
    assert unknown(["k1", "k2"], care) == ["k2"]
    # When claims do not count (a local rule), only the 認定 decides.
    strict = rules_with(("care_services_count: {value: true", "care_services_count: {value: false"))
    assert unknown(["k1"], care, strict) == ["k1"]


def test_certification_window_is_the_two_fiscal_years() -> None:
    care = status([
        ("1", "12", d("2020-04-01"), d("2022-03-31")),  # ended the day before FY2022: listed
        ("2", "12", d("2020-04-01"), d("2022-04-01")),  # in force on FY2022's first day
        ("3", "25", d("2024-03-31"), d("2025-03-31")),  # from FY2023's last day
        ("4", "25", d("2024-04-01"), d("2025-03-31")),  # from the day after: listed
        ("5", "01", d("2022-04-01"), d("2024-03-31")),  # 非該当 is no 認定: listed
    ])  # fmt: skip
    assert unknown(["k1", "k2", "k3", "k4", "k5"], care) == ["k1", "k4", "k5"]
    listed = unknown_health_status(
        ["k1"], fiscal_year=FY, examined={}, claims=NoClaims(), care=care
    ).candidates[0]
    assert listed.unverified == ()
    assert listed.reasons[-1].text == "2022-04-01〜2024-03-31 要介護認定・介護サービス利用なし"


def test_service_months_at_the_window_edges() -> None:
    care = status([], [("1", d("2022-03-01")), ("2", d("2022-04-01")), ("3", d("2024-03-01")),
                       ("4", d("2024-04-01"))])  # fmt: skip
    assert unknown(["k1", "k2", "k3", "k4"], care) == ["k1", "k4"]


def test_care_window_follows_the_rules() -> None:
    one_year = rules_with(("care_fiscal_years: {value: 2", "care_fiscal_years: {value: 1"))
    care = status([("1", "21", d("2021-04-01"), d("2023-03-31"))])
    assert unknown(["k1"], care) == []
    assert unknown(["k1"], care, one_year) == ["k1"]  # FY2023 only: 2023-04-01 on
    assert "elderly.unknown_status.care_fiscal_years" in load_rules().unconfirmed["unknown_status"]


def test_care_not_loaded_leaves_the_condition_unverified() -> None:
    listed = unknown_health_status(
        ["k1"], fiscal_year=FY, examined={}, claims=NoClaims(), care=CareStatus([], [], {})
    )
    assert listed.keys() == ["k1"]
    assert listed.candidates[0].unverified == ("要介護認定・介護サービス (2022-04-01〜2024-03-31)",)
    assert any("要介護認定の有無" in note for note in listed.notes)


# -- 低栄養 and the other questionnaire lists ------------------------------------------------
def answers(person: str, bmi: float, **q: int) -> ElderlyRecord:
    return ElderlyRecord(person, ANSWERED, {int(k[1:]): v for k, v in q.items()}, bmi)


def test_low_nutrition_flags_support_and_care_levels_on_the_day_of_the_answers() -> None:
    care = status([
        ("1", "13", d("2023-04-01"), d("2024-03-31")),  # 要支援2 on 2023-09-01
        ("2", "12", d("2022-09-01"), d("2023-08-31")),  # ended the day before
        ("3", "23", d("2023-09-01"), d("2024-08-31")),  # 要介護3 from that very day
        ("4", "01", d("2023-04-01"), d("2024-03-31")),  # 非該当
        ("5", "12", d("2023-04-01"), d("2024-03-31")),  # 要支援1 but BMI 20.1
    ])  # fmt: skip
    records = [answers("k1", 20.0, q6=1), answers("k2", 19.0, q6=1), answers("k3", 18.5, q6=1),
               answers("k4", 19.9, q6=1), answers("k5", 20.1, q6=1)]  # fmt: skip
    found = {c.person_key: c for c in low_nutrition(records, fiscal_year=FY, care=care).candidates}
    assert sorted(found) == ["k1", "k2", "k3", "k4"]  # 介護 adds nobody: k5's BMI is over 20
    assert found["k1"].reasons[-1].criterion == "support_level"
    assert found["k1"].reasons[-1].text == "要支援2 (2023-09-01 時点)"
    assert found["k1"].action == "地域包括支援センターと連携 (介護予防ケアマネジメント)"
    assert [r.criterion for r in found["k2"].reasons] == ["bmi", "q6"] and found["k2"].action == ""
    assert found["k3"].reasons[-1].text == "要介護3 (2023-09-01 時点)"
    assert found["k3"].action == "担当の介護支援専門員 (ケアマネジャー) と連携"
    assert [r.criterion for r in found["k4"].reasons] == ["bmi", "q6"]
    assert "care_flags.lists" in load_rules().unconfirmed["low_nutrition"]


def test_flags_only_on_the_lists_the_rules_name() -> None:
    care = status([("1", "12", d("2023-04-01"), d("2024-03-31"))])
    frail = physical_frailty([answers("k1", 22.0, q1=4, q7=1)], fiscal_year=FY, care=care)
    assert frail.candidates[0].action != ""
    only_low = rules_with(
        ("lists: {value: [low_nutrition, oral, physical_frailty]", "lists: {value: [low_nutrition]")
    )
    frail = physical_frailty(
        [answers("k1", 22.0, q1=4, q7=1)], fiscal_year=FY, care=care, rules=only_low
    )
    assert frail.candidates[0].action == "" and frail.notes == ()


def test_questionnaire_lists_say_when_care_is_not_known() -> None:
    found = oral([answers("k1", 22.0, q4=1)], fiscal_year=FY)
    assert found.keys() == ["k1"]
    assert "要介護認定が不明な 1 人を含む (介護データ未連携)" in found.notes


def test_integrated_lists_pass_care_to_every_list_that_uses_it() -> None:
    care = status([("1", "12", d("2023-04-01"), d("2024-03-31"))], [("2", d("2023-05-01"))])
    records = [answers("k1", 19.0, q6=1, q1=4, q7=1)]
    lists = integrated_lists(
        records, ["k1", "k2", "k3"], fiscal_year=FY, examined={}, history=NoClaims(), care=care
    )
    assert lists["low_nutrition"].candidates[0].action.startswith("地域包括支援センター")
    assert lists["physical_frailty"].candidates[0].action.startswith("地域包括支援センター")
    assert lists["unknown_status"].keys() == ["k3"]
