"""The incentives room's scoreboard for the pages: points and grants per municipality, each
indicator's points with the reasons (加点・減点の根拠), the 調整交付金, and the what-if
(試算) through ``kokuho.incentives.what_if``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from kokuho.incentives import Scoreboard, prefecture_scoreboard, shipped_years
from kokuho.incentives import what_if as run_what_if
from kokuho.web.dashboard._params import RATE_MAX, RATE_MIN, RATE_RANGE
from kokuho.web.dashboard._sources import INCENTIVES_HINT, IncentivesView, Missing
from kokuho.web.dashboard._tabular import DataTable, table

_MARK = {"given": "○", "withheld": "×", "requires": "△", "adjustment": "−"}


def inputs_folder(home: Path) -> Path | None:
    """The scoring run's input files (national backdrop, 取組, 収納率): $KOKUHO_INCENTIVES_INPUTS,
    else $KOKUHO_HOME/incentives, else the demo's."""
    given = os.environ.get("KOKUHO_INCENTIVES_INPUTS")
    candidates = [Path(given)] if given else [home / "incentives", home / "demo" / "incentives"]
    return next((c for c in candidates if c.is_dir()), None)


def rule_years() -> list[int]:
    return list(shipped_years())


def _reason(indicator: Any) -> str:
    shown = [
        f"{_MARK.get(t.status, '')} {t.reason_ja}".strip()
        for t in indicator.tiers
        if t.status != "superseded" and t.reason_ja
    ]
    return " / ".join(shown)


def _adjustment(board: Scoreboard) -> list[dict[str, Any]]:
    result = board.adjustment
    if result is None:
        return []
    rows = []
    for row in result.rows:
        rows.append(
            {"prefecture": row.prefecture, "name": row.name, "insured": row.insured,
             "ordinary": row.ordinary.yen if row.ordinary else None,
             "provisional": row.provisional_yen,
             "special": sum(s.yen for s in row.special), "total": row.total_yen}
        )  # fmt: skip
    return rows


def _backdrop(board: Any) -> DataTable | None:
    """Each home municipality's points next to the national backdrop's mean (市町村分)."""
    part = next((p for p in board.parts if p.unit == "municipality"), None)
    if part is None:
        return None
    mean = part.national_mean_points
    rows = [
        {"code": u.code, "name": u.name, "insured": u.insured, "points": u.points,
         "mean": mean, "difference": None if mean is None else u.points - mean,
         "per_insured": u.per_insured_yen}
        for u in part.units
    ]  # fmt: skip
    return table(
        "national-comparison",
        f"{part.label}: 全国の市町村 ({part.national_units:,}保険者) との比較",
        [("code", "保険者番号"), ("name", "市町"), ("insured", "被保険者数", "int"),
         ("points", "得点", "float"), ("mean", "全国平均", "float"),
         ("difference", "全国平均との差", "float"), ("per_insured", "一人当たり交付額", "yen")],
        rows,
        note="同規模の市町村との比較 (規模区分ごとの順位) は、指標別の得点の理由に示します。",
    )  # fmt: skip


def incentives_view(engine: sa.Engine, home: Path, fiscal_year: int, report: Any) -> Any:
    folder = inputs_folder(home)
    if folder is None:
        return Missing(
            INCENTIVES_HINT,
            f"入力ファイル (national.csv ほか) のフォルダが見つかりません: {home / 'incentives'}",
        )
    report(0.2, "保険者努力支援制度の得点を計算中")
    try:
        board = prefecture_scoreboard(engine, home / "lake", fiscal_year, folder)
    except (ValueError, LookupError) as error:
        return Missing(INCENTIVES_HINT, str(error))
    report(0.8, "交付額を集計中")
    points: dict[str, float] = {}
    grants: dict[str, float] = {}
    indicators: dict[str, list[dict[str, Any]]] = {}
    levers: dict[str, dict[str, Any]] = {}
    for unit in board.municipalities:
        points[unit.code] = unit.points
        grants[unit.code] = unit.grant_yen
        indicators[unit.code] = [
            {"indicator": f"{i.group} {i.label}".strip(), "points": i.points, "maximum": i.max,
             "reason": _reason(i)}
            for i in unit.indicators
        ]  # fmt: skip
        for value in unit.values:
            if value.unit != "rate" or value.origin == "aggregate":
                continue
            lever = levers.setdefault(
                value.field,
                {"key": value.field, "label": value.label, "min": RATE_MIN, "max": RATE_MAX,
                 "step": 0.005, "unit": "%", "current": {}},
            )  # fmt: skip
            lever["current"][unit.code] = value.value
    return IncentivesView(
        fiscal_year, board, points, grants, indicators, _adjustment(board), _backdrop(board),
        list(levers.values()),
    )  # fmt: skip


def what_if(view: Any, insurer: str, lever: str, value: float) -> dict[str, Any]:
    """Points and yen of ``insurer`` before and after setting ``lever`` to ``value``."""
    if not isinstance(view, IncentivesView):
        return {"error": view.hint if isinstance(view, Missing) else INCENTIVES_HINT}
    if lever not in {item["key"] for item in view.levers}:
        return {"error": f"lever: 試算できない指標です ({lever})", "parameter": "lever"}
    if not RATE_MIN <= value <= RATE_MAX:  # the route has checked it (params.rate) already
        return {"error": f"value: {RATE_RANGE}", "parameter": "value"}
    try:
        result = run_what_if(view.scoreboard, [f"{insurer}:{lever}={value!r}"])
        part = view.scoreboard.municipalities and next(
            p.key for p in view.scoreboard.parts if p.unit == "municipality"
        )
        row = result.row(part, insurer)
    except (KeyError, ValueError):
        # The incentives room's reasons are English (a municipality without scores, say).
        reason = f"insurer: {insurer} の得点がないため試算できません"
        return {"error": reason, "parameter": "insurer"}
    others = sum(r.yen_change for r in result.rows if r.part == part and r.code != insurer)
    return {
        "insurer": insurer, "lever": lever, "value": value,
        "points_before": row.points_before, "points_after": row.points_after,
        "yen_before": row.yen_before, "yen_after": row.yen_after,
        "note": f"県内の他の市町の交付額の変化: {others:+,}円 (按分の分母が動くため)",
    }  # fmt: skip
