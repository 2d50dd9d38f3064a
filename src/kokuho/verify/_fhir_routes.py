"""The FHIR R4 face under ``/fhir``: the same core as REST, answered as FHIR resources."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from kokuho import __version__
from kokuho.verify._access import AccessDenied, Principal
from kokuho.verify._fhir import (
    FhirInputError,
    capability_statement,
    coverage_resource,
    eligibility_response,
    operation_outcome,
    parse_eligibility_request,
    patient_resource,
)
from kokuho.verify._model import Purpose, Validity
from kokuho.verify._rest import _UNAUTHENTICATED, Service

FHIR_JSON = "application/fhir+json"


def fhir(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def outcome(status: int, code: str, message: str, expression: str | None = None) -> JSONResponse:
    return fhir(operation_outcome([("error", code, message, expression)]), status)  # type: ignore[list-item]


def _caller(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal | JSONResponse:
    token = (
        authorization[7:].strip()
        if authorization and authorization.lower().startswith("bearer ")
        else None
    )
    try:
        principal: Principal = request.app.state.authenticate(token)
    except AccessDenied as denied:
        return _denied(denied)
    return principal


def _denied(denied: AccessDenied) -> JSONResponse:
    if denied.reason in _UNAUTHENTICATED:
        response = outcome(401, "security", str(denied))
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return outcome(403, "forbidden", str(denied))


Caller = Annotated[Principal | JSONResponse, Depends(_caller)]


def build_fhir_router() -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["FHIR R4"])

    @router.get("/metadata", summary="CapabilityStatement")
    def metadata(request: Request) -> JSONResponse:
        return fhir(capability_statement(str(request.base_url).rstrip("/") + "/fhir", __version__))

    @router.post("/CoverageEligibilityRequest", summary="資格確認 (CoverageEligibilityRequest)")
    async def eligibility(request: Request, caller: Caller, service: Service) -> JSONResponse:
        if isinstance(caller, JSONResponse):
            return caller
        try:
            resource = await request.json()
        except ValueError:
            return outcome(400, "invalid", "the body is not JSON")
        if not isinstance(resource, dict):
            return outcome(400, "invalid", "the body is not a FHIR resource")
        try:
            query, reference = parse_eligibility_request(resource)
        except FhirInputError as error:
            return fhir(error.outcome(), 400)
        purpose = Purpose.CARE
        try:
            result = service.check_number(caller, query, purpose)
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

    @router.get("/Coverage/{handle}", summary="Coverage (by the patient handle of a check)")
    def coverage(handle: str, caller: Caller, service: Service) -> JSONResponse:
        if isinstance(caller, JSONResponse):
            return caller
        try:
            answer = _read(caller, service, handle)
        except AccessDenied as denied:
            return _denied(denied)
        if answer.validity != Validity.VALID:
            return outcome(404, "not-found", "no coverage in force today")
        return fhir(coverage_resource(answer.results[0], handle))

    @router.get("/Patient/{handle}", summary="Patient (by the patient handle of a check)")
    def patient(handle: str, caller: Caller, service: Service) -> JSONResponse:
        if isinstance(caller, JSONResponse):
            return caller
        try:
            answer = _read(caller, service, handle)
        except AccessDenied as denied:
            return _denied(denied)
        if not answer.results:
            return outcome(404, "not-found", "no such patient")
        return fhir(
            patient_resource(answer.results[0], handle, institution=caller.institution_code)
        )  # fmt: skip

    return router
