"""V08 archives (特定健診・特定保健指導, HL7 CDA R2): reading, writing, and refusing hostile or
inconsistent input with a precise reason.

The hand-written archive under tests/fixtures/v08/ follows checkups-claims.md §2 (structure,
names, index, summary, CDA header and body); its people are invented."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kokuho.checkups import Checkup, Guidance, GuidanceLevel, Items, Observation
from kokuho.checkups import _v08_common as limits
from kokuho.checkups._v08_api import (
    ArchiveContents,
    ArchiveProblem,
    ArchiveRejected,
    DocumentRejected,
    read_archive,
    read_document,
    read_guidance_document,
    write_archive,
    write_document,
    write_guidance_document,
)

FIXTURE = Path(__file__).parent / "fixtures" / "v08" / "3710000012_00370015_202404010_1"
ROOT = FIXTURE.name
ARCHIVE = f"{ROOT}.zip"
H1 = "DATA/h3710000012202404010100001.xml"
H2 = "DATA/h3710000012202404010100002.xml"
STAMP = (2024, 4, 1, 9, 0, 0)


def fixture_files() -> dict[str, bytes]:
    files = {
        path.relative_to(FIXTURE).as_posix(): path.read_bytes()
        for path in sorted(FIXTURE.rglob("*"))
        if path.is_file()
    }
    # Real archives ship their schemas; the reader must ignore them.
    files["XSD/hc08_V08.xsd"] = b"<placeholder/>"
    return files


def build(
    folder: Path,
    files: dict[str, bytes] | None = None,
    *,
    name: str = ARCHIVE,
    root: str = ROOT,
    raw: dict[str, bytes] | None = None,
) -> Path:
    """Zips ``files`` under ``root/``; ``raw`` entries are added with their names as given."""
    entries = {f"{root}/{rel}": data for rel, data in (files or fixture_files()).items()}
    entries.update(raw or {})
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for entry in sorted(entries):
            zf.writestr(zipfile.ZipInfo(entry, STAMP), entries[entry], zipfile.ZIP_DEFLATED)
    return path


def edited(rel: str, old: str, new: str) -> dict[str, bytes]:
    files = fixture_files()
    text = files[rel].decode()
    assert old in text, old
    files[rel] = text.replace(old, new, 1).encode()
    return files


def rejected(path: Path, *, strict: bool = True) -> list[ArchiveProblem]:
    with pytest.raises(ArchiveRejected) as caught:
        read_archive(path, strict=strict)
    assert caught.value.problems
    return caught.value.problems


def reasons(problems: list[ArchiveProblem]) -> str:
    return "\n".join(str(p) for p in problems)


# --- the hand-written archive --------------------------------------------------------------


def test_hand_written_archive_loads(tmp_path: Path) -> None:
    path = build(tmp_path)
    contents = read_archive(path)
    assert isinstance(contents, ArchiveContents)
    assert contents.problems == []
    assert contents.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (contents.sender, contents.receiver) == ("3710000012", "00370015")
    assert contents.created == dt.datetime(2024, 4, 1)
    assert contents.service_event == "1"
    assert contents.guidance == []
    first, second = contents.checkups

    assert first.document == H1
    assert (first.insurer, first.symbol, first.number, first.branch) == (
        "370015",
        "香川12",
        "3456",
        "01",
    )
    assert (first.sex, first.birth_date, first.exam_date) == (
        1,
        dt.date(1960, 4, 2),
        dt.date(2024, 4, 15),
    )
    assert (first.institution, first.ticket) == ("3710000012", "24000000123")
    obs = first.observations
    assert len(obs) == 15
    assert obs["9N001000000000001"] == Observation("9N001000000000001", "PQ", "170.2", "cm")
    assert first.first(*Items.SBP) == Observation("9A755000000000001", "PQ", "128", "mmHg")
    assert first.first(*Items.DBP) is not None  # both found inside the organizer
    assert obs["3F015000002327101"] == Observation(
        "3F015000002327101", "PQ", None, "mg/dL", not_done=True
    )
    assert obs["3F070000002327101"].null_flavor == "NI"
    assert obs["3F070000002327101"].number is None
    assert obs["3F077000002327101"].number == 121.0  # not the referenceRange's 119
    assert obs["9N701000000000011"] == Observation(
        "9N701000000000011", "CO", "2", None, "1.2.392.200119.6.2003"
    )
    assert obs["9N506000000000011"].coded == "2"
    assert obs["9N511000000000049"].value == "腹囲高値。生活習慣の改善を。"

    assert second.document == H2
    assert second.insurer == "370015"  # the 8-column form 00370015 is the 国保 number
    assert (second.sex, second.branch, second.ticket) == (2, None, None)
    assert second.observations["9N011000000000001"].value == "20.5"  # in an entryRelationship
    assert second.observations["3D010000001926101"].value == "92"  # in the second section
    assert second.observations["1A020000000191111"] == Observation(
        "1A020000000191111", "", null_flavor="UNK"
    )


def test_read_document_reads_one_file() -> None:
    data = (FIXTURE / H1).read_bytes()
    checkup = read_document(data, "h1.xml")
    assert checkup.document == "h1.xml"
    assert checkup.ticket == "24000000123"


# --- round trip ----------------------------------------------------------------------------

INSURERS = ("370015", "06370019", "01370014", "39370010")
NULL_FLAVORS = ("NI", "UNK", "OTH", "NA", "MSK")
TEXT = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), min_size=1, max_size=12
)
TOKEN = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1)
CODES = st.text("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=17, max_size=17)
NUMBERS = st.from_regex(r"[0-9]{1,4}(\.[0-9]{1,3})?", fullmatch=True)  # negatives are refused
OIDS = st.from_regex(r"1\.2\.392\.200119\.6\.[1-9][0-9]{0,4}", fullmatch=True)


@st.composite
def observations(draw: st.DrawFn, code: str) -> Observation:
    kind = draw(st.sampled_from(["PQ", "CD", "CO", "ST", ""]))
    not_done = draw(st.booleans())
    null_flavor = draw(st.none() | st.sampled_from(NULL_FLAVORS))
    flagged = not_done or null_flavor is not None
    if kind == "":
        return Observation(code, "", not_done=not_done, null_flavor=null_flavor or "NI")
    value_strategy = {"PQ": NUMBERS, "CD": TOKEN, "CO": TOKEN, "ST": TEXT}[kind]
    value = draw(value_strategy if not flagged else st.none() | value_strategy)
    unit = draw(st.none() | TEXT) if kind == "PQ" else None
    code_system = draw(st.none() | OIDS) if kind in ("CD", "CO") else None
    return Observation(code, kind, value, unit, code_system, not_done, null_flavor)


@st.composite
def checkups(draw: st.DrawFn) -> Checkup:
    birth = draw(st.dates(dt.date(1930, 1, 1), dt.date(1990, 12, 31)))
    codes = draw(st.lists(CODES, max_size=8, unique=True))
    return Checkup(
        document="",
        insurer=draw(st.sampled_from(INSURERS)),
        symbol=draw(st.sampled_from(["", "12", "香川", "A-1"])),
        number=draw(st.text("0123456789ABCXYZ", min_size=1, max_size=20)),
        branch=draw(st.none() | st.from_regex(r"[0-9]{2}", fullmatch=True)),
        sex=draw(st.sampled_from([1, 2])),
        birth_date=birth,
        exam_date=birth + dt.timedelta(days=draw(st.integers(0, 30_000))),
        institution=draw(st.from_regex(r"[0-9]{10}", fullmatch=True)),
        observations={code: draw(observations(code)) for code in codes},
        ticket=draw(st.none() | st.from_regex(r"[0-9]{11}", fullmatch=True)),
    )


@st.composite
def guidance_records(draw: st.DrawFn) -> Guidance:
    birth = draw(st.dates(dt.date(1930, 1, 1), dt.date(1990, 12, 31)))
    started = birth + dt.timedelta(days=draw(st.integers(0, 30_000)))
    evaluated = draw(st.none() | st.integers(0, 400))
    return Guidance(
        document="",
        insurer=draw(st.sampled_from(INSURERS)),
        symbol=draw(st.sampled_from(["", "12"])),
        number=draw(st.text("0123456789", min_size=1, max_size=10)),
        branch=draw(st.none() | st.just("00")),
        sex=draw(st.sampled_from([1, 2])),
        birth_date=birth,
        institution=draw(st.from_regex(r"[0-9]{10}", fullmatch=True)),
        level=draw(st.sampled_from([GuidanceLevel.INTENSIVE, GuidanceLevel.MOTIVATIONAL])),
        started_on=started,
        evaluated_on=None if evaluated is None else started + dt.timedelta(days=evaluated),
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(checkups(), min_size=1, max_size=3),
    st.lists(guidance_records(), max_size=2),
)
def test_write_then_read_gives_the_same_records(
    written: list[Checkup], guidance: list[Guidance]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write_archive(
            Path(folder),
            sender="3710000012",
            receiver="00370015",
            checkups=written,
            guidance=guidance,
            created=dt.datetime(2024, 7, 1, 10, 30),
        )
        contents = read_archive(path)
    assert contents.problems == []
    assert [dataclasses.replace(c, document="") for c in contents.checkups] == written
    assert [dataclasses.replace(g, document="") for g in contents.guidance] == guidance
    assert [c.document for c in contents.checkups] == [
        f"DATA/h3710000012202407010100{n:03d}.xml" for n in range(1, len(written) + 1)
    ]
    for checkup in written:
        assert read_document(write_document(checkup), "h.xml") == dataclasses.replace(
            checkup, document="h.xml"
        )
    for record in guidance:
        assert read_guidance_document(write_guidance_document(record), "g.xml") == (
            dataclasses.replace(record, document="g.xml")
        )


def test_written_archive_has_the_v08_layout_and_is_deterministic(tmp_path: Path) -> None:
    contents = read_archive(build(tmp_path))
    created = dt.datetime(2024, 7, 1, 10, 30)
    first = write_archive(
        tmp_path / "a",
        sender="3710000012",
        receiver="00370015",
        checkups=contents.checkups,
        created=created,
        split=2,
    )
    second = write_archive(
        tmp_path / "b",
        sender="3710000012",
        receiver="00370015",
        checkups=contents.checkups,
        created=created,
        split=2,
    )
    assert first.name == "3710000012_00370015_202407012_1.zip"
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert {info.date_time for info in zf.infolist()} == {(2024, 7, 1, 10, 30, 0)}
        root = "3710000012_00370015_202407012_1/"
        assert names == [
            root,
            f"{root}CLAIMS/",
            f"{root}DATA/",
            f"{root}DATA/h3710000012202407012100001.xml",
            f"{root}DATA/h3710000012202407012100002.xml",
            f"{root}ix08_V08.xml",
            f"{root}su08_V08.xml",
        ]
        index = zf.read(f"{root}ix08_V08.xml").decode()
        summary = zf.read(f"{root}su08_V08.xml").decode()
        document = zf.read(f"{root}DATA/h3710000012202407012100001.xml").decode()
    assert '<totalRecordCount value="2"/>' in index
    assert 'root="1.2.392.200119.6.101" extension="00370015"' in index
    assert '<totalSubjectCount value="2"/>' in summary
    assert '<totalClaimAmount value="0" currency="JPY"/>' in summary
    for fragment in (
        '<typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>',
        '<id nullFlavor="NI"/>',
        '<code code="10" codeSystem="1.2.392.200119.6.1001"/>',
        '<confidentialityCode code="N"',
        '<code code="010" codeSystem="1.2.392.200119.6.1002"/>',
        '<code code="01010" codeSystem="1.2.392.200119.6.1010"/>',
        '<code code="9N001000000000001" codeSystem="1.2.392.200119.6.1005"/>',
        '<id root="1.2.392.200119.6.101" extension="00370015"/>',  # 国保 number in 8 columns
        'negationInd="true"',
        'nullFlavor="NI"',
    ):
        assert fragment in document
    again = read_archive(first)
    assert [dataclasses.replace(c, document="") for c in again.checkups] == [
        dataclasses.replace(c, document="") for c in contents.checkups
    ]


def test_write_archive_refuses_names_it_cannot_form(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="sender"):
        write_archive(
            tmp_path,
            sender="123",
            receiver="00370015",
            checkups=[],
            created=dt.datetime(2024, 1, 1),
        )


# --- hostile input -------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3">&lol9;</ClinicalDocument>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&x;</title></ClinicalDocument>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_doctype_is_refused_before_parsing(tmp_path: Path, payload: bytes) -> None:
    with pytest.raises(DocumentRejected) as caught:
        read_document(payload, "h1.xml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.where) == ("h1.xml", "DOCTYPE")
    assert "DOCTYPE is not allowed" in problem.reason

    files = fixture_files()
    files[H1] = payload
    problems = rejected(build(tmp_path, files))
    assert [str(p) for p in problems] == [
        f"{ARCHIVE}: {H1}: DOCTYPE: a DOCTYPE is not allowed (it can define entity bombs or "
        "external entities)"
    ]
    assert "root:" not in reasons(problems)


def test_doctype_hidden_by_another_encoding_is_still_refused() -> None:
    utf16 = (
        XXE.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
    )
    utf7 = (
        b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE a +AFs-+ADw-!ENTITY x "y"+AD4-+AF0-'
        b"+AD4-<ClinicalDocument xmlns='urn:hl7-org:v3'>&x;</ClinicalDocument>"
    )
    for payload in (utf16, utf7):
        with pytest.raises(DocumentRejected) as caught:
            read_document(payload, "h1.xml")
        assert caught.value.problems[0].where in ("encoding", "DOCTYPE")


def test_zip_slip_entry_refuses_the_archive_even_when_not_strict(tmp_path: Path) -> None:
    path = build(tmp_path, raw={"../evil.xml": b"<x/>"})
    problems = rejected(path, strict=False)
    assert [str(p) for p in problems] == [
        f"{ARCHIVE}: ../evil.xml: zip entry: path leaves the archive folder ('..'): "
        "refused (zip slip)"
    ]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("/etc/evil.xml", "absolute path"),
        (f"{ROOT}/DATA/..\\..\\evil.xml", "backslash"),
        (f"{ROOT}/DATA/../../evil.xml", "zip slip"),
    ],
)
def test_other_escaping_paths_are_refused(tmp_path: Path, entry: str, reason: str) -> None:
    problems = rejected(build(tmp_path, raw={entry: b"<x/>"}), strict=False)
    assert problems[0].file == entry
    assert reason in problems[0].reason


def test_zip_bomb_by_ratio_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = b"<a>" + b" " * (8 * 1024 * 1024) + b"</a>"
    path = build(tmp_path, raw={f"{ROOT}/DATA/hbomb.xml": bomb})
    (problem,) = rejected(path, strict=False)
    assert problem.file == f"{ROOT}/DATA/hbomb.xml"
    assert "compression ratio" in problem.reason and "zip bomb" in problem.reason


def test_entry_larger_than_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_ENTRY_BYTES", 4096)
    problems = rejected(build(tmp_path), strict=False)
    assert {p.file for p in problems} == {f"{ROOT}/{H1}"}
    assert "exceeds the limit of 4096" in problems[0].reason


def test_header_that_understates_the_size_cannot_inflate_past_it(tmp_path: Path) -> None:
    name = f"{ROOT}/DATA/hlie.xml"
    path = build(tmp_path, raw={name: b"a" * 1_000_000})
    data = bytearray(path.read_bytes())
    # Rewrite the directory's uncompressed size of that entry to 100 bytes.
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", data, central + 24, 100)
    path.write_bytes(bytes(data))
    lie = [p for p in rejected(path) if p.file == "DATA/hlie.xml"]
    assert [p.reason for p in lie] == [
        "cannot be read: inflates beyond the 100 bytes its directory entry declares (zip bomb?)"
    ]


def test_entry_in_a_compression_method_zipfile_lacks_is_a_bad_entry(tmp_path: Path) -> None:
    """Deflate64 (method 9): zipfile raises NotImplementedError, which the reader reports as
    that entry's problem, naming it, like any other unreadable entry (no crash)."""
    name = f"{ROOT}/DATA/h64.xml"
    path = build(tmp_path, raw={name: b"<x/>" * 100})
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    while data[local + 30 : local + 30 + len(name)] != name.encode():
        local = data.index(b"PK\x03\x04", local + 4)
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<H", data, local + 8, 9)
    struct.pack_into("<H", data, central + 10, 9)
    path.write_bytes(bytes(data))
    bad = [p for p in rejected(path) if p.file == "DATA/h64.xml"]
    assert len(bad) == 1
    assert bad[0].reason.startswith("cannot be read: ") and bad[0].where == "zip entry"


