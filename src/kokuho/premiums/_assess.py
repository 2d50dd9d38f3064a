"""本算定 (assessment, 賦課) of one household for one fiscal year: pure, no database.

Order of operations (docs/premiums-rules.md):

1. 軽減 judged once for the year (``_assess_reduction``).
2. For every month of the year, each part's liable members (``_assess_months``) and, for that
   composition, the part's annual figure as if it held all year: 所得割 (rate × the sum of the
   members' 基準総所得金額, floored to ``rounding.income_levy``), 資産割 (rate × 固定資産税額),
   均等割 (per member: amount × the share left after 軽減 and special reductions, floored to
   ``rounding.reduced``), 平等割 (likewise for the household), then the cap (賦課限度額).
3. The part's amount = Σ over the months of that annual figure ÷ 12, floored to
   ``rounding.part`` (月割: a month of coverage is a twelfth of the year).
4. 納期: the total over the instalment months, each floored to ``rounding.instalment``, the
   remainder on the first (or last) one, so they sum exactly to the total.
"""

from __future__ import annotations

from calendar import monthrange
from collections import Counter
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from functools import cache

from kokuho.premiums._assess_months import (
    MONTHS,
    care_liable,
    covered,
    household_remaining,
    member_month,
    month_ends,
    segments,
)
from kokuho.premiums._assess_reduction import Judgement, judge
from kokuho.premiums._model import (
    PART_NAMES,
    PARTS,
    Assessment,
    HouseholdInput,
    Instalment,
    Part,
    PartAssessment,
    Reason,
)
from kokuho.premiums._rules import Instalments, PremiumRules


class AssessmentInputError(ValueError):
    """A household that the given rules cannot assess (another year or municipality)."""


@dataclass(frozen=True, slots=True, eq=False)
class _Composition:
    """One month's inputs of one part: the members' (基準総所得金額, 均等割 share, notes) and the
    平等割 share with its notes."""

    members: tuple[tuple[int, Fraction, tuple[str, ...]], ...]
    household: Fraction
    household_notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Annual:
    income_levy: int
    asset_levy: int
    per_capita: int
    per_household: int
    total: int
    capped: bool


def assess(
    household: HouseholdInput, rules: PremiumRules, *, with_reasons: bool = True
) -> Assessment:
    """The household's premium for the fiscal year under ``rules`` (本算定), with reasons.

    ``with_reasons=False`` leaves the reasons out (bulk 本算定 stores amounts; the clerk's
    explanation assesses the one household again with them)."""
    if household.fiscal_year != rules.fiscal_year:
        raise AssessmentInputError(
            f"household {household.household_id}: FY{household.fiscal_year} assessed with "
            f"the rules of FY{rules.fiscal_year}"
        )
    if household.municipality != rules.municipal.municipality:
        raise AssessmentInputError(
            f"household {household.household_id}: municipality {household.municipality} "
            f"assessed with the rules of {rules.municipal.municipality}"
        )
    _check(household)
    judgement = judge(household, rules)
    compositions = _compositions(household, rules, judgement)
    parts = tuple(_part(household, rules, part, compositions[part], with_reasons) for part in PARTS)
    total = sum(p.amount for p in parts)
    return Assessment(
        household_id=household.household_id,
        municipality=household.municipality,
        fiscal_year=household.fiscal_year,
        parts=parts,
        reduction=judgement.reduction,
        instalments=instalments(total, rules),
        reasons=(judgement.reason,) if with_reasons else (),
    )


def _check(household: HouseholdInput) -> None:
    """Refuses inputs that would give a wrong bill without failing: a 世帯主 whose income is
    missing, a negative amount, a coverage that ends before it starts, a person twice."""
    where = f"household {household.household_id}"
    ids = [m.person_id for m in household.members]
    if household.head_person_id not in ids:
        raise AssessmentInputError(f"{where}: the 世帯主 {household.head_person_id} is not listed")
    if len(set(ids)) != len(ids):
        raise AssessmentInputError(f"{where}: a person is listed twice")
    if household.fixed_asset_tax < 0:
        raise AssessmentInputError(f"{where}: fixed_asset_tax is negative")
    for m in household.members:
        income = m.income
        if min(income.salary, income.pension, income.other) < 0:
            raise AssessmentInputError(f"{where}: person {m.person_id}: a negative income")
        if m.lost is not None and (m.acquired is None or m.lost <= m.acquired):
            raise AssessmentInputError(
                f"{where}: person {m.person_id}: lost {m.lost} is not after acquired {m.acquired}"
            )
        for start, stop in m.gaps:
            inside = m.acquired is not None and m.acquired < start < stop
            if not inside or (m.lost is not None and stop >= m.lost):
                raise AssessmentInputError(
                    f"{where}: person {m.person_id}: the gap {start}–{stop} is not inside the "
                    f"coverage {m.acquired}–{m.lost}"
                )


