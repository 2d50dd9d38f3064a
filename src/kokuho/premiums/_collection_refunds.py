"""過誤納金: 充当 to arrears first, then 還付 (refund) with the two-year prescription.

Rule (docs/premiums-collection.md): an overpayment is first applied (充当) to the household's
premiums past their 納期限 and unpaid, oldest first, and only the rest is refunded. Municipal
pages state it for 国民健康保険料 with 地方税法 §17-2 as the ground (Kita city, Suginami city;
future instalments only on the payer's request, not modelled). The right to a refund lapses
two years after it can be exercised (国民健康保険法 §110(1); 保険税: 地方税法 §18-3, five years;
the years are in data/premiums/prescription.yaml); kokuho counts from the day the
過誤納金 was decided (an interpretation, see the domain notes), with 民法 §140 and §143: the
first day is not counted and the period ends on the day before the corresponding day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from kokuho.premiums._collection import ledgers
from kokuho.premiums._collection_tables import latest_day, refunds, write_offs
from kokuho.premiums._periods import last_claim_day
from kokuho.premiums._prescription_rules import load_prescription_rules
from kokuho.store import Fence, write_transaction

RefundStatus = Literal["open", "paid", "lapsed"]
"""未還付 (claim still open), 還付済, 時効 (lapsed under §110(1))."""


class RefundRefused(ValueError):
    """A refund that cannot be paid as asked; nothing was written."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """One 過誤納金 decision: a 充当 of ``amount`` to an overdue instalment, or a 還付."""

    refund_id: int
    municipality: str
    household_id: str
    fiscal_year: int
    decided_on: dt.date
    kind: Literal["refund", "appropriation"]
    amount: int
    target_fiscal_year: int | None
    target_instalment: int | None
    last_claim_day: dt.date | None
    paid_on: dt.date | None

    def status(self, as_of: dt.date) -> RefundStatus | None:
        """A refund's state on ``as_of`` (None for a 充当, which is done when decided)."""
        if self.kind != "refund":
            return None
        if self.paid_on is not None and self.paid_on <= as_of:
            return "paid"
        assert self.last_claim_day is not None
        return "lapsed" if as_of > self.last_claim_day else "open"


def decide_refunds(
    engine: sa.Engine,
    municipality: str,
    decided_on: dt.date,
    *,
    household_id: str | None = None,
    fence: Fence | None = None,
) -> list[Settlement]:
    """Settles every 過誤納金 of ``municipality`` (or of its one household ``household_id``)
    not settled yet, as of ``decided_on``: 充当 to the household's overdue instalments (any
    fiscal year, oldest 納期限 first), the rest a refund whose claim lapses after two years.
    Returns the new decisions; a second call on the same day finds nothing left to settle
    (idempotent). ``fence`` runs first in the writing transaction (kokuho.store.Fence)."""
    # Two runs at once must not both settle the same 過誤納金: the write lock is taken before
    # the ledgers are read. (On SQLite the driver opens the transaction only at the first
    # INSERT, so the ledgers were read outside it and both runs settled the same money.)
    with write_transaction(engine, "premium_refunds") as connection:
        if connection.dialect.name == "postgresql":
            # And no other writer of the table (a payment of a refund) meanwhile.
            connection.execute(sa.text("LOCK TABLE premium_refunds IN SHARE ROW EXCLUSIVE MODE"))
        if fence is not None:
            fence(connection)
        # The ledgers are read as of ``decided_on``: a settlement decided after it is not in
        # them, and the money it settled would be settled again. Decisions go in day order.
        latest = settled_until(connection, municipality, household_id)
        of = f"household {household_id} of {municipality}" if household_id else municipality
        if latest is not None and latest > decided_on:
            raise RefundRefused(
                f"the 過誤納金 of {of} were settled on {latest}: a decision on {decided_on}, "
                f"before it, would settle the same money again (decide on {latest} or later)"
            )
        written = written_off_until(connection, municipality, household_id)
        if written is not None and written > decided_on:
            raise RefundRefused(
                f"a 不納欠損 of {of} was decided on {written}: a decision on {decided_on}, "
                f"before it, would 充当 money to what it wrote off (decide on {written} or later)"
            )
        # 国保法 §110(1) for 保険料, 地方税法 §18-3 for 保険税 (data/premiums/prescription.yaml).
        refund_years = load_prescription_rules().form_of(municipality).refund_years
        rows: list[dict[str, object]] = []
        for ledger in ledgers(connection, decided_on, municipality):
            if household_id is not None and ledger.household_id != household_id:
                continue
            overdue = ledger.overdue(decided_on)
            for year, amount in sorted(ledger.overpaid.items()):
                left = amount
                base = {
                    "municipality": ledger.municipality,
                    "household_id": ledger.household_id,
                    "fiscal_year": year,
                    "decided_on": decided_on,
                    "target_fiscal_year": None,
                    "target_instalment": None,
                    "last_claim_day": None,
                }
                for instalment in overdue:
                    take = min(left, instalment.outstanding)
                    if take <= 0:
                        continue
                    instalment.paid += take
                    left -= take
                    rows.append(
                        {
                            **base,
                            "kind": "appropriation",
                            "amount": take,
                            "target_fiscal_year": instalment.fiscal_year,
                            "target_instalment": instalment.number,
                        }
                    )
                if left > 0:
                    last = last_claim_day(decided_on, refund_years)
                    rows.append({**base, "kind": "refund", "amount": left, "last_claim_day": last})
        first = connection.scalar(sa.select(sa.func.max(refunds.c.refund_id))) or 0
        if rows:
            connection.execute(sa.insert(refunds), rows)
        return _select(connection, municipality, after=first)


