"""Premium collection: 督促 (reminders, which renew the 時効 of the 徴収権) and 不納欠損
(write-offs of instalments whose 徴収権 prescribed or that the municipality wrote off on
another ground; docs/premiums-collection.md, "時効 and 不納欠損").

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    op.create_table(
        "premium_reminders",
        sa.Column("reminder_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("instalment", sa.SmallInteger(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("reminder_id", name=op.f("pk_premium_reminders")),
        sa.UniqueConstraint(
            "municipality",
            "household_id",
            "fiscal_year",
            "instalment",
            "issued_on",
            name=op.f("uq_premium_reminders_municipality"),
        ),
    )
    op.create_index(
        "ix_premium_reminders_household",
        "premium_reminders",
        ["municipality", "household_id", "fiscal_year"],
        unique=False,
    )
    op.create_table(
        "premium_write_offs",
        sa.Column("write_off_id", sa.Integer(), nullable=False),
        sa.Column("municipality", sa.String(length=6), nullable=False),
        sa.Column("household_id", sa.String(length=40), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("instalment", sa.SmallInteger(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("ground", sa.String(length=30), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("ground_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("write_off_id", name=op.f("pk_premium_write_offs")),
    )
    op.create_index(
        "ix_premium_write_offs_household",
        "premium_write_offs",
        ["municipality", "household_id", "fiscal_year"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_premium_write_offs_household", table_name="premium_write_offs")
    op.drop_table("premium_write_offs")
    op.drop_index("ix_premium_reminders_household", table_name="premium_reminders")
    op.drop_table("premium_reminders")
