"""The levy result as rows (one per municipality and part, for CSV and tables) and as one
JSON-ready document; Decimal values are written as their exact text."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from kokuho.premiums._levy import compare_rates
from kokuho.premiums._levy_model import LevyResult, PartLevy

LEVY_COLUMNS: Final = (
    "fiscal_year",
    "code",
    "name",
    "part",
    "levy",
    "required",
    "collection_rate",
    "assessment_total",
    "income_rate",
    "per_capita",
    "per_household",
    "actual_income_rate",
    "actual_per_capita",
    "actual_per_household",
    "diff_income_rate",
    "diff_per_capita",
    "diff_per_household",
)
"""Rates: 所得割率 in percent; 均等割額, 平等割額 and amounts in yen; diff = actual − standard."""

Row = dict[str, str | int | None]


def levy_rows(result: LevyResult) -> list[Row]:
    """One row per municipality and part, in input order, with the columns ``LEVY_COLUMNS``."""
    differences = {(d.code, d.part): d for d in compare_rates(result)}
    rows: list[Row] = []
    for municipality in result.municipalities:
        for part in municipality.parts:
            row: Row = {
                "fiscal_year": result.fiscal_year,
                "code": municipality.code,
                "name": municipality.name,
                **_part_row(part),
            }
            difference = differences.get((municipality.code, part.part))
            row["diff_income_rate"] = _text(difference.income_rate) if difference else None
            row["diff_per_capita"] = difference.per_capita if difference else None
            row["diff_per_household"] = difference.per_household if difference else None
            rows.append(row)
    return rows


def _part_row(part: PartLevy) -> Row:
    actual = part.actual
    return {
        "part": part.part,
        "levy": part.levy,
        "required": part.required,
        "collection_rate": _text(part.collection_rate),
        "assessment_total": part.rates.assessment_total,
        "income_rate": _text(part.rates.income_rate),
        "per_capita": part.rates.per_capita,
        "per_household": part.rates.per_household,
        "actual_income_rate": _text(actual.income_rate) if actual else None,
        "actual_per_capita": actual.per_capita if actual else None,
        "actual_per_household": actual.per_household if actual else None,
    }


def levy_document(result: LevyResult) -> dict[str, object]:
    """The whole result for ``--json``: the parts (total, α, β, γ), the rows, what is
    unconfirmed."""
    return {
        "fiscal_year": result.fiscal_year,
        "parts": [
            {
                "part": s.part,
                "total": s.total,
                "alpha": _text(s.alpha),
                "beta": _text(s.beta),
                "gamma": _text(s.gamma),
            }
            for s in result.parts
        ],
        "municipalities": levy_rows(result),
        "unconfirmed": list(result.unconfirmed),
    }


def _text(value: Decimal) -> str:
    return format(value, "f")
