"""Properties of 本算定 over random households and every shipped Kagawa rule file."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from functools import cache
from unittest.mock import patch

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kokuho.premiums import (
    PARTS,
    HouseholdInput,
    Member,
    PremiumRules,
    assess,
    correct,
    load_premium_rules,
    shipped_municipalities,
)
from kokuho.premiums._assess_reduction import judgement_day
from tests.premiumcases import member

YEARS = (2020, 2021, 2022, 2023)
ORDER = {None: 0, "2": 1, "5": 2, "7": 3}


@cache
def rules_of(year: int, code: str) -> PremiumRules:
    return load_premium_rules(year, code)


municipalities = st.sampled_from(shipped_municipalities(2020))
years = st.sampled_from(YEARS)


def _within(fiscal_year: int) -> st.SearchStrategy[date]:
    return st.dates(date(fiscal_year - 1, 10, 1), date(fiscal_year + 1, 6, 30))


@st.composite
def members(draw: st.DrawFn, person_id: int, fiscal_year: int) -> Member:
    # Half the members have a birthday that matters inside the year (6, 40, 65, 75).
    age = draw(st.sampled_from([None, 6, 40, 65, 75]))
    if age is None:
        born = draw(st.dates(date(1935, 1, 1), date(fiscal_year, 3, 1)))
    else:
        born = draw(st.dates(date(fiscal_year - age, 1, 1), date(fiscal_year - age + 1, 6, 30)))
    drawn = draw(st.sampled_from([date(2015, 4, 1), None]) | _within(fiscal_year))
    acquired = max(drawn or born, born)
    lost = draw(st.none() | _within(fiscal_year))
    if lost is not None and lost <= acquired:
        lost = None
    special = draw(st.sampled_from(["", "", "unemployed", "former", "due"]))
    return member(
        person_id,
        born,
        acquired=acquired,
        lost=lost,
        salary=draw(st.integers(0, 6_000_000)),
        pension=draw(st.integers(0, 3_000_000)),
        other=draw(st.sampled_from([0, 0, 100_000, 2_000_000, 12_000_000])),
        declared=draw(st.booleans() | st.just(True)),
        wage_earner=draw(st.booleans()),
        former_dependant=special == "former",
        involuntary_unemployment_from=draw(_within(fiscal_year))
        if special == "unemployed"
        else None,
        delivery_due=draw(_within(fiscal_year)) if special == "due" else None,
    )


@st.composite
def households(draw: st.DrawFn) -> HouseholdInput:
    year, code = draw(years), draw(municipalities)
    count = draw(st.integers(1, 5))
    people = tuple(draw(members(k + 1, year)) for k in range(count))
    since = draw(st.none() | st.dates(date(year - 9, 1, 1), date(year + 1, 3, 1)))
    return HouseholdInput(
        household_id="P",
        municipality=code,
        fiscal_year=year,
        head_person_id=1,
        members=people,
        fixed_asset_tax=draw(st.integers(0, 300_000)),
        specified_household_since=since,
    )


def rules_for(h: HouseholdInput) -> PremiumRules:
    return rules_of(h.fiscal_year, h.municipality)


@settings(max_examples=100, deadline=None)
@given(households())
def test_instalments_sum_to_the_total_and_parts_stay_under_the_cap(h: HouseholdInput) -> None:
    rules = rules_for(h)
    a = assess(h, rules)
    assert sum(i.amount for i in a.instalments) == a.total
    assert all(i.amount >= 0 for i in a.instalments)
    assert len(a.instalments) == len(rules.municipal.instalments.months)
    for part in a.parts:
        assert 0 <= part.amount <= rules.cap(part.part)
        assert part.amount % rules.municipal.rounding.part.unit == 0


@settings(max_examples=100, deadline=None)
@given(households())
def test_a_member_more_never_lowers_the_reduction_nor_the_flat_levy_at_the_same_class(
    h: HouseholdInput,
) -> None:
    rules = rules_for(h)
    before = assess(h, rules)
    # The newcomer joins on the judgement day, so the day (and who is judged) stays the same.
    day = judgement_day(h)
    assume(day is not None)
    newcomer = member(99, date(1990, 7, 7), acquired=day)
    after = assess(replace(h, members=(*h.members, newcomer)), rules)
    assert ORDER[after.reduction] >= ORDER[before.reduction]
    if after.reduction == before.reduction:
        assert after.parts[0].per_capita >= before.parts[0].per_capita


@settings(max_examples=100, deadline=None)
@given(households(), st.integers(1, 3_000_000))
def test_more_income_never_lowers_the_premium(h: HouseholdInput, more: int) -> None:
    rules = rules_for(h)
    first = h.members[0]
    richer = replace(first, income=replace(first.income, other=first.income.other + more))
    after = assess(replace(h, members=(richer, *h.members[1:])), rules)
    before = assess(h, rules)
    for part in PARTS:
        index = PARTS.index(part)
        assert after.parts[index].amount >= before.parts[index].amount


@settings(max_examples=60, deadline=None)
@given(households())
def test_reassessing_unchanged_inputs_changes_nothing(h: HouseholdInput) -> None:
    rules = rules_for(h)
    fixed = correct(assess(h, rules), h, rules, date(h.fiscal_year, 9, 1))
    assert fixed.kind == "none"
    assert fixed.assessment.instalments == assess(h, rules).instalments


def _month_by_month(household: HouseholdInput, national: object) -> list[tuple[int, int]]:
    return [(index, index + 1) for index in range(12)]


@settings(max_examples=100, deadline=None)
@given(households())
def test_pricing_spans_of_months_equals_pricing_every_month(h: HouseholdInput) -> None:
    """The engine prices each span of months where nothing changes once; cutting the year into
    its 12 months must give the same bill, so no change point (a birthday, a loss, the end of a
    special reduction) is missed."""
    rules = rules_for(h)
    spans = assess(h, rules)
    with patch("kokuho.premiums._assess.segments", _month_by_month):
        months = assess(h, rules)
    assert [p.amount for p in spans.parts] == [p.amount for p in months.parts]
    assert spans.instalments == months.instalments
    bare = assess(h, rules, with_reasons=False)
    assert (bare.parts[0].amount, bare.total, bare.reasons) == (
        spans.parts[0].amount,
        spans.total,
        (),
    )
