"""The claims room's figures for the pages: ``kokuho.claims.claims_figures`` per insurer, the
資格過誤 (``eligibility_errors``) and the 重複・多剤 person lists (``duplicate_prescribing``,
``multi_drug``), keyed by 保険者番号 and joined to the register's persons for the names."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import kokuho.claims as claims_room
from kokuho.checkups import person_key
from kokuho.web.dashboard import _figures_register as fr
from kokuho.web.dashboard._sources import CLAIMS_HINT, MASTERS_HINT, ClaimsView, Missing

_NEEDED = ("ClaimsLake", "claims_figures", "eligibility_errors", "duplicate_prescribing",
           "multi_drug", "fiscal_months")  # fmt: skip


def _month(value: Any) -> str:
    return value.strftime("%Y-%m") if hasattr(value, "strftime") else str(value)[:7]


def _persons(engine: sa.Engine, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """person key → (person id, name, birth) for the insurers named in ``rows``."""
    found: dict[str, Any] = {}
    for insurer in {str(row["insurer"]) for row in rows}:
        found.update(fr.persons_by_key(engine, insurer))
    return found


def _listing(engine: sa.Engine, table: Any, detail: Any) -> dict[str, list[dict[str, Any]]]:
    """A person-month list → one row per person (months joined), by insurer."""
    rows = table.to_pyarrow().to_pylist()
    people = _persons(engine, rows)
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = person_key(row["insurer"], row["symbol"], row["number"], row["branch"])
        pid, name, birth = people.get(key, (None, "", None))
        entry = merged.setdefault(
            key,
            {"insurer": key.split(":")[0], "person_id": pid, "name": name, "birth": birth,
             "insured": "・".join(key.split(":")[1:]), "months": [], "details": []},
        )  # fmt: skip
        entry["months"].append(_month(row["service_month"]))
        entry["details"].append(detail(row))
    by_insurer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in merged.values():
        months = sorted(set(entry.pop("months")))
        details = entry.pop("details")
        entry["detail"] = f"{months[0]}〜{months[-1]} ({len(months)}か月): {details[-1]}"
        by_insurer[entry["insurer"]].append(entry)
    return dict(by_insurer)


def _duplicate(row: dict[str, Any]) -> str:
    return f"{row['institution_count']}医療機関・{row['efficacy_count']}薬効が重複"


def _multi(row: dict[str, Any]) -> str:
    return f"{row['drug_count']}剤"


def claim_years(lake: Any) -> list[int]:
    """The fiscal years (年度) with at least one claim in the lake, from its 診療年月
    partitions (``service_month=YYYY-MM``)."""
    years: set[int] = set()
    for path in lake.files("claims"):
        for part in path.parts:
            if part.startswith("service_month="):
                year, month = part.removeprefix("service_month=").split("-")
                years.add(int(year) - (int(month) < 4))
    return sorted(years)


def claims_view(engine: sa.Engine, lake_root: Path, fiscal_year: int, report: Any) -> Any:
    missing = [name for name in _NEEDED if getattr(claims_room, name, None) is None]
    if missing:
        return Missing(CLAIMS_HINT, f"kokuho.claims に {', '.join(missing)} がありません")
    lake = claims_room.ClaimsLake(lake_root)
    years = claim_years(lake) if lake.has_table("claims") else []
    if not years:
        return Missing(CLAIMS_HINT)
    if fiscal_year not in years:
        # Claims are loaded, only not for this year: "ingest" would send the user to redo
        # what is done; say which years there are instead.
        return Missing(
            f"{fiscal_year}年度のレセプトはありません",
            "レセプトがある年度: " + "、".join(f"{year}年度" for year in years),
        )
    if not lake.has_table("drug_master"):
        return Missing(MASTERS_HINT)
    report(0.1, "レセプトの指標を集計中 (後発医薬品・重複多剤・医療費)")
    figures = claims_room.claims_figures(lake, engine, fiscal_year)
    months = claims_room.fiscal_months(fiscal_year)
    report(0.5, "資格過誤を検索中")
    errors: dict[str, list[dict[str, Any]]] = defaultdict(list)
    found = claims_room.eligibility_errors(lake, engine, months=months)
    people = _persons(engine, [{"insurer": e.insurer} for e in found])
    reasons = {
        "not_found": "該当する資格なし",
        "lost_before_service": "診療日前に資格喪失",
        "superseded": "新しい資格あり",
        "not_yet_acquired": "資格取得日前の診療",
    }
    for e in found:
        key = person_key(e.insurer, e.symbol, e.number, e.branch)
        pid, name, _ = people.get(key, (None, "", None))
        errors[key.split(":")[0]].append(
            {"person_id": pid, "name": name, "service_month": _month(e.service_month),
             "insured": "・".join(key.split(":")[1:]), "institution": e.institution,
             "reason": reasons.get(e.reason, e.reason), "lost_on": e.lost_on,
             "responsible_insurer": e.responsible_insurer or "", "file": e.file[:12],
             "line": e.line}
        )  # fmt: skip
    report(0.75, "重複・多剤投与者を抽出中")
    duplicates = _listing(
        engine, claims_room.duplicate_prescribing(lake, fiscal_year=fiscal_year), _duplicate
    )
    multi = _listing(engine, claims_room.multi_drug(lake, fiscal_year=fiscal_year), _multi)
    return ClaimsView(
        fiscal_year, dict(figures.insurers), figures.prefecture, dict(errors), duplicates, multi
    )
