"""The border with employee insurance (被用者保険): §110-2(2) double-payment cases with their
減額賦課決定 and refunds, the notices, and 報告徴収 (docs/boundary.md).

Imports ids, store, registry and premiums (changed only through premiums' public face);
nothing imports its private modules.
"""

from __future__ import annotations

from kokuho.boundary import _cases_tables as tables
from kokuho.boundary._cases import (
    case_detail,
    case_years,
    fiscal_year_of,
    list_cases,
    open_cases,
    overlap_months,
)
from kokuho.boundary._cases_model import (
    EMPLOYEE_KINDS,
    Case,
    CaseAudit,
    CaseError,
    CaseStatus,
    CaseYear,
    Evidence,
    Step,
    StepKind,
    UnknownCase,
)
from kokuho.boundary._cases_steps import (
    EXCEPTION_RULE,
    LIMIT_RULE,
    PRESCRIPTION_RULE,
    claim_refund,
    close_case,
    decide,
    judge,
    record_loss,
    step_json,
)
from kokuho.boundary._notices import (
    LIST_COLUMNS,
    notice_list_csv,
    notice_rows,
    reduction_notice,
    refund_notice,
)
from kokuho.boundary._reports import (
    Answer,
    Report,
    ReportCandidate,
    answer_report,
    list_reports,
    report_candidates,
    request_report,
)
from kokuho.boundary._rules import BoundaryRuleError, BoundaryRules, load_boundary_rules

__all__ = [
    "EMPLOYEE_KINDS",
    "LIST_COLUMNS",
    "Answer",
    "BoundaryRuleError",
    "BoundaryRules",
    "load_boundary_rules",
    "Report",
    "ReportCandidate",
    "answer_report",
    "list_reports",
    "notice_list_csv",
    "notice_rows",
    "reduction_notice",
    "refund_notice",
    "report_candidates",
    "request_report",
    "EXCEPTION_RULE",
    "LIMIT_RULE",
    "PRESCRIPTION_RULE",
    "Case",
    "CaseAudit",
    "CaseError",
    "CaseStatus",
    "CaseYear",
    "Evidence",
    "Step",
    "StepKind",
    "UnknownCase",
    "case_detail",
    "case_years",
    "claim_refund",
    "close_case",
    "decide",
    "fiscal_year_of",
    "judge",
    "list_cases",
    "open_cases",
    "overlap_months",
    "record_loss",
    "step_json",
    "tables",
]
