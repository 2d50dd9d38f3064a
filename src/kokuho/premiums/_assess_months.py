"""Who is liable in which month of the fiscal year (月割), and the member's figures that month.

A fiscal year has 12 months, index 0 (April) to 11 (March). Liability runs by month:

- 国保: from the month of 資格取得 to the month before the month of 資格喪失 (``lost`` is the
  first day not covered, so leaving on a month's last day keeps that month).
- 後期高齢者医療 starts on the 75th birthday itself, which ends 国保 that day.
- 介護納付金分 (第2号被保険者): from the month in which the member reaches 40 to the month
  before the one in which they reach 65. Age is reached on the day before the birthday
  (年齢計算ニ関スル法律), so a member born on the 1st of a month is liable one month earlier.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from functools import cache

from kokuho.ids import age_on
from kokuho.premiums._model import HouseholdInput, Member
from kokuho.premiums._rules import NationalRules, PremiumRules

MONTHS = 12
ONE_DAY = timedelta(days=1)


@cache
def month_ends(fiscal_year: int) -> tuple[date, ...]:
    """The last day of each month of the fiscal year, April first."""
    out = []
    for index in range(MONTHS):
        year, month = month_of(fiscal_year, index)
        out.append(date(year, month, monthrange(year, month)[1]))
    return tuple(out)


def month_of(fiscal_year: int, index: int) -> tuple[int, int]:
    """(year, month) of month ``index`` (0 = April) of the fiscal year."""
    month = (index + 3) % 12 + 1
    return (fiscal_year if month >= 4 else fiscal_year + 1), month


def month_index(fiscal_year: int, day: date) -> int:
    """The month of ``day`` counted from April of the fiscal year (may fall outside 0–11)."""
    return (day.year - fiscal_year) * 12 + day.month - 4


def birthday(birth: date, years: int) -> date:
    """The ``years``-th birthday (1 March when born on 29 February and the year is not leap)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:
        return date(birth.year + years, 3, 1)


def covered_until(member: Member) -> date | None:
    """The first day not covered by 国保: the 資格喪失日 or the 75th birthday, the earlier."""
    late = birthday(member.birth_date, 75)
    return late if member.lost is None or member.lost > late else member.lost


def covered(member: Member, end: date) -> bool:
    """Liable for 医療分 and 支援分 in the month ending ``end``."""
    if member.acquired is None or member.acquired > end:
        return False
    if any(start <= end < stop for start, stop in member.gaps):
        return False
    until = covered_until(member)
    return until is None or until > end


def care_liable(member: Member, end: date) -> bool:
    """Liable for 介護納付金分 in the month ending ``end`` (aged 40–64 at the month's end)."""
    return covered(member, end) and 40 <= age_on(member.birth_date, end) <= 64


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """What one liable member brings to a part in a month.

    ``income`` is the 基準総所得金額 the 所得割 reads (0 when exempt); ``remaining`` the share of
    the 均等割 still due after 軽減 and special reductions. ``notes`` name the reductions."""

    income: int
    remaining: Fraction
    notes: tuple[str, ...]


def segments(household: HouseholdInput, national: NationalRules) -> list[tuple[int, int]]:
    """The months of the year cut where anything that changes a figure changes: [start, end)
    pairs, so each is priced once instead of month by month."""
    fiscal_year = national.fiscal_year
    points = {0, MONTHS}
    special = national.special
    for member in household.members:
        if member.acquired is None:
            continue
        start = month_index(fiscal_year, member.acquired)
        points.add(start)
        for gap in member.gaps:
            points |= {month_index(fiscal_year, gap[0]), month_index(fiscal_year, gap[1])}
        until = covered_until(member)
        if until is not None:
            points.add(month_index(fiscal_year, until))
        for age in (40, 65):  # reached on the day before the birthday
            points.add(month_index(fiscal_year, birthday(member.birth_date, age) - ONE_DAY))
        if member.involuntary_unemployment_from is not None:
            points.add(month_index(fiscal_year, member.involuntary_unemployment_from))
        if member.former_dependant:
            points.add(start + special.former_dependant.months)
        rule = special.perinatal
        if rule is not None and member.delivery_due is not None:
            due = month_index(fiscal_year, member.delivery_due)
            points |= {
                due - rule.months_before,
                due + rule.months_after + 1,
                month_index(fiscal_year, rule.start),
            }
    since = household.specified_household_since
    if since is not None:
        first = month_index(fiscal_year, since)
        rule_sh = special.specified_household
        points |= {
            first,
            first + 12 * rule_sh.first_years,
            first + 12 * (rule_sh.first_years + rule_sh.then_years),
        }
    cuts = sorted(p for p in points if 0 <= p <= MONTHS)
    return list(zip(cuts, cuts[1:], strict=False))


