"""The lean parse of checkup documents (``parse_lean``: blank text between elements dropped)
gives exactly what ``parse_xml`` gives: the same records, the same problems, the same text of
every ST value, whatever the document holds (comments, CDATA, processing instructions,
carriage returns, another encoding, markup inside a value, malformed XML)."""

from __future__ import annotations

import dataclasses
import itertools
import re

import pytest

from kokuho.checkups import Checkup
from kokuho.checkups._v08_common import ArchiveProblem, parse_lean
from kokuho.checkups._v08_document import _checkup, checkup_from_bytes
from tests.test_v08_header import FIXTURE

ST_CODE = "9N511000000000049"
ST_VALUE = '<value xsi:type="ST">腹囲高値。生活習慣の改善を。</value>'
TEXTS = [
    "",
    "  ",
    "  abc",
    "abc  ",
    " \n\t ",
    "日本語",
    "  日本語",
    "  <x/>",
    "  <x/>abc",
    "<x/>  ",
    "\t\n <y>t</y>",
    "  <x/>  <y/>  ",
    "a<b>c</b>",
    "  <!--c-->abc",
    "<!--c-->  abc",
    " <![CDATA[x]]>",
    "  <?pi x?>  ab",
    "\r\n  abc",
    "  \r\n  abc",
    "&#32; x",
    "  &#65;",
]
DOCUMENT_EDITS = [
    ("", ""),
    ("\n", "\r\n"),
    ('encoding="UTF-8"', 'encoding="UTF-7"'),
    ('encoding="UTF-8"', 'encoding="Shift_JIS"'),
    ('encoding="UTF-8"', 'encoding="utf-8"'),
    ('<?xml version="1.0" encoding="UTF-8"?>\n', ""),
    ("<recordTarget>", "<!-- a comment --><recordTarget>"),
    ("<patient>", "<patient>  <?pi?>"),
    ('unit="cm"', 'unit="c?m"'),
    ("<structuredBody>", "<structuredBody><!DOCTYPE x>"),
    ("</ClinicalDocument>", ""),
    ("<component>", "<component>\n\n   \t"),
]


def _document() -> str:
    """The hand-written fixture without its comments: a document read lean."""
    text = re.sub("<!--.*?-->", "", FIXTURE.read_text(), flags=re.DOTALL)
    assert ST_VALUE in text and 'unit="cm"' in text
    return text


def _plain(outcome: tuple[Checkup | None, list[ArchiveProblem]]) -> object:
    record, problems = outcome
    return (None if record is None else dataclasses.asdict(record), problems)


def test_documents_without_comments_are_read_lean() -> None:
    _, dropped = parse_lean(_document().encode())
    assert dropped


@pytest.mark.parametrize(("text", "edit"), list(itertools.product(TEXTS, DOCUMENT_EDITS)))
def test_the_lean_parse_reads_what_parse_xml_reads(text: str, edit: tuple[str, str]) -> None:
    document = _document().replace(ST_VALUE, f'<value xsi:type="ST">{text}</value>')
    data = document.replace(*edit).encode()
    expected = _checkup(data, "h1.xml", "a.zip", lean=False)
    assert _plain(checkup_from_bytes(data, "h1.xml", "a.zip")) == _plain(expected)


@pytest.mark.parametrize(
    ("text", "value"),
    [("  <x/>", "  "), ("\t\n <y>t</y>", "\t\n "), ("  <x/>  <y/>  ", "  "), ("  abc", "  abc")],
)
def test_blank_text_before_a_child_element_is_kept(text: str, value: str) -> None:
    document = _document().replace(ST_VALUE, f'<value xsi:type="ST">{text}</value>').encode()
    checkup, problems = checkup_from_bytes(document, "h1.xml")
    assert problems == [] and checkup is not None
    assert checkup.observations[ST_CODE].value == value


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n", "\r\n"),
        ("<recordTarget>", "<!-- c --><recordTarget>"),
        ("<patient>", "<patient><?pi?>"),
        ('unit="cm"', 'unit="c!m"'),
        ('encoding="UTF-8"', 'encoding="Shift_JIS"'),
    ],
)
def test_documents_the_byte_scan_cannot_vouch_for_keep_their_blanks(old: str, new: str) -> None:
    text = _document().replace(old, new)
    _, dropped = parse_lean(text.encode("shift_jis" if "Shift_JIS" in new else "utf-8"))
    assert not dropped
