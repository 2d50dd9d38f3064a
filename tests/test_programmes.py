"""保健事業 target lists: worked cases for every criterion and its boundary, the
blood-drawing-time rule, the claims interfaces and their defaults."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from importlib import resources

import pytest

from kokuho.checkups import Checkup, Items, Observation
from kokuho.checkups._integrated import (
    ElderlyRecord,
    integrated_lists,
    low_nutrition,
    oral,
    physical_frailty,
    polypharmacy,
    risk_questions,
    sleeping_pills,
    unknown_health_status,
)
from kokuho.checkups._programmes import (
    NOT_CONNECTED,
    CareRecords,
    ClaimsHistory,
    DentalVisits,
    NotConnected,
    Prescriptions,
    ProgrammeRules,
    TreatmentState,
    TreatmentStatus,
    insured_key,
    load_rules,
    nephropathy_referrals,
    parse_rules,
)

FY = 2023
DAY = dt.date(2023, 9, 1)


def rules_with(*replacements: tuple[str, str]) -> ProgrammeRules:
    text = resources.files("kokuho").joinpath("data/programme_rules.yaml").read_text("utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return parse_rules(text)


def pq(code: str, value: float, unit: str = "") -> Observation:
    return Observation(code=code, kind="PQ", value=f"{value:g}", unit=unit)


def co(code: str, value: int | str) -> Observation:
    return Observation(code=code, kind="CO", value=str(value), code_system="1.2.392.200119.6")


def checkup(
    number: str = "1",
    *,
    day: dt.date = DAY,
    hba1c: float | None = None,
    fasting: float | None = None,
    random: float | None = None,
    timing: str | None = None,
    egfr: float | None = None,
    protein: int | None = None,
    medication: int | None = None,
    document: str = "DATA/h1.xml",
) -> Checkup:
    items: list[Observation] = []
    if hba1c is not None:
        items.append(pq(Items.HBA1C[0], hba1c, "%"))
    if fasting is not None:
        items.append(pq(Items.GLUCOSE_FASTING[0], fasting, "mg/dl"))
    if random is not None:
        items.append(pq(Items.GLUCOSE_RANDOM[0], random, "mg/dl"))
    if timing is not None:
        items.append(co(Items.BLOOD_DRAW_TIMING[0], timing))
    if egfr is not None:
        items.append(pq(Items.EGFR[0], egfr, "ml/min/1.73m2"))
    if protein is not None:
        items.append(co(Items.URINE_PROTEIN[0], protein))
    if medication is not None:
        items.append(co(Items.MEDICATION_GLUCOSE[0], medication))
    return Checkup(
        document=document,
        insurer="00370015",
        symbol="01",
        number=number,
        branch="01",
        sex=1,
        birth_date=dt.date(1955, 5, 5),
        exam_date=day,
        institution="3710100011",
        observations={o.code: o for o in items},
    )


def listed(*checkups: Checkup, rules: ProgrammeRules | None = None, **kw: object) -> list[str]:
    result = nephropathy_referrals(checkups, fiscal_year=FY, rules=rules, **kw)  # type: ignore[arg-type]
    return [c.person_key.split(":")[2] for c in result.candidates]


# -- 糖尿病性腎症重症化予防 ----------------------------------------------------------------
def test_hba1c_boundary() -> None:
    assert listed(checkup("a", hba1c=6.5, egfr=20)) == ["a"]
    assert listed(checkup("a", hba1c=6.4, egfr=20)) == []


def test_fasting_glucose_boundary_and_timing() -> None:
    assert listed(checkup("a", fasting=126, timing="2", egfr=20)) == ["a"]
    assert listed(checkup("a", fasting=125, timing="2", egfr=20)) == []
    # A fasting code without a 9N141 answer counts as fasting (configurable) …
    assert listed(checkup("a", fasting=126, egfr=20)) == ["a"]
    strict = rules_with(
        ("fasting_code_without_timing: {value: true", "fasting_code_without_timing: {value: false")
    )
    assert listed(checkup("a", fasting=126, egfr=20), rules=strict) == []
    # … the timing answer wins over the code: 3.5–10 h makes it a random value, <3.5 h none.
    assert listed(checkup("a", fasting=126, timing="3", egfr=20)) == ["a"]
    assert listed(checkup("a", fasting=200, timing="4", egfr=20)) == []


def test_random_glucose_needs_3_5_to_10_hours() -> None:
    assert listed(checkup("a", random=126, timing="3", egfr=20)) == ["a"]
    assert listed(checkup("a", random=125, timing="3", egfr=20)) == []
    assert listed(checkup("a", random=300, timing="4", egfr=20)) == []  # 食直後
    assert listed(checkup("a", random=300, egfr=20)) == []  # no timing: not shown outside 食直後
    reasons = (
        nephropathy_referrals([checkup("a", random=130, timing="3", egfr=20)], fiscal_year=FY)
        .candidates[0]
        .reasons
    )
    assert [r.criterion for r in reasons] == ["glucose_random", "egfr"]


def test_medication_answer_counts_as_diabetes_when_configured() -> None:
    assert listed(checkup("a", medication=1, egfr=20)) == ["a"]
    assert listed(checkup("a", medication=2, egfr=20)) == []
    off = rules_with(
        ("medication_answer_counts: {value: true", "medication_answer_counts: {value: false")
    )
    assert listed(checkup("a", medication=1, egfr=20), rules=off) == []


def test_egfr_boundary_and_looser_threshold() -> None:
    assert listed(checkup("a", hba1c=7.0, egfr=29.9)) == ["a"]
    assert listed(checkup("a", hba1c=7.0, egfr=30)) == []
    loose = rules_with(("egfr_below: {value: 30,", "egfr_below: {value: 45,"))
    assert listed(checkup("a", hba1c=7.0, egfr=44.9), rules=loose) == ["a"]
    assert listed(checkup("a", hba1c=7.0, egfr=45), rules=loose) == []


def test_urine_protein_positive_and_looser_threshold() -> None:
    assert listed(checkup("a", hba1c=7.0, protein=3)) == ["a"]  # +
    assert listed(checkup("a", hba1c=7.0, protein=5)) == ["a"]  # +++
    assert listed(checkup("a", hba1c=7.0, protein=2)) == []  # ±
    loose = rules_with(('urine_protein_min: {value: "+"', 'urine_protein_min: {value: "±"'))
    assert listed(checkup("a", hba1c=7.0, protein=2), rules=loose) == ["a"]
    assert listed(checkup("a", hba1c=7.0, protein=1), rules=loose) == []


def test_both_criteria_are_needed() -> None:
    assert listed(checkup("a", hba1c=8.0, egfr=60, protein=1)) == []
    assert listed(checkup("a", hba1c=5.5, egfr=10, protein=5)) == []


def test_egfr_decline_when_enabled() -> None:
    before = checkup("a", day=dt.date(2022, 9, 1), egfr=70)
    now = checkup("a", hba1c=7.0, egfr=55)
    assert listed(now, previous=[before]) == []
    on = rules_with(("egfr_decline: {enabled: false", "egfr_decline: {enabled: true"))
    assert listed(now, previous=[before], rules=on) == ["a"]
    slow = checkup("a", day=dt.date(2022, 9, 1), egfr=58)
    assert listed(now, previous=[slow], rules=on) == []


def test_last_checkup_of_the_year_decides_and_other_years_are_ignored() -> None:
    early = checkup("a", day=dt.date(2023, 5, 1), hba1c=7.0, egfr=20, document="DATA/h1.xml")
    later = checkup("a", day=dt.date(2023, 11, 1), hba1c=6.0, egfr=20, document="DATA/h2.xml")
    assert listed(early, later) == []
    last_year = checkup("b", day=dt.date(2023, 3, 31), hba1c=7.0, egfr=20)
    assert listed(last_year) == []


class Treatment:
    def __init__(self, states: dict[str, TreatmentState]) -> None:
        self.states = states

    def status(self, person_key: str, fiscal_year: int) -> TreatmentState:
        assert fiscal_year == FY
        return self.states.get(person_key.split(":")[2], "untreated")


def test_treatment_status_from_claims() -> None:
    people = [checkup(n, hba1c=7.0, egfr=20) for n in ("t", "i", "u")]
    result = nephropathy_referrals(
        people, fiscal_year=FY, treatment=Treatment({"t": "treated", "i": "interrupted"})
    )
    assert [(c.person_key.split(":")[2], c.action) for c in result.candidates] == [
        ("i", "受診勧奨 (治療中断)"),
        ("u", "受診勧奨 (未治療)"),
    ]
    assert all(c.unverified == () for c in result.candidates)
    assert any("治療中の 1 人" in note for note in result.notes)


def test_treatment_defaults_to_unknown_and_the_list_says_so() -> None:
    result = nephropathy_referrals([checkup("a", hba1c=7.0, egfr=20)], fiscal_year=FY)
    (candidate,) = result.candidates
    assert candidate.treatment == "unknown"
    assert candidate.action == "受診勧奨 (治療状況未確認)"
    assert candidate.unverified == ("治療状況 (レセプト)",)
    assert any("治療状況が不明な 1 人" in note for note in result.notes)
    assert candidate.source == "DATA/h1.xml"


def test_names_are_carried_but_never_printed() -> None:
    person = insured_key(checkup("a"))
    assert person == "370015:01:a:01"  # the V08 zero padding is not part of the key
    result = nephropathy_referrals(
        [checkup("a", hba1c=7.0, egfr=20)], fiscal_year=FY, names={person: "香川　花子"}
    )
    (candidate,) = result.candidates
    assert candidate.name == "香川　花子"
    assert "香川" not in repr(candidate) and "香川" not in repr(result)


# -- 一体的実施: the questionnaire ---------------------------------------------------------------
def record(person: str = "p", bmi: float | None = 22.0, **answers: int) -> ElderlyRecord:
    return ElderlyRecord(
        person_key=person,
        answered_on=DAY,
        answers={int(k[1:]): v for k, v in answers.items()},
        bmi=bmi,
    )


def test_questionnaire_has_15_questions_and_configurable_risk_answers() -> None:
    rules = load_rules()
    questions = rules.elderly.questions
    assert sorted(questions) == list(range(1, 16))
    assert questions[1].answers[5] == "よくない" and questions[1].risk == {4, 5}
    assert questions[12].answers == {1: "吸っている", 2: "吸っていない", 3: "やめた"}
    worst = record(q1=5, q2=4, q3=2, q4=1, q5=1, q6=1, q7=1, q8=1, q9=2, q10=1, q11=1, q12=1,
                   q13=2, q14=2, q15=2)  # fmt: skip
    assert risk_questions(worst) == list(range(1, 16))
    best = record(q1=1, q2=1, q3=1, q4=2, q5=2, q6=2, q7=2, q8=2, q9=1, q10=2, q11=2, q12=2,
                  q13=1, q14=1, q15=1)  # fmt: skip
    assert risk_questions(best) == []
    changed = rules_with(("risk: [3, 4]}", "risk: [4]}"))
    assert risk_questions(record(q2=3), changed) == []
    assert "elderly.questions (risk answers)" in rules.unconfirmed["low_nutrition"]


def test_low_nutrition_bmi_boundary() -> None:
    def keys(*records: ElderlyRecord) -> list[str]:
        return low_nutrition(records, fiscal_year=FY).keys()

    assert keys(record("a", bmi=20.0, q6=1)) == ["a"]
    assert keys(record("a", bmi=20.1, q6=1)) == []
    assert keys(record("a", bmi=18.0, q6=2)) == []
    assert keys(record("a", bmi=None, q6=1)) == []
    (candidate,) = low_nutrition([record("a", bmi=19.5, q6=1)], fiscal_year=FY).candidates
    assert [r.criterion for r in candidate.reasons] == ["bmi", "q6"]
    assert candidate.reasons[1].text == "質問票⑥(体重変化) はい"


class Dental:
    def __init__(self, answer: bool | None) -> None:
        self.answer = answer
        self.asked: list[tuple[str, dt.date, dt.date]] = []

    def visited_dentist(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        self.asked.append((person_key, first, last))
        return self.answer


def test_oral_needs_q4_or_q5_and_no_dental_visit_in_a_year() -> None:
    none = Dental(False)
    result = oral([record("a", q4=1), record("b", q5=1), record("c", q4=2, q5=2)],
                  fiscal_year=FY, dental=none)  # fmt: skip
    assert result.keys() == ["a", "b"]
    assert all(c.unverified == () for c in result.candidates)
    assert ("a", dt.date(2022, 9, 2), DAY) in none.asked  # the year before the answer
    assert oral([record("a", q4=1)], fiscal_year=FY, dental=Dental(True)).keys() == []
    unknown = oral([record("a", q4=1, q5=1)], fiscal_year=FY)
    assert unknown.keys() == ["a"]
    assert unknown.candidates[0].unverified[0].startswith("歯科受診")
    assert unknown.notes
    strict = rules_with(("include_unverified: {value: true", "include_unverified: {value: false"))
    assert oral([record("a", q4=1)], fiscal_year=FY, rules=strict).keys() == []


class Pills:
    def __init__(self, count: int | None, sleeping: bool | None) -> None:
        self.count, self.sleeping = count, sleeping

    def drug_count(self, person_key: str, fiscal_year: int) -> int | None:
        return self.count

    def sleeping_pills(self, person_key: str, fiscal_year: int) -> bool | None:
        return self.sleeping


def test_polypharmacy_threshold_and_unknown() -> None:
    assert polypharmacy(["a"], fiscal_year=FY, prescriptions=Pills(15, None)).keys() == ["a"]
    assert polypharmacy(["a"], fiscal_year=FY, prescriptions=Pills(14, None)).keys() == []
    unknown = polypharmacy(["a", "b"], fiscal_year=FY)
    assert unknown.keys() == [] and "2 人" in unknown.notes[0]
    twenty = rules_with(("min_drugs: {value: 15,", "min_drugs: {value: 20,"))
    assert (
        polypharmacy(["a"], fiscal_year=FY, prescriptions=Pills(19, None), rules=twenty).keys()
        == []
    )


def test_sleeping_pills_with_falls_or_both_cognition_items() -> None:
    yes = Pills(None, True)

    def keys(*records: ElderlyRecord, pills: Prescriptions = yes) -> list[str]:
        return sleeping_pills(records, fiscal_year=FY, prescriptions=pills).keys()

    assert keys(record("a", q8=1)) == ["a"]
    assert keys(record("a", q10=1, q11=1)) == ["a"]
    assert keys(record("a", q10=1, q11=2)) == []  # both cognition items are needed
    assert keys(record("a", q8=2, q10=1)) == []
    assert keys(record("a", q8=1), pills=Pills(None, False)) == []
    unknown = sleeping_pills([record("a", q8=1)], fiscal_year=FY)
    assert unknown.keys() == ["a"] and unknown.candidates[0].unverified == (
        "睡眠薬の処方 (レセプト)",
    )


def test_physical_frailty_and_or() -> None:
    def keys(rules: ProgrammeRules | None = None, **answers: int) -> list[str]:
        return physical_frailty([record("a", **answers)], fiscal_year=FY, rules=rules).keys()

    assert keys(q1=4, q7=1) == ["a"]
    assert keys(q1=5, q7=1) == ["a"]
    assert keys(q1=3, q7=1) == []  # ふつう is not a risk answer
    assert keys(q7=1) == []  # AND by default (UNCONFIRMED)
    either = rules_with(("combine: {value: and,", "combine: {value: or,"))
    assert keys(either, q7=1) == ["a"]
    assert keys(either, q1=4, q7=2) == ["a"]
    assert keys(either, q1=2, q7=2) == []
    assert "elderly.physical_frailty.combine" in load_rules().unconfirmed["physical_frailty"]


class History:
    def __init__(self, claims: bool | None, certified: bool | None) -> None:
        self.claims, self.care = claims, certified
        self.asked: list[tuple[int, int]] = []

    def has_claims(self, person_key: str, first: int, last: int) -> bool | None:
        self.asked.append((first, last))
        return self.claims

    def certified_between(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        return self.care

    def used_services(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        return self.care

    def care_level(self, person_key: str, on: dt.date) -> str | None:
        return None if self.care is None else "要支援1" if self.care else ""


def test_unknown_health_status() -> None:
    examined: dict[str, Collection[int]] = {
        "last_year": [FY - 1],
        "long_ago": [FY - 2],
        "now": [FY],
    }
    people = ["last_year", "long_ago", "now", "never"]
    nothing = History(False, False)
    result = unknown_health_status(
        people, fiscal_year=FY, examined=examined, claims=nothing, care=nothing
    )
    assert result.keys() == ["long_ago", "never"]
    assert (FY - 1, FY) in nothing.asked  # the two fiscal years
    assert [r.criterion for r in result.candidates[0].reasons] == [
        "no_checkup", "no_claims", "no_care",
    ]  # fmt: skip
    with_claims = History(True, False)
    assert (
        unknown_health_status(
            ["never"], fiscal_year=FY, examined={}, claims=with_claims, care=with_claims
        ).keys()
        == []
    )
    certified = History(False, True)
    assert (
        unknown_health_status(
            ["never"], fiscal_year=FY, examined={}, claims=certified, care=certified
        ).keys()
        == []
    )
    default = unknown_health_status(["never"], fiscal_year=FY, examined={})
    assert default.keys() == ["never"]
    assert len(default.candidates[0].unverified) == 2 and len(default.notes) == 2
    strict = rules_with(("include_unverified: {value: true", "include_unverified: {value: false"))
    assert unknown_health_status(["never"], fiscal_year=FY, examined={}, rules=strict).keys() == []


def test_protocol_defaults_know_nothing() -> None:
    default = NotConnected()
    treatment: TreatmentStatus = default
    dental: DentalVisits = default
    prescriptions: Prescriptions = default
    history: ClaimsHistory = default
    care: CareRecords = default
    assert treatment.status("x", FY) == "unknown"
    assert dental.visited_dentist("x", DAY, DAY) is None
    assert prescriptions.drug_count("x", FY) is None
    assert prescriptions.sleeping_pills("x", FY) is None
    assert history.has_claims("x", FY - 1, FY) is None
    assert care.certified_between("x", DAY, DAY) is None
    assert care.used_services("x", DAY, DAY) is None
    assert care.care_level("x", DAY) is None
    assert isinstance(NOT_CONNECTED, NotConnected)


def test_integrated_lists_run_all_six() -> None:
    records = [record("a", bmi=19.0, q1=4, q4=1, q6=1, q7=1, q8=1)]
    lists = integrated_lists(records, ["a", "z"], fiscal_year=FY, examined={"a": [FY]})
    assert set(lists) == {
        "low_nutrition", "oral", "polypharmacy", "sleeping_pills", "physical_frailty",
        "unknown_status",
    }  # fmt: skip
    assert lists["low_nutrition"].keys() == ["a"]
    assert lists["physical_frailty"].keys() == ["a"]
    assert lists["unknown_status"].keys() == ["z"]
    assert lists["polypharmacy"].keys() == []


def test_every_rule_names_source_and_confirmed() -> None:
    with pytest.raises(ValueError, match="source and confirmed"):
        rules_with(("egfr_below: {value: 30, source: *nephropathy, confirmed: true}",
                    "egfr_below: {value: 30}"))  # fmt: skip
    rules = load_rules()
    assert rules.nephropathy.egfr_below == 30 and rules.nephropathy.hba1c_min == 6.5
    assert "nephropathy.fasting_code_without_timing" in rules.unconfirmed["nephropathy"]
    assert "elderly.polypharmacy.min_drugs" in rules.unconfirmed["polypharmacy"]
