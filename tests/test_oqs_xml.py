"""The OQS file interface codec: requests parsed safely, responses written exactly."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kokuho.ids import HEALTH_INSURANCE_LAW_CODES, InsuredId, with_check_digit
from kokuho.verify import (
    ConsentCategory,
    CoverageAnswer,
    EligibilityAnswer,
    NumberQuery,
    Validity,
)
from kokuho.verify._oqs_xml import (
    MAX_BULK_BYTES,
    MAX_SINGLE_BYTES,
    BulkFetchRequest,
    BulkSubmitRequest,
    CharacterCode,
    OqsErrorCode,
    OqsHeader,
    OqsMessageError,
    ReferenceClassification,
    SingleRequest,
    UnrepresentableCharacter,
    parse_request,
    render_bulk_accepted,
    render_bulk_pending,
    render_bulk_result,
    render_response,
    response_filename,
    to_halfwidth_kana,
)
from kokuho.verify._oqs_xml_parse import _parse_tree

FIXTURES = Path(__file__).parent / "fixtures" / "oqs"
INSTITUTION = "3711234561"
SINGLE = "OQSsiquc01req_20250115090001.xml"
SINGLE_SJIS = "OQSsiquc01req_20250115090002.xml"
BULK = "OQSmuquc01req_20250115090003.xml"
FETCH = "OQSmuquc02req_20250115090004.xml"
NOW = dt.datetime(2025, 1, 15, 9, 0, 2)
SEARCH = "MessageBody/QualificationConfirmSearchInfo"
RESULT = "MessageBody/ResultList/ResultOfQualificationConfirmation"
E = OqsErrorCode


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def single_xml(
    *,
    header: str = "",
    info: str | None = None,
    encoding: str = "UTF-8",
    root: str = "XmlMsg",
) -> bytes:
    """A test-side writer of OQSsiquc01req; ``info`` replaces the search info's children."""
    if info is None:
        info = (
            "<InsurerNumber>01370014</InsurerNumber><InsuredCardSymbol>3701</InsuredCardSymbol>"
            "<InsuredIdentificationNumber>1234567</InsuredIdentificationNumber>"
            "<InsuredBranchNumber>01</InsuredBranchNumber><Birthdate>19800402</Birthdate>"
        )
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        f"<{root}><MessageHeader>"
        "<QualificationConfirmationDate>20250115</QualificationConfirmationDate>"
        f"<MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>{header}"
        f"</MessageHeader><MessageBody><QualificationConfirmSearchInfo>{info}"
        f"</QualificationConfirmSearchInfo></MessageBody></{root}>"
    )
    return text.encode("cp932" if encoding == "Shift_JIS" else "utf-8")


def refused(data: bytes, filename: str = SINGLE) -> OqsMessageError:
    with pytest.raises(OqsMessageError) as caught:
        parse_request(data, filename)
    return caught.value


# --- requests ------------------------------------------------------------------------------


def test_a_utf8_single_request_parses() -> None:
    request = parse_request(fixture(SINGLE), SINGLE)
    assert isinstance(request, SingleRequest)
    header = request.header
    assert header.institution.value == INSTITUTION
    assert header.confirmation_date == dt.date(2025, 1, 15)
    assert header.executed_at == dt.datetime(2025, 1, 15, 9, 0, 1)
    assert header.file_identifier == "clinic_0001"
    assert header.reference is ReferenceClassification.NUMBER
    assert header.character_code is CharacterCode.UTF8
    assert header.response_encoding == "utf-8"
    assert request.query == NumberQuery(
        insurer="01370014",
        symbol="3701",  # written full width (３７０１) in the file
        number="1234567",
        branch="01",
        birth_date=dt.date(1980, 4, 2),
        date_of_care=dt.date(2025, 1, 15),
        limit_consent=True,
    )
    assert request.arbitrary_identifier == "patient-42"


def test_a_shift_jis_single_request_parses() -> None:
    data = fixture(SINGLE_SJIS)
    assert "香高".encode("cp932") in data  # the fixture really is Shift_JIS bytes
    request = parse_request(data, SINGLE_SJIS)
    assert isinstance(request, SingleRequest)
    assert request.header.document_encoding == "shift_jis"
    assert request.header.character_code is CharacterCode.SHIFT_JIS
    assert request.header.response_encoding == "shift_jis"
    assert request.header.file_identifier == "受付_0002"
    assert request.header.executed_at is None and request.header.reference is None
    query = request.query
    assert query.insurer == "370015"  # sent as "  370015", space-padded to 8
    assert query.symbol == "香高"
    assert query.branch is None  # <InsuredBranchNumber></InsuredBranchNumber>
    assert query.birth_date == dt.date(1952, 6, 30)
    assert query.limit_consent is False
    # cp932 is read as Windows means it, NEC and IBM extensions included.
    assert request.arbitrary_identifier == "髙橋様①"


def test_a_space_padded_insurer_number_parses_to_its_digits() -> None:
    data = single_xml(
        info="<InsurerNumber>  370015</InsurerNumber>"
        "<InsuredIdentificationNumber>98765</InsuredIdentificationNumber>"
        "<Birthdate>19520630</Birthdate>"
    )
    request = parse_request(data, SINGLE)
    assert isinstance(request, SingleRequest)
    assert request.query.insurer == "370015"
    assert request.query.symbol == "" and request.query.branch is None


def test_identifiers_keep_their_full_width_spaces() -> None:
    data = single_xml(
        header="<ArbitraryFileIdentifier>山田　太郎</ArbitraryFileIdentifier>",
        encoding="Shift_JIS",
    )
    assert parse_request(data, SINGLE).header.file_identifier == "山田　太郎"


