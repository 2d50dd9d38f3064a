"""不納欠損 (write-offs): instalments whose 徴収権 prescribed (時効完成), found as of a 基準日,
and instalments the municipality writes off on another ground of the rule file (執行停止 …),
one at a time (docs/premiums-collection.md, "時効 and 不納欠損").

Each write-off records what the instalment still owed, the day it was decided, its ground and
the ground's day (the first day of prescription, or the day a 執行停止 began). From that day
the instalment is no longer 滞納 and no credit can pay it. Decisions go in day order with the
過誤納金 decisions (充当, 還付) of the municipality: a ledger read as of an earlier day does not
hold a later decision, and would write off, or 充当 to, the same money again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from kokuho.premiums._collection import HouseholdLedger, InstalmentState, ledgers
from kokuho.premiums._collection_tables import latest_day, refunds, write_offs
from kokuho.premiums._periods import last_claim_day
from kokuho.premiums._prescription_rules import PRESCRIPTION, load_prescription_rules
from kokuho.store import Fence, write_transaction


class WriteOffRefused(ValueError):
    """A 不納欠損 that cannot be decided as asked; nothing was written."""


@dataclass(frozen=True, slots=True)
class WriteOff:
    """One 不納欠損 decision."""

    write_off_id: int
    municipality: str
    household_id: str
    fiscal_year: int
    instalment: int
    decided_on: dt.date
    ground: str
    amount: int
    ground_day: dt.date


def run_write_offs(
    engine: sa.Engine, municipality: str, on: dt.date, *, fence: Fence | None = None
) -> list[WriteOff]:
    """Writes off (不納欠損, ground ``prescription``) every instalment of ``municipality``
    whose 徴収権 has prescribed by ``on`` (the 基準日) and that still shows something unpaid,
    in one transaction. Returns the new decisions: a second run on the same day, or on a later
    day with nothing newly prescribed, writes nothing (idempotent). Refused (nothing written)
    for a day before the municipality's latest 充当, 還付 or 不納欠損."""
    with _locked(engine, fence) as connection:
        _in_day_order(connection, municipality, None, on)
        rows = []
        for ledger in ledgers(connection, on, municipality):
            assert ledger.rule is not None
            for state in ledger.prescribed(on):
                prescribed_on = state.course(ledger.rule).prescribed_on
                rows.append(_row(ledger, state, on, PRESCRIPTION, prescribed_on))
        return _insert(connection, rows)


def decide_write_off(
    engine: sa.Engine,
    municipality: str,
    household_id: str,
    instalment: tuple[int, int],
    ground: str,
    on: dt.date,
    *,
    since: dt.date | None = None,
    fence: Fence | None = None,
) -> WriteOff:
    """Writes off what ``instalment`` (fiscal year, 期) of the household still owes on ``on``
    on ``ground`` (an id of the rule file's grounds other than ``prescription``, which
    :func:`run_write_offs` finds). ``since``: the day the ground began (a 執行停止), required
    when the ground holds only ``after_years`` later. Refused, writing nothing, for an unknown
    ground or instalment, one not yet past its 納期限, already paid, prescribed or written
    off, a ground that does not hold yet, or a day out of order."""
    rules = load_prescription_rules()
    found = rules.grounds.get(ground)
    if found is None or ground == PRESCRIPTION:
        others = ", ".join(g for g in rules.grounds if g != PRESCRIPTION)
        raise WriteOffRefused(
            f"ground {ground!r}: one of {others} (時効 is found by `write-offs run`)"
        )
    if since is not None and since > on:
        raise WriteOffRefused(f"the ground began on {since}, after the decision day {on}")
    if found.after_years is not None:
        if since is None:
            raise WriteOffRefused(f"{ground} ({found.label}) needs the day it began (since)")
        holds_from = last_claim_day(since, found.after_years) + dt.timedelta(days=1)
        if on < holds_from:
            raise WriteOffRefused(
                f"{found.label}: begun on {since}, it holds from {holds_from}, not on {on}"
            )
    year, number = instalment
    with _locked(engine, fence) as connection:
        _in_day_order(connection, municipality, household_id, on)
        chosen = ledgers(connection, on, municipality, [household_id], (year, year))
        state = next(
            (i for ledger in chosen for i in ledger.instalments if i.number == number), None
        )
        what = f"household {household_id} FY{year} 第{number}期"
        if not chosen or state is None:
            raise WriteOffRefused(f"{what}: no 調定 in {municipality}")
        ledger = chosen[0]
        if state.due >= on:
            raise WriteOffRefused(f"{what}: its 納期限 {state.due} has not passed on {on}")
        if state.written_off_by(on):
            raise WriteOffRefused(f"{what}: written off already")
        if state.prescribed(on, ledger.rule):
            raise WriteOffRefused(f"{what}: prescribed (時効): `write-offs run` writes it off")
        if state.outstanding <= 0:
            raise WriteOffRefused(f"{what}: nothing is unpaid")
        [done] = _insert(connection, [_row(ledger, state, on, ground, since or on)])
        return done


def list_write_offs(engine: sa.Engine, municipality: str, as_of: dt.date) -> list[WriteOff]:
    """Every 不納欠損 of ``municipality`` decided by ``as_of``, in the order decided."""
    query = (
        sa.select(write_offs)
        .where(write_offs.c.municipality == municipality, write_offs.c.decided_on <= as_of)
        .order_by(write_offs.c.write_off_id)
    )
    with engine.connect() as connection:
        return [WriteOff(**row._asdict()) for row in connection.execute(query)]


@contextmanager
def _locked(engine: sa.Engine, fence: Fence | None) -> Iterator[sa.Connection]:
    """The writing transaction: the write lock of the 過誤納金 decisions (one writer of 充当,
    還付 and 不納欠損 at a time), then ``fence``."""
    with write_transaction(engine, "premium_refunds") as connection:
        if connection.dialect.name == "postgresql":
            # No 還付 paid out, 充当 or 不納欠損 written by anyone else meanwhile.
            connection.execute(
                sa.text(
                    "LOCK TABLE premium_refunds, premium_write_offs IN SHARE ROW EXCLUSIVE MODE"
                )
            )
        if fence is not None:
            fence(connection)
        yield connection


def _in_day_order(
    connection: sa.Connection, municipality: str, household_id: str | None, on: dt.date
) -> None:
    of = f"household {household_id} of {municipality}" if household_id else municipality
    for table, what in ((refunds, "充当・還付"), (write_offs, "不納欠損")):
        latest = latest_day(connection, table, municipality, household_id)
        if latest is not None and latest > on:
            raise WriteOffRefused(
                f"the {what} of {of} were decided up to {latest}: a 不納欠損 on {on}, before "
                f"it, would read a ledger without them (decide on {latest} or later)"
            )


def _row(
    ledger: HouseholdLedger, state: InstalmentState, on: dt.date, ground: str, day: dt.date
) -> dict[str, object]:
    return {
        "municipality": ledger.municipality,
        "household_id": ledger.household_id,
        "fiscal_year": state.fiscal_year,
        "instalment": state.number,
        "decided_on": on,
        "ground": ground,
        "amount": state.outstanding,
        "ground_day": day,
    }


def _insert(connection: sa.Connection, rows: list[dict[str, object]]) -> list[WriteOff]:
    first = connection.scalar(sa.select(sa.func.max(write_offs.c.write_off_id))) or 0
    if rows:
        connection.execute(sa.insert(write_offs), rows)
    query = sa.select(write_offs).where(write_offs.c.write_off_id > first)
    return [WriteOff(**row._asdict()) for row in connection.execute(query.order_by("write_off_id"))]
