"""Target lists of the 保健事業 that start from checkups: who to contact, and why.

- **糖尿病性腎症重症化予防 (受診勧奨)**: people whose checkup meets both the diabetes criterion
  (空腹時血糖 or 随時血糖 ≥126 with the blood-drawing-time rule, or HbA1c ≥6.5 %) and the
  kidney criterion (eGFR <30, or 尿蛋白 + or more; looser thresholds configurable), and who are
  not under treatment (未治療 or 治療中断). Treatment status comes from claims through
  :class:`TreatmentStatus`; without it every person is 「治療状況未確認」 and the list says so.
- **高齢者の保健事業と介護予防の一体的実施** (後期高齢者, 75+): the 後期高齢者の質問票 (15 items)
  and the KDB 「一体的実施・KDB活用支援ツール」 extraction lists — 低栄養, 口腔, 服薬-多剤,
  服薬-睡眠薬, 身体的フレイル, 健康状態不明者 — each combining questionnaire answers with
  claims (歯科受診, 処方) and care (要介護認定, 介護 services) data read through small Protocols
  the claims and care sides fill in. Until they do, the defaults answer "unknown" and
  candidates carry the conditions that could not be checked in ``unverified``. 介護 data
  removes from 健康状態不明者 everyone certified or using 介護 services in its years, and shows
  the 区分 on the day of the answers (要支援: 介護予防) on the lists the rules name.

Every threshold comes from ``data/programme_rules.yaml`` with its ``source`` and whether it
was ``confirmed``; each list names the unconfirmed rules it used.

Inputs are lists of records (``Checkup`` objects and :class:`ElderlyRecord`), not Ibis tables:
a target list is drawn for one insurer and year — thousands of people at most — and every
candidate needs its reasons spelled out, which is per-record work; a caller with a lake reads
the year's rows first (``Lake.table(...).to_pyarrow()``) and converts them.

Names: a :class:`Candidate` carries the person's name only when the caller passes
``names``, and never prints it (``repr`` leaves it out): which staff may see names is the
dashboard's decision, not this module's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, Literal, Protocol

import yaml

from kokuho.checkups._model import Checkup, Items
from kokuho.ids import FiscalYear
from kokuho.store import data_text

TreatmentState = Literal["treated", "interrupted", "untreated", "unknown"]
"""治療中, 治療中断, 未治療, or not known (no claims data)."""

URINE_CODES: Final = {"−": 1, "-": 1, "±": 2, "+": 3, "1+": 3, "++": 4, "2+": 4, "+++": 5, "3+": 5}
"""尿定性 labels → codes of OID 1.2.392.200119.6.2102 (1 −, 2 ±, 3 +, 4 ++, 5 +++)."""
_URINE_LABELS: Final = {1: "−", 2: "±", 3: "+", 4: "++", 5: "+++"}


# -- interfaces the claims and care sides fill in ---------------------------------------------
class TreatmentStatus(Protocol):
    """Diabetes treatment of a person in a fiscal year, from claims (糖尿病の受診・処方):
    ``"treated"`` (治療中), ``"interrupted"`` (治療中断: treated before, no claim within the
    手引き's window), ``"untreated"`` (未治療) or ``"unknown"``."""

    def status(self, person_key: str, fiscal_year: int) -> TreatmentState: ...


class DentalVisits(Protocol):
    """Whether the person has a 歯科 claim with a visit between ``first`` and ``last``
    (inclusive); None when not known."""

    def visited_dentist(self, person_key: str, first: dt.date, last: dt.date) -> bool | None: ...


class Prescriptions(Protocol):
    """Prescriptions of the person in a fiscal year, from claims: the number of drugs
    (counted as the claims side defines for 多剤) and whether a 睡眠薬 was prescribed; None
    when not known."""

    def drug_count(self, person_key: str, fiscal_year: int) -> int | None: ...

    def sleeping_pills(self, person_key: str, fiscal_year: int) -> bool | None: ...


class ClaimsHistory(Protocol):
    """Whether the person has any claim (入院・外来・歯科) in the fiscal years ``first`` to
    ``last`` (inclusive); None when not known."""

    def has_claims(self, person_key: str, first: int, last: int) -> bool | None: ...


class CareRecords(Protocol):
    """What 介護 data says of a person; every answer None when not known (not connected).

    ``care_level``: the 区分 of the 認定 in force on ``on`` by name (``"要支援1"`` …
    ``"要介護5"``, ``"非該当"``), ``""`` when none. ``certified_between``: whether a
    要支援・要介護認定 was in force on any day from ``first`` to ``last``. ``used_services``:
    whether a 介護給付費 claim has a サービス提供年月 in those months."""

    def care_level(self, person_key: str, on: dt.date) -> str | None: ...

    def certified_between(self, person_key: str, first: dt.date, last: dt.date) -> bool | None: ...

    def used_services(self, person_key: str, first: dt.date, last: dt.date) -> bool | None: ...


class NotConnected:
    """The default of every interface: claims and care data are not connected, nothing is
    known. Lists built with it say so in their notes."""

    def status(self, person_key: str, fiscal_year: int) -> TreatmentState:
        return "unknown"

    def visited_dentist(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        return None

    def drug_count(self, person_key: str, fiscal_year: int) -> int | None:
        return None

    def sleeping_pills(self, person_key: str, fiscal_year: int) -> bool | None:
        return None

    def has_claims(self, person_key: str, first: int, last: int) -> bool | None:
        return None

    def care_level(self, person_key: str, on: dt.date) -> str | None:
        return None

    def certified_between(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        return None

    def used_services(self, person_key: str, first: dt.date, last: dt.date) -> bool | None:
        return None


NOT_CONNECTED: Final = NotConnected()


# -- results ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Reason:
    """Why a person is on a list: ``criterion`` is a stable key (``hba1c``, ``egfr``, ``q6``
    …), ``text`` the Japanese explanation with the value and the threshold."""

    criterion: str
    text: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """One person on a list. ``unverified`` names the conditions that could not be checked
    for want of data (claims, care); ``name`` is filled only when the caller passed names and
    is left out of ``repr`` so that it is not printed or logged by accident."""

    person_key: str
    reasons: tuple[Reason, ...]
    unverified: tuple[str, ...] = ()
    treatment: TreatmentState | None = None
    action: str = ""
    source: str | None = None  # the checkup document (or questionnaire date) the values came from
    name: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ProgrammeList:
    """A target list: the programme, the year, the candidates in person-key order, notes for
    the staff (what could not be checked) and the unconfirmed rules it applied."""

    programme: str
    title: str
    fiscal_year: int
    candidates: tuple[Candidate, ...]
    notes: tuple[str, ...] = ()
    unconfirmed: tuple[str, ...] = ()

    def keys(self) -> list[str]:
        return [c.person_key for c in self.candidates]


# -- rules --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Question:
    """One item of the 後期高齢者の質問票."""

    number: int
    category: str
    text: str
    oid: str
    answers: Mapping[int, str]
    risk: frozenset[int]  # the answer codes that count as 該当


@dataclass(frozen=True, slots=True)
class NephropathyRules:
    hba1c_min: float
    fasting_glucose_min: float
    random_glucose_min: float
    random_timing: frozenset[str]
    fasting_code_without_timing: bool
    medication_answer_counts: bool
    egfr_below: float
    urine_protein_min: int  # code of OID 1.2.392.200119.6.2102
    decline_enabled: bool
    decline_below: float
    decline_per_year: float


@dataclass(frozen=True, slots=True)
class ElderlyRules:
    questions: Mapping[int, Question]
    low_nutrition_bmi_max: float
    low_nutrition_questions: tuple[int, ...]
    oral_questions: tuple[int, ...]
    dental_lookback_months: int
    polypharmacy_min: int
    fall_questions: tuple[int, ...]
    cognition_questions: tuple[int, ...]
    frailty_questions: tuple[int, ...]
    frailty_combine: Literal["and", "or"]
    unknown_checkup_years: int
    unknown_claims_years: int
    unknown_care_years: int
    unknown_care_services: bool
    care_flag_lists: frozenset[str]
    support_action: str
    care_action: str


@dataclass(frozen=True, slots=True)
class ProgrammeRules:
    """``data/programme_rules.yaml``; ``unconfirmed`` maps each list to the dotted names of
    the rules it uses that are not confirmed."""

    nephropathy: NephropathyRules
    elderly: ElderlyRules
    include_unverified: bool
    unconfirmed: Mapping[str, tuple[str, ...]]


class _Reader:
    """Reads ``{value, source, confirmed}`` items and remembers the unconfirmed ones."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.unconfirmed: list[str] = []

    def item(self, path: str) -> Any:
        node: Any = self.raw
        for part in path.split("."):
            node = node[part]
        if not isinstance(node, Mapping) or "source" not in node or "confirmed" not in node:
            raise ValueError(f"programme rules: {path} needs source and confirmed")
        if not node["confirmed"]:
            self.unconfirmed.append(path)
        return node.get("value", node)


def parse_rules(text: str) -> ProgrammeRules:
    """Parses the text of a programme rules file (``data/programme_rules.yaml``)."""
    raw = yaml.safe_load(text)
    if raw.get("format") != "kokuho programme rules 1":
        raise ValueError("programme rules: unknown format")
    r = _Reader(raw)
    unconfirmed: dict[str, tuple[str, ...]] = {}

    def section(name: str, read: Callable[[], Any]) -> Any:
        start = len(r.unconfirmed)
        value = read()
        unconfirmed[name] = tuple(r.unconfirmed[start:])
        return value

    def nephropathy() -> NephropathyRules:
        n = "nephropathy"
        decline = r.item(f"{n}.egfr_decline")
        r.item(f"{n}.interruption_window")  # documented, used by the claims side
        return NephropathyRules(
            hba1c_min=float(r.item(f"{n}.hba1c_percent_min")),
            fasting_glucose_min=float(r.item(f"{n}.fasting_glucose_min")),
            random_glucose_min=float(r.item(f"{n}.random_glucose_min")),
            random_timing=frozenset(str(t) for t in r.item(f"{n}.random_timing")),
            fasting_code_without_timing=bool(r.item(f"{n}.fasting_code_without_timing")),
            medication_answer_counts=bool(r.item(f"{n}.medication_answer_counts")),
            egfr_below=float(r.item(f"{n}.egfr_below")),
            urine_protein_min=URINE_CODES[str(r.item(f"{n}.urine_protein_min"))],
            decline_enabled=bool(decline["enabled"]),
            decline_below=float(decline["below"]),
            decline_per_year=float(decline["per_year"]),
        )

    neph = section("nephropathy", nephropathy)
    e = raw["elderly"]
    questions = {
        int(q["number"]): Question(
            number=int(q["number"]),
            category=str(q["category"]),
            text=str(q["text"]),
            oid=str(q["oid"]),
            answers={int(k): str(v) for k, v in q["answers"].items()},
            risk=frozenset(int(c) for c in q["risk"]),
        )
        for q in e["questions"]
    }
    if sorted(questions) != list(range(1, 16)):
        raise ValueError("programme rules: the 後期高齢者の質問票 has questions 1–15")
    questionnaire = () if e.get("questions_confirmed") else ("elderly.questions (risk answers)",)

    def ints(path: str) -> tuple[int, ...]:
        return tuple(int(v) for v in r.item(path))

    def listed(name: str, read: Callable[[], Any]) -> Any:
        value = section(name, read)
        unconfirmed[name] = questionnaire + unconfirmed[name]
        return value

    low_bmi, low_q = listed(
        "low_nutrition",
        lambda: (
            float(r.item("elderly.low_nutrition.bmi_max")),
            ints("elderly.low_nutrition.questions"),
        ),
    )
    oral_q, lookback = listed(
        "oral",
        lambda: (
            ints("elderly.oral.questions"),
            int(r.item("elderly.oral.dental_lookback_months")),
        ),
    )
    poly = section("polypharmacy", lambda: int(r.item("elderly.polypharmacy.min_drugs")))
    falls, cognition = listed(
        "sleeping_pills",
        lambda: (
            ints("elderly.sleeping_pills.fall_questions"),
            ints("elderly.sleeping_pills.cognition_questions"),
        ),
    )
    frailty_q, combine = listed(
        "physical_frailty",
        lambda: (
            ints("elderly.physical_frailty.questions"),
            str(r.item("elderly.physical_frailty.combine")),
        ),
    )
    if combine not in ("and", "or"):
        raise ValueError(f"programme rules: physical_frailty.combine is {combine!r}")
    checkup_years, claims_years, care_years, care_services = section(
        "unknown_status",
        lambda: (
            int(r.item("elderly.unknown_status.checkup_fiscal_years")),
            int(r.item("elderly.unknown_status.claims_fiscal_years")),
            int(r.item("elderly.unknown_status.care_fiscal_years")),
            bool(r.item("elderly.unknown_status.care_services_count")),
        ),
    )
    flag_lists, support_action, care_action = section(
        "care_flags",
        lambda: (
            frozenset(str(n) for n in r.item("care_flags.lists")),
            str(r.item("care_flags.support_action")),
            str(r.item("care_flags.care_action")),
        ),
    )
    for name in flag_lists:
        if name not in ("low_nutrition", "oral", "physical_frailty", "sleeping_pills"):
            raise ValueError(f"programme rules: care_flags.lists names {name!r}")
        unconfirmed[name] = (*unconfirmed[name], *unconfirmed["care_flags"])
    include = bool(r.item("include_unverified"))
    if "include_unverified" in r.unconfirmed:
        for name in ("oral", "sleeping_pills", "unknown_status"):
            unconfirmed[name] = (*unconfirmed[name], "include_unverified")
    return ProgrammeRules(
        nephropathy=neph,
        elderly=ElderlyRules(
            questions=questions,
            low_nutrition_bmi_max=low_bmi,
            low_nutrition_questions=low_q,
            oral_questions=oral_q,
            dental_lookback_months=lookback,
            polypharmacy_min=poly,
            fall_questions=falls,
            cognition_questions=cognition,
            frailty_questions=frailty_q,
            frailty_combine="and" if combine == "and" else "or",
            unknown_checkup_years=checkup_years,
            unknown_claims_years=claims_years,
            unknown_care_years=care_years,
            unknown_care_services=care_services,
            care_flag_lists=flag_lists,
            support_action=support_action,
            care_action=care_action,
        ),
        include_unverified=include,
        unconfirmed=unconfirmed,
    )


@lru_cache(maxsize=1)
def load_rules() -> ProgrammeRules:
    """The packaged ``data/programme_rules.yaml``."""
    text = data_text("programme_rules.yaml")
    return parse_rules(text)


# -- helpers ------------------------------------------------------------------------------------
def person_key(insurer: str, symbol: str, number: str, branch: str | None) -> str:
    """The person key of the lists: 保険者番号:記号:番号:枝番, the 保険者番号 without the zero
    padding of V08 files, so that archives, questionnaires and the register agree."""
    if len(insurer) == 8 and insurer.startswith("00"):
        insurer = insurer[2:]
    return f"{insurer}:{symbol}:{number}:{branch or ''}"


def insured_key(checkup: Checkup) -> str:
    """The default person key of a checkup."""
    return person_key(checkup.insurer, checkup.symbol, checkup.number, checkup.branch)


def _fmt(value: float) -> str:
    return f"{value:g}"


def _in_year(day: dt.date, fiscal_year: int) -> bool:
    return day in FiscalYear(fiscal_year)


def _latest_by_person(
    checkups: Iterable[Checkup], fiscal_year: int, key: Callable[[Checkup], str]
) -> dict[str, Checkup]:
    """The last checkup of each person in the fiscal year (a person examined twice is
    judged on the later one)."""
    latest: dict[str, Checkup] = {}
    for checkup in checkups:
        if not _in_year(checkup.exam_date, fiscal_year):
            continue
        person = key(checkup)
        held = latest.get(person)
        if held is None or (checkup.exam_date, checkup.document) > (held.exam_date, held.document):
            latest[person] = checkup
    return latest


def _number(checkup: Checkup, codes: Sequence[str]) -> float | None:
    for code in codes:
        observation = checkup.observations.get(code)
        if observation is not None and observation.number is not None:
            return observation.number
    return None


def _coded(checkup: Checkup, codes: Sequence[str]) -> str | None:
    for code in codes:
        observation = checkup.observations.get(code)
        if observation is not None and observation.coded is not None:
            return observation.coded
    return None


# -- 糖尿病性腎症重症化予防 -----------------------------------------------------------------------
def diabetes_reasons(checkup: Checkup, rules: NephropathyRules) -> list[Reason]:
    """The diabetes criteria (① of the program) the checkup meets.

    The blood-drawing time (9N141) decides which glucose value counts: ≥10 h (2) a fasting
    value, 3.5–10 h (3) a random one, <3.5 h (4) none. A value under the fasting codes with
    no timing answer counts as fasting (``fasting_code_without_timing``)."""
    found: list[Reason] = []
    hba1c = _number(checkup, Items.HBA1C)
    if hba1c is not None and hba1c >= rules.hba1c_min:
        found.append(Reason("hba1c", f"HbA1c {_fmt(hba1c)}% ≥ {_fmt(rules.hba1c_min)}%"))
    timing = _coded(checkup, Items.BLOOD_DRAW_TIMING)
    fasting = _number(checkup, Items.GLUCOSE_FASTING)
    random = _number(checkup, Items.GLUCOSE_RANDOM)
    if fasting is not None:
        if timing == "2" or (timing is None and rules.fasting_code_without_timing):
            if fasting >= rules.fasting_glucose_min:
                text = f"空腹時血糖 {_fmt(fasting)} ≥ {_fmt(rules.fasting_glucose_min)}"
                found.append(Reason("glucose_fasting", text))
        elif timing in rules.random_timing:
            random = fasting if random is None else random
    if random is not None and timing in rules.random_timing and random >= rules.random_glucose_min:
        text = f"随時血糖 {_fmt(random)} ≥ {_fmt(rules.random_glucose_min)} (採血時間 {timing})"
        found.append(Reason("glucose_random", text))
    if rules.medication_answer_counts and _coded(checkup, Items.MEDICATION_GLUCOSE) == "1":
        found.append(Reason("medication_glucose", "服薬2(血糖) はい"))
    return found


def kidney_reasons(
    checkup: Checkup, rules: NephropathyRules, previous: Checkup | None = None
) -> list[Reason]:
    """The kidney criteria (② of the program) the checkup meets; with ``previous`` (the
    person's checkup a year earlier) also the rapid fall of eGFR when it is enabled."""
    found: list[Reason] = []
    egfr = _number(checkup, Items.EGFR)
    if egfr is not None and egfr < rules.egfr_below:
        found.append(Reason("egfr", f"eGFR {_fmt(egfr)} < {_fmt(rules.egfr_below)}"))
    protein = _coded(checkup, Items.URINE_PROTEIN)
    if protein is not None and protein.isdigit() and int(protein) >= rules.urine_protein_min:
        label = _URINE_LABELS.get(int(protein), protein)
        minimum = _URINE_LABELS[rules.urine_protein_min]
        found.append(Reason("urine_protein", f"尿蛋白 {label} (≥ {minimum})"))
    if rules.decline_enabled and previous is not None and egfr is not None:
        before = _number(previous, Items.EGFR)
        days = (checkup.exam_date - previous.exam_date).days
        if before is not None and days > 0 and egfr < rules.decline_below:
            per_year = (before - egfr) * 365.25 / days
            if per_year >= rules.decline_per_year:
                text = (
                    f"eGFR {_fmt(before)} → {_fmt(egfr)} (年 {per_year:.1f} 低下 ≥ "
                    f"{_fmt(rules.decline_per_year)}, < {_fmt(rules.decline_below)})"
                )
                found.append(Reason("egfr_decline", text))
    return found


_ACTIONS: Final[Mapping[TreatmentState, str]] = {
    "untreated": "受診勧奨 (未治療)",
    "interrupted": "受診勧奨 (治療中断)",
    "unknown": "受診勧奨 (治療状況未確認)",
}


def nephropathy_referrals(
    checkups: Iterable[Checkup],
    *,
    fiscal_year: int,
    treatment: TreatmentStatus = NOT_CONNECTED,
    rules: ProgrammeRules | None = None,
    key: Callable[[Checkup], str] = insured_key,
    names: Mapping[str, str] | None = None,
    previous: Iterable[Checkup] = (),
) -> ProgrammeList:
    """糖尿病性腎症重症化予防 受診勧奨対象者 of ``fiscal_year``: people whose last checkup of the
    year meets a diabetes and a kidney criterion and who are not under treatment.

    ``treatment`` answers from claims; people it calls ``"treated"`` are left out (they are
    保健指導 candidates with their doctor, not 受診勧奨) and counted in the notes; with the
    default, everyone is 「治療状況未確認」. ``previous`` are checkups of the year before, for
    the optional eGFR-decline criterion."""
    r = (rules or load_rules()).nephropathy
    latest = _latest_by_person(checkups, fiscal_year, key)
    before = _latest_by_person(previous, fiscal_year - 1, key)
    candidates: list[Candidate] = []
    treated = 0
    unknown = 0
    for person in sorted(latest):
        checkup = latest[person]
        diabetes = diabetes_reasons(checkup, r)
        kidney = kidney_reasons(checkup, r, before.get(person)) if diabetes else []
        if not diabetes or not kidney:
            continue
        state = treatment.status(person, fiscal_year)
        if state == "treated":
            treated += 1
            continue
        unknown += state == "unknown"
        candidates.append(
            Candidate(
                person_key=person,
                reasons=(*diabetes, *kidney),
                unverified=("治療状況 (レセプト)",) if state == "unknown" else (),
                treatment=state,
                action=_ACTIONS[state],
                source=checkup.document,
                name=(names or {}).get(person),
            )
        )
    notes = []
    if unknown:
        notes.append(
            f"治療状況が不明な {unknown} 人を含む: レセプトで未治療・治療中断を確かめてから勧奨する"
        )
    if treated:
        notes.append(
            f"治療中の {treated} 人は受診勧奨の対象外 (かかりつけ医と連携した保健指導の候補)"
        )
    return ProgrammeList(
        programme="nephropathy",
        title="糖尿病性腎症重症化予防 受診勧奨対象者",
        fiscal_year=fiscal_year,
        candidates=tuple(candidates),
        notes=tuple(notes),
        unconfirmed=(rules or load_rules()).unconfirmed["nephropathy"],
    )


# -- 高齢者の保健事業と介護予防の一体的実施 --------------------------------------------------------
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
        if not _in_year(record.answered_on, fiscal_year):
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


def _flagged(
    programme: str,
    record: ElderlyRecord,
    reasons: Sequence[Reason],
    care: CareRecords,
    e: ElderlyRules,
    names: Mapping[str, str] | None,
    unverified: tuple[str, ...] = (),
) -> tuple[Candidate, bool]:
    """A candidate of a questionnaire list with its 介護 flag; True when 介護 was not known."""
    flag, action, unknown = _care_flag(programme, record.person_key, record.answered_on, care, e)
    candidate = Candidate(
        record.person_key, (*reasons, *flag), unverified, action=action,
        source=record.answered_on.isoformat(), name=(names or {}).get(record.person_key),
    )  # fmt: skip
    return candidate, unknown


def _care_note(unknown: int) -> list[str]:
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
    candidates, unknown = [], 0
    for record in _latest_records(records, fiscal_year).values():
        hits = _hits(record, e.low_nutrition_questions, e)
        if record.bmi is None or record.bmi > e.low_nutrition_bmi_max or not hits:
            continue
        bmi = Reason("bmi", f"BMI {_fmt(record.bmi)} ≦ {_fmt(e.low_nutrition_bmi_max)}")
        candidate, not_known = _flagged("low_nutrition", record, (bmi, *hits), care, e, names)
        candidates.append(candidate)
        unknown += not_known
    return _list("low_nutrition", "低栄養", fiscal_year, candidates, _care_note(unknown), rules)


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
    candidates, notes, unknown, care_unknown = [], [], 0, 0
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
        candidate, not_known = _flagged("oral", record, reasons, care, e, names, unverified)
        candidates.append(candidate)
        care_unknown += not_known
    if unknown:
        notes.append(_unknown_note(unknown, "歯科受診"))
    return _list("oral", "口腔", fiscal_year, candidates, notes + _care_note(care_unknown), rules)


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
    candidates, notes, unknown, care_unknown = [], [], 0, 0
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
        candidate, not_known = _flagged(
            "sleeping_pills", record, reasons, care, e, names, unverified
        )
        candidates.append(candidate)
        care_unknown += not_known
    if unknown:
        notes.append(_unknown_note(unknown, "睡眠薬の処方"))
    notes += _care_note(care_unknown)
    return _list("sleeping_pills", "服薬-睡眠薬", fiscal_year, candidates, notes, rules)


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
    candidates, unknown = [], 0
    for record in _latest_records(records, fiscal_year).values():
        hits = _hits(record, e.frailty_questions, e)
        enough = len(hits) == len(e.frailty_questions) if e.frailty_combine == "and" else hits
        if enough:
            candidate, not_known = _flagged("physical_frailty", record, hits, care, e, names)
            candidates.append(candidate)
            unknown += not_known
    notes = _care_note(unknown)
    return _list("physical_frailty", "身体的フレイル", fiscal_year, candidates, notes, rules)


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
