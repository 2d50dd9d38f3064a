"""The border with employee insurance (被用者保険): §110-2(2) double-payment cases with their
減額賦課決定 and refunds, the notices, and 報告徴収 (docs/boundary.md).

Imports ids, store, registry and premiums (changed only through premiums' public face);
nothing imports its private modules.
"""

from __future__ import annotations

from kokuho.boundary import (
    _cases_tables as tables,
)
from kokuho.boundary._cases import (
    case_detail,
    case_years,
    fiscal_year_of,
    list_cases,
    open_cases,
    overlap_months,
)
from kokuho.boundary._cases_counts import CaseCounts, case_counts
from kokuho.boundary._cases_loss import record_loss
from kokuho.boundary._cases_model import (
    EMPLOYEE_KINDS,
    Case,
    CaseAudit,
    CaseError,
    CaseStatus,
    CaseYear,
    Evidence,
    LeaseLost,
    NoNotice,
    Step,
    StepKind,
    UnknownCase,
)
from kokuho.boundary._cases_release import Released, release_case, release_request
from kokuho.boundary._cases_steps import (
    EXCEPTION_RULE,
    LIMIT_RULE,
    PRESCRIPTION_RULE,
    claim_refund,
    close_case,
    decide,
    judge,
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
from kokuho.boundary._residency import (
    DependantFacts,
    Outcome,
    Residence,
    ResidencyDecision,
    ResidencyInputError,
    Visa,
    check_dependant,
    parse_evidence,
    parse_exception,
    parse_visa,
)
from kokuho.boundary._residency_file import (
    DEPENDANTS_COLUMNS,
    DEPENDANTS_REQUIRED,
    FileCheck,
    RecheckItem,
    RowCheck,
    check_residency_file,
    feed_has_residency_columns,
    recheck_list,
)
from kokuho.boundary._residency_register import (
    BasicItems,
    ResidentLookup,
    resident_register_lookup,
)
from kokuho.boundary._residency_rules import (
    RULES_FILE,
    Exclusion,
    ResidencyException,
    ResidencyRules,
    load_residency_rules,
    parse_residency_rules,
)
from kokuho.boundary._rules import (
    BoundaryRuleError,
    BoundaryRules,
    load_boundary_rules,
)

"""The border between 市町村国保 and employee insurance (issue 13): here, 被扶養者の国内居住要件
(dependants' residency, from 2020-04-01): the rule table, one dependant's check, the stage on
change feeds and dependants files, and the re-check list (docs/dependants.md).

Other contexts use this module only; the underscored modules are private.
"""

__all__ = [
    "Answer",
    "BasicItems",
    "BoundaryRuleError",
    "BoundaryRules",
    "Case",
    "CaseAudit",
    "CaseCounts",
    "CaseError",
    "CaseStatus",
    "CaseYear",
    "DEPENDANTS_COLUMNS",
    "DEPENDANTS_REQUIRED",
    "DependantFacts",
    "EMPLOYEE_KINDS",
    "EXCEPTION_RULE",
    "Evidence",
    "Exclusion",
    "FileCheck",
    "LIMIT_RULE",
    "LIST_COLUMNS",
    "LeaseLost",
    "Outcome",
    "PRESCRIPTION_RULE",
    "RULES_FILE",
    "RecheckItem",
    "Released",
    "Report",
    "ReportCandidate",
    "Residence",
    "ResidencyDecision",
    "ResidencyException",
    "ResidencyInputError",
    "ResidencyRules",
    "ResidentLookup",
    "RowCheck",
    "Step",
    "StepKind",
    "NoNotice",
    "UnknownCase",
    "Visa",
    "answer_report",
    "case_counts",
    "case_detail",
    "case_years",
    "check_dependant",
    "check_residency_file",
    "claim_refund",
    "close_case",
    "decide",
    "feed_has_residency_columns",
    "fiscal_year_of",
    "judge",
    "list_cases",
    "list_reports",
    "load_boundary_rules",
    "load_residency_rules",
    "notice_list_csv",
    "notice_rows",
    "open_cases",
    "overlap_months",
    "parse_evidence",
    "parse_exception",
    "parse_residency_rules",
    "parse_visa",
    "recheck_list",
    "record_loss",
    "reduction_notice",
    "refund_notice",
    "release_case",
    "release_request",
    "report_candidates",
    "request_report",
    "resident_register_lookup",
    "step_json",
    "tables",
]