def test_too_many_entries_refuse_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "MAX_ENTRIES", 3)
    (problem,) = rejected(build(tmp_path), strict=False)
    assert "more than the limit of 3" in problem.reason


def test_not_a_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ARCHIVE
    path.write_bytes(b"not a zip at all")
    (problem,) = rejected(path, strict=False)
    assert problem.reason.startswith("not a readable zip archive")


def test_entries_outside_the_root_folder_are_reported(tmp_path: Path) -> None:
    path = build(tmp_path, raw={"stray.xml": b"<x/>"})
    problems = rejected(path)
    assert [str(p) for p in problems] == [
        f"{ARCHIVE}: stray.xml: zip entry: is outside the root folder '{ROOT}/'"
    ]


# --- wrong content -------------------------------------------------------------------------


def test_wrong_document_root_is_refused(tmp_path: Path) -> None:
    files = edited(H1, "<ClinicalDocument ", "<Document ")
    files[H1] = files[H1].replace(b"</ClinicalDocument>", b"</Document>")
    (problem,) = rejected(build(tmp_path, files))
    assert (problem.file, problem.where) == (H1, "ClinicalDocument")
    assert problem.reason == (
        "root element is '{urn:hl7-org:v3}Document', expected ClinicalDocument in namespace "
        "urn:hl7-org:v3"
    )


