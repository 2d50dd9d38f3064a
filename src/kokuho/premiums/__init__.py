"""国民健康保険料 (premiums): households (世帯), incomes (所得), premium rule files per
municipality and fiscal year, assessment (賦課) with 軽減 and caps, 更正, collection (収納),
収納率, and the prefecture's 納付金 and 標準保険料率 (docs/premiums.md).

Imports ids, store, registry and claims (the 年齢調整後医療費指数 for 納付金); nothing imports its
private modules.
"""

from __future__ import annotations

from kokuho.premiums import _tables as tables
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
    "tables",
]
