"""The 特定健診 CDA document (``h*.xml``) built as text: the same bytes as the lxml tree of
``_v08_write.write_document``, several times faster.

The demo's synth writes about a hundred thousand of these documents and building each as an
lxml tree (dozens of ``SubElement`` calls per document) was most of its time. Every value is
put into a fixed layout copied from what lxml prints (``pretty_print``, two-space indent,
attributes in insertion order). Only values made of characters lxml prints unchanged are
placed directly; a document with any other value (markup characters, control characters,
an empty text, a kind the writer does not know) goes to the lxml path, which escapes it or
raises exactly as before. tests/test_v08_fast.py compares both paths on random documents.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from kokuho.checkups._model import Checkup, Observation
from kokuho.checkups._v08_common import (
    CDA_TYPE_EXTENSION,
    CDA_TYPE_ROOT,
    OID_BRANCH,
    OID_CARD_FUNCTION,
    OID_CONFIDENTIALITY,
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
    REPORT_CHECKUP,
    SECTION_CHECKUP,
    V3,
    XSI,
    ymd,
)

# Printed by lxml as they are, inside an attribute or a text: no markup or quote characters,
# no C0/C1 controls, no surrogates or non-characters (lxml refuses those or escapes them).
_PLAIN: Final = re.compile("[^\x00-\x1f\x7f-\x9f&<>\"'\ud800-\udfff\ufffe\uffff]*")

_HEAD: Final = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    f'<ClinicalDocument xmlns="{V3}" xmlns:xsi="{XSI}" '
    f'xsi:schemaLocation="{V3} ../XSD/hc08_V08.xsd">\n'
    f'  <typeId root="{CDA_TYPE_ROOT}" extension="{CDA_TYPE_EXTENSION}"/>\n'
    '  <id nullFlavor="NI"/>\n'
    f'  <code code="{REPORT_CHECKUP}" codeSystem="{OID_REPORT_KIND}"/>\n'
)


class _NotPlain(Exception):
    """A value the text layout does not place as is: the lxml path writes the document."""


def _plain(value: str) -> str:
    if _PLAIN.fullmatch(value) is None:
        raise _NotPlain
    return value


def _observation(item: Observation) -> str:
    negation = ' negationInd="true"' if item.not_done else ""
    head = f'          <entry>\n            <observation classCode="OBS" moodCode="EVN"{negation}'
    code = f'              <code code="{_plain(item.code)}" codeSystem="{OID_ITEM}"/>\n'
    if not item.kind:
        if item.value is not None or not (item.not_done or item.null_flavor):
            raise _NotPlain  # the lxml path raises the error
        flavor = "" if item.null_flavor is None else f' nullFlavor="{_plain(item.null_flavor)}"'
        return f"{head}{flavor}>\n{code}            </observation>\n          </entry>\n"
    if item.kind == "PQ":
        attributes = ""
        if item.value is not None:
            attributes += f' value="{_plain(item.value)}"'
        if item.unit is not None:
            attributes += f' unit="{_plain(item.unit)}"'
    elif item.kind in ("CD", "CO"):
        attributes = ""
        if item.value is not None:
            attributes += f' code="{_plain(item.value)}"'
        if item.code_system is not None:
            attributes += f' codeSystem="{_plain(item.code_system)}"'
    elif item.kind == "ST":
        attributes = ""
    else:
        raise _NotPlain  # the lxml path raises the error
    if item.null_flavor is not None:
        attributes += f' nullFlavor="{_plain(item.null_flavor)}"'
    opening = f'              <value xsi:type="{item.kind}"{attributes}'
    if item.kind == "ST" and item.value is not None:
        if not item.value:
            raise _NotPlain  # lxml prints an empty text as an open and a close tag
        value = f"{opening}>{_plain(item.value)}</value>\n"
    else:
        value = f"{opening}/>\n"
    return f"{head}>\n{code}{value}            </observation>\n          </entry>\n"


def _text(checkup: Checkup) -> str:
    exam = ymd(checkup.exam_date)
    insurer = _plain(checkup.insurer).zfill(8)
    institution = _plain(checkup.institution)
    parts = [
        _HEAD,
        f'  <effectiveTime value="{exam}"/>\n',
        f'  <confidentialityCode code="N" codeSystem="{OID_CONFIDENTIALITY}"/>\n',
        "  <recordTarget>\n    <patientRole>\n",
        f'      <id root="{OID_INSURER}" extension="{insurer}"/>\n',
    ]
    if checkup.symbol:
        parts.append(f'      <id root="{OID_SYMBOL}" extension="{_plain(checkup.symbol)}"/>\n')
    parts.append(f'      <id root="{OID_NUMBER}" extension="{_plain(checkup.number)}"/>\n')
    if checkup.branch is not None:
        parts.append(f'      <id root="{OID_BRANCH}" extension="{_plain(checkup.branch)}"/>\n')
    parts += [
        "      <patient>\n",
        f'        <administrativeGenderCode code="{checkup.sex}" codeSystem="{OID_SEX}"/>\n',
        f'        <birthTime value="{ymd(checkup.birth_date)}"/>\n',
        "      </patient>\n    </patientRole>\n  </recordTarget>\n",
        f'  <author>\n    <time value="{exam}"/>\n    <assignedAuthor>\n'
        '      <id nullFlavor="NI"/>\n      <representedOrganization>\n'
        f'        <id root="{OID_PROVIDER}" extension="{institution}"/>\n'
        "      </representedOrganization>\n    </assignedAuthor>\n  </author>\n",
        "  <custodian>\n    <assignedCustodian>\n      <representedCustodianOrganization>\n"
        '        <id nullFlavor="NI"/>\n      </representedCustodianOrganization>\n'
        "    </assignedCustodian>\n  </custodian>\n",
    ]
    if checkup.ticket is not None:
        parts.append(
            '  <participant typeCode="HLD">\n'
            f'    <functionCode code="1" codeSystem="{OID_CARD_FUNCTION}"/>\n'
            '    <associatedEntity classCode="IDENT">\n'
            f'      <id root="{OID_TICKET}.1{insurer}" extension="{_plain(checkup.ticket)}"/>\n'
            "      <scopingOrganization>\n"
            f'        <id root="{OID_INSURER}" extension="{insurer}"/>\n'
            "      </scopingOrganization>\n    </associatedEntity>\n  </participant>\n"
        )
    parts += [
        "  <documentationOf>\n    <serviceEvent>\n"
        f'      <code code="{PROGRAM_CHECKUP}" codeSystem="{OID_PROGRAM}"/>\n'
        f'      <effectiveTime value="{exam}"/>\n'
        '      <performer typeCode="PRF">\n        <assignedEntity>\n'
        '          <id nullFlavor="NI"/>\n          <representedOrganization>\n'
        f'            <id root="{OID_PROVIDER}" extension="{institution}"/>\n'
        "          </representedOrganization>\n        </assignedEntity>\n"
        "      </performer>\n    </serviceEvent>\n  </documentationOf>\n",
        "  <component>\n    <structuredBody>\n      <component>\n        <section>\n",
        f'          <code code="{SECTION_CHECKUP}" codeSystem="{OID_SECTION}"/>\n',
    ]
    parts += [_observation(item) for item in checkup.observations.values()]
    parts.append(
        "        </section>\n      </component>\n    </structuredBody>\n  </component>\n"
        "</ClinicalDocument>\n"
    )
    return "".join(parts)


def write_document(checkup: Checkup, fallback: Callable[[Checkup], bytes]) -> bytes:
    """The document of ``checkup`` as ``fallback`` (the lxml writer) would write it: by the
    text layout when every value is plain, else by ``fallback`` itself."""
    try:
        return _text(checkup).encode("utf-8")
    except _NotPlain:
        return fallback(checkup)
