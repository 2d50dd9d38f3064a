"""The OQS file interface (連携アプリのファイル連携): the codec of the ``req``/``res`` folders.

レセコン and 電子カルテ write a 要求ファイル into the ``req`` folder of the 資格確認端末 and
read the 回答ファイル from ``res`` (sanox road12). ``kokuho oqs-agent`` plays the terminal;
this module is its codec: pure functions from bytes to typed requests and from the core's
answers (:mod:`kokuho.verify._model`) to bytes. No file or network I/O happens here.

Messages
--------
Every message is ``XmlMsg / MessageHeader / MessageBody``, UTF-8 or Shift_JIS.

=====================  ==========================================  ===========================
file                   meaning                                     codec
=====================  ==========================================  ===========================
``OQSsiquc01req_*``    資格確認 by 被保険者証情報, one person      :func:`parse_request` →
                                                                   :class:`SingleRequest`
``OQSsiquc01res_*``    資格確認結果                                :func:`render_response`
``OQSmuquc01req_*``    一括照会の要求 (several persons)            :class:`BulkSubmitRequest`
``OQSmuquc01res_*``    受付 with 受付番号 (ReceptionNumber)        :func:`render_bulk_accepted`
``OQSmuquc02req_*``    一括照会の結果取得 by 受付番号              :class:`BulkFetchRequest`
``OQSmuquc02res_*``    一括照会結果, or 処理中 (SegmentOfResult 2)  :func:`render_bulk_result`,
                                                                   :func:`render_bulk_pending`
=====================  ==========================================  ===========================

Request MessageHeader: MedicalInstitutionCode (医療機関コード, 10 digits, checked by
``InstitutionCode.parse``), QualificationConfirmationDate (資格確認日 yyyyMMdd; required except
in ``02req``), ProcessExecutionTime (処理実行日時 YYYYMMDDHHmmss), ArbitraryFileIdentifier
(任意のファイル識別子 ≤ 50), ReferenceClassification (照会区分 1 マイナンバーカード /
2 被保険者証情報), CharacterCodeIdentifier (文字コード識別 0 UTF-8 / 1 Shift_JIS: the code of
the *result* file). QualificationConfirmSearchInfo (資格確認照会用情報): InsurerNumber
(保険者番号, may be left-padded with spaces to 8), InsuredCardSymbol (記号),
InsuredIdentificationNumber (番号), InsuredBranchNumber (枝番, 2 digits, kept a string, may
be absent), Birthdate, LimitApplicationCertificateRelatedConsFlg (限度額適用認定証提供同意
フラグ 0/1), ArbitraryIdentifier.

Sources: field names from ``hangilc/myclinic-ts`` packages/onshi-result, a Node "ResWatcher"
field table and a C# response model (repositories not identified), ``YUKI-ENT/OQSDrug2``
BulkQualificationService.cs, and the sample requests on sanox.org road12/18/26. All of them
were written against 別紙3-1 XMLレイアウト仕様 Ver8.07, which we could not read.

Safety
------
Requests come from other software on the clinic network, so they are parsed as hostile:
file name checked (a bare ``OQS…req_<id>.xml``), size limited (64 KB; 5 MB for 一括照会)
before decoding, Shift_JIS decoded by us with cp932 (expat cannot read multi-byte Shift_JIS)
and handed to the parser as UTF-8 text, any DOCTYPE refused before parsing (entity expansion
and external references are therefore impossible; defusedxml with ``forbid_dtd`` is the
backstop), the element count and depth limited while streaming. Every problem is an
:class:`OqsMessageError` with a code and the element path.

Shift_JIS responses are encoded with cp932 and declared ``encoding="Shift_JIS"``. Only JIS X
0208 and the NEC special characters are written: a character outside (𠮷, or 髙 which cp932
has only in its IBM extension areas) raises :class:`UnrepresentableCharacter` and is never
replaced; the caller writes UTF-8 instead or reports it.

UNCONFIRMED element names
-------------------------
The real 外部インターフェイス仕様書 was not available; these names and placements are guesses
from third-party code and must be checked against it:

- ``OQSmuquc01req``: the persons are repeated ``MessageBody/QualificationConfirmSearchInfo``
  elements with no list wrapper (by analogy with ``OQSmuimm01req``, which repeats
  ``ReferenceNumberRegistrationInfo``, and with the results file, whose units each echo one
  ``QualificationConfirmSearchInfo``). A wrapper such as ``QualificationConfirmSearchInfoList``
  is not accepted.
- ``OQSmuquc02req``: ``MessageBody/ReceptionNumber`` (OQSDrug2); ``MessageHeader/ReceptionNumber``
  is accepted too.
- ``OQSmuquc01res``: ``MessageHeader/ReceptionNumber`` and ``MessageBody/ProcessingResultStatus``.
- ``OQSmuquc02res``: ``MessageHeader/ReceptionNumber``, ``NumberOfProcessingResult``,
  ``NumberOfNormalProcessing``, ``NumberOfError``; repeated ``MessageBody/BulkConfirmUnit``
  holding ``QualificationConfirmSearchInfo``, ``ProcessingResultStatus``,
  ``ProcessingResultCode``, ``ProcessingResultMessage``, ``QualificationValidity``, one
  ``ResultOfQualificationConfirmation`` per coverage (repeated, no ``ResultList``) and
  ``ReferenceNumber`` (one C# model, repository not identified).
- The 処理中 ``02res``: SegmentOfResult 2 with an empty ``MessageBody``.
- SegmentOfResult 9 for 異常終了 (another code base writes 3).
- ErrorCode / ProcessingResultCode values: kokuho's :class:`OqsErrorCode`, not 別紙6-1.
- ``MessageBody/QualificationConfirmSearchInfo`` echoed in ``OQSsiquc01res`` (present in
  myclinic-ts's MessageBody; its position is unknown).
- ``ResultOfQualificationConfirmation/ReferenceNumber`` in ``OQSsiquc01res`` (C# model);
  per ``BulkConfirmUnit`` in ``02res``.
- ``SpecificDiseasesCertificateList/SpecificDiseasesCertificateInfo/``
  ``SpecificDiseasesDiseaseCategory`` nesting (the ResWatcher table and OQSDrug2 agree;
  myclinic-ts reads the list elements directly).
- ``ElderlyRecipientCertificateInfo/ElderlyRecipientContributionRatio`` as 3 digits like
  ``InsuredPartialContributionRatio`` ("030" = 3割).
- ``LimitApplicationCertificateRelatedConsFlg`` = 1 inside the result next to
  ``LimitApplicationCertificateRelatedInfo/LimitApplicationCertificateClassificationFlag``.
- Element order inside MessageHeader, MessageBody and the result (taken from the field
  tables of the third-party code), and ``standalone="no"`` in the declaration.
- ArbitraryIdentifier ≤ 50 characters (the limit of 照会番号 was borrowed).
- Which header fields a request must carry: the sanox samples have only
  QualificationConfirmationDate, MedicalInstitutionCode and ArbitraryFileIdentifier.
"""

