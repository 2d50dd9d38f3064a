"""Premium collection (収納): 調定 decisions and their per-instalment adjustment rows, payments,
and 過誤納金 decisions (充当 and 還付 with the §110(1) two-year prescription).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "premium_charge_decisions",
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("schedule_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_premium_charge_decisions")),
        sa.UniqueConstraint(
            "municipality",
            "household_id",
            "fiscal_year",
            "decided_on",
            name=op.f("uq_premium_charge_decisions_municipality"),
        ),
    )
    op.create_table(
        "premium_charges",
        sa.Column("charge_id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("instalment", sa.SmallInteger(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["premium_charge_decisions.decision_id"],
            name=op.f("fk_premium_charges_decision_id_premium_charge_decisions"),
        ),
        sa.PrimaryKeyConstraint("charge_id", name=op.f("pk_premium_charges")),
    )
    op.create_index(
        "ix_premium_charges_household",
        "premium_charges",
        ["municipality", "household_id", "fiscal_year"],
        unique=False,
    )
    op.create_table(
        "premium_payments",
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("instalment", sa.SmallInteger(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_premium_payments")),
    )
    op.create_index(
        "ix_premium_payments_household",
        "premium_payments",
        ["municipality", "household_id", "fiscal_year"],
        unique=False,
    )
    op.create_table(
        "premium_refunds",
        sa.Column("refund_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=13), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("target_fiscal_year", sa.Integer(), nullable=True),
        sa.Column("target_instalment", sa.SmallInteger(), nullable=True),
        sa.Column("last_claim_day", sa.Date(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_premium_refunds")),
    )
    op.create_index(
        "ix_premium_refunds_household",
        "premium_refunds",
        ["municipality", "household_id", "fiscal_year"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_premium_refunds_household", table_name="premium_refunds")
    op.drop_table("premium_refunds")
    op.drop_index("ix_premium_payments_household", table_name="premium_payments")
    op.drop_table("premium_payments")
    op.drop_index("ix_premium_charges_household", table_name="premium_charges")
    op.drop_table("premium_charges")
    op.drop_table("premium_charge_decisions")
