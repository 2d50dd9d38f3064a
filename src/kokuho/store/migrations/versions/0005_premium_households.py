"""Households (世帯) of the resident register with history, and the premiums room's incomes
(所得 per person and fiscal year, and the files they came from).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("residents") as batch:
        batch.add_column(sa.Column("match_key", sa.String(length=32), nullable=True))
        batch.create_index(batch.f("ix_residents_match_key"), ["match_key"], unique=False)
    op.create_table(
        "resident_households",
        sa.Column("resident_id", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("municipality_code", sa.String(length=6), nullable=False),
        sa.Column("household_id", sa.String(length=20), nullable=False),
        sa.Column("relationship", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", "valid_from", name=op.f("pk_resident_households")),
    )
    op.create_index(
        "ix_resident_households_household",
        "resident_households",
        ["municipality_code", "household_id"],
        unique=False,
    )
    op.create_table(
        "premium_income_files",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_premium_income_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_premium_income_files_sha256")),
    )
    op.create_table(
        "premium_incomes",
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.String(length=20), nullable=False),
        sa.Column("salary", sa.BigInteger(), nullable=False),
        sa.Column("pension", sa.BigInteger(), nullable=False),
        sa.Column("other", sa.BigInteger(), nullable=False),
        sa.Column("declared", sa.Boolean(), nullable=False),
        sa.Column("wage_earner", sa.Boolean(), nullable=False),
        sa.Column("fixed_asset_tax", sa.BigInteger(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["premium_income_files.file_id"],
            name=op.f("fk_premium_incomes_file_id_premium_income_files"),
        ),
        sa.PrimaryKeyConstraint("fiscal_year", "resident_id", name=op.f("pk_premium_incomes")),
    )


def downgrade() -> None:
    op.drop_table("premium_incomes")
    op.drop_table("premium_income_files")
    op.drop_index("ix_resident_households_household", table_name="resident_households")
    op.drop_table("resident_households")
    with op.batch_alter_table("residents") as batch:
        batch.drop_index(batch.f("ix_residents_match_key"))
        batch.drop_column("match_key")
