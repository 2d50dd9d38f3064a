"""The set-based household-year states that 収納率 reads give exactly what the credit-by-credit
allocation (``ledgers``) gives, on varied ledgers (oldest-first allocation, payments naming
their 期, both mixed, 重複納付, 更正 after payment and after a refund, 充当, 還付), on every
day that matters, for one municipality and for all; plus small cases worked by hand for the
shapes the set-based path computes itself. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from benchmarks.bench_collection import YEARS, build_ledgers
from kokuho.premiums import collection_rates, decide_refunds, import_payments, record_charges
from kokuho.premiums._collection_rate import allocated_states, rates_from
from kokuho.premiums._collection_states import year_states
from tests.premiumrows import CITY, assessment, payment, write_payments

DAYS = [dt.date(y, m, d) for y in range(2021, 2025) for m, d in ((3, 31), (5, 31))]


def test_the_set_based_states_equal_the_allocation_on_varied_ledgers(
    engine: sa.Engine, tmp_path: Path
) -> None:
    counts = build_ledgers(engine, tmp_path, households=150, municipalities=3, seed=7)
    assert counts["settlements"] > 0  # 充当 and 還付 are in the ledgers
    assert_both_paths_agree(engine, DAYS, (*YEARS, 2023))


def assert_both_paths_agree(
    engine: sa.Engine, days: list[dt.date], fiscal_years: tuple[int, ...]
) -> None:
    """The set-based states equal the allocation's on each of ``days``, for one municipality
    (372001) and for all, over every range of years; and so do the 収納率 of ``fiscal_years``."""
    with engine.connect() as connection:
        for day in days:
            for municipality in (None, "372001"):
                for years in ((None, None), (2021, 2021), (None, 2021)):
                    fast = year_states(connection, day, municipality, years)
                    slow = allocated_states(connection, day, municipality, years)
                    assert fast == slow, (day, municipality, years)
    for year in fiscal_years:
        assert collection_rates(engine, year) == rates_from(
            engine, year, None, None, allocated_states
        )


def test_the_shapes_the_set_based_path_computes_by_hand(engine: sa.Engine, tmp_path: Path) -> None:
    """FY2020, ten 期 of 1,000 yen from July 2020 (10,000 a year), each household alone:

    - N: pays 期1 twice (1,000 + 1,000) and 期2 with 1,500: paid 1,000 + 1,000 = 2,000, owed
      8,000 (each named 期 takes at most its 調定; the rest is 過誤納);
    - U: pays 2,500 and then 9,000 without a 期: oldest first, capped at the year's 10,000:
      owed 0 (1,500 過誤納);
    - D: pays all 10,000 without a 期, then a 減額更正 to 4,000 (期5–10 to 0) and a 還付 of the
      6,000 過誤納金; then a 増額更正 of 3,000 (期8–10 back to 1,000): the refunded money no
      longer exists to pay it, so 7,000 charged, owed 3,000;
    - M: one payment names 期1, another names none: the allocation path, owed 7,000.
    """
    for household in ("N", "U", "D", "M"):
        record_charges(engine, assessment(household, 2020, [1_000] * 10), dt.date(2020, 6, 15),
                       "initial")  # fmt: skip
    paid = [payment("D1", "D", 2020, "2020-07-31", 10_000)]
    import_payments(engine, write_payments(tmp_path / "d.csv", paid))
    record_charges(engine, assessment("D", 2020, [1_000] * 4 + [0] * 6), dt.date(2020, 10, 1),
                   "decrease")  # fmt: skip
    [refund] = decide_refunds(engine, CITY, dt.date(2020, 10, 2))
    assert (refund.household_id, refund.kind, refund.amount) == ("D", "refund", 6_000)
    increased = [1_000] * 4 + [0] * 3 + [1_000] * 3
    record_charges(engine, assessment("D", 2020, increased), dt.date(2020, 12, 1), "increase")
    rows = [
        payment("N1", "N", 2020, "2020-07-31", 1_000, 1),
        payment("N2", "N", 2020, "2020-08-02", 1_000, 1),
        payment("N3", "N", 2020, "2020-08-31", 1_500, 2),
        payment("U1", "U", 2020, "2020-07-31", 2_500),
        payment("U2", "U", 2020, "2020-09-30", 9_000),
        payment("M1", "M", 2020, "2020-07-31", 1_000, 1),
        payment("M2", "M", 2020, "2020-07-31", 2_000),
    ]
    import_payments(engine, write_payments(tmp_path / "p.csv", rows))
    with engine.connect() as connection:
        found = year_states(connection, dt.date(2021, 5, 31))
        assert found == allocated_states(connection, dt.date(2021, 5, 31), None)
    owed = {key[1]: state for key, state in found.items()}
    assert owed == {  # (調定額, 未納額, 不納欠損額): nothing written off here
        "N": (10_000, 8_000, 0),
        "U": (10_000, 0, 0),
        "D": (7_000, 3_000, 0),
        "M": (10_000, 7_000, 0),
    }


@pytest.mark.parametrize("municipality", ["372013", None])
def test_no_charges_no_states(engine: sa.Engine, municipality: str | None) -> None:
    with engine.connect() as connection:
        assert year_states(connection, dt.date(2021, 5, 31), municipality) == {}
