"""The REST face of the eligibility service, under ``/api/v1`` (OpenAPI at /openapi.json).

Every call carries ``Authorization: Bearer kc_<id>.<secret>`` and, for checks, a ``purpose``.
Errors are RFC 9457 problem documents (``application/problem+json``).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kokuho.ids import (
    InsuredId,
    InsurerNumber,
    InvalidIdentifier,
    parse_branch,
    parse_number,
    parse_symbol,
)
from kokuho.verify._access import AccessDenied, Principal
from kokuho.verify._json import answer_to_json
from kokuho.verify._model import ConsentCategory, NumberQuery
from kokuho.verify._pki import Attestation
from kokuho.verify._service import CheckResult, EligibilityService

PROBLEM = "application/problem+json"
# 401 when the caller is not known; 403 when a known caller may not do this.
_UNAUTHENTICATED = {"no_credential", "malformed_credential", "unknown_credential",
                    "revoked_credential", "institution_not_active"}  # fmt: skip


def problem(status: int, title: str, detail: str, *, kind: str, **extra: Any) -> JSONResponse:
    body = {"type": f"https://kokuho.example/problems/{kind}", "title": title, "status": status,
            "detail": detail, **extra}  # fmt: skip
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def denied_problem(error: AccessDenied) -> JSONResponse:
    status = 401 if error.reason in _UNAUTHENTICATED else 403
    title = "Unauthorized" if status == 401 else "Forbidden"
    return problem(status, title, str(error), kind=error.reason)


class NumberCheck(BaseModel):
    """A check by the numbers on the insurance card (被保険者証情報)."""

    insurer_number: str = Field(examples=["370015"], description="保険者番号")
    symbol: str = Field("", examples=["12"], description="記号 (may be empty)")
    number: str = Field(examples=["1001"], description="番号")
    branch: str | None = Field(None, examples=["01"], description="枝番 (two digits)")
    birth_date: dt.date = Field(description="生年月日")
    date_of_care: dt.date | None = Field(None, description="診療日; today when omitted")
    purpose: str = Field(examples=["care"], description="care | precheck | claim (告知要求制限)")
    limit_consent: bool = Field(False, description="限度額情報の提供に同意 (at the counter)")

    def to_query(self) -> NumberQuery:
        try:
            return NumberQuery(
                insurer=InsurerNumber.parse(self.insurer_number).value,
                symbol=parse_symbol(self.symbol),
                number=parse_number(self.number),
                branch=parse_branch(self.branch) if self.branch else None,
                birth_date=self.birth_date,
                date_of_care=self.date_of_care or dt.date.today(),
                limit_consent=self.limit_consent,
            )
        except InvalidIdentifier as error:
            raise ValueError(str(error)) from None


class AttestationBody(BaseModel):
    """The face-recognition reader's signed report (顔認証付きカードリーダー)."""

    terminal_id: str
    fingerprint: str
    institution_code: str
    issued_at: dt.datetime
    nonce: str = Field(description="base64")
    signature: str = Field(description="base64, Ed25519")

    def to_attestation(self) -> Attestation:
        return Attestation(
            self.terminal_id, self.fingerprint, self.institution_code, self.issued_at,
            _b64(self.nonce, "nonce"), _b64(self.signature, "signature"),
        )  # fmt: skip


class CardCheck(BaseModel):
    """A check by My Number card: PIN mode (challenge_id + signature) or face mode
    (attestation). Consents given at the terminal come with it."""

    certificate_pem: str = Field(description="利用者証明用電子証明書 (PEM)")
    challenge_id: str | None = None
    signature: str | None = Field(None, description="base64 signature of the challenge")
    attestation: AttestationBody | None = None
    date_of_care: dt.date | None = None
    purpose: str = "care"
    consent: list[ConsentCategory] = Field(default_factory=list, description="同意した情報")
    consent_days: int = Field(1, ge=1, le=90)


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError(f"{field}: not base64") from None


class BulkCheck(BaseModel):
    items: list[NumberCheck] = Field(min_length=1, max_length=10_000)


class ReferenceNumber(BaseModel):
    reference_number: str = Field(min_length=1, max_length=50, description="照会番号")


def check_json(result: CheckResult) -> dict[str, Any]:
    return {**answer_to_json(result.answer), "patient": result.patient}


async def _principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    token = None
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    authenticate: Callable[[str | None], Principal] = request.app.state.authenticate
    return authenticate(token)


