"""The 実施率 denominators' 年度末年齢 filter as a range of birth dates: the same members as
the age rule, by the reference functions and by ``rate_tables``."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest

from kokuho.checkups._rate_pair import rate_tables
from kokuho.checkups._rates import birth_dates, checkup_rate_table
from kokuho.ids import age_at_fiscal_year_end
from tests.test_rates import FY, checkups, exam, guidance, member, snapshot

pytestmark = pytest.mark.filterwarnings("ignore:fetch_arrow_table:DeprecationWarning")


@pytest.mark.parametrize("year", [2008, 2020, 2023, 2024])
def test_the_birth_date_range_is_the_ages_40_to_74(year: int) -> None:
    earliest, latest = birth_dates(year)
    day = dt.date(year - 80, 1, 1)
    while day < dt.date(year - 34, 1, 1):  # leap days and both 1–2 April edges included
        age = age_at_fiscal_year_end(day, year)
        assert (earliest <= day <= latest) == (40 <= age <= 74), day
        day += dt.timedelta(days=1)


def test_members_at_the_edges_of_the_range_are_counted_as_the_age_says() -> None:
    earliest, latest = birth_dates(FY)
    edge = [earliest - dt.timedelta(days=1), earliest, latest, latest + dt.timedelta(days=1)]
    snap = ibis.memtable(snapshot(*[member(n, born=b) for n, b in enumerate(edge, start=1)]))
    ck = ibis.memtable(
        checkups(*[exam(str(n), dt.date(FY, 7, 1), born=b) for n, b in enumerate(edge, start=1)])
    )
    [row] = checkup_rate_table(snap, ck, FY).to_pyarrow().to_pylist()
    assert (row["eligible"], row["examined"]) == (2, 2)
    [pair] = rate_tables(snap, ck, ibis.memtable(guidance()), FY)[0].to_pyarrow().to_pylist()
    assert pair == row
