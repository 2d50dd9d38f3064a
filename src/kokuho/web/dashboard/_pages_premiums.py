"""保険料・収納: 調定額, 収納額 and 収納率 per fiscal year with their trend, 滞納 by age band,
還付 and 時効 counts; for the prefecture every municipality side by side and the 納付金 and
標準保険料率 beside each municipality's actual rates. Counts and sums only (no person list)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from kokuho.ids import FiscalYear
from kokuho.premiums import PART_NAMES, CollectionRate, charged_years
from kokuho.web.dashboard import _sources as src
from kokuho.web.dashboard._accounts import User
from kokuho.web.dashboard._charts import bar_chart, line_chart
from kokuho.web.dashboard._figures_premiums import (
    LevyView,
    MunicipalPremiums,
    PremiumFigures,
    levy_view,
    premium_figures,
)
from kokuho.web.dashboard._figures_register import Municipality
from kokuho.web.dashboard._page import NotFound, Page, Pending, Refused, waiting
from kokuho.web.dashboard._pages import result
from kokuho.web.dashboard._site import Dashboard
from kokuho.web.dashboard._tabular import DataTable, table

TITLE = "保険料・収納"
#: Shown when no 調定 is recorded: the commands that record them.
CHARGES_HINT = (
    "調定がまだありません。賦課 (kokuho premiums assess …) で調定を記録し、"
    "納付を取り込んでください (kokuho premiums payments import)"
)
RATE_COLUMNS: list[tuple[str, str, Any]] = [
    ("current_charged", "現年分 調定額", "yen"),
    ("current_collected", "現年分 収納額", "yen"),
    ("current_rate", "現年分 収納率", "percent"),
    ("carried_charged", "滞納繰越分 調定額", "yen"),
    ("carried_collected", "滞納繰越分 収納額", "yen"),
    ("carried_rate", "滞納繰越分 収納率", "percent"),
    ("carried_written_off", "滞納繰越分 不納欠損額", "yen"),
    ("total_charged", "調定額 (過年度分を含む)", "yen"),
    ("total_collected", "収納額 (過年度分を含む)", "yen"),
    ("total_rate", "収納率 (過年度分を含む)", "percent"),
]


def fiscal_label(year: int) -> str:
    """令和3年度 (2021年度): the 和暦 with the 西暦 beside it, as the year picker shows it."""
    return f"{FiscalYear(year).label} ({year}年度)"


def rate_row(rate: CollectionRate) -> dict[str, Any]:
    """One 収納率 as a table row: yen, and rates as fractions (shown as percentages)."""

    def share(value: Fraction | None) -> float | None:
        return None if value is None else float(value)

    return {
        "current_charged": rate.current_charged,
        "current_collected": rate.current_collected,
        "current_rate": share(rate.current_rate),
        "carried_charged": rate.carried_charged,
        "carried_collected": rate.carried_collected,
        "carried_rate": share(rate.carried_rate),
        "carried_written_off": rate.carried_written_off,
        "total_charged": rate.current_charged + rate.carried_charged,
        "total_collected": rate.current_collected + rate.carried_collected,
        "total_rate": share(rate.total_rate),
    }


def premiums(
    dashboard: Dashboard, user: User, asked: int | None, insurer: str | None
) -> Page | Pending | Refused | NotFound:
    if insurer is not None and not user.may_see_municipality(insurer):
        return Refused(TITLE, "他の市町村の保険料・収納は表示できません")
    places = [m for m in dashboard.municipalities() if user.may_see_municipality(m.insurer_number)]
    focus = insurer or user.insurer_number
    chosen = next((m for m in places if m.insurer_number == focus), None)
    if insurer is not None and chosen is None:
        return NotFound(TITLE, f"保険者番号 {insurer} の市町村国保はありません")
    years = charged_years(dashboard.engine)
    year = asked if asked is not None else (years[-1] if years else None)
    page = Page(
        "premiums.html",
        TITLE,
        {
            "year": year,
            "years": years,
            "missing": None,
            "places": places if user.is_prefecture else [],
            "focus": chosen,
            "levy": None,
        },
    )
    if user.is_prefecture:
        # A few rule files and exact arithmetic (tens of ms): no background job needed.
        page.context["levy"] = _levy(page, levy_view())
    if not years:
        page.context["missing"] = src.Missing(CHARGES_HINT)
        return page
    if year not in years:
        shown = "、".join(fiscal_label(y) for y in years)
        page.context["missing"] = src.Missing(
            f"{fiscal_label(year or 0)}の調定はありません", f"調定がある年度: {shown}"
        )
        return page
    job = dashboard.cache.get(
        f"premiums:{year}",
        lambda job: premium_figures(dashboard.engine, year, years, dashboard.today(), job.report),
    )
    if pending := waiting(TITLE, job):
        return pending
    figures = result(job)
    if not isinstance(figures, PremiumFigures):
        page.context["missing"] = figures
        return page
    _collection(page, figures, places)
    if chosen is not None:
        _trend(page, figures, chosen)
    page.context["as_of"] = figures.as_of
    return page


def _collection(page: Page, figures: PremiumFigures, places: list[Municipality]) -> None:
    label = FiscalYear(figures.fiscal_year).label
    shown = [(m, figures.municipalities.get(m.code)) for m in places]
    bands = next((list(f.arrears.by_age) for f in figures.municipalities.values()), [])
    rows, arrears_rows, refund_rows = [], [], []
    for m, found in shown:
        head = {"code": m.code, "name": m.name}
        rate = found.rates.get(figures.fiscal_year) if found else None
        rows.append(head | (rate_row(rate) if rate else {}))
        arrears_rows.append(head | _arrears_row(found, bands))
        refund_rows.append(
            head
            | (
                {
                    "refunds": found.refunds.refunds,
                    "refunded": found.refunds.refunded,
                    "lapsed": found.refunds.lapsed,
                    "lapsed_amount": found.refunds.lapsed_amount,
                }
                if found
                else {}
            )
        )
    place = [("code", "団体コード"), ("name", "市町")]
    page.add(
        table("collection", f"調定額・収納額・収納率 ({label})", [*place, *RATE_COLUMNS], rows),
        table(
            "arrears",
            f"滞納 (納期限の経過日数別、{figures.as_of.isoformat()} 現在)",
            [
                *place,
                ("households", "滞納世帯数", "int"),
                ("current", "現年分 未納額", "yen"),
                ("carried_over", "滞納繰越分 未納額", "yen"),
                *[(f"age_{band}", f"{band}日", "yen") for band in bands],
                ("prescribed", "時効完成・不納欠損未処理", "yen"),
            ],
            arrears_rows,
            note=(
                "件数と金額のみ (世帯の一覧は kokuho premiums arrears)。時効が完成した期は滞納に"
                "含めず、不納欠損 (kokuho premiums write-offs run) まで別に示します。"
            ),
        ),
        table(
            "refunds",
            f"還付と時効 ({label}、{figures.as_of.isoformat()} 現在)",
            [
                *place,
                ("refunds", "還付 件数", "int"),
                ("refunded", "還付額", "yen"),
                ("lapsed", "時効 件数", "int"),
                ("lapsed_amount", "時効額", "yen"),
            ],
            refund_rows,
        ),
    )
    page.context["rate_chart"] = bar_chart(
        f"収納率 (過年度分を含む、{label})",
        "市町ごとの保険料収納率 (過年度分を含む)。数値は下の表にあります。",
        [m.name for m, _ in shown],
        [page.tables["collection"].rows[i].get("total_rate") for i in range(len(shown))],
    )


def _arrears_row(found: MunicipalPremiums | None, bands: list[str]) -> dict[str, Any]:
    if found is None:
        return {}
    report = found.arrears
    return {
        "households": report.households,
        "current": report.current,
        "carried_over": report.carried_over,
        **{f"age_{band}": report.by_age.get(band, 0) for band in bands},
        "prescribed": report.prescribed_total,
    }


def _trend(page: Page, figures: PremiumFigures, chosen: Municipality) -> None:
    found = figures.municipalities.get(chosen.code)
    rows = [
        {"year": fiscal_label(year)} | rate_row(rate)
        for year in figures.years
        if found is not None and (rate := found.rates.get(year)) is not None
    ]
    trend = table("trend", f"収納率の推移 ({chosen.name})", [("year", "年度"), *RATE_COLUMNS], rows)
    page.add(trend)
    page.context["trend_chart"] = line_chart(
        f"収納率の推移 ({chosen.name})",
        "年度ごとの収納率: 現年分、滞納繰越分、過年度分を含む。数値は下の表にあります。",
        trend.values("year"),
        {
            "現年分": trend.values("current_rate"),
            "滞納繰越分": trend.values("carried_rate"),
            "過年度分を含む": trend.values("total_rate"),
        },
    )


def _levy(page: Page, view: LevyView | str) -> dict[str, Any]:
    if isinstance(view, str):
        return {"error": view}
    rows = []
    for municipality in view.result.municipalities:
        for part in municipality.parts:
            actual = view.actual.get(municipality.code, {}).get(part.part)
            diff = view.differences.get((municipality.code, part.part))
            rows.append(
                {
                    "code": municipality.code,
                    "name": municipality.name,
                    "part": PART_NAMES[part.part],
                    "levy": part.levy,
                    "income_rate": float(part.rates.income_rate),
                    "per_capita": part.rates.per_capita,
                    "per_household": part.rates.per_household,
                    "actual_income_rate": float(actual.income_rate) if actual else None,
                    "actual_per_capita": actual.per_capita if actual else None,
                    "actual_per_household": actual.per_household if actual else None,
                    "diff_income_rate": float(diff.income_rate) if diff else None,
                    "diff_per_capita": diff.per_capita if diff else None,
                    "diff_per_household": diff.per_household if diff else None,
                }
            )
    levy_table: DataTable = table(
        "levy",
        f"納付金と標準保険料率 ({FiscalYear(view.result.fiscal_year).label})",
        [
            ("code", "団体コード"),
            ("name", "市町"),
            ("part", "区分"),
            ("levy", "納付金", "yen"),
            ("income_rate", "標準 所得割率 (%)", "index"),
            ("per_capita", "標準 均等割額", "yen"),
            ("per_household", "標準 平等割額", "yen"),
            ("actual_income_rate", "実際 所得割率 (%)", "index"),
            ("actual_per_capita", "実際 均等割額", "yen"),
            ("actual_per_household", "実際 平等割額", "yen"),
            ("diff_income_rate", "差 所得割率 (ポイント)", "index"),
            ("diff_per_capita", "差 均等割額", "yen"),
            ("diff_per_household", "差 平等割額", "yen"),
        ],
        rows,
        note="差 = 実際 − 標準 (正: 標準より高い)。実際の率は各市町の保険料ルールファイル。",
    )
    page.add(levy_table)
    return {
        "error": None,
        "inputs": view.inputs,
        "unconfirmed": view.result.unconfirmed,
        "chart": bar_chart(
            f"納付金 ({FiscalYear(view.result.fiscal_year).label})",
            "市町ごとの納付金 (医療分・後期高齢者支援金等分・介護納付金分の計)。"
            "数値は下の表にあります。",
            [m.name for m in view.result.municipalities],
            [m.levy for m in view.result.municipalities],
            percent=False,
            unit="円",
        ),
    }