from __future__ import annotations

from kokuho.verify._oqs_xml_kana import to_halfwidth_kana
from kokuho.verify._oqs_xml_model import (
    MAX_BULK_BYTES,
    MAX_BULK_QUERIES,
    MAX_SINGLE_BYTES,
    BulkFetchRequest,
    BulkSubmitRequest,
    CharacterCode,
    Encoding,
    OqsErrorCode,
    OqsHeader,
    OqsMessageError,
    OqsRequest,
    ProcessingResultStatus,
    ReferenceClassification,
    SegmentOfResult,
    SingleRequest,
    UnrepresentableCharacter,
    response_filename,
)
from kokuho.verify._oqs_xml_parse import parse_request
from kokuho.verify._oqs_xml_render import (
    render_bulk_accepted,
    render_bulk_pending,
    render_bulk_result,
    render_response,
)

__all__ = [
    "MAX_BULK_BYTES",
    "MAX_BULK_QUERIES",
    "MAX_SINGLE_BYTES",
    "BulkFetchRequest",
    "BulkSubmitRequest",
    "CharacterCode",
    "Encoding",
    "OqsErrorCode",
    "OqsHeader",
    "OqsMessageError",
    "OqsRequest",
    "ProcessingResultStatus",
    "ReferenceClassification",
    "SegmentOfResult",
    "SingleRequest",
    "UnrepresentableCharacter",
    "parse_request",
    "render_bulk_accepted",
    "render_bulk_pending",
    "render_bulk_result",
    "render_response",
    "response_filename",
    "to_halfwidth_kana",
]
