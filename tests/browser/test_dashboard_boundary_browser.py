"""The 二重払い・資格適正化 page in a browser, on the demo prefecture (whose planted retroactive
enrolments the demo opens as cases and partly decides): a municipality's staff open their
list from the menu, download it, open a decided case and print its notices; the prefecture
sees the counts and cannot open the case."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kokuho.boundary import tables as bt
from kokuho.cli._dashboard import sign_in, wait_for_figures
from kokuho.store import connect
from kokuho.web.dashboard import MUNICIPAL_PASSWORD, PREFECTURE_PASSWORD, ROMAJI
from tests.browser.demo_home import settings_for, shared_demo_home

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def decided_case(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[int, str, int]:
    """(case id, its municipality, how many cases that municipality has) of a case the demo
    took to its 減額賦課決定."""
    home = shared_demo_home(tmp_path_factory, worker_id)
    engine = connect(settings_for(home).database_url)
    c, s = bt.boundary_cases.c, bt.boundary_case_steps.c
    try:
        with engine.connect() as connection:
            case_id, code = connection.execute(
                sa.select(c.case_id, c.municipality)
                .join(bt.boundary_case_steps, s.case_id == c.case_id)
                .where(s.step == "reduction")
                .order_by(c.case_id)
                .limit(1)
            ).one()
            count = connection.scalar(sa.select(sa.func.count()).where(c.municipality == code))
    finally:
        engine.dispose()
    return case_id, code, int(count or 0)


def test_the_municipality_opens_its_case_and_prints_the_notices(
    demo_url: str, new_page: Any, decided_case: tuple[int, str, int]
) -> None:
    case_id, code, count = decided_case
    page = new_page()
    sign_in(page, demo_url, ROMAJI[code], MUNICIPAL_PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="二重払い・資格適正化").click()
    wait_for_figures(page)
    assert page.locator("main h1").inner_text() == "二重払い・資格適正化"
    rows = page.locator('table[data-table="boundary-cases"] tbody tr')
    assert rows.count() == count
    with page.expect_download() as info:
        page.locator("#t-boundary-cases a.download", has_text="CSV").click()
    listed = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text("utf-8-sig"))))
    assert len(listed) == count
    [mine] = [r for r in listed if r["事案番号"] == str(case_id)]
    assert mine["進捗"] == "③ 減額賦課決定済" and int(mine["重複月数"]) > 0
    page.locator(f'a[href="/boundary/cases/{case_id}"]').click()
    page.wait_for_selector('table[data-table="case-steps"]')
    steps = page.locator('table[data-table="case-steps"] td[data-key="step"]').all_inner_texts()
    assert [s.strip() for s in steps] == ["① 資格喪失", "② 判断", "③ 減額賦課決定・還付"]
    for label, heading in (("減額賦課決定通知書", "国民健康保険料減額賦課決定通知書"),
                           ("還付通知書", "国民健康保険料還付通知書")):  # fmt: skip
        with page.context.expect_page() as opened:
            page.locator("p.notices a", has_text=label).click()
        notice = opened.value
        notice.wait_for_load_state()
        notice.emulate_media(media="print")
        assert heading in notice.locator("h1").inner_text()
        # Printed on A4 (its own print CSS, allowed by the page's own policy).
        pdf = notice.pdf(format="A4")
        assert pdf.startswith(b"%PDF")
        notice.close()


def test_the_prefecture_sees_the_counts_and_not_the_case(
    demo_url: str, new_page: Any, decided_case: tuple[int, str, int]
) -> None:
    case_id, code, count = decided_case
    page = new_page()
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    page.goto(f"{demo_url}/boundary")
    wait_for_figures(page)
    cells = page.locator(
        f'table[data-table="boundary-counts"] tr:has(td[data-key="code"]:text-is("{code}")) '
        'td[data-key="cases"]'
    )
    assert cells.inner_text().strip() == str(count)
    assert page.locator('table[data-table="boundary-cases"]').count() == 0
    answer = page.goto(f"{demo_url}/boundary/cases/{case_id}")
    assert answer is not None and answer.status == 403


def test_the_municipality_picks_a_day_before_its_cases(
    demo_url: str, new_page: Any, decided_case: tuple[int, str, int]
) -> None:
    """基準日: the list as it stood on a day picked in the form (2000-01-01: no case yet)."""
    _, code, count = decided_case
    page = new_page()
    sign_in(page, demo_url, ROMAJI[code], MUNICIPAL_PASSWORD)
    page.goto(f"{demo_url}/boundary")
    wait_for_figures(page)
    assert page.locator('table[data-table="boundary-cases"] tbody tr').count() == count
    page.locator('form.day-picker input[name="on"]').fill("2000-01-01")
    page.locator("form.day-picker").get_by_role("button", name="表示").click()
    page.wait_for_url("**/boundary?on=2000-01-01")
    assert page.locator("p.asof").inner_text() == "平成12年1月1日 (2000-01-01) 現在"
    cells = page.locator('table[data-table="boundary-cases"] tbody td')
    assert cells.all_inner_texts() == ["該当なし"]
