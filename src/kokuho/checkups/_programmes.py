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

This module holds the 糖尿病性腎症重症化予防 list. The parts every list uses are private modules
of their own, each importing only those listed before it, and every name callers use is
importable from here: ``_programme_interfaces`` (the claims and care Protocols and
``NOT_CONNECTED``), ``_programme_results`` (``Reason``, ``Candidate``, ``ProgrammeList``),
``_programme_rules`` (``ProgrammeRules``, ``parse_rules``, ``load_rules``) and
``_programme_common`` (the person key, the fiscal-year test, the format of values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from kokuho.checkups._model import Checkup, Items

# Re-exported: callers import the lists' rules, results, interfaces and keys from here.
from kokuho.checkups._programme_common import fmt, in_year
from kokuho.checkups._programme_common import insured_key as insured_key
from kokuho.checkups._programme_common import person_key as person_key
from kokuho.checkups._programme_interfaces import NOT_CONNECTED as NOT_CONNECTED
from kokuho.checkups._programme_interfaces import CareRecords as CareRecords
from kokuho.checkups._programme_interfaces import ClaimsHistory as ClaimsHistory
from kokuho.checkups._programme_interfaces import DentalVisits as DentalVisits
from kokuho.checkups._programme_interfaces import NotConnected as NotConnected
from kokuho.checkups._programme_interfaces import Prescriptions as Prescriptions
from kokuho.checkups._programme_interfaces import TreatmentState as TreatmentState
from kokuho.checkups._programme_interfaces import TreatmentStatus as TreatmentStatus
from kokuho.checkups._programme_results import Candidate as Candidate
from kokuho.checkups._programme_results import ProgrammeList as ProgrammeList
from kokuho.checkups._programme_results import Reason as Reason
from kokuho.checkups._programme_rules import URINE_CODES as URINE_CODES
from kokuho.checkups._programme_rules import URINE_LABELS
from kokuho.checkups._programme_rules import ElderlyRules as ElderlyRules
from kokuho.checkups._programme_rules import NephropathyRules as NephropathyRules
from kokuho.checkups._programme_rules import ProgrammeRules as ProgrammeRules
from kokuho.checkups._programme_rules import Question as Question
from kokuho.checkups._programme_rules import load_rules as load_rules
from kokuho.checkups._programme_rules import parse_rules as parse_rules


def _latest_by_person(
    checkups: Iterable[Checkup], fiscal_year: int, key: Callable[[Checkup], str]
) -> dict[str, Checkup]:
    """The last checkup of each person in the fiscal year (a person examined twice is
    judged on the later one)."""
    latest: dict[str, Checkup] = {}
    for checkup in checkups:
        if not in_year(checkup.exam_date, fiscal_year):
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
        found.append(Reason("hba1c", f"HbA1c {fmt(hba1c)}% ≥ {fmt(rules.hba1c_min)}%"))
    timing = _coded(checkup, Items.BLOOD_DRAW_TIMING)
    fasting = _number(checkup, Items.GLUCOSE_FASTING)
    random = _number(checkup, Items.GLUCOSE_RANDOM)
    if fasting is not None:
        if timing == "2" or (timing is None and rules.fasting_code_without_timing):
            if fasting >= rules.fasting_glucose_min:
                text = f"空腹時血糖 {fmt(fasting)} ≥ {fmt(rules.fasting_glucose_min)}"
                found.append(Reason("glucose_fasting", text))
        elif timing in rules.random_timing:
            random = fasting if random is None else random
    if random is not None and timing in rules.random_timing and random >= rules.random_glucose_min:
        text = f"随時血糖 {fmt(random)} ≥ {fmt(rules.random_glucose_min)} (採血時間 {timing})"
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
        found.append(Reason("egfr", f"eGFR {fmt(egfr)} < {fmt(rules.egfr_below)}"))
    protein = _coded(checkup, Items.URINE_PROTEIN)
    if (
        protein is not None
        and protein.isascii()
        and protein.isdigit()
        and int(protein) >= rules.urine_protein_min
    ):
        label = URINE_LABELS.get(int(protein), protein)
        minimum = URINE_LABELS[rules.urine_protein_min]
        found.append(Reason("urine_protein", f"尿蛋白 {label} (≥ {minimum})"))
    if rules.decline_enabled and previous is not None and egfr is not None:
        before = _number(previous, Items.EGFR)
        days = (checkup.exam_date - previous.exam_date).days
        if before is not None and days > 0 and egfr < rules.decline_below:
            per_year = (before - egfr) * 365.25 / days
            if per_year >= rules.decline_per_year:
                text = (
                    f"eGFR {fmt(before)} → {fmt(egfr)} (年 {per_year:.1f} 低下 ≥ "
                    f"{fmt(rules.decline_per_year)}, < {fmt(rules.decline_below)})"
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
