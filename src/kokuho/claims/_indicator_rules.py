"""``data/prescribing_rules.yaml``: the thresholds of 重複・多剤, 睡眠薬, 糖尿病 treatment, 歯科
and 薬剤情報, each with its source and whether it was confirmed there."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

from kokuho.store import data_text, load_yaml

CountBy = Literal["efficacy", "ingredient", "code"]


@dataclass(frozen=True, slots=True)
class DuplicateRule:
    """At least ``institutions`` institutions and ``efficacies`` duplicated 薬効 in a month."""

    institutions: int
    efficacies: int


@dataclass(frozen=True, slots=True)
class PrescribingRules:
    duplicate: tuple[DuplicateRule, ...]
    count_all_institutions: bool
    multi_min_count: int
    multi_min_days_supply: int
    multi_count: CountBy
    sleeping_pill_efficacies: frozenset[str]
    sleeping_pill_codes: frozenset[str]
    diabetes_diagnoses: frozenset[str]
    diabetes_efficacies: frozenset[str]
    diabetes_drug_codes: frozenset[str]
    interruption_months: int
    history_months: int
    dental_receipt_prefixes: tuple[str, ...]
    medication_months: int
    unconfirmed: tuple[str, ...]  # dotted names of the rules not confirmed at their source


def _item(raw: Mapping[str, Any], path: str, unconfirmed: list[str]) -> Any:
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ValueError(f"prescribing rules: {path} is missing")
        node = node[part]
    if not isinstance(node, Mapping) or "source" not in node or "confirmed" not in node:
        raise ValueError(f"prescribing rules: {path} needs value, source and confirmed")
    if not node["confirmed"]:
        unconfirmed.append(path)
    return node["value"]


def _positive(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"prescribing rules: {path} must be a positive integer, not {value!r}")
    return value


def _codes(value: Any, path: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ValueError(f"prescribing rules: {path} must be a list of codes")
    return frozenset(str(v) for v in value)


def parse_rules(text: str, name: str = "prescribing_rules.yaml") -> PrescribingRules:
    """Parses the text of a prescribing rules file; every problem names the rule."""
    raw = load_yaml(text, name)
    if not isinstance(raw, Mapping) or raw.get("format") != "kokuho prescribing rules 1":
        raise ValueError("prescribing rules: unknown format")
    off: list[str] = []

    def item(path: str) -> Any:
        return _item(raw, path, off)

    rules = []
    for entry in item("duplicate.when"):
        if not isinstance(entry, Mapping):
            raise ValueError("prescribing rules: duplicate.when lists {institutions, efficacies}")
        rules.append(
            DuplicateRule(
                _positive(entry.get("institutions"), "duplicate.when.institutions"),
                _positive(entry.get("efficacies"), "duplicate.when.efficacies"),
            )
        )
    if not rules:
        raise ValueError("prescribing rules: duplicate.when is empty")
    counted = item("duplicate.institutions_counted")
    if counted not in ("duplicated", "all"):
        raise ValueError(f"prescribing rules: duplicate.institutions_counted is {counted!r}")
    count = item("multi_drug.count")
    if count not in ("efficacy", "ingredient", "code"):
        raise ValueError(f"prescribing rules: multi_drug.count is {count!r}")
    prefixes = _codes(item("dental.receipt_type_prefixes"), "dental.receipt_type_prefixes")
    return PrescribingRules(
        duplicate=tuple(rules),
        count_all_institutions=counted == "all",
        multi_min_count=_positive(item("multi_drug.min_count"), "multi_drug.min_count"),
        multi_min_days_supply=int(item("multi_drug.min_days_supply")),
        multi_count="efficacy"
        if count == "efficacy"
        else "ingredient"
        if count == "ingredient"
        else "code",  # fmt: skip
        sleeping_pill_efficacies=_codes(
            item("sleeping_pills.efficacies"), "sleeping_pills.efficacies"
        ),
        sleeping_pill_codes=_codes(item("sleeping_pills.drug_codes"), "sleeping_pills.drug_codes"),
        diabetes_diagnoses=_codes(item("diabetes.diagnoses"), "diabetes.diagnoses"),
        diabetes_efficacies=_codes(item("diabetes.efficacies"), "diabetes.efficacies"),
        diabetes_drug_codes=_codes(item("diabetes.drug_codes"), "diabetes.drug_codes"),
        interruption_months=_positive(
            item("diabetes.interruption_months"), "diabetes.interruption_months"
        ),
        history_months=_positive(item("diabetes.history_months"), "diabetes.history_months"),
        dental_receipt_prefixes=tuple(sorted(prefixes)),
        medication_months=_positive(item("medication_history.months"), "medication_history.months"),
        unconfirmed=tuple(off),
    )


@lru_cache(maxsize=1)
def _packaged() -> PrescribingRules:
    text = data_text("prescribing_rules.yaml")
    return parse_rules(text)


def load_prescribing_rules(path: Path | None = None) -> PrescribingRules:
    """The rules of ``path``, or the packaged ``data/prescribing_rules.yaml``."""
    return parse_rules(path.read_text("utf-8"), str(path)) if path is not None else _packaged()


class DiseaseRow(Protocol):
    """A 傷病名マスター row as ``read_disease_master`` returns it (code, ICD-10)."""

    @property
    def code(self) -> str: ...

    @property
    def icd10(self) -> str: ...


def diabetes_codes(
    rows: Iterable[DiseaseRow], prefixes: tuple[str, ...] = ("E10", "E11", "E12", "E13", "E14")
) -> frozenset[str]:
    """The 傷病名コード of a 傷病名マスター whose ICD-10 is 糖尿病 (E10–E14): pass them to
    ``ClaimsTreatment(diagnoses=…)`` when the real master is loaded."""
    return frozenset(row.code for row in rows if row.icd10.strip().upper().startswith(prefixes))
