"""Reading 要求ファイル (request XML) safely: bytes in, a typed request out, or an OqsMessageError.

The order of the checks is the order of the cost an attacker could cause: file name and size
first, then the character code, then any DTD (refused before a parser sees it), then a
streaming parse that stops at the element and depth limits, then the fields.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Final, TypeVar

import defusedxml.ElementTree as SafeET
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from kokuho.ids import (
    InstitutionCode,
    InsurerNumber,
    InvalidIdentifier,
    parse_branch,
    parse_number,
    parse_symbol,
)
from kokuho.verify._model import NumberQuery
from kokuho.verify._oqs_xml_model import (
    BULK_FETCH_PREFIX,
    BULK_SUBMIT_PREFIX,
    MAX_BULK_BYTES,
    MAX_BULK_ELEMENTS,
    MAX_BULK_QUERIES,
    MAX_DEPTH,
    MAX_IDENTIFIER_LENGTH,
    MAX_SINGLE_BYTES,
    MAX_SINGLE_ELEMENTS,
    RECEPTION_NUMBER,
    SINGLE_PREFIX,
    BulkFetchRequest,
    BulkSubmitRequest,
    CharacterCode,
    Encoding,
    OqsErrorCode,
    OqsHeader,
    OqsMessageError,
    OqsRequest,
    ReferenceClassification,
    SingleRequest,
    split_request_filename,
)

E = OqsErrorCode
T = TypeVar("T")

_BOM: Final = b"\xef\xbb\xbf"
_DECLARATION: Final = re.compile(
    rb"<\?xml\s+version\s*=\s*(['\"])1\.[0-9]\1"
    rb"(?:\s+encoding\s*=\s*(['\"])([A-Za-z][A-Za-z0-9._-]*)\2)?"
    rb"(?:\s+standalone\s*=\s*(['\"])(?:yes|no)\4)?\s*\?>"
)
# Windows writes "Shift_JIS" and means code page 932, so every alias decodes with cp932:
# the NEC and IBM extensions (①, Ⅲ, 髙) then read as the sender meant them.
_SHIFT_JIS_NAMES: Final = {
    "shift_jis", "shift-jis", "sjis", "x-sjis", "windows-31j", "cp932", "ms932", "ms_kanji",
    "csshiftjis", "cswindows31j",
}  # fmt: skip
_UTF8_NAMES: Final = {"utf-8", "utf8"}
_DOCTYPE: Final = re.compile(r"<!DOCTYPE", re.IGNORECASE)
_ENTITY: Final = re.compile(r"<!ENTITY", re.IGNORECASE)
_EXTERNAL: Final = re.compile(r"\b(SYSTEM|PUBLIC)\b")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DATE: Final = re.compile(r"[0-9]{8}")
_DATETIME: Final = re.compile(r"[0-9]{14}")

_SEARCH_INFO: Final = "QualificationConfirmSearchInfo"


def parse_request(data: bytes, filename: str) -> OqsRequest:
    """Reads one 要求ファイル of the ``req`` folder.

    ``filename`` decides the kind: ``OQSsiquc01req_*.xml`` (資格確認, one person),
    ``OQSmuquc01req_*.xml`` (一括照会の要求) or ``OQSmuquc02req_*.xml`` (一括照会の結果取得).
    Every problem raises :class:`OqsMessageError` with a code and the element path.
    """
    prefix, _ = split_request_filename(filename)
    if prefix not in (SINGLE_PREFIX, BULK_SUBMIT_PREFIX, BULK_FETCH_PREFIX):
        raise OqsMessageError(E.UNKNOWN_FILE, f"{prefix} files are not served by this agent")
    bulk = prefix == BULK_SUBMIT_PREFIX
    limit = MAX_BULK_BYTES if bulk else MAX_SINGLE_BYTES
    if len(data) > limit:
        raise OqsMessageError(E.OVERSIZE, f"{len(data)} bytes; {prefix} files may have {limit}")
    text, encoding = _decode(data)
    _refuse_dtd(text)
    root = _parse_tree(text, MAX_BULK_ELEMENTS if bulk else MAX_SINGLE_ELEMENTS)
    if root.tag != "XmlMsg":
        raise OqsMessageError(E.WRONG_ROOT, f"the root element is <{root.tag}>, not <XmlMsg>")
    header_element = _child(root, "MessageHeader", "", required=True)
    assert header_element is not None
    header = _header(header_element, encoding, need_date=prefix != BULK_FETCH_PREFIX)
    try:
        body = _child(root, "MessageBody", "", required=True)
        assert body is not None
        if prefix == SINGLE_PREFIX:
            return _single(header, body)
        if bulk:
            return _bulk_submit(header, body)
        return _bulk_fetch(header, body, header_element)
    except OqsMessageError as error:
        error.header = header
        raise


# --- bytes to elements -------------------------------------------------------------------


def _decode(data: bytes) -> tuple[str, Encoding]:
    """Decodes by the XML declaration; returns the text *without* the declaration, because the
    text is handed to expat as UTF-8, which cannot read multi-byte Shift_JIS itself."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise OqsMessageError(E.ENCODING, "UTF-16 is not used by the interface")
    had_bom = data.startswith(_BOM)
    rest = data[len(_BOM) :] if had_bom else data
    # Tolerated: blank lines some writers put before the declaration.
    rest = rest.lstrip(b" \t\r\n")
    name = "utf-8"
    match = _DECLARATION.match(rest)
    if match is not None:
        name = (match.group(3) or b"utf-8").decode("ascii").lower()
        rest = rest[match.end() :]
    elif re.match(rb"<\?xml[ \t\r\n]", rest):
        raise OqsMessageError(E.MALFORMED, "the XML declaration is not well-formed")
    encoding: Encoding
    if name in _UTF8_NAMES:
        encoding, codec = "utf-8", "utf-8"
    elif name in _SHIFT_JIS_NAMES:
        if had_bom:
            raise OqsMessageError(E.ENCODING, "a UTF-8 byte order mark in a Shift_JIS file")
        encoding, codec = "shift_jis", "cp932"
    else:
        raise OqsMessageError(E.ENCODING, f"encoding {name!r} is not UTF-8 or Shift_JIS")
    try:
        return rest.decode(codec), encoding
    except UnicodeDecodeError as error:
        bad = error.object[error.start : error.start + 2].hex(" ")
        offset = len(data) - len(rest) + error.start
        raise OqsMessageError(
            E.ENCODING, f"bytes {bad} at offset {offset} are not {codec}"
        ) from None


