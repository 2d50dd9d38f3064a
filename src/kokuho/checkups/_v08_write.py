"""Writing V08: CDA documents for checkups (``h*.xml``) and guidance (``g*.xml``, structure
UNCONFIRMED, see ``_v08_document``), the index (交換用基本情報 ``ix08_V08.xml``), the summary
(集計情報 ``su08_V08.xml``) and the archive (送付用ファイルアーカイブ) around them.

Only what the model holds is written: 氏名, 住所, 機関名, prices and 受診券 validity are not in
:class:`Checkup` and are left out (CDA allows it; a receiving system that demands them will
refuse the file). Choices not confirmed from the 仕様説明書 are listed in ``_v08_document``.

The output is deterministic: the same input gives the same bytes (fixed zip timestamps taken
from ``created``, sorted entries, fixed permissions and compression level), so an archive can
be compared and re-sent by digest. The writer does not validate what it is given beyond what
the file names need: the reader is the gate.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from lxml import etree

from kokuho.checkups import _v08_fast
from kokuho.checkups._model import Checkup, Guidance, Observation
from kokuho.checkups._v08_common import (
    CDA_TYPE_EXTENSION,
    CDA_TYPE_ROOT,
    CLAIMS_DIR,
    DATA_DIR,
    INDEX_FILE,
    MHLW,
    OID_AGENCY,
    OID_BRANCH,
    OID_CARD_FUNCTION,
    OID_CONFIDENTIALITY,
    OID_FINAL_EVALUATION,
    OID_FIRST_INTERVIEW,
    OID_GUIDANCE_LEVEL,
    OID_INSURER,
    OID_ITEM,
    OID_NUMBER,
    OID_PROGRAM,
    OID_PROVIDER,
    OID_REPORT_KIND,
    OID_SECTION,
    OID_SEX,
    OID_SYMBOL,
    OID_TICKET,
    PROGRAM_CHECKUP,
    PROGRAM_GUIDANCE,
    REPORT_CHECKUP,
    REPORT_GUIDANCE_EVALUATED,
    REPORT_GUIDANCE_STARTED,
    SECTION_CHECKUP,
    SECTION_FINAL_EVALUATION,
    SECTION_FIRST_INTERVIEW,
    SECTION_GUIDANCE,
    SUMMARY_FILE,
    V3,
    XSI,
    XSI_TYPE,
    ymd,
)
from kokuho.ids import InsurerNumber, InvalidIdentifier

_CDA_NSMAP: Final = {None: V3, "xsi": XSI}
_MHLW_NSMAP: Final = {None: MHLW, "xsi": XSI}
_SCHEMA_LOCATION: Final = f"{{{XSI}}}schemaLocation"
_LEVEL_CODE: Final = "9N506000000000011"
_FILE_MODE: Final = 0o100644 << 16
_DIR_MODE: Final = (0o040755 << 16) | 0x10  # 0x10: the MS-DOS directory flag
_MAX_SERIAL: Final = 99_999  # 連番 has five digits


def _sub(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{V3}}}{tag}", attributes)


def _cda(report_code: str, effective: dt.date, schema: str) -> etree._Element:
    root = etree.Element(f"{{{V3}}}ClinicalDocument", nsmap=_CDA_NSMAP)
    root.set(_SCHEMA_LOCATION, f"{V3} ../XSD/{schema}")
    _sub(root, "typeId", root=CDA_TYPE_ROOT, extension=CDA_TYPE_EXTENSION)
    _sub(root, "id", nullFlavor="NI")
    _sub(root, "code", code=report_code, codeSystem=OID_REPORT_KIND)
    _sub(root, "effectiveTime", value=ymd(effective))
    _sub(root, "confidentialityCode", code="N", codeSystem=OID_CONFIDENTIALITY)
    return root


def _record_target(
    root: etree._Element,
    *,
    insurer: str,
    symbol: str,
    number: str,
    branch: str | None,
    sex: int,
    birth_date: dt.date,
) -> None:
    role = _sub(_sub(root, "recordTarget"), "patientRole")
    # The OID table's note on …6.101: a number shorter than 8 digits (国保) is zero-padded.
    _sub(role, "id", root=OID_INSURER, extension=insurer.zfill(8))
    if symbol:
        _sub(role, "id", root=OID_SYMBOL, extension=symbol)
    _sub(role, "id", root=OID_NUMBER, extension=number)
    if branch is not None:
        _sub(role, "id", root=OID_BRANCH, extension=branch)
    patient = _sub(role, "patient")
    _sub(patient, "administrativeGenderCode", code=str(sex), codeSystem=OID_SEX)
    _sub(patient, "birthTime", value=ymd(birth_date))


def _author(root: etree._Element, institution: str, when: dt.date) -> None:
    author = _sub(root, "author")
    _sub(author, "time", value=ymd(when))
    assigned = _sub(author, "assignedAuthor")
    _sub(assigned, "id", nullFlavor="NI")
    org = _sub(assigned, "representedOrganization")
    _sub(org, "id", root=OID_PROVIDER, extension=institution)
    # CDA R2 requires a custodian; V08 leaves it anonymous.
    custodian = _sub(_sub(root, "custodian"), "assignedCustodian")
    _sub(_sub(custodian, "representedCustodianOrganization"), "id", nullFlavor="NI")


def _service_event(root: etree._Element, program: str, when: dt.date, institution: str) -> None:
    event = _sub(_sub(root, "documentationOf"), "serviceEvent")
    _sub(event, "code", code=program, codeSystem=OID_PROGRAM)
    _sub(event, "effectiveTime", value=ymd(when))
    entity = _sub(_sub(event, "performer", typeCode="PRF"), "assignedEntity")
    _sub(entity, "id", nullFlavor="NI")
    _sub(_sub(entity, "representedOrganization"), "id", root=OID_PROVIDER, extension=institution)


def _section(root: etree._Element, code: str) -> etree._Element:
    body = _sub(_sub(root, "component"), "structuredBody")
    section = _sub(_sub(body, "component"), "section")
    _sub(section, "code", code=code, codeSystem=OID_SECTION)
    return section


def _more_section(section: etree._Element, code: str) -> etree._Element:
    body = section.getparent()
    assert body is not None  # noqa: S101
    structured = body.getparent()
    assert structured is not None  # noqa: S101
    new = _sub(_sub(structured, "component"), "section")
    _sub(new, "code", code=code, codeSystem=OID_SECTION)
    return new


def _observation(section: etree._Element, item: Observation) -> None:
    obs = _sub(_sub(section, "entry"), "observation", classCode="OBS", moodCode="EVN")
    if item.not_done:
        obs.set("negationInd", "true")
    _sub(obs, "code", code=item.code, codeSystem=OID_ITEM)
    if not item.kind:
        # Nothing to say but 未実施 or a nullFlavor: no value element at all.
        if item.value is not None or not (item.not_done or item.null_flavor):
            raise ValueError(f"observation {item.code}: a value needs a kind (PQ, CD, CO, ST)")
        if item.null_flavor is not None:
            obs.set("nullFlavor", item.null_flavor)
        return
    value = _sub(obs, "value")
    value.set(XSI_TYPE, item.kind)
    if item.kind == "PQ":
        if item.value is not None:
            value.set("value", item.value)
        if item.unit is not None:
            value.set("unit", item.unit)
    elif item.kind in ("CD", "CO"):
        if item.value is not None:
            value.set("code", item.value)
        if item.code_system is not None:
            value.set("codeSystem", item.code_system)
    elif item.kind == "ST":
        value.text = item.value
    else:
        raise ValueError(f"observation {item.code}: kind {item.kind!r} is not PQ, CD, CO or ST")
    if item.null_flavor is not None:
        value.set("nullFlavor", item.null_flavor)


def _serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_document(checkup: Checkup) -> bytes:
    """One 特定健診 CDA document (``h*.xml``), UTF-8. The document date (文書発行日) and the
    author time are the exam date: the model keeps no other date."""
    root = _cda(REPORT_CHECKUP, checkup.exam_date, "hc08_V08.xsd")
    _record_target(
        root,
        insurer=checkup.insurer,
        symbol=checkup.symbol,
        number=checkup.number,
        branch=checkup.branch,
        sex=checkup.sex,
        birth_date=checkup.birth_date,
    )
    _author(root, checkup.institution, checkup.exam_date)
    if checkup.ticket is not None:
        participant = _sub(root, "participant", typeCode="HLD")
        _sub(participant, "functionCode", code="1", codeSystem=OID_CARD_FUNCTION)
        entity = _sub(participant, "associatedEntity", classCode="IDENT")
        # 受診券整理番号: the OID is suffixed by "1" and the 8-column 保険者番号.
        _sub(
            entity, "id", root=f"{OID_TICKET}.1{checkup.insurer.zfill(8)}", extension=checkup.ticket
        )
        scoping = _sub(entity, "scopingOrganization")
        _sub(scoping, "id", root=OID_INSURER, extension=checkup.insurer.zfill(8))
    _service_event(root, PROGRAM_CHECKUP, checkup.exam_date, checkup.institution)
    section = _section(root, SECTION_CHECKUP)
    for item in checkup.observations.values():
        _observation(section, item)
    return _serialize(root)


def write_guidance_document(guidance: Guidance) -> bytes:
    """One 特定保健指導 document (``g*.xml``, structure UNCONFIRMED, see ``_v08_document``)."""
    done = guidance.evaluated_on is not None
    when = guidance.evaluated_on or guidance.started_on
    root = _cda(
        REPORT_GUIDANCE_EVALUATED if done else REPORT_GUIDANCE_STARTED, when, "hg08_V08.xsd"
    )
    _record_target(
        root,
        insurer=guidance.insurer,
        symbol=guidance.symbol,
        number=guidance.number,
        branch=guidance.branch,
        sex=guidance.sex,
        birth_date=guidance.birth_date,
    )
    _author(root, guidance.institution, when)
    _service_event(root, PROGRAM_GUIDANCE, guidance.started_on, guidance.institution)
    section = _section(root, SECTION_GUIDANCE)
    obs = _sub(_sub(section, "entry"), "observation", classCode="OBS", moodCode="EVN")
    _sub(obs, "code", code=_LEVEL_CODE, codeSystem=OID_ITEM)
    value = _sub(obs, "value", code=str(int(guidance.level)), codeSystem=OID_GUIDANCE_LEVEL)
    value.set(XSI_TYPE, "CD")
    dates = [(SECTION_FIRST_INTERVIEW, OID_FIRST_INTERVIEW, guidance.started_on)]
    if guidance.evaluated_on is not None:
        dates.append((SECTION_FINAL_EVALUATION, OID_FINAL_EVALUATION, guidance.evaluated_on))
    for code, form_oid, day in dates:
        event = _more_section(section, code)
        act = _sub(_sub(event, "entry"), "act", classCode="ACT", moodCode="EVN")
        # 支援形態 (個別・グループ…) is not in the model: say so rather than invent one.
        _sub(act, "code", nullFlavor="UNK", codeSystem=form_oid)
        _sub(act, "effectiveTime", value=ymd(day))
    return _serialize(root)


def _mhlw(tag: str, schema: str) -> etree._Element:
    root = etree.Element(f"{{{MHLW}}}{tag}", nsmap=_MHLW_NSMAP)
    root.set(_SCHEMA_LOCATION, f"{MHLW} ./XSD/{schema}")
    return root


def _m(parent: etree._Element, tag: str, **attributes: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{MHLW}}}{tag}", attributes)


def _receiver_oid(receiver: str) -> str:
    # 提出先 is an insurer (保険者番号) or a 代行機関 (支払基金・国保連合会), both 8 digits.
    try:
        InsurerNumber.parse(receiver)
    except InvalidIdentifier:
        return OID_AGENCY
    return OID_INSURER


def index_bytes(*, sender: str, receiver: str, created: dt.date, kind: str, records: int) -> bytes:
    """交換用基本情報 (``ix08_V08.xml``)."""
    root = _mhlw("index", "ix08_V08.xsd")
    _m(root, "interactionType", code="1")
    _m(root, "creationTime", value=ymd(created))
    _m(_m(root, "sender"), "id", root=OID_PROVIDER, extension=sender)
    _m(_m(root, "receiver"), "id", root=_receiver_oid(receiver), extension=receiver)
    _m(root, "serviceEventType", code=kind)
    _m(root, "totalRecordCount", value=str(records))
    return _serialize(root)


def summary_bytes(*, kind: str, subjects: int) -> bytes:
    """集計情報 (``su08_V08.xml``); the amounts are zero: the model holds no prices."""
    root = _mhlw("summary", "su08_V08.xsd")
    _m(root, "serviceEventType", code=kind)
    _m(root, "totalSubjectCount", value=str(subjects))
    for tag in (
        "totalCostAmount",
        "totalPaymentAmount",
        "totalPaymentByOtherProgram",
        "totalClaimAmount",
    ):
        _m(root, tag, value="0", currency="JPY")
    return _serialize(root)


_DIGITS = re.compile(r"[0-9]+")


def _require_digits(name: str, value: str, length: int) -> None:
    if len(value) != length or _DIGITS.fullmatch(value) is None:
        raise ValueError(f"{name} {value!r}: must be {length} digits")


def archive_name(sender: str, receiver: str, created: dt.date, split: int, kind: str) -> str:
    """``{提出元機関番号10}_{提出先機関番号8}_{YYYYMMDD}{同日分割回数}_{実施区分}``."""
    return f"{sender}_{receiver}_{ymd(created)}{split}_{kind}"


def write_archive(
    folder: Path,
    *,
    sender: str,
    receiver: str,
    checkups: Sequence[Checkup],
    guidance: Sequence[Guidance] = (),
    created: dt.datetime,
    split: int = 0,
    kind: str = "1",
) -> Path:
    """Writes ``{sender}_{receiver}_{YYYYMMDD}{split}_{kind}.zip`` into ``folder`` and returns
    its path. Inside the root folder of the same name: the index, the summary (amounts zero),
    ``DATA/h{sender}{YYYYMMDD}{split}{kind}{連番5}.xml`` per checkup, ``DATA/g…`` per guidance
    record (UNCONFIRMED prefix) and an empty ``CLAIMS/``. No ``XSD/`` folder is written."""
    _require_digits("sender (提出元機関番号)", sender, 10)
    _require_digits("receiver (提出先機関番号)", receiver, 8)
    if not 0 <= split <= 9:
        raise ValueError(f"split (同日分割回数) {split}: must be 0–9")
    _require_digits("kind (実施区分)", kind, 1)
    if created.year < 1980:
        raise ValueError(f"created {created}: zip timestamps start in 1980")
    for label, items in (("checkups", checkups), ("guidance", guidance)):
        if len(items) > _MAX_SERIAL:
            raise ValueError(f"{label}: {len(items)} documents, 連番 allows {_MAX_SERIAL}")
    day = created.date()
    name = archive_name(sender, receiver, day, split, kind)
    stem = f"{sender}{ymd(day)}{split}{kind}"
    files: dict[str, bytes] = {}
    for serial, checkup in enumerate(checkups, start=1):
        # The text layout (same bytes, several times faster); lxml for anything unusual.
        files[f"{DATA_DIR}/h{stem}{serial:05d}.xml"] = _v08_fast.write_document(
            checkup, write_document
        )
    for serial, record in enumerate(guidance, start=1):
        files[f"{DATA_DIR}/g{stem}{serial:05d}.xml"] = write_guidance_document(record)
    files[INDEX_FILE] = index_bytes(
        sender=sender,
        receiver=receiver,
        created=day,
        kind=kind,
        records=len(checkups) + len(guidance),
    )
    files[SUMMARY_FILE] = summary_bytes(kind=kind, subjects=len(checkups) + len(guidance))
    # Zip stores local time in 2-second steps; the creation date and time make every entry's
    # stamp, so the same input gives the same bytes.
    stamp = (created.year, created.month, created.day, created.hour, created.minute, created.second)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.zip"
    partial = folder / f".{name}.zip.partial"
    entries = {f"{name}/{path}": data for path, data in files.items()}
    for directory in ("", f"{CLAIMS_DIR}/", f"{DATA_DIR}/"):
        entries[f"{name}/{directory}"] = b""
    with zipfile.ZipFile(partial, "w") as archive:
        for entry in sorted(entries):
            info = zipfile.ZipInfo(entry, date_time=stamp)
            info.create_system = 3  # Unix, whatever the writing platform
            if entry.endswith("/"):
                info.external_attr = _DIR_MODE
                archive.writestr(info, b"")
            else:
                info.external_attr = _FILE_MODE
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, entries[entry], compresslevel=6)
    os.replace(partial, target)
    return target
