"""Premium reduction grounds: 旧被扶養者 and 非自発的失業 per person, and the files they came from.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "premium_ground_files",
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_premium_ground_files")),
        sa.UniqueConstraint("sha256", name=op.f("uq_premium_ground_files_sha256")),
    )
    op.create_table(
        "premium_reduction_grounds",
        sa.Column("resident_id", sa.String(length=20), nullable=False),
        sa.Column("ground", sa.String(length=30), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("reason_code", sa.String(length=2), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["premium_ground_files.file_id"],
            name=op.f("fk_premium_reduction_grounds_file_id_premium_ground_files"),
        ),
        sa.PrimaryKeyConstraint(
            "resident_id", "ground", "on", name=op.f("pk_premium_reduction_grounds")
        ),
    )


def downgrade() -> None:
    op.drop_table("premium_reduction_grounds")
    op.drop_table("premium_ground_files")
