"""How the two HTTP faces say no: RFC 9457 problem documents on ``/api/v1`` and
OperationOutcome on ``/fhir`` (エラー応答). The catalogue of error kinds lives here, with a
stable ``type`` URI each, so docs/api.md and the OpenAPI document are generated from, and
tested against, one list.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi.responses import JSONResponse

from kokuho.verify._fhir_outcome import IssueType, operation_outcome
from kokuho.verify._pki import REASON_CODES

PROBLEM: Final = "application/problem+json"
FHIR_JSON: Final = "application/fhir+json"
TYPE_BASE: Final = "https://kokuho.example/problems/"
#: The largest request body either face reads (a 10,000-item bulk check is about 2.5 MB).
MAX_BODY_BYTES: Final = 4 * 1024 * 1024

#: 401 when the caller is not known; every other refusal of a known caller is 403.
_UNAUTHENTICATED: Final = {
    "no_credential": "no `Authorization: Bearer` token",
    "malformed_credential": "the token is not `kc_<id>.<secret>`",
    "unknown_credential": "no such credential, or the wrong secret",
    "revoked_credential": "the credential has been revoked",
    "institution_not_active": "the credential's institution is suspended or closed",
}
UNAUTHENTICATED: Final = frozenset(_UNAUTHENTICATED)
_FORBIDDEN: Final = {
    "purpose_not_allowed": "the purpose is not insurance business (告知要求制限)",
    "not_an_institution": "only medical institutions may check",
    "not_insurer_staff": "only insurer staff may read members",
    "other_insurer": "staff may read their own insurer's members only",
    "bad_patient_handle": "the patient handle is malformed, expired or another institution's",
    "no_consent": "the person has not consented to show this data to this institution",
    "cards_not_configured": "card checks are not set up on this server",
}
#: kind → (HTTP status, when). The ``type`` URI of each is ``TYPE_BASE + kind``.
KINDS: Final[dict[str, tuple[int, str]]] = {
    "malformed-body": (400, "the body is not JSON that can be read (or not UTF-8)"),
    **{kind: (401, text) for kind, text in _UNAUTHENTICATED.items()},
    **{kind: (403, text) for kind, text in _FORBIDDEN.items()},
    **{f"card_{code}": (403, "My Number card refused: " + code.replace("_", " "))
       for code in sorted(REASON_CODES)},
    "not-found": (404, "no such path, bulk check or resource"),
    "method-not-allowed": (405, "the path exists, the method does not (see Allow)"),
    "payload-too-large": (413, f"the body is larger than {MAX_BODY_BYTES:,} bytes"),
    "unsupported-media-type": (415, "a body that is not JSON (application/json; "
                                    "application/fhir+json on /fhir)"),
    "invalid": (422, "a field is missing or out of its allowed values; `errors` names it"),
    "internal-error": (500, "a fault of the server; nothing was answered"),
    "primary_unavailable": (503, "a card check (PIN or face) while the primary database is "
                                 "down: its challenge or used attestation cannot be recorded"),
}  # fmt: skip
#: Refusals of a known caller that are not 403: the server cannot serve them now.
UNAVAILABLE: Final = frozenset({"primary_unavailable"})
#: How each HTTP status reads as a FHIR issue type (http://hl7.org/fhir/issue-type).
ISSUE_TYPES: Final[dict[int, IssueType]] = {
    400: "invalid", 401: "security", 403: "forbidden", 404: "not-found",
    405: "not-supported", 406: "not-supported", 413: "too-long", 415: "not-supported",
    500: "exception",
    503: "transient",
}  # fmt: skip
TITLES: Final = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
    405: "Method not allowed", 406: "Not acceptable", 413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid request", 500: "Internal server error", 503: "Service unavailable",
}  # fmt: skip


def status_for(reason: str) -> int:
    """The HTTP status of an :class:`AccessDenied` reason: 401 for an unknown caller, 503 for
    what the server cannot do now, 403 for every other refusal."""
    if reason in UNAUTHENTICATED:
        return 401
    return 503 if reason in UNAVAILABLE else 403


def kind_for(status: int) -> str:
    """The generic kind of a status the framework raises (no more specific reason known)."""
    return next((kind for kind, (code, _) in KINDS.items() if code == status
                 and kind not in UNAUTHENTICATED), "internal-error")  # fmt: skip


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 9457 problem document."""
    body = {"type": TYPE_BASE + kind, "title": title, "status": status, "detail": detail,
            **extra}  # fmt: skip
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def fhir(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def outcome(
    status: int, message: str, expression: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """An OperationOutcome with one error issue; its code follows the HTTP status."""
    response = fhir(
        operation_outcome([("error", ISSUE_TYPES.get(status, "processing"), message, expression)]),
        status,
    )
    response.headers.update(headers or {})
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


# -- OpenAPI: the error responses each operation declares ------------------------------------
PROBLEM_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "TYPE_BASE + kind"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "422 only: one entry per field that failed",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
OUTCOME_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string",
                                 "enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}  # fmt: skip


#: Statuses every operation of both faces can answer, whatever it does: listed on each.
FRAMEWORK_STATUSES: Final = (405, 500)
#: Response headers some statuses always carry.
_HEADERS: Final[dict[int, dict[str, Any]]] = {
    401: {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    405: {"Allow": {"required": True, "description": "the methods the path takes",
                    "schema": {"type": "string"}}},
}  # fmt: skip


def error_responses(*statuses: int, fhir_face: bool = False) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route: each status with the face's error body and media type."""
    media, schema = (FHIR_JSON, OUTCOME_SCHEMA) if fhir_face else (PROBLEM, PROBLEM_SCHEMA)
    return {
        status: {
            "description": TITLES[status],
            "content": {media: {"schema": schema}},
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }
