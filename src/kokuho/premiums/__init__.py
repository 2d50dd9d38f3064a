"""国民健康保険料 (premiums): households (世帯), incomes (所得), premium rule files per
municipality and fiscal year, assessment (賦課) with 軽減 and caps, 更正, collection (収納),
収納率, and the prefecture's 納付金 and 標準保険料率 (docs/premiums.md).

Imports ids, store, registry and claims (the 年齢調整後医療費指数 for 納付金); nothing imports its
private modules.
"""

from __future__ import annotations

from kokuho.premiums._assess import AssessmentInputError, assess
from kokuho.premiums._assess_explain import explain
from kokuho.premiums._correct import (
    Correction,
    InstalmentChange,
    PeriodLimitError,
    PeriodLimitException,
    correct,
    period_limit,
)
from kokuho.premiums._levy import LevyError, apportion, compare_rates, levy
from kokuho.premiums._levy_claims import medical_indices, with_medical_indices
from kokuho.premiums._levy_inputs import (
    example_levy_inputs,
    load_levy_inputs,
    parse_levy_inputs,
)
from kokuho.premiums._levy_model import (
    ActualRates,
    CollectionRateBand,
    LevyInputs,
    LevyResult,
    LevyRules,
    MunicipalityInput,
    MunicipalityLevy,
    Parameter,
    PartInput,
    PartLevy,
    PartParameters,
    PartSummary,
    RateDifference,
    StandardRates,
)
from kokuho.premiums._levy_report import LEVY_COLUMNS, levy_document, levy_rows
from kokuho.premiums._levy_rules import levy_years, load_levy_rules, parse_levy_rules
from kokuho.premiums._levy_yaml import LevyFileError
from kokuho.premiums._model import (
    PART_NAMES,
    PARTS,
    Assessment,
    HouseholdInput,
    Income,
    Instalment,
    Member,
    Part,
    PartAssessment,
    Reason,
    ReductionClass,
)
from kokuho.premiums._rules import (
    MunicipalRules,
    NationalRules,
    PremiumRuleError,
    PremiumRuleProblem,
    PremiumRules,
    load_premium_rules,
    load_rules_file,
    shipped_municipalities,
    shipped_national_years,
)

__all__ = [
    "LEVY_COLUMNS",
    "ActualRates",
    "CollectionRateBand",
    "LevyError",
    "LevyFileError",
    "LevyInputs",
    "LevyResult",
    "LevyRules",
    "MunicipalityInput",
    "MunicipalityLevy",
    "Parameter",
    "PartInput",
    "PartLevy",
    "PartParameters",
    "PartSummary",
    "RateDifference",
    "StandardRates",
    "apportion",
    "compare_rates",
    "example_levy_inputs",
    "levy",
    "levy_document",
    "levy_rows",
    "levy_years",
    "load_levy_inputs",
    "load_levy_rules",
    "medical_indices",
    "with_medical_indices",
    "parse_levy_inputs",
    "parse_levy_rules",
    "PARTS",
    "PART_NAMES",
    "Assessment",
    "HouseholdInput",
    "Income",
    "Instalment",
    "Member",
    "Part",
    "PartAssessment",
    "Reason",
    "ReductionClass",
    "AssessmentInputError",
    "Correction",
    "InstalmentChange",
    "MunicipalRules",
    "NationalRules",
    "PeriodLimitError",
    "PeriodLimitException",
    "PremiumRuleError",
    "PremiumRuleProblem",
    "PremiumRules",
    "assess",
    "correct",
    "explain",
    "load_premium_rules",
    "load_rules_file",
    "period_limit",
    "shipped_municipalities",
    "shipped_national_years",
]