def _compositions(
    household: HouseholdInput, rules: PremiumRules, judgement: Judgement
) -> dict[Part, Counter[_Composition]]:
    """Per part, each distinct composition of the year with its number of months."""
    out: dict[Part, Counter[_Composition]] = {part: Counter() for part in PARTS}
    ends = month_ends(household.fiscal_year)
    rate = judgement.rate
    seen: dict[object, _Composition] = {}
    for start, stop in segments(household, rules.national):
        end = ends[start]
        liable = [m for m in household.members if covered(m, end)]
        if not liable:
            continue
        # A member's figures are the same in every part; only who is liable differs.
        figures = [member_month(m, rules, rate, start) for m in liable]
        care = [k for k, m in enumerate(liable) if care_liable(m, end)]
        for part in PARTS:
            chosen = [liable[k] for k in care] if part == "care" else liable
            if not chosen:
                continue
            mine = [figures[k] for k in care] if part == "care" else figures
            share, notes = household_remaining(
                household, rules, rate, chosen, start, part != "care"
            )
            # Keyed without the shares: they follow from the notes (the 軽減 is the year's),
            # and hashing fractions would cost more than the rest of the month.
            key = (tuple((f.income, f.notes) for f in mine), notes)
            composition = seen.get(key)
            if composition is None:
                members = tuple((f.income, f.remaining, f.notes) for f in mine)
                composition = seen[key] = _Composition(members, share, notes)
            out[part][composition] += stop - start
    return out


def _part(
    household: HouseholdInput,
    rules: PremiumRules,
    part: Part,
    months: Counter[_Composition],
    with_reasons: bool,
) -> PartAssessment:
    annuals = {c: _annual(c, household, rules, part) for c in months}
    sums = [sum(getattr(annuals[c], k) * n for c, n in months.items()) for k in _KEYS]
    unit = rules.municipal.rounding.part.unit
    amount = sums[4] // MONTHS // unit * unit
    reasons: list[Reason] = []
    if with_reasons:
        reasons = [r for c, n in months.items() for r in _reasons(c, n, annuals[c], rules, part)]
    covered_months = sum(months.values())
    if covered_months and with_reasons:
        sum_text = (
            f"{sums[4] // MONTHS:,}円"
            if covered_months == MONTHS and len(months) == 1
            else f"Σ(年額 × 月数) ÷ 12 = {sums[4]:,} ÷ 12"
        )
        reasons.append(
            Reason(
                f"{rules.municipal_file}: rounding.part",
                f"{PART_NAMES[part]} 年額 {sum_text} → {amount:,}円 "
                f"({unit}円未満切捨て; 賦課月数 {covered_months}か月)",
            )
        )
    return PartAssessment(
        part=part,
        income_levy=sums[0] // MONTHS,
        asset_levy=sums[1] // MONTHS,
        per_capita=sums[2] // MONTHS,
        per_household=sums[3] // MONTHS,
        capped=any(a.capped for a in annuals.values()),
        amount=amount,
        reasons=tuple(reasons),
    )


_KEYS = ("income_levy", "asset_levy", "per_capita", "per_household", "total")


def _floor(amount: int, rate: Fraction, unit: int) -> int:
    """amount × rate floored to ``unit`` yen, in integers."""
    return amount * rate.numerator // (rate.denominator * unit) * unit


