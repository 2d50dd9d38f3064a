"""Which year the dashboard's pages open on, the decimals of its chart labels, and the year of
the 保険者努力支援制度 scores each page shows (over the small synthetic prefecture)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from fastapi.testclient import TestClient

from kokuho.checkups import Lake, guidance_rates
from kokuho.ids import FiscalYear
from kokuho.web import create_app
from kokuho.web.dashboard import MUNICIPAL_PASSWORD, PREFECTURE_PASSWORD
from kokuho.web.dashboard._charts import line_chart
from tests.browser.demo_home import copy_home, settings_for, shared_demo_home
from tests.test_dashboard_pages import _MUNICIPALITIES as MUNICIPALITIES
from tests.test_dashboard_pages import cells, page, percent, sign_in

TAKAMATSU = "370015"
# The synthetic data end on 2023-03-31: FY2021's 実績評価 cutoff (2022-10-31) has passed,
# FY2022's (2023-10-31) has not. The newest complete year is FY2021, the newest FY2022.
COMPLETE, NEWEST = 2021, 2022
CLAIMS_YEAR = 2022  # the synthetic claims cover FY2022 only


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    return shared_demo_home(tmp_path_factory, worker_id)


@pytest.fixture(scope="module")
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(home))) as client:
        yield client


def chosen_year(document: lxml.html.HtmlElement) -> int:
    (value,) = document.xpath("//form[@class='year-picker']//option[@selected]/@value")
    return int(value)


def options(document: lxml.html.HtmlElement) -> dict[int, str]:
    return {
        int(o.get("value")): o.text_content()
        for o in document.xpath("//form[@class='year-picker']//option")
    }


def text(document: lxml.html.HtmlElement, xpath: str) -> str:
    return " ".join(" ".join(document.xpath(xpath)).split())


# -- the year a page opens on ----------------------------------------------------------------


def test_comparison_opens_on_the_newest_complete_year(client: TestClient, home: Path) -> None:
    sign_in(client, "pref", PREFECTURE_PASSWORD)
    document = page(client, "/compare")
    assert chosen_year(document) == COMPLETE
    shown = {row["団体コード"]: row for row in cells(document, "municipal-comparison")}
    lake = Lake(home / "lake")
    for row in guidance_rates(lake, COMPLETE, ("municipality",)).to_pyarrow().to_pylist():
        assert shown[row["municipality"]]["特定保健指導 実施率"] == (
            "—" if row["rate"] is None else percent(row["rate"])
        )
    assert "集計途中" not in text(document, "//section[@class='kpis']//text()")
    assert not document.xpath("//p[contains(@class,'year-note')]")
    # The newer year can still be picked, and is marked as still being reported.
    picker = options(document)
    assert "報告期限前 (集計途中)" in picker[NEWEST]
    assert "集計途中" not in picker[COMPLETE]
    newer = page(client, f"/compare?fy={NEWEST}")
    assert chosen_year(newer) == NEWEST
    note = text(newer, "//p[contains(@class,'year-note')]//text()")
    assert "2023-10-31" in note and FiscalYear(COMPLETE).label in note


def test_municipality_detail_opens_on_the_newest_complete_year(client: TestClient) -> None:
    sign_in(client, "takamatsu", MUNICIPAL_PASSWORD)
    document = page(client, f"/municipalities/{TAKAMATSU}")
    assert chosen_year(document) == COMPLETE
    caption = text(document, "//figure[@id='t-rates-by-sex-age']//figcaption//text()")
    assert FiscalYear(COMPLETE).label in caption
    assert "報告期限前 (集計途中)" in options(document)[NEWEST]
    newer = page(client, f"/municipalities/{TAKAMATSU}?fy={NEWEST}")
    assert chosen_year(newer) == NEWEST
    assert "集計途中" in text(newer, "//p[contains(@class,'year-note')]//text()")


def test_a_year_without_data_names_the_year_shown_instead(client: TestClient) -> None:
    """``?fy=2005`` (a valid year of which the data have nothing) opens the page on a year it
    has; the page says so above its figures, where it used to replace the year silently."""
    asked = 2005
    for user, password, paths in (
        ("pref", PREFECTURE_PASSWORD, ("/compare", f"/municipalities/{TAKAMATSU}",
                                       "/eligibility", "/grants")),
        ("takamatsu", MUNICIPAL_PASSWORD, (f"/municipalities/{TAKAMATSU}/lists/overlaps",)),
    ):  # fmt: skip
        sign_in(client, user, password)
        for path in paths:
            document = page(client, f"{path}?fy={asked}")
            note = text(document, "//p[contains(@class,'year-missing')]//text()")
            assert f"{FiscalYear(asked).label} ({asked}年度) のデータはありません" in note, path
            assert "を表示しています" in note, path
            shown = int(note.split("のデータはありません。")[1].split("年度)")[0].split("(")[1])
            assert shown != asked, path
            # The year the page shows is named, and a year it has is shown without the note.
            assert not page(client, f"{path}?fy={shown}").xpath(
                "//p[contains(@class,'year-missing')]"
            ), path
            assert not page(client, path).xpath("//p[contains(@class,'year-missing')]"), path


@pytest.fixture(scope="module")
def early_home(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo home with only FY2022's eligibility snapshot: no year is complete."""
    copy = copy_home(home, tmp_path_factory.mktemp("early") / "home")
    for year in (2020, 2021):
        shutil.rmtree(copy / "lake" / "eligibility" / f"fiscal_year={year}")
    return copy


