"""The provision room: provisions and statutory requests with their states, their append-only
steps, and the reviewers (委員会).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "provisions",
        sa.Column("provision_id", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.String(length=24), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("applicant", sa.String(length=100), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("public_interest", sa.Text(), nullable=False),
        sa.Column("place", sa.Text(), nullable=False),
        sa.Column("users", sa.Text(), nullable=False),
        sa.Column("requested", sa.Text(), nullable=False),
        sa.Column("approved", sa.Text(), nullable=True),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("term_until", sa.Date(), nullable=True),
        sa.Column("extracts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("provision_id", name=op.f("pk_provisions")),
    )
    op.create_index("ix_provisions_state", "provisions", ["state"], unique=False)
    op.create_table(
        "provision_steps",
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("provision_id", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provision_id"],
            ["provisions.provision_id"],
            name=op.f("fk_provision_steps_provision_id_provisions"),
        ),
        sa.PrimaryKeyConstraint("step_id", name=op.f("pk_provision_steps")),
    )
    op.create_index(
        "ix_provision_steps_provision", "provision_steps", ["provision_id"], unique=False
    )
    op.create_table(
        "provision_reviewers",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("added_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_provision_reviewers")),
    )


def downgrade() -> None:
    op.drop_table("provision_reviewers")
    op.drop_index("ix_provision_steps_provision", table_name="provision_steps")
    op.drop_table("provision_steps")
    op.drop_index("ix_provisions_state", table_name="provisions")
    op.drop_table("provisions")