def unemployment_applies(member: Member, fiscal_year: int, index: int) -> bool:
    """非自発的失業: from the month of the day after leaving to the end of the next fiscal year."""
    start = member.involuntary_unemployment_from
    if start is None:
        return False
    first = month_index(fiscal_year, start)
    last_fy = (start.year if start.month >= 4 else start.year - 1) + 1
    return first <= index and fiscal_year <= last_fy


def perinatal_exempt(member: Member, national: NationalRules, end: date, index: int) -> bool:
    """産前産後: exempt from the month before the expected delivery to two months after it,
    for months from the rule's start (2024-01)."""
    rule = national.special.perinatal
    due = member.delivery_due
    if rule is None or due is None or end < rule.start:
        return False
    due_index = month_index(national.fiscal_year, due)
    return due_index - rule.months_before <= index <= due_index + rule.months_after


def former_dependant_applies(member: Member, national: NationalRules, index: int) -> bool:
    """旧被扶養者: the 均等割/平等割 halving runs ``months`` from the month of acquisition."""
    if not member.former_dependant or member.acquired is None:
        return False
    start = month_index(national.fiscal_year, member.acquired)
    return index < start + national.special.former_dependant.months


def preschool(member: Member, fiscal_year: int) -> bool:
    """未就学児: the first 1 April on or after the 6th birthday is after this year's 1 April."""
    return birthday(member.birth_date, 6) > date(fiscal_year, 4, 1)


def member_month(
    member: Member, rules: PremiumRules, statutory: Fraction, index: int
) -> MonthFigures:
    """The member's 基準総所得金額 and remaining 均等割 share in month ``index``.

    ``statutory`` is the household's 軽減 (0.7, 0.5, 0.2 or 0)."""
    national, factors = rules.national, rules.factors
    notes: tuple[str, ...] = ()
    income = member.income
    salary = income.salary
    if member.involuntary_unemployment_from is not None and unemployment_applies(
        member, national.fiscal_year, index
    ):
        ratio = factors.salary_ratio
        salary = salary * ratio.numerator // ratio.denominator
        notes += ("非自発的失業",)
    base = max(0, salary + income.pension + income.other - national.basic_deduction.value)
    reduction = statutory
    if member.former_dependant and member.acquired is not None:
        # The 所得割 exemption has no end; only the 均等割/平等割 halving runs for ``months``.
        # The notes differ between the two, because a month's shares are cached by its notes.
        exempt = national.special.former_dependant.income_exempt
        if former_dependant_applies(member, national, index):
            notes += ("旧被扶養者",)
            reduction = max(reduction, factors.former_dependant_rate)
        elif exempt:
            notes += ("旧被扶養者（所得割免除）",)
        if exempt:
            base = 0
    remaining = 1 - reduction
    if factors.preschool_keep is not None and preschool(member, national.fiscal_year):
        notes += ("未就学児",)
        remaining *= factors.preschool_keep
    end = month_ends(national.fiscal_year)[index]
    if member.delivery_due is not None and perinatal_exempt(member, national, end, index):
        notes += ("産前産後",)
        base, remaining = 0, Fraction(0)
    return MonthFigures(base, remaining, notes)


def household_remaining(
    household: HouseholdInput,
    rules: PremiumRules,
    statutory: Fraction,
    liable: list[Member],
    index: int,
    with_specified: bool,
) -> tuple[Fraction, tuple[str, ...]]:
    """The share of the 平等割 still due in month ``index`` and the reductions applied.

    特定世帯 (医療分・支援分 only: ``with_specified``) needs one liable member left; a household
    whose only member is a 旧被扶養者 gets that member's halving on the 平等割 too."""
    national, factors = rules.national, rules.factors
    notes: tuple[str, ...] = ()
    reduction = statutory
    if len(liable) == 1 and former_dependant_applies(liable[0], national, index):
        notes += ("旧被扶養者",)
        reduction = max(reduction, factors.former_dependant_rate)
    remaining = 1 - reduction
    since = household.specified_household_since
    if with_specified and since is not None and len(liable) == 1:
        rule = national.special.specified_household
        elapsed = index - month_index(national.fiscal_year, since)
        if 0 <= elapsed < 12 * rule.first_years:
            notes += ("特定世帯",)
            remaining *= factors.specified_first_keep
        elif 0 <= elapsed < 12 * (rule.first_years + rule.then_years):
            notes += ("特定継続世帯",)
            remaining *= factors.specified_then_keep
    return remaining, notes
