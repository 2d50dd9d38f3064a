"""Scoreboards, allocations, what-ifs and 調整交付金 as JSON documents and CSV rows."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kokuho.incentives._adjust import AdjustmentResult, AdjustmentRow
from kokuho.incentives._allocate import DENOMINATOR_UNIT
from kokuho.incentives._board import Scoreboard
from kokuho.incentives._improve import Improvement
from kokuho.incentives._model import UnitScore
from kokuho.incentives._whatif import WhatIf
from kokuho.store import spreadsheet_text


def unit_json(unit: UnitScore, *, reasons: bool = True) -> dict[str, Any]:
    document: dict[str, Any] = {
        "code": unit.code,
        "name": unit.name,
        "prefecture": unit.prefecture,
        "insured": unit.insured,
        "points": unit.points,
        "counted_points": unit.counted_points,
        "grant_yen": unit.grant_yen,
        "per_insured_yen": unit.per_insured_yen,
        "values": [dataclasses.asdict(v) for v in unit.values],
        "efforts": dict(unit.efforts),
        "indicators": [],
    }
    for indicator in unit.indicators:
        item = {
            "indicator": indicator.indicator,
            "label": indicator.label,
            "group": indicator.group,
            "max": indicator.max,
            "min": indicator.min,
            "points": indicator.points,
            "confirmed": indicator.confirmed,
        }
        if reasons:
            item["tiers"] = [dataclasses.asdict(t) for t in indicator.tiers]
        document["indicators"].append(item)
    return document


def scoreboard_json(board: Scoreboard, *, reasons: bool = True) -> dict[str, Any]:
    """The whole scoreboard as one JSON-ready document."""
    return {
        "fiscal_year": board.fiscal_year,
        "label": board.label,
        "rules_file": board.rules_file,
        "data_year": board.data_year,
        "prefecture": board.prefecture,
        "prefecture_name": board.prefecture_name,
        "parts": [
            {
                "key": p.key,
                "label": p.label,
                "unit": p.unit,
                "budget_yen": p.budget_yen,
                "budget_confirmed": p.budget_confirmed,
                "negative_total": p.negative_total,
                "confirmed": p.confirmed,
                "source": p.source,
                "national_units": p.national_units,
                "national_mean_points": p.national_mean_points,
                "denominator": p.denominator,
                "denominator_unit": DENOMINATOR_UNIT,
                "home_yen": p.home_yen,
                "units": [unit_json(u, reasons=reasons) for u in p.units],
            }
            for p in board.parts
        ],
        "adjustment": None if board.adjustment is None else adjustment_json(board.adjustment),
        "notes": list(board.notes),
        "unconfirmed": list(board.unconfirmed),
    }


def adjustment_json(result: AdjustmentResult) -> dict[str, Any]:
    return {
        "fiscal_year": result.fiscal_year,
        "provisional_budget": result.provisional_budget,
        "rows": [{**dataclasses.asdict(r), "total_yen": r.total_yen} for r in result.rows],
        "notes": list(result.notes),
    }


def what_if_json(result: WhatIf) -> dict[str, Any]:
    return {
        "changes": [dataclasses.asdict(c) for c in result.changes],
        "rows": [
            {**dataclasses.asdict(r), "points_change": r.points_change, "yen_change": r.yen_change}
            for r in result.rows
        ],
        "others": [{**dataclasses.asdict(o), "yen_change": o.yen_change} for o in result.others],
    }


def score_rows(board: Scoreboard) -> list[dict[str, Any]]:
    """One row per part, home unit and indicator (the score table)."""
    rows = []
    for part in board.parts:
        for unit in part.units:
            for indicator in unit.indicators:
                rows.append(
                    {
                        "fiscal_year": board.fiscal_year,
                        "part": part.key,
                        "code": unit.code,
                        "name": unit.name,
                        "group": indicator.group,
                        "indicator": indicator.indicator,
                        "label": indicator.label,
                        "points": indicator.points,
                        "max": indicator.max,
                        "confirmed": indicator.confirmed,
                        "given": "; ".join(
                            t.reason_ja for t in indicator.tiers if t.status == "given"
                        ),
                    }
                )
    return rows


def allocation_rows(board: Scoreboard) -> list[dict[str, Any]]:
    """One row per part and home unit: points, insured and grant."""
    return [
        {
            "fiscal_year": board.fiscal_year,
            "part": part.key,
            "code": unit.code,
            "name": unit.name,
            "insured": unit.insured,
            "points": unit.points,
            "counted_points": unit.counted_points,
            "grant_yen": unit.grant_yen,
            "per_insured_yen": None
            if unit.per_insured_yen is None
            else round(unit.per_insured_yen, 2),
            "budget_yen": part.budget_yen,
        }
        for part in board.parts
        for unit in part.units
    ]


def what_if_rows(result: WhatIf) -> list[dict[str, Any]]:
    return [
        {**dataclasses.asdict(r), "points_change": r.points_change, "yen_change": r.yen_change}
        for r in result.rows
    ]


def improvement_rows(items: Sequence[Improvement]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        row = dataclasses.asdict(item)
        row.pop("change")
        out.append(row)
    return out


def adjustment_rows(result: AdjustmentResult) -> list[dict[str, Any]]:
    return [_adjustment_row(r) for r in result.rows]


def _adjustment_row(row: AdjustmentRow) -> dict[str, Any]:
    o = row.ordinary
    out: dict[str, Any] = {
        "prefecture": row.prefecture,
        "name": row.name,
        "home": row.home,
        "insured": row.insured,
        "demand": o.demand if o else None,
        "deductions": o.deductions if o else None,
        "income": o.income if o else None,
        "ability_rate": o.ability_rate if o else None,
        "ability_yen": o.ability_yen if o else None,
        "benefit_per_insured": o.benefit_per_insured if o else None,
        "benefit_yen": o.benefit_yen if o else None,
        "revenue_yen": o.revenue_yen if o else None,
        "ordinary_yen": o.yen if o else None,
        "provisional_yen": row.provisional_yen,
    }
    for special in row.special:
        out[f"special_{special.key}_yen"] = special.yen
    out["total_yen"] = row.total_yen
    return out


def write_csv(rows: Iterable[Mapping[str, Any]], target: Path | None) -> str | None:
    """Writes ``rows`` (header from the first row) to ``target``; returns the text when
    ``target`` is None."""
    rows = list(rows)
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            # Names come from national.csv or the register: none may reach a spreadsheet
            # opening the file as a formula (=HYPERLINK(…)); such text gets an apostrophe.
            writer.writerow({k: "" if v is None else spreadsheet_text(v) for k, v in row.items()})
    if target is None:
        return buffer.getvalue()
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return None
