"""OperationOutcome: how the FHIR face says no (invalid input, 認証失敗, not found)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal, get_args

Severity = Literal["fatal", "error", "warning", "information"]

#: FHIR R4 IssueType (http://hl7.org/fhir/issue-type), the full required value set.
IssueType = Literal[
    "invalid",
    "structure",
    "required",
    "value",
    "invariant",
    "security",
    "login",
    "unknown",
    "expired",
    "forbidden",
    "suppressed",
    "processing",
    "not-supported",
    "duplicate",
    "multiple-matches",
    "not-found",
    "deleted",
    "too-long",
    "code-invalid",
    "extension",
    "too-costly",
    "business-rule",
    "conflict",
    "transient",
    "lock-error",
    "no-store",
    "exception",
    "timeout",
    "incomplete",
    "throttled",
    "informational",
]

Issue = tuple[Severity, IssueType, str, str | None]

_SEVERITIES: Final = frozenset(get_args(Severity))
_ISSUE_TYPES: Final = frozenset(get_args(IssueType))


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    """An OperationOutcome with one issue per ``(severity, code, diagnostics, expression)``.

    Typical codes: ``invalid`` for a request that does not parse, ``security`` / ``forbidden``
    for a credential that is missing or not allowed (認証・認可), ``not-found`` for a read of
    an id the institution may not see. ``expression`` is a FHIRPath into the request, or None.
    """
    if not issues:
        # R4 requires at least one issue; an empty outcome would say nothing.
        raise ValueError("an OperationOutcome needs at least one issue")
    rendered: list[dict[str, Any]] = []
    for severity, code, diagnostics, expression in issues:
        # Callers pass values through from HTTP layers, where Literal types are not checked.
        if severity not in _SEVERITIES:
            raise ValueError(f"{severity!r} is not an issue severity")
        if code not in _ISSUE_TYPES:
            raise ValueError(f"{code!r} is not a FHIR issue type")
        issue: dict[str, Any] = {"severity": severity, "code": code}
        if diagnostics:
            issue["diagnostics"] = diagnostics
        if expression:
            issue["expression"] = [expression]
        rendered.append(issue)
    return {"resourceType": "OperationOutcome", "issue": rendered}


class FhirInputError(ValueError):
    """A FHIR request kokuho cannot answer. ``issues`` lists ``(expression, message)`` pairs;
    the expression is a FHIRPath from the resource root ("" when the body itself is wrong)."""

    def __init__(self, issues: Sequence[tuple[str, str]]) -> None:
        self.issues: list[tuple[str, str]] = list(issues)
        super().__init__("; ".join(f"{path}: {text}" if path else text for path, text in issues))

    def outcome(self) -> dict[str, Any]:
        """The OperationOutcome to return (HTTP 400)."""
        return operation_outcome(
            [("error", "invalid", message, path or None) for path, message in self.issues]
        )
