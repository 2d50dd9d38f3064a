"""In Chromium: the year the comparison opens on, the decimals of the 地域差指数 chart, and the
保険者努力支援制度 scores on every page (issue 11, item 7)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kokuho.cli._dashboard import sign_in, wait_for_figures
from kokuho.web.dashboard import MUNICIPAL_PASSWORD, PREFECTURE_PASSWORD

pytestmark = pytest.mark.slow

# The synthetic data end on 2023-03-31: FY2021 has passed its 実績評価 cutoff, FY2022 not.
COMPLETE, NEWEST = "2021", "2022"


def picked(page: Any) -> str:
    return str(page.locator("form.year-picker select[name=fy]").input_value())


def test_comparison_opens_on_the_newest_complete_year(demo_url: str, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    page.goto(f"{demo_url}/compare")
    wait_for_figures(page)
    assert picked(page) == COMPLETE
    guidance = page.locator("svg.chart", has=page.locator("title", has_text="特定保健指導 実施率"))
    shown = guidance.locator("text.value").all_text_contents()
    assert len(shown) == 17
    # A complete year: most municipalities' rates are not 0.0 % (集計途中 reads near 0).
    assert sum(1 for value in shown if value == "0.0%") < len(shown) / 2
    assert page.locator(".year-note").count() == 0
    option = page.locator(f"form.year-picker option[value='{NEWEST}']")
    assert "報告期限前 (集計途中)" in option.inner_text()
    # The newer year can still be picked; it stays marked.
    page.locator("form.year-picker select[name=fy]").select_option(NEWEST)
    page.wait_for_url(re.compile(rf"fy={NEWEST}"))
    wait_for_figures(page)
    assert picked(page) == NEWEST
    assert "集計途中" in page.locator(".year-note").inner_text()


def test_regional_index_labels_keep_their_decimals(demo_url: str, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    page.goto(f"{demo_url}/compare?fy={NEWEST}")
    wait_for_figures(page)
    chart = page.locator("svg.chart", has=page.locator("title", has_text="地域差指数"))
    labels = [v for v in chart.locator("text.value").all_text_contents() if v != "データなし"]
    assert len(labels) >= 5
    assert all(re.fullmatch(r"\d\.\d\d", value) for value in labels), labels
    assert len(set(labels)) >= 3  # ratios near 1, not "0" and "1"


def test_every_page_shows_the_scores_of_the_grants_page(demo_url: str, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    page.goto(f"{demo_url}/grants")
    wait_for_figures(page)
    year = page.locator("form.year-picker option:checked").inner_text().split(" ")[0]
    grants = page.locator('table[data-table="allocation"] td[data-key="points"]')
    points = [float(v.replace(",", "")) for v in grants.all_inner_texts()]
    assert len(points) == 17
    for path in ("/compare", f"/compare?fy={NEWEST}"):
        page.goto(f"{demo_url}{path}")
        wait_for_figures(page)
        listing = page.locator("section.panel", has=page.locator("h2", has_text="指標の一覧"))
        assert listing.get_by_text("データがありません").count() == 0, path
        table = page.locator('table[data-table="municipal-comparison"]')
        shown = table.locator('td[data-key="points"]').all_inner_texts()
        assert [float(v.replace(",", "")) for v in shown] == [round(p) for p in points], path
        assert table.locator("th", has_text=f"保険者努力支援制度 得点 ({year})").count() == 1
        assert year in page.locator(".scores-note").inner_text()
    page = new_page()
    sign_in(page, demo_url, "takamatsu", MUNICIPAL_PASSWORD)
    page.goto(f"{demo_url}/municipalities/370015?fy={NEWEST}")
    wait_for_figures(page)
    panel = page.locator("section.panel", has=page.locator("h2", has_text="保険者努力支援制度"))
    assert panel.get_by_text("データがありません").count() == 0
    assert year in panel.locator(".scores-note").inner_text()
    assert page.locator('table[data-table="points-by-indicator"] tbody tr').count() > 0
