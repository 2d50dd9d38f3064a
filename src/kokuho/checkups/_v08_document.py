"""Reading one V08 CDA document: a 特定健診 file (``h*.xml``) into a :class:`Checkup`, a
特定保健指導 file (``g*.xml``) into a :class:`Guidance`.

The reader is built for ingest speed (thousands of documents a second): one hardened lxml
parse (of a checkup, without the blank text between elements where dropping it changes no
value read: ``parse_lean``), one pass over the header's children, one ``iter`` over the
body's observations, no schema validation. Every check the lake relies on is done here
instead, and every problem names the element (an XPath-like location, or the observation's
item code) and the reason.

Header (both kinds):

- ``recordTarget/patientRole/id``: ``@root`` 1.2.392.200119.6.101 保険者番号, .204 記号,
  .205 番号, .211 枝番 (optional).
- ``recordTarget/patientRole/patient/administrativeGenderCode@code`` 男女区分 (1 男, 2 女) and
  ``birthTime@value`` 生年月日 (YYYYMMDD).
- ``author/assignedAuthor/representedOrganization/id[@root=…6.102]`` 健診機関番号 /
  保健指導機関番号 (falls back to the ``documentationOf/serviceEvent/performer`` organisation).
- ``participant/associatedEntity/id[@root=1.2.392.200119.6.209.…]`` 受診券整理番号.
- ``documentationOf/serviceEvent/effectiveTime@value`` 実施日 (the exam date).

Body of a checkup: every ``observation`` anywhere under ``component/structuredBody`` (entries,
organizers, components and entryRelationships alike), keyed by ``code@code``, the 17-character
健診項目コード; ``value@xsi:type`` PQ (``@value`` + ``@unit``), CD/CO (``@code`` +
``@codeSystem``) or ST (text); ``negationInd="true"`` is 未実施 (``not_done``); a ``nullFlavor``
on the observation or its value is 測定不能 (``null_flavor``, the value's wins).

UNCONFIRMED
-----------
Every V08 choice not confirmed from the 仕様説明書 itself (reader and writer alike):

- 枝番: ``patientRole/id[@root=1.2.392.200119.6.211]``. The CDA template of the 2021 revision
  and co08_V08.xsd (``insuranceBranchCodeOid``) carry it, but the 仕様説明書 was not read.
- 保険者番号 is written zero-padded to 8 digits (a 6-digit 国保 number as ``00xxxxxx``), after
  the OID table's note on …6.101 as quoted in ``kokuho.synth``; the reader accepts both forms
  and keeps the 6-digit number.
- 受診券整理番号: written as ``participant/associatedEntity/id`` with root
  ``1.2.392.200119.6.209.1`` + the 保険者番号 in 8 columns (from a spec-derived note); any root
  under ``…6.209`` is read.
- The ``g`` prefix of guidance files in ``DATA/`` and the whole guidance document: a
  CDA document shaped like the checkup one (same header, 報告区分 21 while in progress and 22
  once 実績評価 is done, プログラム種別 020), whose body holds

  - a section ``01020`` (codeSystem 1.2.392.200119.6.1010) with one observation, code
    ``9N506000000000011`` (also accepted: ``1020000001``, seen in a third-party stylesheet
    for hg08 files), value CD ``1`` 積極的支援 or ``2`` 動機付け支援 (codeSystem …6.3001);
  - a section ``90030`` 初回面接 whose first ``effectiveTime@value`` is the 初回面接 date
    (written on an ``act`` whose 支援形態 code, …6.3003, is ``nullFlavor="UNK"``: the model
    has no 支援形態);
  - a section ``90060`` 実績評価 (最終評価, …6.3005) likewise, absent while not completed.
- An observation without any ``value`` is accepted only when it is 未実施 or has a nullFlavor;
  its ``kind`` is then the empty string. An item code that is not 17 characters, or a value
  type other than PQ, CD, CO and ST, is a problem; so is a negative PQ value (kokuho's choice:
  no 健診 item is a negative quantity, though HL7 REAL allows one).
- A PQ value larger than its item's format allows (``NNN.N`` → 999.9) is a problem; the
  formats are kokuho's assumptions, not read in the 項目コード表 (``_v08_ranges``,
  ``data/checkup_item_formats.yaml``). A value that is not a finite number is one whatever
  its item.
- Index: ``interactionType@code`` is written as ``1`` (the template's value); the receiver's
  OID is 1.2.392.200119.6.101 when the 提出先 is a valid 保険者番号 and …6.103 (代行機関)
  otherwise; any OID is read.
- Summary: ``totalSubjectCount`` is compared with the number of ``h`` plus ``g`` documents
  (特定健診受診者／特定保健指導利用者の総数); an archive of checkups only compares it with
  the checkups.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from lxml import etree

from kokuho.checkups._model import Checkup, Guidance, GuidanceLevel, Observation
from kokuho.checkups._v08_body import read_observations
from kokuho.checkups._v08_common import (
    GUIDANCE_LEVEL_CODES,
    OID_BRANCH,
    OID_INSURER,
    OID_NUMBER,
    OID_PROVIDER,
    OID_SYMBOL,
    OID_TICKET,
    SECTION_FINAL_EVALUATION,
    SECTION_FIRST_INTERVIEW,
    V3,
    ArchiveProblem,
    BlanksDropped,
    DocumentRejected,
    Problems,
    XmlRefused,
    parse_date,
    parse_lean,
    parse_xml,
)
from kokuho.ids import InsurerNumber, InvalidIdentifier, parse_branch, parse_number, parse_symbol

# Tags, built once: comparing ``element.tag`` with a prepared string is the cheapest test.
_CLINICAL_DOCUMENT: Final = f"{{{V3}}}ClinicalDocument"
_RECORD_TARGET: Final = f"{{{V3}}}recordTarget"
_PATIENT_ROLE: Final = f"{{{V3}}}patientRole"
_PATIENT: Final = f"{{{V3}}}patient"
_ID: Final = f"{{{V3}}}id"
_GENDER: Final = f"{{{V3}}}administrativeGenderCode"
_BIRTH: Final = f"{{{V3}}}birthTime"
_AUTHOR: Final = f"{{{V3}}}author"
_PARTICIPANT: Final = f"{{{V3}}}participant"
_DOCUMENTATION_OF: Final = f"{{{V3}}}documentationOf"
_SERVICE_EVENT: Final = f"{{{V3}}}serviceEvent"
_EFFECTIVE_TIME: Final = f"{{{V3}}}effectiveTime"
_LOW: Final = f"{{{V3}}}low"
_COMPONENT: Final = f"{{{V3}}}component"
_STRUCTURED_BODY: Final = f"{{{V3}}}structuredBody"
_SECTION: Final = f"{{{V3}}}section"
_OBSERVATION: Final = f"{{{V3}}}observation"
_CODE: Final = f"{{{V3}}}code"
_VALUE: Final = f"{{{V3}}}value"
_AUTHOR_ORG: Final = (f"{{{V3}}}assignedAuthor", f"{{{V3}}}representedOrganization")
_PERFORMER_ORG: Final = (
    f"{{{V3}}}performer",
    f"{{{V3}}}assignedEntity",
    f"{{{V3}}}representedOrganization",
)

# Locations named in problems.
W_ROOT: Final = "ClinicalDocument"
W_INSURER: Final = f"recordTarget/patientRole/id[@root='{OID_INSURER}']"
W_SYMBOL: Final = f"recordTarget/patientRole/id[@root='{OID_SYMBOL}']"
W_NUMBER: Final = f"recordTarget/patientRole/id[@root='{OID_NUMBER}']"
W_BRANCH: Final = f"recordTarget/patientRole/id[@root='{OID_BRANCH}']"
W_SEX: Final = "recordTarget/patientRole/patient/administrativeGenderCode"
W_BIRTH: Final = "recordTarget/patientRole/patient/birthTime"
W_INSTITUTION: Final = f"author/assignedAuthor/representedOrganization/id[@root='{OID_PROVIDER}']"
W_EXAM: Final = "documentationOf/serviceEvent/effectiveTime"
W_BODY: Final = "component/structuredBody"
W_LEVEL: Final = "observation 9N506000000000011"
W_STARTED: Final = f"section {SECTION_FIRST_INTERVIEW}/effectiveTime"
W_EVALUATED: Final = f"section {SECTION_FINAL_EVALUATION}/effectiveTime"

MAX_SYMBOL_LENGTH: Final = 20  # as kokuho.ids checks 記号 and 番号
_SEXES: Final = {"1": 1, "2": 2}
_CODED: Final = frozenset(("CD", "CO"))


@lru_cache(maxsize=4096)
def _insurer(raw: str) -> tuple[str | None, str | None]:
    # An archive names a handful of insurers thousands of times: check each once.
    try:
        return InsurerNumber.parse(raw).value, None
    except InvalidIdentifier as error:
        return None, str(error)


def _plain(raw: str) -> bool:
    # Half-width letters and digits need none of parse_symbol/parse_number's normalisation
    # (NFKC, spaces, control characters): most 記号 and 番号 take this path.
    return len(raw) <= MAX_SYMBOL_LENGTH and raw.isascii() and raw.isalnum()


def _institution(raw: str | None, problems: Problems) -> str | None:
    if raw is None:
        problems.add(W_INSTITUTION, "健診機関番号 is missing")
        return None
    if len(raw) != 10 or not raw.isascii() or not raw.isdigit():
        # 健診機関番号 are 10 digits but need not be 医療機関コード (a 健診機関 without insurance
        # practice gets a number outside that scheme), so only the length is checked.
        problems.add(
            W_INSTITUTION,
            f"健診機関番号 {raw!r}: must be 10 digits (only the length is checked; it need not "
            "be a 医療機関コード)",
        )
        return None
    return raw


@dataclass(slots=True)
class _Header:
    insurer: str | None = None
    symbol: str = ""
    number: str | None = None
    branch: str | None = None
    sex: int | None = None
    birth: dt.date | None = None
    institution: str | None = None
    ticket: str | None = None
    service_date: str | None = None
    body: etree._Element | None = None
    blanks_dropped: bool = False  # read with parse_lean, which dropped blank text


def _first(element: etree._Element, *tags: str) -> etree._Element | None:
    """``element.find("a/b/…")`` of these tags: the first match in document order. lxml's
    ``find`` goes through its Python ElementPath engine, several times slower than a loop
    over the children, and the header asks for a few of these per document. The elements
    searched have one to three children, so comparing each one's tag also beats building an
    ``iterchildren(tag)`` iterator."""
    first, rest = tags[0], tags[1:]
    for child in element:
        if child.tag != first:
            continue
        if not rest:
            return child
        found = _first(child, *rest)
        if found is not None:
            return found
    return None


def _provider_id(org: etree._Element | None) -> etree._Element | None:
    """The first ``id`` of ``org`` with the 健診機関番号 root, if any."""
    if org is not None:
        for item in org:
            if item.tag == _ID and item.get("root") == OID_PROVIDER:
                return item
    return None


def _first_date(element: etree._Element) -> str | None:
    """The ``@value`` of ``element`` or of its ``low`` (an interval's start)."""
    value = element.get("value")
    if value is None:
        low = _first(element, _LOW)
        if low is not None:
            value = low.get("value")
    return value


def _header(root: etree._Element, problems: Problems) -> _Header:
    header = _Header()
    ids: dict[str, str | None] = {}
    sex_code: str | None = None
    birth_text: str | None = None
    author_id: str | None = None
    performer_id: str | None = None
    events: list[etree._Element] = []
    role: etree._Element | None = None
    for child in root:
        tag = child.tag
        if tag == _RECORD_TARGET and role is None:
            role = _first(child, _PATIENT_ROLE)
            if role is None:
                continue
            for item in role:
                if item.tag == _ID:
                    oid = item.get("root")
                    if oid is not None and oid not in ids:
                        ids[oid] = item.get("extension")
                elif item.tag == _PATIENT:
                    for part in item:
                        if part.tag == _GENDER:
                            sex_code = part.get("code")
                        elif part.tag == _BIRTH:
                            birth_text = part.get("value")
        elif tag == _AUTHOR and author_id is None:
            found = _provider_id(_first(child, *_AUTHOR_ORG))
            if found is not None:
                author_id = found.get("extension")
        elif tag == _PARTICIPANT and header.ticket is None:
            for item in child.iter(_ID):
                oid = item.get("root") or ""
                if oid == OID_TICKET or oid.startswith(OID_TICKET + "."):
                    header.ticket = item.get("extension")
                    break
        elif tag == _DOCUMENTATION_OF:
            event = _first(child, _SERVICE_EVENT)
            if event is not None:
                when = _first(event, _EFFECTIVE_TIME)
                if when is not None:
                    header.service_date = _first_date(when)
                events.append(event)
        elif tag == _COMPONENT:
            header.body = _first(child, _STRUCTURED_BODY)
    if not author_id:
        # The performer's organisation is only the fallback: looked up when needed, the last
        # service event naming one wins, as when every event was read in the loop.
        for event in events:
            found = _provider_id(_first(event, *_PERFORMER_ORG))
            if found is not None:
                performer_id = found.get("extension")

    if role is None:
        problems.add("recordTarget/patientRole", "受診者情報 (recordTarget/patientRole) is missing")
    raw_insurer = ids.get(OID_INSURER)
    if raw_insurer is None:
        problems.add(W_INSURER, "保険者番号 is missing")
    else:
        header.insurer, reason = _insurer(raw_insurer)
        if reason:
            problems.add(W_INSURER, reason)
    try:
        raw_symbol = ids.get(OID_SYMBOL) or ""
        header.symbol = raw_symbol if _plain(raw_symbol) else parse_symbol(raw_symbol)
    except InvalidIdentifier as error:
        problems.add(W_SYMBOL, str(error))
    raw_number = ids.get(OID_NUMBER)
    if raw_number is None:
        problems.add(W_NUMBER, "被保険者証等番号 is missing")
    else:
        try:
            header.number = raw_number if _plain(raw_number) else parse_number(raw_number)
        except InvalidIdentifier as error:
            problems.add(W_NUMBER, str(error))
    raw_branch = ids.get(OID_BRANCH)
    if raw_branch is not None:
        try:
            # Two ASCII digits are what parse_branch would return unchanged.
            plain = len(raw_branch) == 2 and raw_branch.isascii() and raw_branch.isdigit()
            header.branch = raw_branch if plain else parse_branch(raw_branch)
        except InvalidIdentifier as error:
            problems.add(W_BRANCH, str(error))
    header.sex = _SEXES.get(sex_code or "")
    if header.sex is None:
        shown = "is missing" if sex_code is None else f"{sex_code!r} is not 1 (男) or 2 (女)"
        problems.add(W_SEX, f"男女区分 {shown}")
    header.birth = parse_date(birth_text)
    if header.birth is None:
        shown = "is missing" if birth_text is None else f"{birth_text!r} is not a date (YYYYMMDD)"
        problems.add(W_BIRTH, f"生年月日 {shown}")
    header.institution = _institution(author_id or performer_id, problems)
    return header


def _check_root(root: etree._Element, problems: Problems) -> bool:
    if root.tag != _CLINICAL_DOCUMENT:
        problems.add(
            W_ROOT, f"root element is {root.tag!r}, expected ClinicalDocument in namespace {V3}"
        )
        return False
    return True


def _parse(data: bytes, problems: Problems, lean: bool = False) -> _Header | None:
    """The header of the document in ``data`` (checkup or guidance alike); None when the XML
    or its root is refused (the reason is in ``problems``). ``lean``: parsed with
    ``parse_lean`` (the header reads no text)."""
    try:
        root, dropped = parse_lean(data) if lean else (parse_xml(data), False)
    except XmlRefused as refused:
        problems.add(refused.where, refused.reason)
        return None
    if not _check_root(root, problems):
        return None
    header = _header(root, problems)
    header.blanks_dropped = dropped
    return header


def checkup_from_bytes(
    data: bytes, name: str, archive: str = ""
) -> tuple[Checkup | None, list[ArchiveProblem]]:
    """The checkup in ``data`` and no problems, or None and every problem found."""
    try:
        return _checkup(data, name, archive, lean=True)
    except BlanksDropped:
        # An ST value with child elements, whose text may have begun with blanks.
        return _checkup(data, name, archive, lean=False)


def _checkup(
    data: bytes, name: str, archive: str, lean: bool
) -> tuple[Checkup | None, list[ArchiveProblem]]:
    problems = Problems(archive, name)
    header = _parse(data, problems, lean)
    if header is None:
        return None, problems.items
    exam = parse_date(header.service_date)
    if exam is None:
        shown = (
            "is missing"
            if header.service_date is None
            else f"{header.service_date!r} is not a date (YYYYMMDD)"
        )
        problems.add(W_EXAM, f"実施日 {shown}")
    elif header.birth is not None and exam < header.birth:
        problems.add(W_EXAM, f"実施日 {exam} is before the birth date {header.birth}")
    if header.body is None:
        problems.add(W_BODY, "the body (component/structuredBody) is missing")
        observations: dict[str, Observation] = {}
    else:
        observations = read_observations(header.body, problems, header.blanks_dropped)
    if problems.items:
        return None, problems.items
    assert header.insurer is not None and header.number is not None  # noqa: S101 (checked above)
    assert header.sex is not None and header.birth is not None and exam is not None
    assert header.institution is not None
    return (
        Checkup(
            document=name,
            insurer=header.insurer,
            symbol=header.symbol,
            number=header.number,
            branch=header.branch,
            sex=header.sex,
            birth_date=header.birth,
            exam_date=exam,
            institution=header.institution,
            observations=observations,
            ticket=header.ticket,
        ),
        [],
    )


def _section_date(section: etree._Element) -> str | None:
    for when in section.iter(_EFFECTIVE_TIME):
        value = _first_date(when)
        if value is not None:
            return value
    return None


def guidance_from_bytes(
    data: bytes, name: str, archive: str = ""
) -> tuple[Guidance | None, list[ArchiveProblem]]:
    """The guidance record in ``data`` (structure UNCONFIRMED, see the module docstring)."""
    problems = Problems(archive, name)
    header = _parse(data, problems)
    if header is None:
        return None, problems.items
    level: GuidanceLevel | None = None
    started_text: str | None = None
    evaluated_text: str | None = None
    if header.body is None:
        problems.add(W_BODY, "the body (component/structuredBody) is missing")
    else:
        for section in header.body.iter(_SECTION):
            code_el = section.find(_CODE)
            code = code_el.get("code") if code_el is not None else None
            if code == SECTION_FIRST_INTERVIEW and started_text is None:
                started_text = _section_date(section)
            elif code == SECTION_FINAL_EVALUATION and evaluated_text is None:
                evaluated_text = _section_date(section)
        raw_level: str | None = None
        for obs in header.body.iter(_OBSERVATION):
            code_el = obs.find(_CODE)
            if code_el is not None and code_el.get("code") in GUIDANCE_LEVEL_CODES:
                value_el = obs.find(_VALUE)
                raw_level = value_el.get("code") if value_el is not None else None
                break
        if raw_level in ("1", "2"):
            level = GuidanceLevel(int(raw_level))
        else:
            shown = "is missing" if raw_level is None else f"{raw_level!r} is not 1 or 2"
            problems.add(W_LEVEL, f"保健指導レベル (支援レベル) {shown}")
    started = parse_date(started_text)
    if started is None:
        shown = "is missing" if started_text is None else f"{started_text!r} is not a date"
        problems.add(W_STARTED, f"初回面接 date {shown}")
    elif header.birth is not None and started < header.birth:
        problems.add(W_STARTED, f"初回面接 {started} is before the birth date {header.birth}")
    evaluated = parse_date(evaluated_text)
    if evaluated_text is not None and evaluated is None:
        problems.add(W_EVALUATED, f"実績評価 date {evaluated_text!r} is not a date")
    elif evaluated is not None and started is not None and evaluated < started:
        problems.add(W_EVALUATED, f"実績評価 {evaluated} is before 初回面接 {started}")
    if problems.items:
        return None, problems.items
    assert header.insurer is not None and header.number is not None  # noqa: S101
    assert header.sex is not None and header.birth is not None
    assert header.institution is not None and level is not None and started is not None
    return (
        Guidance(
            document=name,
            insurer=header.insurer,
            symbol=header.symbol,
            number=header.number,
            branch=header.branch,
            sex=header.sex,
            birth_date=header.birth,
            institution=header.institution,
            level=level,
            started_on=started,
            evaluated_on=evaluated,
        ),
        [],
    )


def read_document(data: bytes, name: str) -> Checkup:
    """One 特定健診 document (``h*.xml``); raises :class:`DocumentRejected` with every problem."""
    checkup, problems = checkup_from_bytes(data, name)
    if checkup is None:
        raise DocumentRejected(problems)
    return checkup


def read_guidance_document(data: bytes, name: str) -> Guidance:
    """One 特定保健指導 document (``g*.xml``, structure UNCONFIRMED); raises
    :class:`DocumentRejected` with every problem."""
    guidance, problems = guidance_from_bytes(data, name)
    if guidance is None:
        raise DocumentRejected(problems)
    return guidance