def _refuse_dtd(text: str) -> None:
    """No message of the interface has a DTD, so any DOCTYPE is an attack or an error; it is
    refused before parsing, and named by what it tries (defusedxml stays as the backstop)."""
    doctype = _DOCTYPE.search(text)
    if doctype is None:
        return
    # The declaration ends at "]>" when it has an internal subset, else at the first ">".
    start = doctype.start()
    subset = text.find("[", start)
    close = text.find(">", start)
    end = text.find("]>", start) if subset != -1 and (close == -1 or subset < close) else close
    declaration = text[start:] if end == -1 else text[start : end + 2]
    if _EXTERNAL.search(declaration):
        raise OqsMessageError(
            E.EXTERNAL_REFERENCE_FORBIDDEN, "a DOCTYPE naming an external resource is refused"
        )
    if _ENTITY.search(declaration):
        raise OqsMessageError(E.ENTITY_FORBIDDEN, "entity declarations are refused")
    raise OqsMessageError(E.DTD_FORBIDDEN, "a DOCTYPE is refused")


def _parse_tree(text: str, max_elements: int) -> ET.Element:
    """Streams the parse so that the limits stop it early, not after the tree is built."""
    source = io.BytesIO(text.encode("utf-8"))
    root: ET.Element | None = None
    count = depth = 0
    try:
        for event, element in SafeET.iterparse(
            source,
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        ):
            if event == "end":
                depth -= 1
                continue
            count += 1
            depth += 1
            if root is None:
                root = element
            if count > max_elements:
                raise OqsMessageError(E.TOO_MANY_ELEMENTS, f"more than {max_elements} elements")
            if depth > MAX_DEPTH:
                raise OqsMessageError(E.TOO_DEEP, f"elements nested deeper than {MAX_DEPTH}")
    except ET.ParseError as error:
        raise OqsMessageError(E.MALFORMED, f"not well-formed XML ({error})") from None
    except DTDForbidden:
        raise OqsMessageError(E.DTD_FORBIDDEN, "a DOCTYPE is refused") from None
    except EntitiesForbidden:
        raise OqsMessageError(E.ENTITY_FORBIDDEN, "entity declarations are refused") from None
    except ExternalReferenceForbidden:
        raise OqsMessageError(
            E.EXTERNAL_REFERENCE_FORBIDDEN, "external references are refused"
        ) from None
    if root is None:
        raise OqsMessageError(E.MALFORMED, "no root element")
    return root


# --- elements to values ------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    return f"{path}/{name}" if path else name


def _child(parent: ET.Element, name: str, path: str, *, required: bool) -> ET.Element | None:
    found = [child for child in parent if child.tag == name]
    where = _join(path, name)
    if len(found) > 1:
        raise OqsMessageError(E.DUPLICATE, f"appears {len(found)} times", where)
    if not found:
        if required:
            raise OqsMessageError(E.MISSING, "is missing", where)
        return None
    return found[0]


