"""The 高齢者の保健事業と介護予防の一体的実施 high-risk lists (後期高齢者, 75+): the KDB
「一体的実施・KDB活用支援ツール」 extraction lists — 低栄養, 口腔, 服薬-多剤, 服薬-睡眠薬,
身体的フレイル, 健康状態不明者 — from the 後期高齢者の質問票 with claims and 介護 data read
through the interfaces of ``_programme_interfaces`` (``DentalVisits``, ``Prescriptions``,
``ClaimsHistory``, ``CareRecords``). The rules (``_programme_rules``), the results
(``_programme_results``) and the interfaces are shared with ``_programmes``; this module holds
the lists (split from ``_programmes`` to keep both readable).

介護 (docs/care.md §6): a 要支援・要介護認定 or a 介護給付費 claim in the list's years takes a
person off 健康状態不明者, and the 区分 in force on the day of the answers is shown, with what
to do about it, on the lists ``care_flags`` names (低栄養 with 要支援 is the 介護予防 case).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kokuho.checkups._programme_common import fmt, in_year
from kokuho.checkups._programme_interfaces import (
    NOT_CONNECTED,
    CareRecords,
    ClaimsHistory,
    DentalVisits,
    Prescriptions,
)
from kokuho.checkups._programme_results import Candidate, ProgrammeList, Reason
from kokuho.checkups._programme_rules import ElderlyRules, ProgrammeRules, Question, load_rules
from kokuho.ids import FiscalYear


@dataclass(frozen=True, slots=True)
class ElderlyRecord:
    """One 後期高齢者の質問票 as answered (at a 後期高齢者健診 or elsewhere), with the BMI of
    the same checkup when there was one. ``answers`` maps the question number 1–15 to the
    answer code (see ``programme_rules.yaml``); an unanswered question is left out."""

    person_key: str
    answered_on: dt.date
    answers: Mapping[int, int]
    bmi: float | None = None


def risk_questions(record: ElderlyRecord, rules: ProgrammeRules | None = None) -> list[int]:
    """The questions the record answers with a risk (該当) answer, in order."""
    questions = (rules or load_rules()).elderly.questions
    return [
        number
        for number, answer in sorted(record.answers.items())
        if number in questions and answer in questions[number].risk
    ]


def _question_reason(question: Question, answer: int) -> Reason:
    label = question.answers.get(answer, str(answer))
    circled = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮"[question.number - 1]
    return Reason(f"q{question.number}", f"質問票{circled}({question.category}) {label}")


def _latest_records(records: Iterable[ElderlyRecord], fiscal_year: int) -> dict[str, ElderlyRecord]:
    latest: dict[str, ElderlyRecord] = {}
    for record in records:
        if not in_year(record.answered_on, fiscal_year):
            continue
        held = latest.get(record.person_key)
        if held is None or record.answered_on > held.answered_on:
            latest[record.person_key] = record
    return latest


def _hits(record: ElderlyRecord, numbers: Sequence[int], rules: ElderlyRules) -> list[Reason]:
    return [
        _question_reason(rules.questions[n], record.answers[n])
        for n in numbers
        if n in record.answers and record.answers[n] in rules.questions[n].risk
    ]


def _months_before(day: dt.date, months: int) -> dt.date:
    """The day after the same date ``months`` months earlier (a look-back of whole months)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last)) + dt.timedelta(days=1)


def _list(
    programme: str,
    title: str,
    fiscal_year: int,
    candidates: list[Candidate],
    notes: list[str],
    rules: ProgrammeRules,
) -> ProgrammeList:
    return ProgrammeList(
        programme=programme,
        title=title,
        fiscal_year=fiscal_year,
        candidates=tuple(sorted(candidates, key=lambda c: c.person_key)),
        notes=tuple(dict.fromkeys(notes)),
        unconfirmed=rules.unconfirmed[programme],
    )


def _unknown_note(count: int, what: str) -> str:
    return f"{what}が不明な {count} 人を含む (データ未連携): 確認してから支援する"