def test_the_response_encoding_follows_the_request_when_not_named() -> None:
    data = single_xml(encoding="Shift_JIS")
    request = parse_request(data, SINGLE)
    assert request.header.character_code is None
    assert request.header.response_encoding == "shift_jis"


def test_a_bulk_submission_keeps_every_query_in_order() -> None:
    request = parse_request(fixture(BULK), BULK)
    assert isinstance(request, BulkSubmitRequest)
    assert [q.insurer for q in request.queries] == ["01370014", "370015", "39370010"]
    assert [q.branch for q in request.queries] == ["01", None, "00"]
    assert [q.limit_consent for q in request.queries] == [False, False, True]
    assert {q.date_of_care for q in request.queries} == {dt.date(2025, 1, 20)}
    assert request.queries[2].symbol == ""  # 後期高齢者医療: 番号 only
    assert request.arbitrary_identifiers == ["P0001", "P0002", None]


def test_a_bulk_fetch_carries_its_reception_number() -> None:
    request = parse_request(fixture(FETCH), FETCH)
    assert isinstance(request, BulkFetchRequest)
    assert request.reception_number == "R20250115-0001"
    assert request.header.confirmation_date is None
    assert request.header.document_encoding == "shift_jis"


def test_the_reception_number_may_sit_in_the_header_but_must_not_conflict() -> None:
    def fetch(header: str, body: str) -> bytes:
        return (
            f"<XmlMsg><MessageHeader><MedicalInstitutionCode>{INSTITUTION}"
            f"</MedicalInstitutionCode>{header}</MessageHeader>"
            f"<MessageBody>{body}</MessageBody></XmlMsg>"
        ).encode()

    request = parse_request(fetch("<ReceptionNumber>R1</ReceptionNumber>", ""), FETCH)
    assert isinstance(request, BulkFetchRequest) and request.reception_number == "R1"
    error = refused(
        fetch("<ReceptionNumber>R1</ReceptionNumber>", "<ReceptionNumber>R2</ReceptionNumber>"),
        FETCH,
    )
    assert error.code == E.INVALID_VALUE
    error = refused(fetch("", "<ReceptionNumber>../x</ReceptionNumber>"), FETCH)
    assert (error.code, error.field) == (E.INVALID_VALUE, "MessageBody/ReceptionNumber")
    error = refused(fetch("", ""), FETCH)
    assert (error.code, error.field) == (E.MISSING, "MessageBody/ReceptionNumber")


