"""The on-site terminal: request files in, response files out, over the real service."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import defusedxml.ElementTree as ET
from fastapi.testclient import TestClient

from kokuho.verify._oqs_agent import OqsAgent
from tests.feedfiles import KOKUHO

FIXTURES = Path(__file__).parent / "fixtures" / "oqs"


def request_xml(
    *,
    day: str = "20201201",
    encoding: str = "UTF-8",
    code: int = 0,
    number: str = "1001",
    birth: str = "19700515",
) -> str:
    return f"""<?xml version="1.0" encoding="{encoding}"?>
<XmlMsg>
  <MessageHeader>
    <ProcessExecutionTime>{day}090000</ProcessExecutionTime>
    <QualificationConfirmationDate>{day}</QualificationConfirmationDate>
    <MedicalInstitutionCode>3710112347</MedicalInstitutionCode>
    <ArbitraryFileIdentifier>uke-1</ArbitraryFileIdentifier>
    <ReferenceClassification>2</ReferenceClassification>
    <CharacterCodeIdentifier>{code}</CharacterCodeIdentifier>
  </MessageHeader>
  <MessageBody>
    <QualificationConfirmSearchInfo>
      <InsurerNumber>  {KOKUHO}</InsurerNumber>
      <InsuredCardSymbol>１２</InsuredCardSymbol>
      <InsuredIdentificationNumber>{number}</InsuredIdentificationNumber>
      <InsuredBranchNumber>01</InsuredBranchNumber>
      <Birthdate>{birth}</Birthdate>
    </QualificationConfirmSearchInfo>
  </MessageBody>
</XmlMsg>
"""


def agent(service_client: tuple[TestClient, str], tmp_path: Path) -> OqsAgent:
    http, token = service_client
    (tmp_path / "req").mkdir()
    fixed = lambda: dt.datetime(2020, 12, 1, 0, 0, tzinfo=dt.UTC)  # noqa: E731
    return OqsAgent(http, token, tmp_path / "req", tmp_path / "res", now=fixed)


def text(path: Path) -> str:
    return path.read_bytes().decode("cp932" if b"Shift_JIS" in path.read_bytes()[:60] else "utf-8")


def values(path: Path, tag: str) -> list[str]:
    root = ET.fromstring(text(path).split("?>", 1)[1])
    return [element.text or "" for element in root.iter(tag)]


def test_single_checks_in_both_encodings(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    terminal = agent(service_client, tmp_path)
    (terminal.req / "OQSsiquc01req_A.xml").write_text(request_xml(), encoding="utf-8")
    (terminal.req / "OQSsiquc01req_B.xml").write_bytes(
        request_xml(encoding="Shift_JIS", code=1, day="20210401").encode("cp932")
    )
    (terminal.req / "OQSsiquc01req_C.xml").write_text(request_xml(number="9999"), encoding="utf-8")
    (terminal.req / "unrelated.txt").write_text("left alone")
    written = terminal.process_once()
    assert [p.name for p in written] == [
        "OQSsiquc01res_A.xml",
        "OQSsiquc01res_B.xml",
        "OQSsiquc01res_C.xml",
    ]
    a, b, c = written
    assert values(a, "QualificationValidity") == ["1"]
    assert values(a, "InsuredIdentificationNumber")[-1] == "1001"
    assert values(a, "InsuredPartialContributionRatio") == ["030"]
    assert values(a, "NameKana") == ["ｻﾇｷ ﾀﾛｳ"]  # half-width kana, as OQS writes it
    assert b.read_bytes().startswith(b'<?xml version="1.0" encoding="Shift_JIS"')
    assert values(b, "QualificationValidity") == ["2"]  # lost on 2021-04-01
    assert values(c, "QualificationValidity") == ["4"]
    # Requests move to done/; other files are left alone; a second pass writes nothing.
    assert sorted(p.name for p in (terminal.req / "done").iterdir())[0] == "OQSsiquc01req_A.xml"
    assert (terminal.req / "unrelated.txt").exists()
    assert terminal.process_once() == []


def test_malformed_and_hostile_requests_get_error_responses(
    service_client: tuple[TestClient, str], tmp_path: Path
) -> None:
    terminal = agent(service_client, tmp_path)
    (terminal.req / "OQSsiquc01req_bad.xml").write_text("<XmlMsg><MessageHeader>")
    (terminal.req / "OQSsiquc01req_xxe.xml").write_bytes((FIXTURES / "xxe.xml").read_bytes())
    (terminal.req / "OQSsiquc01req_date.xml").write_text(request_xml(birth="19700230"))
    bad, date, xxe = terminal.process_once()
    for path, code in (
        (bad, "malformed_xml"),
        (xxe, "external_reference_forbidden"),
        (date, "invalid_date"),
    ):
        assert values(path, "SegmentOfResult") == ["9"], path.name
        assert values(path, "ErrorCode") == [code], path.name
    assert "passwd" not in text(xxe) and "root:" not in text(xxe)


def test_bulk_submit_then_fetch(service_client: tuple[TestClient, str], tmp_path: Path) -> None:
    terminal = agent(service_client, tmp_path)
    body = request_xml().split("<MessageBody>")[1].split("</MessageBody>")[0]
    bulk = request_xml().replace(body, body + body.replace("1001", "9999"))
    (terminal.req / "OQSmuquc01req_1.xml").write_text(bulk)
    [accepted] = terminal.process_once()
    [reception] = values(accepted, "ReceptionNumber")
    fetch = f"""<?xml version="1.0" encoding="UTF-8"?>
<XmlMsg><MessageHeader><MedicalInstitutionCode>3710112347</MedicalInstitutionCode>
</MessageHeader><MessageBody><ReceptionNumber>{reception}</ReceptionNumber></MessageBody></XmlMsg>"""
    for attempt in range(50):
        (terminal.req / f"OQSmuquc02req_{attempt}.xml").write_text(fetch)
        [result] = terminal.process_once()
        if values(result, "SegmentOfResult") == ["1"]:
            break
        __import__("time").sleep(0.05)
    assert values(result, "QualificationValidity") == ["1", "4"]
