"""The 実施率 queries' cheaper forms: the 年度末年齢 filter as a range of birth dates, and
DuckDB's insertion order relaxed only while ``rate_tables`` runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pyarrow as pa
import pytest

from kokuho.checkups._rate_pair import _any_order, rate_tables
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


def _bound(backend: Any, name: str, rows: pa.Table) -> Any:
    """``rows`` as a table of ``backend`` (not of Ibis's default connection)."""
    backend.con.register(name, rows)
    return backend.table(name)


def _order(con: object) -> object:
    [(value,)] = con.execute(  # type: ignore[attr-defined]
        "SELECT current_setting('preserve_insertion_order')"
    ).fetchall()
    return value


@pytest.mark.parametrize("before", [True, False])
def test_insertion_order_is_relaxed_only_while_the_query_runs(before: bool) -> None:
    backend = ibis.duckdb.connect()
    backend.con.execute(f"SET preserve_insertion_order = {str(before).lower()}")
    table = _bound(backend, "t", pa.table({"x": [1, 2]}))
    with _any_order(table):
        assert _order(backend.con) is False
    assert _order(backend.con) is before
    with pytest.raises(RuntimeError), _any_order(table):
        raise RuntimeError("the query failed")
    assert _order(backend.con) is before


def test_rate_tables_leave_the_connection_as_found() -> None:
    backend = ibis.duckdb.connect()
    snap = _bound(backend, "snap", snapshot(member(1)))
    ck = _bound(backend, "ck", checkups(exam("1", dt.date(FY, 7, 1))))
    g = _bound(backend, "g", guidance())
    checkup, _ = rate_tables(snap, ck, g, FY)
    assert [(r["eligible"], r["examined"]) for r in checkup.to_pyarrow().to_pylist()] == [(1, 1)]
    assert _order(backend.con) is True