def test_without_a_complete_year_the_newest_opens_and_the_page_says_so(
    early_home: Path,
) -> None:
    with TestClient(create_app(settings_for(early_home))) as client:
        sign_in(client, "pref", PREFECTURE_PASSWORD)
        for path in ("/compare", f"/municipalities/{TAKAMATSU}"):
            document = page(client, path)
            assert chosen_year(document) == NEWEST, path
            note = text(document, "//p[contains(@class,'year-note')]//text()")
            assert "報告期限を過ぎた年度がまだない" in note, path
            assert "最新の年度を表示" in note, path


# -- decimals on the charts ------------------------------------------------------------------


@pytest.fixture(scope="module")
def claim_figures(home: Path) -> Any:
    from kokuho.claims import ClaimsLake, claims_figures
    from kokuho.store import connect

    engine = connect(f"sqlite:///{home / 'kokuho.db'}")
    try:
        return claims_figures(ClaimsLake(home / "lake"), engine, CLAIMS_YEAR)
    finally:
        engine.dispose()


def test_regional_index_labels_keep_their_decimals(client: TestClient, claim_figures: Any) -> None:
    sign_in(client, "pref", PREFECTURE_PASSWORD)
    document = page(client, f"/compare?fy={CLAIMS_YEAR}")
    names = {row["団体コード"]: row["市町"] for row in cells(document, "municipal-comparison")}
    (chart,) = document.xpath("//svg[title[contains(text(),'地域差指数')]]")
    bars = chart.xpath("./text[contains(@class,'axis-label')]")
    labels = {
        bar.text_content(): bar.xpath("./following-sibling::text[1]")[0].text_content()
        for bar in bars
    }
    checked = set()
    for number, figures in claim_figures.insurers.items():
        if figures.regional_index is not None and number in MUNICIPALITIES:
            label = labels[names[MUNICIPALITIES[number]]]
            assert label == f"{figures.regional_index:.2f}", number
            checked.add(label)
    assert len(checked) >= 3  # ratios near 1 that whole numbers would show alike