def settled_until(
    engine: sa.Engine | sa.Connection, municipality: str, household_id: str | None = None
) -> dt.date | None:
    """The day of the latest 充当 or 還付 decided for ``municipality`` (or its one household);
    None before any. :func:`decide_refunds` refuses a day before it."""
    return _latest(engine, refunds, municipality, household_id)


def written_off_until(
    engine: sa.Engine | sa.Connection, municipality: str, household_id: str | None = None
) -> dt.date | None:
    """The day of the latest 不納欠損 decided for ``municipality`` (or its one household);
    None before any. :func:`decide_refunds` refuses a day before it: the ledgers of that day
    do not hold the write-off, and would 充当 money to what it wrote off."""
    return _latest(engine, write_offs, municipality, household_id)


def _latest(
    engine: sa.Engine | sa.Connection,
    table: sa.Table,
    municipality: str,
    household_id: str | None,
) -> dt.date | None:
    if isinstance(engine, sa.Connection):
        return latest_day(engine, table, municipality, household_id)
    with engine.connect() as connection:
        return latest_day(connection, table, municipality, household_id)


def pay_refund(
    engine: sa.Engine, refund_id: int, paid_on: dt.date, *, fence: Fence | None = None
) -> Settlement:
    """Records that refund ``refund_id`` was paid out on ``paid_on``. Refused for an unknown
    id, a 充当, a refund already paid, a payment before the decision or after the claim
    lapsed (§110(1)). ``fence`` runs first in the transaction (kokuho.store.Fence)."""
    with engine.begin() as connection:
        if fence is not None:
            fence(connection)
        row = connection.execute(
            sa.select(refunds).where(refunds.c.refund_id == refund_id)
        ).one_or_none()
        if row is None:
            raise RefundRefused(f"no refund {refund_id}")
        found = _settlement(row)
        if found.kind != "refund":
            raise RefundRefused(f"{refund_id} is a 充当, not a refund")
        if found.paid_on is not None:
            raise RefundRefused(f"refund {refund_id} was paid on {found.paid_on}")
        if paid_on < found.decided_on:
            raise RefundRefused(
                f"refund {refund_id} was decided on {found.decided_on}, after {paid_on}"
            )
        if found.status(paid_on) == "lapsed":
            raise RefundRefused(
                f"refund {refund_id} lapsed after {found.last_claim_day} (国保法 §110(1))"
            )
        # Only while still unpaid: a payment recorded at the same time (two clerks, two days)
        # was checked against neither, and the second overwrote the first's day.
        done = connection.execute(
            sa.update(refunds)
            .where(refunds.c.refund_id == refund_id, refunds.c.paid_on.is_(None))
            .values(paid_on=paid_on)
        )
        if done.rowcount != 1:
            paid = connection.scalar(
                sa.select(refunds.c.paid_on).where(refunds.c.refund_id == refund_id)
            )
            raise RefundRefused(f"refund {refund_id} was paid on {paid}")
    return dataclasses.replace(found, paid_on=paid_on)


def household_account(
    engine: sa.Engine, municipality: str, household_id: str, as_of: dt.date
) -> dict[int, tuple[int, int]]:
    """Per fiscal year of the household, its 調定額 in force and what it paid by ``as_of``
    (payments and 充当 received, 過誤納金 included) — 調定 and 収納 of one household."""
    # Only this household's rows: a ledger is allocated from its own 調定, payments and
    # decisions alone, so reading the municipality's (once per boundary case) gave nothing more.
    with engine.connect() as connection:
        found = ledgers(connection, as_of, municipality, [household_id])
    account: dict[int, tuple[int, int]] = {}
    for ledger in found:
        for state in ledger.instalments:
            charged, paid = account.get(state.fiscal_year, (0, 0))
            account[state.fiscal_year] = (charged + state.charged, paid + state.paid)
        for year, amount in ledger.overpaid.items():
            charged, paid = account.get(year, (0, 0))
            account[year] = (charged, paid + amount)
    return account


def settlements(engine: sa.Engine, municipality: str) -> list[Settlement]:
    """Every 充当 and 還付 decision of ``municipality``, in the order they were made."""
    with engine.connect() as connection:
        return _select(connection, municipality, after=0)


def _select(connection: sa.Connection, municipality: str, *, after: int) -> list[Settlement]:
    query = (
        sa.select(refunds)
        .where(refunds.c.municipality == municipality, refunds.c.refund_id > after)
        .order_by(refunds.c.refund_id)
    )
    return [_settlement(row) for row in connection.execute(query)]


def _settlement(row: sa.Row[tuple[object, ...]]) -> Settlement:
    return Settlement(**row._asdict())
