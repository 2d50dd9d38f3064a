"""The shared parts of the 特定健診・特定保健指導 rates (:mod:`kokuho.checkups._rates`, whose
docstring gives the definitions): the groups and bands, 年度末年齢, the same-person match, and
small Ibis helpers. Split from ``_rates`` to keep each module short; ``_rates`` re-exports every
name, so callers import them from there as before.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final, Literal, cast

import ibis  # type: ignore[import-untyped, unused-ignore]
import ibis.expr.types as ir  # type: ignore[import-untyped, unused-ignore]

from kokuho.ids import FiscalYear

Group = Literal["insurer", "municipality", "sex", "band"]
GROUPS: Final[tuple[Group, ...]] = ("insurer", "municipality", "sex", "band")
MIN_AGE: Final = 40
MAX_AGE: Final = 74
#: The 5-year bands of the denominators and of the 減少率.
BANDS: Final = tuple(f"{low}-{low + 4}" for low in range(MIN_AGE, MAX_AGE + 1, 5))
SEXES: Final = {"male": 1, "female": 2}
INTENSIVE: Final = 1  # 積極的支援
MOTIVATIONAL: Final = 2  # 動機付け支援
KNOWN_LEVELS: Final = (1, 2, 3)  # 4 判定不能 is not a stratification result

Cell = tuple[int, str]  # (sex, band)


def as_fiscal_year(fiscal_year: FiscalYear | int) -> FiscalYear:
    return fiscal_year if isinstance(fiscal_year, FiscalYear) else FiscalYear(fiscal_year)


# -- ages ----------------------------------------------------------------------------------


def fiscal_year_end_age(birth_date: ir.DateValue, fiscal_year: FiscalYear | int) -> ir.IntegerValue:
    """年度末年齢 as an Ibis expression, the same as ``kokuho.ids.age_at_fiscal_year_end``.

    On 31 March of year Y+1 the law counts a birthday of 1 April as already passed (a year is
    completed at the end of the day before the anniversary), so the age is Y+1 − birth year,
    minus one for birthdays from 2 April on.
    """
    fy = as_fiscal_year(fiscal_year)
    month, day = birth_date.month(), birth_date.day()
    not_yet = (month > 4) | ((month == 4) & (day >= 2))
    return (fy.year + 1 - birth_date.year()) - not_yet.ifelse(1, 0)


def birth_dates(fiscal_year: FiscalYear | int) -> tuple[dt.date, dt.date]:
    """(earliest, latest) 生年月日 of a 年度末年齢 of 40–74 in ``fiscal_year``.

    By ``fiscal_year_end_age``, age ≥ 40 exactly when born on or before 1 April of year
    Y+1−40 (born on 2 April that year: 39), and age ≤ 74 exactly when born on or after 2 April
    of year Y+1−75 (born on 1 April that year: already 75).
    """
    fy = as_fiscal_year(fiscal_year)
    return dt.date(fy.year + 1 - MAX_AGE - 1, 4, 2), dt.date(fy.year + 1 - MIN_AGE, 4, 1)


def age_band(age: ir.IntegerValue) -> ir.StringValue:
    """The 5-year band label of ``age``: "40-44", "45-49", …"""
    low = (age // 5) * 5
    return low.cast("string").concat("-", (low + 4).cast("string"))


# -- matching ------------------------------------------------------------------------------


def same_person(a: ir.Table, a_insurer: str, b: ir.Table, b_insurer: str) -> list[ir.BooleanValue]:
    """Join predicates: the same insured person on both sides (see the docstring of
    :mod:`kokuho.checkups._rates`)."""
    a_branch, b_branch = a.branch.nullif(""), b.branch.nullif("")
    return [
        a[a_insurer] == b[b_insurer],
        a.number == b.number,
        a.symbol == b.symbol,
        ibis.ifelse(
            a_branch.isnull() | b_branch.isnull(),
            a.birth_date == b.birth_date,
            a_branch == b_branch,
        ),
    ]


def count_if(condition: ir.BooleanValue) -> ir.IntegerScalar:
    # ifelse + sum rather than summing booleans: portable to Spark; 0, not null, on no rows.
    return condition.ifelse(1, 0).sum().fill_null(0)


def ratio(numerator: ir.IntegerValue, denominator: ir.IntegerValue) -> ir.FloatingValue:
    # nullif: Spark in ANSI mode raises on division by zero.
    return numerator.cast("float64") / denominator.nullif(0).cast("float64")


def check_by(by: Sequence[str]) -> tuple[Group, ...]:
    unknown = [g for g in by if g not in GROUPS]
    if unknown or len(set(by)) != len(by):
        raise ValueError(f"by: {list(by)!r}; choose distinct names from {GROUPS}")
    return tuple(cast(Group, g) for g in by)


def group_keys(by: tuple[Group, ...]) -> list[str]:
    # insurer_kind goes along with insurer (it depends on it) so progress() can pick a target.
    keys: list[str] = []
    for group in by:
        keys += ["insurer", "insurer_kind"] if group == "insurer" else [group]
    return keys
