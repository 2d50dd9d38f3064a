"""The tables of 過誤納金 decisions (充当 and 還付), 督促 and 不納欠損.

The ledger reads them (a 充当 pays an overdue instalment, both consume an overpayment; a 督促
renews the 時効 of its instalment; a 不納欠損 ends what it owes) and ``_collection_refunds``,
``_reminders`` and ``_write_offs`` write them; they live apart so that neither side imports
the other.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from kokuho.store import metadata

refunds = sa.Table(
    "premium_refunds",
    metadata,
    sa.Column("refund_id", sa.Integer, primary_key=True),
    sa.Column("municipality", sa.String(6), nullable=False),
    sa.Column("household_id", sa.String(40), nullable=False),
    # The year whose overpayment (過誤納金) this settles.
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("decided_on", sa.Date, nullable=False),
    # refund (還付) | appropriation (充当)
    sa.Column("kind", sa.String(13), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    # 充当: the overdue instalment it pays.
    sa.Column("target_fiscal_year", sa.Integer),
    sa.Column("target_instalment", sa.SmallInteger),
    # 還付: the last day the claim can be exercised (§110(1)) and the day it was paid out.
    sa.Column("last_claim_day", sa.Date),
    sa.Column("paid_on", sa.Date),
    sa.Index("ix_premium_refunds_household", "municipality", "household_id", "fiscal_year"),
)

#: 督促 (reminders): one row per 督促状 issued for an instalment (docs/formats.md §9a).
reminders = sa.Table(
    "premium_reminders",
    metadata,
    sa.Column("reminder_id", sa.Integer, primary_key=True),
    sa.Column("municipality", sa.String(6), nullable=False),
    sa.Column("household_id", sa.String(40), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("instalment", sa.SmallInteger, nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False),
    # 指定期限: the day the 督促状 asks the premium to be paid by.
    sa.Column("deadline", sa.Date, nullable=False),
    sa.Column("source", sa.String(300), nullable=False),
    sa.UniqueConstraint("municipality", "household_id", "fiscal_year", "instalment", "issued_on"),
    sa.Index("ix_premium_reminders_household", "municipality", "household_id", "fiscal_year"),
)

#: 不納欠損 (write-offs): what an instalment still owed when it was written off, on which day
#: and on which ground (時効完成, 執行停止 …; data/premiums/prescription.yaml).
write_offs = sa.Table(
    "premium_write_offs",
    metadata,
    sa.Column("write_off_id", sa.Integer, primary_key=True),
    sa.Column("municipality", sa.String(6), nullable=False),
    sa.Column("household_id", sa.String(40), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("instalment", sa.SmallInteger, nullable=False),
    sa.Column("decided_on", sa.Date, nullable=False),
    sa.Column("ground", sa.String(30), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    # 時効完成: the first day the 徴収権 no longer existed; 執行停止: the day the stay began.
    sa.Column("ground_day", sa.Date, nullable=False),
    sa.Index("ix_premium_write_offs_household", "municipality", "household_id", "fiscal_year"),
)


def latest_day(
    connection: sa.Connection,
    table: sa.Table,
    municipality: str,
    household_id: str | None = None,
) -> dt.date | None:
    """The latest ``decided_on`` of ``table`` (premium_refunds or premium_write_offs) for
    ``municipality`` (or its one household); None before any decision."""
    where = [table.c.municipality == municipality]
    if household_id is not None:
        where.append(table.c.household_id == household_id)
    found = connection.scalar(sa.select(sa.func.max(table.c.decided_on)).where(*where))
    return None if found is None else dt.date.fromisoformat(str(found))
