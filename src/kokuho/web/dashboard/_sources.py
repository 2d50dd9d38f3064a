"""Figures from the claims (kokuho.claims) and incentives (kokuho.incentives) rooms. When a
room's public function or its data is not there yet, the page shows 「データがありません」 with
what to load, instead of failing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa


@dataclass(frozen=True)
class Missing:
    """No figures: ``hint`` says what to load (Japanese, shown as is)."""

    hint: str
    detail: str = ""


@dataclass(frozen=True)
class ClaimsView:
    """The claims room's figures of one fiscal year, as the pages use them."""

    fiscal_year: int
    insurers: dict[str, Any]  # 保険者番号 → kokuho.claims InsurerClaimFigures
    prefecture: Any
    #: 保険者番号 → person-level rows (資格過誤, 重複, 多剤); counts are shown to everyone,
    #: the rows only to the insurer's own staff.
    errors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    duplicates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    multi_drug: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class IncentivesView:
    """The incentives room's scoreboard of one fiscal year, as the pages use them."""

    fiscal_year: int
    scoreboard: Any
    points: dict[str, float]  # 保険者番号 → total points
    grants: dict[str, float]  # 保険者番号 → 交付額 (円)
    indicators: dict[str, list[dict[str, Any]]]  # 保険者番号 → rows with the reasons
    adjustment: list[dict[str, Any]] = field(default_factory=list)  # 調整交付金
    backdrop: Any = None
    levers: list[dict[str, Any]] = field(default_factory=list)  # what-if sliders


CLAIMS_HINT = "レセプトを取り込んでください (kokuho claims ingest)"
MASTERS_HINT = "医薬品マスターを取り込んでください (kokuho claims masters)"
INCENTIVES_HINT = "保険者努力支援制度の評価指標を取り込んでください (kokuho incentives score)"


def claims_bundle(engine: sa.Engine, lake_root: Path, fiscal_year: int, report: Any) -> Any:
    from kokuho.web.dashboard._claims_view import claims_view

    return claims_view(engine, lake_root, fiscal_year, report)


def incentives_bundle(engine: sa.Engine, lake_root: Path, fiscal_year: int, report: Any) -> Any:
    from kokuho.web.dashboard._incentives_view import incentives_view

    return incentives_view(engine, lake_root.parent, fiscal_year, report)


def list_columns(kind: str) -> list[tuple[str, str, Any]]:
    """The columns of the claims-backed person-level lists."""
    if kind == "eligibility-errors":
        return [
            ("service_month", "診療年月", "text"),
            ("insured", "記号・番号・枝番", "text"),
            ("name", "氏名", "text"),
            ("institution", "医療機関コード", "text"),
            ("reason", "理由", "text"),
            ("lost_on", "資格喪失日", "date"),
            ("responsible_insurer", "その日の保険者", "text"),
            ("file", "ファイル", "text"),
            ("line", "行", "int"),
        ]
    return [
        ("insured", "記号・番号・枝番", "text"),
        ("name", "氏名", "text"),
        ("birth", "生年月日", "date"),
        ("detail", "内容", "text"),
    ]


#: The what-if's answer while the year's figures are still being computed (and it may not
#: wait for them): the route answers it 503 with ``Retry-After``.
STILL_COMPUTING = "集計中です。しばらくしてからもう一度お試しください。"


def what_if(
    dashboard: Any, fiscal_year: int | None, insurer: str, lever: str, value: float,
    *, wait: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Points and yen before and after moving one rate of one municipality (試算), of the
    交付 year ``fiscal_year`` if the 交付金 page has it, else of the year that page opens on:
    the answer names it (``fiscal_year``), and its ``note`` says when it is not the year asked
    for. With ``wait`` it waits up to 300 s for the year's figures on this thread; without,
    figures not yet computed answer :data:`STILL_COMPUTING` at once."""
    import time

    from kokuho.web.dashboard._incentives_view import what_if as compute
    from kokuho.web.dashboard._pages import year_missing
    from kokuho.web.dashboard._scores import grant_year

    year = grant_year(dashboard.grant_years(), fiscal_year)
    if year is None:
        return {"error": INCENTIVES_HINT}
    job = dashboard.incentives(year)
    deadline = time.monotonic() + (300 if wait else 0)
    while job.finished is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if job.finished is None:
        return {"error": STILL_COMPUTING, "fiscal_year": year}
    if job.state != "done":
        return {"error": job.error or STILL_COMPUTING, "fiscal_year": year}
    answer = {**compute(job.result, insurer, lever, value), "fiscal_year": year}
    if "error" not in answer and (missing := year_missing(fiscal_year, year, "で試算しています")):
        answer["note"] = f"{missing} {answer['note']}"
    return answer
