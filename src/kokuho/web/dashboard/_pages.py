"""県の概況, 市町村比較 and 市町村の詳細: the builders gather figures computed by the contexts and
lay them out; no rule of the contexts is re-implemented here."""

from __future__ import annotations

from typing import Any

from kokuho.checkups import reporting_cutoff
from kokuho.ids import FiscalYear
from kokuho.web.dashboard import _figures_checkups as fc
from kokuho.web.dashboard import _sources as src
from kokuho.web.dashboard._accounts import User
from kokuho.web.dashboard._charts import Target, bar_chart, line_chart
from kokuho.web.dashboard._figures_register import Municipality, Overview
from kokuho.web.dashboard._jobs import Job
from kokuho.web.dashboard._page import NotFound, Page, Pending, Refused, waiting
from kokuho.web.dashboard._scores import grant_year, scores_note
from kokuho.web.dashboard._site import Dashboard
from kokuho.web.dashboard._tabular import table


def result(job: Job) -> Any:
    """A finished job's figures, or Missing saying what went wrong."""
    if job.state == "failed":
        return src.Missing("集計に失敗しました", job.error or "")
    return job.result


def pick_year(dashboard: Dashboard, asked: int | None, figures: Any = None) -> int | None:
    """The year asked for when the lake has it; else, given the checkup figures, the newest
    complete year (_figures_checkups.default_year); else the newest."""
    years = dashboard.years()
    if not years:
        return None
    if asked in years:
        return asked
    if isinstance(figures, fc.CheckupFigures):
        year, _ = fc.default_year(figures)
        if year in years:
            return year
    return years[-1]


def year_missing(
    asked: int | None, shown: int | None, done: str = "を表示しています"
) -> str | None:
    """The note a page shows above its figures when the year asked for (``?fy=``) is not the
    year it shows (it has no data of that year): which year it shows instead (``done``: what
    it does with that year; the what-if says 「で試算しています」). None when no year was
    asked for, or the one asked for is shown."""
    if asked is None or shown is None or asked == shown:
        return None
    return (
        f"{FiscalYear(asked).label} ({asked}年度) のデータはありません。"
        f"{FiscalYear(shown).label} ({shown}年度) {done}。"
    )


def year_context(
    dashboard: Dashboard, year: int | None, figures: Any, asked: int | None = None
) -> dict[str, Any]:
    """The year picker's years, the ones marked 集計途中, a note when the year shown is one
    whose guidance is still being reported, and one when it is not the year ``asked``."""
    incomplete = fc.incomplete_years(figures) if isinstance(figures, fc.CheckupFigures) else []
    note = None
    if year is not None and year in incomplete:
        label = f"{FiscalYear(year).label} ({year}年度)"
        newest, complete = fc.default_year(figures)
        note = (
            f"{label}は特定保健指導の実績評価の報告期限 ({reporting_cutoff(year).isoformat()}) "
            "前のため、実施率は集計途中です。"
            + (
                f"報告期限を過ぎた最新の年度は{FiscalYear(newest).label}です。"
                if complete and newest is not None
                else "報告期限を過ぎた年度がまだないため、最新の年度を表示しています。"
            )
        )
    return {
        "year": year,
        "years": dashboard.years(),
        "incomplete": incomplete,
        "year_note": note,
        "year_missing": year_missing(asked, year),
    }


def _scores(dashboard: Dashboard) -> Job | None:
    """The 保険者努力支援制度 scores every page shows: those of the 交付金 page's year."""
    year = grant_year(dashboard.grant_years())
    return None if year is None else dashboard.incentives(year)


def overview(dashboard: Dashboard, user: User) -> Page | Pending:
    job = dashboard.overview()
    if pending := waiting("県の概況", job):
        return pending
    data = result(job)
    page = Page("overview.html", "県の概況", {"missing": None})
    if isinstance(data, src.Missing):
        page.context["missing"] = data
        return page
    assert isinstance(data, Overview)
    page.add(
        data.by_kind,
        data.by_municipality,
        data.checks_daily,
        data.institutions,
        data.onboarded,
        data.linkage,
    )
    municipal = data.by_municipality
    page.context.update(
        data=data,
        members_chart=bar_chart(
            "市町村国保の被保険者数",
            "市町村ごとの市町村国保の被保険者数。数値は下の表にあります。",
            [str(r["name"]) for r in municipal.rows],
            [float(r["members"]) for r in municipal.rows],
            percent=False,
            highlight=user.municipality_name,
        ),
        checks_chart=line_chart(
            "オンライン資格確認の件数 (日別・方法別)",
            "直近30日の資格確認の件数を方法別に示す折れ線。数値は下の表にあります。",
            [r["day"].strftime("%m/%d") for r in data.checks_daily.rows],
            {
                label: [float(r[action]) for r in data.checks_daily.rows]
                for action, label in (
                    ("check_number", "被保険者番号"),
                    ("check_card_pin", "マイナ保険証 (暗証番号)"),
                    ("check_card_face", "マイナ保険証 (顔認証)"),
                )
            },
            percent=False,
        ),
        onboarded_chart=line_chart(
            "オンライン資格確認の導入率の推移",
            "医療機関・薬局のうちオンライン資格確認を導入した施設の割合 (月末累計)。"
            "国の目標は令和4年度末 (2023年3月末) までに概ね全ての医療機関等での導入。",
            [str(r["month"]) for r in data.onboarded.rows],
            {"導入率": [r["rate"] for r in data.onboarded.rows]},
            targets=[Target(1.0, "国の目標: 令和4年度末に概ね全て")],
        ),
    )
    return page


