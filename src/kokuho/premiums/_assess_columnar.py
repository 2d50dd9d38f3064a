"""Columnar 本算定 (一括賦課): every household of a municipality and fiscal year at once, on Arrow
tables, with the same rules and the same yen as the per-household engine (``_assess``).

The per-household engine keeps the reasons of every figure for the clerk; the June run over
hundreds of thousands of households needs the amounts only. Here each member is a row and each
month of the fiscal year a column (numpy arrays of member × 12): coverage (資格取得 to 資格喪失
or the 75th birthday), 介護分 liability (40–64, age reached the day before the birthday),
非自発的失業, 旧被扶養者 and 産前産後 by month; per household the 軽減 judgement (4月1日 or the
day the household joined, 高齢者特別控除, 給与所得者等の数), then per month and part the annual
figure the engine prices (所得割, 資産割, 均等割, 平等割 with 軽減, 未就学児, 特定世帯, the cap),
summed over the months and floored exactly as the engine does. Integers throughout: a rate
a/b is applied as ``amount * a // (b * unit) * unit``. A household where nothing changes from
May to March (most of them) is priced for April alone and counted twelve times.

Fallback (``_assess_columnar_tables``): a household the engine refuses (世帯主 not listed, a
person twice, a negative amount, a loss not after the acquisition) goes to ``assess``, which
raises its ``AssessmentInputError`` naming the household and the field; one acquired before
its birth date is priced by ``assess`` (the month arrays never read an age before birth).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kokuho.premiums._assess_columnar_dates import (
    NEVER,
    birthday,
    day_number,
    day_of,
    month_index,
    split_days,
)
from kokuho.premiums._assess_columnar_tables import (
    CLASSES,
    HOUSEHOLDS_SCHEMA,
    MEMBERS_SCHEMA,
    NEVER_DAY,
    OUT_KEYS,
    ColumnarInputError,
    household_index,
    household_tables,
    result_table,
    with_fallback,
)
from kokuho.premiums._assess_columnar_tables import (
    columns as read_columns,
)
from kokuho.premiums._assess_reduction import RATES
from kokuho.premiums._model import PARTS, Part
from kokuho.premiums._rules import PremiumRules

__all__ = [
    "HOUSEHOLDS_SCHEMA",
    "MEMBERS_SCHEMA",
    "ColumnarInputError",
    "assess_table",
    "household_tables",
]

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_CHUNK: Final = 100_000


# -- the public entry --------------------------------------------------------------------------


def assess_table(
    members: pa.Table, households: pa.Table, rules: PremiumRules, *, chunk: int = _CHUNK
) -> pa.Table:
    """本算定 of every household of ``households`` (rows of ``HOUSEHOLDS_SCHEMA``) with its
    ``members`` (rows of ``MEMBERS_SCHEMA``) under ``rules``: one row per household, in the
    order of ``households``, with the 軽減 class, per part 所得割, 資産割, 均等割, 平等割, the
    cap flag and the amount, the total and the 納期 amounts (``instalment`` each,
    ``instalment_adjusted`` the one carrying the remainder), and ``engine`` (``columnar`` or
    ``per-household`` for the fallback)."""
    hh = read_columns(households, HOUSEHOLDS_SCHEMA, "households")
    mm = read_columns(members, MEMBERS_SCHEMA, "members")
    index = household_index(members.column("household_id"), households.column("household_id"))
    order = np.argsort(index, kind="stable")
    mm = {k: v[order] for k, v in mm.items()}
    index = index[order]
    starts = np.searchsorted(index, np.arange(len(hh["head_person_id"]) + 1))
    out: list[dict[str, Any]] = []
    total = len(hh["head_person_id"])
    for first in range(0, total, chunk):
        last = min(first + chunk, total)
        lo, hi = int(starts[first]), int(starts[last])
        part_h = {k: v[first:last] for k, v in hh.items()}
        part_m = {k: v[lo:hi] for k, v in mm.items()}
        out.append(_chunk(part_m, part_h, starts[first : last + 1] - lo, rules))
    columns: dict[str, npt.NDArray[Any]] = {
        k: np.concatenate([o[k] for o in out]) if out else np.zeros(0, np.int64) for k in OUT_KEYS
    }
    result = result_table(households.column("household_id"), columns)
    return with_fallback(result, members.take(pa.array(order)), households, starts, rules)


# -- one chunk of households -------------------------------------------------------------------


def _segment_sum(values: npt.NDArray[Any], starts: Ints) -> Ints:
    """Per household (rows ``starts[k]:starts[k+1]``) the sum of ``values`` (1-D or 2-D)."""
    zero = np.zeros((1, *values.shape[1:]), dtype=np.int64)
    cumulative = np.concatenate([zero, np.cumsum(values, axis=0, dtype=np.int64)])
    return np.asarray(cumulative[starts[1:]] - cumulative[starts[:-1]], dtype=np.int64)


def _group_sum(values: npt.NDArray[Any], starts: Ints) -> Ints:
    """``_segment_sum`` for households that all have a row (faster: no running total)."""
    return np.asarray(np.add.reduceat(values, starts[:-1], axis=0, dtype=np.int64))


def _floor(amount: Ints, rate: Fraction, unit: int) -> Ints:
    return amount * rate.numerator // (rate.denominator * unit) * unit


def _refused(m: dict[str, Ints], h: dict[str, Ints], starts: Ints) -> Bools:
    """Households the engine refuses (``_assess._check``) or could not price: they take the
    per-household path, which raises the engine's own error."""
    count = np.diff(starts)
    owner = np.repeat(np.arange(len(count)), count)
    bad = (
        (np.minimum(np.minimum(m["salary"], m["pension"]), m["other"]) < 0)
        | ((m["lost"] < NEVER_DAY) & ((m["acquired"] >= NEVER_DAY) | (m["lost"] <= m["acquired"])))
        | ((m["acquired"] < NEVER_DAY) & (m["acquired"] < m["birth_date"]))
        | _bad_gap(m)
    )
    head = m["person_id"] == h["head_person_id"][owner]
    # A person twice: members are grouped by household; sort each group's ids and compare.
    key = np.lexsort((m["person_id"], owner))
    twice = np.zeros(len(owner), dtype=bool)
    same = (owner[key][1:] == owner[key][:-1]) & (
        m["person_id"][key][1:] == m["person_id"][key][:-1]
    )
    twice[key[1:]] = same
    refused = (
        (_segment_sum(bad, starts) > 0)
        | (_segment_sum(head, starts) == 0)
        | (_segment_sum(twice, starts) > 0)
        | (h["fixed_asset_tax"] < 0)
    )
    return np.asarray(refused, dtype=bool)


