"""The body of 市町村の詳細: rates by sex and age band over the years, programme lists as counts,
the 保険者努力支援制度 points indicator by indicator with their reasons, and the grant."""

from __future__ import annotations

from typing import Any

from kokuho.ids import FiscalYear
from kokuho.web.dashboard import _figures_checkups as fc
from kokuho.web.dashboard import _sources as src
from kokuho.web.dashboard._charts import line_chart
from kokuho.web.dashboard._figures_register import Municipality
from kokuho.web.dashboard._page import Page
from kokuho.web.dashboard._scores import scores_note
from kokuho.web.dashboard._tabular import table

SEX = {1: "男性", 2: "女性"}


def list_counts(
    place: Municipality, year: int, programmes: Any, overlaps: Any, claims: Any
) -> list[dict[str, Any]]:
    """How many persons each person-level list of the municipality holds."""
    insurer = place.insurer_number
    rows: list[dict[str, Any]] = []
    if isinstance(programmes, dict) and year in programmes:
        listing = programmes[year]
        count = sum(1 for c in listing.candidates if c.person_key.split(":")[0] == insurer)
        rows.append({"list": "nephropathy", "title": listing.title, "count": count})
    else:
        rows.append(
            {
                "list": "nephropathy",
                "title": "糖尿病性腎症重症化予防 受診勧奨対象者",
                "count": None,
                "missing": "特定健診の電子データ (V08) が見つかりません",
            }
        )
    if not isinstance(overlaps, src.Missing):
        count = sum(1 for r in overlaps.rows if r["municipality"] == insurer)
        rows.append(
            {"list": "overlaps", "title": "資格重複 (他の保険者と重なる被保険者)", "count": count}
        )
    if isinstance(claims, src.ClaimsView):
        for name, title, found in (
            ("eligibility-errors", "資格過誤 (返戻候補のレセプト)", claims.errors),
            ("duplicates", "重複投与者", claims.duplicates),
            ("multi-drug", "多剤投与者", claims.multi_drug),
        ):
            rows.append({"list": name, "title": title, "count": len(found.get(insurer, []))})
    else:
        hint = claims.hint if isinstance(claims, src.Missing) else src.CLAIMS_HINT
        for name, title in (
            ("eligibility-errors", "資格過誤 (返戻候補のレセプト)"),
            ("duplicates", "重複投与者"),
            ("multi-drug", "多剤投与者"),
        ):
            rows.append({"list": name, "title": title, "count": None, "missing": hint})
    return rows


def fill_detail(
    page: Page,
    place: Municipality,
    year: int,
    figures: fc.CheckupFigures,
    programmes: Any,
    overlaps: Any,
    claims: Any,
    incentives: Any,
) -> None:
    targets = fc.targets_for(year)
    years = figures.years
    labels = [FiscalYear(y).label for y in years]
    own = [figures.checkup.get((y, place.code), {}).get("rate") for y in years]
    own_g = [figures.guidance.get((y, place.code), {}).get("rate") for y in years]
    pref = [figures.prefecture.get(y, {}).get("rate") for y in years]
    pref_g = [figures.prefecture.get(y, {}).get("guidance_rate") for y in years]
    trend = table(
        "rates-by-year",
        f"{place.name} 特定健診・特定保健指導 実施率の推移",
        [
            ("year", "年度"),
            ("eligible", "特定健診 対象者数", "int"),
            ("examined", "受診者数", "int"),
            ("checkup_rate", "特定健診 実施率", "percent"),
            ("prefecture_rate", "県内市町村国保 実施率", "percent"),
            ("guidance_targets", "特定保健指導 対象者数", "int"),
            ("guidance_completed", "終了者数", "int"),
            ("guidance_rate", "特定保健指導 実施率", "percent"),
        ],
        [
            {
                "year": f"{FiscalYear(y).label} ({y})",
                "eligible": figures.checkup.get((y, place.code), {}).get("eligible"),
                "examined": figures.checkup.get((y, place.code), {}).get("examined"),
                "checkup_rate": own[k],
                "prefecture_rate": pref[k],
                "guidance_targets": figures.guidance.get((y, place.code), {}).get("targets"),
                "guidance_completed": figures.guidance.get((y, place.code), {}).get("completed"),
                "guidance_rate": own_g[k],
            }
            for k, y in enumerate(years)
        ],
    )
    guidance_cells = {
        (r["sex"], r["band"]): r for r in figures.guidance_cells.get((year, place.code), [])
    }
    cells = []
    for r in sorted(
        figures.checkup_cells.get((year, place.code), []), key=lambda r: (r["sex"], r["band"])
    ):
        g = guidance_cells.get((r["sex"], r["band"]), {})
        cells.append(
            {
                "sex": SEX.get(r["sex"], str(r["sex"])),
                "band": f"{r['band']}歳",
                "eligible": r["eligible"],
                "examined": r["examined"],
                "rate": r["rate"],
                "guidance_targets": g.get("targets"),
                "guidance_completed": g.get("completed"),
                "guidance_rate": g.get("rate"),
            }
        )
    by_cell = table(
        "rates-by-sex-age",
        f"{place.name} 性・年齢階級別 実施率 ({FiscalYear(year).label})",
        [
            ("sex", "性別"),
            ("band", "年齢階級"),
            ("eligible", "対象者数", "int"),
            ("examined", "受診者数", "int"),
            ("rate", "特定健診 実施率", "percent"),
            ("guidance_targets", "保健指導 対象者数", "int"),
            ("guidance_completed", "終了者数", "int"),
            ("guidance_rate", "特定保健指導 実施率", "percent"),
        ],
        cells,
    )
    lists = table(
        "person-lists",
        "対象者リスト (件数)",
        [("title", "リスト"), ("count", "人数・件数", "int")],
        list_counts(place, year, programmes, overlaps, claims),
        note="氏名入りのリストは、その市町村の職員だけが開けます。開くたびにアクセス記録に残ります。",
    )
    page.add(trend, by_cell, lists)
    page.context.update(
        targets=targets,
        checkup_trend=line_chart(
            f"{place.name} 特定健診 実施率の推移",
            "年度ごとの特定健診実施率 (市町と県内市町村国保) と目標値 (破線)。数値は下の表。",
            labels,
            {place.name: own, "県内市町村国保": pref},
            targets=targets.checkup,
        ),
        guidance_trend=line_chart(
            f"{place.name} 特定保健指導 実施率の推移",
            "年度ごとの特定保健指導実施率 (市町と県内市町村国保) と目標値 (破線)。数値は下の表。",
            labels,
            {place.name: own_g, "県内市町村国保": pref_g},
            targets=targets.guidance,
        ),
        claims=claims.insurers.get(place.insurer_number)
        if isinstance(claims, src.ClaimsView)
        else None,
        claims_missing=claims if isinstance(claims, src.Missing) else None,
        incentives_missing=incentives if isinstance(incentives, src.Missing) else None,
        scores_note=None,
        points=None,
        grant=None,
    )
    if isinstance(incentives, src.IncentivesView):
        rows = incentives.indicators.get(place.insurer_number, [])
        page.add(
            table(
                "points-by-indicator",
                f"{place.name} 保険者努力支援制度 指標別の得点と理由 "
                f"({FiscalYear(incentives.fiscal_year).label})",
                [
                    ("indicator", "指標"),
                    ("points", "得点", "float"),
                    ("maximum", "配点", "float"),
                    ("reason", "理由"),
                ],
                rows,
            )
        )
        page.context["scores_note"] = scores_note(incentives)
        page.context["points"] = incentives.points.get(place.insurer_number)
        page.context["grant"] = incentives.grants.get(place.insurer_number)
