"""Card challenges and used attestations in the database, shared by every server process.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "card_challenges",
        sa.Column("challenge_id", sa.String(length=32), nullable=False),
        sa.Column("institution_code", sa.String(length=10), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("forget_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("challenge_id", name=op.f("pk_card_challenges")),
    )
    op.create_index(
        op.f("ix_card_challenges_forget_at"), "card_challenges", ["forget_at"], unique=False
    )
    op.create_table(
        "card_replays",
        sa.Column("token", sa.String(length=120), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_card_replays")),
    )
    op.create_index(
        op.f("ix_card_replays_expires_at"), "card_replays", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_card_replays_expires_at"), table_name="card_replays")
    op.drop_table("card_replays")
    op.drop_index(op.f("ix_card_challenges_forget_at"), table_name="card_challenges")
    op.drop_table("card_challenges")
