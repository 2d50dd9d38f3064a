"""``data/claims_distributions.yaml`` as typed values: the visit and prescribing rates of the
synthetic claims, their fees and the rates of the planted cases.

The file is checked when read: every block names its ``source`` and ``confirmed``, age
tables have one value per band, and the drug classes of acute episodes are disjoint from
those of chronic conditions (so that no person is a 重複処方 case by accident).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kokuho.store import data_text, load_yaml

FORMAT = "kokuho claims distributions 1"
BLOCKS = (
    "period", "visits", "conditions", "other_chronic", "acute", "inpatient", "prescribing",
    "generic", "fees", "receipt_types", "planted",
)  # fmt: skip
CHRONIC = ("hypertension", "diabetes", "dyslipidaemia")


@dataclass(frozen=True, slots=True)
class Fee:
    """One 診療行為 (SI) of the fee table: code, name and 点数 per 回."""

    code: str
    name: str
    points: int


@dataclass(frozen=True, slots=True)
class Condition:
    """A reason for visits: its 傷病名 (by ICD-10 prefix) and the 薬効 that treat it."""

    name: str
    icd10: tuple[str, ...]
    weight: float
    efficacies: tuple[str, ...]  # in order of preference
    efficacy_weights: tuple[float, ...]
    second_drug: float = 0.0
    operation: str = ""  # a fee key billed on a stay's second day (inpatient only)
    share: tuple[float, ...] = ()  # share of persons by age band (other chronic conditions)
    sex: int = 0  # 1 or 2 when only one sex has it


@dataclass(frozen=True, slots=True)
class AgeTable:
    """Values by age band: ``value(age)`` is the value of the band the age falls in."""

    ages: tuple[int, ...]
    values: tuple[float, ...]

    def value(self, age: int) -> float:
        return self.values[max(0, bisect.bisect_right(self.ages, age) - 1)]


@dataclass(frozen=True, slots=True)
class Config:
    ages: tuple[int, ...]  # the age bands of every age table
    months: str  # "all" or "last_fiscal_year"
    late_share: float
    kokuhoren_only: bool  # only 市町村国保 and 後期高齢者 claims
    acute_monthly: AgeTable
    acute_visits: tuple[float, ...]
    acute_hospital_share: float
    acute_prescribed: float
    monthly_share: float
    missed: float
    chronic_hospital_share: float
    tests: float
    acute_tests: float
    acute_imaging: float
    hospital_tests: float
    hospital_imaging: float
    hospital_ct: float
    chronic: dict[str, Condition]  # hypertension, diabetes, dyslipidaemia
    interrupted_share: float
    interrupted_last_month: tuple[int, int]
    other_chronic: tuple[Condition, ...]
    acute: tuple[Condition, ...]
    acute_days: tuple[int, ...]
    admission_monthly: AgeTable
    stay_mean: AgeTable
    stay_max: int
    died_in_hospital: float
    inpatient: tuple[Condition, ...]
    inpatient_efficacies: tuple[str, ...]
    clinic_outside: float
    hospital_outside: float
    daily: tuple[int, ...]
    external_amount: tuple[int, ...]
    pharmacy_same_municipality: float
    generic_base: float
    generic_spread: float
    generic_low: float
    generic_high: float
    fees: dict[str, Fee]
    pharmacy_basic: int
    pharmacy_management: int
    pharmacy_dispensing: tuple[tuple[int, int], ...]
    pharmacy_external: int
    receipt_types: dict[str, Any]
    planted: dict[str, Any]

    def dispensing_points(self, days: int) -> int:
        """調剤料 of one 内服 処方 of ``days`` days."""
        for upto, points in self.pharmacy_dispensing:
            if days <= upto:
                return points
        return self.pharmacy_dispensing[-1][1]


def _floats(values: Sequence[Any]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _table(ages: Sequence[int], values: Sequence[Any], name: str) -> AgeTable:
    if len(values) != len(ages):
        raise ValueError(f"claims distributions: {name} needs {len(ages)} values, one per band")
    return AgeTable(tuple(int(a) for a in ages), _floats(values))


def _condition(raw: Mapping[str, Any]) -> Condition:
    drugs = raw.get("drugs", [])
    efficacies = tuple(str(d["efficacy"]) if isinstance(d, Mapping) else str(d) for d in drugs)
    weights = tuple(float(d.get("weight", 1.0)) if isinstance(d, Mapping) else 1.0 for d in drugs)
    return Condition(
        name=str(raw["name"]),
        icd10=tuple(str(code) for code in raw["icd10"]),
        weight=float(raw.get("weight", 1.0)),
        efficacies=efficacies,
        efficacy_weights=weights,
        second_drug=float(raw.get("second_drug", 0.0)),
        operation=str(raw.get("operation", "")),
        share=_floats(raw.get("share", ())),
        sex=int(raw.get("sex", 0)),
    )


def parse(raw: Mapping[str, Any]) -> Config:
    """Checks and types the parsed yaml."""
    if raw.get("format") != FORMAT:
        raise ValueError("claims distributions: unknown format")
    for block in BLOCKS:
        node = raw.get(block)
        if not isinstance(node, Mapping) or "source" not in node or "confirmed" not in node:
            raise ValueError(f"claims distributions: {block} needs source and confirmed")
    v, c, p = raw["visits"], raw["conditions"], raw["inpatient"]
    ages = v["ages"]
    months = str(raw["period"]["months"])
    if months not in ("all", "last_fiscal_year"):
        raise ValueError(f"claims distributions: period.months is {months!r}")
    insurers = str(raw["period"]["insurers"])
    if insurers not in ("all", "kokuhoren"):
        raise ValueError(f"claims distributions: period.insurers is {insurers!r}")
    chronic = {name: _condition(c[name]) for name in CHRONIC}
    other = tuple(_condition(item) for item in raw["other_chronic"]["conditions"])
    acute = tuple(_condition(item) for item in raw["acute"]["episodes"])
    for cond in other:
        if len(cond.share) != len(ages):
            raise ValueError(f"claims distributions: {cond.name} needs a share per age band")
    chronic_list = [e for cond in (*chronic.values(), *other) for e in cond.efficacies]
    chronic_classes = set(chronic_list)
    if len(chronic_classes) != len(chronic_list):
        raise ValueError("claims distributions: a 薬効 treats more than one chronic condition")
    acute_classes = {e for cond in acute for e in cond.efficacies}
    if chronic_classes & acute_classes:
        raise ValueError(
            "claims distributions: acute and chronic drug classes overlap: "
            + ", ".join(sorted(chronic_classes & acute_classes))
        )
    fees = {
        key: Fee(str(item["code"]), str(item["name"]), int(item["points"]))
        for key, item in raw["fees"].items()
        if isinstance(item, Mapping)
    }
    inpatient = tuple(_condition({**item, "drugs": []}) for item in p["conditions"])
    for cond in inpatient:
        if cond.operation and cond.operation not in fees:
            raise ValueError(f"claims distributions: no fee {cond.operation!r} ({cond.name})")
    f = raw["fees"]
    g = raw["generic"]
    low, high = (int(x) for x in c["interrupted_last_month"])
    return Config(
        ages=tuple(int(a) for a in ages),
        months=months,
        late_share=float(raw["period"]["late_share"]),
        kokuhoren_only=insurers == "kokuhoren",
        acute_monthly=_table(ages, v["acute_monthly"], "visits.acute_monthly"),
        acute_visits=_floats(v["acute_visits"]),
        acute_hospital_share=float(v["acute_hospital_share"]),
        acute_prescribed=float(v["acute_prescribed"]),
        monthly_share=float(v["monthly_share"]),
        missed=float(v["missed"]),
        chronic_hospital_share=float(v["chronic_hospital_share"]),
        tests=float(v["tests"]),
        acute_tests=float(v["acute_tests"]),
        acute_imaging=float(v["acute_imaging"]),
        hospital_tests=float(v["hospital_tests"]),
        hospital_imaging=float(v["hospital_imaging"]),
        hospital_ct=float(v["hospital_ct"]),
        chronic=chronic,
        interrupted_share=float(c["interrupted_share"]),
        interrupted_last_month=(low, high),
        other_chronic=other,
        acute=acute,
        acute_days=tuple(int(d) for d in raw["acute"]["days"]),
        admission_monthly=_table(ages, p["admission_monthly"], "inpatient.admission_monthly"),
        stay_mean=_table(ages, p["stay_mean"], "inpatient.stay_mean"),
        stay_max=int(p["stay_max"]),
        died_in_hospital=float(p["died_in_hospital"]),
        inpatient=inpatient,
        inpatient_efficacies=tuple(str(e) for e in p["drugs"]),
        clinic_outside=float(raw["prescribing"]["clinic_outside"]),
        hospital_outside=float(raw["prescribing"]["hospital_outside"]),
        daily=tuple(int(x) for x in raw["prescribing"]["daily"]),
        external_amount=tuple(int(x) for x in raw["prescribing"]["external_amount"]),
        pharmacy_same_municipality=float(raw["prescribing"]["pharmacy_same_municipality"]),
        generic_base=float(g["base"]),
        generic_spread=float(g["spread"]),
        generic_low=float(g["low"]),
        generic_high=float(g["high"]),
        fees=fees,
        pharmacy_basic=int(f["pharmacy_basic"]),
        pharmacy_management=int(f["pharmacy_management"]),
        pharmacy_dispensing=tuple((int(a), int(b)) for a, b in f["pharmacy_dispensing"]),
        pharmacy_external=int(f["pharmacy_external"]),
        receipt_types=dict(raw["receipt_types"]),
        planted=dict(raw["planted"]),
    )


@lru_cache(maxsize=1)
def load_config() -> Config:
    """Reads the packaged ``data/claims_distributions.yaml``."""
    text = data_text("claims_distributions.yaml")
    return parse(load_yaml(text, "claims_distributions.yaml"))
