"""The thresholds of 階層化 and メタボリックシンドローム判定, read from ``data/checkup_rules.yaml``.

One file feeds both implementations (``_stratify``/``_metabolic`` for one record,
``_stratify_ibis`` for tables), so the two cannot drift apart on a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kokuho.ids import FiscalYear
from kokuho.store import data_text, load_yaml


@dataclass(frozen=True, slots=True)
class Term:
    """One 期 of 特定健診・特定保健指導 and what it allows."""

    term: int
    first_fiscal_year: int
    random_tg: bool  # 随時中性脂肪 ≥ tg_random may stand in for the fasting TG
    random_glucose: bool  # 随時血糖 may stand in when neither fasting glucose nor HbA1c


@dataclass(frozen=True, slots=True)
class StratificationRules:
    """Cut-offs of 階層化 (ステップ1〜4). A value "at or above" a cut-off meets it, except HDL,
    which meets its criterion strictly below ``hdl_below``."""

    min_age: int
    max_age: int
    capped_from_age: int
    waist_male: float
    waist_female: float
    visceral_fat_area: float
    bmi: float
    waist_omitted_below_bmi: float
    sbp: float
    dbp: float
    tg_fasting: float
    tg_random: float
    hdl_below: float
    glucose_fasting: float
    glucose_random: float
    hba1c: float
    random_allowed_timing: tuple[str, ...]
    fasting_glucose_over_hba1c: bool


@dataclass(frozen=True, slots=True)
class MetabolicRules:
    """Cut-offs of メタボリックシンドローム判定 (基準該当 / 予備群)."""

    waist_male: float
    waist_female: float
    glucose_fasting: float
    random_glucose: bool
    glucose_random: float
    hba1c: float
    tg: float
    hdl_below: float
    sbp: float
    dbp: float


@dataclass(frozen=True, slots=True)
class CheckupRules:
    terms: tuple[Term, ...]  # oldest first
    stratification: StratificationRules
    metabolic: MetabolicRules
    unconfirmed: tuple[
        str, ...
    ]  # the items marked ``confirmed: false``, e.g. "metabolic.random_glucose"

    def term(self, number: int) -> Term:
        for term in self.terms:
            if term.term == number:
                return term
        known = ", ".join(str(t.term) for t in self.terms)
        raise ValueError(f"no rules for term {number!r} (known terms: {known})")

    def term_for(self, fiscal_year: FiscalYear | int) -> int:
        """The 期 a fiscal year belongs to: 3 for FY2018–2023, 4 from FY2024."""
        year = fiscal_year.year if isinstance(fiscal_year, FiscalYear) else int(fiscal_year)
        found = [t.term for t in self.terms if t.first_fiscal_year <= year]
        if not found:
            first = self.terms[0].first_fiscal_year
            raise ValueError(f"FY{year} is before FY{first}, the first year with rules here")
        return found[-1]


def _item(section: Mapping[str, Any], key: str, where: str, unconfirmed: list[str]) -> Any:
    try:
        item = section[key]
    except KeyError:
        raise ValueError(f"checkup rules: {where}.{key} is missing") from None
    if not isinstance(item, Mapping) or not str(item.get("source") or "").strip():
        raise ValueError(f"checkup rules: {where}.{key} needs a source")
    if not isinstance(item.get("confirmed"), bool):
        raise ValueError(f"checkup rules: {where}.{key} needs confirmed: true/false")
    if not item["confirmed"]:
        unconfirmed.append(f"{where}.{key}")
    return item


def _number(section: Mapping[str, Any], key: str, where: str, unconfirmed: list[str]) -> float:
    value = _item(section, key, where, unconfirmed)["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"checkup rules: {where}.{key} must be a number, not {value!r}")
    return float(value)


def _flag(section: Mapping[str, Any], key: str, where: str, unconfirmed: list[str]) -> bool:
    value = _item(section, key, where, unconfirmed)["value"]
    if not isinstance(value, bool):
        raise ValueError(f"checkup rules: {where}.{key} must be true or false, not {value!r}")
    return value


def parse_rules(text: str, name: str = "checkup_rules.yaml") -> CheckupRules:
    """Reads a rules file (the format of ``data/checkup_rules.yaml``); fails on a missing item,
    an item without its source or ``confirmed``, or a value of the wrong kind."""
    raw = load_yaml(text, name)
    unconfirmed: list[str] = []
    terms: list[Term] = []
    for index, item in enumerate(raw["terms"]):
        where = f"terms[{index}]"
        if not str(item.get("source") or "").strip() or not isinstance(item.get("confirmed"), bool):
            raise ValueError(f"checkup rules: {where} needs a source and confirmed")
        if not item["confirmed"]:
            unconfirmed.append(where)
        terms.append(
            Term(
                int(item["term"]),
                int(item["first_fiscal_year"]),
                bool(item["random_tg"]),
                bool(item["random_glucose"]),
            )
        )
    terms.sort(key=lambda t: t.first_fiscal_year)
    if not terms:
        raise ValueError("checkup rules: no terms")

    s, w = raw["stratification"], "stratification"
    age = _item(s, "eligible_age", w, unconfirmed)
    waist = _item(s, "waist_cm", w, unconfirmed)
    timing = _item(s, "random_allowed_timing", w, unconfirmed)["value"]
    stratification = StratificationRules(
        min_age=int(age["min"]),
        max_age=int(age["max"]),
        capped_from_age=int(_number(s, "capped_from_age", w, unconfirmed)),
        waist_male=float(waist["male"]),
        waist_female=float(waist["female"]),
        visceral_fat_area=_number(s, "visceral_fat_area_cm2", w, unconfirmed),
        bmi=_number(s, "bmi", w, unconfirmed),
        waist_omitted_below_bmi=_number(s, "waist_omitted_below_bmi", w, unconfirmed),
        sbp=_number(s, "sbp_mmhg", w, unconfirmed),
        dbp=_number(s, "dbp_mmhg", w, unconfirmed),
        tg_fasting=_number(s, "tg_fasting_mg_dl", w, unconfirmed),
        tg_random=_number(s, "tg_random_mg_dl", w, unconfirmed),
        hdl_below=_number(s, "hdl_below_mg_dl", w, unconfirmed),
        glucose_fasting=_number(s, "glucose_fasting_mg_dl", w, unconfirmed),
        glucose_random=_number(s, "glucose_random_mg_dl", w, unconfirmed),
        hba1c=_number(s, "hba1c_ngsp_percent", w, unconfirmed),
        random_allowed_timing=tuple(str(code) for code in timing),
        fasting_glucose_over_hba1c=_flag(s, "fasting_glucose_over_hba1c", w, unconfirmed),
    )

    m, w = raw["metabolic"], "metabolic"
    waist = _item(m, "waist_cm", w, unconfirmed)
    metabolic = MetabolicRules(
        waist_male=float(waist["male"]),
        waist_female=float(waist["female"]),
        glucose_fasting=_number(m, "glucose_fasting_mg_dl", w, unconfirmed),
        random_glucose=_flag(m, "random_glucose", w, unconfirmed),
        glucose_random=_number(m, "glucose_random_mg_dl", w, unconfirmed),
        hba1c=_number(m, "hba1c_ngsp_percent", w, unconfirmed),
        tg=_number(m, "tg_mg_dl", w, unconfirmed),
        hdl_below=_number(m, "hdl_below_mg_dl", w, unconfirmed),
        sbp=_number(m, "sbp_mmhg", w, unconfirmed),
        dbp=_number(m, "dbp_mmhg", w, unconfirmed),
    )
    return CheckupRules(tuple(terms), stratification, metabolic, tuple(unconfirmed))


@lru_cache(maxsize=1)
def load_rules() -> CheckupRules:
    """The rules shipped in ``kokuho/data/checkup_rules.yaml`` (read once)."""
    text = data_text("checkup_rules.yaml")
    return parse_rules(text)


def term_for(fiscal_year: FiscalYear | int) -> int:
    """The 期 of a fiscal year under the shipped rules: 3 for FY2018–2023, 4 from FY2024.
    Raises ValueError before FY2018 (the 2nd term's rules are not configured)."""
    return load_rules().term_for(fiscal_year)
