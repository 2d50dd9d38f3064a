"""The statutory 軽減 (7割・5割・2割 of 均等割 and 平等割): one judgement per household and year.

Judged on the 賦課期日 (4月1日), or on the day the household joined when no member was covered
on 1 April (国保法施行令 §29-7(5)). The income counted is that of the 世帯主 (also a
擬制世帯主 who is not a member), of every member covered that day and of every
特定同一世帯所属者; n = those members + 特定同一世帯所属者. For the judgement only, a person aged
65 or over on 12月31日 of the income year has 公的年金等所得 reduced by 15万円 (高齢者特別控除),
and a 非自発的失業者 counts 給与所得 × 30/100. One 未申告 person means no 軽減.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Final

from kokuho.ids import age_on
from kokuho.premiums._assess_months import covered_until, unemployment_applies
from kokuho.premiums._model import HouseholdInput, Member, Reason, ReductionClass
from kokuho.premiums._rules import PremiumRules

RATES: Final[dict[ReductionClass, Fraction]] = {
    "7": Fraction(7, 10),
    "5": Fraction(5, 10),
    "2": Fraction(2, 10),
}


@dataclass(frozen=True, slots=True)
class Judgement:
    reduction: ReductionClass | None
    judged_on: date | None
    reason: Reason

    @property
    def rate(self) -> Fraction:
        return RATES[self.reduction] if self.reduction else Fraction(0)


def judgement_day(household: HouseholdInput) -> date | None:
    """1 April, or the first acquisition (or return after a gap) after it when no member was
    covered on 1 April."""
    first = date(household.fiscal_year, 4, 1)
    if any(_covered_on(m, first) for m in household.members):
        return first
    later = [
        day
        for m in household.members
        if m.acquired is not None
        for day in (m.acquired, *(stop for _, stop in m.gaps))
        if day > first and _covered_on(m, day)
    ]
    return min(later) if later else None


def _covered_on(member: Member, day: date) -> bool:
    if member.acquired is None or member.acquired > day:
        return False
    if any(start <= day < stop for start, stop in member.gaps):
        return False
    until = covered_until(member)
    return until is None or until > day


def judge(household: HouseholdInput, rules: PremiumRules) -> Judgement:
    """The household's 軽減 class with the figures a clerk needs to explain it."""
    national = rules.national
    rule = f"{rules.national_file}: reduction"
    day = judgement_day(household)
    if day is None:
        return Judgement(None, None, Reason(rule, "軽減判定: 被保険者なし"))
    counted = [
        m
        for m in household.members
        if m.person_id == household.head_person_id
        or m.specified_same_household
        or _covered_on(m, day)
    ]
    n = sum(1 for m in counted if m.specified_same_household or _covered_on(m, day))
    undeclared = [m.person_id for m in counted if not m.income.declared]
    if undeclared:
        text = f"軽減判定 ({day}): 未申告の者あり (person {undeclared}) → 軽減なし"
        return Judgement(None, day, Reason(rule, text))
    total = sum(_judged_income(m, rules) for m in counted)
    reduction = national.reduction
    earners = sum(1 for m in counted if m.income.wage_earner)
    extra = reduction.per_extra_wage_earner.value * max(0, earners - 1)
    base = reduction.base.value + extra
    limits: list[tuple[ReductionClass, int]] = [
        ("7", base),
        ("5", base + reduction.per_member_5.value * n),
        ("2", base + reduction.per_member_2.value * n),
    ]
    wage = f" + {reduction.per_extra_wage_earner.value:,} × ({earners} − 1)" if extra else ""
    for name, limit in limits:
        if total <= limit:
            text = (
                f"軽減判定 ({day}): 総所得金額等 {total:,}円 ≤ {limit:,}円 "
                f"(n = {n}{wage}) → {name}割軽減"
            )
            return Judgement(name, day, Reason(rule, text))
    text = (
        f"軽減判定 ({day}): 総所得金額等 {total:,}円 > 2割軽減の基準 {limits[-1][1]:,}円 "
        f"(n = {n}{wage}) → 軽減なし"
    )
    return Judgement(None, day, Reason(rule, text))


def _judged_income(member: Member, rules: PremiumRules) -> int:
    national = rules.national
    income = member.income
    salary = income.salary
    # The class is one per year: a 非自発的失業 that reaches any month of it counts (month 11
    # is the last, so it is reached when the period started by then and still runs).
    if unemployment_applies(member, national.fiscal_year, 11):
        ratio = Fraction(national.special.involuntary_unemployment.salary_ratio)
        salary = salary * ratio.numerator // ratio.denominator
    pension = income.pension
    deduction = national.reduction.pension_deduction
    year_end = date(national.fiscal_year - 1, 12, 31)
    if member.birth_date <= year_end and age_on(member.birth_date, year_end) >= deduction.min_age:
        pension = max(0, pension - deduction.value)
    return salary + pension + income.other