def test_wrong_index_root_is_refused(tmp_path: Path) -> None:
    files = edited("ix08_V08.xml", "<index ", "<summary ")
    files["ix08_V08.xml"] = files["ix08_V08.xml"].replace(b"</index>", b"</summary>")
    (problem,) = rejected(build(tmp_path, files))
    assert (problem.file, problem.where) == ("ix08_V08.xml", "root element")
    assert "expected <index>" in problem.reason


def test_index_count_mismatch(tmp_path: Path) -> None:
    files = edited("ix08_V08.xml", '<totalRecordCount value="3"/>', '<totalRecordCount value="5"/>')
    assert [str(p) for p in rejected(build(tmp_path, files))] == [
        f"{ARCHIVE}: ix08_V08.xml: totalRecordCount: says 5 files, DATA and CLAIMS hold 3"
    ]


def test_summary_count_mismatch(tmp_path: Path) -> None:
    files = edited(
        "su08_V08.xml", '<totalSubjectCount value="2"/>', '<totalSubjectCount value="3"/>'
    )
    assert [str(p) for p in rejected(build(tmp_path, files))] == [
        f"{ARCHIVE}: su08_V08.xml: totalSubjectCount: says 3, DATA holds 2 checkup and "
        "0 guidance documents"
    ]


def test_an_archive_name_of_other_digits_is_not_a_v08_name(tmp_path: Path) -> None:
    """\\d matched full-width and other scripts' digits: such a name was taken apart as a
    sender and a receiver, and the archive refused for a sender mismatch instead."""
    name = "３710000012_00370015_202404010_1.zip"
    problems = rejected(build(tmp_path, name=name, root=name[:-4]))
    assert "archive name" in [p.where for p in problems], problems