def _half(name: str) -> bytes:
    data = fixture(name)
    return data[: len(data) // 2]


_HOSTILE = [
    ("billion laughs", fixture("billion_laughs.xml"), SINGLE, E.ENTITY_FORBIDDEN, None),
    ("XXE file:///etc/passwd", fixture("xxe.xml"), SINGLE, E.EXTERNAL_REFERENCE_FORBIDDEN, None),
    (
        "external DTD",
        b'<?xml version="1.0"?><!DOCTYPE XmlMsg SYSTEM "http://evil.example/x.dtd"><XmlMsg/>',
        SINGLE,
        E.EXTERNAL_REFERENCE_FORBIDDEN,
        None,
    ),
    ("bare DOCTYPE", b"<!DOCTYPE XmlMsg><XmlMsg>SYSTEM</XmlMsg>", SINGLE, E.DTD_FORBIDDEN, None),
    (
        "control character in an identifier",
        single_xml(header="<ArbitraryFileIdentifier>a&#9;b</ArbitraryFileIdentifier>"),
        SINGLE,
        E.INVALID_VALUE,
        "MessageHeader/ArbitraryFileIdentifier",
    ),
    ("undeclared entity", single_xml(header="<X>&xxe;</X>"), SINGLE, E.MALFORMED, None),
    ("oversize single", b" " * (MAX_SINGLE_BYTES + 1), SINGLE, E.OVERSIZE, None),
    ("oversize bulk", b" " * (MAX_BULK_BYTES + 1), BULK, E.OVERSIZE, None),
    ("truncated", _half(SINGLE), SINGLE, E.MALFORMED, None),
    ("truncated Shift_JIS", _half(SINGLE_SJIS), SINGLE, E.MALFORMED, None),
    ("empty", b"", SINGLE, E.MALFORMED, None),
    ("wrong root", single_xml(root="XmlMessage"), SINGLE, E.WRONG_ROOT, None),
    (
        "missing Birthdate",
        single_xml(
            info="<InsurerNumber>370015</InsurerNumber>"
            "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
        ),
        SINGLE,
        E.MISSING,
        f"{SEARCH}/Birthdate",
    ),
    (
        "Birthdate 20190230",
        single_xml(
            info="<InsurerNumber>370015</InsurerNumber>"
            "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
            "<Birthdate>20190230</Birthdate>"
        ),
        SINGLE,
        E.INVALID_DATE,
        f"{SEARCH}/Birthdate",
    ),
    (
        "Birthdate after the date of care",
        single_xml(
            info="<InsurerNumber>370015</InsurerNumber>"
            "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
            "<Birthdate>20250116</Birthdate>"
        ),
        SINGLE,
        E.INVALID_DATE,
        f"{SEARCH}/Birthdate",
    ),
    (
        "two Birthdates",
        single_xml(
            info="<InsurerNumber>370015</InsurerNumber>"
            "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
            "<Birthdate>19800101</Birthdate><Birthdate>19800102</Birthdate>"
        ),
        SINGLE,
        E.DUPLICATE,
        f"{SEARCH}/Birthdate",
    ),
    (
        "bad insurer check digit",
        single_xml(
            info="<InsurerNumber>370016</InsurerNumber>"
            "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
            "<Birthdate>19800101</Birthdate>"
        ),
        SINGLE,
        E.INVALID_IDENTIFIER,
        f"{SEARCH}/InsurerNumber",
    ),
    (
        "branch of one digit",
        single_xml(
            info="<InsurerNumber>370015</InsurerNumber>"
            "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
            "<InsuredBranchNumber>1</InsuredBranchNumber><Birthdate>19800101</Birthdate>"
        ),
        SINGLE,
        E.INVALID_IDENTIFIER,
        f"{SEARCH}/InsuredBranchNumber",
    ),
    (
        "consent flag 2",
        single_xml(
            info="<InsurerNumber>370015</InsurerNumber>"
            "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
            "<Birthdate>19800101</Birthdate>"
            "<LimitApplicationCertificateRelatedConsFlg>2</LimitApplicationCertificateRelatedConsFlg>"
        ),
        SINGLE,
        E.UNKNOWN_CODE,
        f"{SEARCH}/LimitApplicationCertificateRelatedConsFlg",
    ),
    (
        "ReferenceClassification 7",
        single_xml(header="<ReferenceClassification>7</ReferenceClassification>"),
        SINGLE,
        E.UNKNOWN_CODE,
        "MessageHeader/ReferenceClassification",
    ),
    (
        "CharacterCodeIdentifier x",
        single_xml(header="<CharacterCodeIdentifier>x</CharacterCodeIdentifier>"),
        SINGLE,
        E.UNKNOWN_CODE,
        "MessageHeader/CharacterCodeIdentifier",
    ),
    (
        "ProcessExecutionTime 20250115250000",
        single_xml(header="<ProcessExecutionTime>20250115250000</ProcessExecutionTime>"),
        SINGLE,
        E.INVALID_DATE,
        "MessageHeader/ProcessExecutionTime",
    ),
    (
        "ArbitraryFileIdentifier of 51 characters",
        single_xml(header=f"<ArbitraryFileIdentifier>{'x' * 51}</ArbitraryFileIdentifier>"),
        SINGLE,
        E.INVALID_VALUE,
        "MessageHeader/ArbitraryFileIdentifier",
    ),
    (
        "institution code with a wrong check digit",
        single_xml().replace(INSTITUTION.encode(), b"3711234562"),
        SINGLE,
        E.INVALID_IDENTIFIER,
        "MessageHeader/MedicalInstitutionCode",
    ),
    (
        "no QualificationConfirmationDate",
        single_xml().replace(
            b"<QualificationConfirmationDate>20250115</QualificationConfirmationDate>", b""
        ),
        SINGLE,
        E.MISSING,
        "MessageHeader/QualificationConfirmationDate",
    ),
    (
        "QualificationConfirmationDate in 9999",  # the REST face's range: 1900–2099
        single_xml().replace(b">20250115</Qualification", b">99991231</Qualification"),
        SINGLE,
        E.INVALID_DATE,
        "MessageHeader/QualificationConfirmationDate",
    ),
    (
        "Birthdate in year 1",
        single_xml(
            info="<InsurerNumber>370015</InsurerNumber>"
            "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
            "<Birthdate>00010101</Birthdate>"
        ),
        SINGLE,
        E.INVALID_DATE,
        f"{SEARCH}/Birthdate",
    ),
    (
        "elements inside a leaf",
        single_xml(info="<InsurerNumber><b>370015</b></InsurerNumber>"),
        SINGLE,
        E.INVALID_VALUE,
        f"{SEARCH}/InsurerNumber",
    ),
    (
        "too many elements",
        single_xml(header="<X/>" * 300),
        SINGLE,
        E.TOO_MANY_ELEMENTS,
        None,
    ),
    ("too deep", single_xml(header="<a>" * 10 + "</a>" * 10), SINGLE, E.TOO_DEEP, None),
    ("EUC-JP", single_xml().replace(b"UTF-8", b"EUC-JP"), SINGLE, E.ENCODING, None),
    ("UTF-16", "<XmlMsg/>".encode("utf-16"), SINGLE, E.ENCODING, None),
    (
        "Shift_JIS bytes declared UTF-8",
        single_xml(
            header="<ArbitraryFileIdentifier>受付</ArbitraryFileIdentifier>", encoding="Shift_JIS"
        ).replace(b"Shift_JIS", b"UTF-8"),
        SINGLE,
        E.ENCODING,
        None,
    ),
    (
        "broken Shift_JIS",
        single_xml(encoding="Shift_JIS").replace(b"</MessageHeader>", b"\x81</MessageHeader>"),
        SINGLE,
        E.ENCODING,
        None,
    ),
    ("malformed declaration", b"<?xml version=1.0?><XmlMsg/>", SINGLE, E.MALFORMED, None),
    ("unknown file kind", single_xml(), "OQSsiimm01req_1.xml", E.UNKNOWN_FILE, None),
    ("a path, not a name", single_xml(), "../req/OQSsiquc01req_1.xml", E.UNKNOWN_FILE, None),
    ("a response file", single_xml(), "OQSsiquc01res_1.xml", E.UNKNOWN_FILE, None),
]


@pytest.mark.parametrize(
    ("data", "filename", "code", "field"),
    [case[1:] for case in _HOSTILE],
    ids=[case[0] for case in _HOSTILE],
)
def test_hostile_and_broken_requests_are_refused_with_a_precise_code(
    data: bytes, filename: str, code: OqsErrorCode, field: str | None
) -> None:
    error = refused(data, filename)
    assert error.code == code, str(error)
    assert error.field == field, str(error)


def test_an_error_names_the_element_path_and_the_value() -> None:
    data = single_xml(
        info="<InsurerNumber>370015</InsurerNumber>"
        "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
        "<Birthdate>20190230</Birthdate>"
    )
    error = refused(data)
    assert str(error).startswith(f"{SEARCH}/Birthdate: 20190230 is not a date")
    # The header was read before the problem, so the error response can echo it.
    assert error.header is not None and error.header.institution.value == INSTITUTION


def test_a_bad_query_in_a_bulk_file_is_named_by_its_position() -> None:
    data = fixture(BULK).replace(b"<Birthdate>19520630", b"<Birthdate>19520631")
    error = refused(data, BULK)
    assert error.code == E.INVALID_DATE
    assert error.field == "MessageBody/QualificationConfirmSearchInfo[2]/Birthdate"


def test_a_bulk_file_without_queries_is_refused() -> None:
    data = re.sub(rb"<MessageBody>.*</MessageBody>", b"<MessageBody/>", fixture(BULK), flags=re.S)
    error = refused(data, BULK)
    assert (error.code, error.field) == (E.MISSING, "MessageBody/QualificationConfirmSearchInfo")


def test_the_parser_itself_refuses_a_dtd_even_past_the_scan() -> None:
    # Defence in depth: the DOCTYPE scan runs first, but defusedxml must refuse on its own.
    for text in ("<!DOCTYPE a><a/>", '<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'):
        with pytest.raises(OqsMessageError) as caught:
            _parse_tree(text, 100)
        assert caught.value.code == E.DTD_FORBIDDEN


# --- responses -----------------------------------------------------------------------------


def read_response(data: bytes) -> ET.Element:
    """A test-side reader: the declared encoding decides the codec, as a client would do."""
    declaration = re.match(rb'<\?xml version="1.0" encoding="([^"]+)" standalone="no"\?>', data)
    assert declaration is not None
    codec = {b"UTF-8": "utf-8", b"Shift_JIS": "cp932"}[declaration.group(1)]
    text = data[declaration.end() :].decode(codec)
    return SafeET.fromstring(text, forbid_dtd=True)


def header() -> OqsHeader:
    request = parse_request(fixture(SINGLE), SINGLE)
    return request.header


def coverage(**changes: object) -> CoverageAnswer:
    values: dict[str, object] = {
        "insured": InsuredId("01370014", "3701", "1234567", "01"),
        "insurer_name": "全国健康保険協会香川支部",
        "card_class": "01",
        "relationship": 1,
        "name_kanji": "渡邊　太郎",
        "name_kana": "ワタナベ　タロウ",
        "sex": 1,
        "birth_date": dt.date(1980, 4, 2),
        "acquired_on": dt.date(2010, 4, 1),
        "lost_on": None,
        "loss_reason": None,
        "copay_percent": 30,
        "elderly_copay_percent": None,
        "specific_disease": None,
    }
    values.update(changes)
    return CoverageAnswer(**values)  # type: ignore[arg-type]


def answer(*results: CoverageAnswer, validity: Validity = Validity.VALID) -> EligibilityAnswer:
    return EligibilityAnswer(validity, dt.date(2025, 1, 15), list(results))


def test_a_response_carries_the_header_echo_and_the_result() -> None:
    root = read_response(
        render_response(header(), answer(coverage()), processed_at=NOW, encoding="utf-8")
    )
    assert root.tag == "XmlMsg"
    assert root.findtext("MessageHeader/ProcessExecutionTime") == "20250115090002"
    assert root.findtext("MessageHeader/QualificationConfirmationDate") == "20250115"
    assert root.findtext("MessageHeader/MedicalInstitutionCode") == INSTITUTION
    assert root.findtext("MessageHeader/ArbitraryFileIdentifier") == "clinic_0001"
    assert root.findtext("MessageHeader/ReferenceClassification") == "2"
    assert root.findtext("MessageHeader/SegmentOfResult") == "1"
    assert root.findtext("MessageHeader/CharacterCodeIdentifier") == "0"
    assert root.find("MessageHeader/ErrorCode") is None
    assert root.findtext("MessageBody/ProcessingResultStatus") == "1"
    assert root.findtext("MessageBody/QualificationValidity") == "1"
    result = root.find(RESULT)
    assert result is not None
    assert {child.tag: child.text for child in result} == {
        "InsuredCardClassification": "01",
        "InsurerNumber": "01370014",
        "InsuredCardSymbol": "3701",
        "InsuredIdentificationNumber": "1234567",
        "InsuredBranchNumber": "01",
        "PersonalFamilyClassification": "1",
        "Name": "渡邊　太郎",
        "NameKana": "ﾜﾀﾅﾍﾞ ﾀﾛｳ",
        "Sex1": "1",
        "Birthdate": "19800402",
        "QualificationDate": "20100401",
        "InsuredPartialContributionRatio": "030",
        "InsurerName": "全国健康保険協会香川支部",
    }


def test_the_limit_block_is_written_only_with_a_limit_category() -> None:
    without = read_response(
        render_response(header(), answer(coverage()), processed_at=NOW, encoding="utf-8")
    )
    assert without.find(f"{RESULT}/LimitApplicationCertificateRelatedInfo") is None
    assert without.find(f"{RESULT}/LimitApplicationCertificateRelatedConsFlg") is None
    with_limit = read_response(
        render_response(
            header(), answer(coverage(limit_category="B05")), processed_at=NOW, encoding="utf-8"
        )
    )
    flag = f"{RESULT}/LimitApplicationCertificateRelatedInfo/"
    assert with_limit.findtext(f"{flag}LimitApplicationCertificateClassificationFlag") == "B05"
    assert with_limit.findtext(f"{RESULT}/LimitApplicationCertificateRelatedConsFlg") == "1"


def test_optional_blocks_appear_when_the_answer_has_them() -> None:
    lost = coverage(
        lost_on=dt.date(2024, 12, 1),
        loss_reason="03",
        elderly_copay_percent=20,
        specific_disease="1",
        reference_number="K-0001",
    )
    root = read_response(
        render_response(header(), answer(lost), processed_at=NOW, encoding="shift_jis")
    )
    assert root.findtext(f"{RESULT}/DisqualificationDate") == "20241201"
    assert root.findtext(f"{RESULT}/ReasonOfLoss") == "03"
    assert (
        root.findtext(f"{RESULT}/ElderlyRecipientCertificateInfo/ElderlyRecipientContributionRatio")
        == "020"
    )
    assert (
        root.findtext(
            f"{RESULT}/SpecificDiseasesCertificateList/SpecificDiseasesCertificateInfo/"
            "SpecificDiseasesDiseaseCategory"
        )
        == "1"
    )
    assert root.findtext(f"{RESULT}/ReferenceNumber") == "K-0001"
    assert root.findtext("MessageHeader/CharacterCodeIdentifier") == "1"


def test_a_consented_person_without_a_certificate_gets_the_flag_only() -> None:
    consented = EligibilityAnswer(
        Validity.VALID,
        dt.date(2025, 1, 15),
        [coverage()],
        {ConsentCategory.LIMIT: dt.date(2025, 2, 14)},
    )
    root = read_response(render_response(header(), consented, processed_at=NOW, encoding="utf-8"))
    assert root.findtext(f"{RESULT}/LimitApplicationCertificateRelatedConsFlg") == "1"
    assert root.find(f"{RESULT}/LimitApplicationCertificateRelatedInfo") is None


def test_no_result_list_when_nothing_was_found() -> None:
    root = read_response(
        render_response(
            header(), answer(validity=Validity.NOT_FOUND), processed_at=NOW, encoding="utf-8"
        )
    )
    assert root.findtext("MessageBody/QualificationValidity") == "4"
    assert root.find("MessageBody/ResultList") is None


def test_the_search_info_is_echoed_when_given() -> None:
    request = parse_request(fixture(SINGLE), SINGLE)
    assert isinstance(request, SingleRequest)
    root = read_response(
        render_response(
            request.header,
            answer(coverage()),
            processed_at=NOW,
            encoding="utf-8",
            query=request.query,
            arbitrary_identifier=request.arbitrary_identifier,
        )
    )
    echo = "MessageBody/QualificationConfirmSearchInfo/"
    assert root.findtext(f"{echo}InsurerNumber") == "01370014"
    assert root.findtext(f"{echo}LimitApplicationCertificateRelatedConsFlg") == "1"
    assert root.findtext(f"{echo}ArbitraryIdentifier") == "patient-42"


def test_an_error_response_says_abnormal_end_in_header_and_body() -> None:
    error = refused(
        single_xml(
            info="<InsurerNumber>370016</InsurerNumber>"
            "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
            "<Birthdate>19800101</Birthdate>"
        )
    )
    root = read_response(
        render_response(error.header, None, error=error, processed_at=NOW, encoding="utf-8")
    )
    assert root.findtext("MessageHeader/SegmentOfResult") == "9"
    assert root.findtext("MessageHeader/ErrorCode") == "invalid_identifier"
    assert (root.findtext("MessageHeader/ErrorMessage") or "").startswith(f"{SEARCH}/InsurerNumber")
    assert root.findtext("MessageHeader/MedicalInstitutionCode") == INSTITUTION
    assert root.findtext("MessageBody/ProcessingResultStatus") == "2"
    assert root.findtext("MessageBody/ProcessingResultCode") == "invalid_identifier"
    assert root.find("MessageBody/QualificationValidity") is None


def test_an_unreadable_request_still_gets_an_error_response() -> None:
    error = refused(fixture("xxe.xml"))
    assert error.header is None
    root = read_response(
        render_response(None, None, error=error, processed_at=NOW, encoding="shift_jis")
    )
    assert root.findtext("MessageHeader/ErrorCode") == "external_reference_forbidden"
    assert root.find("MessageHeader/MedicalInstitutionCode") is None


def test_an_error_quoting_unportable_input_is_still_written_in_shift_jis() -> None:
    error = OqsMessageError(E.INVALID_VALUE, "'髙𠮷' is not a number", "MessageBody/X")
    root = read_response(
        render_response(header(), None, error=error, processed_at=NOW, encoding="shift_jis")
    )
    assert root.findtext("MessageHeader/ErrorMessage") == (
        "MessageBody/X: '\\u9ad9\\u20bb7' is not a number"
    )


def test_answer_or_error_exactly_one() -> None:
    with pytest.raises(ValueError):
        render_response(header(), None, processed_at=NOW, encoding="utf-8")
    error = OqsMessageError(E.MALFORMED, "x")
    with pytest.raises(ValueError):
        render_response(header(), answer(), error=error, processed_at=NOW, encoding="utf-8")


def test_processing_time_is_written_in_japan_time() -> None:
    utc = dt.datetime(2025, 1, 15, 0, 0, 2, tzinfo=dt.UTC)
    root = read_response(render_response(header(), answer(), processed_at=utc, encoding="utf-8"))
    assert root.findtext("MessageHeader/ProcessExecutionTime") == "20250115090002"


def test_taka_is_an_explicit_error_in_shift_jis_and_fine_in_utf8() -> None:
    # 髙 exists in cp932 only in the IBM extension areas (EE E0 / FB FC), not in JIS X 0208:
    # a receiver reading real Shift_JIS would get garbage, so it is refused, never replaced.
    taka = answer(coverage(name_kanji="髙橋　一郎"))
    with pytest.raises(UnrepresentableCharacter) as caught:
        render_response(header(), taka, processed_at=NOW, encoding="shift_jis")
    assert caught.value.code == E.UNREPRESENTABLE
    assert caught.value.char == "髙"
    assert caught.value.field == f"{RESULT}/Name"
    assert "U+9AD9" in str(caught.value)
    # The agent's fallback: the same answer in UTF-8.
    root = read_response(render_response(header(), taka, processed_at=NOW, encoding="utf-8"))
    assert root.findtext(f"{RESULT}/Name") == "髙橋　一郎"


def test_echoing_a_vendor_character_the_client_sent_is_refused_in_shift_jis_too() -> None:
    # The client wrote 髙 as cp932 EE E0; read it we can, but a Shift_JIS response promises
    # portable Shift_JIS, so the agent must choose UTF-8 or report.
    request = parse_request(fixture(SINGLE_SJIS), SINGLE_SJIS)
    assert isinstance(request, SingleRequest)

    def render(encoding: Literal["utf-8", "shift_jis"]) -> bytes:
        return render_response(
            request.header,
            answer(validity=Validity.NOT_FOUND),
            processed_at=NOW,
            encoding=encoding,
            query=request.query,
            arbitrary_identifier=request.arbitrary_identifier,
        )

    with pytest.raises(UnrepresentableCharacter) as caught:
        render(request.header.response_encoding)
    assert caught.value.field == "MessageBody/QualificationConfirmSearchInfo/ArbitraryIdentifier"
    root = read_response(render("utf-8"))
    assert root.findtext("MessageHeader/CharacterCodeIdentifier") == "0"
    assert root.findtext("MessageBody/QualificationConfirmSearchInfo/ArbitraryIdentifier") == (
        "髙橋様①"
    )


@pytest.mark.parametrize("char", ["𠮷", "﨑", "\ue000"])
def test_characters_outside_portable_shift_jis_are_refused(char: str) -> None:
    with pytest.raises(UnrepresentableCharacter):
        render_response(
            header(),
            answer(coverage(name_kanji=f"山{char}")),
            processed_at=NOW,
            encoding="shift_jis",
        )


def test_nec_special_characters_and_jis_kanji_are_written_in_shift_jis() -> None:
    name = "斎藤　①～Ⅲ邉"
    data = render_response(
        header(), answer(coverage(name_kanji=name)), processed_at=NOW, encoding="shift_jis"
    )
    assert name.encode("cp932") in data
    assert read_response(data).findtext(f"{RESULT}/Name") == name


def test_characters_xml_cannot_hold_are_refused() -> None:
    with pytest.raises(OqsMessageError) as caught:
        render_response(
            header(),
            answer(coverage(insurer_name="協会\x01")),
            processed_at=NOW,
            encoding="utf-8",
        )
    assert caught.value.code == E.INVALID_CHARACTER
    assert caught.value.field == f"{RESULT}/InsurerName"


def test_a_ratio_outside_0_to_100_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        render_response(
            header(), answer(coverage(copay_percent=130)), processed_at=NOW, encoding="utf-8"
        )


def test_bulk_accepted_and_pending_carry_the_reception_number() -> None:
    accepted = read_response(
        render_bulk_accepted(header(), "R20250115-0001", processed_at=NOW, encoding="shift_jis")
    )
    assert accepted.findtext("MessageHeader/ReceptionNumber") == "R20250115-0001"
    assert accepted.findtext("MessageHeader/SegmentOfResult") == "1"
    assert accepted.findtext("MessageBody/ProcessingResultStatus") == "1"
    pending = read_response(
        render_bulk_pending(header(), "R20250115-0001", processed_at=NOW, encoding="utf-8")
    )
    assert pending.findtext("MessageHeader/SegmentOfResult") == "2"
    assert pending.findtext("MessageHeader/ReceptionNumber") == "R20250115-0001"
    assert len(pending.find("MessageBody") or []) == 0
    with pytest.raises(ValueError):
        render_bulk_accepted(header(), "../R1", processed_at=NOW, encoding="utf-8")


def test_bulk_results_come_one_unit_per_query_in_order() -> None:
    request = parse_request(fixture(BULK), BULK)
    assert isinstance(request, BulkSubmitRequest)
    failure = OqsMessageError(E.INVALID_IDENTIFIER, "unknown insurer", "InsurerNumber")
    answers: list[EligibilityAnswer | OqsMessageError] = [
        answer(coverage(reference_number="K-1")),
        failure,
        answer(validity=Validity.NOT_FOUND),
    ]
    root = read_response(
        render_bulk_result(
            request.header,
            "R1",
            answers,
            processed_at=NOW,
            encoding="utf-8",
            queries=request.queries,
            arbitrary_identifiers=request.arbitrary_identifiers,
        )
    )
    assert root.findtext("MessageHeader/NumberOfProcessingResult") == "3"
    assert root.findtext("MessageHeader/NumberOfNormalProcessing") == "2"
    assert root.findtext("MessageHeader/NumberOfError") == "1"
    units = root.findall("MessageBody/BulkConfirmUnit")
    assert [u.findtext("QualificationConfirmSearchInfo/ArbitraryIdentifier") for u in units] == [
        "P0001",
        "P0002",
        None,
    ]
    assert [u.findtext("ProcessingResultStatus") for u in units] == ["1", "2", "1"]
    assert [u.findtext("QualificationValidity") for u in units] == ["1", None, "4"]
    assert units[0].findtext("ResultOfQualificationConfirmation/InsurerNumber") == "01370014"
    assert units[0].findtext("ReferenceNumber") == "K-1"
    assert units[1].findtext("ProcessingResultCode") == "invalid_identifier"
    with pytest.raises(ValueError):
        render_bulk_result(
            request.header, "R1", answers[:2], processed_at=NOW, encoding="utf-8",
            queries=request.queries,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("request_name", "response_name"),
    [
        ("OQSsiquc01req_20250115090001.xml", "OQSsiquc01res_20250115090001.xml"),
        ("OQSmuquc01req_X.xml", "OQSmuquc01res_X.xml"),
        ("OQSmuquc02req_abc-1.XML", "OQSmuquc02res_abc-1.XML"),
    ],
)
def test_response_file_names(request_name: str, response_name: str) -> None:
    assert response_filename(request_name) == response_name


@pytest.mark.parametrize(
    "name",
    ["OQSsiquc01res_1.xml", "../OQSsiquc01req_1.xml", "OQSsiquc01req_.xml", "OQSsiquc01req_a b.xml",
     "OQSsiquc01req_1.xml/x", "x.xml"],
)  # fmt: skip
def test_response_file_names_refuse_what_is_not_a_request(name: str) -> None:
    with pytest.raises(OqsMessageError) as caught:
        response_filename(name)
    assert caught.value.code == E.UNKNOWN_FILE


@pytest.mark.parametrize(
    ("full", "half"),
    [
        ("ヤマダ　タロウ", "ﾔﾏﾀﾞ ﾀﾛｳ"),
        ("ガッコウ・パピプペポ", "ｶﾞｯｺｳ･ﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"),
        ("ヴィーナス", "ｳﾞｨｰﾅｽ"),
        ("やまだ", "ﾔﾏﾀﾞ"),
        ("ヰヱヶ", "ｲｴｹ"),
        ("ＡＢＣ１２３", "ABC123"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ﾔﾏﾀﾞ ﾀﾛｳ"),
    ],
)
def test_kana_names_are_written_half_width(full: str, half: str) -> None:
    assert to_halfwidth_kana(full) == half


# --- round trips -----------------------------------------------------------------------------

# JIS X 0208 kanji: representable in every Shift_JIS, so both encodings must carry them.
KANJI = [c for c in map(chr, range(0x4E00, 0x9FA0)) if len(c.encode("shift_jis", "ignore")) == 2]
KATAKANA = [chr(c) for c in range(0x30A1, 0x30F7)] + ["ー"]
ALNUM = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
encodings = st.sampled_from(["utf-8", "shift_jis"])
branches = st.integers(0, 99).map(lambda n: f"{n:02d}")
# Built once: a strategy made inside a composite is validated again on every draw.
alnum = st.sampled_from(ALNUM)
symbols = st.text(st.sampled_from(list(ALNUM) + KANJI[:200]), max_size=20)
kanji_names = st.text(st.sampled_from(KANJI), min_size=1, max_size=4)
kana_names = st.text(st.sampled_from(KATAKANA), min_size=1, max_size=6)


@st.composite
def insurer_numbers(draw: st.DrawFn) -> str:
    prefecture = f"{draw(st.integers(1, 47)):02d}"
    serial = f"{draw(st.integers(0, 999)):03d}"
    if draw(st.booleans()):
        return with_check_digit(prefecture + serial)  # 国民健康保険, 6 digits
    law = draw(st.sampled_from(sorted(HEALTH_INSURANCE_LAW_CODES)))
    return with_check_digit(law + prefecture + serial)


def dates(low: dt.date, high: dt.date) -> st.SearchStrategy[dt.date]:
    return st.dates(min_value=low, max_value=high)


@st.composite
def number_queries(draw: st.DrawFn) -> NumberQuery:
    date_of_care = draw(dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))
    return NumberQuery(
        insurer=draw(insurer_numbers()),
        symbol=draw(symbols),
        number=draw(st.text(alnum, min_size=1, max_size=20)),
        branch=draw(st.none() | branches),
        birth_date=draw(dates(dt.date(1900, 1, 1), date_of_care)),
        date_of_care=date_of_care,
        limit_consent=draw(st.booleans()),
    )


def request_xml(query: NumberQuery, encoding: str, pad: bool) -> bytes:
    """The test-side writer: what a レセコン would drop into the req folder."""
    insurer = query.insurer.rjust(8) if pad else query.insurer
    branch = "" if query.branch is None else query.branch
    text = (
        f'<?xml version="1.0" encoding="{"Shift_JIS" if encoding == "shift_jis" else "UTF-8"}"'
        ' standalone="no"?>\r\n<XmlMsg><MessageHeader>'
        f"<QualificationConfirmationDate>{query.date_of_care:%Y%m%d}"
        "</QualificationConfirmationDate>"
        f"<MedicalInstitutionCode>{INSTITUTION}</MedicalInstitutionCode>"
        "<ReferenceClassification>2</ReferenceClassification>"
        "</MessageHeader><MessageBody><QualificationConfirmSearchInfo>"
        f"<InsurerNumber>{escape(insurer)}</InsurerNumber>"
        f"<InsuredCardSymbol>{escape(query.symbol)}</InsuredCardSymbol>"
        f"<InsuredIdentificationNumber>{escape(query.number)}</InsuredIdentificationNumber>"
        f"<InsuredBranchNumber>{branch}</InsuredBranchNumber>"
        f"<Birthdate>{query.birth_date:%Y%m%d}</Birthdate>"
        "<LimitApplicationCertificateRelatedConsFlg>"
        f"{int(query.limit_consent)}</LimitApplicationCertificateRelatedConsFlg>"
        "</QualificationConfirmSearchInfo></MessageBody></XmlMsg>\r\n"
    )
    return text.encode("cp932" if encoding == "shift_jis" else "utf-8")


@settings(max_examples=80, deadline=None)
@given(query=number_queries(), encoding=encodings, pad=st.booleans())
def test_a_query_survives_writing_and_parsing(query: NumberQuery, encoding: str, pad: bool) -> None:
    request = parse_request(request_xml(query, encoding, pad), "OQSsiquc01req_1.xml")
    assert isinstance(request, SingleRequest)
    assert request.query == query


@st.composite
def coverages(draw: st.DrawFn, date_of_care: dt.date) -> CoverageAnswer:
    birth = draw(dates(dt.date(1910, 1, 1), date_of_care))
    acquired = draw(dates(birth, date_of_care))
    lost = draw(st.none() | dates(acquired, dt.date(2031, 12, 31)))
    name, kana = kanji_names, kana_names
    return CoverageAnswer(
        insured=InsuredId(
            draw(insurer_numbers()),
            draw(st.text(alnum, max_size=8)),
            draw(st.text(alnum, min_size=1, max_size=10)),
            draw(branches),
        ),
        insurer_name=draw(name) + "市",
        card_class=draw(st.sampled_from(["01", "02", "03", "04", "05", "06", "07", "A1"])),
        relationship=draw(st.sampled_from([1, 2])),
        name_kanji=f"{draw(name)}　{draw(name)}",
        name_kana=f"{draw(kana)}　{draw(kana)}",
        sex=draw(st.sampled_from([1, 2, 3])),
        birth_date=birth,
        acquired_on=acquired,
        lost_on=lost,
        loss_reason=None if lost is None else draw(st.sampled_from(["01", "02", "03", "99"])),
        copay_percent=draw(st.sampled_from([0, 10, 20, 30, 100])),
        elderly_copay_percent=draw(st.none() | st.sampled_from([10, 20, 30])),
        specific_disease=draw(st.none() | st.sampled_from(["1", "2", "3"])),
        limit_category=draw(st.none() | st.sampled_from(["A01", "A04", "B01", "B10"])),
        reference_number=draw(st.none() | st.text(alnum, min_size=1, max_size=10)),
    )


@st.composite
def answers(draw: st.DrawFn) -> EligibilityAnswer:
    date_of_care = draw(dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))
    return EligibilityAnswer(
        validity=draw(st.sampled_from(list(Validity))),
        date_of_care=date_of_care,
        results=draw(st.lists(coverages(date_of_care), max_size=3)),
    )


