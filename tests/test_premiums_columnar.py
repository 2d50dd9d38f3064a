"""The columnar 本算定 (``assess_table``) gives exactly the per-household engine's yen, 軽減 class
and 納期 for every household it prices, over random households covering every feature and the
boundaries (birthdays at 6, 40, 65, 75 around the year, 1st-of-month and 29 February births,
acquisitions and losses around 1 April and the months' ends, 特定世帯 at its 5- and 8-year
limits, 旧被扶養者, 非自発的失業 across two years, 産前産後 around January 2024, incomes at the 軽減
thresholds, the caps)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from functools import cache

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kokuho.premiums import (
    AssessmentInputError,
    HouseholdInput,
    Member,
    PremiumRules,
    assess,
    assess_table,
    household_tables,
    load_premium_rules,
    shipped_municipalities,
)
from kokuho.premiums._assess_columnar import ColumnarInputError
from tests.premiumcases import city_rules, household, member

YEARS = (2020, 2021, 2022, 2023)
FIELDS = ("income_levy", "asset_levy", "per_capita", "per_household", "capped", "amount")


@cache
def rules_of(year: int, code: str) -> PremiumRules:
    if code == "000000":
        return city_rules(year)
    return load_premium_rules(year, code)


def _near(fiscal_year: int) -> st.SearchStrategy[date]:
    """Days around the year, with the boundaries drawn often: 1 April, month ends, the 1st."""
    edges = [date(fiscal_year, 4, 1), date(fiscal_year, 3, 31), date(fiscal_year + 1, 4, 1)]
    edges += [date(fiscal_year, month, 1) for month in (5, 8, 12)]
    edges += [date(fiscal_year + 1, 1, 1), date(fiscal_year + 1, 2, 28)]
    edges += [d - timedelta(days=1) for d in edges]
    return st.sampled_from(edges) | st.dates(
        date(fiscal_year - 2, 1, 1), date(fiscal_year + 1, 6, 30)
    )


@st.composite
def _birth(draw: st.DrawFn, fiscal_year: int) -> date:
    age = draw(st.sampled_from([None, 6, 40, 65, 75, 65]))
    if age is None:
        return draw(st.dates(date(1930, 1, 1), date(fiscal_year, 3, 1)))
    year = fiscal_year - age + draw(st.integers(0, 1))
    special = draw(st.sampled_from(["", "", "first", "leap"]))
    if special == "first":
        return date(year, draw(st.integers(1, 12)), 1)
    if special == "leap" and year % 4 == 0:
        return date(year, 2, 29)
    return draw(st.dates(date(year, 1, 1), date(year, 12, 31)))


@st.composite
def _member(draw: st.DrawFn, person_id: int, fiscal_year: int, limit: int) -> Member:
    born = draw(_birth(fiscal_year))
    kind = draw(st.sampled_from(["member", "member", "member", "not", "specified"]))
    acquired = (
        None
        if kind != "member"
        else max(draw(_near(fiscal_year) | st.just(date(2010, 4, 1))), born)
    )
    lost = draw(st.none() | _near(fiscal_year)) if acquired else None
    if lost is not None and acquired is not None and lost <= acquired:
        lost = None
    special = draw(st.sampled_from(["", "", "", "unemployed", "former", "due"]))
    # Incomes near the 軽減 thresholds as often as anywhere else.
    near = st.integers(max(0, limit - 2), limit + 2)
    gaps: tuple[tuple[date, date], ...] = ()
    if acquired is not None and draw(st.sampled_from([False, False, True])):
        # A 転出 and a return: a gap strictly inside the coverage.
        start, stop = sorted(draw(st.lists(_near(fiscal_year), min_size=2, max_size=2,
                                           unique=True)))  # fmt: skip
        if acquired < start and (lost is None or stop < lost):
            gaps = ((start, stop),)
    return replace(
        member(
            person_id,
            born,
            acquired=acquired,
            lost=lost,
            salary=draw(st.sampled_from([0, 0]) | st.integers(0, 8_000_000) | near),
            pension=draw(st.sampled_from([0, 150_000, 1_100_000]) | st.integers(0, 3_000_000)),
            other=draw(st.sampled_from([0, 0, 100_000, 12_000_000, 40_000_000]) | near),
            declared=draw(st.booleans() | st.just(True)),
            wage_earner=draw(st.booleans()),
            specified_same_household=kind == "specified",
            former_dependant=special == "former",
            involuntary_unemployment_from=draw(_near(fiscal_year))
            if special == "unemployed"
            else None,
            delivery_due=draw(_near(fiscal_year)) if special == "due" else None,
        ),
        gaps=gaps,
    )


@st.composite
def _household(draw: st.DrawFn, index: int, year: int, code: str) -> HouseholdInput:
    rules = rules_of(year, code)
    limit = rules.national.reduction.base.value
    count = draw(st.integers(1, 5))
    people = tuple(draw(_member(k + 1, year, limit)) for k in range(count))
    since = draw(
        st.none()
        | st.sampled_from([date(year - 5, 4, 1), date(year - 8, 4, 1), date(year - 5, 9, 30)])
        | st.dates(date(year - 9, 1, 1), date(year + 1, 3, 1))
    )
    return HouseholdInput(
        household_id=f"H{index}",
        municipality=rules.municipal.municipality,
        fiscal_year=year,
        head_person_id=draw(st.sampled_from([p.person_id for p in people])),
        members=people,
        fixed_asset_tax=draw(st.sampled_from([0, 0, 50_000]) | st.integers(0, 3_000_000)),
        specified_household_since=since,
    )


@st.composite
def batches(draw: st.DrawFn) -> tuple[PremiumRules, list[HouseholdInput]]:
    year = draw(st.sampled_from(YEARS))
    code = draw(st.sampled_from(["000000", *shipped_municipalities(year)]))
    size = draw(st.integers(1, 12))
    return rules_of(year, code), [draw(_household(k, year, code)) for k in range(size)]


def _expected(h: HouseholdInput, rules: PremiumRules) -> dict[str, object]:
    a = assess(h, rules)
    row: dict[str, object] = {"household_id": h.household_id, "reduction": a.reduction}
    for part in a.parts:
        row |= {f"{part.part}_{key}": getattr(part, key) for key in FIELDS}
    amounts = [i.amount for i in a.instalments]
    remainder_first = rules.municipal.rounding.instalment.remainder == "first"
    row["total"] = a.total
    row["instalment_adjusted"] = amounts[0] if remainder_first else amounts[-1]
    if len(amounts) > 1:
        row["instalment"] = amounts[-1] if remainder_first else amounts[0]
    return row


def _agree(rules: PremiumRules, hs: Sequence[HouseholdInput], chunk: int = 5) -> None:
    members, households = household_tables(hs)
    got = assess_table(members, households, rules, chunk=chunk).to_pylist()
    assert [g["household_id"] for g in got] == [h.household_id for h in hs]
    for h, row in zip(hs, got, strict=True):
        want = _expected(h, rules)
        assert {k: row[k] for k in want} == want, h
        assert row["engine"] == "columnar"


@settings(max_examples=250, deadline=None)
@given(batches())
def test_the_columnar_path_gives_the_engines_amounts(
    batch: tuple[PremiumRules, list[HouseholdInput]],
) -> None:
    rules, hs = batch
    _agree(rules, hs)


def test_members_listed_out_of_order_and_in_several_chunks_agree() -> None:
    rules = city_rules(2023)
    hs = [
        household(
            member(1, date(1958, 4, 1), salary=2_000_000),
            member(2, date(1983, 6, 1), acquired=date(2023, 9, 10)),
            fiscal_year=2023,
        ),
        household(member(7, date(1950, 2, 28), pension=1_600_000), fiscal_year=2023),
        household(
            member(3, date(2019, 1, 1), acquired=date(2019, 1, 1)),
            member(4, date(1986, 5, 5), salary=300_000, wage_earner=True),
            head=4,
            fiscal_year=2023,
        ),
    ]
    hs = [replace(h, household_id=f"H{k}") for k, h in enumerate(hs)]
    members, households = household_tables(hs)
    shuffled = members.take(pa.array([4, 0, 3, 2, 1]))
    want = [_expected(h, rules) for h in hs]
    for chunk in (1, 2, 100):
        got = assess_table(shuffled, households, rules, chunk=chunk).to_pylist()
        assert [{k: g[k] for k in w} for g, w in zip(got, want, strict=True)] == want
        assert {g["engine"] for g in got} == {"columnar"}


def test_a_household_the_engine_refuses_is_refused_with_its_reason() -> None:
    rules = city_rules(2020)
    good = household(member(1, date(1970, 1, 1), salary=1_000_000))
    bad = replace(household(member(2, date(1970, 1, 1), salary=-1)), household_id="H2")
    members, households = household_tables([good, bad])
    with pytest.raises(AssessmentInputError, match="H2: person 2: a negative income"):
        assess_table(members, households, rules)


def test_an_acquisition_before_birth_goes_to_the_per_household_engine() -> None:
    rules = city_rules(2020)
    # A newborn registered with the month's first day: the engine prices it, the columnar
    # path hands it over rather than reading an age before birth.
    baby = household(member(1, date(2020, 6, 15), acquired=date(2020, 6, 1)))
    members, households = household_tables([baby])
    row = assess_table(members, households, rules).to_pylist()[0]
    assert row["engine"] == "per-household"
    assert row["total"] == assess(baby, rules).total > 0


def test_tables_missing_a_column_or_naming_an_unknown_household_are_refused() -> None:
    rules = city_rules(2020)
    members, households = household_tables([household(member(1, date(1970, 1, 1)))])
    with pytest.raises(ColumnarInputError, match="members table: column salary is missing"):
        assess_table(members.drop_columns(["salary"]), households, rules)
    stray = members.set_column(0, "household_id", pa.array(["X"]))
    with pytest.raises(ColumnarInputError, match="household_id X is not a household"):
        assess_table(stray, households, rules)
    nulls = members.set_column(5, "salary", pa.array([None], pa.int64()))
    with pytest.raises(ColumnarInputError, match="column salary has a null"):
        assess_table(nulls, households, rules)