def test_sender_in_the_name_must_match_the_index(tmp_path: Path) -> None:
    name = "3710000020_00370015_202404010_1.zip"
    problems = rejected(build(tmp_path, name=name, root=name[:-4]))
    assert [(p.file, p.where) for p in problems] == [("ix08_V08.xml", "sender/id@extension")]
    assert problems[0].reason == "is '3710000012', the zip name says '3710000020'"


def test_bad_insurer_check_digit(tmp_path: Path) -> None:
    files = edited(
        H1,
        'extension="370015" root="1.2.392.200119.6.101"/>\n      <!-- 被保険者証等記号',
        'extension="370016" root="1.2.392.200119.6.101"/>\n      <!-- 被保険者証等記号',
    )
    (problem,) = rejected(build(tmp_path, files))
    assert problem.where == "recordTarget/patientRole/id[@root='1.2.392.200119.6.101']"
    assert problem.reason == (
        "insurer number '370016': 検証番号 is 6, the 2-1 digit-sum rule gives 5"
    )


def test_non_numeric_pq_value(tmp_path: Path) -> None:
    files = edited(H1, '<value xsi:type="PQ" unit="mg/dL"/>', '<value xsi:type="PQ" value="abc"/>')
    assert [str(p) for p in rejected(build(tmp_path, files))] == [
        f"{ARCHIVE}: {H1}: observation 3F015000002327101: value 'abc' is not a number"
    ]