def _day(value: dt.date | None) -> str | None:
    return None if value is None else f"{value:%Y%m%d}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(eligibility=answers(), encoding=encodings)
def test_an_answer_survives_rendering_and_parsing(
    eligibility: EligibilityAnswer, encoding: str
) -> None:
    assert encoding in ("utf-8", "shift_jis")
    data = render_response(
        header(),
        eligibility,
        processed_at=NOW,
        encoding="shift_jis" if encoding == "shift_jis" else "utf-8",
    )
    root = read_response(data)
    assert root.findtext("MessageBody/QualificationValidity") == str(int(eligibility.validity))
    results = root.findall(RESULT)
    assert len(results) == len(eligibility.results)
    for element, expected in zip(results, eligibility.results, strict=True):
        insured = expected.insured
        assert element.findtext("InsurerNumber") == insured.insurer
        assert (element.findtext("InsuredCardSymbol") or "") == insured.symbol
        assert element.findtext("InsuredIdentificationNumber") == insured.number
        assert element.findtext("InsuredBranchNumber") == insured.branch
        assert element.findtext("Name") == expected.name_kanji
        assert element.findtext("NameKana") == to_halfwidth_kana(expected.name_kana)
        assert element.findtext("Birthdate") == _day(expected.birth_date)
        assert element.findtext("QualificationDate") == _day(expected.acquired_on)
        assert element.findtext("DisqualificationDate") == _day(expected.lost_on)
        assert element.findtext("ReasonOfLoss") == expected.loss_reason
        assert int(element.findtext("InsuredPartialContributionRatio") or "") == (
            expected.copay_percent
        )
        elderly = element.findtext(
            "ElderlyRecipientCertificateInfo/ElderlyRecipientContributionRatio"
        )
        assert (None if elderly is None else int(elderly)) == expected.elderly_copay_percent
        flag = element.findtext(
            "LimitApplicationCertificateRelatedInfo/LimitApplicationCertificateClassificationFlag"
        )
        assert flag == expected.limit_category
        assert element.findtext("ReferenceNumber") == expected.reference_number
