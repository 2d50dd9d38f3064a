"""What the V08 reader and writer share: names, namespaces, OIDs, problems and the one
hardened XML parser.

V08 is the MHLW electronic standard format for 特定健診・特定保健指導 (HL7 CDA R2, XSD bundle
"mhlw_v4_20230331_v08"); see checkups-claims.md §2 for the sources.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from lxml import etree

# Namespaces: the CDA documents use HL7 v3, the index (交換用基本情報) and summary (集計情報)
# the MHLW page that publishes the XSDs.
V3: Final = "urn:hl7-org:v3"
MHLW: Final = "https://www.mhlw.go.jp/stf/seisakunitsuite/bunya/0000161103.html"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE: Final = f"{{{XSI}}}type"

# OIDs (1.2.392.200119.6.*): identifiers and code systems of the V08 specification.
OID_INSURER: Final = "1.2.392.200119.6.101"  # 保険者番号
OID_PROVIDER: Final = "1.2.392.200119.6.102"  # 健診機関番号・保健指導機関番号
OID_AGENCY: Final = "1.2.392.200119.6.103"  # 代行機関番号
OID_SYMBOL: Final = "1.2.392.200119.6.204"  # 被保険者証等記号
OID_NUMBER: Final = "1.2.392.200119.6.205"  # 被保険者証等番号
OID_CARD_FUNCTION: Final = "1.2.392.200119.6.208"  # participant functionCode (1 = 受診券)
OID_TICKET: Final = "1.2.392.200119.6.209"  # 受診券整理番号 (suffixed by 1 + 保険者番号)
OID_BRANCH: Final = "1.2.392.200119.6.211"  # 枝番 (UNCONFIRMED, see the reader's docstring)
OID_REPORT_KIND: Final = "1.2.392.200119.6.1001"  # 報告区分
OID_PROGRAM: Final = "1.2.392.200119.6.1002"  # プログラム種別
OID_ITEM: Final = "1.2.392.200119.6.1005"  # 健診項目コード (17 characters)
OID_SECTION: Final = "1.2.392.200119.6.1010"  # セクションコード
OID_SEX: Final = "1.2.392.200119.6.1104"  # 男女区分
OID_GUIDANCE_LEVEL: Final = "1.2.392.200119.6.3001"  # 保健指導レベル
OID_FIRST_INTERVIEW: Final = "1.2.392.200119.6.3003"  # 初回面接 支援形態
OID_FINAL_EVALUATION: Final = "1.2.392.200119.6.3005"  # 実績(最終)評価 支援形態
OID_CONFIDENTIALITY: Final = "2.16.840.1.113883.5.25"
CDA_TYPE_ROOT: Final = "2.16.840.1.113883.1.3"
CDA_TYPE_EXTENSION: Final = "POCD_HD000040"

REPORT_CHECKUP: Final = "10"  # 報告区分: 特定健診
PROGRAM_CHECKUP: Final = "010"  # プログラム種別: 特定健診
SECTION_CHECKUP: Final = "01010"  # the body section of the checkup items
# Guidance documents (UNCONFIRMED, see the reader's docstring).
REPORT_GUIDANCE_STARTED: Final = "21"
REPORT_GUIDANCE_EVALUATED: Final = "22"
PROGRAM_GUIDANCE: Final = "020"
SECTION_GUIDANCE: Final = "01020"
SECTION_FIRST_INTERVIEW: Final = "90030"
SECTION_FINAL_EVALUATION: Final = "90060"
GUIDANCE_LEVEL_CODES: Final = ("9N506000000000011", "1020000001")

INDEX_FILE: Final = "ix08_V08.xml"
SUMMARY_FILE: Final = "su08_V08.xml"
DATA_DIR: Final = "DATA"
CLAIMS_DIR: Final = "CLAIMS"
XSD_DIR: Final = "XSD"

#: ``{提出元機関番号10}_{提出先機関番号8}_{YYYYMMDD}{同日分割回数}_{実施区分}.zip``
ARCHIVE_NAME: Final = re.compile(r"([0-9]{10})_([0-9]{8})_([0-9]{8})([0-9])_([0-9])\.zip")

# Limits against hostile archives (zip bombs). A checkup document is some 10–40 KB and an
# archive of a large insurer holds tens of thousands: the limits leave a wide margin and stop
# a bomb long before memory runs out. Module attributes, so an operator (or a test) can
# change them.
MAX_ARCHIVE_BYTES = 2 * 1024**3
MAX_ENTRIES = 200_000
MAX_ENTRY_BYTES = 16 * 1024**2
MAX_TOTAL_BYTES = 8 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed; XML deflates ~5–20×, a bomb ~1000×
RATIO_FLOOR = 256 * 1024  # smaller entries cannot amplify much: the total limit covers them

#: The longest PQ value the fast path of ``is_number`` takes as a number unchecked.
FAST_DIGITS: Final = 15
_NUMBER: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


@dataclass(frozen=True)
class ArchiveProblem:
    """One thing wrong in an archive or document: which archive, which file inside it (relative
    to the archive's root folder), which element, item or field, and why."""

    archive: str
    file: str
    where: str
    reason: str

    def __str__(self) -> str:
        return ": ".join(
            part for part in (self.archive, self.file, self.where, self.reason) if part
        )


def _summary(problems: list[ArchiveProblem]) -> str:
    shown = "; ".join(str(p) for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"{len(problems)} problem(s): {shown}{more}"


class ArchiveRejected(Exception):
    """The archive was refused; ``problems`` lists everything found wrong."""

    def __init__(self, problems: list[ArchiveProblem]) -> None:
        self.problems = problems
        super().__init__(_summary(problems))


class DocumentRejected(Exception):
    """One document (``h*.xml`` or ``g*.xml``) was refused; ``problems`` says why."""

    def __init__(self, problems: list[ArchiveProblem]) -> None:
        self.problems = problems
        super().__init__(_summary(problems))


class Problems:
    """Collects the problems of one file, each stamped with the archive and file names."""

    __slots__ = ("archive", "file", "items")

    def __init__(self, archive: str, file: str) -> None:
        self.archive = archive
        self.file = file
        self.items: list[ArchiveProblem] = []

    def add(self, where: str, reason: str) -> None:
        self.items.append(ArchiveProblem(self.archive, self.file, where, reason))


class XmlRefused(Exception):
    """A file that is not safe or not well-formed XML; ``where`` and ``reason`` say why."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


_local = threading.local()


def _parser(drop_blanks: bool = False) -> etree.XMLParser:
    # lxml parsers keep per-parse state: one of each kind per thread keeps the reader
    # thread-safe without building a parser per document.
    name = "lean_parser" if drop_blanks else "parser"
    parser: etree.XMLParser | None = getattr(_local, name, None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
            remove_blank_text=drop_blanks,
        )
        setattr(_local, name, parser)
    return parser


# UTF-16/32 would hide "<!DOCTYPE" from a byte search, so only byte-oriented encodings pass.
_WIDE_BOMS: Final = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _prolog(data: bytes) -> tuple[str | None, int]:
    """Walks the prolog (declaration, comments, processing instructions) up to the root
    element. Anything else starting with ``<!`` there is a DOCTYPE: refused. Scanning only the
    prolog keeps the check cheap and leaves ``<!DOCTYPE`` inside a text value harmless.
    Returns the refusal (None when there is none) and where the root element starts (the
    size of ``data`` when there is no root element)."""
    size = len(data)
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while True:
        pos = data.find(b"<", pos)
        if pos < 0 or pos + 1 >= size:
            return None, size  # no root element: the parser will say so
        following = data[pos + 1 : pos + 2]
        if following == b"?":
            end = data.find(b"?>", pos + 2)
            pos = size if end < 0 else end + 2
        elif data.startswith(b"<!--", pos):
            end = data.find(b"-->", pos + 4)
            pos = size if end < 0 else end + 3
        elif following == b"!":
            return "a DOCTYPE is not allowed (it can define entity bombs or external entities)", pos
        else:
            return None, pos


class BlanksDropped(Exception):
    """Raised by a reader of ``parse_lean``'s tree that needs the whitespace it dropped (the
    text of an element with child elements): read the document again with ``parse_xml``."""


def _blanks_droppable(data: bytes, root_at: int) -> bool:
    """Whether libxml2's blank-text heuristic (``remove_blank_text``) can change no text but
    the leading whitespace of an element that has child elements. The heuristic drops a
    whitespace-only run followed by ``<`` or a carriage return: with no comment, CDATA
    section or processing instruction after the prolog (no ``!`` or ``?`` at all there,
    a cheaper test than searching for the markup) and no carriage return, what follows such a
    run is a tag, so the run dropped is either the whole text before an element's first
    child or the whitespace after a child (a tail, which the reader never reads)."""
    return data.find(b"!", root_at) < 0 and data.find(b"?", root_at) < 0 and b"\r" not in data


def parse_xml(data: bytes) -> etree._Element:
    """Parses untrusted XML: refuses any DOCTYPE (billion laughs, XXE) before lxml sees the
    bytes, then parses with entities, DTDs and the network all off. Raises XmlRefused."""
    return _parse(data, drop_blanks=False)[0]


def parse_lean(data: bytes) -> tuple[etree._Element, bool]:
    """``parse_xml``, without the whitespace-only text between elements where that changes
    no text but the whitespace before the first child element of an element (see
    ``_blanks_droppable``; a smaller tree, a fifth quicker to build and to free). Returns
    the root and whether blanks were dropped: a reader that then finds an element with
    child elements whose text it needs raises ``BlanksDropped`` and reads the document
    with ``parse_xml``. The same checks, refusals and errors as ``parse_xml``."""
    return _parse(data, drop_blanks=True)


def _parse(data: bytes, drop_blanks: bool) -> tuple[etree._Element, bool]:
    if data.startswith(_WIDE_BOMS) or b"\x00" in data[:4]:
        raise XmlRefused("encoding", "only UTF-8 documents are accepted (UTF-16/32 found)")
    refusal, root_at = _prolog(data)
    if refusal is not None:
        raise XmlRefused("DOCTYPE", refusal)
    lean = drop_blanks and _blanks_droppable(data, root_at)
    try:
        root = etree.fromstring(data, _parser(lean))
    except etree.XMLSyntaxError as error:
        if lean:  # the error as parse_xml reports it
            return _parse(data, drop_blanks=False)
        line = getattr(error, "lineno", None)
        where = f"line {line}" if line else "XML"
        raise XmlRefused(where, f"not well-formed XML: {error.msg}") from None
    # Second line of defence: an encoding that hides the prolog from a byte scan (UTF-7,
    # EBCDIC). The parser has not expanded or fetched anything even then.
    docinfo = root.getroottree().docinfo
    if docinfo.internalDTD is not None:
        raise XmlRefused("DOCTYPE", "a DOCTYPE is not allowed")
    if lean and (docinfo.encoding or "").upper() != "UTF-8":
        # The byte scan of _blanks_droppable holds for UTF-8 only: read again, keeping all.
        return _parse(data, drop_blanks=False)
    return root, lean


def is_number(text: str) -> bool:
    """A PQ ``value``: a decimal number, optionally with an exponent (HL7 REAL)."""
    # Fast path for the usual "123" / "12.5"; ``isdigit`` alone would accept "²" or "١".
    # Up to FAST_DIGITS characters such a number is far inside a float.
    if len(text) <= FAST_DIGITS and text.isascii() and text.replace(".", "", 1).isdigit():
        return True
    # A number past any float ("1e400", 400 nines) would be read as inf: refused like NaN.
    return _NUMBER.fullmatch(text) is not None and math.isfinite(float(text))


def parse_date(text: str | None) -> dt.date | None:
    """``YYYYMMDD`` (the V08 date form) or None when absent or not a real date."""
    if text is None or len(text) != 8 or not text.isascii() or not text.isdigit():
        return None
    return _day(text)


@lru_cache(maxsize=1 << 14)
def _day(text: str) -> dt.date | None:
    # Every document has a birth and an exam date, and an archive repeats them: building a
    # date from eight digits costs more than the cache look-up (dates are immutable).
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def ymd(day: dt.date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"