@pytest.mark.parametrize("value", ["-86.0", "-1e2", "-.5"])
def test_a_negative_measurement_is_refused(tmp_path: Path, value: str) -> None:
    """No 特定健診 item is a negative quantity: a waist of -86.0 cm is a sender's error, which
    would otherwise stratify as a waist under 85 cm."""
    files = edited(H1, '<value xsi:type="PQ" value="86.0" unit="cm"/>',
                   f'<value xsi:type="PQ" value="{value}" unit="cm"/>')  # fmt: skip
    assert [str(p) for p in rejected(build(tmp_path, files))] == [
        f"{ARCHIVE}: {H1}: observation 9N016160100000001: value {value!r} is negative"
        " (a 健診 measurement is not)"
    ]


@pytest.mark.parametrize("code", ["²", "٢", "２", "2 ", "", "2\u200f"])
def test_a_coded_value_is_an_ascii_code(tmp_path: Path, code: str) -> None:
    """A CD code is an ASCII token (HL7 CD). '²' passed str.isdigit and int() failed on it,
    an internal error that stopped the whole ingest; '٢' was read as メタボ判定 2."""
    system = 'codeSystem="1.2.392.200119.6.1008"'
    files = edited(H1, f'<value xsi:type="CD" code="2" {system}/>',
                   f'<value xsi:type="CD" code="{code}" {system}/>')  # fmt: skip
    assert [str(p) for p in rejected(build(tmp_path, files))] == [
        f"{ARCHIVE}: {H1}: observation 9N501000000000011: code {code!r} is not a code"
        " (ASCII letters, digits, '.', '-' or '_')"
    ]


