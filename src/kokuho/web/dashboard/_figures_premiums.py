"""Figures of the 保険料・収納 page, all from the premiums room's public API: 調定額, 収納額 and
収納率 (現年分, 滞納繰越分, 過年度分を含む) per municipality and fiscal year, 滞納 by age band,
還付 and 時効 counts, and the prefecture's 納付金 and 標準保険料率 beside each municipality's
actual rates (its premium rule file). Counts and sums only: no household is named."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from kokuho.premiums import (
    PARTS,
    ActualRates,
    ArrearsReport,
    CollectionRate,
    LevyError,
    LevyFileError,
    LevyResult,
    Part,
    PremiumRuleError,
    RateDifference,
    accounts_close,
    arrears,
    collection_rates,
    compare_rates,
    example_levy_inputs,
    levy,
    load_levy_inputs,
    load_levy_rules,
    load_premium_rules,
    settlements,
)

#: The prefecture's levy input file (docs/premiums-levy.md §Inputs); the shipped synthetic
#: example when unset.
LEVY_INPUTS_VARIABLE = "KOKUHO_LEVY_INPUTS"

Report = Callable[[float, str], None]


@dataclass(frozen=True)
class Refunds:
    """還付 decided in the fiscal year, and refunds whose claim lapsed (時効, 国保法 §110(1))
    in the fiscal year by the day of the figures."""

    refunds: int
    refunded: int
    lapsed: int
    lapsed_amount: int


@dataclass(frozen=True)
class MunicipalPremiums:
    code: str
    rates: dict[int, CollectionRate]
    """収納率 by fiscal year (every year with 調定)."""
    arrears: ArrearsReport
    refunds: Refunds


@dataclass(frozen=True)
class LevyView:
    result: LevyResult
    differences: dict[tuple[str, Part], RateDifference]
    actual: dict[str, dict[Part, ActualRates]]
    inputs: str
    """Where the levy inputs came from (the file, or the shipped example)."""


@dataclass(frozen=True)
class PremiumFigures:
    fiscal_year: int
    as_of: dt.date
    """The day 滞納 and 時効 are counted on: the year's 出納閉鎖 (31 May of the next year), or
    today while the year's accounts are open."""
    years: list[int]
    municipalities: dict[str, MunicipalPremiums]


def figures_day(fiscal_year: int, today: dt.date) -> dt.date:
    return min(today, accounts_close(fiscal_year))


def premium_figures(
    engine: sa.Engine, fiscal_year: int, years: list[int], today: dt.date, report: Report
) -> PremiumFigures:
    """Every figure of the page for ``fiscal_year`` (every municipality; the page filters)."""
    as_of = figures_day(fiscal_year, today)
    by_year: dict[int, list[CollectionRate]] = {}
    for index, year in enumerate(years):
        report(index / (len(years) + 1), f"収納率 {year}年度")
        by_year[year] = collection_rates(engine, year)
    codes = sorted({rate.municipality for rates in by_year.values() for rate in rates})
    report(len(years) / (len(years) + 1), "滞納・還付")
    found = {
        code: MunicipalPremiums(
            code,
            {
                year: rate
                for year, rates in by_year.items()
                for rate in rates
                if rate.municipality == code
            },
            arrears(engine, code, as_of),
            _refunds(engine, code, fiscal_year, as_of),
        )
        for code in codes
    }
    return PremiumFigures(fiscal_year, as_of, years, found)


def _refunds(engine: sa.Engine, code: str, fiscal_year: int, as_of: dt.date) -> Refunds:
    start, end = dt.date(fiscal_year, 4, 1), dt.date(fiscal_year + 1, 3, 31)
    refunds = [s for s in settlements(engine, code) if s.kind == "refund"]
    decided = [s for s in refunds if start <= s.decided_on <= end and s.decided_on <= as_of]
    lapsed = [
        s
        for s in refunds
        if s.status(as_of) == "lapsed"
        and s.last_claim_day is not None
        and start <= s.last_claim_day + dt.timedelta(days=1) <= end
    ]
    return Refunds(
        len(decided), sum(s.amount for s in decided), len(lapsed), sum(s.amount for s in lapsed)
    )


def levy_view(environ: Mapping[str, str] = os.environ) -> LevyView | str:
    """納付金 and 標準保険料率 from the prefecture's input file (``$KOKUHO_LEVY_INPUTS``) or
    the shipped example, compared with the municipal rule files' actual rates."""
    path = environ.get(LEVY_INPUTS_VARIABLE)
    try:
        inputs = load_levy_inputs(Path(path)) if path else example_levy_inputs()
        result = levy(inputs, load_levy_rules(inputs.fiscal_year))
    except (LevyFileError, LevyError) as error:
        return str(error)
    actual = {
        m.code: rates for m in result.municipalities if (rates := rule_file_rates(m.code, result))
    }
    differences = {(d.code, d.part): d for d in compare_rates(result, actual)}
    return LevyView(result, differences, actual, path or "例 (example/inputs.yaml)")


def rule_file_rates(code: str, result: LevyResult) -> dict[Part, ActualRates]:
    """The municipality's actual rates of its premium rule file for the levy's year, as
    ``compare_rates`` takes them (所得割率 in percent); empty when it has no rule file."""
    try:
        rules = load_premium_rules(result.fiscal_year, code)
    except PremiumRuleError:
        return {}
    parts = rules.municipal.parts
    return {
        part: ActualRates(
            parts.of(part).income_rate * Decimal(100),
            parts.of(part).per_capita,
            parts.of(part).per_household,
        )
        for part in PARTS
    }
