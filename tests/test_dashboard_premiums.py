"""The 保険料・収納 page: every figure it shows equals the premiums room's own results on a
small database whose 調定, payments and refunds were recorded through the public API; the
access rules (a municipality sees only itself); parameter checks; the page before any 調定.
On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import lxml.html
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from kokuho.premiums import (
    arrears,
    collection_rates,
    compare_rates,
    decide_refunds,
    example_levy_inputs,
    import_payments,
    levy,
    load_levy_rules,
    load_premium_rules,
    record_charges,
)
from kokuho.store import connect
from kokuho.web import create_app
from tests.dashsite import MUNICIPAL, PREFECTURE, build_site, sign_in
from tests.feedfiles import KOKUHO, KYOKAI
from tests.premiumrows import CITY, assessment, payment, write_payments
from tests.test_premiums_collection_rate import _small_city

D = dt.date.fromisoformat
#: FY2021's figures are counted on its 出納閉鎖 (31 May 2022): the test runs long after.
AS_OF = D("2022-05-31")


def _refunds(engine: sa.Engine, tmp_path: Path) -> None:
    """G overpays FY2019 by 1,000 (refund decided 2019-08-01, claim lapses after 2021-08-01,
    within FY2021); H overpays FY2021's first 納期 by 1,000 (refund decided 2021-08-01)."""
    record_charges(engine, assessment("G", 2019, [1_000] * 10), D("2019-06-15"), "initial")
    record_charges(engine, assessment("H", 2021, [1_000] * 10), D("2021-06-15"), "initial")
    rows = [
        payment("g19", "G", 2019, "2019-07-01", 11_000),
        payment("h21", "H", 2021, "2021-07-10", 2_000, instalment=1),
    ]
    import_payments(engine, write_payments(tmp_path / "overpaid.csv", rows))
    assert [s.amount for s in decide_refunds(engine, CITY, D("2019-08-01"))] == [1_000]
    assert [s.amount for s in decide_refunds(engine, CITY, D("2021-08-01"))] == [1_000]


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, sa.Engine, Path]]:
    built = build_site(database_url, tmp_path)
    engine = connect(database_url)
    with TestClient(create_app(built.settings)) as client:
        yield client, engine, tmp_path
    engine.dispose()


@pytest.fixture
def recorded(
    site: tuple[TestClient, sa.Engine, Path],
) -> Iterator[tuple[TestClient, sa.Engine]]:
    client, engine, tmp_path = site
    _small_city(engine, tmp_path)
    _refunds(engine, tmp_path)
    yield client, engine


def _get(client: TestClient, path: str) -> str:
    deadline = time.monotonic() + 120
    while True:  # the figures are computed in the background: the page shows progress
        answer = client.get(path)
        if "集計中です" not in answer.text or time.monotonic() > deadline:
            assert answer.status_code == 200, answer.text[:300]
            return answer.text


def _csv(client: TestClient, path: str, table: str) -> list[dict[str, str]]:
    # The download is the page's own URL with ?download=…&format=… appended.
    answer = client.get(f"{path}&download={table}&format=csv")
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def _pct(rate: object) -> str:
    return "" if rate is None else str(round(float(rate) * 100, 4))  # type: ignore[arg-type]


def _rate_columns(rate: object) -> dict[str, str]:
    from kokuho.premiums import CollectionRate

    assert isinstance(rate, CollectionRate)
    return {
        "現年分 調定額": str(rate.current_charged),
        "現年分 収納額": str(rate.current_collected),
        "現年分 収納率 (%)": _pct(rate.current_rate),
        "滞納繰越分 調定額": str(rate.carried_charged),
        "滞納繰越分 収納額": str(rate.carried_collected),
        "滞納繰越分 収納率 (%)": _pct(rate.carried_rate),
        "滞納繰越分 不納欠損額": str(rate.carried_written_off),
        "調定額 (過年度分を含む)": str(rate.current_charged + rate.carried_charged),
        "収納額 (過年度分を含む)": str(rate.current_collected + rate.carried_collected),
        "収納率 (過年度分を含む) (%)": _pct(rate.total_rate),
    }


