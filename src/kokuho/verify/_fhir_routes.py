"""The FHIR R4 face under ``/fhir``: the same core as REST, answered as FHIR resources."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from kokuho import __version__
from kokuho.verify._access import AccessDenied, Principal
from kokuho.verify._fhir import (
    FhirInputError,
    capability_statement,
    coverage_resource,
    eligibility_response,
    parse_eligibility_request,
    patient_resource,
)
from kokuho.verify._fhir_params import OPENAPI_PARAMETERS, FhirRoute
from kokuho.verify._json_body import RepeatedMember, strict_json
from kokuho.verify._model import Purpose, Validity
from kokuho.verify._problems import FHIR_JSON, error_responses, fhir, outcome, status_for
from kokuho.verify._rest import Bearer, Service, bearer_token
from kokuho.verify._rest_schemas import HANDLE_PATTERN


class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON


def _resource(*types: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    # Only what every such resource has: the full R4 rules (references between contained
    # resources, JP Core extensions) are checked by the server and answered with an outcome.
    return {
        "type": "object",
        "required": ["resourceType", *required],
        "properties": {"resourceType": {"type": "string", "enum": list(types)}},
    }


def _documented(
    schema: dict[str, Any], *errors: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The route's answers (with 400 and 406 of the parameters every interaction takes,
    verify/_fhir_params.py) and those parameters."""
    ok = {200: {"description": "Successful Response", "content": {FHIR_JSON: {"schema": schema}}}}
    statuses = sorted({400, 406, *errors})
    return {
        "response_class": FhirJSONResponse,
        "responses": {**ok, **error_responses(*statuses, fhir_face=True)},
        "openapi_extra": {**(extra or {}), "parameters": OPENAPI_PARAMETERS},
    }


_REFERENCE: Final[dict[str, Any]] = {
    "type": "object", "properties": {"reference": {"type": "string"}},
}  # fmt: skip
#: The request body the CoverageEligibilityRequest operation takes (FHIR R4, JP Core).
REQUEST_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["resourceType", "status", "purpose", "patient", "created", "insurer"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["CoverageEligibilityRequest"]},
        "id": {"type": "string"},
        "status": {"type": "string", "enum": ["active"]},
        "purpose": {
            "type": "array", "minItems": 1,
            "items": {"type": "string",
                      "enum": ["auth-requirements", "benefits", "discovery", "validation"]},
            "contains": {"const": "validation"},
        },
        "patient": {**_REFERENCE, "required": ["reference"],
                    "description": "#id of the contained Patient (birthDate = 生年月日)"},
        "created": {"type": "string"},
        "servicedDate": {"type": "string", "description": "診療日 (YYYY-MM-DD)"},
        "insurer": {"type": "object", "description": "保険者番号 as identifier"},
        "provider": {"type": "object"},
        "contained": {"type": "array", "items": _resource(
            "Patient", "Coverage", "Organization", "Practitioner", "PractitionerRole", "Location"
        )},
        "insurance": {"type": "array", "items": {
            "type": "object", "properties": {"coverage": _REFERENCE},
        }},
    },
}  # fmt: skip
#: A CoverageEligibilityRequest nests about 8 levels; the reader walks the tree recursively.
MAX_DEPTH: Final = 32


def _depth(node: object) -> int:
    deepest, stack = 0, [(node, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        stack.extend((child, level + 1) for child in children)
    return deepest


Handle = Annotated[str, Path(pattern=HANDLE_PATTERN, description="patient handle of a check")]


def _caller(request: Request, credentials: Bearer) -> Principal | JSONResponse:
    try:
        principal: Principal = request.app.state.authenticate(bearer_token(credentials))
    except AccessDenied as denied:
        return _denied(denied)
    return principal


def _denied(denied: AccessDenied) -> JSONResponse:
    return outcome(status_for(denied.reason), str(denied))


Caller = Annotated[Principal | JSONResponse, Depends(_caller)]


def build_fhir_router() -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["FHIR R4"], route_class=FhirRoute)

    @router.get(
        "/metadata",
        summary="CapabilityStatement",
        **_documented(_resource("CapabilityStatement", required=("fhirVersion",))),
    )
    def metadata(request: Request) -> JSONResponse:
        return fhir(capability_statement(str(request.base_url).rstrip("/") + "/fhir", __version__))

    @router.post(
        "/CoverageEligibilityRequest",
        summary="資格確認 (CoverageEligibilityRequest)",
        **_documented(_resource("CoverageEligibilityResponse", required=("outcome",)),
                      400, 401, 403, 413, 415, extra={"requestBody": {"required": True, "content": {
            FHIR_JSON: {"schema": REQUEST_SCHEMA}, "application/json": {"schema": REQUEST_SCHEMA},
        }}}),
    )  # fmt: skip
    async def eligibility(request: Request, caller: Caller, service: Service) -> JSONResponse:
        if isinstance(caller, JSONResponse):
            return caller
        try:
            resource = strict_json(await request.body())
        except RepeatedMember as error:
            return outcome(400, f"the body is not I-JSON: {error}")
        except (ValueError, RecursionError):
            return outcome(400, "the body is not JSON")
        if not isinstance(resource, dict):
            return outcome(400, "the body is not a FHIR resource")
        if _depth(resource) > MAX_DEPTH:
            return outcome(400, f"the body nests deeper than {MAX_DEPTH} levels")
        try:
            query, reference = parse_eligibility_request(resource)
        except FhirInputError as error:
            return fhir(error.outcome(), 400)
        purpose = Purpose.CARE
        try:
            # On the loop, as the REST check: the blocking call held the loop until its audit
            # record was committed (on PostgreSQL, until the audit timeout: the writer thread
            # waited for the chain's lock that the loop's own group commit held).
            result = await service.check_number_async(caller, query, purpose)
        except AccessDenied as denied:
            return _denied(denied)
        body = eligibility_response(
            result.answer,
            reference or "CoverageEligibilityRequest/unidentified",
            created=dt.datetime.now(dt.UTC),
            requestor=caller.institution_code or "",
            query=query,
        )
        if result.patient:
            body.setdefault("extension", []).append(
                {"url": "http://kokuho.example/fhir/StructureDefinition/patient-handle",
                 "valueString": result.patient}
            )  # fmt: skip
        return fhir(body)

    def _read(caller: Principal, service: Any, handle: str) -> Any:
        return service.patient_answer(caller, handle, dt.date.today()).answer

    @router.get(
        "/Coverage/{handle}",
        summary="Coverage (by the patient handle of a check)",
        **_documented(_resource("Coverage"), 400, 401, 403, 404),
    )
    def coverage(handle: Handle, caller: Caller, service: Service) -> JSONResponse:
        if isinstance(caller, JSONResponse):
            return caller
        try:
            answer = _read(caller, service, handle)
        except AccessDenied as denied:
            return _denied(denied)
        if answer.validity != Validity.VALID:
            return outcome(404, "no coverage in force today")
        return fhir(coverage_resource(answer.results[0], handle))

    @router.get(
        "/Patient/{handle}",
        summary="Patient (by the patient handle of a check)",
        **_documented(_resource("Patient"), 400, 401, 403, 404),
    )
    def patient(handle: Handle, caller: Caller, service: Service) -> JSONResponse:
        if isinstance(caller, JSONResponse):
            return caller
        try:
            answer = _read(caller, service, handle)
        except AccessDenied as denied:
            return _denied(denied)
        if not answer.results:
            return outcome(404, "no such patient")
        return fhir(
            patient_resource(answer.results[0], handle, institution=caller.institution_code)
        )  # fmt: skip

    return router