def _bad_gap(m: dict[str, Ints]) -> Bools:
    """A gap not strictly inside the coverage (``_assess._check`` refuses it)."""
    start, stop = m["gap_from"], m["gap_to"]
    has = (start < NEVER_DAY) | (stop < NEVER_DAY)
    inside = (m["acquired"] < start) & (start < stop) & (stop < NEVER_DAY)
    inside &= (m["lost"] >= NEVER_DAY) | (stop < m["lost"])
    return np.asarray(has & ~inside, dtype=bool)


def _chunk(
    m: dict[str, Ints], h: dict[str, Ints], starts: Ints, rules: PremiumRules
) -> dict[str, npt.NDArray[Any]]:
    """One chunk of households: the refused set aside, the others priced in two groups: the
    steady ones (nothing changes inside the year, so April stands for all 12 months) and the
    changing ones, month by month."""
    refused = _refused(m, h, starts)
    m = m | _derive(m, rules)
    out: dict[str, npt.NDArray[Any]] = {
        k: np.zeros(len(refused), bool if k.endswith("capped") else np.int64) for k in OUT_KEYS[:-1]
    }
    out["refused"] = refused
    steady = _steady(m, h, starts, rules)
    for chosen, months in ((~refused & steady, _APRIL), (~refused & ~steady, _YEAR)):
        if not chosen.any():
            continue
        count = np.diff(starts)
        mine = np.repeat(chosen, count)
        group_m = {k: v[mine] for k, v in m.items()}
        group_h = {k: v[chosen] for k, v in h.items()}
        group_starts = np.concatenate([[0], np.cumsum(count[chosen])]).astype(np.int64)
        for key, values in _price(group_m, group_h, group_starts, rules, months).items():
            out[key][chosen] = values
    return out


