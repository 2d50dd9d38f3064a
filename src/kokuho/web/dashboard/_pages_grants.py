"""交付金: the 保険者努力支援制度 allocation to every municipality, the 調整交付金, and the
what-if panel (move a rate, see points and yen change)."""

from __future__ import annotations

from kokuho.ids import FiscalYear
from kokuho.web.dashboard import _sources as src
from kokuho.web.dashboard._accounts import User
from kokuho.web.dashboard._charts import bar_chart
from kokuho.web.dashboard._page import Page, Pending, waiting
from kokuho.web.dashboard._pages import result, year_missing
from kokuho.web.dashboard._scores import grant_year, scores_note
from kokuho.web.dashboard._site import Dashboard
from kokuho.web.dashboard._tabular import table


def grants(dashboard: Dashboard, user: User, asked: int | None) -> Page | Pending:
    years = dashboard.grant_years()
    year = grant_year(years, asked)
    page = Page(
        "grants.html",
        "交付金",
        {
            "year": year,
            "years": years,
            "missing": None,
            "levers": [],
            "default_insurer": None,
            "scores_note": None,
            "year_missing": year_missing(asked, year),
        },
    )
    if year is None:
        page.context["missing"] = src.Missing(src.INCENTIVES_HINT)
        return page
    job = dashboard.incentives(year)
    if pending := waiting("交付金", job):
        return pending
    board = result(job)
    if not isinstance(board, src.IncentivesView):
        page.context["missing"] = board
        return page
    places = dashboard.municipalities()
    rows = [
        {
            "code": m.code,
            "name": m.name,
            "insurer": m.insurer_number,
            "points": board.points.get(m.insurer_number),
            "grant": board.grants.get(m.insurer_number),
        }
        for m in places
    ]
    page.add(
        table(
            "allocation",
            f"保険者努力支援制度 (市町村分) 交付額 ({FiscalYear(year).label})",
            [
                ("code", "団体コード"),
                ("name", "市町"),
                ("insurer", "保険者番号"),
                ("points", "得点", "float"),
                ("grant", "交付額", "yen"),
            ],
            rows,
        )
    )
    if board.adjustment:
        page.add(
            table(
                "adjustment",
                f"調整交付金 ({FiscalYear(year).label}、県が先頭)",
                [
                    ("prefecture", "都道府県番号"),
                    ("name", "都道府県"),
                    ("insured", "被保険者数", "int"),
                    ("ordinary", "普通調整交付金", "yen"),
                    ("provisional", "暫定措置", "yen"),
                    ("special", "特別調整交付金", "yen"),
                    ("total", "合計", "yen"),
                ],
                board.adjustment,
            )
        )
    visible = [m for m in places if user.may_see_municipality(m.insurer_number)]
    page.context.update(
        board=board,
        scores_note=scores_note(board, elsewhere=False),
        levers=board.levers,
        places=visible,
        default_insurer=(user.insurer_number or (visible[0].insurer_number if visible else None)),
        grant_chart=bar_chart(
            "市町村ごとの交付額",
            "保険者努力支援制度 (市町村分) の交付額。数値は下の表にあります。",
            [m.name for m in places],
            [board.grants.get(m.insurer_number) for m in places],
            percent=False,
            highlight=user.municipality_name,
            unit="円",
        ),
    )
    return page
