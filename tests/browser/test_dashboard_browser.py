"""The dashboard as a person uses it: headless Chromium against a real server."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from kokuho.cli._dashboard import sign_in, wait_for_figures
from kokuho.web.dashboard import MUNICIPAL_PASSWORD, PREFECTURE_PASSWORD

pytestmark = pytest.mark.slow

PAGES = [
    ("県の概況", "/overview", "members-by-municipality"),
    ("市町村比較", "/compare", "municipal-comparison"),
    ("市町村の詳細", "/municipalities", "rates-by-sex-age"),
    ("交付金", "/grants", None),
    ("資格", "/eligibility", "eligibility-counts"),
    ("アクセス記録", "/audit", "audit-log"),
]


def rows(page: Any, table_id: str) -> int:
    return int(page.locator(f'table[data-table="{table_id}"] tbody tr').count())


def test_sign_in_and_every_page_shows_figures(demo_url: str, new_page: Any) -> None:
    page = new_page()
    page.goto(demo_url)
    assert page.url.endswith("/login?next=/overview") or "/login" in page.url
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    wait_for_figures(page)
    assert page.locator("main h1").inner_text() == "県の概況"
    for label, _, table_id in PAGES:
        page.get_by_role("navigation").get_by_role("link", name=label, exact=True).click()
        wait_for_figures(page)
        heading = page.locator("main h1").inner_text()
        assert label in heading or label == "市町村の詳細" and "の詳細" in heading
        if table_id:
            assert rows(page, table_id) > 0, label
            assert page.locator(f"#t-{table_id} a.download", has_text="CSV").count() == 1
        else:
            # 交付金 shows its figures or says plainly which data to load.
            shown = page.locator('table[data-table="allocation"]').count()
            assert shown or page.get_by_text("データがありません").count()
    page.goto(f"{demo_url}/compare")
    wait_for_figures(page)
    chart = page.locator("svg.chart").first
    assert "特定健診 実施率" in chart.locator("title").first.text_content()
    assert page.locator("svg.chart line.target").count() >= 2  # the targets are drawn
    page.goto(f"{demo_url}/compare?fy=2022")
    wait_for_figures(page)
    titles = page.locator("svg.chart > title").all_text_contents()
    assert any("後発医薬品使用割合" in t for t in titles)
    assert any("地域差指数" in t for t in titles)


def test_sorting_a_table(demo_url: str, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    page.goto(f"{demo_url}/compare")
    wait_for_figures(page)
    table = page.locator('table[data-table="municipal-comparison"]')
    header = table.locator("th", has_text="特定健診 対象者数")
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    values = [
        float(v) if v else float("inf")
        for v in table.locator('td[data-key="eligible"]').evaluate_all(
            "cells => cells.map(c => c.dataset.sort)"
        )
    ]
    assert values == sorted(values)
    header.locator("button").click()
    assert header.get_attribute("aria-sort") == "descending"


def test_csv_download(demo_url: str, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    page.goto(f"{demo_url}/overview")
    wait_for_figures(page)
    shown = {
        cells[1]: cells[3]
        for cells in page.locator(
            'table[data-table="members-by-municipality"] tbody tr'
        ).evaluate_all("rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
    }
    with page.expect_download() as info:
        page.locator("#t-members-by-municipality a.download", has_text="CSV").click()
    download = info.value
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 17
    assert {row["市町"]: f"{int(row['被保険者数']):,}" for row in table} == shown


def test_a_download_from_a_tab_signed_out_elsewhere_leads_to_the_sign_in(
    demo_url: str, new_page: Any
) -> None:
    """Signed out in another tab (or the session ended): the CSV link of the old tab shows
    the sign-in page; it saved that page as a file 「login.html」 and the tab showed nothing.
    Signed in again, the page (not a download) opens, and its CSV link downloads the CSV."""
    page = new_page()
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    page.goto(f"{demo_url}/overview")
    wait_for_figures(page)
    other = page.context.new_page()
    other.goto(f"{demo_url}/overview")
    other.get_by_role("button", name="サインアウト").click()
    other.wait_for_url("**/login")
    downloads: list[Any] = []
    page.on("download", lambda download: downloads.append(download))
    page.locator("#t-members-by-municipality a.download", has_text="CSV").click()
    page.wait_for_url(re.compile(r"/login\?next=/overview$"))
    assert page.locator("input[name=password]").count() == 1
    page.fill("input[name=username]", "pref")
    page.fill("input[name=password]", PREFECTURE_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo_url}/overview")
    wait_for_figures(page)
    assert downloads == []
    with page.expect_download() as info:
        page.locator("#t-members-by-municipality a.download", has_text="CSV").click()
    assert info.value.suggested_filename.endswith(".csv")


def test_municipal_staff_cannot_open_another_municipalitys_person_list(
    demo_url: str, new_page: Any
) -> None:
    page = new_page()
    sign_in(page, demo_url, "takamatsu", MUNICIPAL_PASSWORD)
    page.goto(f"{demo_url}/municipalities/370015")
    wait_for_figures(page)
    page.get_by_role("link", name="氏名入りリストを開く").nth(1).click()  # 資格重複
    wait_for_figures(page)
    assert rows(page, "list-overlaps") == 2
    assert page.get_by_text("この閲覧はアクセス記録に残ります").count() == 1
    answer = page.goto(f"{demo_url}/municipalities/370023/lists/overlaps")
    assert answer is not None and answer.status == 403
    assert page.get_by_role("alert").inner_text().startswith("氏名入りのリストは")
    assert page.locator('table[data-table="list-overlaps"]').count() == 0
    # Nor another municipality's details, nor a way to pick it.
    answer = page.goto(f"{demo_url}/municipalities/370023")
    assert answer is not None and answer.status == 403


#: Every text of a chart (bar values, axis labels, target labels) outside its <svg>'s box:
#: the browser clips it (「11,152,115,9」 for a 納付金 of 11,152,115,909円).
OUTSIDE = """() => {
  const out = [];
  for (const svg of document.querySelectorAll("svg.chart")) {
    const box = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll("text")) {
      const r = text.getBoundingClientRect();
      if (r.width && (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
                      r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)) {
        out.push(`${svg.querySelector("title").textContent}: ${text.textContent}`);
      }
    }
  }
  return out;
}"""


@pytest.mark.parametrize("width", [1280, 820])
def test_no_chart_text_is_cut_off(demo_url: str, new_page: Any, width: int) -> None:
    """Targets, values and axis labels are drawn inside their chart, at laptop and tablet
    widths: two targets' labels above the bars, a 納付金 of eleven digits at the end of the
    longest bar, the last year under a line chart."""
    page = new_page(width=width)
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    charts = 0
    for path in ("/overview", "/compare?fy=2022", "/grants", "/premiums?insurer=370015",
                 "/municipalities/370015?fy=2022"):  # fmt: skip
        page.goto(f"{demo_url}{path}")
        wait_for_figures(page)
        charts += page.locator("svg.chart").count()
        assert page.evaluate(OUTSIDE) == [], path
    assert charts >= 10


def test_tablet_width_has_no_page_wide_scroll(demo_url: str, new_page: Any) -> None:
    page = new_page(width=820, height=1180)
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    for path in ("/overview", "/compare"):
        page.goto(f"{demo_url}{path}")
        wait_for_figures(page)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 820, path


def test_recomputation_shows_progress_then_the_figures(demo_url: str, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    page.goto(f"{demo_url}/overview")
    wait_for_figures(page)
    page.get_by_role("button", name="再集計").click()
    # The page either shows the progress of the new computation and reloads itself when it
    # is done, or (on a fast machine) the figures at once.
    page.locator('table[data-table="members-by-municipality"]').wait_for(timeout=120_000)
    assert rows(page, "members-by-municipality") == 17
    assert page.url.endswith("/overview")


def test_what_if_slider_changes_points_and_yen(demo_url: str, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo_url, "takamatsu", MUNICIPAL_PASSWORD)
    page.goto(f"{demo_url}/grants?fy=2021")
    wait_for_figures(page)
    result = page.locator(".what-if-result")
    result.and_(page.locator("[data-ready='1']")).wait_for()
    before = result.locator("[data-field='points_after']").inner_text()
    assert before == result.locator("[data-field='points_before']").inner_text()
    page.locator("form.what-if select[name='lever']").select_option("checkup_rate")
    page.locator("form.what-if input[type='range']").fill("0.9")
    assert page.locator("form.what-if output").inner_text() == "90.0%"
    after = result.locator("[data-field='points_after']")
    page.wait_for_function(
        "([el, old]) => el.textContent !== old", arg=[after.element_handle(), before]
    )
    points = [float(t.replace(",", "").removesuffix("点")) for t in (before, after.inner_text())]
    assert points[1] > points[0]
    yen_before = result.locator("[data-field='yen_before']").inner_text()
    yen_after = result.locator("[data-field='yen_after']").inner_text()
    assert yen_before != yen_after and yen_after.endswith("円")
    assert result.locator("[data-field='yen_change']").inner_text().startswith("+")


def test_a_refused_what_if_leaves_no_figures_of_another_value(demo_url: str, new_page: Any) -> None:
    """When the slider's request is refused (signed out in another tab here; a 503 while
    the figures are recomputed), the panel says why and shows no points or yen: the figures
    of the slider's previous value stood beside its new one."""
    page = new_page()
    sign_in(page, demo_url, "takamatsu", MUNICIPAL_PASSWORD)
    page.goto(f"{demo_url}/grants?fy=2021")
    wait_for_figures(page)
    result = page.locator(".what-if-result")
    result.and_(page.locator("[data-ready='1']")).wait_for()
    other = page.context.new_page()
    other.goto(f"{demo_url}/overview")
    other.get_by_role("button", name="サインアウト").click()
    other.wait_for_url("**/login")
    page.locator("form.what-if input[type='range']").fill("0.9")
    note = result.locator("[data-field='note']")
    note.and_(page.get_by_text("サインインしてください")).wait_for()
    for field in ("points_before", "points_after", "yen_before", "yen_after", "yen_change"):
        assert result.locator(f"[data-field='{field}']").inner_text() == "—", field