def _annual(c: _Composition, household: HouseholdInput, rules: PremiumRules, part: Part) -> _Annual:
    rates = rules.municipal.parts.of(part)
    rounding = rules.municipal.rounding
    income_unit, reduced_unit = rounding.income_levy.unit, rounding.reduced.unit
    factors = rules.factors
    income = sum(m[0] for m in c.members)
    income_levy = _floor(income, factors.income_rate[part], income_unit)
    asset_levy = _floor(household.fixed_asset_tax, factors.asset_rate[part], income_unit)
    per_capita = sum(_floor(rates.per_capita, m[1], reduced_unit) for m in c.members)
    per_household = _floor(rates.per_household, c.household, reduced_unit)
    raw = income_levy + asset_levy + per_capita + per_household
    cap = rules.cap(part)
    return _Annual(income_levy, asset_levy, per_capita, per_household, min(raw, cap), raw > cap)


def _percent(rate: Fraction) -> str:
    return f"{float(rate * 100):g}%"


def _reasons(
    c: _Composition, months: int, annual: _Annual, rules: PremiumRules, part: Part
) -> list[Reason]:
    name = PART_NAMES[part]
    file = rules.municipal_file
    rates = rules.municipal.parts.of(part)
    at = f"parts.{part}"
    span = f"{months}か月" if months < MONTHS else "通年"
    base = sum(m[0] for m in c.members)
    out = [
        Reason(
            f"{file}: {at}.income_rate",
            f"{name} 所得割 ({span}): 基準総所得金額 {base:,}円 × "
            f"{_percent(rules.factors.income_rate[part])} = {annual.income_levy:,}円 "
            f"(基礎控除 {rules.national.basic_deduction.value:,}円; {rules.national_file})",
        )
    ]
    if rates.asset_rate:
        out.append(
            Reason(
                f"{file}: {at}.asset_rate",
                f"{name} 資産割 ({span}): 固定資産税額 × {_percent(rules.factors.asset_rate[part])}"
                f" = {annual.asset_levy:,}円",
            )
        )
    shares = ", ".join(
        f"{_percent(share)}" + (f" ({'・'.join(notes)})" if notes else "")
        for _, share, notes in c.members
    )
    out.append(
        Reason(
            f"{file}: {at}.per_capita",
            f"{name} 均等割 ({span}): {rates.per_capita:,}円 × {len(c.members)}人 "
            f"[負担割合 {shares}] = {annual.per_capita:,}円",
        )
    )
    if rates.per_household:
        notes = f" ({'・'.join(c.household_notes)})" if c.household_notes else ""
        out.append(
            Reason(
                f"{file}: {at}.per_household",
                f"{name} 平等割 ({span}): {rates.per_household:,}円 × {_percent(c.household)}"
                f"{notes} = {annual.per_household:,}円",
            )
        )
    if annual.capped:
        out.append(
            Reason(
                f"{rules.national_file}: caps.{part}",
                f"{name} 賦課限度額 {rules.cap(part):,}円を適用 ({span})",
            )
        )
    return out


def due_dates(rules: PremiumRules) -> tuple[date, ...]:
    """The 納期 of the fiscal year: months from the first (in the fiscal year) onwards, a
    month before the first one falling in the next calendar year's turn."""
    return _due_dates(rules.municipal.instalments, rules.fiscal_year)


@cache
def _due_dates(plan: Instalments, fiscal_year: int) -> tuple[date, ...]:
    first = plan.months[0]
    out = []
    for month in plan.months:
        year = fiscal_year if month >= first else fiscal_year + 1
        out.append(date(year, month, min(plan.due_day, monthrange(year, month)[1])))
    return tuple(out)


def split(total: int, count: int, unit: int, remainder_first: bool) -> list[int]:
    """``total`` in ``count`` parts floored to ``unit``; the remainder on the first or last."""
    each = total // count // unit * unit
    amounts = [each] * count
    amounts[0 if remainder_first else -1] += total - each * count
    return amounts


def instalments(total: int, rules: PremiumRules) -> tuple[Instalment, ...]:
    """The year's 納期 for ``total``, summing exactly to it."""
    rounding = rules.municipal.rounding.instalment
    dues = due_dates(rules)
    amounts = split(total, len(dues), rounding.unit, rounding.remainder == "first")
    return tuple(
        Instalment(k + 1, due, amount)
        for k, (due, amount) in enumerate(zip(dues, amounts, strict=True))
    )