def test_exam_before_birth(tmp_path: Path) -> None:
    files = edited(H1, '<effectiveTime value="20240415"/>', '<effectiveTime value="19590101"/>')
    (problem,) = rejected(build(tmp_path, files))
    assert (problem.where, problem.reason) == (
        "documentationOf/serviceEvent/effectiveTime",
        "実施日 1959-01-01 is before the birth date 1960-04-02",
    )


@pytest.mark.parametrize(
    ("old", "new", "where", "reason"),
    [
        (
            '<administrativeGenderCode code="1"',
            '<administrativeGenderCode code="3"',
            "recordTarget/patientRole/patient/administrativeGenderCode",
            "男女区分 '3' is not 1 (男) or 2 (女)",
        ),
        (
            '<birthTime value="19600402"/>',
            '<birthTime value="19600231"/>',
            "recordTarget/patientRole/patient/birthTime",
            "生年月日 '19600231' is not a date (YYYYMMDD)",
        ),
        (
            '<id extension="3710000012" root="1.2.392.200119.6.102"/>\n        <name>',
            '<id extension="37100000" root="1.2.392.200119.6.102"/>\n        <name>',
            "author/assignedAuthor/representedOrganization/id[@root='1.2.392.200119.6.102']",
            "健診機関番号 '37100000': must be 10 digits (only the length is checked; it need not "
            "be a 医療機関コード)",
        ),
        (
            '<code code="9N006000000000001"',
            '<code code="9N001000000000001"',
            "observation 9N001000000000001",
            "item code appears more than once in the document",
        ),
        (
            '<code code="9N006000000000001"',
            '<code code="9N00600000"',
            "observation 9N00600000",
            "item code '9N00600000' is not 17 characters",
        ),
        (
            '<value xsi:type="PQ" value="68.5" unit="kg"/>',
            '<value xsi:type="BL" value="true"/>',
            "observation 9N006000000000001",
            "value type 'BL' is not PQ, CD, CO or ST",
        ),
    ],
)
def test_document_checks(tmp_path: Path, old: str, new: str, where: str, reason: str) -> None:
    (problem,) = rejected(build(tmp_path, edited(H1, old, new)))
    assert (problem.archive, problem.file, problem.where, problem.reason) == (
        ARCHIVE,
        H1,
        where,
        reason,
    )


def test_claims_must_be_well_formed(tmp_path: Path) -> None:
    files = fixture_files()
    files["CLAIMS/c3710000012202404010100001.xml"] = b"<checkupClaim><unclosed></checkupClaim>"
    (problem,) = rejected(build(tmp_path, files))
    assert problem.file == "CLAIMS/c3710000012202404010100001.xml"
    assert problem.where == "line 1" and problem.reason.startswith("not well-formed XML")


def test_not_strict_keeps_the_good_documents_and_lists_the_bad(tmp_path: Path) -> None:
    # Document 1 has two problems (one in the header, one in an observation): it is left out
    # whole, and both are listed.
    files = edited(H1, '<birthTime value="19600402"/>', '<birthTime value="1960"/>')
    files[H1] = files[H1].replace(b'value="170.2"', b'value="1,70"')
    path = build(tmp_path, files)
    with pytest.raises(ArchiveRejected):
        read_archive(path)
    contents = read_archive(path, strict=False)
    assert [c.document for c in contents.checkups] == [H2]
    assert [(p.file, p.where) for p in contents.problems] == [
        (H1, "recordTarget/patientRole/patient/birthTime"),
        (H1, "observation 9N001000000000001"),
    ]
