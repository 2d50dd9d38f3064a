"""The table of 過誤納金 decisions: 充当 (appropriation to arrears) and 還付 (refunds).

The ledger reads it (a 充当 pays an overdue instalment, both consume an overpayment) and
``_collection_refunds`` writes it; it lives apart so that neither imports the other.
"""

from __future__ import annotations

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