def _text(parent: ET.Element, name: str, path: str, *, required: bool) -> str | None:
    """The stripped text of a leaf; an empty element counts as absent (the public sample sends
    ``<InsuredBranchNumber></InsuredBranchNumber>`` for no 枝番)."""
    element = _child(parent, name, path, required=required)
    if element is None:
        return None
    where = _join(path, name)
    if len(element):
        raise OqsMessageError(E.INVALID_VALUE, "must hold text, not elements", where)
    text = (element.text or "").strip()
    if not text:
        if required:
            raise OqsMessageError(E.MISSING, "is empty", where)
        return None
    return text


def _required(parent: ET.Element, name: str, path: str) -> str:
    text = _text(parent, name, path, required=True)
    assert text is not None
    return text


def _date(raw: str, where: str) -> dt.date:
    # 1900–2099, the REST face's range: 99991231 went on to the check and came back as a
    # service error naming the REST field.
    if _DATE.fullmatch(raw) and "1900" <= raw[:4] <= "2099":
        try:
            return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        except ValueError:
            pass
    raise OqsMessageError(E.INVALID_DATE, f"{raw} is not a date (yyyyMMdd, 1900–2099)", where)


def _datetime(raw: str, where: str) -> dt.datetime:
    if _DATETIME.fullmatch(raw):
        try:
            year, month, day = int(raw[:4]), int(raw[4:6]), int(raw[6:8])
            return dt.datetime(year, month, day, int(raw[8:10]), int(raw[10:12]), int(raw[12:]))
        except ValueError:
            pass
    raise OqsMessageError(E.INVALID_DATE, f"{raw} is not a time (YYYYMMDDHHmmss)", where)


def _code(raw: str, where: str, kind: Callable[[int], T], allowed: str) -> T:
    if raw.isascii() and raw.isdigit():
        try:
            return kind(int(raw))
        except ValueError:
            pass
    raise OqsMessageError(E.UNKNOWN_CODE, f"{raw} is not {allowed}", where)


def _free_text(raw: str | None, where: str) -> str | None:
    # Spaces, full-width ones included, are kept: clinics put names in these identifiers.
    if raw is not None and (len(raw) > MAX_IDENTIFIER_LENGTH or _CONTROL.search(raw)):
        raise OqsMessageError(
            E.INVALID_VALUE,
            f"must be at most {MAX_IDENTIFIER_LENGTH} characters without control characters",
            where,
        )
    return raw


def _identifier(parse: Callable[[str], T], raw: str, where: str) -> T:
    try:
        return parse(raw)
    except InvalidIdentifier as error:
        raise OqsMessageError(E.INVALID_IDENTIFIER, str(error), where) from None


def _header(element: ET.Element, encoding: Encoding, *, need_date: bool) -> OqsHeader:
    path = "MessageHeader"
    institution = _identifier(
        InstitutionCode.parse,
        _required(element, "MedicalInstitutionCode", path),
        f"{path}/MedicalInstitutionCode",
    )
    raw_date = _text(element, "QualificationConfirmationDate", path, required=need_date)
    raw_time = _text(element, "ProcessExecutionTime", path, required=False)
    raw_reference = _text(element, "ReferenceClassification", path, required=False)
    raw_charset = _text(element, "CharacterCodeIdentifier", path, required=False)
    return OqsHeader(
        institution=institution,
        confirmation_date=(
            None if raw_date is None else _date(raw_date, f"{path}/QualificationConfirmationDate")
        ),
        executed_at=(
            None if raw_time is None else _datetime(raw_time, f"{path}/ProcessExecutionTime")
        ),
        file_identifier=_free_text(
            _text(element, "ArbitraryFileIdentifier", path, required=False),
            f"{path}/ArbitraryFileIdentifier",
        ),
        reference=(
            None
            if raw_reference is None
            else _code(
                raw_reference,
                f"{path}/ReferenceClassification",
                ReferenceClassification,
                "1 (マイナンバーカード) or 2 (被保険者証情報)",
            )
        ),
        character_code=(
            None
            if raw_charset is None
            else _code(
                raw_charset,
                f"{path}/CharacterCodeIdentifier",
                CharacterCode,
                "0 (UTF-8) or 1 (Shift_JIS)",
            )
        ),
        document_encoding=encoding,
    )


