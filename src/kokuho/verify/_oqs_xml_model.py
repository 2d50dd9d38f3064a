"""Types of the OQS file interface codec: headers, requests, codes, errors and file names.

See :mod:`kokuho.verify._oqs_xml` for the message structure and what is UNCONFIRMED.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Final, Literal

from kokuho.ids import InstitutionCode
from kokuho.verify._model import NumberQuery

Encoding = Literal["utf-8", "shift_jis"]
"""The two character codes of the interface (文字コード識別 0 / 1)."""

#: Input limits. The specification states none that we could read; these bound the work one
#: file can cause. A single 照会 is under 2 KB in practice, so 64 KB is generous; 5 MB holds
#: about 12,000 照会 of a 一括照会, more than a hospital books ahead.
MAX_SINGLE_BYTES: Final = 64 * 1024
MAX_BULK_BYTES: Final = 5 * 1024 * 1024
MAX_BULK_QUERIES: Final = 10_000
MAX_SINGLE_ELEMENTS: Final = 200
MAX_BULK_ELEMENTS: Final = 12 * MAX_BULK_QUERIES + 100
MAX_DEPTH: Final = 8  # XmlMsg/MessageBody/QualificationConfirmSearchInfo/… is 4 deep
MAX_IDENTIFIER_LENGTH: Final = 50  # 任意のファイル識別子 (eligibility.md §1, field limits)
#: 受付番号 of a 一括照会. The agent issues them, so the format is ours.
RECEPTION_NUMBER: Final = re.compile(r"[A-Za-z0-9_-]{1,50}")


class ReferenceClassification(IntEnum):
    """照会区分: what the patient presented."""

    CARD = 1  # マイナンバーカード
    NUMBER = 2  # 被保険者証情報


class CharacterCode(IntEnum):
    """文字コード識別: the character code the result file (回答ファイル) is to be written in."""

    UTF8 = 0
    SHIFT_JIS = 1

    @property
    def encoding(self) -> Encoding:
        return "shift_jis" if self is CharacterCode.SHIFT_JIS else "utf-8"

    @classmethod
    def of(cls, encoding: Encoding) -> CharacterCode:
        return cls.SHIFT_JIS if encoding == "shift_jis" else cls.UTF8


class SegmentOfResult(IntEnum):
    """処理結果区分 of the MessageHeader. 9 for 異常終了 is UNCONFIRMED (one code base has 3)."""

    DONE = 1  # 正常終了
    PROCESSING = 2  # 処理中
    FAILED = 9  # 異常終了


class ProcessingResultStatus(IntEnum):
    """処理結果状況 (OQSCD004): the result for one person."""

    NORMAL = 1  # 正常終了
    ERROR = 2  # 異常終了


class OqsErrorCode(StrEnum):
    """kokuho's own error codes, written to ErrorCode / ProcessingResultCode.

    The official 処理結果コード (別紙6-1) were not available, so these are not them.
    """

    UNKNOWN_FILE = "unknown_file_name"
    NOT_A_FILE = "not_a_regular_file"  # a link, folder, FIFO … in req: never opened
    UNREADABLE = "unreadable_file"
    OVERSIZE = "oversize"
    ENCODING = "encoding"
    DTD_FORBIDDEN = "dtd_forbidden"
    ENTITY_FORBIDDEN = "entity_forbidden"
    EXTERNAL_REFERENCE_FORBIDDEN = "external_reference_forbidden"
    MALFORMED = "malformed_xml"
    TOO_MANY_ELEMENTS = "too_many_elements"
    TOO_DEEP = "too_deep"
    WRONG_ROOT = "wrong_root"
    MISSING = "missing_element"
    DUPLICATE = "duplicate_element"
    INVALID_DATE = "invalid_date"
    INVALID_VALUE = "invalid_value"
    INVALID_IDENTIFIER = "invalid_identifier"
    UNKNOWN_CODE = "unknown_code"
    TOO_MANY_QUERIES = "too_many_queries"
    INVALID_CHARACTER = "invalid_character"
    UNREPRESENTABLE = "unrepresentable_character"
    # The request names another 医療機関コード than the terminal's credential: never asked.
    INSTITUTION_MISMATCH = "institution_mismatch"
    # The 一括照会 stopped half-way (its checks failed, or its worker died): submit it again.
    BULK_FAILED = "bulk_failed"
    SERVICE = "service_error"  # the eligibility service refused or could not be reached
    INTERNAL = "internal_error"  # a defect of the agent; logged with its traceback


class OqsMessageError(ValueError):
    """A request that cannot be answered, or a response that cannot be written.

    ``field`` is the element path (``MessageBody/QualificationConfirmSearchInfo/Birthdate``)
    or None for the whole file. When the MessageHeader was read before the problem was found,
    ``header`` carries it so the error response can echo it.
    """

    def __init__(self, code: OqsErrorCode, message: str, field: str | None = None) -> None:
        self.code = code
        self.message = message
        self.field = field
        self.header: OqsHeader | None = None
        super().__init__(f"{field}: {message}" if field else message)


class UnrepresentableCharacter(OqsMessageError):
    """A character the Shift_JIS response cannot carry. Nothing is replaced: the caller writes
    the response in UTF-8 instead (文字コード識別 0) or reports the problem."""

    def __init__(self, char: str, field: str, reason: str) -> None:
        self.char = char
        super().__init__(
            OqsErrorCode.UNREPRESENTABLE, f"{char!r} (U+{ord(char):04X}) {reason}", field
        )


@dataclass(frozen=True)
class OqsHeader:
    """The MessageHeader of a request (要求ファイル).

    Only 医療機関コード is always present: the public sample requests (sanox road12/road18)
    carry no 処理実行日時, 照会区分 or 文字コード識別, so those are optional here.
    """

    institution: InstitutionCode  # MedicalInstitutionCode 医療機関コード
    confirmation_date: dt.date | None = None  # QualificationConfirmationDate 資格確認日
    executed_at: dt.datetime | None = None  # ProcessExecutionTime 処理実行日時
    file_identifier: str | None = None  # ArbitraryFileIdentifier 任意のファイル識別子
    reference: ReferenceClassification | None = None  # ReferenceClassification 照会区分
    character_code: CharacterCode | None = None  # CharacterCodeIdentifier 文字コード識別
    document_encoding: Encoding = "utf-8"  # what the request file itself was written in

    @property
    def response_encoding(self) -> Encoding:
        """文字コード識別 when given, else the request's own encoding."""
        if self.character_code is not None:
            return self.character_code.encoding
        return self.document_encoding