def test_municipal_figures_equal_the_premiums_api(recorded: tuple[TestClient, sa.Engine]) -> None:
    client, engine = recorded
    assert sign_in(client, MUNICIPAL).status_code == 303
    page = "/premiums?fy=2021"
    document = lxml.html.fromstring(_get(client, page))
    # The year picker offers every year with 調定, the chart has its table.
    years = document.xpath("//form[@class='year-picker']//option/@value")
    assert years == ["2019", "2020", "2021"]
    assert document.xpath("//section[@id='trend']//svg/title")

    [city] = [r for r in collection_rates(engine, 2021) if r.municipality == CITY]
    [row] = _csv(client, page, "collection")
    assert row == {"団体コード": CITY, "市町": "高松市"} | _rate_columns(city)
    # The worked example's own figures (tests/test_premiums_collection_rate.py) plus H, whose
    # 1,000 over its first 納期 is 過誤納 (refunded), not 収納.
    assert row["収納率 (過年度分を含む) (%)"] == _pct((164_000 + 1_000) / (180_000 + 10_000))

    trend = _csv(client, page, "trend")
    expected = []
    for year in (2019, 2020, 2021):
        [rate] = [r for r in collection_rates(engine, year) if r.municipality == CITY]
        expected.append({"年度": f"{_label(year)} ({year}年度)"} | _rate_columns(rate))
    assert trend == expected

    report = arrears(engine, CITY, AS_OF)
    [owed] = _csv(client, page, "arrears")
    assert owed["滞納世帯数"] == str(report.households) != "0"
    assert (owed["現年分 未納額"], owed["滞納繰越分 未納額"]) == (
        str(report.current),
        str(report.carried_over),
    )
    assert {k.removesuffix("日"): int(v) for k, v in owed.items() if k.endswith("日")} == (
        report.by_age
    )
    assert owed["時効完成・不納欠損未処理"] == str(report.prescribed_total)
    # Counted by hand from _refunds: H's refund in FY2021; G's claim lapsed on 2021-08-02.
    [refunds] = _csv(client, page, "refunds")
    assert (refunds["還付 件数"], refunds["還付額"]) == ("1", "1000")
    assert (refunds["時効 件数"], refunds["時効額"]) == ("1", "1000")
    # The municipality sees no 納付金 panel (the prefecture's) and only its own row.
    assert not document.xpath("//section[@id='levy']")
    excel = client.get(f"{page}&download=collection&format=xlsx")
    assert excel.status_code == 200 and excel.content[:2] == b"PK"


def _label(year: int) -> str:
    from kokuho.ids import FiscalYear

    return FiscalYear(year).label


def test_prefecture_sees_levy_beside_the_rule_files(
    recorded: tuple[TestClient, sa.Engine],
) -> None:
    client, engine = recorded
    assert sign_in(client, PREFECTURE).status_code == 303
    page = f"/premiums?fy=2020&insurer={KOKUHO}"
    document = lxml.html.fromstring(_get(client, page))
    # Changing the year keeps the municipality picked for the trend.
    picker = document.xpath("//form[@class='year-picker']//input[@name='insurer']/@value")
    assert picker == [KOKUHO]
    assert document.xpath("//section[@id='trend']//table[@data-table='trend']")
    [row] = _csv(client, page, "collection")
    [rate] = [r for r in collection_rates(engine, 2020) if r.municipality == CITY]
    assert row == {"団体コード": CITY, "市町": "高松市"} | _rate_columns(rate)

    result = levy(example_levy_inputs(), load_levy_rules(2020))
    # The chart's bars read as yen, the unit the table shows them in.
    values = document.xpath("//section[@id='levy']//svg[@class='chart']//text[@class='value']")
    assert [v.text for v in values] == [f"{m.levy:,}円" for m in result.municipalities]
    shown = _csv(client, page, "levy")
    assert len(shown) == sum(len(m.parts) for m in result.municipalities)
    by_key = {(r["団体コード"], r["区分"]): r for r in shown}
    names = {"medical": "医療分", "support": "後期高齢者支援金等分", "care": "介護納付金分"}
    for municipality in result.municipalities:
        rules = load_premium_rules(2020, municipality.code).municipal.parts
        for part in municipality.parts:
            r = by_key[(municipality.code, names[part.part])]
            assert int(r["納付金"]) == part.levy
            assert Decimal(r["標準 所得割率 (%)"]) == part.rates.income_rate
            assert int(r["標準 均等割額"]) == part.rates.per_capita
            own = rules.of(part.part)
            assert Decimal(r["実際 所得割率 (%)"]) == own.income_rate * 100
            assert int(r["実際 平等割額"]) == own.per_household
    actual = {
        m.code: {p: load_premium_rules(2020, m.code).municipal.parts.of(p) for p in names}
        for m in result.municipalities
    }
    from kokuho.premiums import ActualRates

    differences = compare_rates(
        result,
        {
            code: {p: ActualRates(r.income_rate * 100, r.per_capita, r.per_household)
                   for p, r in parts.items()}
            for code, parts in actual.items()
        },
    )  # fmt: skip
    for d in differences:
        r = by_key[(d.code, names[d.part])]
        assert (Decimal(r["差 所得割率 (ポイント)"]), int(r["差 均等割額"])) == (
            d.income_rate,
            d.per_capita,
        )