def _search_info(
    element: ET.Element, path: str, date_of_care: dt.date
) -> tuple[NumberQuery, str | None]:
    """One QualificationConfirmSearchInfo (資格確認照会用情報)."""

    def where(name: str) -> str:
        return f"{path}/{name}"

    # 保険者番号 arrives left-padded with spaces to 8 (sanox road26); InsurerNumber strips it.
    insurer = _identifier(
        InsurerNumber.parse, _required(element, "InsurerNumber", path), where("InsurerNumber")
    ).value
    # 後期高齢者医療 cards have no 記号, so the element may be absent or empty.
    symbol = _identifier(
        parse_symbol,
        _text(element, "InsuredCardSymbol", path, required=False) or "",
        where("InsuredCardSymbol"),
    )
    number = _identifier(
        parse_number,
        _required(element, "InsuredIdentificationNumber", path),
        where("InsuredIdentificationNumber"),
    )
    raw_branch = _text(element, "InsuredBranchNumber", path, required=False)
    branch = (
        None
        if raw_branch is None
        else _identifier(parse_branch, raw_branch, where("InsuredBranchNumber"))
    )
    birth_date = _date(_required(element, "Birthdate", path), where("Birthdate"))
    if birth_date > date_of_care:
        raise OqsMessageError(
            E.INVALID_DATE,
            f"{birth_date:%Y%m%d} is after QualificationConfirmationDate {date_of_care:%Y%m%d}",
            where("Birthdate"),
        )
    raw_consent = _text(element, "LimitApplicationCertificateRelatedConsFlg", path, required=False)
    if raw_consent not in (None, "0", "1"):
        raise OqsMessageError(
            E.UNKNOWN_CODE,
            f"{raw_consent} is not 0 (未同意) or 1 (同意)",
            where("LimitApplicationCertificateRelatedConsFlg"),
        )
    arbitrary = _free_text(
        _text(element, "ArbitraryIdentifier", path, required=False), where("ArbitraryIdentifier")
    )
    query = NumberQuery(
        insurer=insurer,
        symbol=symbol,
        number=number,
        branch=branch,
        birth_date=birth_date,
        date_of_care=date_of_care,
        limit_consent=raw_consent == "1",
    )
    return query, arbitrary


def _single(header: OqsHeader, body: ET.Element) -> SingleRequest:
    assert header.confirmation_date is not None
    info = _child(body, _SEARCH_INFO, "MessageBody", required=True)
    assert info is not None
    query, arbitrary = _search_info(info, f"MessageBody/{_SEARCH_INFO}", header.confirmation_date)
    return SingleRequest(header, query, arbitrary)


def _bulk_submit(header: OqsHeader, body: ET.Element) -> BulkSubmitRequest:
    """Repeated MessageBody/QualificationConfirmSearchInfo, one per person (UNCONFIRMED)."""
    assert header.confirmation_date is not None
    infos = [child for child in body if child.tag == _SEARCH_INFO]
    if not infos:
        raise OqsMessageError(E.MISSING, "is missing", f"MessageBody/{_SEARCH_INFO}")
    if len(infos) > MAX_BULK_QUERIES:
        raise OqsMessageError(
            E.TOO_MANY_QUERIES,
            f"{len(infos)} 照会 in one file; at most {MAX_BULK_QUERIES}",
            "MessageBody",
        )
    queries: list[NumberQuery] = []
    identifiers: list[str | None] = []
    for index, info in enumerate(infos, start=1):
        path = f"MessageBody/{_SEARCH_INFO}[{index}]"
        query, arbitrary = _search_info(info, path, header.confirmation_date)
        queries.append(query)
        identifiers.append(arbitrary)
    return BulkSubmitRequest(header, queries, identifiers)


def _bulk_fetch(
    header: OqsHeader, body: ET.Element, header_element: ET.Element
) -> BulkFetchRequest:
    """ReceptionNumber in the MessageBody as OQSDrug2 writes it; the MessageHeader is also read
    because the results file carries it there (placement UNCONFIRMED)."""
    in_body = _text(body, "ReceptionNumber", "MessageBody", required=False)
    in_header = _text(header_element, "ReceptionNumber", "MessageHeader", required=False)
    if in_body and in_header and in_body != in_header:
        raise OqsMessageError(
            E.INVALID_VALUE,
            f"{in_body} differs from MessageHeader/ReceptionNumber {in_header}",
            "MessageBody/ReceptionNumber",
        )
    number = in_body or in_header
    where = "MessageBody/ReceptionNumber" if in_body else "MessageHeader/ReceptionNumber"
    if number is None:
        raise OqsMessageError(E.MISSING, "is missing", "MessageBody/ReceptionNumber")
    if not RECEPTION_NUMBER.fullmatch(number):
        raise OqsMessageError(E.INVALID_VALUE, "must be 1–50 letters, digits, '-' or '_'", where)
    return BulkFetchRequest(header, number)
