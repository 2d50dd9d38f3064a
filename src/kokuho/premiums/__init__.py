"""国民健康保険料 (premiums): households (世帯), incomes (所得), premium rule files per
municipality and fiscal year, assessment (賦課) with 軽減 and caps, 更正, collection (収納),
収納率, and the prefecture's 納付金 and 標準保険料率 (docs/premiums.md).

Imports ids, store, registry and claims (the 年齢調整後医療費指数 for 納付金); nothing imports its
private modules.
"""

from __future__ import annotations

from kokuho.premiums import _tables as tables
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

__all__ = [
    "NO_PERSON",
    "PARTS",
    "PART_NAMES",
    "Assessment",
    "Household",
    "HouseholdInput",
    "HouseholdSummary",
    "Income",
    "IncomeLoadReport",
    "Instalment",
    "Member",
    "Part",
    "PartAssessment",
    "Reason",
    "ReductionClass",
    "UnknownMunicipality",
    "fiscal_year_bounds",
    "household_inputs",
    "household_summary",
    "households_on",
    "load_incomes",
    "tables",
]
