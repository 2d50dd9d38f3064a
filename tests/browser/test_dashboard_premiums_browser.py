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
) -> Iterator[tuple[str, CollectionRate, tuple[int, int]]]:
    """A copy of the demo prefecture (which assesses and collects FY2020–22 itself) with two
    more FY2021 調定 and a payment recorded for 高松市; the server's URL, the premiums room's own
    FY2021 収納率 of 高松市, and what the demo alone had charged and collected."""
    home = copy_home(
        shared_demo_home(tmp_path_factory, worker_id), tmp_path_factory.mktemp("premiums") / "home"
    )
    engine = connect(settings_for(home).database_url)
    try:
        before = _current(engine)
        decided = dt.date(2021, 6, 15)
        for household, amount in (("T1", 10_000), ("T2", 5_000)):
            record_charges(engine, assessment(household, 2021, [amount] * 10), decided, "initial")
        rows = [payment("t1", "T1", 2021, "2021-07-01", 100_000)]
        import_payments(engine, write_payments(home / "payments.csv", rows))
        [rate] = [r for r in collection_rates(engine, 2021) if r.municipality == CITY]
    finally:
        engine.dispose()
    with served(home) as url:
        yield url, rate, before


def _current(engine: Any) -> tuple[int, int]:
    """高松市's FY2021 現年分 調定額 and 収納額 (0, 0 when it has none)."""
    found = [r for r in collection_rates(engine, 2021) if r.municipality == CITY]
    return (found[0].current_charged, found[0].current_collected) if found else (0, 0)


def test_open_the_page_and_download_its_table(
    premiums_url: tuple[str, CollectionRate, tuple[int, int]], new_page: Any
) -> None:
    url, rate, (charged_before, collected_before) = premiums_url
    page = new_page()
    sign_in(page, url, "takamatsu", MUNICIPAL_PASSWORD)
    page.get_by_role("navigation").get_by_role("link", name="保険料・収納").click()
    wait_for_figures(page)
    assert page.locator("main h1").inner_text() == "保険料・収納"
    # The page opens on the newest year with 調定 (FY2022 in the demo); pick FY2021.
    page.goto(f"{url}/premiums?fy=2021")
    wait_for_figures(page)
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
    # By hand: T1 10 × 10,000 and T2 10 × 5,000 charged, T1's 100,000 paid.
    assert (rate.current_charged - charged_before, rate.current_collected - collected_before) == (
        150_000,
        100_000,
    )

    pref = new_page()
    sign_in(pref, url, "pref", PREFECTURE_PASSWORD)
    pref.goto(f"{url}/premiums")
    wait_for_figures(pref)
    assert pref.locator('table[data-table="levy"] tbody tr').count() > 0