def _claims_for(data: Any, insurer: str) -> Any:
    if isinstance(data, src.ClaimsView):
        return data.insurers.get(insurer)
    return None


def compare(dashboard: Dashboard, user: User, asked: int | None) -> Page | Pending:
    # The default year depends on the checkup figures (which years are complete), so they come
    # first; the claims of that year and the scores after.
    checkups = dashboard.checkups()
    if pending := waiting("市町村比較", checkups):
        return pending
    figures = result(checkups)
    year = pick_year(dashboard, asked, figures)
    scores = _scores(dashboard)
    claims_job = dashboard.claims(year) if year is not None else None
    if pending := waiting("市町村比較", *(j for j in (claims_job, scores) if j is not None)):
        return pending
    page = Page("compare.html", "市町村比較", year_context(dashboard, year, figures, asked))
    if year is None or isinstance(figures, src.Missing):
        page.context["missing"] = (
            figures
            if isinstance(figures, src.Missing)
            else src.Missing("特定健診のデータを取り込んでください (kokuho checkups ingest)")
        )
        return page
    claims = result(claims_job) if claims_job is not None else None
    incentives = result(scores) if scores is not None else src.Missing(src.INCENTIVES_HINT)
    targets = fc.targets_for(year)
    places = dashboard.municipalities()
    rows = []
    for m in places:
        c = figures.checkup.get((year, m.code), {})
        g = figures.guidance.get((year, m.code), {})
        k = _claims_for(claims, m.insurer_number)
        points = (
            incentives.points.get(m.insurer_number)
            if isinstance(incentives, src.IncentivesView)
            else None
        )
        rows.append(
            {
                "code": m.code,
                "name": m.name,
                "insurer": m.insurer_number,
                "link": f"/municipalities/{m.insurer_number}?fy={year}"
                if user.may_see_municipality(m.insurer_number)
                else None,
                "eligible": c.get("eligible"),
                "examined": c.get("examined"),
                "checkup_rate": c.get("rate"),
                "guidance_targets": g.get("targets"),
                "guidance_completed": g.get("completed"),
                "guidance_rate": g.get("rate"),
                "generic_share": k.generic_share if k else None,
                "duplicate_per_10k": k.duplicate_per_10k if k else None,
                "multi_drug_per_10k": k.multi_drug_per_10k if k else None,
                "cost_per_insured": k.cost_per_insured if k else None,
                "age_adjusted_cost": k.age_adjusted_cost if k else None,
                "regional_index": k.regional_index if k else None,
                "points": points,
            }
        )
    comparison = table(
        "municipal-comparison",
        f"市町村国保の指標 ({FiscalYear(year).label})",
        [
            ("code", "団体コード"),
            ("name", "市町"),
            ("eligible", "特定健診 対象者数", "int"),
            ("examined", "受診者数", "int"),
            ("checkup_rate", "特定健診 実施率", "percent"),
            ("guidance_targets", "特定保健指導 対象者数", "int"),
            ("guidance_completed", "終了者数", "int"),
            ("guidance_rate", "特定保健指導 実施率", "percent"),
            ("generic_share", "後発医薬品使用割合", "percent"),
            ("duplicate_per_10k", "重複投与者 (1万人当たり)", "float"),
            ("multi_drug_per_10k", "多剤投与者 (1万人当たり)", "float"),
            ("cost_per_insured", "一人当たり医療費", "yen"),
            ("age_adjusted_cost", "年齢調整後一人当たり医療費", "yen"),
            ("regional_index", "地域差指数", "index"),
            ("points", _points_label(incentives), "int"),
        ],
        rows,
        note="実施率は法定報告の定義 (年度末年齢40〜74歳・年度を通じた加入者)。"
        "目標値は特定健康診査等実施計画 (data/checkup_targets.yaml)。",
    )
    page.add(comparison)
    if isinstance(incentives, src.IncentivesView) and incentives.backdrop is not None:
        page.add(incentives.backdrop)
    names = [r["name"] for r in rows]
    page.context.update(
        targets=targets,
        claims_missing=claims if isinstance(claims, src.Missing) else None,
        incentives_missing=incentives if isinstance(incentives, src.Missing) else None,
        scores_note=scores_note(incentives) if isinstance(incentives, src.IncentivesView) else None,
        backdrop=incentives.backdrop if isinstance(incentives, src.IncentivesView) else None,
        prefecture=figures.prefecture.get(year, {}),
        checkup_chart=bar_chart(
            f"特定健診 実施率 ({FiscalYear(year).label})",
            "市町村ごとの特定健康診査の実施率と目標値 (縦線)。数値は下の表にあります。",
            names,
            [r["checkup_rate"] for r in rows],
            targets=targets.checkup,
            highlight=user.municipality_name,
        ),
        guidance_chart=bar_chart(
            f"特定保健指導 実施率 ({FiscalYear(year).label})",
            "市町村ごとの特定保健指導の実施率と目標値 (縦線)。数値は下の表にあります。",
            names,
            [r["guidance_rate"] for r in rows],
            targets=targets.guidance,
            highlight=user.municipality_name,
        ),
        generic_chart=None
        if isinstance(claims, src.Missing)
        else bar_chart(
            "後発医薬品使用割合 (数量ベース)",
            "市町村ごとの後発医薬品の使用割合。数値は下の表にあります。",
            names,
            [r["generic_share"] for r in rows],
            targets=[Target(0.8, "国の目標 80%")],
            highlight=user.municipality_name,
        ),
        index_chart=None
        if isinstance(claims, src.Missing)
        else bar_chart(
            "地域差指数 (年齢調整後一人当たり医療費 ÷ 基準)",
            "市町村ごとの地域差指数。1.0 が基準。数値は下の表にあります。",
            names,
            [r["regional_index"] for r in rows],
            targets=[Target(1.0, "基準 1.0")],
            percent=False,
            highlight=user.municipality_name,
        ),
    )
    return page


