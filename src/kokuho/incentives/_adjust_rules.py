"""The 調整交付金 parameters of a rule file (算定省令, 昭和38年厚生省令第10号).

普通調整交付金 = 調整対象需要額 − 調整対象収入額 when positive (第2条・第3条); the 収入額 is
the 応能 part (基礎控除後総所得金額等 × 基礎賦課基準応能割率) plus the 応益 part
(基礎賦課基準応益割額 × 平均被保険者数) (第5条). The 暫定措置 is split by insured count per
prefecture; the 特別調整交付金 menu items are formulas over counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from kokuho.incentives._base import Budget, Strict


class AbilityRate(Strict):
    """基礎賦課基準応能割率 = coefficient × (需要額 − 控除額) ÷ 平均被保険者数, rounded to
    ``decimals`` places and capped at ``cap``."""

    coefficient: float = Field(gt=0)
    decimals: int = Field(default=13, ge=0, le=20)
    cap: float = Field(gt=0)
    source: str
    confirmed: bool


class BenefitAmount(Strict):
    """基礎賦課基準応益割額 per insured person (円), capped at ``cap``.

    With ``coefficient``: coefficient × (需要額 − 控除額) ÷ 平均被保険者数. Without it (the
    ordinance's further terms were not seen): the amount comes from ``amount_field``.
    """

    coefficient: float | None = Field(default=None, gt=0)
    amount_field: str | None = None
    cap: float = Field(gt=0)
    source: str
    confirmed: bool


class Ordinary(Strict):
    """普通調整交付金, computed per prefecture."""

    label: str = "普通調整交付金"
    demand_field: str = "adj_demand"  # 調整対象需要額 (第4条)
    deductions_field: str = "adj_deductions"  # 第4条第1項第2号・第3号の額
    income_field: str = "adj_income"  # 基礎控除後総所得金額等
    ability: AbilityRate
    benefit: BenefitAmount
    budget: Budget | None = None
    #: Prorate the computed amounts so they sum to the budget (UNCONFIRMED practice).
    scale_to_budget: bool = False
    source: str
    confirmed: bool


class Provisional(Strict):
    """暫定措置: the budget split among the prefectures by insured count."""

    label: str = "暫定措置"
    budget: Budget
    source: str
    confirmed: bool


class SpecialItem(Strict):
    """A 特別調整交付金 menu item.

    ``excess_over_national_rate``: max(0, count − base × Σcount ÷ Σbase) × unit cost × factors
    (未就学児: 全国平均を超える未就学児の数 × 全国平均の未就学児医療費 × 1/2 × 9/10).
    ``per_count``: count × unit cost × factors. The unit cost is ``unit_cost_yen`` or the
    count-weighted national mean of ``unit_cost_field``.
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    formula: Literal["excess_over_national_rate", "per_count"]
    count_field: str
    base_field: str = "insured"
    unit_cost_yen: float | None = Field(default=None, ge=0)
    unit_cost_field: str | None = None
    factors: tuple[float, ...] = ()
    budget: Budget | None = None
    source: str
    confirmed: bool


class Adjustment(Strict):
    ordinary: Ordinary | None = None
    provisional: Provisional | None = None
    special: tuple[SpecialItem, ...] = ()

    def field_names(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """(path, field name) of every field the parameters read, for validation."""
        if self.ordinary is not None:
            o = self.ordinary
            yield ("ordinary", "demand_field"), o.demand_field
            yield ("ordinary", "deductions_field"), o.deductions_field
            yield ("ordinary", "income_field"), o.income_field
            if o.benefit.amount_field is not None:
                yield ("ordinary", "benefit", "amount_field"), o.benefit.amount_field
        for index, item in enumerate(self.special):
            yield ("special", index, "count_field"), item.count_field
            if item.base_field != "insured":
                yield ("special", index, "base_field"), item.base_field
            if item.unit_cost_field is not None:
                yield ("special", index, "unit_cost_field"), item.unit_cost_field
