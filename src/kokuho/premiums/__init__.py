"""国民健康保険料 (premiums): households (世帯), incomes (所得), premium rule files per
municipality and fiscal year, assessment (賦課) with 軽減 and caps, 更正, collection (収納),
収納率, and the prefecture's 納付金 and 標準保険料率 (docs/premiums.md).

Imports ids, store, registry and claims (the 年齢調整後医療費指数 for 納付金); nothing imports its
private modules.
"""

from __future__ import annotations

from kokuho.premiums import _tables as tables
from kokuho.premiums._assess import AssessmentInputError, assess
from kokuho.premiums._assess_columnar import (
    HOUSEHOLDS_SCHEMA,
    MEMBERS_SCHEMA,
    ColumnarInputError,
    assess_table,
    household_tables,
)
from kokuho.premiums._assess_explain import explain
from kokuho.premiums._charges import (
    CHARGE_KINDS,
    ChargeKind,
    ChargeRefused,
    ChargeReport,
    record_charges,
    record_charges_many,
)
from kokuho.premiums._collection import (
    CATEGORY_NAMES,
    Arrear,
    ArrearsCategory,
    ArrearsReport,
    accounts_close,
    arrears,
)
from kokuho.premiums._collection_rate import (
    CollectionRate,
    collection_rates,
    collection_rates_for_incentives,
    percent,
)
from kokuho.premiums._collection_refunds import (
    PRESCRIPTION_YEARS,
    RefundRefused,
    RefundStatus,
    Settlement,
    decide_refunds,
    last_claim_day,
    pay_refund,
    settlements,
)
from kokuho.premiums._correct import (
    Correction,
    InstalmentChange,
    PeriodLimitError,
    PeriodLimitException,
    correct,
    period_limit,
)
from kokuho.premiums._households import (
    NO_PERSON,
    Household,
    HouseholdSummary,
    fiscal_year_bounds,
    household_inputs,
    household_summary,
    households_on,
)
from kokuho.premiums._households_query import UnknownMunicipality
from kokuho.premiums._incomes import IncomeLoadReport, load_incomes
from kokuho.premiums._levy import LevyError, apportion, compare_rates, levy
from kokuho.premiums._levy_claims import medical_indices, with_medical_indices
from kokuho.premiums._levy_inputs import example_levy_inputs, load_levy_inputs, parse_levy_inputs
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
from kokuho.premiums._payments import CHANNELS, PaymentImportReport, import_payments
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
    "HOUSEHOLDS_SCHEMA",
    "MEMBERS_SCHEMA",
    "ColumnarInputError",
    "assess_table",
    "household_tables",
    "ActualRates",
    "Arrear",
    "ArrearsCategory",
    "ArrearsReport",
    "Assessment",
    "AssessmentInputError",
    "CATEGORY_NAMES",
    "CHANNELS",
    "CHARGE_KINDS",
    "ChargeKind",
    "ChargeRefused",
    "ChargeReport",
    "CollectionRate",
    "CollectionRateBand",
    "Correction",
    "Household",
    "HouseholdInput",
    "HouseholdSummary",
    "Income",
    "IncomeLoadReport",
    "Instalment",
    "InstalmentChange",
    "LEVY_COLUMNS",
    "LevyError",
    "LevyFileError",
    "LevyInputs",
    "LevyResult",
    "LevyRules",
    "Member",
    "MunicipalRules",
    "MunicipalityInput",
    "MunicipalityLevy",
    "NO_PERSON",
    "NationalRules",
    "PARTS",
    "PART_NAMES",
    "PRESCRIPTION_YEARS",
    "Parameter",
    "Part",
    "PartAssessment",
    "PartInput",
    "PartLevy",
    "PartParameters",
    "PartSummary",
    "PaymentImportReport",
    "PeriodLimitError",
    "PeriodLimitException",
    "PremiumRuleError",
    "PremiumRuleProblem",
    "PremiumRules",
    "RateDifference",
    "Reason",
    "ReductionClass",
    "RefundRefused",
    "RefundStatus",
    "Settlement",
    "StandardRates",
    "UnknownMunicipality",
    "accounts_close",
    "apportion",
    "arrears",
    "assess",
    "collection_rates",
    "collection_rates_for_incentives",
    "compare_rates",
    "correct",
    "decide_refunds",
    "example_levy_inputs",
    "explain",
    "fiscal_year_bounds",
    "household_inputs",
    "household_summary",
    "households_on",
    "import_payments",
    "last_claim_day",
    "levy",
    "levy_document",
    "levy_rows",
    "levy_years",
    "load_incomes",
    "load_levy_inputs",
    "load_levy_rules",
    "load_premium_rules",
    "load_rules_file",
    "medical_indices",
    "parse_levy_inputs",
    "parse_levy_rules",
    "pay_refund",
    "percent",
    "period_limit",
    "record_charges",
    "record_charges_many",
    "settlements",
    "shipped_municipalities",
    "shipped_national_years",
    "tables",
    "with_medical_indices",
]
