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


def test_a_request_for_another_institution_is_refused_and_never_asked(
    service_client: tuple[TestClient, str], database_url: str, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    from kokuho.store import connect
    from kokuho.verify._tables import audit_log

    other = "3740112341"  # a valid 医療機関コード, not the credential's (3710112347)
    terminal = agent(service_client, tmp_path)
    single = request_xml().replace("3710112347", other)
    body = single.split("<MessageBody>")[1].split("</MessageBody>")[0]
    fetch = f"""<?xml version="1.0" encoding="UTF-8"?>
<XmlMsg><MessageHeader><MedicalInstitutionCode>{other}</MedicalInstitutionCode>
</MessageHeader><MessageBody><ReceptionNumber>B000000001</ReceptionNumber></MessageBody></XmlMsg>"""
    (terminal.req / "OQSsiquc01req_other.xml").write_text(single)
    (terminal.req / "OQSsiquc01req_sjis.xml").write_bytes(
        request_xml(encoding="Shift_JIS", code=1).replace("3710112347", other).encode("cp932")
    )
    (terminal.req / "OQSmuquc01req_other.xml").write_text(single.replace(body, body + body))
    (terminal.req / "OQSmuquc02req_other.xml").write_text(fetch)
    (terminal.req / "OQSsiquc01req_own.xml").write_text(request_xml())
    written = {p.name: p for p in terminal.process_once()}
    assert len(written) == 5
    own = written.pop("OQSsiquc01res_own.xml")
    assert values(own, "QualificationValidity") == ["1"]  # the credential's own: answered
    for path in written.values():
        assert values(path, "SegmentOfResult") == ["9"], path.name
        assert values(path, "ErrorCode") == ["institution_mismatch"], path.name
        [message] = values(path, "ErrorMessage")
        assert other in message and "3710112347" in message, message
        assert not values(path, "QualificationValidity"), path.name
    # Never asked: the service's audit log holds the one check of the credential's own file.
    engine = connect(database_url)
    with engine.connect() as connection:
        actions = connection.scalars(sa.select(audit_log.c.action)).all()
    engine.dispose()
    assert actions == ["check_number"]


def test_a_failed_bulk_check_gets_an_error_response_not_pending_for_ever(
    service_client: tuple[TestClient, str], database_url: str, tmp_path: Path
) -> None:
    """A 一括照会 whose worker died stays ``processing`` in its row; once it is older than the
    bound the service reports it ``failed`` and the terminal answers an error the clinic acts
    on (submit again), where it answered 処理中 for ever."""

    from kokuho.store import connect
    from kokuho.verify._service_bulk import BULK_STALE_AFTER
    from kokuho.verify._tables import bulk_jobs

    engine = connect(database_url)
    with engine.begin() as connection:
        connection.execute(
            bulk_jobs.insert().values(
                reception_number="DEAD0000DEAD0000", institution_code="3710112347",
                submitted_at=dt.datetime.now(dt.UTC) - BULK_STALE_AFTER * 2,
                status="processing", queries="1",
            )
        )  # fmt: skip
    engine.dispose()
    terminal = agent(service_client, tmp_path)
    (terminal.req / "OQSmuquc02req_dead.xml").write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<XmlMsg><MessageHeader><MedicalInstitutionCode>3710112347</MedicalInstitutionCode>
</MessageHeader><MessageBody><ReceptionNumber>DEAD0000DEAD0000</ReceptionNumber></MessageBody>
</XmlMsg>"""
    )
    [result] = terminal.process_once()
    assert values(result, "SegmentOfResult") == ["9"]
    assert values(result, "ErrorCode") == ["bulk_failed"]
    assert "DEAD0000DEAD0000" in values(result, "ErrorMessage")[0]
