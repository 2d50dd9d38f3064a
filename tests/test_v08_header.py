"""Which 健診機関番号 and 実施日 a document's header gives when it holds several authors,
organisations or service events: the reader looks the performer's organisation up only when
the author gives none, and must still pick exactly what it picked when it read every element."""

from __future__ import annotations

from pathlib import Path

import pytest

from kokuho.checkups._v08_api import DocumentRejected, read_document

FIXTURE = (
    Path(__file__).parent
    / "fixtures"
    / "v08"
    / "3710000012_00370015_202404010_1"
    / "DATA"
    / "h3710000012202404010100001.xml"
)
AUTHOR_ID = '<id extension="3710000012" root="1.2.392.200119.6.102"/>\n        <name>'
PERFORMER_ID = (
    '<representedOrganization>\n            <id extension="3710000012" '
    'root="1.2.392.200119.6.102"/>'
)
OTHER_AUTHOR = '<id extension="3710000012" root="9.9.9"/>\n        <name>'
SERVICE_EVENT_END = "    </serviceEvent>\n  </documentationOf>\n"


def _performer(extension: str | None) -> str:
    shown = "" if extension is None else f'extension="{extension}" '
    return f'<representedOrganization>\n            <id {shown}root="1.2.392.200119.6.102"/>'


def _second_event(performer: str | None, day: str = "20240416") -> str:
    """A second documentationOf after the first, with its date and (or not) a performer."""
    organisation = (
        ""
        if performer is None
        else "      <performer><assignedEntity><representedOrganization>"
        f'<id {performer}root="1.2.392.200119.6.102"/>'
        "</representedOrganization></assignedEntity></performer>\n"
    )
    return (
        f"{SERVICE_EVENT_END}  <documentationOf>\n    <serviceEvent>\n"
        f'      <effectiveTime value="{day}"/>\n{organisation}{SERVICE_EVENT_END}'
    )


def _document(*edits: tuple[str, str]) -> bytes:
    text = FIXTURE.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.encode()


@pytest.mark.parametrize(
    ("edits", "institution", "exam_day"),
    [
        ([], "3710000012", 15),
        # No author organisation with the 健診機関 root: the performer's.
        ([(AUTHOR_ID, OTHER_AUTHOR), (PERFORMER_ID, _performer("3710000099"))], "3710000099", 15),
        # The author's id without an extension, or an empty one: the performer's.
        (
            [
                (AUTHOR_ID, '<id root="1.2.392.200119.6.102"/>\n        <name>'),
                (PERFORMER_ID, _performer("3710000099")),
            ],
            "3710000099",
            15,
        ),
        (
            [
                (AUTHOR_ID, '<id extension="" root="1.2.392.200119.6.102"/>\n        <name>'),
                (PERFORMER_ID, _performer("3710000099")),
            ],
            "3710000099",
            15,
        ),
        # The author gives one: the performers do not matter.
        ([(PERFORMER_ID, _performer("3710000099"))], "3710000012", 15),
        # Two service events: the last date, and the last performer naming one.
        (
            [
                (AUTHOR_ID, OTHER_AUTHOR),
                (SERVICE_EVENT_END, _second_event('extension="3710000077" ')),
            ],
            "3710000077",
            16,
        ),
        (
            [(AUTHOR_ID, OTHER_AUTHOR), (SERVICE_EVENT_END, _second_event(None))],
            "3710000012",
            16,
        ),
        # A second author organisation, in a second assignedAuthor: found as find() found it.
        (
            [
                (
                    '    <assignedAuthor>\n      <id nullFlavor="NI"/>',
                    '    <assignedAuthor/>\n    <assignedAuthor>\n      <id nullFlavor="NI"/>',
                ),
                (PERFORMER_ID, _performer("3710000099")),
            ],
            "3710000012",
            15,
        ),
    ],
)
def test_institution_and_exam_date(
    edits: list[tuple[str, str]], institution: str, exam_day: int
) -> None:
    checkup = read_document(_document(*edits), "h.xml")
    assert checkup.institution == institution
    assert checkup.exam_date.day == exam_day


def test_a_later_performer_without_extension_leaves_none() -> None:
    # The last service event names the 健診機関 root without a number: as when every event
    # was read in turn, that (missing) number is the one kept, not the first event's.
    document = _document(
        (AUTHOR_ID, OTHER_AUTHOR), (SERVICE_EVENT_END, _second_event("", "20240416"))
    )
    with pytest.raises(DocumentRejected) as rejected:
        read_document(document, "h.xml")
    assert [(p.where, p.reason) for p in rejected.value.problems] == [
        (
            "author/assignedAuthor/representedOrganization/id[@root='1.2.392.200119.6.102']",
            "健診機関番号 is missing",
        )
    ]