async def _service(request: Request) -> EligibilityService:
    service: EligibilityService = request.app.state.service
    return service


Caller = Annotated[Principal, Depends(_principal)]
Service = Annotated[EligibilityService, Depends(_service)]


def build_router() -> APIRouter:
    """The routes; the app provides ``state.service`` and ``state.authenticate``."""
    router = APIRouter(prefix="/api/v1", tags=["eligibility"])

    @router.post("/checks/number", summary="資格確認 by insured number")
    def check_number(body: NumberCheck, caller: Caller, service: Service) -> dict[str, Any]:
        return check_json(service.check_number(caller, body.to_query(), body.purpose))

    @router.post("/card/challenges", summary="暗証番号モード: a single-use challenge")
    def challenge(caller: Caller, service: Service) -> dict[str, str]:
        issued = service.card_challenge(caller)
        return {
            "challenge_id": issued.id,
            "nonce": base64.b64encode(issued.nonce).decode(),
            "expires_at": issued.expires_at.isoformat(),
        }

    @router.post("/checks/card", summary="資格確認 by My Number card (PIN or face)")
    def check_card(body: CardCheck, caller: Caller, service: Service) -> dict[str, Any]:
        result = service.check_card(
            caller,
            certificate_pem=body.certificate_pem.encode(),
            day=body.date_of_care or dt.date.today(),
            purpose=body.purpose,
            challenge_id=body.challenge_id,
            signature=_b64(body.signature, "signature") if body.signature else None,
            attestation=body.attestation.to_attestation() if body.attestation else None,
            consent_to=body.consent,
            consent_days=body.consent_days,
        )
        return check_json(result)

    @router.post("/checks/bulk", status_code=202, summary="一括照会: submit")
    def submit_bulk(body: BulkCheck, caller: Caller, service: Service) -> dict[str, Any]:
        reception = service.submit_bulk(caller, [item.to_query() for item in body.items])
        return {"reception_number": reception, "status": "processing"}

    @router.get("/checks/bulk/{reception_number}", summary="一括照会: results")
    def fetch_bulk(reception_number: str, caller: Caller, service: Service) -> dict[str, Any]:
        status = service.bulk_status(caller, reception_number)
        return {
            "reception_number": status.reception_number,
            "status": status.status,
            "submitted": status.submitted,
            "results": [answer_to_json(a) for a in status.answers] if status.answers else None,
        }

    @router.put("/patients/{patient}/reference-number", summary="照会番号の登録")
    def reference(
        patient: str, body: ReferenceNumber, caller: Caller, service: Service
    ) -> dict[str, str]:
        service.register_reference(caller, patient, body.reference_number)
        return {"reference_number": body.reference_number}

    @router.get(
        "/patients/{patient}/{category}", summary="同意の範囲内の情報 (薬剤・特定健診・診療)"
    )
    def consented(
        patient: str,
        category: ConsentCategory,
        caller: Caller,
        service: Service,
        date: dt.date | None = None,
    ) -> dict[str, Any]:
        records = service.consented_data(caller, patient, category, date or dt.date.today())
        return {"category": category, "available": records is not None, "records": records or []}

    @router.get("/insurer/members/{insurer}/{symbol}/{number}/{branch}",
                summary="保険者職員: 自保険者の被保険者の資格")  # fmt: skip
    def member(
        insurer: str,
        symbol: str,
        number: str,
        branch: str,
        caller: Caller,
        service: Service,
        date: dt.date | None = None,
    ) -> dict[str, Any]:
        symbol = "" if symbol == "-" else symbol
        insured = InsuredId.parse(insurer, symbol, number, branch)
        answer = service.insurer_member(caller, insured, date or dt.date.today())
        return answer_to_json(answer)

    return router


async def _denied(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AccessDenied)
    return denied_problem(error)


async def _invalid(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    errors = [{"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]}
              for e in error.errors()]  # fmt: skip
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "Invalid request", detail, kind="invalid", errors=errors)


async def _value(request: Request, error: Exception) -> JSONResponse:
    return problem(422, "Invalid request", str(error), kind="invalid")


async def _missing(request: Request, error: Exception) -> JSONResponse:
    return problem(404, "Not found", str(error).strip("'\""), kind="not-found")


def install_error_handlers(app: FastAPI) -> None:
    """problem+json for every error the faces raise."""
    app.add_exception_handler(AccessDenied, _denied)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(ValueError, _value)
    app.add_exception_handler(LookupError, _missing)