def _points_label(incentives: Any) -> str:
    if isinstance(incentives, src.IncentivesView):
        return f"保険者努力支援制度 得点 ({FiscalYear(incentives.fiscal_year).label})"
    return "保険者努力支援制度 得点"


def find_municipality(dashboard: Dashboard, insurer: str) -> Municipality | None:
    return next((m for m in dashboard.municipalities() if m.insurer_number == insurer), None)


def municipality(
    dashboard: Dashboard, user: User, insurer: str, asked: int | None
) -> Page | Pending | Refused | NotFound:
    place = find_municipality(dashboard, insurer)
    if place is None:
        return NotFound("市町村の詳細", f"保険者番号 {insurer} の市町村国保はありません")
    if not user.may_see_municipality(insurer):
        return Refused("市町村の詳細", "他の市町村の詳細は表示できません (自らの市町村のみ)")
    title = f"{place.name} の詳細"
    checkups = dashboard.checkups()
    if pending := waiting(title, checkups):
        return pending
    figures = result(checkups)
    year = pick_year(dashboard, asked, figures)
    scores = _scores(dashboard)
    jobs = [dashboard.programmes(), dashboard.overlaps()]
    if year is not None:
        jobs.append(dashboard.claims(year))
    if pending := waiting(title, *jobs, *(j for j in (scores,) if j is not None)):
        return pending
    programmes, overlaps = result(jobs[0]), result(jobs[1])
    claims = result(jobs[2]) if year is not None else None
    incentives = result(scores) if scores is not None else src.Missing(src.INCENTIVES_HINT)
    page = Page(
        "municipality.html",
        title,
        {
            "place": place,
            **year_context(dashboard, year, figures, asked),
            "places": [
                m for m in dashboard.municipalities() if user.may_see_municipality(m.insurer_number)
            ],
            "own": user.may_see_persons_of(insurer),
        },
    )
    if year is None or isinstance(figures, src.Missing):
        page.context["missing"] = src.Missing(
            "特定健診のデータを取り込んでください (kokuho checkups ingest)"
        )
        return page
    from kokuho.web.dashboard._pages_detail import fill_detail

    fill_detail(page, place, year, figures, programmes, overlaps, claims, incentives)
    return page


__all__ = [
    "compare",
    "find_municipality",
    "municipality",
    "overview",
    "pick_year",
    "result",
    "year_context",
    "year_missing",
]
