"""The FHIR face of the eligibility service: pure mapping between kokuho's eligibility model
and FHIR R4 JSON (JP Core profiles), with no I/O.

- :func:`parse_eligibility_request`: CoverageEligibilityRequest → (:class:`NumberQuery`,
  request reference); bad input raises :class:`FhirInputError`, whose ``outcome()`` is the
  OperationOutcome to send back.
- :func:`eligibility_response`: :class:`EligibilityAnswer` → CoverageEligibilityResponse.
- :func:`coverage_resource`, :func:`patient_resource`: one 資格 as Coverage / Patient,
  contained in a response or served by read.
- :func:`operation_outcome`: errors, including 認証 failures (security / forbidden).
- :func:`capability_statement`: ``GET [base]/metadata``.

FHIR version: fhir.resources 8.3.0 has R5 as its default module and R4B (4.3.0) in
``fhir.resources.R4B``, but no R4. The wire format is R4 (4.0.1, as the CapabilityStatement
says); validation uses R4B, whose CoverageEligibilityRequest/Response, Coverage, Patient,
OperationOutcome and CapabilityStatement elements used here are the same as R4's.
"""

from kokuho.verify._fhir_codes import (
    EXT_BRANCH,
    EXT_CARD_CLASS,
    EXT_CONSENT,
    EXT_ELDERLY_COPAY,
    EXT_LIMIT_CATEGORY,
    EXT_LIMIT_CONSENT,
    EXT_LOSS_REASON,
    EXT_NUMBER,
    EXT_SPECIFIC_DISEASE,
    EXT_SYMBOL,
    EXT_VALIDITY,
    INSTITUTION_SYSTEM,
    INSURER_SYSTEM,
    SUBSCRIBER_ID_SYSTEM,
)
from kokuho.verify._fhir_outcome import (
    FhirInputError,
    Issue,
    IssueType,
    Severity,
    operation_outcome,
)
from kokuho.verify._fhir_request import parse_eligibility_request
from kokuho.verify._fhir_response import (
    CAPABILITY_PUBLISHED,
    capability_statement,
    coverage_resource,
    eligibility_response,
    patient_resource,
    subscriber_identifier,
)

__all__ = [
    "CAPABILITY_PUBLISHED",
    "EXT_BRANCH",
    "EXT_CARD_CLASS",
    "EXT_CONSENT",
    "EXT_ELDERLY_COPAY",
    "EXT_LIMIT_CATEGORY",
    "EXT_LIMIT_CONSENT",
    "EXT_LOSS_REASON",
    "EXT_NUMBER",
    "EXT_SPECIFIC_DISEASE",
    "EXT_SYMBOL",
    "EXT_VALIDITY",
    "INSTITUTION_SYSTEM",
    "INSURER_SYSTEM",
    "SUBSCRIBER_ID_SYSTEM",
    "FhirInputError",
    "Issue",
    "IssueType",
    "Severity",
    "capability_statement",
    "coverage_resource",
    "eligibility_response",
    "operation_outcome",
    "parse_eligibility_request",
    "patient_resource",
    "subscriber_identifier",
]
