"""Target lists of the 保健事業 that start from checkups: who to contact, and why.

- **糖尿病性腎症重症化予防 (受診勧奨)**: people whose checkup meets both the diabetes criterion
  (空腹時血糖 or 随時血糖 ≥126 with the blood-drawing-time rule, or HbA1c ≥6.5 %) and the
  kidney criterion (eGFR <30, or 尿蛋白 + or more; looser thresholds configurable), and who are
  not under treatment (未治療 or 治療中断). Treatment status comes from claims through
  :class:`TreatmentStatus`; without it every person is 「治療状況未確認」 and the list says so.
- **高齢者の保健事業と介護予防の一体的実施** (後期高齢者, 75+; the lists are in ``_integrated``,
  their rules and interfaces here): the 後期高齢者の質問票 (15 items)
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
from collections.abc import Callable, Iterable, Mapping, Sequence
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
