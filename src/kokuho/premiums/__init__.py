"""国民健康保険料 (premiums): households (世帯), incomes (所得), premium rule files per
municipality and fiscal year, assessment (賦課) with 軽減 and caps, 更正, collection (収納),
収納率, and the prefecture's 納付金 and 標準保険料率 (docs/premiums.md).

Imports ids, store, registry and claims (the 年齢調整後医療費指数 for 納付金); nothing imports its
private modules.
"""

from __future__ import annotations

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

__all__ = [
    "CATEGORY_NAMES",
    "CHANNELS",
    "CHARGE_KINDS",
    "PRESCRIPTION_YEARS",
    "Arrear",
    "ArrearsCategory",
    "ArrearsReport",
    "ChargeKind",
    "ChargeRefused",
    "ChargeReport",
    "CollectionRate",
    "PaymentImportReport",
    "RefundRefused",
    "RefundStatus",
    "Settlement",
    "accounts_close",
    "arrears",
    "collection_rates",
    "collection_rates_for_incentives",
    "decide_refunds",
    "import_payments",
    "last_claim_day",
    "pay_refund",
    "percent",
    "record_charges",
    "record_charges_many",
    "settlements",
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
]