def _derive(m: dict[str, Ints], rules: PremiumRules) -> dict[str, Ints]:
    """The per-member dates every step reads, computed once: month indices of acquisition,
    end of coverage, reaching 40 and 65, leaving a job, delivery; the end of coverage as a day;
    whether the 非自発的失業 reaches this year, 高齢者特別控除, 未就学児."""
    fy, national = rules.fiscal_year, rules.national
    birth = split_days(m["birth_date"])
    until = np.minimum(m["lost"], birthday(birth, 75))
    leaving = m["involuntary_unemployment_from"]
    months = split_days(leaving).months
    left_fy = months // 12 + 1970 - (months % 12 < 3)
    year_end = day_number(fy - 1, 12, 31)
    deduction = national.reduction.pension_deduction
    older = (m["birth_date"] <= year_end) & (birthday(birth, deduction.min_age) - 1 <= year_end)
    return {
        "~acquired": month_index(m["acquired"], fy),
        "~gap_from": month_index(m["gap_from"], fy),
        "~gap_to": month_index(m["gap_to"], fy),
        "~until_day": until,
        "~until": month_index(until, fy),
        "~forty": month_index(birthday(birth, 40) - 1, fy),
        "~sixty_five": month_index(birthday(birth, 65) - 1, fy),
        "~left": month_index(leaving, fy),
        "~left_this_year": (leaving < NEVER_DAY) & (fy <= left_fy + 1),
        "~due": month_index(m["delivery_due"], fy),
        "~older": older,
        "~preschool": birthday(birth, 6) > day_number(fy, 4, 1),
    }


_APRIL: Final = np.arange(1)
_YEAR: Final = np.arange(12)


def _steady(m: dict[str, Ints], h: dict[str, Ints], starts: Ints, rules: PremiumRules) -> Bools:
    """Households where no member's figure changes from May to March: no change point (the
    engine's ``segments``) falls in months 1–11."""
    fy, special = rules.fiscal_year, rules.national.special
    acquired = m["~acquired"]
    points = [
        acquired,
        m["~gap_from"],
        m["~gap_to"],
        m["~until"],
        m["~forty"],
        m["~sixty_five"],
        m["~left"],
        np.where(m["former_dependant"], acquired + special.former_dependant.months, NEVER),
    ]
    perinatal = special.perinatal
    if perinatal is not None:
        due = m["~due"]
        start = month_index(np.array([day_of(perinatal.start)]), fy)
        points += [
            due - perinatal.months_before,
            due + perinatal.months_after + 1,
            np.where(due < NEVER, start, NEVER),
        ]
    inside = np.zeros(len(acquired), dtype=bool)
    for point in points:
        inside |= (point >= 1) & (point <= 11)
    since = month_index(h["specified_household_since"], fy)
    rule = special.specified_household
    changing = _segment_sum(inside, starts) > 0
    for offset in (0, 12 * rule.first_years, 12 * (rule.first_years + rule.then_years)):
        changing |= (since + offset >= 1) & (since + offset <= 11)
    return np.asarray(~changing, dtype=bool)


@dataclass(frozen=True, slots=True)
class _Members:
    """Per member: the household row, and member × month masks and figures."""

    owner: Ints
    covered: Bools
    care: Bools
    base: Ints
    former: Bools
    exempt: Bools
    preschool: Bools


def _price(
    m: dict[str, Ints], h: dict[str, Ints], starts: Ints, rules: PremiumRules, months: Ints
) -> dict[str, npt.NDArray[Any]]:
    """Every figure of the households for the ``months`` given (all 12, or April alone for
    steady households, then counted 12 times)."""
    fy = rules.fiscal_year
    members = _months(m, h, starts, rules, months)
    cls = _judge(m, h, starts, members.owner, rules)
    month = months
    since = month_index(h["specified_household_since"], fy)
    elapsed = month[None, :] - since[:, None]
    rule = rules.national.special.specified_household
    state = np.where(
        (since[:, None] < NEVER) & (elapsed >= 0) & (elapsed < 12 * rule.first_years),
        1,
        np.where(
            (since[:, None] < NEVER)
            & (elapsed >= 0)
            & (elapsed < 12 * (rule.first_years + rule.then_years)),
            2,
            0,
        ),
    )
    out: dict[str, npt.NDArray[Any]] = {"reduction": cls}
    grand = np.zeros(len(cls), dtype=np.int64)
    for part in PARTS:
        figures = _part(members, cls, state, h["fixed_asset_tax"], starts, rules, part)
        for key, values in figures.items():
            out[f"{part}_{key}"] = values
        grand += figures["amount"]
    plan = rules.municipal.rounding.instalment
    count = len(rules.municipal.instalments.months)
    each = grand // count // plan.unit * plan.unit
    out["total"] = grand
    out["instalment"] = each
    out["instalment_adjusted"] = grand - each * (count - 1)
    return out