def _care_flag(
    programme: str, person: str, on: dt.date, care: CareRecords, e: ElderlyRules
) -> tuple[tuple[Reason, ...], str, bool]:
    """The 区分 in force on the day of the answers as a reason, the action it calls for, and
    whether 介護 data could not tell (for the list's note). Lists the rules do not name, and
    people without a 認定 (or 非該当), get nothing."""
    if programme not in e.care_flag_lists:
        return (), "", False
    level = care.care_level(person, on)
    if level is None:
        return (), "", True
    when = f"{level} ({on.isoformat()} 時点)"
    if level.startswith("要支援"):
        return (Reason("support_level", when),), e.support_action, False
    if level.startswith("要介護"):
        return (Reason("care_level", when),), e.care_action, False
    return (), "", False


@dataclass
class _Flagged:
    """The candidates of one questionnaire list as they are found, each with its 介護 flag
    (``_care_flag``), and how many of them 介護 data could not tell about (for the note)."""

    programme: str
    care: CareRecords
    e: ElderlyRules
    names: Mapping[str, str] | None
    candidates: list[Candidate] = field(default_factory=list)
    care_unknown: int = 0

    def add(
        self, record: ElderlyRecord, reasons: Sequence[Reason], unverified: tuple[str, ...] = ()
    ) -> None:
        person, on = record.person_key, record.answered_on
        flag, action, unknown = _care_flag(self.programme, person, on, self.care, self.e)
        self.candidates.append(
            Candidate(
                person, (*reasons, *flag), unverified, action=action,
                source=on.isoformat(), name=(self.names or {}).get(person),
            )
        )  # fmt: skip
        self.care_unknown += unknown

    def care_note(self) -> list[str]:
        unknown = self.care_unknown
        return [f"要介護認定が不明な {unknown} 人を含む (介護データ未連携)"] if unknown else []


def low_nutrition(
    records: Iterable[ElderlyRecord],
    *,
    fiscal_year: int,
    care: CareRecords = NOT_CONNECTED,
    rules: ProgrammeRules | None = None,
    names: Mapping[str, str] | None = None,
) -> ProgrammeList:
    """低栄養: BMI ≦ 20 かつ 質問票⑥(体重変化) 該当. A record without a BMI is not listed. With
    ``care``, a candidate's 要支援 or 要介護 on the day of the answers is a reason of its own
    and sets the action (``care_flags`` of the rules)."""
    rules = rules or load_rules()
    e = rules.elderly
    found = _Flagged("low_nutrition", care, e, names)
    for record in _latest_records(records, fiscal_year).values():
        hits = _hits(record, e.low_nutrition_questions, e)
        if record.bmi is None or record.bmi > e.low_nutrition_bmi_max or not hits:
            continue
        bmi = Reason("bmi", f"BMI {fmt(record.bmi)} ≦ {fmt(e.low_nutrition_bmi_max)}")
        found.add(record, (bmi, *hits))
    notes = found.care_note()
    return _list("low_nutrition", "低栄養", fiscal_year, found.candidates, notes, rules)


def oral(
    records: Iterable[ElderlyRecord],
    *,
    fiscal_year: int,
    dental: DentalVisits = NOT_CONNECTED,
    care: CareRecords = NOT_CONNECTED,
    rules: ProgrammeRules | None = None,
    names: Mapping[str, str] | None = None,
) -> ProgrammeList:
    """口腔: 質問票④(咀嚼)・⑤(嚥下) のいずれかに該当 かつ 過去1年間 歯科受診なし (the
    ``dental_lookback_months`` before the answer, through ``dental``); the 介護 flag as
    :func:`low_nutrition`'s."""
    rules = rules or load_rules()
    e = rules.elderly
    found, notes, unknown = _Flagged("oral", care, e, names), [], 0
    for person, record in _latest_records(records, fiscal_year).items():
        hits = _hits(record, e.oral_questions, e)
        if not hits:
            continue
        first = _months_before(record.answered_on, e.dental_lookback_months)
        visited = dental.visited_dentist(person, first, record.answered_on)
        if visited:
            continue
        unverified: tuple[str, ...] = ()
        reasons = list(hits)
        if visited is None:
            if not rules.include_unverified:
                continue
            unknown += 1
            unverified = (f"歯科受診 ({first.isoformat()}〜{record.answered_on.isoformat()})",)
        else:
            reasons.append(Reason("no_dental", f"歯科受診なし ({first}〜{record.answered_on})"))
        found.add(record, reasons, unverified)
    if unknown:
        notes.append(_unknown_note(unknown, "歯科受診"))
    return _list("oral", "口腔", fiscal_year, found.candidates, notes + found.care_note(), rules)


