"""The REST face of the eligibility service, under ``/api/v1`` (OpenAPI at /openapi.json).

Every call carries ``Authorization: Bearer kc_<id>.<secret>`` and, for checks, a ``purpose``.
Errors are RFC 9457 problem documents (``application/problem+json``, see ``_problems``).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from starlette.convertors import StringConvertor, register_url_convertor

from kokuho import __version__
from kokuho.ids import (
    InsuredId,
    InsurerNumber,
    parse_branch,
    parse_number,
    parse_symbol,
    scrub_mynumbers,
)
from kokuho.verify._access import Principal
from kokuho.verify._json import answer_to_json
from kokuho.verify._json_body import StrictJsonRoute
from kokuho.verify._model import ConsentCategory, NumberQuery
from kokuho.verify._pki import Attestation
from kokuho.verify._problems import error_responses
from kokuho.verify._rest_fast import fast_route
from kokuho.verify._rest_schemas import (
    BASE64_PATTERN,
    BRANCH_PATTERN,
    HANDLE_PATTERN,
    INSURER_PATTERN,
    PATH_TEXT_PATTERN,
    PURPOSES,
    RECEPTION_PATTERN,
    TEXT_PATTERN,
    AnswerBody,
    BulkReceipt,
    BulkStatusBody,
    ChallengeBody,
    CheckBody,
    ConsentedBody,
    CredentialBody,
    HealthBody,
    IsoDate,
    IsoDateTime,
    PurposeText,
    ReferenceBody,
    WholeNumber,
)
from kokuho.verify._service import CheckResult, EligibilityService


class _Request(BaseModel):
    # A field the operation does not know is refused, never silently dropped.
    model_config = ConfigDict(extra="forbid")


@functools.lru_cache(maxsize=4096)
def _insurer(raw: str) -> str:
    # A prefecture's checks name a few thousand insurers at most: each is parsed once (a
    # number that fails raises every time, as an exception is never cached).
    return InsurerNumber.parse(raw).value


class NumberCheck(_Request):
    """A check by the numbers on the insurance card (被保険者証情報)."""

    insurer_number: str = Field(
        examples=["370015"], pattern=INSURER_PATTERN,
        description="保険者番号: 6 or 8 digits whose last is the check digit (検証番号)",
    )  # fmt: skip
    symbol: str = Field("", examples=["12"], max_length=20, pattern=TEXT_PATTERN,
                        description="記号 (may be empty)")  # fmt: skip
    number: str = Field(examples=["1001"], min_length=1, max_length=20, pattern=TEXT_PATTERN,
                        description="番号")  # fmt: skip
    branch: str | None = Field(None, examples=["01"], pattern=BRANCH_PATTERN,
                               description="枝番 (two digits)")  # fmt: skip
    birth_date: IsoDate = Field(description="生年月日")
    date_of_care: IsoDate | None = Field(None, description="診療日; today when omitted")
    purpose: PurposeText = Field(examples=["care"], description="告知要求制限: care | precheck | "
                                 "claim; anything else is refused (403) and audited")  # fmt: skip
    limit_consent: bool = Field(False, strict=True,
                                description="限度額情報の提供に同意 (at the counter)")  # fmt: skip

    # The numbers are read (check digit, full-width digits) while the body is validated, so a
    # number that fails is a 422 naming its field (items.<i>.insurer_number in a bulk check),
    # not a bare reason; the fields then hold the numbers as read. (InvalidIdentifier is a
    # ValueError: pydantic makes its reason the field's message.)
    @field_validator("insurer_number")
    @classmethod
    def _read_insurer(cls, value: str) -> str:
        return _insurer(value)

    @field_validator("symbol")
    @classmethod
    def _read_symbol(cls, value: str) -> str:
        return parse_symbol(value)

    @field_validator("number")
    @classmethod
    def _read_number(cls, value: str) -> str:
        return parse_number(value)

    @field_validator("branch")
    @classmethod
    def _read_branch(cls, value: str | None) -> str | None:
        return parse_branch(value) if value else None

    def to_query(self) -> NumberQuery:
        return NumberQuery(
            insurer=self.insurer_number,
            symbol=self.symbol,
            number=self.number,
            branch=self.branch or None,
            birth_date=self.birth_date,
            date_of_care=self.date_of_care or dt.date.today(),
            limit_consent=self.limit_consent,
        )


class AttestationBody(_Request):
    """The face-recognition reader's signed report (顔認証付きカードリーダー)."""

    terminal_id: str = Field(min_length=1, max_length=255, pattern=r"^[\x20-\x7e]+$")
    fingerprint: str = Field(pattern="^[0-9a-fA-F]{64}$", description="SHA-256 of the card")
    institution_code: str = Field(pattern="^[0-9]{10}$", description="医療機関コード (10 digits)")
    issued_at: IsoDateTime
    nonce: str = Field(max_length=64, pattern=BASE64_PATTERN, description="base64")
    signature: str = Field(max_length=1024, pattern=BASE64_PATTERN, description="base64, Ed25519")

    def to_attestation(self) -> Attestation:
        return Attestation(
            self.terminal_id, self.fingerprint, self.institution_code, self.issued_at,
            _b64(self.nonce, "nonce"), _b64(self.signature, "signature"),
        )  # fmt: skip