def test_line_chart_ticks_of_ratios_keep_their_decimals() -> None:
    chart = line_chart("地域差指数", "推移", ["R2", "R3", "R4"], {"x": [0.97, 1.01, 1.03]},
                       percent=False)  # fmt: skip
    document = lxml.html.fromstring(str(chart))
    ticks = document.xpath("//text[@class='axis-label' and @text-anchor='end']/text()")
    assert len(set(ticks)) == len(ticks) == 5  # five distinct ticks, none "1" twice
    dots = document.xpath("//circle/title/text()")
    assert [d.rsplit(": ", 1)[1] for d in dots] == ["0.97", "1.01", "1.03"]


# -- the year of the 保険者努力支援制度 scores -------------------------------------------------


def number(shown: str) -> float:
    return float(shown.replace(",", "").removesuffix("点"))


def test_every_page_shows_the_scores_of_the_grants_page(client: TestClient) -> None:
    sign_in(client, "pref", PREFECTURE_PASSWORD)
    grants = page(client, "/grants")
    label = FiscalYear(chosen_year(grants)).label
    points = {row["保険者番号"]: number(row["得点"]) for row in cells(grants, "allocation")}
    assert len(points) == 17
    for path in ("/compare", *(f"/compare?fy={y}" for y in (2020, 2021, 2022))):
        document = page(client, path)
        rows = {row["団体コード"]: row for row in cells(document, "municipal-comparison")}
        column = f"保険者努力支援制度 得点 ({label})"
        for insurer, code in MUNICIPALITIES.items():
            assert number(rows[code][column]) == round(points[insurer]), (path, insurer)
        assert "データがありません" not in text(document, "//section[h2='指標の一覧']//text()")
        note = text(document, "//p[contains(@class,'scores-note')]//text()")
        assert label in note and "交付金のページと同じ" in note, path
    sign_in(client, "takamatsu", MUNICIPAL_PASSWORD)
    for year in (2020, 2021, 2022):
        document = page(client, f"/municipalities/{TAKAMATSU}?fy={year}")
        caption = text(document, "//figure[@id='t-points-by-indicator']//figcaption//text()")
        assert label in caption, year
        kpi = document.xpath("//section[@class='kpis']//span[@class='value']/text()")[0]
        assert number(kpi) == round(points[TAKAMATSU]), year
        assert label in text(document, "//p[contains(@class,'scores-note')]//text()")


# -- what a page says when there are no claims -----------------------------------------------

CLAIMS_PAGES = (f"/municipalities/{TAKAMATSU}", "/compare", "/eligibility")


def test_a_year_without_claims_names_the_years_with_claims(client: TestClient) -> None:
    """Claims are loaded (FY2022), only not for FY2021: no page tells the user to load them."""
    sign_in(client, "pref", PREFECTURE_PASSWORD)
    for path in CLAIMS_PAGES:
        shown = text(page(client, f"{path}?fy={COMPLETE}"), "//main//text()")
        assert f"{COMPLETE}年度のレセプトはありません" in shown, path
        assert f"レセプトがある年度: {CLAIMS_YEAR}年度" in shown, path
        assert "claims ingest" not in shown, path
    # The year that has them shows them.
    detail = page(client, f"/municipalities/{TAKAMATSU}?fy={CLAIMS_YEAR}")
    assert "後発医薬品使用割合" in text(detail, "//main//text()")
    assert "レセプトはありません" not in text(detail, "//main//text()")


@pytest.fixture(scope="module")
def home_without_claims(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = copy_home(home, tmp_path_factory.mktemp("noclaims") / "home")
    (copy / "lake" / "claims_manifest.json").unlink()
    return copy


def test_without_any_claims_the_pages_say_to_ingest_them(home_without_claims: Path) -> None:
    with TestClient(create_app(settings_for(home_without_claims))) as client:
        sign_in(client, "pref", PREFECTURE_PASSWORD)
        for path in CLAIMS_PAGES:
            shown = text(page(client, f"{path}?fy={CLAIMS_YEAR}"), "//main//text()")
            assert "レセプトを取り込んでください (kokuho claims ingest)" in shown, path
            assert "レセプトはありません" not in shown, path
