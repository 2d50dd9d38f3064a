"""調整交付金 per prefecture: 普通調整交付金, the 暫定措置 and the 特別調整交付金 menu items.

普通調整交付金 (算定省令 第2条・第3条・第5条) = 調整対象需要額 − 調整対象収入額 when positive:

- 応能割率 = coefficient × (需要額 − 控除額) ÷ 平均被保険者数, rounded half up to the rule
  file's decimals and capped;
- 応能 = 基礎控除後総所得金額等 × 応能割率; 応益 = 応益割額 (capped) × 平均被保険者数;
- 収入額 = 応能 + 応益; the grant is cut to whole yen (円未満切捨て, UNCONFIRMED).

The 暫定措置 is split among the prefectures by insured count (largest remainder, to the yen).
Menu items: ``excess_over_national_rate`` = max(0, count − base × Σcount ÷ Σbase) × unit
cost × factors; ``per_count`` = count × unit cost × factors (both cut to whole yen).
Arithmetic is in ``Decimal`` so the yen do not depend on float rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

import numpy as np

from kokuho.incentives._adjust_rules import Adjustment, Ordinary, SpecialItem
from kokuho.incentives._allocate import allocate, split_by_count
from kokuho.incentives._units import Units


@dataclass(frozen=True, slots=True)
class OrdinaryGrant:
    """普通調整交付金 of one prefecture and how it was reached (None where an input is missing)."""

    demand: float | None  # 調整対象需要額
    deductions: float | None
    income: float | None  # 基礎控除後総所得金額等
    ability_rate: float | None  # 基礎賦課基準応能割率
    ability_yen: int | None  # 応能
    benefit_per_insured: float | None  # 基礎賦課基準応益割額
    benefit_yen: int | None  # 応益
    revenue_yen: int | None  # 調整対象収入額
    computed_yen: int  # 需要額 − 収入額 when positive
    yen: int  # after scaling to the budget (when the rules ask for it)
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SpecialGrant:
    """One 特別調整交付金 menu item for one prefecture."""

    key: str
    label: str
    count: float | None
    excess: float | None
    unit_cost: float | None
    yen: int
    confirmed: bool


@dataclass(frozen=True, slots=True)
class AdjustmentRow:
    prefecture: str
    name: str
    insured: int
    home: bool
    ordinary: OrdinaryGrant | None
    provisional_yen: int | None
    special: tuple[SpecialGrant, ...]

    @property
    def total_yen(self) -> int:
        total = (self.ordinary.yen if self.ordinary else 0) + (self.provisional_yen or 0)
        return total + sum(s.yen for s in self.special)


@dataclass(frozen=True, slots=True)
class AdjustmentResult:
    """調整交付金 of every prefecture, the home one first."""

    fiscal_year: int
    rows: tuple[AdjustmentRow, ...]
    provisional_budget: int | None
    notes: tuple[str, ...]

    @property
    def home(self) -> AdjustmentRow:
        return next(r for r in self.rows if r.home)

    def row(self, key: str) -> AdjustmentRow:
        for r in self.rows:
            if key in (r.prefecture, r.name):
                return r
        raise KeyError(f"no prefecture {key!r}")


def _value(units: Units, name: str, i: int) -> float | None:
    array = units.values.get(name)
    if array is None or math.isnan(array[0, i]):
        return None
    return float(array[0, i])


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def ordinary_grant(params: Ordinary, units: Units, i: int) -> OrdinaryGrant:
    """普通調整交付金 of unit ``i`` before any scaling to the budget."""
    demand = _value(units, params.demand_field, i)
    deductions = _value(units, params.deductions_field, i)
    income = _value(units, params.income_field, i)
    insured = int(units.insured[i])
    benefit_given = (
        _value(units, params.benefit.amount_field, i) if params.benefit.amount_field else None
    )
    missing = [
        name
        for name, value in (
            (params.demand_field, demand),
            (params.deductions_field, deductions),
            (params.income_field, income),
        )
        if value is None
    ]
    if params.benefit.coefficient is None and benefit_given is None:
        missing.append(params.benefit.amount_field or "benefit")
    if insured <= 0:
        missing.append("insured")
    if missing:
        return OrdinaryGrant(
            demand, deductions, income, None, None, None, None, None, 0, 0, tuple(missing)
        )
    assert demand is not None and deductions is not None and income is not None
    net = Decimal(str(demand)) - Decimal(str(deductions))
    ability = params.ability
    rate = (Decimal(str(ability.coefficient)) * net / insured).quantize(
        Decimal(1).scaleb(-ability.decimals), rounding=ROUND_HALF_UP
    )
    rate = min(rate, Decimal(str(ability.cap)))
    ability_yen = Decimal(str(income)) * rate
    if params.benefit.coefficient is not None:
        per = Decimal(str(params.benefit.coefficient)) * net / insured
    else:
        per = Decimal(str(benefit_given))
    per = min(per, Decimal(str(params.benefit.cap)))
    benefit_yen = per * insured
    revenue = ability_yen + benefit_yen
    grant = max(Decimal(0), Decimal(str(demand)) - revenue)
    return OrdinaryGrant(
        demand=demand,
        deductions=deductions,
        income=income,
        ability_rate=float(rate),
        ability_yen=_floor(ability_yen),
        benefit_per_insured=float(per),
        benefit_yen=_floor(benefit_yen),
        revenue_yen=_floor(revenue),
        computed_yen=_floor(grant),
        yen=_floor(grant),
        missing=(),
    )


def special_grants(item: SpecialItem, units: Units) -> list[SpecialGrant]:
    """One menu item for every unit."""
    counts = units.values.get(item.count_field)
    n = units.size
    count = counts[0] if counts is not None else np.full(n, np.nan)
    if item.base_field == "insured":
        base = units.insured.astype(np.float64)
    else:
        base = units.values.get(item.base_field, np.full((3, n), np.nan))[0]
    both = ~np.isnan(count) & ~np.isnan(base)
    base_sum = float(base[both].sum()) if both.any() else 0.0
    rate = Decimal(str(float(count[both].sum()))) / Decimal(str(base_sum)) if base_sum else None
    unit_cost: Decimal | None = None
    if item.unit_cost_yen is not None:
        unit_cost = Decimal(str(item.unit_cost_yen))
    elif item.unit_cost_field is not None:
        cost = units.values.get(item.unit_cost_field, np.full((3, n), np.nan))[0]
        ok = ~np.isnan(cost) & ~np.isnan(count) & (count > 0)
        if ok.any():
            unit_cost = Decimal(str(float((cost[ok] * count[ok]).sum() / count[ok].sum())))
    factor = Decimal(1)
    for f in item.factors:
        factor *= Decimal(str(f))
    out = []
    for i in range(n):
        c = None if math.isnan(count[i]) else float(count[i])
        excess: Decimal | None = None
        if c is not None and item.formula == "per_count":
            excess = Decimal(str(c))
        elif c is not None and rate is not None and not math.isnan(base[i]):
            excess = max(Decimal(0), Decimal(str(c)) - Decimal(str(float(base[i]))) * rate)
        yen = 0 if excess is None or unit_cost is None else _floor(excess * unit_cost * factor)
        out.append(
            SpecialGrant(
                item.key,
                item.label,
                c,
                None if excess is None else float(excess),
                None if unit_cost is None else float(unit_cost),
                yen,
                item.confirmed,
            )
        )
    return out


def adjust(adjustment: Adjustment, units: Units, fiscal_year: int) -> AdjustmentResult:
    """調整交付金 of every prefecture in ``units``."""
    notes: list[str] = []
    n = units.size
    ordinary: list[OrdinaryGrant | None] = [None] * n
    if adjustment.ordinary is not None:
        params = adjustment.ordinary
        ordinary = [ordinary_grant(params, units, i) for i in range(n)]
        if params.scale_to_budget and params.budget is not None:
            computed = [g.computed_yen if g else 0 for g in ordinary]
            scaled = allocate(params.budget.yen, [1.0] * n, computed, units.codes).grants
            ordinary = [
                None if g is None else _with_yen(g, y)
                for g, y in zip(ordinary, scaled, strict=True)
            ]
        lacking = [units.codes[i] for i, g in enumerate(ordinary) if g and g.missing]
        if lacking:
            notes.append(f"普通調整交付金: inputs missing for {len(lacking)} prefecture(s)")
    provisional: list[int | None] = [None] * n
    budget = None
    if adjustment.provisional is not None:
        budget = adjustment.provisional.budget.yen
        provisional = list(split_by_count(budget, [int(x) for x in units.insured], units.codes))
    specials = [special_grants(item, units) for item in adjustment.special]
    rows = tuple(
        AdjustmentRow(
            prefecture=units.codes[i],
            name=units.names[i],
            insured=int(units.insured[i]),
            home=bool(units.home[i]),
            ordinary=ordinary[i],
            provisional_yen=provisional[i],
            special=tuple(s[i] for s in specials),
        )
        for i in range(n)
    )
    return AdjustmentResult(fiscal_year, rows, budget, tuple(notes))


def _with_yen(grant: OrdinaryGrant, yen: int) -> OrdinaryGrant:
    return replace(grant, yen=yen)