class CardCheck(_Request):
    """A check by My Number card: PIN mode (challenge_id + signature) or face mode
    (attestation). Consents given at the terminal come with it."""

    certificate_pem: str = Field(max_length=16_384, description="利用者証明用電子証明書 (PEM)")
    challenge_id: str | None = Field(None, pattern=HANDLE_PATTERN)
    signature: str | None = Field(None, max_length=1024, pattern=BASE64_PATTERN,
                                  description="base64 signature of the challenge")  # fmt: skip
    attestation: AttestationBody | None = None
    date_of_care: IsoDate | None = None
    purpose: PurposeText = "care"
    consent: list[ConsentCategory] = Field(default_factory=list, max_length=4,
                                           description="同意した情報")  # fmt: skip
    consent_days: WholeNumber = Field(1, ge=1, le=90)


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError(f"{field}: not base64") from None


class BulkItem(NumberCheck):
    """One check of a 一括照会: a number check whose purpose is refused at once (422) when it
    names no insurance business, rather than audited as a refusal (403) like a single one."""

    @field_validator("purpose")
    @classmethod
    def _business(cls, value: str) -> str:
        # A field validator, so the error names items.<i>.purpose, not the whole body.
        if value not in PURPOSES:
            # Masked as a refused single check's purpose is (docs/identifiers.md).
            raise ValueError(f"{scrub_mynumbers(value)!r} is not one of {PURPOSES}")
        return value


class BulkCheck(_Request):
    items: list[BulkItem] = Field(min_length=1, max_length=10_000)


class ReferenceNumber(_Request):
    reference_number: str = Field(min_length=1, max_length=50, pattern=TEXT_PATTERN,
                                  description="照会番号")  # fmt: skip

    @field_validator("reference_number")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # The service keeps it stripped: blanks only (a full-width space too) would be empty.
        if not value.strip():
            raise ValueError("must not be blank")
        return value


# Starlette's JSONResponse text, by an encoder made once (json.dumps makes one per call).
_ANSWER_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class _AnswerResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return _ANSWER_JSON.encode(content).encode("utf-8")


def check_json(result: CheckResult) -> dict[str, Any]:
    return {**answer_to_json(result.answer), "patient": result.patient}


# Declared as a security scheme, so the OpenAPI document says which operations need it.
Bearer = Annotated[
    HTTPAuthorizationCredentials | None,
    Depends(HTTPBearer(auto_error=False, scheme_name="credential",
                       description="`kc_<id>.<secret>` from `kokuho credentials issue`")),
]  # fmt: skip


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials.strip() if credentials else None


async def _principal(request: Request, credentials: Bearer) -> Principal:
    authenticate: Callable[[str | None], Principal] = request.app.state.authenticate
    return authenticate(bearer_token(credentials))


async def _service(request: Request) -> EligibilityService:
    service: EligibilityService = request.app.state.service
    return service


Caller = Annotated[Principal, Depends(_principal)]
Service = Annotated[EligibilityService, Depends(_service)]


