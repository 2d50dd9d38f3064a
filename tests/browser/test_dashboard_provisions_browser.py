"""The データ提供 page as staff use it: prefecture staff reach it from the navigation and see
the two lists and the legal bases; municipal staff are refused."""

from __future__ import annotations

from typing import Any

import pytest

from kokuho.cli._dashboard import sign_in, wait_for_figures
from kokuho.web.dashboard import MUNICIPAL_PASSWORD, PREFECTURE_PASSWORD

pytestmark = pytest.mark.slow


def test_prefecture_staff_open_the_provisions_page(demo_url: str, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo_url, "pref", PREFECTURE_PASSWORD)
    wait_for_figures(page)
    page.get_by_role("navigation").get_by_role("link", name="データ提供").click()
    wait_for_figures(page)
    assert page.locator("main h1").inner_text() == "データ提供・法定の求め"
    for table_id in ("provisions", "requests"):
        assert page.locator(f'table[data-table="{table_id}"]').count() == 1
        assert page.locator(f"#t-{table_id} a.download", has_text="CSV").count() == 1
    assert page.get_by_text("市町村 ← 後期高齢者医療広域連合 (一体的実施)").count() >= 1
    # A statutory request names the insurer that provides (提供元, migration 0015).
    headers = page.locator('table[data-table="requests"] th').all_inner_texts()
    assert "提供元の保険者 (保険者番号)" in [h.strip() for h in headers]


def test_municipal_staff_are_refused_the_provisions_page(demo_url: str, new_page: Any) -> None:
    page = new_page()
    sign_in(page, demo_url, "takamatsu", MUNICIPAL_PASSWORD)
    answer = page.goto(f"{demo_url}/provisions")
    assert answer is not None and answer.status == 403
    assert "県の職員のみ" in page.get_by_role("alert").inner_text()