def polypharmacy(
    persons: Iterable[str],
    *,
    fiscal_year: int,
    prescriptions: Prescriptions = NOT_CONNECTED,
    rules: ProgrammeRules | None = None,
    names: Mapping[str, str] | None = None,
) -> ProgrammeList:
    """服薬-多剤: 処方薬剤数 ≥ ``min_drugs`` in the fiscal year. Only claims decide it: people
    whose count is not known are not listed, and the notes say how many."""
    rules = rules or load_rules()
    minimum = rules.elderly.polypharmacy_min
    candidates, unknown = [], 0
    for person in sorted(set(persons)):
        count = prescriptions.drug_count(person, fiscal_year)
        if count is None:
            unknown += 1
        elif count >= minimum:
            reason = Reason("drug_count", f"処方薬剤数 {count} ≥ {minimum}")
            candidates.append(Candidate(person, (reason,), name=(names or {}).get(person)))
    notes = [f"処方薬剤数が不明な {unknown} 人は判定できない (レセプト未連携)"] if unknown else []
    return _list("polypharmacy", "服薬-多剤", fiscal_year, candidates, notes, rules)


def sleeping_pills(
    records: Iterable[ElderlyRecord],
    *,
    fiscal_year: int,
    prescriptions: Prescriptions = NOT_CONNECTED,
    care: CareRecords = NOT_CONNECTED,
    rules: ProgrammeRules | None = None,
    names: Mapping[str, str] | None = None,
) -> ProgrammeList:
    """服薬-睡眠薬: 睡眠薬処方あり かつ (質問票⑧(転倒) 該当 または ⑩(物忘れ)・⑪(失見当識) の
    二つとも該当); the 介護 flag when the rules name this list."""
    rules = rules or load_rules()
    e = rules.elderly
    found, notes, unknown = _Flagged("sleeping_pills", care, e, names), [], 0
    for person, record in _latest_records(records, fiscal_year).items():
        falls = _hits(record, e.fall_questions, e)
        cognition = _hits(record, e.cognition_questions, e)
        if len(cognition) < len(e.cognition_questions):
            cognition = []
        if not falls and not cognition:
            continue
        pills = prescriptions.sleeping_pills(person, fiscal_year)
        if pills is False:
            continue
        reasons = [*falls, *cognition]
        unverified: tuple[str, ...] = ()
        if pills is None:
            if not rules.include_unverified:
                continue
            unknown += 1
            unverified = ("睡眠薬の処方 (レセプト)",)
        else:
            reasons.insert(0, Reason("sleeping_pills", "睡眠薬の処方あり"))
        found.add(record, reasons, unverified)
    if unknown:
        notes.append(_unknown_note(unknown, "睡眠薬の処方"))
    notes += found.care_note()
    return _list("sleeping_pills", "服薬-睡眠薬", fiscal_year, found.candidates, notes, rules)


def physical_frailty(
    records: Iterable[ElderlyRecord],
    *,
    fiscal_year: int,
    care: CareRecords = NOT_CONNECTED,
    rules: ProgrammeRules | None = None,
    names: Mapping[str, str] | None = None,
) -> ProgrammeList:
    """身体的フレイル(ロコモ含む): 質問票①(健康状態) and/or ⑦(歩行速度) 該当 (``combine``);
    the 介護 flag as :func:`low_nutrition`'s."""
    rules = rules or load_rules()
    e = rules.elderly
    found = _Flagged("physical_frailty", care, e, names)
    for record in _latest_records(records, fiscal_year).values():
        hits = _hits(record, e.frailty_questions, e)
        enough = len(hits) == len(e.frailty_questions) if e.frailty_combine == "and" else hits
        if enough:
            found.add(record, hits)
    notes = found.care_note()
    return _list("physical_frailty", "身体的フレイル", fiscal_year, found.candidates, notes, rules)