def _months(
    m: dict[str, Ints], h: dict[str, Ints], starts: Ints, rules: PremiumRules, months: Ints
) -> _Members:
    fy, national = rules.fiscal_year, rules.national
    special, factors = national.special, rules.factors
    month = months[None, :]
    owner = np.repeat(np.arange(len(h["head_person_id"])), np.diff(starts))
    acquired = m["~acquired"]
    covered = (acquired[:, None] <= month) & (month < m["~until"][:, None])
    # Not charged for a month whose last day falls in the gap (a 転出 and a return).
    covered &= ~((m["~gap_from"][:, None] <= month) & (month < m["~gap_to"][:, None]))
    care = covered & (m["~forty"][:, None] <= month) & (month < m["~sixty_five"][:, None])
    # 非自発的失業: from the month of the day after leaving to the end of the next fiscal year.
    jobless = (m["~left"][:, None] <= month) & m["~left_this_year"][:, None]
    ratio = factors.salary_ratio
    deduction = national.basic_deduction.value
    rest = m["pension"] + m["other"] - deduction
    full = np.maximum(0, m["salary"] + rest)
    reduced = np.maximum(0, m["salary"] * ratio.numerator // ratio.denominator + rest)
    base = np.where(jobless, reduced[:, None], full[:, None])
    # The 所得割 exemption has no end; only the 均等割/平等割 halving runs for ``months``.
    former_member = m["former_dependant"][:, None] & (acquired < NEVER)[:, None]
    former: Bools = np.asarray(
        former_member & (month < (acquired + special.former_dependant.months)[:, None]),
        dtype=bool,
    )
    if special.former_dependant.income_exempt:
        base = np.where(former_member, 0, base)
    exempt: Bools = np.zeros_like(covered)
    perinatal = special.perinatal
    if perinatal is not None:
        due = m["~due"][:, None]
        exempt = (
            (due < NEVER)
            & (due - perinatal.months_before <= month)
            & (month <= due + perinatal.months_after)
            & (month >= month_index(np.array([day_of(perinatal.start)]), fy)[0])
        ).astype(bool)
        base = np.where(exempt, 0, base)
    return _Members(owner, covered, care, base, former, exempt, m["~preschool"].astype(bool))


def _judge(
    m: dict[str, Ints], h: dict[str, Ints], starts: Ints, owner: Ints, rules: PremiumRules
) -> Ints:
    """The 軽減 class index per household (0 none, 1 2割, 2 5割, 3 7割), ``_assess_reduction``."""
    fy, national = rules.fiscal_year, rules.national
    first = day_number(fy, 4, 1)
    acquired = m["acquired"]
    until = m["~until_day"]
    has = acquired < NEVER_DAY
    gap_from, gap_to = m["gap_from"], m["gap_to"]
    on_first = (
        has & (acquired <= first) & (until > first) & ~((gap_from <= first) & (first < gap_to))
    )
    any_first = _group_sum(on_first, starts) > 0
    later = np.where(has & (acquired > first) & (until > acquired), acquired, NEVER_DAY)
    back = has & (gap_to < NEVER_DAY) & (gap_to > first) & (until > gap_to)
    later = np.minimum(later, np.where(back, gap_to, NEVER_DAY))
    earliest = np.minimum.reduceat(later, starts[:-1]) if len(later) else later
    day = np.where(any_first, first, earliest)
    judged = day < NEVER_DAY
    mine = day[owner]
    on_day = has & (acquired <= mine) & (until > mine) & ~((gap_from <= mine) & (mine < gap_to))
    ssh = m["specified_same_household"]
    counted = (m["person_id"] == h["head_person_id"][owner]) | ssh | on_day
    n = _group_sum(counted & (ssh | on_day), starts)
    undeclared = _group_sum(counted & ~m["declared"], starts) > 0
    # 高齢者特別控除: aged min_age or over on 12月31日 of the income year.
    rule = national.reduction
    pension = m["pension"]
    pension = np.where(m["~older"], np.maximum(0, pension - rule.pension_deduction.value), pension)
    salary = m["salary"]
    jobless = m["~left_this_year"] & (m["~left"] <= 11)
    ratio = Fraction(national.special.involuntary_unemployment.salary_ratio)
    salary = np.where(jobless, salary * ratio.numerator // ratio.denominator, salary)
    total = _group_sum(np.where(counted, salary + pension + m["other"], 0), starts)
    earners = _group_sum(counted & m["wage_earner"], starts)
    base = rule.base.value + rule.per_extra_wage_earner.value * np.maximum(0, earners - 1)
    cls = np.where(
        total <= base,
        3,
        np.where(
            total <= base + rule.per_member_5.value * n,
            2,
            np.where(total <= base + rule.per_member_2.value * n, 1, 0),
        ),
    )
    return np.asarray(np.where(judged & ~undeclared, cls, 0), dtype=np.int64)


def _shares(rules: PremiumRules, part: Part) -> tuple[Ints, Ints]:
    """Lookup tables of the floored 均等割 per member [class, 未就学児, 旧被扶養者, 産前産後]
    and 平等割 per household [class, 特定世帯 state, 旧被扶養者 alone], as ``member_month`` and
    ``household_remaining`` compute them."""
    rates = rules.municipal.parts.of(part)
    factors = rules.factors
    unit = rules.municipal.rounding.reduced.unit
    per_capita = np.zeros((4, 2, 2, 2), dtype=np.int64)
    per_household = np.zeros((4, 3, 2), dtype=np.int64)
    keeps = (Fraction(1), factors.specified_first_keep, factors.specified_then_keep)
    for c, name in enumerate(CLASSES):
        statutory = RATES[name] if name else Fraction(0)
        for former in (0, 1):
            reduction = max(statutory, factors.former_dependant_rate) if former else statutory
            for pre in (0, 1):
                keep = factors.preschool_keep if pre and factors.preschool_keep is not None else 1
                remaining = (1 - reduction) * keep
                amount = rates.per_capita * remaining
                per_capita[c, pre, former, 0] = (
                    amount.numerator // (amount.denominator * unit) * unit
                )
            for state, kept in enumerate(keeps):
                share = (1 - reduction) * kept
                if part == "care" and state:
                    share = 1 - reduction
                amount = rates.per_household * share
                per_household[c, state, former] = (
                    amount.numerator // (amount.denominator * unit) * unit
                )
    return per_capita, per_household


def _part(
    members: _Members,
    cls: Ints,
    state: Ints,
    asset_tax: Ints,
    starts: Ints,
    rules: PremiumRules,
    part: Part,
) -> dict[str, Ints]:
    liable = members.covered & members.care if part == "care" else members.covered
    per_capita_table, per_household_table = _shares(rules, part)
    owner = members.owner
    pre = members.preschool.astype(np.int64)[:, None]
    each = per_capita_table[
        cls[owner][:, None], pre, members.former.astype(np.int64), members.exempt.astype(np.int64)
    ]
    count = _group_sum(liable, starts)
    income = _group_sum(np.where(liable, members.base, 0), starts)
    per_capita = _group_sum(np.where(liable, each, 0), starts)
    alone_former = (count == 1) & (_group_sum(liable & members.former, starts) == 1)
    any_liable = count > 0
    factors = rules.factors
    unit = rules.municipal.rounding.income_levy.unit
    income_levy = _floor(income, factors.income_rate[part], unit)
    asset_levy = np.broadcast_to(
        _floor(asset_tax, factors.asset_rate[part], unit)[:, None], income.shape
    )
    specified = np.where(count == 1, state, 0)
    per_household = per_household_table[cls[:, None], specified, alone_former.astype(np.int64)]
    zero = np.zeros_like(income)
    asset_levy = np.where(any_liable, asset_levy, zero)
    per_household = np.where(any_liable, per_household, zero)
    raw = income_levy + asset_levy + per_capita + per_household
    cap = rules.cap(part)
    total = np.minimum(raw, cap)
    part_unit = rules.municipal.rounding.part.unit
    weight = 12 // income.shape[1]  # April standing for the year in a steady household
    return {
        "income_levy": income_levy.sum(axis=1) * weight // 12,
        "asset_levy": asset_levy.sum(axis=1) * weight // 12,
        "per_capita": per_capita.sum(axis=1) * weight // 12,
        "per_household": per_household.sum(axis=1) * weight // 12,
        "capped": (any_liable & (raw > cap)).any(axis=1),
        "amount": total.sum(axis=1) * weight // 12 // part_unit * part_unit,
    }
