"""What the REST face's bodies look like, for the OpenAPI document: the value types its
requests are validated into (the same constraints the server enforces) and the answers it
sends. The answers are built as plain dicts (``_json``); these models only describe them, so
answering a check costs no second validation."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from kokuho.verify._model import ConsentCategory, Purpose

DIGIT: Final = "[0-9０-９]"  # full-width digits are read as half-width (NFKC), as cards print them
INSURER_PATTERN: Final = f"^{DIGIT}{{6}}({DIGIT}{{2}})?$"
BRANCH_PATTERN: Final = f"^{DIGIT}{{2}}$"
#: 記号 and 番号: up to 20 characters of text, no control characters (and no "/" in a path).
TEXT_PATTERN: Final = r"^[^\x00-\x1f\x7f]*$"
PATH_TEXT_PATTERN: Final = r"^[^\x00-\x1f\x7f/]+$"
HANDLE_PATTERN: Final = "^[0-9a-f]{32}$"
RECEPTION_PATTERN: Final = "^[0-9A-F]{16}$"
BASE64_PATTERN: Final = "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
_DAY: Final = r"(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_DATE: Final = re.compile(_DAY)
_DATETIME: Final = re.compile(
    _DAY + r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"
)
PURPOSES: Final = [str(p) for p in Purpose]


def _iso_date(value: Any) -> Any:
    # Only "YYYY-MM-DD" in 1900–2099: no Unix timestamps, no year 1 or 9999 reaching date maths.
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError("must be a date YYYY-MM-DD between 1900 and 2099")
    return value


def _iso_datetime(value: Any) -> Any:
    if not isinstance(value, str) or not _DATETIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date-time with a time zone, 1900–2099")
    return value


def _whole(value: Any) -> Any:
    # JSON has one number type: 60.0 is the integer 60, but "60" and true are not numbers.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    return int(value)


WholeNumber = Annotated[int, BeforeValidator(_whole)]
IsoDate = Annotated[
    dt.date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "pattern": f"^{_DATE.pattern}$"}),
]
IsoDateTime = Annotated[
    dt.datetime,
    BeforeValidator(_iso_datetime),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": f"^{_DATETIME.pattern}$"}),
]
#: The purpose is checked by the service, not the schema, so that a refusal is audited (403);
#: only a word that can be written to the audit log gets that far (else 422).
PurposeText = Annotated[
    str,
    Field(max_length=20, pattern=TEXT_PATTERN, json_schema_extra={"enum": PURPOSES}),
]


class _Answer(BaseModel):
    model_config = {"extra": "allow"}


class CoverageBody(_Answer):
    """One 資格 in an answer."""

    insurer_number: str
    symbol: str
    number: str
    branch: str
    insurer_name: str
    card_class: str
    relationship: int
    name_kanji: str
    name_kana: str
    sex: int
    birth_date: dt.date
    acquired_on: dt.date
    lost_on: dt.date | None
    loss_reason: str | None
    copay_percent: int | None
    elderly_copay_percent: int | None
    specific_disease: str | None
    limit_category: str | None
    reference_number: str | None


class AnswerBody(_Answer):
    """資格確認の結果. validity: 1 有効, 2 無効, 3 無効（新しい資格あり）, 4 該当資格なし,
    5 複数該当."""

    validity: int = Field(ge=1, le=5)
    validity_label: str
    date_of_care: dt.date
    results: list[CoverageBody]
    consents: dict[str, dt.date] = Field(description="consent category → last day in force")


class CheckBody(AnswerBody):
    patient: str | None = Field(description="opaque handle for follow-up calls (32 hex)")


class ChallengeBody(_Answer):
    challenge_id: str
    nonce: str = Field(description="base64")
    expires_at: dt.datetime


class BulkReceipt(_Answer):
    reception_number: str = Field(description="受付番号")
    status: str


class BulkStatusBody(_Answer):
    reception_number: str
    status: str = Field(description="processing | complete | failed (submit again)")
    submitted: int
    results: list[AnswerBody] | None


class ReferenceBody(_Answer):
    reference_number: str


class ConsentedBody(_Answer):
    category: ConsentCategory
    available: bool
    records: list[dict[str, Any]]


class HealthBody(_Answer):
    status: str
    version: str


class CredentialBody(_Answer):
    """The caller's own credential: whom it speaks for (the OQS agent compares a request
    file's 医療機関コード with it before asking anything)."""

    credential_id: str
    kind: str = Field(description="institution | insurer_staff")
    institution_code: str | None = Field(description="医療機関コード (institution credentials)")
    insurer_number: str | None = Field(description="保険者番号 (insurer staff credentials)")
