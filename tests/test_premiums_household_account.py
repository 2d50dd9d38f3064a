"""One household's account (調定 and 収納 per fiscal year, what the §110-2 cases read) read
from that household's rows alone equals the household's ledger within the whole
municipality's (the former way), on varied ledgers (payments naming their 期 and not,
重複納付, 更正, 充当, 還付) on every day that matters. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import sqlalchemy as sa

from benchmarks.bench_collection import build_ledgers
from kokuho.premiums import household_account
from kokuho.premiums._charges import charges
from kokuho.premiums._collection import ledgers

DAYS = [dt.date(y, m, d) for y in range(2021, 2025) for m, d in ((3, 31), (5, 31))]


def _whole_municipality(
    engine: sa.Engine, municipality: str, household_id: str, as_of: dt.date
) -> dict[int, tuple[int, int]]:
    """The account as it was computed before: every ledger of the municipality, then the one."""
    with engine.connect() as connection:
        found = [
            ledger for ledger in ledgers(connection, as_of, municipality)
            if ledger.household_id == household_id
        ]  # fmt: skip
    account: dict[int, tuple[int, int]] = {}
    for ledger in found:
        for state in ledger.instalments:
            charged, paid = account.get(state.fiscal_year, (0, 0))
            account[state.fiscal_year] = (charged + state.charged, paid + state.paid)
        for year, amount in ledger.overpaid.items():
            charged, paid = account.get(year, (0, 0))
            account[year] = (charged, paid + amount)
    return account


def test_one_households_account_equals_its_ledger_among_all(
    engine: sa.Engine, tmp_path: Path
) -> None:
    counts = build_ledgers(engine, tmp_path, households=60, municipalities=2, seed=11)
    assert counts["settlements"] > 0
    with engine.connect() as connection:
        pairs = sorted(
            set(connection.execute(sa.select(charges.c.municipality, charges.c.household_id)))
        )
    chosen = random.Random(11).sample(pairs, 25) + [(pairs[0][0], "NO-SUCH-HOUSEHOLD")]
    nonempty = 0
    for day in DAYS:
        for municipality, household in chosen:
            fast = household_account(engine, municipality, household, day)
            assert fast == _whole_municipality(engine, municipality, household, day), (
                day, municipality, household,
            )  # fmt: skip
            nonempty += bool(fast)
    assert nonempty > 100
