"""The rules of the 保健事業 lists: ``data/programme_rules.yaml`` read into
:class:`ProgrammeRules`, every threshold with its ``source`` and whether it was ``confirmed``
(the unconfirmed ones are remembered per list). Split from ``_programmes``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal

from kokuho.store import data_text, load_yaml

URINE_CODES: Final = {"−": 1, "-": 1, "±": 2, "+": 3, "1+": 3, "++": 4, "2+": 4, "+++": 5, "3+": 5}
"""尿定性 labels → codes of OID 1.2.392.200119.6.2102 (1 −, 2 ±, 3 +, 4 ++, 5 +++)."""
URINE_LABELS: Final = {1: "−", 2: "±", 3: "+", 4: "++", 5: "+++"}


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


def parse_rules(text: str, name: str = "programme_rules.yaml") -> ProgrammeRules:
    """Parses the text of a programme rules file (``data/programme_rules.yaml``)."""
    raw = load_yaml(text, name)
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
