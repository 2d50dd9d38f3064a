"""Writing 回答ファイル (response XML) from the core's answers.

Everything is built as an ElementTree, checked character by character for the chosen
encoding, and only then serialised, so a response is either complete and exact or not
written at all.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from functools import lru_cache
from typing import Final

from kokuho.verify._model import (
    ConsentCategory,
    CoverageAnswer,
    EligibilityAnswer,
    NumberQuery,
)
from kokuho.verify._oqs_xml_kana import to_halfwidth_kana
from kokuho.verify._oqs_xml_model import (
    RECEPTION_NUMBER,
    CharacterCode,
    Encoding,
    OqsErrorCode,
    OqsHeader,
    OqsMessageError,
    ProcessingResultStatus,
    ReferenceClassification,
    SegmentOfResult,
    UnrepresentableCharacter,
)

#: 処理実行日時 is Japan time; Japan has kept UTC+9 without summer time since 1951.
JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")
_MAX_MESSAGE: Final = 200  # error messages may quote input; keep the response small
_XML_INVALID: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DECLARED: Final[dict[Encoding, str]] = {"utf-8": "UTF-8", "shift_jis": "Shift_JIS"}
_CODEC: Final[dict[Encoding, str]] = {"utf-8": "utf-8", "shift_jis": "cp932"}


def render_response(
    request_header: OqsHeader | None,
    answer: EligibilityAnswer | None,
    *,
    error: OqsMessageError | None = None,
    processed_at: dt.datetime,
    encoding: Encoding,
    query: NumberQuery | None = None,
    arbitrary_identifier: str | None = None,
) -> bytes:
    """``OQSsiquc01res``: the 資格確認結果 for one request, or its error.

    Give exactly one of ``answer`` and ``error``. With an error the MessageHeader says
    異常終了 (SegmentOfResult 9, ErrorCode, ErrorMessage) and the MessageBody repeats it as
    ProcessingResultStatus 2. ``request_header`` may be None when the request was unreadable.
    ``query`` and ``arbitrary_identifier`` are echoed as QualificationConfirmSearchInfo.
    ``processed_at`` becomes 処理実行日時 in Japan time; a naive value is taken as Japan time.

    Raises :class:`UnrepresentableCharacter` when ``encoding`` is ``"shift_jis"`` and a value
    has no portable Shift_JIS code; nothing is ever replaced silently.
    """
    if (answer is None) == (error is None):
        raise ValueError("give exactly one of answer and error")
    root = ET.Element("XmlMsg")
    confirmation_date = request_header.confirmation_date if request_header else None
    _header(
        root,
        request_header,
        processed_at=processed_at,
        confirmation_date=confirmation_date or (answer.date_of_care if answer else None),
        reference=True,
        segment=SegmentOfResult.FAILED if error else SegmentOfResult.DONE,
        error=error,
        encoding=encoding,
    )
    body = ET.SubElement(root, "MessageBody")
    if query is not None:
        _search_info(body, query, arbitrary_identifier)
    if error is not None:
        _error_status(body, error, encoding)
    else:
        assert answer is not None
        _text(body, "ProcessingResultStatus", ProcessingResultStatus.NORMAL)
        _text(body, "QualificationValidity", int(answer.validity))
        if answer.results:
            results = ET.SubElement(body, "ResultList")
            for coverage in answer.results:
                element = _coverage(results, coverage, answer)
                _text(element, "ReferenceNumber", coverage.reference_number)
    return _serialize(root, encoding)


def render_bulk_accepted(
    header: OqsHeader | None,
    reception_number: str,
    *,
    processed_at: dt.datetime,
    encoding: Encoding,
) -> bytes:
    """``OQSmuquc01res``: the 一括照会 was accepted under ``reception_number`` (受付番号)."""
    root = _bulk_root(header, reception_number, processed_at, SegmentOfResult.DONE, encoding)
    body = ET.SubElement(root, "MessageBody")
    _text(body, "ProcessingResultStatus", ProcessingResultStatus.NORMAL)
    return _serialize(root, encoding)


def render_bulk_pending(
    header: OqsHeader | None,
    reception_number: str,
    *,
    processed_at: dt.datetime,
    encoding: Encoding,
) -> bytes:
    """``OQSmuquc02res`` while the results are not ready: SegmentOfResult 2 (処理中), no
    results; the client asks again with the same 受付番号."""
    root = _bulk_root(header, reception_number, processed_at, SegmentOfResult.PROCESSING, encoding)
    ET.SubElement(root, "MessageBody")
    return _serialize(root, encoding)


def render_bulk_result(
    header: OqsHeader | None,
    reception_number: str,
    answers: Sequence[EligibilityAnswer | OqsMessageError],
    *,
    processed_at: dt.datetime,
    encoding: Encoding,
    queries: Sequence[NumberQuery] | None = None,
    arbitrary_identifiers: Sequence[str | None] | None = None,
) -> bytes:
    """``OQSmuquc02res``: one BulkConfirmUnit per submitted 照会, in the submitted order.

    An :class:`OqsMessageError` in ``answers`` becomes that unit's ProcessingResultStatus 2;
    the others are answered normally. ``queries`` (and their ``arbitrary_identifiers``) are
    echoed in each unit so the client can match results without relying on order.
    """
    if queries is not None and len(queries) != len(answers):
        raise ValueError(f"{len(answers)} answers for {len(queries)} queries")
    if arbitrary_identifiers is not None and len(arbitrary_identifiers) != len(answers):
        raise ValueError(f"{len(answers)} answers for {len(arbitrary_identifiers)} identifiers")
    errors = sum(isinstance(answer, OqsMessageError) for answer in answers)
    counts = (len(answers), len(answers) - errors, errors)
    root = _bulk_root(
        header, reception_number, processed_at, SegmentOfResult.DONE, encoding, counts
    )
    body = ET.SubElement(root, "MessageBody")
    for index, answer in enumerate(answers):
        unit = ET.SubElement(body, "BulkConfirmUnit")
        if queries is not None:
            identifier = arbitrary_identifiers[index] if arbitrary_identifiers else None
            _search_info(unit, queries[index], identifier)
        if isinstance(answer, OqsMessageError):
            _error_status(unit, answer, encoding)
            continue
        _text(unit, "ProcessingResultStatus", ProcessingResultStatus.NORMAL)
        _text(unit, "QualificationValidity", int(answer.validity))
        for coverage in answer.results:
            _coverage(unit, coverage, answer)
        # The one bulk layout seen has ReferenceNumber per unit, not per result.
        references = [c.reference_number for c in answer.results if c.reference_number]
        _text(unit, "ReferenceNumber", references[0] if references else None)
    return _serialize(root, encoding)


# --- building ----------------------------------------------------------------------------


def _day(value: dt.date | None) -> str | None:
    return None if value is None else f"{value:%Y%m%d}"


def _text(parent: ET.Element, name: str, value: object) -> None:
    """Adds a leaf; None means the element is omitted (optional items are left out, not
    written empty)."""
    if value is None:
        return
    ET.SubElement(parent, name).text = str(int(value)) if isinstance(value, int) else str(value)


def _ratio(percent: int, what: str) -> str:
    if not 0 <= percent <= 100:
        raise ValueError(f"{what} {percent} is not a percentage")
    return f"{percent:03d}"  # "030" = 3割 (myclinic-ts: "010" は1割)


def _reception(number: str) -> str:
    if not RECEPTION_NUMBER.fullmatch(number):
        raise ValueError(f"reception number {number!r} must be 1–50 letters, digits, '-', '_'")
    return number


def _bulk_root(
    header: OqsHeader | None,
    reception_number: str,
    processed_at: dt.datetime,
    segment: SegmentOfResult,
    encoding: Encoding,
    counts: tuple[int, int, int] | None = None,
) -> ET.Element:
    """The ``XmlMsg`` root of a 一括照会 answer (受付・処理中・結果) with its MessageHeader: the
    three answer one 受付番号 and differ only in SegmentOfResult and the counts."""
    root = ET.Element("XmlMsg")
    _header(
        root,
        header,
        processed_at=processed_at,
        confirmation_date=header.confirmation_date if header else None,
        reference=False,
        reception_number=_reception(reception_number),
        segment=segment,
        encoding=encoding,
        counts=counts,
    )
    return root


def _header(
    root: ET.Element,
    header: OqsHeader | None,
    *,
    processed_at: dt.datetime,
    confirmation_date: dt.date | None,
    reference: bool,
    segment: SegmentOfResult,
    encoding: Encoding,
    error: OqsMessageError | None = None,
    reception_number: str | None = None,
    counts: tuple[int, int, int] | None = None,
) -> None:
    element = ET.SubElement(root, "MessageHeader")
    if processed_at.tzinfo is not None:
        processed_at = processed_at.astimezone(JST)
    _text(element, "ProcessExecutionTime", f"{processed_at:%Y%m%d%H%M%S}")
    _text(element, "QualificationConfirmationDate", _day(confirmation_date))
    if header is not None:
        _text(element, "MedicalInstitutionCode", header.institution.value)
        _text(element, "ArbitraryFileIdentifier", header.file_identifier)
    if reference:
        # Requests through the req folder are checks by 被保険者証情報 unless they say so.
        chosen = header.reference if header and header.reference else None
        _text(element, "ReferenceClassification", chosen or ReferenceClassification.NUMBER)
    _text(element, "ReceptionNumber", reception_number)
    _text(element, "SegmentOfResult", segment)
    if error is not None:
        _text(element, "ErrorCode", error.code.value)
        _text(element, "ErrorMessage", _message(error, encoding))
    if counts is not None:
        _text(element, "NumberOfProcessingResult", counts[0])
        _text(element, "NumberOfNormalProcessing", counts[1])
        _text(element, "NumberOfError", counts[2])
    _text(element, "CharacterCodeIdentifier", CharacterCode.of(encoding))


def _error_status(parent: ET.Element, error: OqsMessageError, encoding: Encoding) -> None:
    _text(parent, "ProcessingResultStatus", ProcessingResultStatus.ERROR)
    _text(parent, "ProcessingResultCode", error.code.value)
    _text(parent, "ProcessingResultMessage", _message(error, encoding))


def _search_info(parent: ET.Element, query: NumberQuery, identifier: str | None) -> None:
    element = ET.SubElement(parent, "QualificationConfirmSearchInfo")
    _text(element, "InsurerNumber", query.insurer)
    _text(element, "InsuredCardSymbol", query.symbol or None)
    _text(element, "InsuredIdentificationNumber", query.number)
    _text(element, "InsuredBranchNumber", query.branch)
    _text(element, "Birthdate", _day(query.birth_date))
    _text(element, "LimitApplicationCertificateRelatedConsFlg", int(query.limit_consent))
    _text(element, "ArbitraryIdentifier", identifier)


def _coverage(
    parent: ET.Element, coverage: CoverageAnswer, answer: EligibilityAnswer
) -> ET.Element:
    """One ResultOfQualificationConfirmation (資格確認結果)."""
    element = ET.SubElement(parent, "ResultOfQualificationConfirmation")
    insured = coverage.insured
    _text(element, "InsuredCardClassification", coverage.card_class)  # 被保険者証区分
    _text(element, "InsurerNumber", insured.insurer)  # 保険者番号
    _text(element, "InsuredCardSymbol", insured.symbol or None)  # 被保険者証記号
    _text(element, "InsuredIdentificationNumber", insured.number)  # 被保険者証番号
    _text(element, "InsuredBranchNumber", insured.branch)  # 被保険者証枝番
    _text(element, "PersonalFamilyClassification", coverage.relationship)  # 本人・家族の別
    _text(element, "Name", coverage.name_kanji)  # 氏名
    _text(element, "NameKana", to_halfwidth_kana(coverage.name_kana))  # 氏名カナ (半角)
    _text(element, "Sex1", coverage.sex)  # 性別1
    _text(element, "Birthdate", _day(coverage.birth_date))  # 生年月日
    _text(element, "QualificationDate", _day(coverage.acquired_on))  # 資格取得年月日
    _text(element, "DisqualificationDate", _day(coverage.lost_on))  # 資格喪失年月日
    _text(
        element,
        "InsuredPartialContributionRatio",  # 被保険者証一部負担金割合
        _ratio(coverage.copay_percent, "copay_percent"),
    )
    _text(element, "ReasonOfLoss", coverage.loss_reason)  # 資格喪失事由
    _text(element, "InsurerName", coverage.insurer_name)  # 保険者名称
    if coverage.elderly_copay_percent is not None:
        elderly = ET.SubElement(element, "ElderlyRecipientCertificateInfo")  # 高齢受給者証情報
        _text(
            elderly,
            "ElderlyRecipientContributionRatio",  # 高齢受給者証一部負担金割合
            _ratio(coverage.elderly_copay_percent, "elderly_copay_percent"),
        )
    if coverage.limit_category is not None or ConsentCategory.LIMIT in answer.consents:
        # 限度額適用認定証提供同意フラグ: the core sets limit_category only within consent.
        _text(element, "LimitApplicationCertificateRelatedConsFlg", 1)
    if coverage.limit_category is not None:
        limit = ET.SubElement(element, "LimitApplicationCertificateRelatedInfo")
        # 限度額適用認定証適用区分 A01–A06 / B01–B10
        _text(limit, "LimitApplicationCertificateClassificationFlag", coverage.limit_category)
    if coverage.specific_disease is not None:
        diseases = ET.SubElement(element, "SpecificDiseasesCertificateList")
        info = ET.SubElement(diseases, "SpecificDiseasesCertificateInfo")
        # 特定疾病療養受療証認定疾病区分 (OQSCD013)
        _text(info, "SpecificDiseasesDiseaseCategory", coverage.specific_disease)
    return element


# --- checking and writing ----------------------------------------------------------------


@lru_cache(maxsize=16384)
def _shift_jis_problem(char: str) -> str | None:
    """Why ``char`` cannot go into a Shift_JIS response, or None.

    Encoded with cp932 (what Windows means by Shift_JIS), but only JIS X 0208 and the NEC
    special characters (row 13: ①, Ⅲ, ㈱) are accepted. The NEC-selected IBM extension
    (lead bytes ED–EE) and the IBM extension (FA–FC) give one kanji two codes and are not
    Shift_JIS outside Windows: 髙 is EE E0 in cp932 and has no JIS X 0208 code, so a
    receiver that reads real Shift_JIS would see garbage. F0–F9 is 外字 (private use).
    """
    try:
        encoded = char.encode("cp932")
    except UnicodeEncodeError:
        return "has no Shift_JIS (Windows-31J) code"
    if len(encoded) == 2 and (0xED <= encoded[0] <= 0xEE or 0xF0 <= encoded[0] <= 0xFC):
        return (
            f"is only in a vendor extension of Shift_JIS (cp932 {encoded.hex(' ').upper()}, "
            "機種依存文字/外字), not in JIS X 0208"
        )
    return None


def _check(text: str, path: str, encoding: Encoding) -> None:
    bad = _XML_INVALID.search(text)
    if bad is not None:
        raise OqsMessageError(
            OqsErrorCode.INVALID_CHARACTER,
            f"U+{ord(bad.group()):04X} is not allowed in XML",
            path,
        )
    if encoding == "shift_jis" and not text.isascii():
        for char in text:
            reason = _shift_jis_problem(char)
            if reason is not None:
                raise UnrepresentableCharacter(char, path, reason)


def _message(error: OqsMessageError, encoding: Encoding) -> str:
    """Our own diagnostic text, not data: characters the encoding cannot carry are written as
    \\uXXXX so that reporting an error can never fail on the input it quotes."""
    text = str(error)
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"

    def portable(char: str) -> str:
        bad = _XML_INVALID.fullmatch(char) or (
            encoding == "shift_jis" and not char.isascii() and _shift_jis_problem(char)
        )
        return f"\\u{ord(char):04x}" if bad else char

    return "".join(portable(char) for char in text)


def _serialize(root: ET.Element, encoding: Encoding) -> bytes:
    stack = [(root, "")]
    while stack:
        element, path = stack.pop()
        if element.text:
            _check(element.text, path, encoding)
        # Reversed, so that the first problem reported is the first in document order.
        for child in reversed(element):
            stack.append((child, f"{path}/{child.tag}" if path else child.tag))
    ET.indent(root)
    document = ET.tostring(root, encoding="unicode")
    declaration = f'<?xml version="1.0" encoding="{_DECLARED[encoding]}" standalone="no"?>'
    return f"{declaration}\n{document}\n".encode(_CODEC[encoding])