async def _number_answer(
    service: EligibilityService, caller: Principal, body: NumberCheck
) -> JSONResponse:
    # On the event loop: the look-up is a few indexed reads, and the wait for the audit
    # commit holds no thread. The JSON is the one FastAPI would write, without its generic
    # encoder's walk over the answer.
    result = await service.check_number_async(caller, body.to_query(), body.purpose)
    return _AnswerResponse(check_json(result))


async def _card_answer(
    service: EligibilityService, caller: Principal, body: CardCheck
) -> JSONResponse:
    # On the event loop, as the number check: no thread pool hand-off, and the wait for the
    # audit commit holds no thread.
    result = await service.check_card_async(
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
    return _AnswerResponse(check_json(result))


def _fast(
    answer: Callable[[EligibilityService, Principal, Any], Awaitable[JSONResponse]],
) -> Callable[[Request, Principal, Any], Awaitable[JSONResponse]]:
    """The route's answer for the fast path, which finds the service on the app itself."""

    async def fast(request: Request, caller: Principal, body: Any) -> JSONResponse:
        return await answer(request.app.state.service, caller, body)

    return fast


def _documented(body: type[BaseModel], *errors: int) -> dict[str, Any]:
    """The route options that make its OpenAPI entry say what it answers, without validating
    the answer a second time (``response_model=None``)."""
    responses: dict[int | str, dict[str, Any]] = {200: {"model": body}}
    return {"response_model": None, "responses": {**responses, **error_responses(*errors)}}


# Every operation may be refused 401 (who is asking) and, when it takes a body or parameters,
# 422 (what was asked); a body can also be malformed (400), too large (413) or not JSON (415).
_BODY = (400, 401, 413, 415, 422)


class _CategoryConvertor(StringConvertor):
    # Only the consent categories: so /patients/{p}/reference-number, a sibling operation, is a
    # 405 for GET rather than a "category" that fails validation.
    regex = "|".join(str(c) for c in ConsentCategory)


register_url_convertor("consent", _CategoryConvertor())
Handle = Annotated[str, Path(pattern=HANDLE_PATTERN, description="patient handle of a check")]
OnDay = Annotated[IsoDate | None, Query(description="the day asked about; today when omitted")]


def add_check_routes(router: APIRouter, prefix: str = "") -> None:
    """Adds the two check routes (``/checks/number`` and ``/checks/card`` under ``prefix``) to
    ``router``; the app provides ``state.service`` and ``state.authenticate``."""
    # Tagged here unless the router tags its routes itself (FastAPI would list the tag twice).
    tags: list[str | Enum] = [] if "eligibility" in router.tags else ["eligibility"]

    async def check_number(body: NumberCheck, caller: Caller, service: Service) -> JSONResponse:
        return await _number_answer(service, caller, body)

    # The common case skips FastAPI's generic machinery (_rest_fast); the rest goes through it.
    router.add_api_route(
        f"{prefix}/checks/number", check_number, methods=["POST"], tags=tags,
        summary="資格確認 by insured number",
        route_class_override=fast_route(NumberCheck, _fast(_number_answer)),
        **_documented(CheckBody, *_BODY, 403),
    )  # fmt: skip

    async def check_card(body: CardCheck, caller: Caller, service: Service) -> JSONResponse:
        return await _card_answer(service, caller, body)

    router.add_api_route(
        f"{prefix}/checks/card", check_card, methods=["POST"], tags=tags,
        summary="資格確認 by My Number card (PIN or face)",
        route_class_override=fast_route(CardCheck, _fast(_card_answer)),
        **_documented(CheckBody, *_BODY, 403, 503),
    )  # fmt: skip


def build_router(*, checks: bool = True) -> APIRouter:
    """The routes; the app provides ``state.service`` and ``state.authenticate``. With
    ``checks=False`` without the two check routes, which the app then adds to its own router
    (:func:`add_check_routes`)."""
    router = APIRouter(prefix="/api/v1", tags=["eligibility"], route_class=StrictJsonRoute)
    if checks:
        add_check_routes(router)

    @router.get("/health", tags=["service"], **_documented(HealthBody))
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @router.get("/credential", tags=["service"], summary="この認証情報: whom it speaks for",
                **_documented(CredentialBody, 401))  # fmt: skip
    def credential(caller: Caller) -> dict[str, str | None]:
        # Only what the credential's holder was given with it (no person's data): not audited.
        return {
            "credential_id": caller.credential_id,
            "kind": caller.kind,
            "institution_code": caller.institution_code,
            "insurer_number": caller.insurer_number,
        }

    @router.post("/card/challenges", summary="暗証番号モード: a single-use challenge",
                 **_documented(ChallengeBody, 401, 403, 413, 415, 503))  # fmt: skip
    def challenge(caller: Caller, service: Service) -> dict[str, str]:
        issued = service.card_challenge(caller)
        return {
            "challenge_id": issued.id,
            "nonce": base64.b64encode(issued.nonce).decode(),
            "expires_at": issued.expires_at.isoformat(),
        }

    submit_options = _documented(BulkReceipt, *_BODY, 403)
    submit_options["responses"][202] = submit_options["responses"].pop(200)

    @router.post("/checks/bulk", status_code=202, summary="一括照会: submit", **submit_options)
    def submit_bulk(body: BulkCheck, caller: Caller, service: Service) -> dict[str, Any]:
        reception = service.submit_bulk(caller, [item.to_query() for item in body.items])
        return {"reception_number": reception, "status": "processing"}

    @router.get("/checks/bulk/{reception_number}", summary="一括照会: results",
                **_documented(BulkStatusBody, 401, 403, 404, 422))  # fmt: skip
    def fetch_bulk(
        reception_number: Annotated[str, Path(pattern=RECEPTION_PATTERN, description="受付番号")],
        caller: Caller,
        service: Service,
    ) -> dict[str, Any]:
        status = service.bulk_status(caller, reception_number)
        return {
            "reception_number": status.reception_number,
            "status": status.status,
            "submitted": status.submitted,
            "results": [answer_to_json(a) for a in status.answers] if status.answers else None,
        }

    @router.put("/patients/{patient}/reference-number", summary="照会番号の登録",
                **_documented(ReferenceBody, *_BODY, 403))  # fmt: skip
    def reference(
        patient: Handle, body: ReferenceNumber, caller: Caller, service: Service
    ) -> dict[str, str]:
        service.register_reference(caller, patient, body.reference_number)
        return {"reference_number": body.reference_number}

    @router.get("/patients/{patient}/{category:consent}",
                summary="同意の範囲内の情報 (薬剤・特定健診・診療)",
                **_documented(ConsentedBody, 401, 403, 404, 422))  # fmt: skip
    def consented(
        patient: Handle,
        category: ConsentCategory,
        caller: Caller,
        service: Service,
        date: OnDay = None,
    ) -> dict[str, Any]:
        records = service.consented_data(caller, patient, category, date or dt.date.today())
        return {"category": category, "available": records is not None, "records": records or []}

    @router.get("/insurer/members/{insurer}/{symbol}/{number}/{branch}",
                summary="保険者職員: 自保険者の被保険者の資格",
                **_documented(AnswerBody, 401, 403, 422))  # fmt: skip
    def member(
        # Each number is read as the parameter is validated, so a wrong one (a check digit,
        # blanks) is a 422 naming it, as in a check's body.
        insurer: Annotated[str, Path(pattern=INSURER_PATTERN, description="保険者番号"),
                           AfterValidator(_insurer)],
        symbol: Annotated[str, Path(max_length=20, pattern=PATH_TEXT_PATTERN,
                                    description="記号; `-` when the card has none"),
                          AfterValidator(parse_symbol)],
        number: Annotated[str, Path(max_length=20, pattern=PATH_TEXT_PATTERN),
                          AfterValidator(parse_number)],
        branch: Annotated[str, Path(pattern=BRANCH_PATTERN, description="枝番"),
                          AfterValidator(parse_branch)],
        caller: Caller,
        service: Service,
        date: OnDay = None,
    ) -> dict[str, Any]:  # fmt: skip
        symbol = "" if symbol == "-" else symbol
        insured = InsuredId.parse(insurer, symbol, number, branch)
        answer = service.insurer_member(caller, insured, date or dt.date.today())
        return answer_to_json(answer)

    return router