def unknown_health_status(
    persons: Iterable[str],
    *,
    fiscal_year: int,
    examined: Mapping[str, Collection[int]],
    claims: ClaimsHistory = NOT_CONNECTED,
    care: CareRecords = NOT_CONNECTED,
    rules: ProgrammeRules | None = None,
    names: Mapping[str, str] | None = None,
) -> ProgrammeList:
    """健康状態不明者: no checkup in the extraction year and the year before (``examined``:
    person → fiscal years with a checkup), no claim (入院・外来・歯科) in the same years, and no
    介護: no 要支援・要介護認定 in force on any day of the ``care_fiscal_years`` (非該当 is no
    認定) and, when ``care_services_count``, no 介護給付費 claim in them. Someone known only
    to 介護 is therefore not 健康状態不明. ``persons`` are the insured of the year (後期高齢者)."""
    rules = rules or load_rules()
    e = rules.elderly
    first_checkup = fiscal_year - e.unknown_checkup_years + 1
    first_claims = fiscal_year - e.unknown_claims_years + 1
    care_from = FiscalYear(fiscal_year - e.unknown_care_years + 1).first_day
    care_to = FiscalYear(fiscal_year).last_day
    candidates, notes = [], []
    unknown_claims = unknown_care = 0
    for person in sorted(set(persons)):
        years = examined.get(person, ())
        if any(first_checkup <= y <= fiscal_year for y in years):
            continue
        had_claims = claims.has_claims(person, first_claims, fiscal_year)
        if had_claims:
            continue
        certified = _in_care(person, care_from, care_to, care, e)
        if certified:
            continue
        unverified = []
        if had_claims is None:
            unverified.append(f"レセプト ({first_claims}〜{fiscal_year}年度)")
            unknown_claims += 1
        if certified is None:
            unverified.append(f"要介護認定・介護サービス ({care_from}〜{care_to})")
            unknown_care += 1
        if unverified and not rules.include_unverified:
            continue
        reasons = [Reason("no_checkup", f"{first_checkup}〜{fiscal_year}年度 健診受診なし")]
        if had_claims is False:
            reasons.append(Reason("no_claims", f"{first_claims}〜{fiscal_year}年度 レセプトなし"))
        if certified is False:
            used = "・介護サービス利用" if e.unknown_care_services else ""
            reasons.append(Reason("no_care", f"{care_from}〜{care_to} 要介護認定{used}なし"))
        candidates.append(
            Candidate(person, tuple(reasons), tuple(unverified), name=(names or {}).get(person))
        )
    if unknown_claims:
        notes.append(_unknown_note(unknown_claims, "レセプトの有無"))
    if unknown_care:
        notes.append(_unknown_note(unknown_care, "要介護認定の有無"))
    return _list("unknown_status", "健康状態不明者", fiscal_year, candidates, notes, rules)


def _in_care(
    person: str, first: dt.date, last: dt.date, care: CareRecords, e: ElderlyRules
) -> bool | None:
    """Whether 介護 knows the person in the period: True on any sign (a 認定, or a service
    when the rules count them), False when 介護 data answers no, None when it cannot tell."""
    certified = care.certified_between(person, first, last)
    if certified or not e.unknown_care_services:
        return certified
    used = care.used_services(person, first, last)
    if used:
        return True
    return None if certified is None or used is None else False


def integrated_lists(
    records: Iterable[ElderlyRecord],
    persons: Iterable[str],
    *,
    fiscal_year: int,
    examined: Mapping[str, Collection[int]],
    dental: DentalVisits = NOT_CONNECTED,
    prescriptions: Prescriptions = NOT_CONNECTED,
    history: ClaimsHistory = NOT_CONNECTED,
    care: CareRecords = NOT_CONNECTED,
    rules: ProgrammeRules | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, ProgrammeList]:
    """All six KDB-style lists of the year at once, keyed by programme (``low_nutrition``,
    ``oral``, ``polypharmacy``, ``sleeping_pills``, ``physical_frailty``,
    ``unknown_status``)."""
    rows = list(records)
    people = list(persons)
    common: dict[str, Any] = {"fiscal_year": fiscal_year, "rules": rules, "names": names}
    lists = [
        low_nutrition(rows, care=care, **common),
        oral(rows, dental=dental, care=care, **common),
        polypharmacy(people, prescriptions=prescriptions, **common),
        sleeping_pills(rows, prescriptions=prescriptions, care=care, **common),
        physical_frailty(rows, care=care, **common),
        unknown_health_status(people, examined=examined, claims=history, care=care, **common),
    ]
    return {found.programme: found for found in lists}