def test_a_municipality_sees_no_other(recorded: tuple[TestClient, sa.Engine]) -> None:
    client, _ = recorded
    assert sign_in(client, MUNICIPAL).status_code == 303
    for other in (KYOKAI, "372021"):
        answer = client.get("/premiums", params={"insurer": other})
        assert answer.status_code == 403, other
        answer = client.get("/premiums", params={"insurer": other, "download": "collection"})
        assert answer.status_code == 403 and "text/csv" not in answer.headers["content-type"]
    assert client.get("/premiums", params={"insurer": KOKUHO}).status_code == 200
    # A year without 調定 says so and names the years that have them.
    text = _get(client, "/premiums?fy=2030")
    assert "2030年度" in text and "調定はありません" in text and "調定がある年度" in text
    assert "2021年度" in text


def test_the_prefecture_asking_for_no_municipality_is_told_so(
    recorded: tuple[TestClient, sa.Engine],
) -> None:
    """A 保険者番号 of no 市町村国保 (協会けんぽ, a number nobody holds, 高松市 in 8 digits) is
    a 404 that names it, as on 市町村の詳細: not the page without its trend, which read as
    if the municipality had no 調定."""
    client, _ = recorded
    assert sign_in(client, PREFECTURE).status_code == 303
    for other in (KYOKAI, "999999", "00" + KOKUHO):
        answer = client.get("/premiums", params={"fy": "2021", "insurer": other})
        assert answer.status_code == 404, (other, answer.text[:300])
        assert f"保険者番号 {other} の市町村国保はありません" in answer.text
        download = client.get("/premiums", params={"insurer": other, "download": "collection"})
        assert download.status_code == 404 and "text/csv" not in download.headers["content-type"]
    assert 'data-table="trend"' in _get(client, f"/premiums?fy=2021&insurer={KOKUHO}")


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ({"fy": "1999"}, "fy"),
        ({"fy": "２０２１"}, "fy"),
        ({"insurer": "37001"}, "insurer"),
        ({"insurer": "370015\x00"}, "insurer"),
        ({"download": "collection", "format": "pdf"}, "format"),
        ({"download": "<b>"}, "download"),
    ],
)
def test_bad_parameters_are_400s(
    site: tuple[TestClient, sa.Engine, Path], query: dict[str, str], name: str
) -> None:
    client, _, _ = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    answer = client.get("/premiums", params=query)
    assert answer.status_code == 400, answer.text[:300]
    assert name in answer.text


def test_before_any_charge_the_page_names_the_commands(
    site: tuple[TestClient, sa.Engine, Path],
) -> None:
    client, _, _ = site
    assert sign_in(client, MUNICIPAL).status_code == 303
    text = _get(client, "/premiums")
    assert "調定がまだありません" in text
    assert "kokuho premiums assess" in text and "kokuho premiums payments import" in text
    assert 'href="/premiums" aria-current="page"' in text
    assert "納付金と標準保険料率" not in text  # the prefecture's panel
    # The prefecture's 納付金 do not wait for 調定: they come from the levy inputs.
    assert sign_in(client, PREFECTURE).status_code == 303
    document = lxml.html.fromstring(_get(client, "/premiums"))
    assert "調定がまだありません" in document.text_content()
    assert document.xpath('//table[@data-table="levy"]/tbody/tr')


def test_the_prefectures_levy_inputs_file(
    site: tuple[TestClient, sa.Engine, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """KOKUHO_LEVY_INPUTS names the prefecture's file; one the formula cannot use is named on
    the page with its line and field, and the rest of the page still works."""
    client, _, tmp_path = site
    bad = tmp_path / "levy-inputs.yaml"
    bad.write_text("fiscal_year: 2020\ntotals:\n  medical: 1_000\n", encoding="utf-8")
    monkeypatch.setenv("KOKUHO_LEVY_INPUTS", str(bad))
    assert sign_in(client, PREFECTURE).status_code == 303
    document = lxml.html.fromstring(_get(client, "/premiums"))
    [note] = document.xpath("//section[@id='levy']/p[@class='note']")
    assert f"{bad}:3: totals: part 'support' is missing" in note.text_content()
    assert not document.xpath('//table[@data-table="levy"]')
    assert "調定がまだありません" in document.text_content()
