"""The 保険料・収納 page in a browser: a municipality's staff open it from the menu, see the
収納率 chart with its table, and download the table; the figures are the premiums room's."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kokuho.cli._dashboard import served, sign_in, wait_for_figures
from kokuho.premiums import CollectionRate, collection_rates, import_payments, record_charges
from kokuho.store import connect
from kokuho.web.dashboard import MUNICIPAL_PASSWORD, PREFECTURE_PASSWORD
from tests.browser.demo_home import copy_home, settings_for, shared_demo_home
from tests.premiumrows import CITY, assessment, payment, write_payments

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def premiums_url(
    browser: Any, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[tuple[str, CollectionRate]]:
    """A copy of the demo prefecture with 高松市's FY2021 調定 and payments recorded; the
    server's URL and the premiums room's own 収納率 of 高松市."""
    home = copy_home(
        shared_demo_home(tmp_path_factory, worker_id), tmp_path_factory.mktemp("premiums") / "home"
    )
    engine = connect(settings_for(home).database_url)
    try:
        decided = dt.date(2021, 6, 15)
        for household, amount in (("T1", 10_000), ("T2", 5_000)):
            record_charges(engine, assessment(household, 2021, [amount] * 10), decided, "initial")
        rows = [payment("t1", "T1", 2021, "2021-07-01", 100_000)]
        import_payments(engine, write_payments(home / "payments.csv", rows))
        [rate] = [r for r in collection_rates(engine, 2021) if r.municipality == CITY]
    finally:
        engine.dispose()
    with served(home) as url:
        yield url, rate


def test_open_the_page_and_download_its_table(
    premiums_url: tuple[str, CollectionRate], new_page: Any
) -> None:
    url, rate = premiums_url
    page = new_page()
    sign_in(page, url, "takamatsu", MUNICIPAL_PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="保険料・収納").click()
    wait_for_figures(page)
    assert page.locator("main h1").inner_text() == "保険料・収納"
    assert page.locator("#collection svg.chart").count() == 1
    shown = page.locator('table[data-table="collection"] tbody tr').count()
    assert shown == 1  # 高松市's own row only
    with page.expect_download() as info:
        page.locator("#t-collection a.download", has_text="CSV").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["団体コード"] == CITY
    assert (int(row["現年分 調定額"]), int(row["現年分 収納額"])) == (
        rate.current_charged,
        rate.current_collected,
    )
    assert (rate.current_charged, rate.current_collected) == (150_000, 100_000)  # by hand

    pref = new_page()
    sign_in(pref, url, "pref", PREFECTURE_PASSWORD)
    pref.goto(f"{url}/premiums")
    wait_for_figures(pref)
    assert pref.locator('table[data-table="levy"] tbody tr').count() > 0