@dataclass(frozen=True)
class SingleRequest:
    """``OQSsiquc01req``: one 資格確認 by 被保険者証情報."""

    header: OqsHeader
    query: NumberQuery
    arbitrary_identifier: str | None = None  # ArbitraryIdentifier, echoed back


@dataclass(frozen=True)
class BulkSubmitRequest:
    """``OQSmuquc01req``: 一括照会, several QualificationConfirmSearchInfo in one file."""

    header: OqsHeader
    queries: list[NumberQuery]
    arbitrary_identifiers: list[str | None] = field(default_factory=list)  # one per query


@dataclass(frozen=True)
class BulkFetchRequest:
    """``OQSmuquc02req``: asks for the results of a 一括照会 by its 受付番号."""

    header: OqsHeader
    reception_number: str


OqsRequest = SingleRequest | BulkSubmitRequest | BulkFetchRequest

SINGLE_PREFIX: Final = "OQSsiquc01"
BULK_SUBMIT_PREFIX: Final = "OQSmuquc01"
BULK_FETCH_PREFIX: Final = "OQSmuquc02"

# A bare file name: the agent joins it to its own folders, so no separator, no "..".
_FILENAME = re.compile(r"(OQS[a-z]{5}[0-9]{2})(req|res)_([A-Za-z0-9_-]{1,64})\.(xml|XML)")


def split_request_filename(filename: str) -> tuple[str, str]:
    """``OQSsiquc01req_X.xml`` → (``OQSsiquc01``, ``X``); anything else is refused."""
    match = _FILENAME.fullmatch(filename)
    if match is None or match.group(2) != "req":
        raise OqsMessageError(
            OqsErrorCode.UNKNOWN_FILE,
            f"{filename!r} is not a request file name (OQS…req_<id>.xml)",
        )
    return match.group(1), match.group(3)


def response_filename(request_filename: str) -> str:
    """The 回答ファイル name for a 要求ファイル: ``OQSsiquc01req_X.xml`` → ``OQSsiquc01res_X.xml``.

    Works for every OQS prefix (``OQSmuquc01``, ``OQSmuquc02`` …); refuses paths and names
    that are not request files, so the result can be joined to the ``res`` folder safely.
    """
    match = _FILENAME.fullmatch(request_filename)
    if match is None or match.group(2) != "req":
        raise OqsMessageError(
            OqsErrorCode.UNKNOWN_FILE,
            f"{request_filename!r} is not a request file name (OQS…req_<id>.xml)",
        )
    return f"{match.group(1)}res_{match.group(3)}.{match.group(4)}"
